//! Fresh databases for tests: a temp SQLite file, or a PostgreSQL schema made for the test and
//! dropped after it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use relay_store::{DatabaseUrl, Store};

pub struct TestDb {
    // Dropped first: the pool's connections close before the schema is dropped.
    pub store: Arc<dyn Store>,
    #[allow(dead_code)]
    pub url: DatabaseUrl,
    _cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    PgSchema { admin_url: String, schema: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::PgSchema { admin_url, schema } = self
            && let Ok(mut client) = postgres::Client::connect(admin_url, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = DatabaseUrl::Sqlite(dir.path().join("relay.db"));
    let store = relay_store::open(&url).expect("open sqlite store");
    TestDb {
        store,
        url,
        _cleanup: Cleanup::Dir(dir),
    }
}

/// The PostgreSQL server to test against, if any. In CI its absence fails the run: PostgreSQL
/// tests are never skipped there.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("RELAY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
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

/// A new, empty schema on the test server, with a URL whose connections use it.
pub fn postgres_schema() -> Option<(String, String, String)> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let base = postgres_base_url()?;
    let schema = format!(
        "relay_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid_suffix()
    );
    let mut admin = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|err| panic!("cannot connect to RELAY_TEST_DATABASE_URL: {err}"));
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    Some((base, schema, url))
}

pub fn postgres() -> Option<TestDb> {
    let (admin_url, schema, url) = postgres_schema()?;
    let cleanup = Cleanup::PgSchema { admin_url, schema };
    let url = DatabaseUrl::parse(&url).expect("postgres url");
    let store = relay_store::open(&url).expect("open postgres store");
    Some(TestDb {
        store,
        url,
        _cleanup: cleanup,
    })
}

fn uuid_suffix() -> String {
    // Distinct across concurrent test processes without another dependency.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}

/// `schema.sql` at the top of the repository.
pub fn schema_sql_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema.sql")
}

/// Runs `body` against a fresh store of each backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let db = $crate::support::sqlite();
                    super::$name(&*db.store);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = $crate::support::postgres() {
                        super::$name(&*db.store);
                    }
                }
            )*
        }
    };
}
pub(crate) use on_every_backend;
