//! Usage events and their daily rollup, written together in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use relay_core::{
    Day, Event, EventBatch, EventId, EventKind, NewEvent, SkillId, TenantId, Timestamp, UserId,
};

use crate::sql::{Conn, Dialect, Param, Row, params};
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

type RollupKey<'a> = (&'a TenantId, Day, &'a SkillId, &'a UserId);

/// Rows per multi-row statement: well under both engines' parameter limits (14 columns here).
const ROWS_PER_STATEMENT: usize = 500;

/// `(?1, ?2, ?3), (?4, ?5, ?6)…` for `rows` rows of `columns` parameters.
fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", row * columns + column + 1));
        }
        sql.push(')');
    }
    sql
}

/// Where an event sits: batch and index within it.
type At = (usize, usize);

/// Stores every batch's events in as few statements as the rows allow, each event at most once
/// per tenant, and updates skill sessions and the daily rollup to match.
pub(super) fn record(conn: &mut dyn Conn, batches: &[EventBatch]) -> Result<Vec<IngestOutcome>> {
    let now = Timestamp::now().as_millis();
    let mut outcomes: Vec<IngestOutcome> =
        batches.iter().map(|_| IngestOutcome::default()).collect();

    // 1. Events naming a skill their tenant does not have are refused.
    let mut known_skills: HashMap<(&TenantId, &SkillId), bool> = HashMap::new();
    let mut last_skill: Option<((&TenantId, &SkillId), bool)> = None;
    let mut candidates: Vec<At> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        for (i, event) in batch.events.iter().enumerate() {
            let key = (&batch.tenant_id, &event.skill_id);
            // Consecutive events mostly name the same skill: skip the hash then.
            let known = match last_skill.filter(|(last, _)| *last == key) {
                Some((_, known)) => known,
                None => match known_skills.get(&key) {
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
                },
            };
            last_skill = Some((key, known));
            if known {
                candidates.push((b, i));
            } else {
                outcomes[b].rejected.push(RejectedEvent {
                    index: i,
                    reason: RejectReason::UnknownSkill,
                });
            }
        }
    }

    // 2. Insert-if-absent. An id sent twice in one call is new for its first sending only.
    let mut accepted: Vec<At> = Vec::with_capacity(candidates.len());
    for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
        let inserted = insert_events(conn, batches, chunk, now)?;
        for (&(b, i), new) in chunk.iter().zip(inserted) {
            if new {
                outcomes[b].accepted += 1;
                accepted.push((b, i));
            } else {
                outcomes[b].duplicates += 1;
            }
        }
    }

    // 3. Skill sessions: the first accepted use of a skill in a session opens it.
    let mut first_use: Vec<At> = Vec::new();
    let mut seen: HashSet<(&TenantId, &SkillId, &str)> = HashSet::new();
    for &(b, i) in &accepted {
        let (batch, event) = (&batches[b], &batches[b].events[i]);
        if let (true, Some(session)) = (event.kind.marks_skill_use(), event.session_id.as_deref())
            && seen.insert((&batch.tenant_id, &event.skill_id, session))
        {
            first_use.push((b, i));
        }
    }
    let mut opens_session = vec![false; accepted.len()];
    let mut opened: HashSet<At> = HashSet::new();
    for chunk in first_use.chunks(ROWS_PER_STATEMENT) {
        let new = open_sessions(conn, batches, chunk)?;
        opened.extend(
            chunk
                .iter()
                .zip(new)
                .filter(|(_, new)| *new)
                .map(|(at, _)| *at),
        );
    }
    for (flag, at) in opens_session.iter_mut().zip(&accepted) {
        *flag = opened.contains(at);
    }

    // 4. The daily rollup, one upsert per (tenant, day, skill, user), in a fixed order so that
    //    concurrent writers on PostgreSQL lock its rows in the same order.
    let mut rollup: BTreeMap<RollupKey<'_>, Increment> = BTreeMap::new();
    for (&(b, i), &opens) in accepted.iter().zip(&opens_session) {
        let (batch, event) = (&batches[b], &batches[b].events[i]);
        if !event.kind.marks_skill_use() {
            continue;
        }
        let entry = rollup
            .entry((
                &batch.tenant_id,
                event.occurred_at.day(),
                &event.skill_id,
                &batch.user_id,
            ))
            .or_default();
        entry.skill_sessions += i64::from(opens);
        entry.invocations += i64::from(event.kind == EventKind::Invocation);
        entry.tool_uses += i64::from(event.kind == EventKind::ToolUse);
        entry.tool_failures += i64::from(event.kind == EventKind::ToolFailure);
        entry.last_event_at = entry.last_event_at.max(event.occurred_at.as_millis());
    }
    let rows: Vec<(RollupKey<'_>, Increment)> = rollup.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        upsert_rollup(conn, chunk)?;
    }
    Ok(outcomes)
}

/// The row of one event in `usage_events`.
fn event_row<'a>(batches: &'a [EventBatch], (b, i): At, now: i64) -> [Param<'a>; 14] {
    let (batch, event) = (&batches[b], &batches[b].events[i]);
    [
        batch.tenant_id.as_str().into(),
        event.event_id.as_str().into(),
        event.skill_id.as_str().into(),
        batch.user_id.as_str().into(),
        event.kind.as_str().into(),
        event.session_id.as_deref().into(),
        event.tool_name.as_deref().into(),
        event.tool_use_id.as_deref().into(),
        event.invoked_skill.as_deref().into(),
        event.duration_ms.into(),
        event.occurred_at.as_millis().into(),
        now.into(),
        event.source.as_deref().into(),
        event.client.as_deref().into(),
    ]
}

const INSERT_EVENTS: &str = "INSERT INTO usage_events (tenant_id, event_id, skill_id, user_id, kind, \
     session_id, tool_name, tool_use_id, invoked_skill, duration_ms, occurred_at, received_at, \
     source, client) VALUES ";

/// Inserts the rows that are new; says, row by row, which were.
///
/// SQLite runs one cached single-row statement per row: in-process, a step costs microseconds
/// and a large multi-row statement costs more to compile than it saves. PostgreSQL gets one
/// multi-row statement per chunk, since every statement there is a round trip.
fn insert_events(
    conn: &mut dyn Conn,
    batches: &[EventBatch],
    rows: &[At],
    now: i64,
) -> Result<Vec<bool>> {
    const CONFLICT: &str = " ON CONFLICT (tenant_id, event_id) DO NOTHING";
    match conn.dialect() {
        Dialect::Sqlite => {
            let sql = format!("{INSERT_EVENTS}{}{CONFLICT}", values(1, 14));
            rows.iter()
                .map(|&at| Ok(conn.execute(&sql, &event_row(batches, at, now))? == 1))
                .collect()
        }
        Dialect::Postgres => {
            let sql = format!(
                "{INSERT_EVENTS}{}{CONFLICT} RETURNING event_id",
                values(rows.len(), 14)
            );
            let params: Vec<Param<'_>> = rows
                .iter()
                .flat_map(|&at| event_row(batches, at, now))
                .collect();
            let returned = conn.query(&sql, &params)?;
            if returned.len() == rows.len() {
                // Every row was new (the usual case): no need to tell them apart.
                return Ok(vec![true; rows.len()]);
            }
            // All rows of one call belong to... possibly several tenants: match on (tenant, id),
            // and let an id sent twice count as new once.
            let mut new: HashSet<String> = returned
                .iter()
                .map(|row| row.text(0))
                .collect::<Result<_>>()?;
            Ok(rows
                .iter()
                .map(|&(b, i)| {
                    let id = batches[b].events[i].event_id.as_str();
                    // Ids are unique per tenant; a chunk rarely mixes tenants with equal ids, and if
                    // it does the first sending of that id is the one counted as new.
                    new.remove(id)
                })
                .collect())
        }
    }
}

/// Records skill sessions; says, row by row, which were new.
fn open_sessions(conn: &mut dyn Conn, batches: &[EventBatch], rows: &[At]) -> Result<Vec<bool>> {
    const INSERT: &str =
        "INSERT INTO skill_sessions (tenant_id, skill_id, session_id, user_id, started_at) VALUES ";
    const CONFLICT: &str = " ON CONFLICT (tenant_id, skill_id, session_id) DO NOTHING";
    let row = |(b, i): At| -> [Param<'_>; 5] {
        let (batch, event) = (&batches[b], &batches[b].events[i]);
        [
            batch.tenant_id.as_str().into(),
            event.skill_id.as_str().into(),
            event.session_id.as_deref().into(),
            batch.user_id.as_str().into(),
            event.occurred_at.as_millis().into(),
        ]
    };
    match conn.dialect() {
        Dialect::Sqlite => {
            let sql = format!("{INSERT}{}{CONFLICT}", values(1, 5));
            rows.iter()
                .map(|&at| Ok(conn.execute(&sql, &row(at))? == 1))
                .collect()
        }
        Dialect::Postgres => {
            let sql = format!(
                "{INSERT}{}{CONFLICT} RETURNING skill_id, session_id",
                values(rows.len(), 5)
            );
            let params: Vec<Param<'_>> = rows.iter().flat_map(|&at| row(at)).collect();
            let returned = conn.query(&sql, &params)?;
            if returned.len() == rows.len() {
                return Ok(vec![true; rows.len()]);
            }
            // Rows here are distinct (skill, session) pairs of one tenant each.
            let mut new: HashSet<(String, String)> = returned
                .iter()
                .map(|row| Ok((row.text(0)?, row.text(1)?)))
                .collect::<Result<_>>()?;
            Ok(rows
                .iter()
                .map(|&(b, i)| {
                    let event = &batches[b].events[i];
                    new.remove(&(
                        event.skill_id.to_string(),
                        event.session_id.clone().unwrap_or_default(),
                    ))
                })
                .collect())
        }
    }
}

fn rollup_row<'a>(
    ((tenant, _, skill, user), add): &'a (RollupKey<'a>, Increment),
    day: &'a str,
) -> [Param<'a>; 9] {
    [
        tenant.as_str().into(),
        day.into(),
        skill.as_str().into(),
        user.as_str().into(),
        add.skill_sessions.into(),
        add.invocations.into(),
        add.tool_uses.into(),
        add.tool_failures.into(),
        add.last_event_at.into(),
    ]
}

/// Adds the increments to the rollup rows, creating those that do not exist yet.
fn upsert_rollup(conn: &mut dyn Conn, rows: &[(RollupKey<'_>, Increment)]) -> Result<()> {
    let sql = |rows: usize| {
        format!(
            "INSERT INTO usage_daily (tenant_id, day, skill_id, user_id, skill_sessions, \
                                      invocations, tool_uses, tool_failures, last_event_at) \
             VALUES {} \
             ON CONFLICT (tenant_id, day, skill_id, user_id) DO UPDATE SET \
                skill_sessions = usage_daily.skill_sessions + excluded.skill_sessions, \
                invocations = usage_daily.invocations + excluded.invocations, \
                tool_uses = usage_daily.tool_uses + excluded.tool_uses, \
                tool_failures = usage_daily.tool_failures + excluded.tool_failures, \
                last_event_at = CASE WHEN excluded.last_event_at > usage_daily.last_event_at \
                                     THEN excluded.last_event_at ELSE usage_daily.last_event_at END",
            values(rows, 9)
        )
    };
    let days: Vec<String> = rows
        .iter()
        .map(|((_, day, _, _), _)| day.to_string())
        .collect();
    match conn.dialect() {
        Dialect::Sqlite => {
            let sql = sql(1);
            for (row, day) in rows.iter().zip(&days) {
                conn.execute(&sql, &rollup_row(row, day))?;
            }
        }
        Dialect::Postgres => {
            let params: Vec<Param<'_>> = rows
                .iter()
                .zip(&days)
                .flat_map(|(row, day)| rollup_row(row, day))
                .collect();
            conn.execute(&sql(rows.len()), &params)?;
        }
    }
    Ok(())
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
