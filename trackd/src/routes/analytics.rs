//! `GET /api/analytics/summary|skills|timeseries|users`: what the tenant's skills are used for
//! and save, read from the daily rollup. Admins see the tenant (or, with `scope=me`, their own
//! use); members see their own use; only admins see the users breakdown.

use std::collections::HashMap;

use hyper::{Response, StatusCode};
use relay_api::analytics::{
    PointJson, SkillUsageJson, SkillsJson, SummaryJson, TimeseriesJson, UserUsageJson, UsersJson,
};
use relay_core::{Day, Role, Tenant, Timestamp, User};
use relay_store::analytics::{Bucket, Period, Scope};

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body};

/// Who is asking: a key's owner or a signed-in browser's user.
pub(crate) struct Caller {
    pub(crate) user: User,
    pub(crate) tenant: Tenant,
}

/// The period the query names: `from` and `to` (`YYYY-MM-DD`, both included), defaulting as
/// [`Period::from_parts`] says (the 30 days ending today).
pub(crate) fn period(params: &HashMap<String, String>) -> Result<Period, ApiError> {
    let day = |name: &str| {
        params
            .get(name)
            .filter(|value| !value.is_empty())
            .map(|value| {
                Day::parse(value).map_err(|_| {
                    ApiError::bad_request(
                        "invalid_period",
                        format!("{name} must be a date written YYYY-MM-DD"),
                    )
                })
            })
            .transpose()
    };
    Period::from_parts(day("from")?, day("to")?, Timestamp::now().day())
        .map_err(|err| ApiError::bad_request("invalid_period", err.to_string()))
}

/// Whose use: `scope=me` for one's own, `scope=tenant` (admins) for everyone's; by default an
/// admin's is the tenant and a member's their own.
pub(crate) fn scope(caller: &Caller, params: &HashMap<String, String>) -> Result<Scope, ApiError> {
    let admin = caller.user.role == Role::Admin;
    match params.get("scope").map(String::as_str) {
        None | Some("") if admin => Ok(Scope::Tenant),
        None | Some("") | Some("me") => Ok(Scope::User(caller.user.id.clone())),
        Some("tenant") if admin => Ok(Scope::Tenant),
        Some("tenant") => Err(ApiError::forbidden(
            "only admins see the whole organization's figures; yours are at scope=me",
        )),
        Some(other) => Err(ApiError::bad_request(
            "invalid_scope",
            format!("scope {other:?} is not one of me, tenant"),
        )),
    }
}

/// `bucket=day|week`, by day when left out.
pub(crate) fn bucket(params: &HashMap<String, String>) -> Result<Bucket, ApiError> {
    match params.get("bucket").map(String::as_str) {
        None | Some("") => Ok(Bucket::Day),
        Some(value) => value.parse().map_err(|err: relay_core::ValidationError| {
            ApiError::bad_request("invalid_bucket", err.to_string())
        }),
    }
}

/// The caller's tenant, and whose use over which period the query asks for.
fn asked(
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<(relay_core::TenantId, Scope, Period), ApiError> {
    Ok((
        caller.tenant.id.clone(),
        scope(caller, params)?,
        period(params)?,
    ))
}

pub(crate) async fn summary(
    state: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let (tenant, scope, period) = asked(caller, params)?;
    let asked = scope.clone();
    let summary = state
        .db(move |store| store.analytics_summary(&tenant, &asked, period))
        .await?;
    Ok(json(StatusCode::OK, &SummaryJson::new(&summary, &scope)))
}

pub(crate) async fn skills(
    state: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let (tenant, scope, period) = asked(caller, params)?;
    let asked = scope.clone();
    let skills = state
        .db(move |store| store.analytics_skills(&tenant, &asked, period))
        .await?;
    Ok(json(
        StatusCode::OK,
        &SkillsJson {
            from: period.from.to_string(),
            to: period.to.to_string(),
            scope: relay_api::analytics::scope_label(&scope),
            skills: skills.iter().map(SkillUsageJson::from).collect(),
        },
    ))
}

pub(crate) async fn timeseries(
    state: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let (tenant, scope, period) = asked(caller, params)?;
    let bucket = bucket(params)?;
    let asked = scope.clone();
    let points = state
        .db(move |store| store.analytics_timeseries(&tenant, &asked, period, bucket))
        .await?;
    Ok(json(
        StatusCode::OK,
        &TimeseriesJson {
            from: period.from.to_string(),
            to: period.to.to_string(),
            scope: relay_api::analytics::scope_label(&scope),
            bucket: bucket.as_str().to_owned(),
            points: points.iter().map(PointJson::from).collect(),
        },
    ))
}

pub(crate) async fn users(
    state: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    if caller.user.role != Role::Admin {
        return Err(ApiError::forbidden(format!(
            "only admins of {} see everyone's use; yours is at /api/analytics/summary",
            caller.tenant.name
        )));
    }
    let period = period(params)?;
    let tenant = caller.tenant.id.clone();
    let users = state
        .db(move |store| store.analytics_users(&tenant, period))
        .await?;
    Ok(json(
        StatusCode::OK,
        &UsersJson {
            from: period.from.to_string(),
            to: period.to.to_string(),
            users: users.iter().map(UserUsageJson::from).collect(),
        },
    ))
}
