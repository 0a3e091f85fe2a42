//! Stores on fresh databases, from relay-testkit.

use std::path::PathBuf;
use std::sync::Arc;

use relay_store::{DatabaseUrl, Store};
use relay_testkit::TestDatabase;

pub struct TestDb {
    // Dropped first: the pool's connections close before the database is dropped.
    pub store: Arc<dyn Store>,
    _database: TestDatabase,
}

fn open(database: TestDatabase) -> TestDb {
    let url = DatabaseUrl::parse(&database.url).expect("test database url");
    let store = relay_store::open(&url).expect("open the test store");
    TestDb {
        store,
        _database: database,
    }
}

pub fn sqlite() -> TestDb {
    open(TestDatabase::sqlite())
}

pub fn postgres() -> Option<TestDb> {
    TestDatabase::postgres().map(open)
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
