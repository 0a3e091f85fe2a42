//! `relay-mcp`: parse the command line and run it.

use std::process::ExitCode;

fn main() -> ExitCode {
    relay_mcp::main(std::env::args_os())
}
