//! The catalogue: list and search, one skill, one version's content, publish, rate.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use relay_api::skills::{
    FileContent, PublishRequest, PublishResponse, RatingRequest, SkillDetail, SkillList,
    SkillSummary, VersionContent, VersionInfo,
};
use relay_core::{Category, HoursSaved, Role, Skill, SkillFile, SkillFilePath, SkillSlug, Stars};
use relay_skillfile::SkillMeta;
use relay_store::{NewSkillVersion, Principal, PublishOutcome, SkillQuery};

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body, parse_query, read_json};

fn invalid(err: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid", err.to_string())
}

/// The skill with this slug in the key's tenant, or 404.
async fn find(state: &AppState, principal: &Principal, slug: &str) -> Result<Skill, ApiError> {
    let not_found = || {
        ApiError::not_found(format!(
            "no skill {slug:?} here: search with GET /api/skills?q=…"
        ))
    };
    let slug = SkillSlug::parse(slug).map_err(|_| not_found())?;
    let tenant = principal.tenant.id.clone();
    state
        .db(move |store| store.skill_by_slug(&tenant, &slug))
        .await?
        .ok_or_else(not_found)
}

pub(crate) async fn list<B>(
    state: &AppState,
    principal: &Principal,
    request: &Request<B>,
) -> Result<Response<Body>, ApiError> {
    let params = parse_query(request.uri().query());
    let mut query = SkillQuery {
        text: params.get("q").cloned().filter(|q| !q.trim().is_empty()),
        ..SkillQuery::default()
    };
    if let Some(category) = params.get("category").filter(|c| !c.is_empty()) {
        query.category = Some(Category::parse(category).map_err(invalid)?);
    }
    if let Some(limit) = params.get("limit").filter(|l| !l.is_empty()) {
        query.limit = limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid", "limit must be a number from 1 to 200")
            })?;
    }
    if let Some(cursor) = params.get("cursor").filter(|c| !c.is_empty()) {
        query.after = Some(SkillSlug::parse(cursor).map_err(|_| {
            ApiError::bad_request(
                "invalid",
                "cursor is not one this server gave: start again without it",
            )
        })?);
    }
    let tenant = principal.tenant.id.clone();
    let page = state
        .db(move |store| store.list_skills(&tenant, &query))
        .await?;
    Ok(json(
        StatusCode::OK,
        &SkillList {
            skills: page.skills.iter().map(SkillSummary::from).collect(),
            next_cursor: page.next.map(|slug| slug.to_string()),
        },
    ))
}

pub(crate) async fn get(
    state: &AppState,
    principal: &Principal,
    slug: &str,
) -> Result<Response<Body>, ApiError> {
    let skill = find(state, principal, slug).await?;
    let (tenant, id) = (principal.tenant.id.clone(), skill.id.clone());
    let versions = state
        .db(move |store| store.list_skill_versions(&tenant, &id))
        .await?;
    Ok(json(
        StatusCode::OK,
        &SkillDetail {
            skill: SkillSummary::from(&skill),
            versions: versions.iter().map(VersionInfo::from).collect(),
        },
    ))
}

pub(crate) async fn version(
    state: &AppState,
    principal: &Principal,
    slug: &str,
    version: &str,
) -> Result<Response<Body>, ApiError> {
    let wanted = match version {
        "latest" => None,
        number => Some(
            number
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    ApiError::bad_request("invalid", "the version is a number from 1, or `latest`")
                })?,
        ),
    };
    let skill = find(state, principal, slug).await?;
    let (tenant, id) = (principal.tenant.id.clone(), skill.id.clone());
    let content = state
        .db(move |store| store.skill_version(&tenant, &id, wanted))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{slug} has no version {version} (latest is {})",
                skill.latest_version
            ))
        })?;
    Ok(json(
        StatusCode::OK,
        &VersionContent {
            skill: SkillSummary::from(&skill),
            version: content.version,
            sha256: content.sha256,
            skill_md: content.skill_md,
            files: content.files.iter().map(FileContent::from).collect(),
        },
    ))
}

pub(crate) async fn publish(
    state: &AppState,
    principal: &Principal,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body: PublishRequest = read_json(request, state.config.limits.max_publish_body).await?;
    let meta = SkillMeta::read(&body.skill_md)
        .map_err(|err| ApiError::bad_request("invalid_skill", err.to_string()))?;
    let files = body
        .files
        .iter()
        .map(|file| {
            Ok(SkillFile {
                path: SkillFilePath::parse(&file.path).map_err(invalid)?,
                content: file.content.clone(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let category = body
        .category
        .as_deref()
        .map(Category::parse)
        .transpose()
        .map_err(invalid)?;
    let hours_saved = body
        .hours_saved
        .map(HoursSaved::new)
        .transpose()
        .map_err(invalid)?;

    // A new version of an existing skill is for its author or an admin.
    let tenant = principal.tenant.id.clone();
    let slug = meta.slug.clone();
    let existing = state
        .db(move |store| store.skill_by_slug(&tenant, &slug))
        .await?;
    if let Some(existing) = &existing
        && principal.user.role != Role::Admin
        && existing.author_id.as_ref() != Some(&principal.user.id)
    {
        return Err(ApiError::forbidden(format!(
            "{} belongs to its author; ask them or an admin to publish a new version",
            existing.slug
        )));
    }
    let new = NewSkillVersion {
        slug: meta.slug,
        name: meta.title,
        description: meta.description,
        category,
        hours_saved,
        skill_md: body.skill_md,
        files,
        author: Some(principal.user.id.clone()),
    };
    let tenant = principal.tenant.id.clone();
    let published = state
        .db(move |store| store.publish_skill(&tenant, &new))
        .await?;
    let (status, outcome) = match published.outcome {
        PublishOutcome::Created => (StatusCode::CREATED, "created"),
        PublishOutcome::NewVersion => (StatusCode::OK, "new_version"),
        PublishOutcome::Unchanged => (StatusCode::OK, "unchanged"),
    };
    Ok(json(
        status,
        &PublishResponse {
            skill: SkillSummary::from(&published.skill),
            version: published.version,
            sha256: published.sha256,
            outcome: outcome.to_owned(),
        },
    ))
}

pub(crate) async fn rate(
    state: &AppState,
    principal: &Principal,
    slug: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body: RatingRequest = read_json(request, state.config.limits.max_body).await?;
    let stars = Stars::new(body.stars).map_err(invalid)?;
    let skill = find(state, principal, slug).await?;
    let (tenant, id, user) = (
        principal.tenant.id.clone(),
        skill.id.clone(),
        principal.user.id.clone(),
    );
    let rating = state
        .db(move |store| {
            let rating = store.rate_skill(&tenant, &id, &user, stars, body.comment.as_deref())?;
            let skill = store.skill_by_id(&tenant, &id)?;
            Ok((rating, skill))
        })
        .await?;
    let (rating, skill) = rating;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "rating": {
                "stars": rating.stars.get(),
                "comment": rating.comment,
                "updated_at": rating.updated_at,
            },
            "skill": skill.as_ref().map(SkillSummary::from),
        }),
    ))
}
