//! The MCP server in-process, over `tokio::io::duplex`, against a real trackd: the tools list is
//! pinned in a golden file, and deploying, listing, repairing, searching work end to end.

use relay_core::{SkillFile, SkillFilePath};
use relay_mcp::Paths;
use relay_mcp::server::RelayServer;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, RoleClient, ServiceExt};

#[derive(Debug, Clone, Default)]
struct Client;

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default()
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn call(
    client: &RunningService<RoleClient, Client>,
    tool: &str,
    args: serde_json::Value,
) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Some(args) = args.as_object() {
        params = params.with_arguments(args.clone());
    }
    client.call_tool(params).await.unwrap()
}

#[test]
fn tools_list_is_pinned_and_the_tools_work_against_trackd() {
    // trackd with a tenant, a key and a skill that has a supporting file.
    let crate::support::Seeded {
        store,
        tenant,
        secret,
        user,
        skill,
        database: _database,
    } = crate::support::seed(
        "Shows how demos work",
        "",
        vec![SkillFile {
            path: SkillFilePath::parse("scripts/run.sh").unwrap(),
            content: "echo hi\n".into(),
        }],
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server_url = format!("http://acme.localhost:{port}");

    let dirs = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_dir: dirs.path().join("config"),
        data_dir: dirs.path().join("data"),
    };
    std::fs::create_dir_all(&paths.config_dir).unwrap();
    std::fs::write(
        paths.settings_file(),
        format!("{{\"server\":\"{server_url}\"}}"),
    )
    .unwrap();
    std::fs::write(
        paths.credentials_file(),
        format!("{{\"api_key\":\"{}\"}}", secret.expose()),
    )
    .unwrap();
    let project = dirs.path().join("project");
    std::fs::create_dir_all(&project).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _trackd = crate::support::Trackd::serve(
        store.clone(),
        listener,
        trackd::Config::new("localhost").unwrap(),
    );

    runtime.block_on(async {
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let server = RelayServer::new(paths.clone());
        tokio::spawn(async move {
            if let Ok(running) = server.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
        let client = Client.serve(client_io).await.unwrap();

        // The tools, as the model sees them, pinned.
        let mut tools = client.list_all_tools().await.unwrap();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        let listed: Vec<serde_json::Value> = tools
            .iter()
            .map(|tool| {
                serde_json::json!({
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": tool.input_schema,
                })
            })
            .collect();
        let listed = serde_json::to_string_pretty(&listed).unwrap() + "\n";
        let golden =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tools_list.json");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &listed).unwrap();
        }
        assert_eq!(
            listed,
            std::fs::read_to_string(&golden).unwrap(),
            "tools/list changed: UPDATE_GOLDEN=1 to accept"
        );
        let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "check_compliance",
                "deploy_skill",
                "get_skill",
                "list_deployed",
                "my_usage",
                "publish_skill",
                "rate_skill",
                "search_skills",
                "whoami"
            ]
        );
        assert!(
            !listed.contains("\"uint"),
            "unsigned formats make Claude Code warn"
        );

        let found = call(
            &client,
            "search_skills",
            serde_json::json!({"query": "demos"}),
        )
        .await;
        assert_ne!(found.is_error, Some(true), "{}", text(&found));
        assert!(
            text(&found).contains("\"slug\": \"demo\""),
            "{}",
            text(&found)
        );

        // my_usage: nothing yet, then two skill sessions of demo, which saves 1.5 hours each.
        let nothing = call(&client, "my_usage", serde_json::json!({})).await;
        assert!(
            text(&nothing).contains("No Relay skill use of yours was recorded"),
            "{}",
            text(&nothing)
        );
        let demo = store
            .skill_version(&tenant.id, &skill.id, None)
            .unwrap()
            .unwrap();
        let mut again = relay_store::NewSkillVersion {
            slug: skill.slug.clone(),
            name: skill.name.clone(),
            description: skill.description.clone(),
            category: None,
            hours_saved: Some(relay_core::HoursSaved::parse("1.5").unwrap()),
            skill_md: demo.skill_md.clone(),
            files: demo.files.clone(),
            author: None,
        };
        again
            .files
            .sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        store.publish_skill(&tenant.id, &again).unwrap();
        let uses: Vec<relay_core::NewEvent> = ["s1", "s2"]
            .iter()
            .map(|session| relay_core::NewEvent {
                event_id: relay_core::EventId::random(),
                skill_id: skill.id.clone(),
                kind: relay_core::EventKind::Invocation,
                session_id: Some((*session).to_owned()),
                tool_name: Some("Skill".into()),
                tool_use_id: None,
                invoked_skill: Some("demo".into()),
                duration_ms: None,
                occurred_at: relay_core::Timestamp::now(),
                source: Some("hook".into()),
                client: None,
            })
            .collect();
        store
            .record_events(&[relay_core::EventBatch {
                tenant_id: tenant.id.clone(),
                user_id: user.id.clone(),
                events: uses,
            }])
            .unwrap();
        let usage = call(&client, "my_usage", serde_json::json!({"days": 7})).await;
        assert!(
            text(&usage)
                .contains("Your skills saved you 3 hours (0.38 FTE days) in the last 7 days"),
            "{}",
            text(&usage)
        );
        assert!(
            text(&usage).contains("- demo (Demo): 2 sessions, 3 hours saved"),
            "{}",
            text(&usage)
        );

        let me = call(&client, "whoami", serde_json::json!({})).await;
        assert!(
            text(&me).contains("dev@acme.com (member) in Acme (acme)"),
            "{}",
            text(&me)
        );

        let deployed = call(
            &client,
            "deploy_skill",
            serde_json::json!({"slug": "demo", "project_dir": project}),
        )
        .await;
        assert_ne!(deployed.is_error, Some(true), "{}", text(&deployed));
        let skill_file = project.join(".claude/skills/demo/SKILL.md");
        assert!(
            text(&deployed).contains(&skill_file.display().to_string()),
            "{}",
            text(&deployed)
        );
        let written = std::fs::read_to_string(&skill_file).unwrap();
        let inspection = relay_skillfile::inspect(&written).unwrap().unwrap();
        assert_eq!(inspection.status, relay_skillfile::HookStatus::Ok);
        assert_eq!(inspection.server, server_url);
        assert!(
            !written.contains(secret.expose()),
            "the API key never goes into a skill file"
        );
        assert_eq!(
            std::fs::read_to_string(project.join(".claude/skills/demo/scripts/run.sh")).unwrap(),
            "echo hi\n"
        );

        let listed = call(
            &client,
            "list_deployed",
            serde_json::json!({"project_dir": project}),
        )
        .await;
        assert!(
            text(&listed).contains("demo (project): ok"),
            "{}",
            text(&listed)
        );

        // Hooks removed by hand are found, and repaired on request.
        let stripped = written.replace("relay-mcp hook --skill", "echo removed");
        std::fs::write(&skill_file, stripped).unwrap();
        let checked = call(
            &client,
            "check_compliance",
            serde_json::json!({"project_dir": project}),
        )
        .await;
        assert!(
            text(&checked).contains("demo (project): hooks_missing"),
            "{}",
            text(&checked)
        );
        let fixed = call(
            &client,
            "check_compliance",
            serde_json::json!({"project_dir": project, "fix": true}),
        )
        .await;
        assert!(text(&fixed).contains("repaired"), "{}", text(&fixed));
        let repaired = std::fs::read_to_string(&skill_file).unwrap();
        assert_eq!(
            relay_skillfile::inspect(&repaired).unwrap().unwrap().status,
            relay_skillfile::HookStatus::Ok
        );

        // Mistakes come back as tool errors that say what to do.
        let missing = call(
            &client,
            "deploy_skill",
            serde_json::json!({"slug": "nope", "project_dir": project}),
        )
        .await;
        assert_eq!(missing.is_error, Some(true));
        assert!(
            text(&missing).contains("search_skills"),
            "{}",
            text(&missing)
        );
        let escape = call(
            &client,
            "deploy_skill",
            serde_json::json!({"slug": "../../etc", "project_dir": project}),
        )
        .await;
        assert_eq!(escape.is_error, Some(true));

        client.cancel().await.unwrap();
    });
    assert_eq!(
        store.list_deployments(&tenant.id).unwrap().len(),
        1,
        "the deployment was recorded"
    );
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
}
