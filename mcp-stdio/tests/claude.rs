//! The real Claude Code CLI, offline: it talks to a scripted stand-in for the model API (below),
//! spawns relay-mcp from `.mcp.json`, deploys a skill, invokes it, and its hooks report to a real
//! trackd. Needs `claude` (the npm package `@anthropic-ai/claude-code`): `.ci/run` installs it and
//! sets `RELAY_CLAUDE_BIN`; elsewhere the test says it skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use relay_core::{EventKind, Timestamp};
use relay_store::Store;
use relay_testkit::TestDatabase;
use serde_json::{Value, json};

const MARKER: &str = "SECRET-TOOL-INPUT-MARKER";

/// One scripted assistant turn.
#[derive(Clone)]
enum Turn {
    Tool(&'static str, Value),
    Text(&'static str),
}

/// The model: answers each agent-loop request with the next turn of the current script (the
/// turn number is the count of assistant messages so far), and any other request with a line
/// of text.
struct Model {
    script: Arc<Mutex<Vec<Turn>>>,
    port: u16,
}

fn sse(turn: &Turn) -> String {
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": format!("msg_{}", rand_id()), "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    ];
    let stop = match turn {
        Turn::Tool(name, input) => {
            events.push(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": format!("toolu_{}", rand_id()), "name": name, "input": {}}}));
            events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}));
            "tool_use"
        }
        Turn::Text(text) => {
            events.push(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}));
            events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}));
            "end_turn"
        }
    };
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}));
    events.push(json!({"type": "message_stop"}));
    events
        .iter()
        .map(|event| {
            format!(
                "event: {}\ndata: {event}\n\n",
                event["type"].as_str().unwrap()
            )
        })
        .collect()
}

fn rand_id() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

impl Model {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script: Arc<Mutex<Vec<Turn>>> = Arc::default();
        let shared = script.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let script = shared.clone();
                std::thread::spawn(move || {
                    let _ = answer(stream, &script);
                });
            }
        });
        Self { script, port }
    }

    fn play(&self, turns: Vec<Turn>) {
        *self.script.lock().unwrap() = turns;
    }
}

fn answer(stream: std::net::TcpStream, script: &Mutex<Vec<Turn>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        if let Ok(log) = std::env::var("RELAY_MODEL_LOG")
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
        {
            let roles: Vec<String> = request["messages"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| m["role"].as_str().unwrap_or("?").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(
                file,
                "{} {path} stream={} tools={} roles={roles:?} last={}",
                request_line.trim(),
                request["stream"],
                request["tools"].as_array().map_or(0, Vec::len),
                request["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .map(|m| m.to_string().chars().take(300).collect::<String>())
                    .unwrap_or_default()
            );
        }
        if path.contains("count_tokens") {
            let body = r#"{"input_tokens":10}"#;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            continue;
        }
        let turn = if request
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|tools| !tools.is_empty())
        {
            let assistant_turns = request["messages"].as_array().map_or(0, |messages| {
                messages.iter().filter(|m| m["role"] == "assistant").count()
            });
            script
                .lock()
                .unwrap()
                .get(assistant_turns)
                .cloned()
                .unwrap_or(Turn::Text("Done."))
        } else {
            Turn::Text("Relay test")
        };
        // In -p mode Claude Code cancels async hooks still running when it exits (reference,
        // claude-code.md), and it exits right after the final answer. A person's session goes
        // on; give the last tool's hook the moment it would have there.
        let after_tool = request["messages"]
            .as_array()
            .and_then(|messages| messages.last())
            .is_some_and(|last| last.to_string().contains("tool_result"));
        if matches!(turn, Turn::Text(_)) && after_tool {
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
        if request["stream"] == true {
            let body = sse(&turn);
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
        } else {
            let content = match &turn {
                Turn::Text(text) => json!([{"type": "text", "text": text}]),
                Turn::Tool(name, input) => {
                    json!([{"type": "tool_use", "id": format!("toolu_{}", rand_id()), "name": name, "input": input}])
                }
            };
            let stop = if matches!(turn, Turn::Tool(..)) {
                "tool_use"
            } else {
                "end_turn"
            };
            let body = json!({"id": format!("msg_{}", rand_id()), "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": content, "stop_reason": stop, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 5}}).to_string();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
        }
    }
}

fn claude_bin() -> Option<PathBuf> {
    match std::env::var_os("RELAY_CLAUDE_BIN") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            assert!(
                !relay_testkit::in_ci(),
                "RELAY_CLAUDE_BIN must point at Claude Code in CI (.ci/run installs it)"
            );
            eprintln!("RELAY_CLAUDE_BIN is not set: skipping the Claude Code end-to-end test");
            None
        }
    }
}

struct World {
    claude: PathBuf,
    home: PathBuf,
    project: PathBuf,
    env: Vec<(String, String)>,
}

impl World {
    fn run(&self, model: &Model, prompt: &str, turns: Vec<Turn>) -> String {
        model.play(turns);
        let mut command = std::process::Command::new(&self.claude);
        command
            .arg("-p")
            .arg(prompt)
            .args([
                "--output-format",
                "json",
                "--allowedTools",
                "Bash(echo:*)",
                "Skill",
                "mcp__relay__search_skills",
                "mcp__relay__deploy_skill",
            ])
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", model.port),
            )
            .env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_TELEMETRY", "1");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "claude failed: {said}");
        said
    }
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_relay-mcp"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Everything a Claude Code run needs: trackd with a tenant and a skill, a project with
/// `.mcp.json`, a throw-away HOME, relay-mcp's config, and the scripted model.
struct Fixture {
    store: Arc<dyn Store>,
    tenant: relay_core::TenantId,
    user: relay_core::UserId,
    skill: relay_core::Skill,
    world: World,
    model: Model,
    port: u16,
    project: PathBuf,
    config: PathBuf,
    data: PathBuf,
    trackd: Option<trackd::Background>,
    database: TestDatabase,
    _dirs: tempfile::TempDir,
}

fn start_trackd(store: Arc<dyn Store>, listener: TcpListener) -> trackd::Background {
    trackd::Background::start(trackd::Config::new("localhost").unwrap(), store, listener).unwrap()
}

impl Fixture {
    fn stop_trackd(&mut self) {
        if let Some(trackd) = self.trackd.take() {
            trackd.stop().unwrap();
        }
    }

    fn restart_trackd(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.trackd = Some(start_trackd(self.store.clone(), listener));
    }

    fn flush(&self) -> String {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_relay-mcp"))
            .arg("flush")
            .env("RELAY_CONFIG_DIR", &self.config)
            .env("RELAY_DATA_DIR", &self.data)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn events(&self) -> Vec<relay_core::Event> {
        let end = Timestamp::parse_rfc3339("2100-01-01T00:00:00Z").unwrap();
        self.store
            .list_events(&self.tenant, Timestamp::from_millis(0), end, 1000)
            .unwrap()
    }

    fn deploy(&self) {
        let said = self.world.run(
            &self.model,
            "Find a skill for saying hello and install it.",
            vec![
                Turn::Tool("mcp__relay__search_skills", json!({"query": "hello"})),
                Turn::Tool("mcp__relay__deploy_skill", json!({"slug": "demo"})),
                Turn::Text("Installed."),
            ],
        );
        let skill_file = self.project.join(".claude/skills/demo/SKILL.md");
        assert!(
            skill_file.exists(),
            "no SKILL.md after the deploy run: {said}"
        );
        assert_eq!(
            relay_skillfile::inspect(&std::fs::read_to_string(&skill_file).unwrap())
                .unwrap()
                .unwrap()
                .status,
            relay_skillfile::HookStatus::Ok
        );
    }

    fn invoke_with_skill_tool(&self) {
        self.world.run(
            &self.model,
            "Say hello the demo way.",
            vec![
                Turn::Tool("Skill", json!({"skill": "demo"})),
                Turn::Tool(
                    "Bash",
                    json!({"command": format!("echo {MARKER}"), "description": "say it"}),
                ),
                Turn::Text("Said."),
            ],
        );
    }
}

fn setup(claude: PathBuf) -> Fixture {
    let crate::support::Seeded {
        store,
        tenant,
        user,
        secret,
        skill,
        database,
    } = crate::support::seed(
        "Says hello the demo way",
        "\nRun `echo hello`.\n",
        Vec::new(),
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let trackd = Some(start_trackd(store.clone(), listener));
    let server = format!("http://acme.localhost:{port}");

    let dirs = tempfile::tempdir().unwrap();
    let home = dirs.path().join("home");
    let project = dirs.path().join("project");
    let config = dirs.path().join("relay-config");
    let data = dirs.path().join("relay-data");
    for dir in [&home, &project.join(".claude"), &config] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(
        config.join("config.json"),
        json!({"server": server}).to_string(),
    )
    .unwrap();
    std::fs::write(
        config.join("credentials.json"),
        json!({"api_key": secret.expose()}).to_string(),
    )
    .unwrap();
    let relay_env = json!({"RELAY_CONFIG_DIR": config, "RELAY_DATA_DIR": data});
    std::fs::write(
        project.join(".mcp.json"),
        json!({"mcpServers": {"relay": {"type": "stdio", "command": env!("CARGO_BIN_EXE_relay-mcp"), "args": [], "env": relay_env}}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        project.join(".claude/settings.json"),
        json!({"enableAllProjectMcpServers": true, "permissions": {"allow": ["Bash(echo:*)", "Skill", "mcp__relay__search_skills", "mcp__relay__deploy_skill"]}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        home.join(".claude.json"),
        json!({"hasCompletedOnboarding": true, "projects": {project.display().to_string(): {"hasTrustDialogAccepted": true, "enableAllProjectMcpServers": true}}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let world = World {
        claude,
        home,
        project: project.clone(),
        env: vec![
            ("PATH".into(), path),
            ("RELAY_CONFIG_DIR".into(), config.display().to_string()),
            ("RELAY_DATA_DIR".into(), data.display().to_string()),
        ],
    };
    let model = Model::start();

    Fixture {
        store,
        tenant: tenant.id,
        user: user.id,
        skill,
        world,
        model,
        port,
        project,
        config,
        data,
        trackd,
        database,
        _dirs: dirs,
    }
}

#[test]
fn claude_code_deploys_a_skill_and_its_hooks_report_every_use() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let mut fixture = setup(claude);
    // 1. The model searches the catalogue and deploys the skill through relay-mcp.
    fixture.deploy();
    // 2. The model invokes the skill through the Skill tool, then runs a command.
    fixture.invoke_with_skill_tool();
    // 3. The user types the slash command, and a tool runs.
    fixture.world.run(
        &fixture.model,
        "/demo go",
        vec![
            Turn::Tool(
                "Bash",
                json!({"command": format!("echo {MARKER} again"), "description": "say it"}),
            ),
            Turn::Text("Said."),
        ],
    );

    // Hooks still running when `claude -p` exits are cancelled; what they queued is sent now.
    fixture.flush();
    let events = fixture.events();
    assert!(
        events
            .iter()
            .all(|e| e.event.skill_id == fixture.skill.id && e.user_id == fixture.user)
    );
    let invocations: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == EventKind::Invocation)
        .collect();
    assert_eq!(invocations.len(), 1, "{events:#?}");
    assert_eq!(invocations[0].event.invoked_skill.as_deref(), Some("demo"));
    let sessions: std::collections::BTreeSet<_> = events
        .iter()
        .filter_map(|e| e.event.session_id.clone())
        .collect();
    assert_eq!(
        sessions.len(),
        2,
        "the Skill-tool run and the slash-command run: {events:#?}"
    );
    let bash: Vec<_> = events
        .iter()
        .filter(|e| e.event.tool_name.as_deref() == Some("Bash"))
        .collect();
    assert_eq!(bash.len(), 2, "one command in each run: {events:#?}");
    assert!(bash.iter().all(|e| e.event.kind == EventKind::ToolUse));

    let path = fixture.database.sqlite_path().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(format!("{}-wal", path.display())).unwrap_or_default();
    let stored = [bytes, wal].concat();
    assert!(
        !stored.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "tool input reached trackd's database"
    );
    fixture.stop_trackd();
}

#[test]
fn with_trackd_down_claude_code_is_not_slowed_and_flush_delivers_each_event_once() {
    let Some(claude) = claude_bin() else {
        return;
    };
    let mut fixture = setup(claude);
    fixture.deploy();
    let started = std::time::Instant::now();
    fixture.invoke_with_skill_tool();
    let with_trackd = started.elapsed();

    fixture.stop_trackd();
    let started = std::time::Instant::now();
    fixture.invoke_with_skill_tool();
    let without_trackd = started.elapsed();
    // Tracking hooks are async with a 10 s timeout: a down server never holds Claude Code longer.
    assert!(
        without_trackd < with_trackd + std::time::Duration::from_secs(10),
        "with trackd down the run took {without_trackd:?} (up: {with_trackd:?})"
    );
    let before = fixture.events().len();

    // Back up: what waited in the outbox arrives, each event once.
    fixture.restart_trackd();
    let said = fixture.flush();
    assert!(said.contains("0 still waiting"), "{said}");
    let events = fixture.events();
    let invocations = events
        .iter()
        .filter(|e| e.event.kind == EventKind::Invocation)
        .count();
    let bash = events
        .iter()
        .filter(|e| e.event.tool_name.as_deref() == Some("Bash"))
        .count();
    assert_eq!(
        (invocations, bash),
        (2, 2),
        "each run's invocation and command, once: {events:#?}"
    );
    assert!(
        events.len() > before,
        "the outbox delivered the down run's events"
    );
    assert_eq!(fixture.flush(), "The outbox is empty.\n");
    assert_eq!(
        fixture.events().len(),
        events.len(),
        "a second flush sends nothing again"
    );
    fixture.stop_trackd();
}
