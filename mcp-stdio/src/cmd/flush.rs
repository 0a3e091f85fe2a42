//! `relay-mcp flush`: send everything waiting in the outbox now, and say what happened.

use std::time::Duration;

use anyhow::Context;

use crate::client::Client;
use crate::outbox::Outbox;
use crate::{Credentials, Paths, flush};

pub fn run(paths: &Paths) -> anyhow::Result<()> {
    let mut outbox = Outbox::open(&paths.outbox_file(), Duration::from_secs(5))
        .with_context(|| format!("opening the outbox {}", paths.outbox_file().display()))?;
    let api_key = Credentials::api_key(paths)?
        .context("no API key: run `relay-mcp login` or set RELAY_API_KEY")?;
    let servers = outbox.servers()?;
    if servers.is_empty() {
        println!("The outbox is empty.");
    }
    for server in servers {
        let client = Client::new(&server, Some(api_key.clone()), Duration::from_secs(10))?;
        let done = flush::send_due(&mut outbox, &client, &server, usize::MAX, true)?;
        println!(
            "{server}: sent {}, dropped {} (refused by the server), {} still waiting",
            done.sent,
            done.dropped,
            outbox.due(&server, usize::MAX, true)?.len()
        );
    }
    Ok(())
}
