//! Usage events and their daily rollup, written together in one transaction.

use std::collections::{BTreeMap, HashMap};

use relay_core::{
    Day, Event, EventBatch, EventId, EventKind, NewEvent, SkillId, TenantId, Timestamp, UserId,
};

use crate::sql::{Conn, Row, params};
use crate::{DailyUsage, IngestOutcome, RejectReason, RejectedEvent, Result, StoreError};

/// Rollup increments for one (tenant, day, skill, user), summed over a whole call.
#[derive(Default)]
struct Increment {
    skill_sessions: i64,
    invocations: i64,
    tool_uses: i64,
    tool_failures: i64,
    last_event_at: i64,
}

type RollupKey = (TenantId, Day, SkillId, UserId);

pub(super) fn record(conn: &mut dyn Conn, batches: &[EventBatch]) -> Result<Vec<IngestOutcome>> {
    let now = Timestamp::now().as_millis();
    let mut known_skills: HashMap<(&TenantId, &SkillId), bool> = HashMap::new();
    // Ordered, so that concurrent writers on PostgreSQL lock rollup rows in the same order.
    let mut rollup: BTreeMap<RollupKey, Increment> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(batches.len());

    for batch in batches {
        let mut outcome = IngestOutcome::default();
        for (index, event) in batch.events.iter().enumerate() {
            let key = (&batch.tenant_id, &event.skill_id);
            let known = match known_skills.get(&key) {
                Some(known) => *known,
                None => {
                    let known = conn
                        .query_opt(
                            "SELECT 1 FROM skills WHERE tenant_id = ?1 AND id = ?2",
                            params![batch.tenant_id.as_str(), event.skill_id.as_str()],
                        )?
                        .is_some();
                    known_skills.insert(key, known);
                    known
                }
            };
            if !known {
                outcome.rejected.push(RejectedEvent {
                    index,
                    reason: RejectReason::UnknownSkill,
                });
                continue;
            }
            if !insert_event(conn, batch, event, now)? {
                outcome.duplicates += 1;
                continue;
            }
            outcome.accepted += 1;
            if event.kind.marks_skill_use() {
                let opens_session = match &event.session_id {
                    Some(session) => open_session(conn, batch, event, session)?,
                    None => false,
                };
                let entry = rollup
                    .entry((
                        batch.tenant_id.clone(),
                        event.occurred_at.day(),
                        event.skill_id.clone(),
                        batch.user_id.clone(),
                    ))
                    .or_default();
                entry.skill_sessions += i64::from(opens_session);
                entry.invocations += i64::from(event.kind == EventKind::Invocation);
                entry.tool_uses += i64::from(event.kind == EventKind::ToolUse);
                entry.tool_failures += i64::from(event.kind == EventKind::ToolFailure);
                entry.last_event_at = entry.last_event_at.max(event.occurred_at.as_millis());
            }
        }
        outcomes.push(outcome);
    }

    for ((tenant, day, skill, user), add) in &rollup {
        let day = day.to_string();
        conn.execute(
            "INSERT INTO usage_daily (tenant_id, day, skill_id, user_id, skill_sessions, \
                                      invocations, tool_uses, tool_failures, last_event_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (tenant_id, day, skill_id, user_id) DO UPDATE SET \
                skill_sessions = usage_daily.skill_sessions + excluded.skill_sessions, \
                invocations = usage_daily.invocations + excluded.invocations, \
                tool_uses = usage_daily.tool_uses + excluded.tool_uses, \
                tool_failures = usage_daily.tool_failures + excluded.tool_failures, \
                last_event_at = CASE WHEN excluded.last_event_at > usage_daily.last_event_at \
                                     THEN excluded.last_event_at ELSE usage_daily.last_event_at END",
            params![
                tenant.as_str(),
                day.as_str(),
                skill.as_str(),
                user.as_str(),
                add.skill_sessions,
                add.invocations,
                add.tool_uses,
                add.tool_failures,
                add.last_event_at
            ],
        )?;
    }
    Ok(outcomes)
}

/// Records that the event's skill was used in its session; true if this event is the first such.
fn open_session(
    conn: &mut dyn Conn,
    batch: &EventBatch,
    event: &NewEvent,
    session: &str,
) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO skill_sessions (tenant_id, skill_id, session_id, user_id, started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, skill_id, session_id) DO NOTHING",
        params![
            batch.tenant_id.as_str(),
            event.skill_id.as_str(),
            session,
            batch.user_id.as_str(),
            event.occurred_at.as_millis()
        ],
    )?;
    Ok(inserted == 1)
}

/// Inserts one event unless its id is already stored for the tenant. True when inserted.
fn insert_event(
    conn: &mut dyn Conn,
    batch: &EventBatch,
    event: &NewEvent,
    now: i64,
) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO usage_events (tenant_id, event_id, skill_id, user_id, kind, session_id, \
                                   tool_name, tool_use_id, invoked_skill, duration_ms, \
                                   occurred_at, received_at, source, client) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (tenant_id, event_id) DO NOTHING",
        params![
            batch.tenant_id.as_str(),
            event.event_id.as_str(),
            event.skill_id.as_str(),
            batch.user_id.as_str(),
            event.kind.as_str(),
            event.session_id.as_deref(),
            event.tool_name.as_deref(),
            event.tool_use_id.as_deref(),
            event.invoked_skill.as_deref(),
            event.duration_ms,
            event.occurred_at.as_millis(),
            now,
            event.source.as_deref(),
            event.client.as_deref()
        ],
    )?;
    Ok(inserted == 1)
}

fn event_from_row(row: &Row) -> Result<Event> {
    Ok(Event {
        tenant_id: TenantId::from_stored(row.text(0)?),
        user_id: UserId::from_stored(row.text(3)?),
        event: NewEvent {
            event_id: EventId::from_stored(row.text(1)?),
            skill_id: SkillId::from_stored(row.text(2)?),
            kind: row
                .text(4)?
                .parse::<EventKind>()
                .map_err(|err| StoreError::Database(err.to_string()))?,
            session_id: row.opt_text(5)?,
            tool_name: row.opt_text(6)?,
            tool_use_id: row.opt_text(7)?,
            invoked_skill: row.opt_text(8)?,
            duration_ms: row.opt_int(9)?,
            occurred_at: Timestamp::from_millis(row.int(10)?),
            source: row.opt_text(12)?,
            client: row.opt_text(13)?,
        },
        received_at: Timestamp::from_millis(row.int(11)?),
    })
}

pub(super) fn list(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
) -> Result<Vec<Event>> {
    conn.query(
        "SELECT tenant_id, event_id, skill_id, user_id, kind, session_id, tool_name, tool_use_id, \
                invoked_skill, duration_ms, occurred_at, received_at, source, client \
         FROM usage_events \
         WHERE tenant_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3 \
         ORDER BY occurred_at, event_id LIMIT ?4",
        params![
            tenant.as_str(),
            from.as_millis(),
            to.as_millis(),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
    )?
    .iter()
    .map(event_from_row)
    .collect()
}

pub(super) fn daily(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    from: Day,
    to: Day,
) -> Result<Vec<DailyUsage>> {
    let (from, to) = (from.to_string(), to.to_string());
    conn.query(
        "SELECT day, skill_id, user_id, skill_sessions, invocations, tool_uses, tool_failures, \
                last_event_at \
         FROM usage_daily WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?3 \
         ORDER BY day, skill_id, user_id",
        params![tenant.as_str(), from.as_str(), to.as_str()],
    )?
    .iter()
    .map(|row| {
        Ok(DailyUsage {
            day: Day::parse(&row.text(0)?)?,
            skill_id: SkillId::from_stored(row.text(1)?),
            user_id: UserId::from_stored(row.text(2)?),
            skill_sessions: row.int(3)?,
            invocations: row.int(4)?,
            tool_uses: row.int(5)?,
            tool_failures: row.int(6)?,
            last_event_at: Timestamp::from_millis(row.int(7)?),
        })
    })
    .collect()
}
