//! `relay-admin backup` while trackd takes events: the copy holds every event acknowledged before
//! it started, restores into a database trackd serves, and never overwrites a file.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_core::{ApiKeySecret, Email, Role, TenantSlug};
use relay_store::{DatabaseUrl, NewSkillVersion, Store};

/// trackd in this process on `listener`, until stopped.
fn trackd(store: Arc<dyn Store>, listener: std::net::TcpListener) -> trackd::Background {
    let mut config = trackd::Config::new("localhost").unwrap();
    config.track_rate_per_minute = 1_000_000;
    trackd::Background::start(config, store, listener).unwrap()
}

/// POSTs one event; true when trackd acknowledged it (202).
fn send(addr: SocketAddr, key: &str, skill: &str, n: usize) -> bool {
    let body = format!(
        r#"{{"skill_id":"{skill}","kind":"tool_use","session_id":"s{}","tool_use_id":"t{n}"}}"#,
        n / 20
    );
    let request = format!(
        "POST /api/track HTTP/1.1\r\nHost: acme.localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 202")
}

fn event_count(store: &dyn Store, tenant: &relay_core::TenantId) -> usize {
    store
        .list_events(
            tenant,
            relay_core::Timestamp::from_millis(0),
            relay_core::Timestamp::from_millis(i64::MAX / 2),
            10_000_000,
        )
        .unwrap()
        .len()
}

#[test]
fn a_backup_taken_while_trackd_writes_holds_every_event_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let url = DatabaseUrl::Sqlite(db.clone());
    let store = relay_store::open(&url).unwrap();
    let tenant = store
        .create_tenant(&TenantSlug::parse("acme").unwrap(), "Acme", &[])
        .unwrap();
    let user = store
        .create_user(
            &tenant.id,
            &Email::parse("dev@acme.com").unwrap(),
            Role::Member,
        )
        .unwrap();
    let secret = ApiKeySecret::generate();
    store
        .create_api_key(&tenant.id, &user.id, "test", &secret)
        .unwrap();
    let skill = store
        .publish_skill(
            &tenant.id,
            &NewSkillVersion {
                slug: "demo".parse().unwrap(),
                name: "Demo".into(),
                description: "A demo".into(),
                category: None,
                hours_saved: None,
                skill_md: "---\nname: demo\ndescription: A demo\n---\n# Demo\n".into(),
                files: Vec::new(),
                author: None,
            },
        )
        .unwrap()
        .skill;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = trackd(store.clone(), listener);

    // Four senders keep trackd busy; every acknowledged event is numbered.
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let senders: Vec<_> = (0..4)
        .map(|lane| {
            let (acked, running) = (acked.clone(), running.clone());
            let (key, skill) = (secret.expose().to_owned(), skill.id.to_string());
            std::thread::spawn(move || {
                let mut n = lane;
                while running.load(Ordering::Relaxed) {
                    if send(addr, &key, &skill, n) {
                        acked.lock().unwrap().push(n);
                    }
                    n += 4;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let acked_before = acked.lock().unwrap().len();
    assert!(
        acked_before > 50,
        "trackd is taking events ({acked_before})"
    );

    let out = dir.path().join("backup.db");
    let backup = Command::new(env!("CARGO_BIN_EXE_relay-admin"))
        .args(["backup", "--out"])
        .arg(&out)
        .arg("--json")
        .env("RELAY_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&backup.stdout).unwrap();
    assert_eq!(report["schema_version"], relay_store::latest_version());
    std::thread::sleep(Duration::from_millis(300));
    running.store(false, Ordering::Relaxed);
    for sender in senders {
        sender.join().unwrap();
    }
    server.stop().unwrap();
    let acked_total = acked.lock().unwrap().len();
    assert!(
        acked_total > acked_before,
        "writes went on during the backup"
    );

    // Restore: the copy is a whole database; every event acknowledged before the backup is in it.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&out, &restored).unwrap();
    let restored_store = relay_store::open(&DatabaseUrl::Sqlite(restored.clone())).unwrap();
    let in_backup = event_count(&*restored_store, &tenant.id);
    assert!(
        in_backup >= acked_before,
        "{in_backup} events in the backup, {acked_before} acknowledged before it"
    );
    assert!(in_backup <= acked_total);
    assert_eq!(
        restored_store
            .skill_by_id(&tenant.id, &skill.id)
            .unwrap()
            .map(|s| s.slug.to_string()),
        Some("demo".to_owned())
    );
    // The live database lost nothing either.
    assert_eq!(event_count(&*store, &tenant.id), acked_total);

    // A restored database is one trackd serves.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = trackd(restored_store.clone(), listener);
    assert!(send(addr, secret.expose(), skill.id.as_ref(), 1_000_000));
    server.stop().unwrap();
    assert_eq!(event_count(&*restored_store, &tenant.id), in_backup + 1);

    // Backups never overwrite, and PostgreSQL is pg_dump's job.
    let again = Command::new(env!("CARGO_BIN_EXE_relay-admin"))
        .args(["backup", "--out"])
        .arg(&out)
        .env("RELAY_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let postgres = Command::new(env!("CARGO_BIN_EXE_relay-admin"))
        .args(["backup", "--out"])
        .arg(dir.path().join("pg.db"))
        .env(
            "RELAY_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )
        .output()
        .unwrap();
    assert_eq!(postgres.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump"));
}
