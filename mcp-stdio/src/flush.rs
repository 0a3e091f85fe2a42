//! Sending the outbox: used by every hook (one batch), by `relay-mcp flush` (everything due), and
//! by the MCP server every 30 s.

use std::time::Duration;

use crate::client::{Client, Delivery};
use crate::outbox::Outbox;

/// Events per request; trackd takes at most 500.
pub const BATCH: usize = 500;

/// What one flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flushed {
    pub sent: usize,
    pub dropped: usize,
    /// Not delivered this time; still in the outbox.
    pub kept: usize,
}

/// Sends up to `batches` batches of due events for `server` (with `waiting`, also events still
/// waiting out a delay); stops at the first failure.
pub fn send_due(
    outbox: &mut Outbox,
    client: &Client,
    server: &str,
    batches: usize,
    waiting: bool,
) -> rusqlite::Result<Flushed> {
    let mut flushed = Flushed::default();
    for _ in 0..batches {
        let due = outbox.due(server, BATCH, waiting)?;
        if due.is_empty() {
            break;
        }
        let ids: Vec<i64> = due.iter().map(|queued| queued.id).collect();
        let events: Vec<&str> = due.iter().map(|queued| queued.event.as_str()).collect();
        match client.post_events(&events) {
            Delivery::Sent => {
                outbox.sent(&ids)?;
                flushed.sent += ids.len();
            }
            Delivery::Rejected(_) => {
                outbox.rejected(&ids)?;
                flushed.dropped += ids.len();
            }
            Delivery::Retry { after } => {
                outbox.retry_later(&ids, after.max(Duration::ZERO))?;
                flushed.kept += ids.len();
                break;
            }
        }
    }
    Ok(flushed)
}
