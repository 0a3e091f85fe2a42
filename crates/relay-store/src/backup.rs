//! `relay-admin backup` for SQLite: a consistent copy of a live database through SQLite's
//! online backup API, safe while trackd writes (WAL: the copy reads one snapshot and blocks no
//! writer). PostgreSQL is backed up with its own tools (`pg_dump`).

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::{DatabaseUrl, Result, StoreError};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub schema_version: i64,
}

fn failed(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {err}"))
}

/// Copies the SQLite database at `url` to `out`, a file that must not exist yet, and checks the
/// copy (`PRAGMA integrity_check`). The copy is written beside `out` and renamed into place, so
/// `out` is either a whole backup or absent.
pub fn backup_sqlite(url: &DatabaseUrl, out: &Path) -> Result<BackupReport> {
    let DatabaseUrl::Sqlite(source) = url else {
        return Err(StoreError::Conflict(
            "relay-admin backup copies SQLite databases; back PostgreSQL up with pg_dump \
             (see docs/deploy.md)"
                .into(),
        ));
    };
    if out.exists() {
        return Err(StoreError::Conflict(format!(
            "{} already exists: choose a new file name (backups never overwrite)",
            out.display()
        )));
    }
    if !source.exists() {
        return Err(StoreError::NotFound(format!(
            "no database at {}: check RELAY_DATABASE_URL",
            source.display()
        )));
    }
    let partial = out.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = copy(source, &partial).and_then(|schema_version| {
        std::fs::rename(&partial, out)
            .map_err(|err| failed("renaming the backup into place", err))?;
        let bytes = std::fs::metadata(out)
            .map_err(|err| failed("reading the backup's size", err))?
            .len();
        Ok(BackupReport {
            bytes,
            schema_version,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn copy(source: &Path, target: &Path) -> Result<i64> {
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|err| failed(&format!("opening {}", source.display()), err))?;
    from.busy_timeout(Duration::from_secs(10))
        .map_err(|err| failed("setting a busy timeout", err))?;
    let mut to = Connection::open(target)
        .map_err(|err| failed(&format!("creating {}", target.display()), err))?;
    {
        let backup =
            Backup::new(&from, &mut to).map_err(|err| failed("starting the backup", err))?;
        // Every page in one step: one read snapshot, so writers elsewhere cannot make the copy
        // start over (as they would between smaller steps).
        let mut tries = 0;
        loop {
            match backup.step(-1).map_err(|err| failed("copying", err))? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                StepResult::More => {}
                _ => return Err(failed("copying", "the database stayed locked")),
            }
        }
    }
    let check: String = to
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|err| failed("checking the copy", err))?;
    if check != "ok" {
        return Err(failed("the copy failed its integrity check", check));
    }
    let version: i64 = to
        .query_row("SELECT max(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .map_err(|err| failed("reading the copy's schema version", err))?;
    // A self-contained file: no -wal beside it.
    to.execute_batch("PRAGMA journal_mode = DELETE;")
        .map_err(|err| failed("finishing the copy", err))?;
    Ok(version)
}
