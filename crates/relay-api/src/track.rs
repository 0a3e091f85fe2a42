//! `POST /api/track`: the body forms it takes, and how each becomes a [`NewEvent`].
//!
//! Privacy is decided here, in the parser. [`WireEvent`] names only the fields Relay may keep;
//! serde skips every other field (`tool_input`, `tool_response`, `prompt`, `cwd`,
//! `transcript_path`, …) while parsing, without building a value for it. Of a Skill call's
//! `tool_input`, only the `skill` name is read, by a visitor that skips the rest.

use std::fmt;

use relay_core::{EventId, EventKind, NewEvent, SkillId, Timestamp};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// At most this many events in one body.
pub const MAX_BATCH: usize = 500;

/// One event as received: a Relay event, or a raw Claude Code hook input (it has
/// `hook_event_name`). A body is one of these, or `{"events":[…]}` of them.
#[derive(Debug, Default, Deserialize)]
pub struct WireEvent {
    event_id: Option<Value>,
    skill_id: Option<Value>,
    kind: Option<Value>,
    session_id: Option<Value>,
    tool_name: Option<Value>,
    tool_use_id: Option<Value>,
    invoked_skill: Option<Value>,
    duration_ms: Option<Value>,
    occurred_at: Option<Value>,
    /// `hook|hook-curl|mcp`; in a SessionStart hook input, `startup|resume|clear|compact`.
    source: Option<Value>,
    client: Option<Value>,
    // Read from raw hook inputs only.
    hook_event_name: Option<Value>,
    tool_input: Option<InvokedSkillName>,
    command_name: Option<Value>,
    prompt_id: Option<Value>,
    // The batch form.
    events: Option<Vec<WireEvent>>,
}

/// The body of a track request, by form.
#[derive(Debug)]
pub enum TrackBody {
    Single(WireEvent),
    Batch(Vec<WireEvent>),
    /// A raw Claude Code hook input; the skill comes from `?skill=`.
    Hook(WireEvent),
}

/// Why a whole body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    Malformed(String),
    TooManyEvents(usize),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Malformed(err) => write!(f, "the body is not a JSON event: {err}"),
            BodyError::TooManyEvents(n) => {
                write!(
                    f,
                    "{n} events in one body; send at most {MAX_BATCH} per request"
                )
            }
        }
    }
}

impl TrackBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, BodyError> {
        let mut event: WireEvent = serde_json::from_slice(bytes)
            .map_err(|err| BodyError::Malformed(crate::describe_json_error(&err)))?;
        if let Some(events) = event.events.take() {
            if events.len() > MAX_BATCH {
                return Err(BodyError::TooManyEvents(events.len()));
            }
            return Ok(TrackBody::Batch(events));
        }
        if event.hook_event_name.is_some() {
            return Ok(TrackBody::Hook(event));
        }
        Ok(TrackBody::Single(event))
    }
}

/// Why one event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub code: &'static str,
    pub message: String,
}

impl EventError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: "invalid_event",
            message: message.into(),
        }
    }
}

impl std::error::Error for EventError {}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn text(field: &'static str, value: Option<Value>) -> Result<Option<String>, EventError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(EventError::invalid(format!("{field} must be a string"))),
    }
}

/// Events from more than this far in the future are refused: a clock that wrong would put
/// usage on days that have not happened.
const MAX_CLOCK_SKEW_MILLIS: i64 = 24 * 60 * 60 * 1000;
/// Events older than this are refused: an outbox waits out long absences, but a year-old
/// time is a machine's broken clock, and would date a skill session (and its hours) wrongly.
const MAX_AGE_MILLIS: i64 = 366 * 24 * 60 * 60 * 1000;

impl WireEvent {
    /// A Relay event (`skill_id` and `kind` required) → [`NewEvent`].
    pub fn into_event(self, now: Timestamp) -> Result<NewEvent, EventError> {
        if self.hook_event_name.is_some() || self.events.is_some() {
            return Err(EventError::invalid(
                "a batch holds Relay events, not hook inputs or nested batches",
            ));
        }
        let skill_id = text("skill_id", self.skill_id)?.ok_or_else(|| {
            EventError::invalid("skill_id is required (the sk_… id of the skill)")
        })?;
        let skill_id =
            SkillId::parse(&skill_id).map_err(|err| EventError::invalid(err.to_string()))?;
        let kind = text("kind", self.kind)?
            .ok_or_else(|| EventError::invalid("kind is required"))?
            .parse::<EventKind>()
            .map_err(|err| EventError::invalid(err.to_string()))?;
        let occurred_at = match text("occurred_at", self.occurred_at)? {
            Some(at) => {
                let at = Timestamp::parse_rfc3339(&at)
                    .map_err(|err| EventError::invalid(err.to_string()))?;
                if at.as_millis() > now.as_millis() + MAX_CLOCK_SKEW_MILLIS {
                    return Err(EventError::invalid(
                        "occurred_at is more than a day in the future",
                    ));
                }
                if at.as_millis() < now.as_millis() - MAX_AGE_MILLIS {
                    return Err(EventError::invalid(
                        "occurred_at is more than a year ago: check the sending machine's clock",
                    ));
                }
                at
            }
            None => now,
        };
        let duration_ms = match self.duration_ms {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().filter(|ms| *ms >= 0).ok_or_else(|| {
                EventError::invalid("duration_ms must be a whole number of milliseconds")
            })?),
            Some(_) => return Err(EventError::invalid("duration_ms must be a number")),
        };
        let session_id = text("session_id", self.session_id)?;
        let tool_use_id = text("tool_use_id", self.tool_use_id)?;
        let event_id = match text("event_id", self.event_id)? {
            Some(id) => EventId::parse(&id).map_err(|err| EventError::invalid(err.to_string()))?,
            None => derive_id(
                session_id.as_deref(),
                tool_use_id.as_deref(),
                kind,
                &skill_id,
            ),
        };
        let event = NewEvent {
            event_id,
            skill_id,
            kind,
            session_id,
            tool_name: text("tool_name", self.tool_name)?,
            tool_use_id,
            invoked_skill: text("invoked_skill", self.invoked_skill)?,
            duration_ms,
            occurred_at,
            source: text("source", self.source)?,
            client: text("client", self.client)?,
        };
        event
            .validate()
            .map_err(|err| EventError::invalid(err.to_string()))?;
        Ok(event)
    }

    /// A raw Claude Code hook input, reported for `skill` → [`NewEvent`].
    ///
    /// PostToolUse of the Skill tool is an invocation (naming the invoked skill), any other
    /// PostToolUse a tool use, PostToolUseFailure a tool failure, UserPromptExpansion an
    /// invocation by slash command, SessionStart a session start. Other hook events carry no use.
    pub fn from_hook(
        self,
        skill: &SkillId,
        now: Timestamp,
        source: &str,
    ) -> Result<NewEvent, EventError> {
        let hook = text("hook_event_name", self.hook_event_name)?.unwrap_or_default();
        let tool_name = text("tool_name", self.tool_name)?;
        let (kind, invoked_skill) = match hook.as_str() {
            "PostToolUse" if tool_name.as_deref() == Some("Skill") => (
                EventKind::Invocation,
                self.tool_input.and_then(|input| input.0),
            ),
            "PostToolUse" => (EventKind::ToolUse, None),
            "PostToolUseFailure" => (EventKind::ToolFailure, None),
            "UserPromptExpansion" => (
                EventKind::Invocation,
                text("command_name", self.command_name)?,
            ),
            "SessionStart" => (EventKind::SessionStart, None),
            other => {
                return Err(EventError::invalid(format!(
                    "hook event {other:?} is not tracked; use PostToolUse, PostToolUseFailure, \
                     UserPromptExpansion or SessionStart"
                )));
            }
        };
        let session_id = text("session_id", self.session_id)?;
        // What makes this event unique within its session, for a stable id.
        let occurrence = match kind {
            EventKind::ToolUse | EventKind::ToolFailure => {
                text("tool_use_id", self.tool_use_id.clone())?
            }
            EventKind::Invocation if hook == "PostToolUse" => {
                text("tool_use_id", self.tool_use_id.clone())?
            }
            EventKind::Invocation => text("prompt_id", self.prompt_id)?,
            EventKind::SessionStart => {
                text("source", self.source)?.or_else(|| Some("startup".to_owned()))
            }
            EventKind::Deploy => None,
        };
        let duration_ms = match self.duration_ms {
            Some(Value::Number(n)) => n.as_i64().filter(|ms| *ms >= 0),
            _ => None,
        };
        let event = NewEvent {
            event_id: derive_id(session_id.as_deref(), occurrence.as_deref(), kind, skill),
            skill_id: skill.clone(),
            kind,
            session_id,
            tool_name,
            tool_use_id: text("tool_use_id", self.tool_use_id)?,
            invoked_skill,
            duration_ms,
            occurred_at: now,
            source: Some(source.to_owned()),
            client: None,
        };
        event
            .validate()
            .map_err(|err| EventError::invalid(err.to_string()))?;
        Ok(event)
    }
}

fn derive_id(
    session: Option<&str>,
    occurrence: Option<&str>,
    kind: EventKind,
    skill: &SkillId,
) -> EventId {
    match (session, occurrence) {
        (Some(session), Some(occurrence)) => EventId::derive(session, occurrence, kind, skill),
        _ => EventId::random(),
    }
}

/// The `skill` of a Skill tool call's `tool_input`; every other key, and any other shape, is
/// skipped without being kept.
#[derive(Debug, Default)]
pub struct InvokedSkillName(Option<String>);

impl<'de> Deserialize<'de> for InvokedSkillName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = InvokedSkillName;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "skill" {
                        name = match map.next_value::<Value>()? {
                            Value::String(skill) => Some(skill),
                            _ => None,
                        };
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(InvokedSkillName(name))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(InvokedSkillName(None))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(InvokedSkillName(None))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(InvokedSkillName(None))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(InvokedSkillName(None))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(InvokedSkillName(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(InvokedSkillName(None))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(InvokedSkillName(None))
            }
        }

        deserializer.deserialize_any(NameVisitor)
    }
}

/// The 202 answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrackResponse {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub index: usize,
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "SECRET-TOOL-INPUT-MARKER";

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap()
    }

    fn skill() -> SkillId {
        SkillId::parse("sk_abc").unwrap()
    }

    fn hook(json: &str) -> NewEvent {
        match TrackBody::parse(json.as_bytes()).unwrap() {
            TrackBody::Hook(event) => event.from_hook(&skill(), now(), "hook").unwrap(),
            other => panic!("not a hook input: {other:?}"),
        }
    }

    #[test]
    fn hook_inputs_map_to_kinds_and_keep_no_tool_data() {
        let skill_call = hook(
            r#"{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Skill",
            "tool_input":{"skill":"demo","args":"SECRET-TOOL-INPUT-MARKER"},"tool_response":{"x":"SECRET-TOOL-INPUT-MARKER"},
            "tool_use_id":"toolu_2","duration_ms":5,"cwd":"/home/dev","transcript_path":"/t.jsonl"}"#,
        );
        assert_eq!(skill_call.kind, EventKind::Invocation);
        assert_eq!(skill_call.invoked_skill.as_deref(), Some("demo"));
        assert_eq!(skill_call.duration_ms, Some(5));
        assert!(!format!("{skill_call:?}").contains(MARKER));
        assert!(!format!("{skill_call:?}").contains("/home/dev"));

        let bash = hook(
            r#"{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"echo SECRET-TOOL-INPUT-MARKER"},"tool_use_id":"toolu_4"}"#,
        );
        assert_eq!(
            (bash.kind, bash.invoked_skill.as_deref()),
            (EventKind::ToolUse, None)
        );
        assert_eq!(
            bash.event_id,
            EventId::derive("s", "toolu_4", EventKind::ToolUse, &skill())
        );

        let failed = hook(
            r#"{"session_id":"s","hook_event_name":"PostToolUseFailure","tool_name":"Bash","tool_use_id":"toolu_6","error":"Exit code 1"}"#,
        );
        assert_eq!(failed.kind, EventKind::ToolFailure);
        let slash = hook(
            r#"{"session_id":"s","prompt_id":"p1","hook_event_name":"UserPromptExpansion","command_name":"demo","prompt":"/demo SECRET-TOOL-INPUT-MARKER"}"#,
        );
        assert_eq!(
            (slash.kind, slash.invoked_skill.as_deref()),
            (EventKind::Invocation, Some("demo"))
        );
        let start =
            hook(r#"{"session_id":"s","hook_event_name":"SessionStart","source":"startup"}"#);
        assert_eq!(start.kind, EventKind::SessionStart);
        assert_eq!(start.source.as_deref(), Some("hook"));
    }

    #[test]
    fn untracked_hook_events_are_refused() {
        let TrackBody::Hook(stop) =
            TrackBody::parse(br#"{"hook_event_name":"Stop","session_id":"s"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            stop.from_hook(&skill(), now(), "hook").unwrap_err().code,
            "invalid_event"
        );
    }

    #[test]
    fn relay_events_need_skill_and_kind() {
        let event = |json: &str| match TrackBody::parse(json.as_bytes()).unwrap() {
            TrackBody::Single(event) => event.into_event(now()),
            other => panic!("{other:?}"),
        };
        let ok = event(r#"{"skill_id":"sk_abc","kind":"tool_use","session_id":"s","tool_use_id":"t","occurred_at":"2026-12-04T09:00:00Z"}"#).unwrap();
        assert_eq!(
            ok.event_id,
            EventId::derive("s", "t", EventKind::ToolUse, &skill())
        );
        assert_eq!(ok.occurred_at.to_string(), "2026-12-04T09:00:00Z");
        assert!(
            event(r#"{"kind":"tool_use"}"#)
                .unwrap_err()
                .message
                .contains("skill_id")
        );
        assert!(
            event(r#"{"skill_id":"sk_abc"}"#)
                .unwrap_err()
                .message
                .contains("kind")
        );
        assert!(
            event(r#"{"skill_id":"sk_abc","kind":"click"}"#)
                .unwrap_err()
                .message
                .contains("event kind")
        );
        assert!(event(r#"{"skill_id":"sk_abc","kind":"tool_use","duration_ms":-1}"#).is_err());
        assert!(event(r#"{"skill_id":"sk_abc","kind":"tool_use","session_id":7}"#).is_err());
        assert!(
            event(
                r#"{"skill_id":"sk_abc","kind":"tool_use","occurred_at":"2027-01-01T00:00:00Z"}"#
            )
            .is_err()
        );
        // A broken clock far in the past would date a skill session wrongly.
        assert!(
            event(
                r#"{"skill_id":"sk_abc","kind":"tool_use","occurred_at":"1970-01-01T00:00:00Z"}"#
            )
            .unwrap_err()
            .message
            .contains("more than a year ago")
        );
        assert!(
            event(
                r#"{"skill_id":"sk_abc","kind":"tool_use","occurred_at":"2026-01-04T00:00:00Z"}"#
            )
            .is_ok(),
            "eleven months late is still fine"
        );
        // Without session and tool use ids there is nothing to derive from: a fresh id.
        let a = event(r#"{"skill_id":"sk_abc","kind":"tool_use"}"#).unwrap();
        let b = event(r#"{"skill_id":"sk_abc","kind":"tool_use"}"#).unwrap();
        assert_ne!(a.event_id, b.event_id);
    }

    #[test]
    fn bodies_are_single_batch_or_hook() {
        let batch = format!(
            "{{\"events\":[{}]}}",
            vec![r#"{"skill_id":"sk_abc","kind":"tool_use"}"#; 500].join(",")
        );
        assert!(
            matches!(TrackBody::parse(batch.as_bytes()), Ok(TrackBody::Batch(events)) if events.len() == 500)
        );
        let too_many = format!("{{\"events\":[{}]}}", vec!["{}"; 501].join(","));
        assert_eq!(
            TrackBody::parse(too_many.as_bytes()).unwrap_err(),
            BodyError::TooManyEvents(501)
        );
        assert!(matches!(
            TrackBody::parse(b"{not json"),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            TrackBody::parse(b"[1,2]"),
            Err(BodyError::Malformed(_))
        ));
        for body in [
            r#"{"skill_id":"SECRET-TOOL-INPUT-MARKER""#,
            r#"{"events":"SECRET-TOOL-INPUT-MARKER"}"#,
            r#"{"tool_input":{"skill":1},"events":[{"kind":"SECRET-TOOL-INPUT-MARKER"}],"x":}"#,
        ] {
            let err = TrackBody::parse(body.as_bytes()).unwrap_err();
            assert!(!err.to_string().contains(MARKER), "{err}");
        }
    }
}
