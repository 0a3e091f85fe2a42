//! PostgreSQL in production: two trackd processes over one database store every acknowledged
//! event exactly once, even when both get the same events; and a `pg_dump` restores into a fresh
//! database with the same contents.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use relay_core::{Day, Timestamp};
use relay_store::DatabaseUrl;
use relay_store::analytics::{Period, Scope};
use relay_testkit::{TestDatabase, tool_available};

use crate::support::{Client, Process, Server, seed_tenant};

/// One event of acme's demo skill, identified by `n` (its event id is derived from it).
fn event(skill: &str, n: usize) -> String {
    format!(
        r#"{{"skill_id":"{skill}","kind":"tool_use","session_id":"scale-{}","tool_use_id":"t{n}","tool_name":"Bash"}}"#,
        n / 10
    )
}

#[test]
fn two_trackds_over_one_postgres_store_every_acknowledged_event_once() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let store = relay_store::open(&DatabaseUrl::parse(&database.url).unwrap()).unwrap();
    let acme = seed_tenant(&*store, "acme");
    let globex = seed_tenant(&*store, "globex");
    drop(store);
    let first = Process::start(&database.url, &[("RUST_LOG", "info")]);
    let second = Process::start(&database.url, &[("RUST_LOG", "info")]);

    // Four senders, two per process; events 0..1200 go to both processes (the same events
    // twice), the rest to one of them; acme and globex at once.
    let acked: Arc<Mutex<BTreeSet<(String, usize)>>> = Arc::default();
    let lanes: Vec<_> = [
        (first.client(), 0usize),
        (second.client(), 0),
        (first.client(), 1),
        (second.client(), 1),
    ]
    .into_iter()
    .enumerate()
    .map(|(lane, (client, tenant))| {
        let acked = acked.clone();
        let (slug, key, skill) = match tenant {
            0 => ("acme", acme.member_key.clone(), acme.skill.to_string()),
            _ => (
                "globex",
                globex.member_key.clone(),
                globex.skill.to_string(),
            ),
        };
        std::thread::spawn(move || {
            let client: Client = client;
            let host = format!("{slug}.localhost");
            let own = (0..1200).chain((2000 + lane * 1000)..(2000 + lane * 1000 + 400));
            for chunk in own.collect::<Vec<_>>().chunks(25) {
                let body = format!(
                    "{{\"events\":[{}]}}",
                    chunk
                        .iter()
                        .map(|n| event(&skill, *n))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let answer = client.post("/api/track", &host, &key, &body);
                if answer.status == 202 {
                    let mut acked = acked.lock().unwrap();
                    acked.extend(chunk.iter().map(|n| (slug.to_owned(), *n)));
                }
            }
        })
    })
    .collect();
    for lane in lanes {
        lane.join().unwrap();
    }
    first.terminate();
    second.terminate();

    let store = relay_store::open(&DatabaseUrl::parse(&database.url).unwrap()).unwrap();
    let acked = acked.lock().unwrap();
    for (slug, tenant) in [("acme", &acme.id), ("globex", &globex.id)] {
        let stored = store
            .list_events(
                tenant,
                Timestamp::from_millis(0),
                Timestamp::from_millis(i64::MAX / 2),
                1_000_000,
            )
            .unwrap();
        let expected = acked.iter().filter(|(s, _)| s == slug).count();
        assert!(expected > 1200, "{slug}: {expected} acknowledged");
        assert_eq!(
            stored.len(),
            expected,
            "{slug}: every acknowledged event, once"
        );
        let ids: BTreeSet<_> = stored.iter().map(|e| e.event.event_id.clone()).collect();
        assert_eq!(ids.len(), stored.len());
        // The rollup agrees: each session counted once, every tool use once.
        let today = Timestamp::now().day();
        let summary = store
            .analytics_summary(tenant, &Scope::Tenant, Period::new(today, today).unwrap())
            .unwrap();
        let sessions: BTreeSet<_> = stored
            .iter()
            .filter_map(|e| e.event.session_id.clone())
            .collect();
        assert_eq!(summary.totals.tool_uses, expected as i64, "{slug}");
        assert_eq!(
            summary.totals.skill_sessions,
            sessions.len() as i64,
            "{slug}"
        );
    }
}

/// `pg_dump` of a live database restores with `pg_restore` into a fresh one, whole.
#[test]
fn a_pg_dump_restores_into_a_fresh_database_with_the_same_contents() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    if !tool_available("pg_dump") || !tool_available("pg_restore") {
        return;
    }
    let server_url = relay_testkit::postgres_server_url().unwrap();
    let server = Server::start(database);
    let client = server.client();
    for n in 0..300 {
        let answer = client.post(
            "/api/track",
            "acme.localhost",
            &server.acme.member_key,
            &event(server.acme.skill.as_ref(), n),
        );
        assert_eq!(answer.status, 202);
    }
    let url = server.database_url().to_owned();
    let schema = url
        .split("search_path%3D")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("relay.dump");
    let dumped = Command::new("pg_dump")
        .args([
            "--format=custom",
            "--no-owner",
            "--schema",
            &schema,
            "--file",
        ])
        .arg(&dump)
        .arg(&server_url)
        .output()
        .unwrap();
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );

    // A fresh database on the same server, restored into, then compared.
    let fresh = format!("relay_restore_{}", std::process::id());
    let mut admin = postgres::Client::connect(&server_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {fresh}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {fresh}"))
        .unwrap();
    let fresh_url = with_database(&server_url, &fresh);
    let restored = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&fresh_url)
        .arg(&dump)
        .output()
        .unwrap();
    {
        assert!(
            restored.status.success(),
            "{}",
            String::from_utf8_lossy(&restored.stderr)
        );
        let copy = relay_store::open(
            &DatabaseUrl::parse(&format!("{fresh_url}?options=-c%20search_path%3D{schema}"))
                .unwrap(),
        )
        .unwrap();
        let everything =
            Period::new(Day::parse("2020-01-01").unwrap(), Timestamp::now().day()).unwrap();
        for tenant in [&server.acme.id, &server.globex.id] {
            let events = |store: &dyn relay_store::Store| {
                store
                    .list_events(
                        tenant,
                        Timestamp::from_millis(0),
                        Timestamp::from_millis(i64::MAX / 2),
                        100_000,
                    )
                    .unwrap()
            };
            assert_eq!(events(&*copy), events(&*server.store));
            assert_eq!(
                copy.list_users(tenant).unwrap(),
                server.store.list_users(tenant).unwrap()
            );
            assert_eq!(
                copy.list_api_keys(tenant).unwrap(),
                server.store.list_api_keys(tenant).unwrap()
            );
            assert_eq!(
                copy.analytics_summary(tenant, &Scope::Tenant, everything)
                    .unwrap(),
                server
                    .store
                    .analytics_summary(tenant, &Scope::Tenant, everything)
                    .unwrap()
            );
        }
        assert_eq!(events_total(&*copy, &server.acme.id), 300);
        assert_eq!(
            copy.schema_version().unwrap(),
            relay_store::latest_version()
        );
    }
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {fresh} WITH (FORCE)"))
        .unwrap();
}

fn events_total(store: &dyn relay_store::Store, tenant: &relay_core::TenantId) -> usize {
    store
        .list_events(
            tenant,
            Timestamp::from_millis(0),
            Timestamp::from_millis(i64::MAX / 2),
            100_000,
        )
        .unwrap()
        .len()
}

/// `url` naming another database on the same server.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base.rfind('/').unwrap();
    let mut out = format!("{}/{database}", &base[..cut]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
