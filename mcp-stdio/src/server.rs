//! The MCP server Claude Code launches (`relay-mcp`, or `relay-mcp serve`), on stdio. Its tools
//! search the company's catalogue, deploy skills with tracking hooks, check and repair those
//! hooks, publish and rate skills. Every tool's description is written for the model; every
//! error says what to do next. Logs go to stderr; stdout is the protocol.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use relay_core::{SkillFilePath, SkillId, SkillSlug};
use relay_skillfile::{Deploy, HOOKS_VERSION, SkillBundle, inject};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::cmd::status::{scan, user_skills};
use crate::outbox::Outbox;
use crate::{Credentials, Paths, Settings, flush};

/// How often the running server sends what waits in the outbox.
const FLUSH_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchParams {
    /// Words to look for in skill names and descriptions. Leave out to list the catalogue.
    pub query: Option<String>,
    /// Only skills of this category, e.g. "review".
    pub category: Option<String>,
    /// How many skills to return, 1 to 200 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetSkillParams {
    /// The skill's slug, as search_skills lists it (e.g. "code-review").
    pub slug: String,
    /// A version number; leave out for the latest.
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeployParams {
    /// The skill's slug, as search_skills lists it.
    pub slug: String,
    /// A version number; leave out for the latest.
    pub version: Option<i64>,
    /// "project" (default): into this project's .claude/skills, shared with the team through the
    /// repository. "user": into ~/.claude/skills, for every project of this user.
    pub scope: Option<String>,
    /// The project folder; leave out to use the current project.
    pub project_dir: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProjectParams {
    /// The project folder; leave out to use the current project.
    pub project_dir: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ComplianceParams {
    /// The project folder; leave out to use the current project.
    pub project_dir: Option<String>,
    /// true to re-install current tracking hooks into skills whose hooks are missing or stale.
    pub fix: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PublishParams {
    /// A skill folder (SKILL.md and its files) or a single SKILL.md.
    pub path: String,
    /// A category for the catalogue, e.g. "review".
    pub category: Option<String>,
    /// Hours one use of the skill saves a person, e.g. 0.5.
    pub hours_saved: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RateParams {
    /// The skill's slug.
    pub slug: String,
    /// 1 (poor) to 5 (excellent).
    pub stars: i64,
    /// What was good or missing, in a sentence.
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UsageParams {
    /// How many days to look back, today included: 1 to 366 (default 30).
    pub days: Option<i64>,
}

#[derive(Clone)]
pub struct RelayServer {
    paths: Arc<Paths>,
    tool_router: ToolRouter<Self>,
}

/// "Your skills saved you 14 hours in the last 30 days", and by skill.
fn usage_text(
    days: i64,
    summary: &relay_api::analytics::SummaryJson,
    skills: &relay_api::analytics::SkillsJson,
) -> String {
    let period = if days == 1 {
        "today".to_owned()
    } else {
        format!(
            "in the last {days} days ({} to {})",
            summary.from, summary.to
        )
    };
    if summary.skill_sessions == 0 && summary.tool_uses == 0 {
        return format!(
            "No Relay skill use of yours was recorded {period}. Find a skill with search_skills and deploy it with deploy_skill."
        );
    }
    let mut lines = vec![format!(
        "Your skills saved you {} hours ({} FTE days) {period}: {} skill sessions, {} invocations, {} tool uses.",
        summary.hours_saved,
        summary.fte_days_saved,
        summary.skill_sessions,
        summary.invocations,
        summary.tool_uses
    )];
    for skill in skills
        .skills
        .iter()
        .filter(|skill| skill.skill_sessions + skill.tool_uses > 0)
    {
        lines.push(format!(
            "- {} ({}): {} sessions, {} hours saved",
            skill.slug, skill.name, skill.skill_sessions, skill.hours_saved
        ));
    }
    lines.join("\n")
}

fn ok(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

fn fail(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

const UNREACHABLE: &str = "Relay cannot be reached right now; try again in a moment.";

/// A 2xx answer's body, or the tool error that says what went wrong and what to do.
fn answered(reply: Option<(u16, serde_json::Value)>) -> Result<serde_json::Value, CallToolResult> {
    match reply {
        Some((200..=299, body)) => Ok(body),
        Some((status, answer)) => Err(fail(refused(status, &answer))),
        None => Err(fail(UNREACHABLE)),
    }
}

/// The message for an error answer from trackd.
fn refused(status: u16, answer: &serde_json::Value) -> String {
    let message = answer["error"]["message"].as_str().unwrap_or("no details");
    match status {
        401 => {
            format!("Relay refused the API key ({message}). Ask the user to run `relay-mcp login`.")
        }
        403 => format!("Relay refused this ({message})."),
        404 => format!("Not found: {message}. Use search_skills to find the right slug."),
        _ => format!("Relay answered {status}: {message}"),
    }
}

impl RelayServer {
    pub fn new(paths: Paths) -> Self {
        Self {
            paths: Arc::new(paths),
            tool_router: Self::tool_router(),
        }
    }

    /// The configured server and a client for it, or the message to show the model.
    fn client(&self) -> Result<(String, Client), String> {
        let server = Settings::server(&self.paths)
            .ok()
            .flatten()
            .ok_or("Relay is not set up on this machine. Ask the user to run `relay-mcp login --server <their Relay URL>`.")?;
        let key = Credentials::api_key(&self.paths)
            .ok()
            .flatten()
            .ok_or("No Relay API key on this machine. Ask the user to run `relay-mcp login`.")?;
        let client = Client::new(&server, Some(key), Duration::from_secs(15))
            .map_err(|err| err.to_string())?;
        Ok((server, client))
    }

    fn project_dir(given: Option<&str>) -> PathBuf {
        given
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("CLAUDE_PROJECT_DIR")
                    .filter(|dir| !dir.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default()
    }

    /// Runs `work` with the configured server and a client for it, off the async runtime; a
    /// machine without Relay set up gets a tool error saying how to set it up.
    async fn connected(
        &self,
        work: impl FnOnce(&str, &Client) -> Result<CallToolResult, CallToolResult> + Send + 'static,
    ) -> CallToolResult {
        let this = self.clone();
        Self::blocking(move || match this.client() {
            Ok((server, client)) => work(&server, &client).unwrap_or_else(|failed| failed),
            Err(message) => fail(message),
        })
        .await
    }

    /// Runs blocking work (HTTP, files) off the async runtime.
    async fn blocking(work: impl FnOnce() -> CallToolResult + Send + 'static) -> CallToolResult {
        tokio::task::spawn_blocking(work)
            .await
            .unwrap_or_else(|_| fail("relay-mcp failed while doing this; try again"))
    }

    /// Sends what waits in the outbox, every 30 seconds, while the server runs.
    pub fn spawn_flusher(&self) {
        let paths = self.paths.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            loop {
                tick.tick().await;
                let paths = paths.clone();
                let _ = tokio::task::spawn_blocking(move || flush_all(&paths)).await;
            }
        });
    }
}

/// One round of sending for every server with waiting events.
fn flush_all(paths: &Paths) -> anyhow::Result<()> {
    let mut outbox = Outbox::open(&paths.outbox_file(), Duration::from_secs(2))?;
    let Some(key) = Credentials::api_key(paths)? else {
        return Ok(());
    };
    for server in outbox.servers()? {
        let client = Client::new(&server, Some(key.clone()), Duration::from_secs(10))?;
        flush::send_due(&mut outbox, &client, &server, 20, false)?;
    }
    Ok(())
}

/// Writes `content` to `path` through a temp file and a rename, so Claude Code never reads half
/// a file.
fn write_atomic(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension(format!("relay-tmp-{}", std::process::id()));
    std::fs::write(&temp, content)?;
    std::fs::rename(&temp, path)
}

/// Identifies one install (this user, this folder, this scope), stable across redeploys.
fn install_id(dir: &Path, scope: &str) -> String {
    let home = directories::BaseDirs::new()
        .map(|dirs| dirs.home_dir().display().to_string())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{home}\0{}\0{scope}", dir.display()).as_bytes());
    format!("inst_{}", hex::encode(&digest[..12]))
}

fn deploy(client: &Client, server: &str, params: DeployParams) -> CallToolResult {
    let Ok(slug) = SkillSlug::parse(params.slug.trim()) else {
        return fail(format!(
            "{:?} is not a skill slug; use search_skills to find the right one.",
            params.slug
        ));
    };
    let scope = params.scope.as_deref().unwrap_or("project");
    let skills_dir = match scope {
        "project" => RelayServer::project_dir(params.project_dir.as_deref())
            .join(".claude")
            .join("skills"),
        "user" => match user_skills() {
            Some(dir) => dir,
            None => {
                return fail("No home folder to install a user skill into; use scope \"project\".");
            }
        },
        other => {
            return fail(format!(
                "scope {other:?} is not one of \"project\" or \"user\"."
            ));
        }
    };
    let version = params
        .version
        .map_or("latest".to_owned(), |v| v.to_string());
    let content = match answered(client.get_json(&format!("/api/skills/{slug}/versions/{version}")))
    {
        Ok(content) => content,
        Err(failed) => return failed,
    };
    let (Some(skill_id), Some(number), Some(skill_md)) = (
        content["skill"]["id"]
            .as_str()
            .and_then(|id| SkillId::parse(id).ok()),
        content["version"].as_i64(),
        content["skill_md"].as_str(),
    ) else {
        return fail(
            "Relay answered with something relay-mcp does not understand; update relay-mcp.",
        );
    };
    let deploy = Deploy {
        skill_id: &skill_id,
        version: number,
        server,
    };
    let with_hooks = match inject(skill_md, &deploy) {
        Ok(text) => text,
        Err(err) => return fail(format!("This skill's SKILL.md cannot be deployed: {err}")),
    };
    let target = skills_dir.join(slug.as_str());
    let mut written = 1;
    for file in content["files"].as_array().into_iter().flatten() {
        let (Some(path), Some(text)) = (file["path"].as_str(), file["content"].as_str()) else {
            continue;
        };
        // A path that could leave the skill folder is refused, whatever the server says.
        let Ok(path) = SkillFilePath::parse(path) else {
            return fail(format!(
                "The skill has a file at {path:?}, outside its folder: not deployed."
            ));
        };
        if let Err(err) = write_atomic(&target.join(path.as_str()), text) {
            return fail(format!(
                "Could not write {}: {err}",
                target.join(path.as_str()).display()
            ));
        }
        written += 1;
    }
    let skill_file = target.join("SKILL.md");
    if let Err(err) = write_atomic(&skill_file, &with_hooks) {
        return fail(format!("Could not write {}: {err}", skill_file.display()));
    }
    let recorded = client.send_json(
        "POST",
        "/api/deployments",
        &serde_json::json!({
            "skill_id": skill_id,
            "version": number,
            "scope": scope,
            "install_id": install_id(&skills_dir, scope),
            "hooks_version": HOOKS_VERSION,
        }),
    );
    let note = match recorded {
        Some((201, _)) => "",
        _ => " (Relay could not record the deployment; usage will still be tracked.)",
    };
    ok(format!(
        "Deployed {slug} version {number} to {} ({written} file{}), with tracking hooks. Claude Code \
         picks it up without a restart: invoke it with the Skill tool or /{slug}.{note}",
        skill_file.display(),
        if written == 1 { "" } else { "s" }
    ))
}

fn list(project_dir: Option<&str>, fix: bool) -> CallToolResult {
    let project = RelayServer::project_dir(project_dir)
        .join(".claude")
        .join("skills");
    let mut lines = Vec::new();
    let mut places = vec![("project", project)];
    places.extend(user_skills().map(|dir| ("user", dir)));
    for (scope, dir) in places {
        for (slug, status) in scan(&dir) {
            let mut status = status.to_owned();
            if fix && (status == "hooks_missing" || status == "hooks_stale") {
                let file = dir.join(&slug).join("SKILL.md");
                let repaired = std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|text| relay_skillfile::repair(&text).ok().flatten())
                    .map(|text| write_atomic(&file, &text));
                status = match repaired {
                    Some(Ok(())) => format!("{status}, repaired"),
                    _ => format!("{status}, could not be repaired"),
                };
            }
            lines.push(format!("{slug} ({scope}): {status}"));
        }
    }
    if lines.is_empty() {
        return ok(
            "No Relay skills are deployed here. Use search_skills and deploy_skill to add one.",
        );
    }
    ok(lines.join("\n"))
}

#[tool_router]
impl RelayServer {
    /// Search the company's skill catalogue.
    #[tool(
        description = "Search your company's Claude Code skill catalogue. Returns matching skills with their slug, description, category, rating and the hours each use saves. Deploy one with deploy_skill."
    )]
    async fn search_skills(&self, Parameters(params): Parameters<SearchParams>) -> CallToolResult {
        self.connected(move |_, client| {
            let mut query = vec![format!("limit={}", params.limit.unwrap_or(20).clamp(1, 200))];
            if let Some(text) = params.query.filter(|q| !q.trim().is_empty()) {
                query.push(format!("q={}", encode(&text)));
            }
            if let Some(category) = params.category.filter(|c| !c.trim().is_empty()) {
                query.push(format!("category={}", encode(&category)));
            }
            let list = answered(client.get_json(&format!("/api/skills?{}", query.join("&"))))?;
            if list["skills"].as_array().is_some_and(Vec::is_empty) {
                return Ok(ok("No skill matches. Try other words, or leave the query out to list the catalogue."));
            }
            Ok(ok(serde_json::to_string_pretty(&list["skills"]).unwrap_or_default()))
        })
        .await
    }

    /// One skill's metadata and SKILL.md.
    #[tool(
        description = "Read one skill of the catalogue: its metadata and the full text of its SKILL.md (latest version unless you give one)."
    )]
    async fn get_skill(&self, Parameters(params): Parameters<GetSkillParams>) -> CallToolResult {
        self.connected(move |_, client| {
            let slug = SkillSlug::parse(params.slug.trim()).map_err(|_| {
                fail("That is not a skill slug; use search_skills to find the right one.")
            })?;
            let version = params
                .version
                .map_or("latest".to_owned(), |v| v.to_string());
            let content =
                answered(client.get_json(&format!("/api/skills/{slug}/versions/{version}")))?;
            Ok(ok(format!(
                "{} (version {}, {} hours saved per use)\n\n{}",
                content["skill"]["name"].as_str().unwrap_or(slug.as_str()),
                content["version"],
                content["skill"]["hours_saved"],
                content["skill_md"].as_str().unwrap_or("")
            )))
        })
        .await
    }

    /// Installs a skill with tracking hooks.
    #[tool(
        description = "Install a skill from the catalogue into this project's .claude/skills/<slug>/ (or the user's ~/.claude/skills with scope \"user\"), with Relay's tracking hooks, and record the install. Answers with the path written."
    )]
    async fn deploy_skill(&self, Parameters(params): Parameters<DeployParams>) -> CallToolResult {
        self.connected(move |server, client| Ok(deploy(client, server, params)))
            .await
    }

    /// Lists Relay skills here with their status.
    #[tool(
        description = "List the Relay skills deployed in this project and for this user, each with its status: ok, hooks_missing, hooks_stale or modified."
    )]
    async fn list_deployed(&self, Parameters(params): Parameters<ProjectParams>) -> CallToolResult {
        Self::blocking(move || list(params.project_dir.as_deref(), false)).await
    }

    /// Checks, and with fix repairs, tracking hooks.
    #[tool(
        description = "Check that every deployed Relay skill still has its tracking hooks. With fix: true, re-install current hooks where they are missing or stale (the skill's own text is kept)."
    )]
    async fn check_compliance(
        &self,
        Parameters(params): Parameters<ComplianceParams>,
    ) -> CallToolResult {
        Self::blocking(move || list(params.project_dir.as_deref(), params.fix.unwrap_or(false)))
            .await
    }

    /// Uploads a local skill folder to the catalogue.
    #[tool(
        description = "Publish a local skill (a folder with SKILL.md and its files, or one SKILL.md) to the company catalogue. The slug is the frontmatter name; publishing new content makes a new version."
    )]
    async fn publish_skill(&self, Parameters(params): Parameters<PublishParams>) -> CallToolResult {
        self.connected(move |_, client| {
            let bundle = SkillBundle::load(Path::new(&params.path))
                .map_err(|err| fail(format!("Cannot read the skill: {err}")))?;
            let files: Vec<serde_json::Value> = bundle
                .files
                .iter()
                .map(|file| serde_json::json!({ "path": file.path.as_str(), "content": file.content }))
                .collect();
            let body = serde_json::json!({
                "skill_md": bundle.skill_md,
                "files": files,
                "category": params.category,
                "hours_saved": params.hours_saved,
            });
            let answer = answered(client.send_json("POST", "/api/skills", &body))?;
            Ok(ok(format!(
                "Published {} version {} ({}).",
                answer["skill"]["slug"].as_str().unwrap_or("?"),
                answer["version"],
                answer["outcome"].as_str().unwrap_or("?").replace('_', " ")
            )))
        })
        .await
    }

    /// Rates a skill.
    #[tool(
        description = "Rate a skill of the catalogue from 1 to 5 stars, with an optional comment. A new rating replaces your earlier one."
    )]
    async fn rate_skill(&self, Parameters(params): Parameters<RateParams>) -> CallToolResult {
        self.connected(move |_, client| {
            let slug = SkillSlug::parse(params.slug.trim()).map_err(|_| {
                fail("That is not a skill slug; use search_skills to find the right one.")
            })?;
            let body = serde_json::json!({ "stars": params.stars, "comment": params.comment });
            let answer =
                answered(client.send_json("PUT", &format!("/api/skills/{slug}/rating"), &body))?;
            Ok(ok(format!(
                "Rated {slug} {} stars; it now averages {} from {} ratings.",
                params.stars,
                answer["skill"]["rating"]["average"],
                answer["skill"]["rating"]["count"]
            )))
        })
        .await
    }

    /// The caller's own use of the company's skills, and what it saved them.
    #[tool(
        description = "Show how much Relay skills saved you: your skill sessions, invocations and the hours they saved over the last days (30 unless you say), skill by skill."
    )]
    async fn my_usage(&self, Parameters(params): Parameters<UsageParams>) -> CallToolResult {
        self.connected(move |_, client| {
            let days = params.days.unwrap_or(30).clamp(1, 366);
            let to = relay_core::Timestamp::now().day();
            let from = to.plus_days(1 - days);
            let query = format!("from={from}&to={to}&scope=me");
            let summary: relay_api::analytics::SummaryJson = serde_json::from_value(answered(
                client.get_json(&format!("/api/analytics/summary?{query}")),
            )?)
            .map_err(|_| fail("trackd answered something that is not a usage summary"))?;
            let skills: relay_api::analytics::SkillsJson = serde_json::from_value(answered(
                client.get_json(&format!("/api/analytics/skills?{query}")),
            )?)
            .map_err(|_| fail("trackd answered something that is not a skill list"))?;
            Ok(ok(usage_text(days, &summary, &skills)))
        })
        .await
    }

    /// Who is signed in.
    #[tool(
        description = "Show who is signed in to Relay on this machine: the user, their organization and the server."
    )]
    async fn whoami(&self) -> CallToolResult {
        self.connected(move |server, client| {
            let me = answered(client.get_json("/api/me"))?;
            Ok(ok(format!(
                "{} ({}) in {} ({}), on {server}",
                me["user"]["email"].as_str().unwrap_or("?"),
                me["user"]["role"].as_str().unwrap_or("?"),
                me["tenant"]["name"].as_str().unwrap_or("?"),
                me["tenant"]["slug"].as_str().unwrap_or("?")
            )))
        })
        .await
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "relay",
    instructions = "Relay is your company's catalogue of Claude Code skills. Use search_skills to find a skill for the task, deploy_skill to install it into this project (with usage tracking), list_deployed and check_compliance to see installed skills, publish_skill and rate_skill to contribute, my_usage to show the user what skills saved them."
)]
impl ServerHandler for RelayServer {}

use relay_api::query::encode;

/// Serves MCP on stdin/stdout until the client closes it.
pub fn serve(paths: Paths) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        use rmcp::ServiceExt;
        let server = RelayServer::new(paths);
        server.spawn_flusher();
        let running = server.serve(rmcp::transport::stdio()).await?;
        running.waiting().await?;
        anyhow::Ok(())
    })
}
