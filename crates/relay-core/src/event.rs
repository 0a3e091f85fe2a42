//! Usage events: what a skill's hooks report. Only the fields listed here exist; tool inputs,
//! tool outputs, prompts and paths have no place in these types, so they cannot be stored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{SkillId, TenantId, Timestamp, UserId, ValidationError};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The skill was invoked: the Skill tool named it, or a slash command expanded it.
    Invocation,
    /// A tool ran while the skill was registered in the session.
    ToolUse,
    /// A tool failed while the skill was registered.
    ToolFailure,
    /// A session started (settings-level heartbeat).
    SessionStart,
    /// The skill was deployed.
    Deploy,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Invocation,
        EventKind::ToolUse,
        EventKind::ToolFailure,
        EventKind::SessionStart,
        EventKind::Deploy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Invocation => "invocation",
            EventKind::ToolUse => "tool_use",
            EventKind::ToolFailure => "tool_failure",
            EventKind::SessionStart => "session_start",
            EventKind::Deploy => "deploy",
        }
    }

    /// Whether an event of this kind proves the skill was used in its session. Skill hooks only
    /// fire once the skill has been invoked, so every hook-reported use does; a heartbeat or a
    /// deploy does not.
    pub fn marks_skill_use(self) -> bool {
        matches!(
            self,
            EventKind::Invocation | EventKind::ToolUse | EventKind::ToolFailure
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = ValidationError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| {
                ValidationError::new(
                    "event kind",
                    value,
                    "expected invocation, tool_use, tool_failure, session_start or deploy",
                )
            })
    }
}

/// The client-made id that makes delivery idempotent: one id is stored once per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let ok = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !ok {
            return Err(ValidationError::new(
                "event id",
                value,
                "use 1-128 characters of letters, digits, '-', '_', '.' and ':'",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id of an event that its sender did not name: the same session, tool call, kind and
    /// skill always give the same id, so a resent event is recognised as a duplicate.
    pub fn derive(
        session_id: &str,
        tool_use_id: &str,
        kind: EventKind,
        skill_id: &SkillId,
    ) -> Self {
        let mut hasher = Sha256::new();
        for part in [session_id, tool_use_id, kind.as_str(), skill_id.as_str()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        Self(format!("ev_{}", hex::encode(&digest[..16])))
    }

    /// A fresh id for an event that carries nothing to derive one from: such an event cannot
    /// be recognised when resent, which is why hooks always send a session and tool use id.
    pub fn random() -> Self {
        Self(format!("ev_{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short identifier-like text reported by a hook (session id, tool name…): at most 256
/// characters, no control characters.
pub(crate) fn check_event_text(what: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() || value.chars().count() > 256 || value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            what,
            value,
            "use 1-256 characters without control characters",
        ));
    }
    Ok(())
}

/// An event as received, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    pub event_id: EventId,
    pub skill_id: SkillId,
    pub kind: EventKind,
    pub session_id: Option<String>,
    pub tool_name: Option<String>,
    pub tool_use_id: Option<String>,
    /// For invocations: the name of the skill the Skill tool or slash command named.
    pub invoked_skill: Option<String>,
    pub duration_ms: Option<i64>,
    pub occurred_at: Timestamp,
    /// `hook`, `hook-curl` or `mcp`.
    pub source: Option<String>,
    /// The sending program and its version, e.g. `relay-mcp/0.1.0`.
    pub client: Option<String>,
}

impl NewEvent {
    /// Checks every optional text field and the duration.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let texts = [
            ("session id", &self.session_id),
            ("tool name", &self.tool_name),
            ("tool use id", &self.tool_use_id),
            ("invoked skill", &self.invoked_skill),
            ("source", &self.source),
            ("client", &self.client),
        ];
        for (what, value) in texts {
            if let Some(value) = value {
                check_event_text(what, value)?;
            }
        }
        if let Some(ms) = self.duration_ms
            && ms < 0
        {
            return Err(ValidationError::new(
                "duration_ms",
                &ms.to_string(),
                "a duration cannot be negative",
            ));
        }
        Ok(())
    }
}

/// The events of one request: all from one authenticated user of one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub events: Vec<NewEvent>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    #[serde(flatten)]
    pub event: NewEvent,
    pub received_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinguish_every_part() {
        let skill = SkillId::parse("sk_abc").unwrap();
        let other = SkillId::parse("sk_abd").unwrap();
        let id = EventId::derive("s1", "toolu_1", EventKind::ToolUse, &skill);
        assert_eq!(
            id,
            EventId::derive("s1", "toolu_1", EventKind::ToolUse, &skill)
        );
        assert!(EventId::parse(id.as_str()).is_ok());
        for different in [
            EventId::derive("s2", "toolu_1", EventKind::ToolUse, &skill),
            EventId::derive("s1", "toolu_2", EventKind::ToolUse, &skill),
            EventId::derive("s1", "toolu_1", EventKind::ToolFailure, &skill),
            EventId::derive("s1", "toolu_1", EventKind::ToolUse, &other),
            EventId::derive("s1t", "oolu_1", EventKind::ToolUse, &skill),
        ] {
            assert_ne!(id, different);
        }
    }

    #[test]
    fn kinds_parse_from_their_wire_names() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
        }
        assert!("click".parse::<EventKind>().is_err());
    }
}
