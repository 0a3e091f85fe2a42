//! An acknowledged event survives trackd being killed; a resent one is counted once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_core::Timestamp;
use relay_store::DatabaseUrl;
use relay_testkit::TestDatabase;

use crate::support::{Process, seed_tenant, stored_events};

fn event(skill: &str, id: &str) -> String {
    format!(
        r#"{{"event_id":"{id}","skill_id":"{skill}","kind":"tool_use","session_id":"{id}","tool_use_id":"t"}}"#
    )
}

fn kill_while_sending(database: TestDatabase) {
    let url = DatabaseUrl::parse(&database.url).unwrap();
    let store = relay_store::open(&url).unwrap();
    let tenant = seed_tenant(&*store, "acme");
    drop(store);

    let process = Process::start(&database.url, &[]);
    let client = process.client();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let sent = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = (0..8)
        .map(|thread| {
            let (acked, sent, stop, tenant) = (acked.clone(), sent.clone(), stop.clone(), tenant.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("ev_{thread}-{i}");
                    sent.lock().unwrap().insert(id.clone());
                    let request = format!(
                        "POST /api/track HTTP/1.1\r\nHost: acme.localhost\r\nAuthorization: Bearer {}\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        tenant.member_key,
                        event(tenant.skill.as_str(), &id).len(),
                        event(tenant.skill.as_str(), &id)
                    );
                    let Ok(mut stream) = std::net::TcpStream::connect(client.addr) else { break };
                    use std::io::{Read, Write};
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    if stream.write_all(request.as_bytes()).is_err() {
                        break;
                    }
                    let mut answer = String::new();
                    let _ = stream.read_to_string(&mut answer);
                    if answer.starts_with("HTTP/1.1 202") {
                        acked.lock().unwrap().insert(id);
                    } else if answer.is_empty() {
                        break;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    process.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for sender in senders {
        sender.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "only {} events were acknowledged before the kill",
        acked.len()
    );
    eprintln!(
        "sent {} events, {} acknowledged before SIGKILL",
        sent.len(),
        acked.len()
    );

    // Every acknowledged event is in the database after the kill.
    let store = relay_store::open(&url).unwrap();
    let all = |store: &dyn relay_store::Store| -> BTreeSet<String> {
        stored_events(store, &tenant.id)
            .into_iter()
            .map(|e| e.event.event_id.to_string())
            .collect()
    };
    let stored = all(&*store);
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events were lost: {lost:?}",
        lost.len()
    );
    drop(store);

    // Restarted, trackd takes everything again and counts each event once.
    let process = Process::start(&database.url, &[]);
    let client = process.client();
    let ids: Vec<&String> = sent.iter().collect();
    let (mut accepted, mut duplicates) = (0, 0);
    for chunk in ids.chunks(500) {
        let events: Vec<String> = chunk
            .iter()
            .map(|id| event(tenant.skill.as_str(), id))
            .collect();
        let answer = client.post(
            "/api/track",
            "acme.localhost",
            &tenant.member_key,
            &format!(r#"{{"events":[{}]}}"#, events.join(",")),
        );
        assert_eq!(answer.status, 202, "{}", answer.json);
        accepted += answer.json["accepted"].as_u64().unwrap() as usize;
        duplicates += answer.json["duplicates"].as_u64().unwrap() as usize;
    }
    process.terminate();
    assert_eq!(accepted + duplicates, sent.len());
    assert_eq!(
        duplicates,
        stored.len(),
        "everything stored before the kill is a duplicate now"
    );
    let store = relay_store::open(&url).unwrap();
    assert_eq!(all(&*store), sent, "each event is stored exactly once");
    let day = Timestamp::now().day();
    let counted: i64 = store
        .daily_usage(&tenant.id, day, day)
        .unwrap()
        .iter()
        .map(|r| r.tool_uses)
        .sum();
    assert_eq!(
        counted as usize,
        sent.len(),
        "the rollup counts each event once"
    );
}

#[test]
fn acknowledged_events_survive_sigkill_on_sqlite() {
    kill_while_sending(TestDatabase::sqlite());
}

#[test]
fn acknowledged_events_survive_sigkill_on_postgres() {
    if let Some(database) = TestDatabase::postgres() {
        kill_while_sending(database);
    }
}
