//! `relay-mcp hook` and `flush` against a real trackd: silent, fast, private, and nothing lost
//! while trackd is down.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_core::{EventKind, SkillId, TenantId, Timestamp};
use relay_store::Store;
use relay_testkit::TestDatabase;

use crate::support::Trackd;

const MARKER: &str = "SECRET-TOOL-INPUT-MARKER";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/hook-payloads")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

struct Setup {
    store: Arc<dyn Store>,
    tenant: TenantId,
    skill: SkillId,
    key: String,
    dirs: tempfile::TempDir,
    _database: TestDatabase,
}

fn setup() -> Setup {
    let crate::support::Seeded {
        store,
        tenant,
        secret,
        skill,
        database,
        ..
    } = crate::support::seed("A demo", "", Vec::new());
    let skill = skill.id;
    Setup {
        store,
        tenant: tenant.id,
        skill,
        key: secret.expose().to_owned(),
        dirs: tempfile::tempdir().unwrap(),
        _database: database,
    }
}

fn relay_mcp(setup: &Setup, args: &[&str], stdin: &str) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_relay-mcp"))
        .args(args)
        .env("RELAY_API_KEY", &setup.key)
        .env("RELAY_DATA_DIR", setup.dirs.path().join("data"))
        .env("RELAY_CONFIG_DIR", setup.dirs.path().join("config"))
        .env_remove("RELAY_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    (output, started.elapsed())
}

fn events(setup: &Setup) -> Vec<relay_core::Event> {
    let end = Timestamp::parse_rfc3339("2100-01-01T00:00:00Z").unwrap();
    setup
        .store
        .list_events(&setup.tenant, Timestamp::from_millis(0), end, 1000)
        .unwrap()
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn hooks_report_silently_and_wait_out_an_absent_server() {
    let setup = setup();
    let addr = free_port();
    let server = format!("http://acme.localhost:{}", addr.port());
    let hook = [
        "hook",
        "--skill",
        setup.skill.as_str(),
        "--server",
        server.as_str(),
    ];

    let trackd = Trackd::start(setup.store.clone(), addr);
    for name in ["PostToolUse-skill", "PostToolUse-bash"] {
        let (output, took) = relay_mcp(&setup, &hook, &fixture(name));
        assert_eq!(output.status.code(), Some(0), "{name}");
        assert!(
            output.stdout.is_empty() && output.stderr.is_empty(),
            "{name}: {output:?}"
        );
        assert!(took < Duration::from_secs(2), "{name} took {took:?}");
    }
    // Hook events that carry no use are not reported, and still exit 0 silently.
    let (output, _) = relay_mcp(&setup, &hook, &fixture("Stop"));
    assert!(output.status.success() && output.stderr.is_empty());
    let stored = events(&setup);
    assert_eq!(stored.len(), 2);
    let invocation = stored
        .iter()
        .find(|e| e.event.kind == EventKind::Invocation)
        .unwrap();
    assert_eq!(invocation.event.invoked_skill.as_deref(), Some("demo"));
    assert_eq!(
        invocation.event.session_id.as_deref(),
        Some("caaa6772-dbd0-4949-842e-0f0061aae78f")
    );
    assert!(stored.iter().all(|e| e.event.skill_id == setup.skill));

    // trackd down: the hook still ends at once, silently, and the event waits in the outbox.
    drop(trackd);
    let (output, took) = relay_mcp(&setup, &hook, &fixture("PostToolUseFailure-bash"));
    assert!(output.status.success() && output.stdout.is_empty() && output.stderr.is_empty());
    assert!(
        took < Duration::from_secs(2),
        "a hook with trackd down took {took:?}"
    );
    assert_eq!(events(&setup).len(), 2);

    // Back up: flush delivers it, once.
    let _trackd = Trackd::start(setup.store.clone(), addr);
    let (output, _) = relay_mcp(&setup, &["flush"], "");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        said.contains("sent 1,") && said.contains("0 still waiting"),
        "{said}"
    );
    let (output, _) = relay_mcp(&setup, &["flush"], "");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "The outbox is empty.\n"
    );
    let stored = events(&setup);
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored
            .iter()
            .filter(|e| e.event.kind == EventKind::ToolFailure)
            .count(),
        1
    );

    // No tool input or output went into the outbox.
    let outbox =
        std::fs::read(setup.dirs.path().join("data").join("outbox.db")).unwrap_or_default();
    let wal =
        std::fs::read(setup.dirs.path().join("data").join("outbox.db-wal")).unwrap_or_default();
    let bytes = [outbox, wal].concat();
    assert!(
        !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "the marker is in the outbox"
    );
}

#[test]
fn status_shows_server_user_outbox_and_skills() {
    let setup = setup();
    let addr = free_port();
    let server = format!("http://acme.localhost:{}", addr.port());
    let _trackd = Trackd::start(setup.store.clone(), addr);

    // A project with one deployed skill in order and one whose hooks were deleted.
    let project = setup.dirs.path().join("project");
    let home = setup.dirs.path().join("home");
    let deploy = relay_skillfile::Deploy {
        skill_id: &setup.skill,
        version: 1,
        server: &server,
    };
    let deployed = relay_skillfile::inject(
        "---\nname: demo\ndescription: A demo\n---\n# Demo\n",
        &deploy,
    )
    .unwrap();
    for (slug, text) in [
        ("demo", deployed.clone()),
        ("broken", deployed.replace("relay-mcp hook --skill", "echo")),
    ] {
        let dir = project.join(".claude/skills").join(slug);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("SKILL.md"), text).unwrap();
    }
    std::fs::create_dir_all(&home).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_relay-mcp"))
        .arg("status")
        .env("RELAY_SERVER", &server)
        .env("RELAY_API_KEY", &setup.key)
        .env("RELAY_DATA_DIR", setup.dirs.path().join("data"))
        .env("RELAY_CONFIG_DIR", setup.dirs.path().join("config"))
        .env("CLAUDE_PROJECT_DIR", &project)
        .env("HOME", &home)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    for line in [
        format!("server:   {server}"),
        "user:     dev@acme.com (member) in acme".to_owned(),
        "outbox:   0 waiting".to_owned(),
        "skill:    broken (project): hooks_missing".to_owned(),
        "skill:    demo (project): ok".to_owned(),
    ] {
        assert!(said.contains(&line), "missing {line:?} in:\n{said}");
    }
}
