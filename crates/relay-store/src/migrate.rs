//! Bringing a database to the schema this build knows, on every open.
//!
//! An empty database gets `schema.sql` whole; an older one gets the numbered migrations above its
//! version (see `migrations/README.md`). Both run in one write transaction, so two processes
//! opening the same database at once (trackd and relay-admin) cannot both apply them.

use crate::sql::{Conn, Dialect, params};
use crate::{Result, StoreError};

/// The whole current schema, the same file operators can apply with `sqlite3` or `psql`.
pub const SCHEMA_SQL: &str = include_str!("../../../schema.sql");

/// A schema change after version 1.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration after the version-1 baseline, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2,
        name: "sign_in",
        sql: include_str!("../migrations/0002_sign_in.sql"),
    },
    Migration {
        version: 3,
        name: "analytics",
        sql: include_str!("../migrations/0003_analytics.sql"),
    },
];

/// The schema version this build of Relay brings databases to.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(1, |migration| migration.version)
}

/// An arbitrary constant naming Relay's migration lock among PostgreSQL advisory locks.
const PG_MIGRATION_LOCK: i64 = 0x7265_6c61_7900; // "relay\0"

pub(crate) fn migrate(conn: &mut dyn Conn, now_millis: i64) -> Result<i64> {
    if conn.dialect() == Dialect::Postgres {
        // Held until the transaction ends; SQLite's IMMEDIATE transaction already serializes.
        conn.execute(
            "SELECT pg_advisory_xact_lock(?1)",
            params![PG_MIGRATION_LOCK],
        )?;
    }
    match current_version(conn)? {
        None => {
            conn.execute_batch(SCHEMA_SQL)?;
            conn.execute(
                "UPDATE schema_migrations SET applied_at = ?1 WHERE applied_at = 0",
                params![now_millis],
            )?;
        }
        Some(current) if current > latest_version() => {
            return Err(StoreError::Conflict(format!(
                "the database is at schema version {current}, newer than this Relay knows ({}): \
                 upgrade Relay before using this database",
                latest_version()
            )));
        }
        Some(current) => {
            for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
                tracing::info!(
                    version = migration.version,
                    name = migration.name,
                    "applying migration"
                );
                conn.execute_batch(migration.sql)?;
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    params![migration.version, migration.name, now_millis],
                )?;
            }
        }
    }
    current_version(conn)?
        .ok_or_else(|| StoreError::Database("schema_migrations is empty after migrating".into()))
}

/// The highest applied version, or `None` for a database Relay has never touched.
pub(crate) fn current_version(conn: &mut dyn Conn) -> Result<Option<i64>> {
    let exists_sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
        Dialect::Postgres => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
    };
    if conn.query_one(exists_sql, &[])?.int(0)? == 0 {
        return Ok(None);
    }
    conn.query_one("SELECT max(version) FROM schema_migrations", &[])?
        .opt_int(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_sql_records_the_latest_version() {
        let recorded = format!("({}, '", latest_version());
        assert!(
            SCHEMA_SQL.contains(&recorded),
            "schema.sql must insert its version {} into schema_migrations",
            latest_version()
        );
    }

    #[test]
    fn migrations_are_numbered_in_order_after_the_baseline() {
        let mut previous = 1;
        for migration in MIGRATIONS {
            assert_eq!(migration.version, previous + 1, "{}", migration.name);
            previous = migration.version;
        }
    }
}
