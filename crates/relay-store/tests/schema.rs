//! `schema.sql` is the truth: applied by the sqlite3 shell and by psql, it gives exactly the
//! tables and columns that each store's own migration gives.

use std::process::Command;

use relay_store::DatabaseUrl;

use relay_testkit::{TestDatabase, tool_available};

use crate::support::schema_sql_path;

/// (table, column, declared type, not null) for every column, sorted.
type Columns = Vec<(String, String, String, bool)>;

fn sqlite_columns(path: &std::path::Path) -> Columns {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    let mut columns = Vec::new();
    for table in tables {
        let mut statement = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap();
        let rows = statement
            .query_map([], |row| {
                Ok((
                    table.clone(),
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)? != 0,
                ))
            })
            .unwrap();
        columns.extend(rows.map(Result::unwrap));
    }
    columns.sort();
    columns
}

/// Every table and index, unique constraints' automatic indexes included, with the table it is on.
fn sqlite_objects(path: &std::path::Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut objects: Vec<(String, String, String)> = conn
        .prepare("SELECT type, name, tbl_name FROM sqlite_master")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    objects.sort();
    objects
}

/// Every index and constraint (with its kind and definition) of the current schema.
fn postgres_objects(url: &str) -> Vec<(String, String)> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut objects: Vec<(String, String)> = client
        .query(
            "SELECT indexname::text, indexdef::text FROM pg_indexes WHERE schemaname = current_schema() \
             UNION ALL \
             SELECT conrelid::regclass::text || '.' || contype::text, pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
            &[],
        )
        .unwrap()
        .iter()
        // Index definitions name the schema; schemas differ per test.
        .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect();
    for (_, definition) in &mut objects {
        if let Some(at) = definition.find(" ON ")
            && let Some(dot) = definition[at..].find('.')
        {
            definition.replace_range(at + 4..at + dot + 1, "");
        }
    }
    objects.sort();
    objects
}

#[test]
fn sqlite_store_matches_schema_sql_applied_by_the_sqlite3_shell() {
    if !tool_available("sqlite3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let by_shell = dir.path().join("shell.db");
    let schema = std::fs::File::open(schema_sql_path()).unwrap();
    let status = Command::new("sqlite3")
        .arg("-bail")
        .arg(&by_shell)
        .stdin(schema)
        .status()
        .unwrap();
    assert!(status.success(), "sqlite3 could not apply schema.sql");

    let by_store = dir.path().join("store.db");
    let store = relay_store::open(&DatabaseUrl::Sqlite(by_store.clone())).unwrap();
    drop(store);

    let expected = sqlite_columns(&by_shell);
    assert!(
        expected
            .iter()
            .any(|(t, c, _, _)| t == "usage_daily" && c == "skill_sessions")
    );
    assert_eq!(sqlite_columns(&by_store), expected);
    let objects = sqlite_objects(&by_shell);
    assert!(
        objects
            .iter()
            .any(|(kind, name, _)| kind == "index" && name == "tenant_domains_by_tenant")
    );
    assert_eq!(sqlite_objects(&by_store), objects);

    // A database made by hand from schema.sql is one the store accepts as current.
    let store = relay_store::open(&DatabaseUrl::Sqlite(by_shell)).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        relay_store::latest_version()
    );
    store
        .create_tenant(&"acme".parse().unwrap(), "Acme", &[])
        .unwrap();
}

/// schema.sql as version 1 shipped it: what databases made by the first Relay hold.
const BASELINE_SQL: &str = include_str!("../migrations/0001_baseline.sql");

#[test]
fn a_version_1_sqlite_database_migrates_to_what_a_fresh_one_gets() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(BASELINE_SQL).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (id, slug, name, created_at) VALUES ('tn_1', 'acme', 'Acme', 1)",
        )
        .unwrap();
    }
    let store = relay_store::open(&DatabaseUrl::Sqlite(old.clone())).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        relay_store::latest_version()
    );
    let acme = store.tenant_by_slug(&"acme".parse().unwrap()).unwrap();
    assert_eq!(
        acme.map(|t| t.name).as_deref(),
        Some("Acme"),
        "data survives"
    );
    drop(store);

    let fresh = dir.path().join("fresh.db");
    drop(relay_store::open(&DatabaseUrl::Sqlite(fresh.clone())).unwrap());
    assert_eq!(sqlite_columns(&old), sqlite_columns(&fresh));
    assert_eq!(sqlite_objects(&old), sqlite_objects(&fresh));
}

#[test]
fn a_version_1_postgres_database_migrates_to_what_a_fresh_one_gets() {
    let (Some(old_db), Some(fresh_db)) = (TestDatabase::postgres(), TestDatabase::postgres())
    else {
        return;
    };
    let mut client = postgres::Client::connect(&old_db.url, postgres::NoTls).unwrap();
    client.batch_execute(BASELINE_SQL).unwrap();
    drop(client);
    let store = relay_store::open(&DatabaseUrl::parse(&old_db.url).unwrap()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        relay_store::latest_version()
    );
    drop(store);
    drop(relay_store::open(&DatabaseUrl::parse(&fresh_db.url).unwrap()).unwrap());
    assert_eq!(
        postgres_columns(&old_db.url),
        postgres_columns(&fresh_db.url)
    );
    assert_eq!(
        postgres_objects(&old_db.url),
        postgres_objects(&fresh_db.url)
    );
}

fn postgres_columns(url: &str) -> Columns {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut columns: Columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get::<_, String>(3) == "NO",
            )
        })
        .collect();
    columns.sort();
    columns
}

#[test]
fn postgres_store_matches_schema_sql_applied_by_psql() {
    let (Some(by_psql_db), Some(by_store_db)) =
        (TestDatabase::postgres(), TestDatabase::postgres())
    else {
        return;
    };
    let (by_psql, by_store) = (by_psql_db.url.clone(), by_store_db.url.clone());
    if !tool_available("psql") {
        return;
    }
    let output = Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-f"])
        .arg(schema_sql_path())
        .arg(&by_psql)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "psql could not apply schema.sql: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    drop(relay_store::open(&DatabaseUrl::parse(&by_store).unwrap()).unwrap());

    let expected = postgres_columns(&by_psql);
    assert!(
        expected
            .iter()
            .any(|(t, c, _, _)| t == "usage_daily" && c == "skill_sessions")
    );
    assert_eq!(postgres_columns(&by_store), expected);
    let objects = postgres_objects(&by_psql);
    assert!(
        objects
            .iter()
            .any(|(name, _)| name == "tenant_domains_by_tenant"),
        "{objects:?}"
    );
    assert!(
        objects
            .iter()
            .any(|(_, def)| def.contains("FOREIGN KEY (tenant_id, user_id)")),
        "{objects:?}"
    );
    assert_eq!(postgres_objects(&by_store), objects);

    let store = relay_store::open(&DatabaseUrl::parse(&by_psql).unwrap()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        relay_store::latest_version()
    );
    store
        .create_tenant(&"acme".parse().unwrap(), "Acme", &[])
        .unwrap();
}

#[test]
fn unknown_schemes_and_unreachable_databases_fail_clearly() {
    let err = DatabaseUrl::parse("mysql://root@localhost/relay").unwrap_err();
    assert!(err.to_string().contains("sqlite://"), "{err}");

    // Nothing listens on port 1.
    let url =
        DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/relay?connect_timeout=2").unwrap();
    let err = relay_store::open(&url)
        .err()
        .expect("an unreachable server must fail");
    assert!(
        matches!(err, relay_store::StoreError::Unavailable(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("refused"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "not a directory").unwrap();
    let err = relay_store::open(&DatabaseUrl::Sqlite(blocked.join("relay.db")))
        .err()
        .unwrap();
    assert!(err.to_string().contains("cannot"), "{err}");
}
