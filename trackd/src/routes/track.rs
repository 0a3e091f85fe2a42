//! `POST /api/track`: the ingest path. Parse (dropping everything Relay may not keep), check,
//! rate-limit, hand to the writer, and answer 202 only once the events are committed.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use relay_api::track::{BodyError, Rejected, TrackBody, TrackResponse};
use relay_core::{EventBatch, NewEvent, SkillId, Timestamp};
use relay_store::{Principal, RejectReason, StoreError};

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body, parse_query, rate_limited, read_json_bytes};

pub(crate) async fn post(
    state: &AppState,
    principal: &Principal,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let query = parse_query(request.uri().query());
    let bytes = read_json_bytes(request, state.config.limits.max_track_body).await?;
    let body = TrackBody::parse(&bytes).map_err(|err| match err {
        BodyError::Malformed(_) => ApiError::bad_request("malformed_json", err.to_string()),
        BodyError::TooManyEvents(_) => ApiError::bad_request("too_many_events", err.to_string()),
    })?;
    // The raw body may hold tool inputs and outputs: it goes no further than the parser.
    drop(bytes);

    let now = Timestamp::now();
    let parsed: Vec<Result<NewEvent, relay_api::track::EventError>> = match body {
        TrackBody::Single(event) => vec![event.into_event(now)],
        TrackBody::Batch(events) => events
            .into_iter()
            .map(|event| event.into_event(now))
            .collect(),
        TrackBody::Hook(event) => {
            let skill = query.get("skill").ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_event",
                    "a raw hook input needs ?skill=sk_… in the URL",
                )
            })?;
            let skill = SkillId::parse(skill)
                .map_err(|err| ApiError::bad_request("invalid_event", err.to_string()))?;
            vec![event.from_hook(&skill, now, "hook")]
        }
    };

    if let Err(wait) = state.limiter.take(&principal.key.id, parsed.len()) {
        return Ok(rate_limited("too many events from this key", wait));
    }

    let mut rejected = Vec::new();
    let mut events = Vec::with_capacity(parsed.len());
    // Where each event sent to the store sits in the request, to report rejections by index.
    let mut positions = Vec::with_capacity(parsed.len());
    for (index, event) in parsed.into_iter().enumerate() {
        match event {
            Ok(event) => {
                positions.push(index);
                events.push(event);
            }
            Err(err) => rejected.push(Rejected {
                index,
                code: err.code.to_owned(),
                message: err.message,
            }),
        }
    }
    state
        .metrics
        .events_rejected
        .fetch_add(rejected.len() as u64, std::sync::atomic::Ordering::Relaxed);

    let mut answer = TrackResponse::default();
    if !events.is_empty() {
        let batch = EventBatch {
            tenant_id: principal.tenant.id.clone(),
            user_id: principal.user.id.clone(),
            events,
        };
        let outcome = state.writer.write(batch).await.map_err(|err| match err {
            StoreError::Unavailable(cause) => {
                tracing::error!("events not stored, database unavailable: {cause}");
                ApiError::unavailable()
            }
            other => ApiError::from(other),
        })?;
        answer.accepted = outcome.accepted;
        answer.duplicates = outcome.duplicates;
        for refused in outcome.rejected {
            let message = match refused.reason {
                RejectReason::UnknownSkill => "no skill with this skill_id in your organization",
                RejectReason::OtherSkill => "this invocation names another skill than skill_id",
            };
            rejected.push(Rejected {
                index: positions[refused.index],
                code: refused.reason.code().to_owned(),
                message: message.to_owned(),
            });
        }
    }
    rejected.sort_by_key(|r| r.index);
    answer.rejected = rejected;

    if answer.accepted == 0 && answer.duplicates == 0 {
        // Nothing in the body was usable.
        let only_unknown_skills = !answer.rejected.is_empty()
            && answer.rejected.iter().all(|r| r.code == "unknown_skill");
        let (status, code, message) = if only_unknown_skills {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_skill",
                "no event names a skill of your organization",
            )
        } else {
            (
                StatusCode::BAD_REQUEST,
                "invalid_event",
                "no event in the body is valid",
            )
        };
        let first = answer.rejected.first().map_or_else(
            || "the body holds no events".to_owned(),
            |r| r.message.clone(),
        );
        return Ok(json(
            status,
            &serde_json::json!({
                "error": { "code": code, "message": format!("{message}: {first}") },
                "rejected": answer.rejected,
            }),
        ));
    }
    Ok(json(StatusCode::ACCEPTED, &answer))
}
