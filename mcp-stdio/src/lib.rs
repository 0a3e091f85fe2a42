//! relay-mcp, Relay's program on a developer's machine.
//!
//! This first part keeps its settings: which Relay server to use and the API key for it
//! (`login`, `logout`). The MCP server, the hook and the outbox build on it.

mod cmd;
mod config;
pub mod outbox;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use config::{Credentials, Paths, Settings};

#[derive(Debug, Parser)]
#[command(name = "relay-mcp", version, about = "Relay for Claude Code")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store the Relay server and an API key for this machine's user.
    Login(cmd::login::LoginArgs),
    /// Forget the stored API key.
    Logout,
}

pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let result = Paths::from_env().and_then(|paths| match cli.command {
        Command::Login(args) => cmd::login::run(&paths, &args),
        Command::Logout => cmd::login::logout(&paths),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
