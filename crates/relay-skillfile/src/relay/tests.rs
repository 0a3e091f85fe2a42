//! Injection keeps the uploader's file, is idempotent, and inspection finds what was done to it.

use proptest::prelude::*;
use relay_core::{EventKind, SkillId};
use yaml_serde::{Mapping, Value};

use super::*;
use crate::{Frontmatter, split};

const SERVER: &str = "https://acme.relay.example.com";

fn skill() -> SkillId {
    SkillId::parse("sk_0123abcd").unwrap()
}

fn deploy() -> Deploy<'static> {
    static ID: std::sync::OnceLock<SkillId> = std::sync::OnceLock::new();
    Deploy {
        skill_id: ID.get_or_init(skill),
        version: 3,
        server: SERVER,
    }
}

fn fields(text: &str) -> Mapping {
    Frontmatter::parse(split(text).unwrap().frontmatter)
        .unwrap()
        .fields
}

const UPLOADED: &str = "---
name: code-review
description: Reviews a diff.
allowed-tools: Read Grep
metadata:
  owner: platform-team
hooks:
  PreToolUse:
    - matcher: Bash
      hooks:
        - type: command
          command: ./check.sh
  PostToolUse:
    - matcher: Edit
      hooks:
        - type: command
          command: ./format.sh
---
# Code Review

Body with --- and trailing spaces   
";

#[test]
fn injection_keeps_the_uploaders_keys_hooks_and_body() {
    let deployed = inject(UPLOADED, &deploy()).unwrap();
    let original = fields(UPLOADED);
    let after = fields(&deployed);
    assert_eq!(
        split(&deployed).unwrap().body,
        split(UPLOADED).unwrap().body
    );
    for key in ["name", "description", "allowed-tools"] {
        assert_eq!(after.get(key), original.get(key), "{key}");
    }
    let metadata = after.get("metadata").unwrap();
    assert_eq!(
        metadata.get("owner").and_then(Value::as_str),
        Some("platform-team")
    );
    assert_eq!(
        metadata.get("relay-skill-id").and_then(Value::as_str),
        Some("sk_0123abcd")
    );
    assert_eq!(
        metadata.get("relay-version").and_then(Value::as_i64),
        Some(3)
    );
    assert_eq!(
        metadata.get("relay-server").and_then(Value::as_str),
        Some(SERVER)
    );
    assert_eq!(
        metadata.get("relay-hooks").and_then(Value::as_i64),
        Some(HOOKS_VERSION)
    );

    let hooks = after.get("hooks").unwrap();
    assert_eq!(
        hooks.get("PreToolUse"),
        original.get("hooks").unwrap().get("PreToolUse")
    );
    let post = hooks
        .get("PostToolUse")
        .and_then(Value::as_sequence)
        .unwrap();
    assert_eq!(post.len(), 2, "the uploader's group and Relay's");
    assert_eq!(
        post[0],
        original.get("hooks").unwrap().get("PostToolUse").unwrap()[0]
    );
    let relay = &post[1];
    assert_eq!(relay.get("matcher").and_then(Value::as_str), Some("*"));
    let hook = &relay.get("hooks").unwrap()[0];
    assert_eq!(hook.get("async").and_then(Value::as_bool), Some(true));
    assert_eq!(hook.get("timeout").and_then(Value::as_i64), Some(10));
    let command = hook.get("command").and_then(Value::as_str).unwrap();
    assert!(
        command
            .contains("relay-mcp hook --skill sk_0123abcd --server https://acme.relay.example.com")
    );
    assert!(
        command.contains("$RELAY_API_KEY") && command.ends_with("exit 0"),
        "{command}"
    );
    assert!(
        !command.contains("rly_"),
        "no key is ever written into a skill file"
    );
    let failure = hooks
        .get("PostToolUseFailure")
        .and_then(Value::as_sequence)
        .unwrap();
    assert_eq!(failure.len(), 1);
    assert_eq!(inspect(&deployed).unwrap().unwrap().status, HookStatus::Ok);
}

#[test]
fn a_new_deploy_replaces_the_old_hooks() {
    let first = inject(UPLOADED, &deploy()).unwrap();
    let other = Deploy {
        version: 4,
        server: "https://acme.relay.example.org",
        ..deploy()
    };
    let second = inject(&first, &other).unwrap();
    let post = fields(&second)
        .get("hooks")
        .unwrap()
        .get("PostToolUse")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap();
    assert_eq!(post.len(), 2, "replaced, not duplicated");
    assert!(second.contains("--server https://acme.relay.example.org"));
    assert!(!second.contains("--server https://acme.relay.example.com"));
}

#[test]
fn deleted_stale_and_edited_files_are_found_and_repaired() {
    let deployed = inject(UPLOADED, &deploy()).unwrap();

    // Relay's hooks deleted by hand; the uploader's own stay.
    let mut stripped = fields(&deployed);
    let hooks = stripped
        .get_mut("hooks")
        .and_then(Value::as_mapping_mut)
        .unwrap();
    let theirs = hooks
        .get("PostToolUse")
        .and_then(Value::as_sequence)
        .unwrap()[..1]
        .to_vec();
    hooks.insert("PostToolUse".into(), Value::Sequence(theirs));
    hooks.remove("PostToolUseFailure");
    let stripped = render(&stripped, split(&deployed).unwrap().body).unwrap();
    assert_eq!(
        inspect(&stripped).unwrap().unwrap().status,
        HookStatus::HooksMissing
    );
    let repaired = repair(&stripped).unwrap().expect("a repair");
    assert_eq!(inspect(&repaired).unwrap().unwrap().status, HookStatus::Ok);
    assert_eq!(repaired, deployed);

    // Hooks of an older format.
    let stale = deployed.replace("relay-hooks: 1", "relay-hooks: 0");
    assert_eq!(
        inspect(&stale).unwrap().unwrap().status,
        HookStatus::HooksStale
    );
    assert_eq!(
        inspect(&repair(&stale).unwrap().unwrap())
            .unwrap()
            .unwrap()
            .status,
        HookStatus::Ok
    );

    // A hook whose command was changed.
    let tampered = deployed.replacen("exit 0", "exit 1", 1);
    assert_eq!(
        inspect(&tampered).unwrap().unwrap().status,
        HookStatus::HooksStale
    );

    // An edited body: reported, and a repair leaves it reported.
    let edited = format!("{deployed}One more line.\n");
    assert_eq!(
        inspect(&edited).unwrap().unwrap().status,
        HookStatus::Modified
    );
    assert_eq!(
        repair(&edited).unwrap(),
        None,
        "hooks are current: nothing to repair"
    );
    let edited_and_stripped = format!("{stripped}One more line.\n");
    let fixed = repair(&edited_and_stripped).unwrap().unwrap();
    assert_eq!(
        inspect(&fixed).unwrap().unwrap().status,
        HookStatus::Modified
    );

    // Files Relay does not manage.
    assert_eq!(inspect(UPLOADED).unwrap(), None);
    assert_eq!(repair(UPLOADED).unwrap(), None);
}

#[test]
fn bad_frontmatter_and_servers_are_refused() {
    assert!(inject("no frontmatter", &deploy()).is_err());
    assert!(inject("---\nname: x\nhooks: 5\n---\n", &deploy()).is_err());
    assert!(inject("---\nname: x\nmetadata: [1]\n---\n", &deploy()).is_err());
    for server in [
        "acme.example.com",
        "https://acme.example.com/x",
        "https://a;rm -rf /",
        "https://$(id)",
    ] {
        assert!(
            inject(UPLOADED, &Deploy { server, ..deploy() }).is_err(),
            "{server}"
        );
    }
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "name",
        "description",
        "license",
        "allowed-tools",
        "model",
        "when_to_use",
        "x-team",
        "paths",
    ])
    .prop_map(str::to_owned)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(Value::from),
        any::<i32>().prop_map(|n| Value::from(i64::from(n))),
        any::<bool>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ]
}

fn uploaded() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((key(), scalar()), 0..8),
        prop::option::of(prop::collection::vec(("[a-z]{1,8}", scalar()), 0..4)),
        any::<bool>(),
        "(\\PC|\n){0,200}",
    )
        .prop_map(|(keys, metadata, own_hook, body)| {
            let mut fields = Mapping::new();
            for (key, value) in keys {
                fields.insert(key.into(), value);
            }
            if let Some(metadata) = metadata {
                let mut map = Mapping::new();
                for (key, value) in metadata {
                    map.insert(key.into(), value);
                }
                fields.insert("metadata".into(), Value::Mapping(map));
            }
            if own_hook {
                let hooks: Value = yaml_serde::from_str(
                    "PostToolUse:\n  - matcher: Edit\n    hooks:\n      - type: command\n        command: ./fmt.sh\n",
                )
                .unwrap();
                fields.insert("hooks".into(), hooks);
            }
            render(&fields, &body).unwrap()
        })
}

proptest! {
    #[test]
    fn render_after_parse_keeps_every_key_and_the_body(text in uploaded()) {
        let parts = split(&text).unwrap();
        let parsed = Frontmatter::parse(parts.frontmatter).unwrap().fields;
        let again = render(&parsed, parts.body).unwrap();
        prop_assert_eq!(split(&again).unwrap().body, parts.body);
        prop_assert_eq!(fields(&again), parsed);
    }

    #[test]
    fn injection_keeps_uploader_keys_and_body_and_is_idempotent(text in uploaded()) {
        let original = fields(&text);
        let once = inject(&text, &deploy()).unwrap();
        let twice = inject(&once, &deploy()).unwrap();
        prop_assert_eq!(&twice, &once);
        prop_assert_eq!(split(&once).unwrap().body, split(&text).unwrap().body);
        let after = fields(&once);
        for (key, value) in &original {
            match key.as_str() {
                Some("metadata") | Some("hooks") => {
                    let theirs = value.as_mapping().cloned().unwrap_or_default();
                    let merged = after.get(key).and_then(Value::as_mapping).unwrap();
                    for (inner, inner_value) in &theirs {
                        if key.as_str() == Some("hooks") {
                            // Their own hook groups come first, unchanged.
                            let ours = merged.get(inner).and_then(Value::as_sequence).unwrap();
                            let mine = inner_value.as_sequence().unwrap();
                            prop_assert_eq!(&ours[..mine.len()], &mine[..]);
                        } else {
                            prop_assert_eq!(merged.get(inner), Some(inner_value));
                        }
                    }
                }
                _ => prop_assert_eq!(after.get(key), Some(value)),
            }
        }
        prop_assert_eq!(inspect(&once).unwrap().unwrap().status, HookStatus::Ok);
    }
}

#[test]
fn the_hook_is_silent_and_exits_0_without_relay_mcp_and_without_a_server() {
    let command = hook_command(&skill(), "http://127.0.0.1:9", EventKind::ToolUse);
    let started = std::time::Instant::now();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        // No relay-mcp on this PATH: the curl fallback runs, against a closed port.
        .env("PATH", "/usr/bin:/bin")
        .env("RELAY_API_KEY", "rly_test")
        .env("CLAUDE_CODE_SESSION_ID", "session-1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
