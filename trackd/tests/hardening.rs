//! What one client must not be able to do to the others: flood, stall, or outlive the database.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use relay_testkit::TestDatabase;

use crate::support::{Proxy, Server};

fn event(skill: &str, id: &str) -> String {
    format!(r#"{{"event_id":"{id}","skill_id":"{skill}","kind":"tool_use"}}"#)
}

#[test]
fn a_key_over_its_rate_gets_429_with_retry_after() {
    let server = Server::start_with(TestDatabase::sqlite(), |config| {
        config.track_rate_per_minute = 10
    });
    let client = server.client();
    let acme = &server.acme;
    let skill = acme.skill.as_str();
    let batch = |ids: std::ops::Range<u32>| {
        let events: Vec<String> = ids.map(|i| event(skill, &format!("ev_{i}"))).collect();
        format!(r#"{{"events":[{}]}}"#, events.join(","))
    };
    assert_eq!(
        client
            .post("/api/track", &acme.host(), &acme.member_key, &batch(0..8))
            .status,
        202
    );
    let limited = client.post("/api/track", &acme.host(), &acme.member_key, &batch(8..13));
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"));
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another key, of the same tenant, is not slowed by it.
    assert_eq!(
        client
            .post("/api/track", &acme.host(), &acme.admin_key, &batch(20..25))
            .status,
        202
    );
    let day = relay_core::Timestamp::now().day();
    let stored: i64 = server
        .store
        .daily_usage(&acme.id, day, day)
        .unwrap()
        .iter()
        .map(|r| r.tool_uses)
        .sum();
    assert_eq!(stored, 13, "the refused batch stored nothing");
}

#[test]
fn a_client_sending_headers_a_byte_at_a_time_is_cut_off_and_others_go_on() {
    let server = Server::start_with(TestDatabase::sqlite(), |config| {
        config.limits.header_read_timeout = Duration::from_secs(1);
    });
    let mut slow = std::net::TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let drip = std::thread::spawn(move || {
        for byte in b"POST /api/track HTTP/1.1\r\nHost: acme.localhost\r\n".iter() {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
            if started.elapsed() > Duration::from_secs(5) {
                break;
            }
        }
        let mut answer = Vec::new();
        let _ = slow.read_to_end(&mut answer);
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    });
    // Meanwhile everyone else is served.
    let client = server.client();
    for i in 0..5 {
        let answer = client.post(
            "/api/track",
            &server.acme.host(),
            &server.acme.member_key,
            &event(server.acme.skill.as_str(), &format!("ev_{i}")),
        );
        assert_eq!(answer.status, 202);
        std::thread::sleep(Duration::from_millis(100));
    }
    let (elapsed, answer) = drip.join().unwrap();
    assert!(
        elapsed < Duration::from_secs(4),
        "the slow client held its connection for {elapsed:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let server = Server::start_with(TestDatabase::sqlite(), |config| {
        config.limits.header_read_timeout = Duration::from_secs(1);
    });
    let mut silent = std::net::TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    let _ = silent.read_to_end(&mut buffer);
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(4),
        "a silent connection was held {held:?}"
    );
    assert!(
        held >= Duration::from_millis(900),
        "closed before its time: {held:?}"
    );
}

#[test]
fn events_get_503_while_the_database_is_down_and_202_when_it_is_back() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    // The server reaches PostgreSQL through a proxy the test can cut.
    let server_url = database.url.clone();
    let target: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(target);
    let through_proxy = server_url.replacen("127.0.0.1:5432", &proxy.addr.to_string(), 1);
    assert_ne!(
        through_proxy, server_url,
        "RELAY_TEST_DATABASE_URL must point at 127.0.0.1:5432"
    );
    let proxied = TestDatabase::wrapping(database, through_proxy);
    let server = Server::start(proxied);
    let client = server.client();
    let acme = server.acme.clone();
    let send = |id: &str| {
        client.post(
            "/api/track",
            &acme.host(),
            &acme.member_key,
            &event(acme.skill.as_str(), id),
        )
    };
    assert_eq!(send("ev_before").status, 202);

    let port = proxy.stop();
    let down = send("ev_during");
    assert_eq!(
        (down.status, down.code()),
        (503, "unavailable"),
        "{}",
        down.json
    );
    assert_eq!(
        client
            .send("GET", "/api/health", "localhost", None, None)
            .status,
        503
    );

    let _proxy = Proxy::start_on(port, target);
    let mut answer = send("ev_during");
    for _ in 0..20 {
        if answer.status == 202 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        answer = send("ev_during");
    }
    // The event refused during the outage is stored once it is sent again.
    assert_eq!(
        (answer.status, answer.json["accepted"].as_u64()),
        (202, Some(1)),
        "{}",
        answer.json
    );
    assert_eq!(
        client
            .send("GET", "/api/health", "localhost", None, None)
            .status,
        200
    );
}

#[test]
fn connections_over_the_cap_wait_for_a_free_slot() {
    let server = Server::start_with(TestDatabase::sqlite(), |config| {
        config.limits.max_connections = 2
    });
    let idle: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A third client is queued, not answered, while both slots are held…
    let mut third = std::net::TcpStream::connect(server.addr).unwrap();
    third
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buffer = [0u8; 64];
    assert!(
        third.read(&mut buffer).is_err(),
        "answered beyond the connection cap"
    );
    // …and served as soon as one is given back.
    drop(idle);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_request_whose_body_never_comes_times_out() {
    let server = Server::start_with(TestDatabase::sqlite(), |config| {
        config.limits.request_timeout = Duration::from_secs(1);
    });
    let acme = &server.acme;
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/track HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"skill",
        acme.host(),
        acme.member_key
    )
    .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let answer = crate::support::parse(&answer);
    assert_eq!((answer.status, answer.code()), (503, "timeout"));
    assert!(started.elapsed() < Duration::from_secs(5));
}
