//! `POST /api/track`: every body form, every refusal, group commit, and the rollup.

use std::time::Duration;

use relay_core::{Day, EventId, EventKind, Timestamp};

use crate::support::{Server, fixture, on_every_backend, stored_events};

on_every_backend!(
    real_hook_inputs_become_events_once,
    relay_events_single_and_batched,
    bad_bodies_are_refused_and_change_nothing,
    huge_bodies_are_refused_before_they_are_read,
    concurrent_requests_share_commits,
    events_are_counted_in_the_daily_rollup,
    metrics_count_requests_and_events,
);

const TRACKED: [(&str, &str); 5] = [
    ("PostToolUse-skill", "invocation"),
    ("PostToolUse-bash", "tool_use"),
    ("PostToolUse-mcp", "tool_use"),
    ("PostToolUseFailure-bash", "tool_failure"),
    ("UserPromptExpansion", "invocation"),
];

fn real_hook_inputs_become_events_once(server: Server) {
    let client = server.client();
    let acme = &server.acme;
    let path = format!("/api/track?skill={}", acme.skill);
    for (name, _) in TRACKED.iter().chain(&[("SessionStart", "session_start")]) {
        let answer = client.post(&path, &acme.host(), &acme.member_key, &fixture(name));
        assert_eq!(answer.status, 202, "{name}: {}", answer.json);
        assert_eq!(
            (
                answer.json["accepted"].as_u64(),
                answer.json["duplicates"].as_u64()
            ),
            (Some(1), Some(0)),
            "{name}"
        );
        // Claude Code may run a hook twice, relay-mcp may resend: stored once.
        let again = client.post(&path, &acme.host(), &acme.member_key, &fixture(name));
        assert_eq!(
            (
                again.status,
                again.json["accepted"].as_u64(),
                again.json["duplicates"].as_u64()
            ),
            (202, Some(0), Some(1)),
            "{name}"
        );
    }
    for name in [
        "PreToolUse-bash",
        "PreToolUse-skill",
        "Stop",
        "SessionEnd",
        "UserPromptSubmit",
    ] {
        let answer = client.post(&path, &acme.host(), &acme.member_key, &fixture(name));
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_event"),
            "{name}"
        );
    }
    // A Skill call naming another skill is, for this one, a tool use while it is active; a slash
    // command naming another skill is not this skill's event at all.
    let other = crate::support::seed_skill(&*server.store, &acme.id, "other");
    let other_path = format!("/api/track?skill={other}");
    let seen = client.post(
        &other_path,
        &acme.host(),
        &acme.member_key,
        &fixture("PostToolUse-skill"),
    );
    assert_eq!(
        (seen.status, seen.json["accepted"].as_u64()),
        (202, Some(1))
    );
    let slash = client.post(
        &other_path,
        &acme.host(),
        &acme.member_key,
        &fixture("UserPromptExpansion"),
    );
    assert_eq!((slash.status, slash.code()), (400, "invalid_event"));
    assert_eq!(slash.json["rejected"][0]["code"], "other_skill");
    let theirs = stored_events(&*server.store, &acme.id);
    let for_other: Vec<_> = theirs
        .iter()
        .filter(|e| e.event.skill_id == other)
        .collect();
    assert_eq!(for_other.len(), 1);
    assert_eq!(for_other[0].event.kind, EventKind::ToolUse);

    let no_skill = client.post(
        "/api/track",
        &acme.host(),
        &acme.member_key,
        &fixture("PostToolUse-bash"),
    );
    assert_eq!((no_skill.status, no_skill.code()), (400, "invalid_event"));
    assert!(
        no_skill.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("?skill=")
    );

    let events = stored_events(&*server.store, &acme.id);
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| e.event.skill_id == acme.skill)
        .collect();
    assert_eq!(events.len(), 6);
    let kinds: Vec<&str> = events.iter().map(|e| e.event.kind.as_str()).collect();
    for (_, kind) in TRACKED {
        assert!(kinds.contains(&kind));
    }
    let skill_call = events
        .iter()
        .find(|e| e.event.tool_name.as_deref() == Some("Skill"))
        .unwrap();
    assert_eq!(skill_call.event.invoked_skill.as_deref(), Some("demo"));
    assert_eq!(skill_call.event.tool_use_id.as_deref(), Some("toolu_0002"));
    assert_eq!(skill_call.event.duration_ms, Some(5));
    assert_eq!(
        skill_call.event.session_id.as_deref(),
        Some("caaa6772-dbd0-4949-842e-0f0061aae78f")
    );
    let slash = events
        .iter()
        .find(|e| e.event.tool_name.is_none() && e.event.kind == EventKind::Invocation)
        .unwrap();
    assert_eq!(slash.event.invoked_skill.as_deref(), Some("demo"));
}

fn event(skill: &str, session: &str, tool_use: &str, kind: &str) -> String {
    format!(
        r#"{{"skill_id":"{skill}","kind":"{kind}","session_id":"{session}","tool_use_id":"{tool_use}","tool_name":"Bash","duration_ms":3,"source":"hook","client":"relay-mcp/test"}}"#
    )
}

fn relay_events_single_and_batched(server: Server) {
    let client = server.client();
    let acme = &server.acme;
    let skill = acme.skill.as_str();
    let single = client.post(
        "/api/track",
        &acme.host(),
        &acme.member_key,
        &event(skill, "s1", "t1", "tool_use"),
    );
    assert_eq!(
        (single.status, single.json["accepted"].as_u64()),
        (202, Some(1))
    );
    assert_eq!(single.json["rejected"], serde_json::json!([]));

    let batch: Vec<String> = (0..500)
        .map(|i| event(skill, "s2", &format!("t{i}"), "tool_use"))
        .collect();
    let body = format!(r#"{{"events":[{}]}}"#, batch.join(","));
    let answer = client.post("/api/track", &acme.host(), &acme.member_key, &body);
    assert_eq!(
        (answer.status, answer.json["accepted"].as_u64()),
        (202, Some(500)),
        "{}",
        answer.json
    );
    let again = client.post("/api/track", &acme.host(), &acme.member_key, &body);
    assert_eq!(
        (
            again.json["accepted"].as_u64(),
            again.json["duplicates"].as_u64()
        ),
        (Some(0), Some(500))
    );

    // A batch keeps its good events and lists the others by index.
    let mixed = format!(
        r#"{{"events":[{},{{"kind":"tool_use"}},{},{},{{"skill_id":"{skill}","kind":"click"}}]}}"#,
        event(skill, "s3", "a", "invocation"),
        event(server.globex.skill.as_str(), "s3", "b", "tool_use"),
        event(skill, "s3", "c", "tool_failure"),
    );
    let answer = client.post("/api/track", &acme.host(), &acme.member_key, &mixed);
    assert_eq!(
        (answer.status, answer.json["accepted"].as_u64()),
        (202, Some(2)),
        "{}",
        answer.json
    );
    let rejected: Vec<(u64, &str)> = answer.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, "invalid_event"),
            (2, "unknown_skill"),
            (4, "invalid_event")
        ]
    );

    // An explicit event id wins over the derived one.
    let with_id = format!(r#"{{"event_id":"ev_custom-1","skill_id":"{skill}","kind":"tool_use"}}"#);
    assert_eq!(
        client
            .post("/api/track", &acme.host(), &acme.member_key, &with_id)
            .json["accepted"],
        1
    );
    assert_eq!(
        client
            .post("/api/track", &acme.host(), &acme.member_key, &with_id)
            .json["duplicates"],
        1
    );
    let stored = stored_events(&*server.store, &acme.id);
    assert_eq!(stored.len(), 1 + 500 + 2 + 1);
    assert!(
        stored
            .iter()
            .any(|e| e.event.event_id == EventId::parse("ev_custom-1").unwrap())
    );
    assert!(
        stored
            .iter()
            .all(|e| e.user_id.as_str().starts_with("usr_"))
    );
}

fn bad_bodies_are_refused_and_change_nothing(server: Server) {
    let client = server.client();
    let acme = &server.acme;
    let host = acme.host();
    let key = &acme.member_key;
    let skill = acme.skill.as_str();
    let cases: Vec<(String, u16, &str)> = vec![
        ("{\"skill_id\": ".to_owned(), 400, "malformed_json"),
        ("[1,2,3]".to_owned(), 400, "malformed_json"),
        (r#"{"kind":"tool_use"}"#.to_owned(), 400, "invalid_event"),
        (format!(r#"{{"skill_id":"{skill}"}}"#), 400, "invalid_event"),
        (
            format!(r#"{{"skill_id":"{skill}","kind":"clicked"}}"#),
            400,
            "invalid_event",
        ),
        (
            format!(
                r#"{{"skill_id":"{}","kind":"tool_use"}}"#,
                server.globex.skill
            ),
            422,
            "unknown_skill",
        ),
        (
            format!(r#"{{"skill_id":"{skill}","kind":"tool_use","occurred_at":"tomorrow"}}"#),
            400,
            "invalid_event",
        ),
        (
            format!(
                r#"{{"events":[{}]}}"#,
                vec![event(skill, "s", "t", "tool_use"); 501].join(",")
            ),
            400,
            "too_many_events",
        ),
        (r#"{"events":[]}"#.to_owned(), 400, "invalid_event"),
    ];
    for (body, status, code) in cases {
        let answer = client.post("/api/track", &host, key, &body);
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{body:.80}: {}",
            answer.json
        );
    }
    let plain = client.raw(
        format!(
            "POST /api/track HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: text/plain\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        )
        .as_bytes(),
    );
    let plain = crate::support::parse(&plain);
    assert_eq!(
        (plain.status, plain.code()),
        (415, "unsupported_media_type")
    );
    let day = Timestamp::now().day();
    assert!(
        server
            .store
            .daily_usage(&acme.id, day, day)
            .unwrap()
            .is_empty(),
        "nothing was stored"
    );
    let all = stored_events(&*server.store, &acme.id);
    assert!(all.is_empty());
}

fn huge_bodies_are_refused_before_they_are_read(server: Server) {
    use std::io::{Read, Write};
    let acme = &server.acme;
    // Declares 10 MB and sends none of it: refused at once, not after a 10 MB read.
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/track HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 10000000\r\nConnection: close\r\n\r\n{{\"events\":[",
        acme.host(),
        acme.member_key
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let answer = crate::support::parse(&answer);
    assert_eq!((answer.status, answer.code()), (413, "payload_too_large"));

    // A chunked body with no declared length is cut at the limit.
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/track HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        acme.host(),
        acme.member_key
    )
    .unwrap();
    let chunk = "x".repeat(64 * 1024);
    for _ in 0..20 {
        if write!(stream, "{:x}\r\n{chunk}\r\n", chunk.len()).is_err() {
            break;
        }
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let answer = crate::support::parse(&answer);
    assert_eq!((answer.status, answer.code()), (413, "payload_too_large"));

    // The server is fine afterwards.
    let ok = server.client().post(
        "/api/track",
        &acme.host(),
        &acme.member_key,
        &event(acme.skill.as_str(), "s", "t", "tool_use"),
    );
    assert_eq!(ok.status, 202);
}

fn concurrent_requests_share_commits(server: Server) {
    let client = server.client();
    let acme = server.acme.clone();
    let threads: Vec<_> = (0..16)
        .map(|thread| {
            let acme = acme.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let body = event(
                        acme.skill.as_str(),
                        &format!("s{thread}"),
                        &format!("t{i}"),
                        "tool_use",
                    );
                    let answer = client.post("/api/track", &acme.host(), &acme.member_key, &body);
                    assert_eq!(answer.status, 202, "{}", answer.json);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stored = stored_events(&*server.store, &acme.id);
    assert_eq!(stored.len(), 400);
    // 400 requests, fewer commits: the writer grouped concurrent requests.
    let raw = client.raw(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let commits: u64 = raw
        .lines()
        .find_map(|line| line.strip_prefix("relay_writer_batch_events_count "))
        .and_then(|n| n.trim().parse().ok())
        .expect("writer batch count");
    assert!(
        commits < 400,
        "{commits} commits for 400 concurrent requests: no group commit"
    );
}

fn events_are_counted_in_the_daily_rollup(server: Server) {
    let client = server.client();
    let acme = &server.acme;
    let skill = acme.skill.as_str();
    let at = |t: &str| format!(r#","occurred_at":"{t}"}}"#);
    let with_time = |body: String, t: &str| format!("{}{}", &body[..body.len() - 1], at(t));
    let events = [
        with_time(
            event(skill, "s1", "t1", "invocation"),
            "2026-12-03T09:00:00Z",
        ),
        with_time(event(skill, "s1", "t2", "tool_use"), "2026-12-03T09:01:00Z"),
        with_time(
            event(skill, "s1", "t3", "tool_failure"),
            "2026-12-03T09:02:00Z",
        ),
        with_time(event(skill, "s2", "t4", "tool_use"), "2026-12-04T09:00:00Z"),
    ];
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    assert_eq!(
        client
            .post("/api/track", &acme.host(), &acme.member_key, &body)
            .json["accepted"],
        4
    );
    let rollup = server
        .store
        .daily_usage(
            &acme.id,
            Day::parse("2026-12-03").unwrap(),
            Day::parse("2026-12-04").unwrap(),
        )
        .unwrap();
    let counts: Vec<(String, i64, i64, i64, i64)> = rollup
        .iter()
        .map(|r| {
            (
                r.day.to_string(),
                r.skill_sessions,
                r.invocations,
                r.tool_uses,
                r.tool_failures,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("2026-12-03".to_owned(), 1, 1, 1, 1),
            ("2026-12-04".to_owned(), 1, 0, 1, 0)
        ]
    );
}

fn metrics_count_requests_and_events(server: Server) {
    let client = server.client();
    let acme = &server.acme;
    client.post(
        "/api/track",
        &acme.host(),
        &acme.member_key,
        &event(acme.skill.as_str(), "s", "t", "tool_use"),
    );
    client.post(
        "/api/track",
        &acme.host(),
        &acme.member_key,
        &event(acme.skill.as_str(), "s", "t", "tool_use"),
    );
    client.post("/api/track", &acme.host(), &acme.member_key, "{bad");
    let raw = client.raw(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert!(raw.contains("text/plain"), "{raw}");
    for line in [
        "relay_http_requests_total{route=\"/api/track\",status=\"202\"} 2",
        "relay_http_requests_total{route=\"/api/track\",status=\"400\"} 1",
        "relay_ingest_events_total{outcome=\"accepted\"} 1",
        "relay_ingest_events_total{outcome=\"duplicate\"} 1",
        "relay_writer_commit_seconds_count 2",
    ] {
        assert!(raw.contains(line), "missing {line} in:\n{raw}");
    }
    // Labels never carry a tenant, a key or a path.
    assert!(!raw.contains("acme") && !raw.contains("rly_"));
}
