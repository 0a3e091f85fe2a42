//! The outbox: events waiting to reach trackd, in a small SQLite file in `RELAY_DATA_DIR`.
//!
//! A hook appends its event here before it tries to send anything, so an event is never lost to
//! a slow or absent server. Many hooks run at once (every tool call of every session): SQLite's
//! WAL and a busy timeout let them share the file. The outbox is bounded: past `MAX_EVENTS` the
//! oldest events are dropped, and counted. Sending takes due events in batches; trackd's answer
//! decides: 202 removes them, a final 4xx drops them (counted), anything else keeps them with a
//! growing delay. Two senders may take the same events at once; trackd stores each event id once.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

/// The most events kept waiting; beyond it the oldest go.
pub const MAX_EVENTS: i64 = 10_000;

/// The longest wait before an event is tried again.
const MAX_BACKOFF_MILLIS: i64 = 5 * 60 * 1000;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        server          TEXT NOT NULL,
        event           TEXT NOT NULL,
        queued_at       INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS outbox_due ON outbox (server, next_attempt_at, id);
    CREATE TABLE IF NOT EXISTS outbox_counts (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
";

/// One waiting event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: i64,
    /// The event as it will be sent: JSON, holding only what may leave the machine.
    pub event: String,
}

/// What happened to events over the outbox's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub sent: i64,
    /// Refused by trackd with a final 4xx.
    pub rejected: i64,
    /// Dropped, oldest first, because the outbox was full.
    pub dropped_full: i64,
}

pub struct Outbox {
    conn: Connection,
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Outbox {
    /// Opens (creating if needed) the outbox file. `wait` bounds how long a busy file is waited
    /// for: a hook must finish in about a second.
    pub fn open(path: &Path, wait: Duration) -> rusqlite::Result<Self> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(wait)?;
        // Durable on commit: an event a hook has queued survives a crash or power cut.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Queues one event for `server`; drops the oldest events if the outbox is full.
    pub fn push(&mut self, server: &str, event: &str) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO outbox (server, event, queued_at) VALUES (?1, ?2, ?3)",
            params![server, event, now_millis()],
        )?;
        let count: i64 = tx.query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))?;
        if count > MAX_EVENTS {
            let excess = count - MAX_EVENTS;
            tx.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?1)",
                params![excess],
            )?;
            add_count(&tx, "dropped_full", excess)?;
        }
        tx.commit()
    }

    /// Up to `limit` events for `server` that are due now, oldest first; with `waiting`, also
    /// those still waiting out a delay (an explicit `relay-mcp flush`).
    pub fn due(&self, server: &str, limit: usize, waiting: bool) -> rusqlite::Result<Vec<Queued>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, event FROM outbox WHERE server = ?1 AND next_attempt_at <= ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = statement.query_map(
            params![
                server,
                if waiting { i64::MAX } else { now_millis() },
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| {
                Ok(Queued {
                    id: row.get(0)?,
                    event: row.get(1)?,
                })
            },
        )?;
        rows.collect()
    }

    /// The servers that have events waiting (due or not).
    pub fn servers(&self) -> rusqlite::Result<Vec<String>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT DISTINCT server FROM outbox ORDER BY server")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        rows.collect()
    }

    /// trackd took these (202): they are gone from the outbox.
    pub fn sent(&mut self, ids: &[i64]) -> rusqlite::Result<()> {
        self.remove(ids, "sent")
    }

    /// trackd refused these for good (a 4xx other than 408 and 429): dropped, and counted.
    pub fn rejected(&mut self, ids: &[i64]) -> rusqlite::Result<()> {
        self.remove(ids, "rejected")
    }

    /// These could not be delivered now (network error, 408, 429, 5xx): tried again later, each
    /// time waiting twice as long, up to five minutes, or at least `at_least` (Retry-After).
    pub fn retry_later(&mut self, ids: &[i64], at_least: Duration) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let floor = i64::try_from(at_least.as_millis()).unwrap_or(MAX_BACKOFF_MILLIS);
        {
            let mut statement = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1,
                        next_attempt_at = ?1 + max(?2, min(?3, 1000 * (1 << min(attempts, 20))))
                 WHERE id = ?4",
            )?;
            let now = now_millis();
            for id in ids {
                statement.execute(params![now, floor, MAX_BACKOFF_MILLIS, id])?;
            }
        }
        tx.commit()
    }

    /// How many events wait.
    pub fn len(&self) -> rusqlite::Result<i64> {
        self.conn
            .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))
    }

    pub fn is_empty(&self) -> rusqlite::Result<bool> {
        self.len().map(|n| n == 0)
    }

    pub fn counts(&self) -> rusqlite::Result<Counts> {
        let mut counts = Counts::default();
        let mut statement = self
            .conn
            .prepare_cached("SELECT name, value FROM outbox_counts")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (name, value) = row?;
            match name.as_str() {
                "sent" => counts.sent = value,
                "rejected" => counts.rejected = value,
                "dropped_full" => counts.dropped_full = value,
                _ => {}
            }
        }
        Ok(counts)
    }

    fn remove(&mut self, ids: &[i64], counter: &str) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut removed = 0;
        {
            let mut statement = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            for id in ids {
                removed += statement.execute(params![id])?;
            }
        }
        add_count(&tx, counter, i64::try_from(removed).unwrap_or(i64::MAX))?;
        tx.commit()
    }
}

fn add_count(conn: &Connection, name: &str, by: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO outbox_counts (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        params![name, by],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "http://acme.localhost:8080";

    fn open(dir: &Path) -> Outbox {
        Outbox::open(&dir.join("outbox.db"), Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn events_wait_until_sent_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = open(dir.path());
        for n in 0..5 {
            outbox.push(SERVER, &format!("{{\"n\":{n}}}")).unwrap();
        }
        outbox.push("https://other.example.com", "{}").unwrap();
        let due = outbox.due(SERVER, 3, false).unwrap();
        assert_eq!(
            due.iter().map(|q| q.event.as_str()).collect::<Vec<_>>(),
            ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]
        );
        outbox.sent(&[due[0].id, due[1].id]).unwrap();
        outbox.rejected(&[due[2].id]).unwrap();
        assert_eq!(outbox.len().unwrap(), 3);
        assert_eq!(
            outbox.counts().unwrap(),
            Counts {
                sent: 2,
                rejected: 1,
                dropped_full: 0
            }
        );
        assert_eq!(
            outbox.servers().unwrap(),
            ["http://acme.localhost:8080", "https://other.example.com"]
        );
        // Reopened, everything is still there.
        drop(outbox);
        let outbox = open(dir.path());
        assert_eq!(outbox.due(SERVER, 10, false).unwrap().len(), 2);
    }

    /// How long the one queued event still waits.
    fn wait_millis(outbox: &Outbox) -> i64 {
        outbox
            .conn
            .query_row(
                "SELECT next_attempt_at - ?1 FROM outbox",
                [now_millis()],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[test]
    fn failed_events_wait_longer_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = open(dir.path());
        outbox.push(SERVER, "{}").unwrap();
        let id = outbox.due(SERVER, 1, false).unwrap()[0].id;
        outbox.retry_later(&[id], Duration::ZERO).unwrap();
        assert!(
            outbox.due(SERVER, 1, false).unwrap().is_empty(),
            "not due right after a failure"
        );
        assert_eq!(
            outbox.due(SERVER, 1, true).unwrap().len(),
            1,
            "an explicit flush sends it anyway"
        );
        let next = wait_millis(&outbox);
        assert!((500..=1000).contains(&next), "{next}");
        outbox.retry_later(&[id], Duration::from_secs(30)).unwrap();
        let next = wait_millis(&outbox);
        assert!(
            (29_000..=30_000).contains(&next),
            "Retry-After wins: {next}"
        );
        assert_eq!(outbox.len().unwrap(), 1, "nothing is lost by failing");
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = open(dir.path());
        outbox
            .conn
            .execute_batch(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MAX_EVENTS})
                 INSERT INTO outbox (server, event, queued_at) SELECT '{SERVER}', 'old', 0 FROM n;"
            ))
            .unwrap();
        outbox.push(SERVER, "new").unwrap();
        assert_eq!(outbox.len().unwrap(), MAX_EVENTS);
        assert_eq!(outbox.counts().unwrap().dropped_full, 1);
        let newest: String = outbox
            .conn
            .query_row(
                "SELECT event FROM outbox ORDER BY id DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(newest, "new");
    }

    #[test]
    fn many_hooks_at_once_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()));
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let path = dir.path().to_owned();
                std::thread::spawn(move || {
                    // Each hook is its own process with its own connection.
                    let mut outbox = open(&path);
                    for n in 0..25 {
                        outbox.push(SERVER, &format!("{t}-{n}")).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(open(dir.path()).len().unwrap(), 400);
    }
}
