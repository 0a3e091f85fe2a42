//! relay-mcp, Relay's program on a developer's machine.
//!
//! This first part keeps its settings: which Relay server to use and the API key for it
//! (`login`, `logout`). The MCP server, the hook and the outbox build on it.

mod client;
mod cmd;
mod config;
mod flush;
pub mod outbox;
pub mod server;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use config::{Credentials, Paths, Settings};

#[derive(Debug, Parser)]
#[command(name = "relay-mcp", version, about = "Relay for Claude Code")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP on stdio (the default): what Claude Code runs.
    Serve,
    /// Store the Relay server and an API key for this machine's user.
    Login(cmd::login::LoginArgs),
    /// Forget the stored API key.
    Logout,
    /// Report one Claude Code hook input (read on stdin) for a skill. Silent; always exits 0.
    Hook(cmd::hook::HookArgs),
    /// Send every event waiting in the outbox now.
    Flush,
    /// Show the server, who is signed in, the outbox, and the Relay skills found here.
    Status,
}

pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Hook(args) = &command {
        // Whatever goes wrong, a hook says nothing and succeeds: Claude Code must not notice it.
        if let Ok(paths) = Paths::from_env() {
            cmd::hook::run(&paths, args);
        }
        return ExitCode::SUCCESS;
    }
    if let Command::Serve = command {
        // Logs go to stderr only: stdout is the MCP protocol.
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    let result = Paths::from_env().and_then(|paths| match command {
        Command::Serve => server::serve(paths),
        Command::Login(args) => cmd::login::run(&paths, &args),
        Command::Logout => cmd::login::logout(&paths),
        Command::Flush => cmd::flush::run(&paths),
        Command::Status => cmd::status::run(&paths),
        Command::Hook(_) => Ok(()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
