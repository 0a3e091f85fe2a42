//! `relay-mcp login` and `logout`: remember the server and the key.

use std::io::Read;

use anyhow::{Context, bail};

use crate::{Credentials, Paths, Settings};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The tenant's Relay URL, e.g. https://acme.relay.example.com
    #[arg(long, env = "RELAY_SERVER")]
    server: String,
    /// Read an API key (from `relay-admin key create`) from standard input.
    #[arg(long)]
    api_key_stdin: bool,
}

fn check_server(server: &str) -> anyhow::Result<String> {
    let server = server.trim().trim_end_matches('/');
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .with_context(|| {
            format!("server {server:?} must start with https:// (or http:// for a local test)")
        })?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        bail!("server {server:?} must be a bare URL such as https://acme.relay.example.com");
    }
    Ok(server.to_owned())
}

pub fn run(paths: &Paths, args: &LoginArgs) -> anyhow::Result<()> {
    let server = check_server(&args.server)?;
    if !args.api_key_stdin {
        bail!(
            "give the key on standard input: relay-admin key create … | relay-mcp login --server {server} --api-key-stdin"
        );
    }
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("reading the API key from standard input")?;
    let key = input.trim();
    if !key.starts_with("rly_") || key.len() < 20 || key.chars().any(char::is_whitespace) {
        bail!(
            "that is not a Relay API key (they start with rly_); create one with `relay-admin key create`"
        );
    }
    Credentials {
        api_key: Some(key.to_owned()),
    }
    .save(paths)?;
    let mut settings = Settings::load(paths)?;
    settings.server = Some(server.clone());
    settings.save(paths)?;
    println!(
        "Saved the key for {server} in {}.",
        paths.credentials_file().display()
    );
    Ok(())
}

pub fn logout(paths: &Paths) -> anyhow::Result<()> {
    let credentials = Credentials::load(paths)?;
    if credentials.api_key.is_none() {
        println!("No key was stored.");
        return Ok(());
    }
    Credentials::default().save(paths)?;
    println!("Forgot the stored key.");
    Ok(())
}
