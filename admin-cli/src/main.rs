//! `relay-admin`: parse the command line, run it, turn the outcome into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    relay_admin::main(std::env::args_os())
}
