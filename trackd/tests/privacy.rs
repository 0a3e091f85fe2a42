//! Tool inputs, tool outputs and prompts never reach trackd's database or logs.

use relay_store::DatabaseUrl;
use relay_testkit::TestDatabase;

use crate::support::{MARKER, Process, fixture, seed_tenant};

/// Every fixture, with the marker put in every field Relay must not keep.
fn marked_inputs() -> Vec<String> {
    let mut inputs = Vec::new();
    for name in [
        "PostToolUse-skill",
        "PostToolUse-bash",
        "PostToolUse-mcp",
        "PostToolUseFailure-bash",
        "UserPromptExpansion",
        "SessionStart",
        "UserPromptSubmit",
        "Stop",
    ] {
        let mut input: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
        for field in [
            "cwd",
            "transcript_path",
            "prompt",
            "command_args",
            "error",
            "last_assistant_message",
        ] {
            if input.get(field).is_some() {
                input[field] = format!("{MARKER}-{field}").into();
            }
        }
        if input.get("tool_input").is_some() {
            input["tool_input"]["secret"] = MARKER.into();
        }
        if input.get("tool_response").is_some() {
            input["tool_response"] = serde_json::json!({ "stdout": MARKER });
        }
        inputs.push(input.to_string());
    }
    assert!(inputs.iter().all(|input| input.contains(MARKER)));
    inputs
}

fn send_everything(process: &Process, tenant: &crate::support::TestTenant) {
    let client = process.client();
    let path = format!("/api/track?skill={}", tenant.skill);
    for input in marked_inputs() {
        let answer = client.post(&path, &tenant.host(), &tenant.member_key, &input);
        assert!([202, 400].contains(&answer.status), "{}", answer.json);
        assert!(
            !answer.json.to_string().contains(MARKER),
            "the answer echoed it: {}",
            answer.json
        );
    }
    // Relay events carrying tool data they should not, alone and in a batch.
    let smuggled = format!(
        r#"{{"skill_id":"{}","kind":"tool_use","session_id":"s","tool_use_id":"t9","tool_input":{{"cmd":"{MARKER}"}},"tool_response":"{MARKER}","prompt":"{MARKER}","cwd":"/{MARKER}"}}"#,
        tenant.skill
    );
    assert_eq!(
        client
            .post("/api/track", &tenant.host(), &tenant.member_key, &smuggled)
            .status,
        202
    );
    let batch = format!(r#"{{"events":[{smuggled}],"prompt":"{MARKER}"}}"#);
    assert_eq!(
        client
            .post("/api/track", &tenant.host(), &tenant.member_key, &batch)
            .status,
        202
    );
    // Bodies that fail to parse must not be echoed or logged either.
    for broken in [
        format!(r#"{{"skill_id":"{MARKER}""#),
        format!(r#"{{"kind":"{MARKER}","skill_id":"x"}}"#),
        format!(r#"{{"events":"{MARKER}"}}"#),
        format!(r#"{{"events":[{{"duration_ms":"{MARKER}"}}]}}"#),
    ] {
        let answer = client.post("/api/track", &tenant.host(), &tenant.member_key, &broken);
        assert_eq!(answer.status, 400);
        assert!(!answer.json.to_string().contains(MARKER), "{}", answer.json);
    }
}

#[test]
fn markers_in_tool_data_reach_neither_the_sqlite_file_nor_the_logs() {
    let database = TestDatabase::sqlite();
    let store = relay_store::open(&DatabaseUrl::parse(&database.url).unwrap()).unwrap();
    let tenant = seed_tenant(&*store, "acme");
    drop(store);
    let process = Process::start(&database.url, &[]);
    send_everything(&process, &tenant);
    let logs = process.terminate();
    assert!(
        logs.contains("request"),
        "debug request lines are logged: {logs}"
    );
    assert!(!logs.contains(MARKER), "the marker is in the logs:\n{logs}");

    let path = database.sqlite_path().unwrap();
    let mut stored = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        stored.extend(std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default());
    }
    assert!(
        stored
            .windows(b"toolu_0004".len())
            .any(|w| w == b"toolu_0004"),
        "the events were stored"
    );
    assert!(
        !stored.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "the marker is in the database file"
    );
    assert!(
        !stored
            .windows(b"/home/dev".len())
            .any(|w| w == b"/home/dev"),
        "a path is in the database file"
    );
}

#[test]
fn markers_in_tool_data_reach_neither_postgresql_nor_the_logs() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let store = relay_store::open(&DatabaseUrl::parse(&database.url).unwrap()).unwrap();
    let tenant = seed_tenant(&*store, "acme");
    drop(store);
    let process = Process::start(&database.url, &[]);
    send_everything(&process, &tenant);
    let logs = process.terminate();
    assert!(!logs.contains(MARKER), "the marker is in the logs:\n{logs}");

    // Every row of every table, as text.
    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).unwrap();
    let tables: Vec<String> = client
        .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut dump = String::new();
    for table in &tables {
        for row in client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .unwrap()
        {
            dump.push_str(&row.get::<_, String>(0));
            dump.push('\n');
        }
    }
    assert!(dump.contains("toolu_0004"), "the events were stored");
    assert!(
        !dump.contains(MARKER),
        "the marker is in PostgreSQL:\n{dump}"
    );
    assert!(!dump.contains("/home/dev"), "a path is in PostgreSQL");
}
