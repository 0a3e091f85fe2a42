//! What Relay adds to a deployed SKILL.md, and how a deployed file is checked.
//!
//! Relay's fields live under `metadata` (`relay-skill-id`, `relay-version`, `relay-server`,
//! `relay-hooks`, `relay-body-sha256`), because claude.ai refuses unknown top-level keys. Its
//! hooks join whatever hooks the uploader wrote: a PostToolUse and a PostToolUseFailure group,
//! matcher `*`, async, with a short timeout, running `relay-mcp hook` and, where relay-mcp is not
//! installed, a fail-silent curl. An older Relay hook is replaced, never duplicated. No API key is
//! ever written into the file: skill files get committed.

use relay_core::{EventKind, SkillId};
use sha2::{Digest, Sha256};
use yaml_serde::{Mapping, Value};

use crate::{Frontmatter, SkillFileError, split};

/// The format of the hooks Relay writes. A file whose `relay-hooks` is lower has stale hooks.
pub const HOOKS_VERSION: i64 = 1;

/// Seconds Claude Code gives a tracking hook before cancelling it.
const HOOK_TIMEOUT_SECONDS: i64 = 10;

/// Every Relay hook command contains this; it is how Relay finds its own hooks again.
const RELAY_MARK: &str = "relay-mcp hook --skill ";

/// The hook events Relay tracks, with the kind the curl fallback reports for each.
const TRACKED: [(&str, EventKind); 2] = [
    ("PostToolUse", EventKind::ToolUse),
    ("PostToolUseFailure", EventKind::ToolFailure),
];

/// What a deployment writes into the file.
#[derive(Debug, Clone, Copy)]
pub struct Deploy<'a> {
    pub skill_id: &'a SkillId,
    pub version: i64,
    /// The tenant's Relay URL, e.g. `https://acme.relay.example.com`.
    pub server: &'a str,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SkillFileError {
    SkillFileError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A server URL safe to put in a shell command: `http(s)://host[:port]`, nothing else.
fn check_server(server: &str) -> Result<&str, SkillFileError> {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(
                "relay-server",
                "the server must start with https:// or http://",
            )
        })?;
    let safe = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if !safe {
        return Err(invalid(
            "relay-server",
            "the server must be a bare URL like https://acme.relay.example.com",
        ));
    }
    Ok(server)
}

/// The command a tracking hook runs for `skill`. relay-mcp reads the hook input on stdin, keeps
/// only what may leave the machine, and queues it in its outbox. Without relay-mcp, curl posts
/// the skill, the kind and the session (from Claude Code's environment), nothing else, and never
/// fails the hook.
pub fn hook_command(skill: &SkillId, server: &str, kind: EventKind) -> String {
    format!(
        "command -v relay-mcp >/dev/null 2>&1 && exec {RELAY_MARK}{skill} --server {server}; \
         curl -fsS -m 3 -o /dev/null -H \"Authorization: Bearer $RELAY_API_KEY\" \
         -H 'Content-Type: application/json' \
         --data \"{{\\\"skill_id\\\":\\\"{skill}\\\",\\\"kind\\\":\\\"{kind}\\\",\\\"session_id\\\":\\\"$CLAUDE_CODE_SESSION_ID\\\",\\\"source\\\":\\\"hook-curl\\\"}}\" \
         {server}/api/track >/dev/null 2>&1; exit 0"
    )
}

fn relay_group(skill: &SkillId, server: &str, kind: EventKind) -> Value {
    let mut hook = Mapping::new();
    hook.insert("type".into(), "command".into());
    hook.insert("command".into(), hook_command(skill, server, kind).into());
    hook.insert("async".into(), true.into());
    hook.insert("timeout".into(), HOOK_TIMEOUT_SECONDS.into());
    let mut group = Mapping::new();
    group.insert("matcher".into(), "*".into());
    group.insert("hooks".into(), Value::Sequence(vec![Value::Mapping(hook)]));
    Value::Mapping(group)
}

fn is_relay_hook(hook: &Value) -> bool {
    hook.get("command")
        .and_then(Value::as_str)
        .is_some_and(|command| command.contains(RELAY_MARK))
}

/// The uploader's groups for one hook event, with every Relay hook taken out (and groups left
/// empty by that dropped).
fn without_relay(groups: &[Value]) -> Vec<Value> {
    let mut kept = Vec::new();
    for group in groups {
        let Some(hooks) = group.get("hooks").and_then(Value::as_sequence) else {
            kept.push(group.clone());
            continue;
        };
        let theirs: Vec<Value> = hooks
            .iter()
            .filter(|hook| !is_relay_hook(hook))
            .cloned()
            .collect();
        if theirs.len() == hooks.len() {
            kept.push(group.clone());
        } else if !theirs.is_empty() {
            let mut group = group.clone();
            if let Value::Mapping(map) = &mut group {
                map.insert("hooks".into(), Value::Sequence(theirs));
            }
            kept.push(group);
        }
    }
    kept
}

fn body_sha256(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// A frontmatter mapping and a body, as SKILL.md text. The body is kept byte for byte.
pub fn render(frontmatter: &Mapping, body: &str) -> Result<String, SkillFileError> {
    let yaml = if frontmatter.is_empty() {
        String::new()
    } else {
        yaml_serde::to_string(frontmatter).map_err(|err| SkillFileError::Yaml(err.to_string()))?
    };
    Ok(format!("---\n{yaml}---\n{body}"))
}

/// The child mapping at `key`, created if absent; an error if the uploader put something else
/// there.
fn child_mapping<'m>(
    map: &'m mut Mapping,
    key: &'static str,
) -> Result<&'m mut Mapping, SkillFileError> {
    let entry = map
        .entry(key.into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if entry.is_null() {
        *entry = Value::Mapping(Mapping::new());
    }
    entry
        .as_mapping_mut()
        .ok_or_else(|| invalid(key, "it must be a mapping of keys to values"))
}

fn merge(
    text: &str,
    deploy: &Deploy<'_>,
    recorded_body: Option<String>,
) -> Result<String, SkillFileError> {
    let server = check_server(deploy.server.trim_end_matches('/'))?;
    let parts = split(text)?;
    let mut fields = Frontmatter::parse(parts.frontmatter)?.fields;

    let metadata = child_mapping(&mut fields, "metadata")?;
    metadata.insert("relay-skill-id".into(), deploy.skill_id.as_str().into());
    metadata.insert("relay-version".into(), deploy.version.into());
    metadata.insert("relay-server".into(), server.into());
    metadata.insert("relay-hooks".into(), HOOKS_VERSION.into());
    let body_hash = recorded_body.unwrap_or_else(|| body_sha256(parts.body));
    metadata.insert("relay-body-sha256".into(), body_hash.into());

    let hooks = child_mapping(&mut fields, "hooks")?;
    for (event, kind) in TRACKED {
        let existing = match hooks.get(event) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(groups)) => groups.clone(),
            Some(_) => {
                return Err(invalid(
                    "hooks",
                    format!("`{event}` must be a list of matcher groups"),
                ));
            }
        };
        let mut groups = without_relay(&existing);
        groups.push(relay_group(deploy.skill_id, server, kind));
        hooks.insert(event.into(), Value::Sequence(groups));
    }
    render(&fields, parts.body)
}

/// The SKILL.md with Relay's metadata and current hooks merged into the uploader's frontmatter.
/// The uploader's keys, own hooks and body are kept; Relay's older hooks are replaced.
pub fn inject(text: &str, deploy: &Deploy<'_>) -> Result<String, SkillFileError> {
    merge(text, deploy, None)
}

/// How a deployed file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    /// Current hooks, body as deployed.
    Ok,
    /// Relay's hooks are gone (someone deleted them).
    HooksMissing,
    /// Relay's hooks are there but older, or for another skill or server.
    HooksStale,
    /// Hooks are current, but the body was edited since deploy.
    Modified,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Ok => "ok",
            HookStatus::HooksMissing => "hooks_missing",
            HookStatus::HooksStale => "hooks_stale",
            HookStatus::Modified => "modified",
        }
    }
}

/// What a Relay-managed file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub skill_id: SkillId,
    pub version: i64,
    pub server: String,
    pub status: HookStatus,
}

/// Inspects a SKILL.md: `None` when Relay does not manage it (no `metadata.relay-skill-id`).
pub fn inspect(text: &str) -> Result<Option<Inspection>, SkillFileError> {
    let parts = split(text)?;
    let fields = Frontmatter::parse(parts.frontmatter)?.fields;
    let Some(metadata) = fields.get("metadata").and_then(Value::as_mapping) else {
        return Ok(None);
    };
    let Some(skill_id) = metadata.get("relay-skill-id").and_then(Value::as_str) else {
        return Ok(None);
    };
    let skill_id = SkillId::parse(skill_id).map_err(|err| invalid("relay-skill-id", err.rule))?;
    let version = metadata
        .get("relay-version")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let server = metadata
        .get("relay-server")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let hooks_version = metadata
        .get("relay-hooks")
        .and_then(Value::as_i64)
        .unwrap_or(0);

    let mut found = 0;
    let mut current = 0;
    for (event, kind) in TRACKED {
        let groups = fields
            .get("hooks")
            .and_then(|hooks| hooks.get(event))
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        let relay: Vec<&Value> = groups
            .iter()
            .filter_map(|group| group.get("hooks").and_then(Value::as_sequence))
            .flatten()
            .filter(|hook| is_relay_hook(hook))
            .collect();
        if !relay.is_empty() {
            found += 1;
        }
        let expected = hook_command(&skill_id, &server, kind);
        if relay.len() == 1
            && relay[0].get("command").and_then(Value::as_str) == Some(expected.as_str())
            && relay[0].get("async").and_then(Value::as_bool) == Some(true)
        {
            current += 1;
        }
    }
    let status = if found == 0 {
        HookStatus::HooksMissing
    } else if current < TRACKED.len() || hooks_version < HOOKS_VERSION {
        HookStatus::HooksStale
    } else if metadata.get("relay-body-sha256").and_then(Value::as_str)
        != Some(body_sha256(parts.body).as_str())
    {
        HookStatus::Modified
    } else {
        HookStatus::Ok
    };
    Ok(Some(Inspection {
        skill_id,
        version,
        server,
        status,
    }))
}

/// Re-injects current hooks into a Relay-managed file whose hooks are missing or stale, from the
/// file's own metadata. The recorded body hash is kept, so an edited body still shows as
/// modified. `None` when the file is not Relay's or needs nothing.
pub fn repair(text: &str) -> Result<Option<String>, SkillFileError> {
    let Some(inspection) = inspect(text)? else {
        return Ok(None);
    };
    if !matches!(
        inspection.status,
        HookStatus::HooksMissing | HookStatus::HooksStale
    ) {
        return Ok(None);
    }
    let parts = split(text)?;
    let fields = Frontmatter::parse(parts.frontmatter)?.fields;
    let recorded = fields
        .get("metadata")
        .and_then(|metadata| metadata.get("relay-body-sha256"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let deploy = Deploy {
        skill_id: &inspection.skill_id,
        version: inspection.version,
        server: &inspection.server,
    };
    merge(text, &deploy, recorded).map(Some)
}

#[cfg(test)]
mod tests;
