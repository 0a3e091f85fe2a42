//! Analytics, from the daily rollup only (definitions in `crate::analytics`).

use relay_core::{Role, SkillId, SkillSlug, TenantId, Timestamp, UserId};

use crate::analytics::{
    Bucket, Compliance, Period, Point, Scope, SkillUsage, Summary, Totals, UserUsage,
};
use crate::sql::{Conn, Dialect, Param, Row};
use crate::{Result, StoreError};

/// `AND <column> = ?<n>` for a one-user scope, and its parameter.
fn scope_filter<'a>(scope: &'a Scope, column: &str, n: usize) -> (String, Option<Param<'a>>) {
    match scope {
        Scope::Tenant => (String::new(), None),
        Scope::User(user) => (format!(" AND {column} = ?{n}"), Some(user.as_str().into())),
    }
}

fn period_params<'a>(
    tenant: &'a TenantId,
    from: &'a str,
    to: &'a str,
    user: Option<Param<'a>>,
) -> Vec<Param<'a>> {
    let mut params: Vec<Param<'a>> = vec![tenant.as_str().into(), from.into(), to.into()];
    params.extend(user);
    params
}

/// Sums of the rollup's counters, as BIGINT on both engines (PostgreSQL's SUM of BIGINT is
/// NUMERIC), and hours saved.
const TOTALS: &str = "CAST(COALESCE(SUM(d.skill_sessions), 0) AS BIGINT), \
     CAST(COALESCE(SUM(d.invocations), 0) AS BIGINT), \
     CAST(COALESCE(SUM(d.tool_uses), 0) AS BIGINT), \
     CAST(COALESCE(SUM(d.tool_failures), 0) AS BIGINT), \
     COALESCE(SUM(d.skill_sessions * s.hours_saved), 0)";

fn totals(row: &Row, at: usize) -> Result<Totals> {
    Ok(Totals {
        skill_sessions: row.int(at)?,
        invocations: row.int(at + 1)?,
        tool_uses: row.int(at + 2)?,
        tool_failures: row.int(at + 3)?,
        hours_saved: row.float(at + 4)?,
    })
}

pub(super) fn summary(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    scope: &Scope,
    period: Period,
) -> Result<Summary> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let (filter, user) = scope_filter(scope, "d.user_id", 4);
    let params = period_params(tenant, &from, &to, user);
    let row = conn.query_one(
        &format!(
            "SELECT {TOTALS}, COUNT(DISTINCT d.user_id), COUNT(DISTINCT d.skill_id) \
             FROM usage_daily d \
             LEFT JOIN skills s ON s.tenant_id = d.tenant_id AND s.id = d.skill_id \
             WHERE d.tenant_id = ?1 AND d.day >= ?2 AND d.day <= ?3{filter}"
        ),
        &params,
    )?;
    Ok(Summary {
        period,
        totals: totals(&row, 0)?,
        active_users: row.int(5)?,
        active_skills: row.int(6)?,
        compliance: compliance(conn, tenant, scope, period)?,
    })
}

fn compliance(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    scope: &Scope,
    period: Period,
) -> Result<Compliance> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let (filter, user) = scope_filter(scope, "p.user_id", 5);
    let end = period.to.next().start().as_millis();
    let mut params = period_params(tenant, &from, &to, Some(end.into()));
    params.extend(user);
    let row = conn.query_one(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS ( \
                 SELECT 1 FROM usage_daily d WHERE d.tenant_id = p.tenant_id \
                     AND d.user_id = p.user_id AND d.skill_id = p.skill_id \
                     AND d.day >= ?2 AND d.day <= ?3) THEN 1 ELSE 0 END), 0) \
             FROM deployments p \
             WHERE p.tenant_id = ?1 AND p.created_at < ?4{filter}"
        ),
        &params,
    )?;
    Ok(Compliance {
        deployed_installs: row.int(0)?,
        reporting_installs: row.int(1)?,
    })
}

pub(super) fn skills(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    scope: &Scope,
    period: Period,
) -> Result<Vec<SkillUsage>> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let (filter, user) = scope_filter(scope, "d.user_id", 4);
    let params = period_params(tenant, &from, &to, user);
    let rows = conn.query(
        &format!(
            // The period's rows are summed first (a range of the rollup's primary key), then
            // every skill takes its sums or zeros.
            "SELECT s.id, s.slug, s.name, \
                 COALESCE(a.sessions, 0), COALESCE(a.invocations, 0), COALESCE(a.tool_uses, 0), \
                 COALESCE(a.failures, 0), COALESCE(a.sessions, 0) * s.hours_saved, \
                 COALESCE(a.users, 0), a.last_at \
             FROM skills s \
             LEFT JOIN ( \
                 SELECT d.skill_id, CAST(SUM(d.skill_sessions) AS BIGINT) AS sessions, \
                     CAST(SUM(d.invocations) AS BIGINT) AS invocations, \
                     CAST(SUM(d.tool_uses) AS BIGINT) AS tool_uses, \
                     CAST(SUM(d.tool_failures) AS BIGINT) AS failures, \
                     COUNT(DISTINCT d.user_id) AS users, MAX(d.last_event_at) AS last_at \
                 FROM usage_daily d \
                 WHERE d.tenant_id = ?1 AND d.day >= ?2 AND d.day <= ?3{filter} \
                 GROUP BY d.skill_id) a ON a.skill_id = s.id \
             WHERE s.tenant_id = ?1"
        ),
        &params,
    )?;
    let mut skills = rows
        .iter()
        .map(|row| {
            Ok(SkillUsage {
                skill_id: SkillId::from_stored(row.text(0)?),
                slug: SkillSlug::from_stored(row.text(1)?),
                name: row.text(2)?,
                totals: totals(row, 3)?,
                users: row.int(8)?,
                last_used_at: row.opt_int(9)?.map(Timestamp::from_millis),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    skills.sort_by(|a, b| {
        (
            b.totals.skill_sessions,
            b.totals.invocations,
            b.totals.tool_uses,
        )
            .cmp(&(
                a.totals.skill_sessions,
                a.totals.invocations,
                a.totals.tool_uses,
            ))
            .then_with(|| a.slug.as_str().cmp(b.slug.as_str()))
    });
    Ok(skills)
}

pub(super) fn users(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    period: Period,
) -> Result<Vec<UserUsage>> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let params = period_params(tenant, &from, &to, None);
    let rows = conn.query(
        "SELECT u.id, u.email, u.role, \
                 COALESCE(a.sessions, 0), COALESCE(a.invocations, 0), COALESCE(a.tool_uses, 0), \
                 COALESCE(a.failures, 0), COALESCE(a.hours, 0), COALESCE(a.skills, 0), a.last_at \
             FROM users u \
             LEFT JOIN ( \
                 SELECT d.user_id, CAST(SUM(d.skill_sessions) AS BIGINT) AS sessions, \
                     CAST(SUM(d.invocations) AS BIGINT) AS invocations, \
                     CAST(SUM(d.tool_uses) AS BIGINT) AS tool_uses, \
                     CAST(SUM(d.tool_failures) AS BIGINT) AS failures, \
                     SUM(d.skill_sessions * s.hours_saved) AS hours, \
                     COUNT(DISTINCT d.skill_id) AS skills, MAX(d.last_event_at) AS last_at \
                 FROM usage_daily d \
                 LEFT JOIN skills s ON s.tenant_id = d.tenant_id AND s.id = d.skill_id \
                 WHERE d.tenant_id = ?1 AND d.day >= ?2 AND d.day <= ?3 \
                 GROUP BY d.user_id) a ON a.user_id = u.id \
             WHERE u.tenant_id = ?1",
        &params,
    )?;
    let mut users = rows
        .iter()
        .map(|row| {
            Ok(UserUsage {
                user_id: UserId::from_stored(row.text(0)?),
                email: row.text(1)?,
                role: row
                    .text(2)?
                    .parse::<Role>()
                    .map_err(|err| StoreError::Database(err.to_string()))?,
                totals: totals(row, 3)?,
                skills: row.int(8)?,
                last_used_at: row.opt_int(9)?.map(Timestamp::from_millis),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    users.sort_by(|a, b| {
        (b.totals.skill_sessions, b.totals.tool_uses)
            .cmp(&(a.totals.skill_sessions, a.totals.tool_uses))
            .then_with(|| a.email.cmp(&b.email))
    });
    Ok(users)
}

pub(super) fn timeseries(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    scope: &Scope,
    period: Period,
    bucket: Bucket,
) -> Result<Vec<Point>> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let (filter, user) = scope_filter(scope, "d.user_id", 4);
    let params = period_params(tenant, &from, &to, user);
    // The Monday of the row's ISO week, as YYYY-MM-DD.
    let start = match (bucket, conn.dialect()) {
        (Bucket::Day, _) => "d.day".to_owned(),
        (Bucket::Week, Dialect::Sqlite) => "date(d.day, '-6 days', 'weekday 1')".to_owned(),
        (Bucket::Week, Dialect::Postgres) => {
            // A timestamp without time zone: the session's time zone cannot shift the Monday.
            "to_char(date_trunc('week', CAST(d.day AS timestamp)), 'YYYY-MM-DD')".to_owned()
        }
    };
    let rows = conn.query(
        &format!(
            "SELECT {start} AS bucket, CAST(SUM(d.skill_sessions) AS BIGINT), \
                 CAST(SUM(d.tool_uses) AS BIGINT), COUNT(DISTINCT d.user_id) \
             FROM usage_daily d \
             WHERE d.tenant_id = ?1 AND d.day >= ?2 AND d.day <= ?3{filter} \
             GROUP BY bucket"
        ),
        &params,
    )?;
    let mut found = std::collections::HashMap::new();
    for row in &rows {
        let start = relay_core::Day::parse(&row.text(0)?)?;
        found.insert(start, (row.int(1)?, row.int(2)?, row.int(3)?));
    }
    Ok(bucket
        .starts(period)
        .into_iter()
        .map(|start| {
            let (skill_sessions, tool_uses, active_users) =
                found.get(&start).copied().unwrap_or_default();
            Point {
                start,
                skill_sessions,
                tool_uses,
                active_users,
            }
        })
        .collect())
}
