//! `relay-mcp hook --skill ID [--server URL]`: what a skill's tracking hook runs.
//!
//! Reads one Claude Code hook input on stdin, keeps only what may leave the machine (the parser
//! has no field for tool inputs, outputs, prompts or paths, and skips them without keeping them),
//! queues the event in the outbox, and tries to send what is due. It prints nothing and exits 0
//! within about a second whatever happens: a hook must never slow or disturb Claude Code.

use std::io::Read;
use std::time::{Duration, Instant};

use relay_api::track::WireEvent;
use relay_core::{SkillId, Timestamp};

use crate::client::Client;
use crate::outbox::Outbox;
use crate::{Credentials, Paths, Settings, flush};

/// Hook inputs can carry megabytes of tool output; past this, the input is not read further.
const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;
/// The whole hook, start to exit.
const BUDGET: Duration = Duration::from_millis(900);

#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// The skill the hook belongs to (its sk_… id).
    #[arg(long)]
    skill: String,
    /// The tenant's Relay URL; defaults to RELAY_SERVER or the one `relay-mcp login` stored.
    #[arg(long)]
    server: Option<String>,
}

/// Runs the hook. Never fails: every problem ends the hook quietly, the event kept if it was
/// queued.
pub fn run(paths: &Paths, args: &HookArgs) {
    let started = Instant::now();
    let _ = queue_and_send(paths, args, started);
}

fn queue_and_send(paths: &Paths, args: &HookArgs, started: Instant) -> anyhow::Result<()> {
    let skill = SkillId::parse(&args.skill)?;
    let server = match &args.server {
        Some(server) => server.trim_end_matches('/').to_owned(),
        None => Settings::server(paths)?.ok_or_else(|| anyhow::anyhow!("no server"))?,
    };
    let input: WireEvent = serde_json::from_reader(std::io::stdin().lock().take(MAX_INPUT_BYTES))?;
    // Hook events Relay does not track (PreToolUse, Stop…) are no use: nothing to queue.
    let mut event = input.from_hook(&skill, Timestamp::now(), "hook")?;
    event.client = Some(concat!("relay-mcp/", env!("CARGO_PKG_VERSION")).to_owned());
    let mut outbox = Outbox::open(&paths.outbox_file(), Duration::from_millis(500))?;
    outbox.push(&server, &serde_json::to_string(&event)?)?;

    let Some(left) = BUDGET.checked_sub(started.elapsed()) else {
        return Ok(());
    };
    let api_key = Credentials::api_key(paths)?;
    if api_key.is_none() {
        // Without a key every answer would be 401: keep the events until there is one.
        return Ok(());
    }
    let client = Client::new(&server, api_key, left)?;
    flush::send_due(&mut outbox, &client, &server, 1, false)?;
    Ok(())
}
