//! `POST /api/deployments`: relay-mcp reports that it wrote a skill into a project or user folder.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use relay_api::skills::{DeploymentRequest, DeploymentResponse};
use relay_core::{DeployScope, NewDeployment, SkillId};
use relay_store::Principal;

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body, read_json};

pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body: DeploymentRequest = read_json(request, state.config.limits.max_body).await?;
    let invalid =
        |err: relay_core::ValidationError| ApiError::bad_request("invalid", err.to_string());
    let skill_id = SkillId::parse(&body.skill_id).map_err(invalid)?;
    let scope = body.scope.parse::<DeployScope>().map_err(invalid)?;
    if body.hooks_version < 0 {
        return Err(ApiError::bad_request(
            "invalid",
            "hooks_version cannot be negative",
        ));
    }
    let new = NewDeployment {
        skill_id,
        user_id: principal.user.id.clone(),
        version: body.version,
        scope,
        install_id: body.install_id,
        hooks_version: body.hooks_version,
    };
    let tenant = principal.tenant.id.clone();
    let deployment = state
        .db(move |store| store.record_deployment(&tenant, &new))
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &DeploymentResponse {
            id: deployment.id.to_string(),
            skill_id: deployment.skill_id.to_string(),
            version: deployment.version,
            scope: deployment.scope.to_string(),
            install_id: deployment.install_id,
            hooks_version: deployment.hooks_version,
            created_at: deployment.created_at.to_string(),
            updated_at: deployment.updated_at.to_string(),
        },
    ))
}
