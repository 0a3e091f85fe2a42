//! Fresh, throw-away databases for tests.
//!
//! SQLite: a file in a temp dir. PostgreSQL: a schema of its own on the server named by
//! `RELAY_TEST_DATABASE_URL`, reached through a URL whose connections use only that schema, and
//! dropped when the test ends. With `CI=true` and no server configured, asking for PostgreSQL
//! fails the test: PostgreSQL tests are never skipped in CI.
//!
//! With the `oidc` feature, [`oidc`] is an OpenID Connect provider for tests (and the
//! `relay-test-oidc` binary runs one by hand), and [`browser`] a browser that carries a sign-in
//! across hosts.

#[cfg(feature = "oidc")]
pub mod browser;
#[cfg(feature = "oidc")]
pub mod oidc;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A database URL, valid until this value is dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    Dir(#[allow(dead_code)] tempfile::TempDir),
    PgSchema { server_url: String, schema: String },
}

impl TestDatabase {
    /// An empty SQLite database file.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir for the test database");
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        Self {
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// An empty PostgreSQL schema, or `None` when no test server is configured (outside CI).
    pub fn postgres() -> Option<Self> {
        postgres_server_url().map(|server_url| Self::postgres_on(&server_url))
    }

    /// An empty schema of its own on the PostgreSQL server at `server_url`.
    pub fn postgres_on(server_url: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let schema = format!(
            "relay_test_{}_{}_{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(server_url, postgres::NoTls)
            .unwrap_or_else(|err| panic!("cannot connect to the PostgreSQL test server: {err}"));
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create a test schema");
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{schema}");
        Self {
            url,
            cleanup: Cleanup::PgSchema {
                server_url: server_url.to_owned(),
                schema,
            },
        }
    }

    /// The same database reached through another URL (a proxy in front of it, say); it is still
    /// cleaned up when the returned value is dropped.
    pub fn wrapping(mut inner: TestDatabase, url: String) -> Self {
        let cleanup = std::mem::replace(&mut inner.cleanup, Cleanup::None);
        Self { url, cleanup }
    }

    /// The SQLite file, for tests that look at it directly.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").map(PathBuf::from)
    }

    /// The PostgreSQL schema's name, for tests that look at it directly.
    pub fn pg_schema(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::PgSchema { schema, .. } => Some(schema),
            Cleanup::Dir(_) | Cleanup::None => None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::PgSchema { server_url, schema } = &self.cleanup
            && let Ok(mut client) = postgres::Client::connect(server_url, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// The PostgreSQL server to test against. In CI its absence is a failure, not a skip.
pub fn postgres_server_url() -> Option<String> {
    match std::env::var("RELAY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => {
            panic!(
                "CI=true but RELAY_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI"
            )
        }
        _ => {
            eprintln!(
                "RELAY_TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test"
            );
            None
        }
    }
}

/// True under CI (`CI=true`), where nothing may be skipped for a missing tool.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// Whether a command-line tool can be run. Outside CI a missing tool skips the test part that
/// needs it (with a note); in CI it fails the test, since `.ci/run` installs every tool.
pub fn tool_available(name: &str) -> bool {
    let found = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            !in_ci(),
            "{name} is needed by this test in CI (.ci/run installs it)"
        );
        eprintln!("{name} not found: skipping the part of this test that needs it");
    }
    found
}
