//! Usage events and their daily rollup, written together in one transaction.

use std::collections::hash_map::Entry;
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

/// Where an event sits: batch and index within it.
type At = (usize, usize);

/// Rows per PostgreSQL statement.
const ROWS_PER_STATEMENT: usize = 1000;

/// Stores every batch's events, each at most once per tenant, and updates skill sessions and the
/// daily rollup to match.
///
/// SQLite runs one cached single-row statement per row: in-process a step costs microseconds,
/// and a big multi-row statement costs more to compile than it saves. PostgreSQL gets one
/// `UNNEST` statement per chunk of rows, since there every statement is a round trip; its text is
/// the same for any number of rows, so it is prepared once per connection.
pub(super) fn record(conn: &mut dyn Conn, batches: &[EventBatch]) -> Result<Vec<IngestOutcome>> {
    let now = Timestamp::now().as_millis();
    let mut outcomes: Vec<IngestOutcome> =
        batches.iter().map(|_| IngestOutcome::default()).collect();

    // 1. Events naming a skill their tenant does not have are refused. An invocation counts for
    //    the skill it names only: a Skill call naming another skill is, for this skill, one more
    //    tool use while it is active; a slash command naming another skill is not its event.
    let mut slugs: HashMap<(&TenantId, &SkillId), Option<String>> = HashMap::new();
    let mut candidates: Vec<At> = Vec::new();
    let mut kinds: HashMap<At, EventKind> = HashMap::new();
    for (b, batch) in batches.iter().enumerate() {
        for (i, event) in batch.events.iter().enumerate() {
            let key = (&batch.tenant_id, &event.skill_id);
            let slug = match slugs.entry(key) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    let slug = conn
                        .query_opt(
                            "SELECT slug FROM skills WHERE tenant_id = ?1 AND id = ?2",
                            params![batch.tenant_id.as_str(), event.skill_id.as_str()],
                        )?
                        .map(|row| row.text(0))
                        .transpose()?;
                    slot.insert(slug)
                }
            };
            let Some(slug) = slug.as_deref() else {
                outcomes[b].rejected.push(RejectedEvent {
                    index: i,
                    reason: RejectReason::UnknownSkill,
                });
                continue;
            };
            if event.kind == EventKind::Invocation
                && let Some(named) = event.invoked_skill.as_deref()
                && named != slug
            {
                if event.tool_name.is_none() {
                    outcomes[b].rejected.push(RejectedEvent {
                        index: i,
                        reason: RejectReason::OtherSkill,
                    });
                    continue;
                }
                kinds.insert((b, i), EventKind::ToolUse);
            }
            candidates.push((b, i));
        }
    }
    // The kind an event is stored and counted as.
    let kind_of = |(b, i): At| {
        kinds
            .get(&(b, i))
            .copied()
            .unwrap_or(batches[b].events[i].kind)
    };

    // 2. Insert-if-absent. An id sent twice in one call is new for its first sending only.
    let mut accepted: Vec<At> = Vec::with_capacity(candidates.len());
    for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
        for (&(b, i), new) in chunk
            .iter()
            .zip(insert_events(conn, batches, chunk, &kind_of, now)?)
        {
            if new {
                outcomes[b].accepted += 1;
                accepted.push((b, i));
            } else {
                outcomes[b].duplicates += 1;
            }
        }
    }

    // 3. Skill sessions. A skill session is dated, and belongs to the user of, its earliest use
    //    (by `occurred_at`, then user id, so that the raw events say the same whatever the
    //    order they arrived in): this call's earliest use of each session opens it, or moves
    //    an open one that started later.
    let mut earliest: BTreeMap<(&str, &str, &str), At> = BTreeMap::new();
    for &(b, i) in &accepted {
        let (batch, event) = (&batches[b], &batches[b].events[i]);
        if let (true, Some(session)) = (
            kind_of((b, i)).marks_skill_use(),
            event.session_id.as_deref(),
        ) {
            let key = (batch.tenant_id.as_str(), event.skill_id.as_str(), session);
            let this = (event.occurred_at, batch.user_id.as_str());
            earliest
                .entry(key)
                .and_modify(|first| {
                    let (fb, fi) = *first;
                    if this
                        < (
                            batches[fb].events[fi].occurred_at,
                            batches[fb].user_id.as_str(),
                        )
                    {
                        *first = (b, i);
                    }
                })
                .or_insert((b, i));
        }
    }
    // In key order, so that concurrent writers on PostgreSQL lock session rows in one order.
    let first_use: Vec<At> = earliest.into_values().collect();
    let mut opened: HashSet<At> = HashSet::new();
    let mut existing: Vec<At> = Vec::new();
    for chunk in first_use.chunks(ROWS_PER_STATEMENT) {
        let new = open_sessions(conn, batches, chunk)?;
        for (&at, new) in chunk.iter().zip(new) {
            if new {
                opened.insert(at);
            } else {
                existing.push(at);
            }
        }
    }
    let mut moved: Vec<(At, Day, UserId)> = Vec::new();
    for chunk in existing.chunks(ROWS_PER_STATEMENT) {
        moved.extend(move_earlier_sessions(conn, batches, chunk)?);
    }

    let moved_to: HashSet<At> = moved.iter().map(|(at, _, _)| *at).collect();

    // 4. The daily rollup, one row per (tenant, day, skill, user), in a fixed order so that
    //    concurrent writers on PostgreSQL lock its rows in the same order.
    let mut rollup: BTreeMap<RollupKey<'_>, Increment> = BTreeMap::new();
    for &(b, i) in &accepted {
        let (batch, event) = (&batches[b], &batches[b].events[i]);
        let kind = kind_of((b, i));
        if !kind.marks_skill_use() {
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
        entry.skill_sessions += i64::from(opened.contains(&(b, i)));
        entry.skill_sessions += i64::from(moved_to.contains(&(b, i)));
        entry.invocations += i64::from(kind == EventKind::Invocation);
        entry.tool_uses += i64::from(kind == EventKind::ToolUse);
        entry.tool_failures += i64::from(kind == EventKind::ToolFailure);
        entry.last_event_at = entry.last_event_at.max(event.occurred_at.as_millis());
    }
    // A session that moved to an earlier use leaves the day and user it was counted for.
    for ((b, i), day, user) in &moved {
        let (batch, event) = (&batches[*b], &batches[*b].events[*i]);
        let entry = rollup
            .entry((&batch.tenant_id, *day, &event.skill_id, user))
            .or_default();
        entry.skill_sessions -= 1;
    }
    let rows: Vec<(RollupKey<'_>, Increment)> = rollup.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        upsert_rollup(conn, chunk)?;
    }
    Ok(outcomes)
}

/// The SQL type of one column of a multi-row insert.
#[derive(Clone, Copy)]
enum Column {
    Text,
    BigInt,
}

use Column::{BigInt, Text};

/// `(?1, ?2, …)` for one row.
fn one_row(columns: usize) -> String {
    let placeholders: Vec<String> = (1..=columns).map(|n| format!("?{n}")).collect();
    format!("VALUES ({})", placeholders.join(", "))
}

/// PostgreSQL: the rows as one array per column, and `SELECT * FROM UNNEST(?1::text[], …)`.
fn unnest<'a, const N: usize>(
    rows: impl Iterator<Item = [Param<'a>; N]>,
    columns: [Column; N],
) -> Result<(String, Vec<Param<'a>>)> {
    let mut arrays: Vec<Param<'a>> = columns
        .iter()
        .map(|column| match column {
            Text => Param::TextArray(Vec::new()),
            BigInt => Param::IntArray(Vec::new()),
        })
        .collect();
    for row in rows {
        for (array, value) in arrays.iter_mut().zip(row) {
            match (array, value) {
                (Param::TextArray(values), Param::Text(text)) => values.push(Some(text)),
                (Param::TextArray(values), Param::Null) => values.push(None),
                (Param::IntArray(values), Param::Int(number)) => values.push(Some(number)),
                (Param::IntArray(values), Param::Null) => values.push(None),
                (_, value) => {
                    return Err(StoreError::Database(format!(
                        "{value:?} in an array column of another type"
                    )));
                }
            }
        }
    }
    let casts: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(n, column)| match column {
            Text => format!("?{}::text[]", n + 1),
            BigInt => format!("?{}::bigint[]", n + 1),
        })
        .collect();
    Ok((
        format!("SELECT * FROM UNNEST({})", casts.join(", ")),
        arrays,
    ))
}

/// Runs `INSERT {insert} <rows> {conflict}` for rows that may already exist, and says, row by
/// row, which were new. `returning` names the key columns PostgreSQL returns for new rows, and
/// `key` makes the same key from a row's parameters.
fn insert_new<'a, const N: usize>(
    conn: &mut dyn Conn,
    insert: &str,
    conflict: &str,
    columns: [Column; N],
    rows: Vec<[Param<'a>; N]>,
    returning: &str,
    key: impl Fn(&[Param<'a>; N]) -> Vec<String>,
) -> Result<Vec<bool>> {
    match conn.dialect() {
        Dialect::Sqlite => {
            let sql = format!("{insert} {} {conflict}", one_row(N));
            let changed = conn.execute_rows(&sql, &mut rows.iter().map(|row| &row[..]))?;
            Ok(changed.into_iter().map(|n| n == 1).collect())
        }
        Dialect::Postgres => {
            let keys: Vec<Vec<String>> = rows.iter().map(&key).collect();
            let count = rows.len();
            let (select, params) = unnest(rows.into_iter(), columns)?;
            let returned = conn.query(
                &format!("{insert} {select} {conflict} RETURNING {returning}"),
                &params,
            )?;
            if returned.len() == count {
                // Every row was new (the usual case): no need to tell them apart.
                return Ok(vec![true; count]);
            }
            let width = keys.first().map_or(0, Vec::len);
            let mut new: HashSet<Vec<String>> = returned
                .iter()
                .map(|row| (0..width).map(|n| row.text(n)).collect::<Result<Vec<_>>>())
                .collect::<Result<_>>()?;
            // A key sent twice in one statement is new for its first sending only.
            Ok(keys.iter().map(|key| new.remove(key)).collect())
        }
    }
}

fn text(param: &Param<'_>) -> String {
    match param {
        Param::Text(text) => (*text).to_owned(),
        _ => String::new(),
    }
}

fn insert_events(
    conn: &mut dyn Conn,
    batches: &[EventBatch],
    rows: &[At],
    kind_of: &dyn Fn(At) -> EventKind,
    now: i64,
) -> Result<Vec<bool>> {
    let rows: Vec<[Param<'_>; 14]> = rows
        .iter()
        .map(|&(b, i)| {
            let (batch, event) = (&batches[b], &batches[b].events[i]);
            [
                batch.tenant_id.as_str().into(),
                event.event_id.as_str().into(),
                event.skill_id.as_str().into(),
                batch.user_id.as_str().into(),
                kind_of((b, i)).as_str().into(),
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
        })
        .collect();
    insert_new(
        conn,
        "INSERT INTO usage_events (tenant_id, event_id, skill_id, user_id, kind, session_id, \
         tool_name, tool_use_id, invoked_skill, duration_ms, occurred_at, received_at, source, client)",
        "ON CONFLICT (tenant_id, event_id) DO NOTHING",
        [
            Text, Text, Text, Text, Text, Text, Text, Text, Text, BigInt, BigInt, BigInt, Text,
            Text,
        ],
        rows,
        "tenant_id, event_id",
        |row| vec![text(&row[0]), text(&row[1])],
    )
}

/// A `skill_sessions` row per use: tenant, skill, session, user, start.
fn session_rows<'a>(batches: &'a [EventBatch], rows: &[At]) -> Vec<[Param<'a>; 5]> {
    rows.iter()
        .map(|&(b, i)| {
            let (batch, event) = (&batches[b], &batches[b].events[i]);
            [
                batch.tenant_id.as_str().into(),
                event.skill_id.as_str().into(),
                event.session_id.as_deref().into(),
                batch.user_id.as_str().into(),
                event.occurred_at.as_millis().into(),
            ]
        })
        .collect()
}

fn open_sessions(conn: &mut dyn Conn, batches: &[EventBatch], rows: &[At]) -> Result<Vec<bool>> {
    let rows = session_rows(batches, rows);
    insert_new(
        conn,
        "INSERT INTO skill_sessions (tenant_id, skill_id, session_id, user_id, started_at)",
        "ON CONFLICT (tenant_id, skill_id, session_id) DO NOTHING",
        [Text, Text, Text, Text, BigInt],
        rows,
        "tenant_id, skill_id, session_id",
        |row| vec![text(&row[0]), text(&row[1]), text(&row[2])],
    )
}

/// Sessions already open whose start is later than this call's earliest use of them: moved to
/// that use (its time and user). Returns each moved session's use, with the day and user it was
/// counted for until now.
fn move_earlier_sessions(
    conn: &mut dyn Conn,
    batches: &[EventBatch],
    rows: &[At],
) -> Result<Vec<(At, Day, UserId)>> {
    let params = session_rows(batches, rows);
    let mut moved = Vec::new();
    match conn.dialect() {
        Dialect::Sqlite => {
            // One writer at a time: read, then update, in the same transaction.
            for (&at, row) in rows.iter().zip(&params) {
                let earlier = conn.query_opt(
                    "SELECT started_at, user_id FROM skill_sessions \
                     WHERE tenant_id = ?1 AND skill_id = ?2 AND session_id = ?3 \
                         AND (started_at, user_id) > (?5, ?4)",
                    row,
                )?;
                if let Some(old) = earlier {
                    conn.execute(
                        "UPDATE skill_sessions SET user_id = ?4, started_at = ?5 \
                         WHERE tenant_id = ?1 AND skill_id = ?2 AND session_id = ?3",
                        row,
                    )?;
                    let day = Timestamp::from_millis(old.int(0)?).day();
                    moved.push((at, day, UserId::from_stored(old.text(1)?)));
                }
            }
        }
        Dialect::Postgres => {
            // Only rows that move are locked; a concurrent writer moving the same session waits
            // and then sees the new start.
            let keys: Vec<(String, String, String)> = params
                .iter()
                .map(|row| (text(&row[0]), text(&row[1]), text(&row[2])))
                .collect();
            let (select, arrays) = unnest(params.into_iter(), [Text, Text, Text, Text, BigInt])?;
            let returned = conn.query(
                &format!(
                    "WITH v (tenant_id, skill_id, session_id, user_id, started_at) AS ({select}), \
                     old AS ( \
                         SELECT s.tenant_id, s.skill_id, s.session_id, s.user_id, s.started_at \
                         FROM skill_sessions s JOIN v ON s.tenant_id = v.tenant_id \
                             AND s.skill_id = v.skill_id AND s.session_id = v.session_id \
                         WHERE (s.started_at, s.user_id) > (v.started_at, v.user_id) \
                         FOR UPDATE OF s) \
                     UPDATE skill_sessions s SET user_id = v.user_id, started_at = v.started_at \
                     FROM v, old \
                     WHERE s.tenant_id = v.tenant_id AND s.skill_id = v.skill_id \
                         AND s.session_id = v.session_id AND old.tenant_id = s.tenant_id \
                         AND old.skill_id = s.skill_id AND old.session_id = s.session_id \
                     RETURNING s.tenant_id, s.skill_id, s.session_id, old.started_at, old.user_id"
                ),
                &arrays,
            )?;
            for row in returned {
                let key = (row.text(0)?, row.text(1)?, row.text(2)?);
                if let Some(index) = keys.iter().position(|k| *k == key) {
                    let day = Timestamp::from_millis(row.int(3)?).day();
                    moved.push((rows[index], day, UserId::from_stored(row.text(4)?)));
                }
            }
        }
    }
    Ok(moved)
}

/// Adds the increments to the rollup rows, creating those that do not exist yet.
fn upsert_rollup(conn: &mut dyn Conn, rows: &[(RollupKey<'_>, Increment)]) -> Result<()> {
    const INSERT: &str = "INSERT INTO usage_daily (tenant_id, day, skill_id, user_id, skill_sessions, \
                          invocations, tool_uses, tool_failures, last_event_at)";
    const CONFLICT: &str = "ON CONFLICT (tenant_id, day, skill_id, user_id) DO UPDATE SET \
        skill_sessions = usage_daily.skill_sessions + excluded.skill_sessions, \
        invocations = usage_daily.invocations + excluded.invocations, \
        tool_uses = usage_daily.tool_uses + excluded.tool_uses, \
        tool_failures = usage_daily.tool_failures + excluded.tool_failures, \
        last_event_at = CASE WHEN excluded.last_event_at > usage_daily.last_event_at \
                             THEN excluded.last_event_at ELSE usage_daily.last_event_at END";
    let days: Vec<String> = rows
        .iter()
        .map(|((_, day, _, _), _)| day.to_string())
        .collect();
    let params: Vec<[Param<'_>; 9]> = rows
        .iter()
        .zip(&days)
        .map(|(((tenant, _, skill, user), add), day)| {
            [
                tenant.as_str().into(),
                day.as_str().into(),
                skill.as_str().into(),
                user.as_str().into(),
                add.skill_sessions.into(),
                add.invocations.into(),
                add.tool_uses.into(),
                add.tool_failures.into(),
                add.last_event_at.into(),
            ]
        })
        .collect();
    match conn.dialect() {
        Dialect::Sqlite => {
            let sql = format!("{INSERT} {} {CONFLICT}", one_row(9));
            conn.execute_rows(&sql, &mut params.iter().map(|row| &row[..]))?;
        }
        Dialect::Postgres => {
            let (select, arrays) = unnest(
                params.into_iter(),
                [
                    Text, Text, Text, Text, BigInt, BigInt, BigInt, BigInt, BigInt,
                ],
            )?;
            conn.execute(&format!("{INSERT} {select} {CONFLICT}"), &arrays)?;
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
