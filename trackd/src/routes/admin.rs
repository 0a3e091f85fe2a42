//! The tenant admin API: `GET /api/admin/users`, `PATCH /api/admin/users/{id}`,
//! `GET /api/admin/keys`, `DELETE /api/admin/keys/{id}`. Admin keys only, always within the
//! key's own tenant.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use relay_core::{ApiKey, ApiKeyId, Role, User, UserId};
use relay_store::Principal;
use serde::{Deserialize, Serialize};

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body, read_json};

fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only admins of {} manage users and keys; ask one of them",
            principal.tenant.name
        )))
    }
}

/// A 404 names what the admin asked for, not the store's internal wording.
fn not_in_tenant(err: ApiError, what: &str, id: &str) -> ApiError {
    if err.status == StatusCode::NOT_FOUND {
        ApiError::not_found(format!("no {what} {id} in this organization"))
    } else {
        err
    }
}

#[derive(Serialize)]
struct UserView {
    id: String,
    email: String,
    role: &'static str,
    disabled: bool,
    signed_in_with_sso: bool,
    created_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            role: user.role.as_str(),
            disabled: user.disabled,
            signed_in_with_sso: user.oidc_subject.is_some(),
            created_at: user.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
struct KeyView {
    id: String,
    name: String,
    prefix: String,
    user_id: String,
    user_email: Option<String>,
    created_at: String,
    revoked_at: Option<String>,
}

fn key_view(key: &ApiKey, users: &[User]) -> KeyView {
    KeyView {
        id: key.id.to_string(),
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        user_id: key.user_id.to_string(),
        user_email: users
            .iter()
            .find(|user| user.id == key.user_id)
            .map(|user| user.email.to_string()),
        created_at: key.created_at.to_string(),
        revoked_at: key.revoked_at.map(|at| at.to_string()),
    }
}

pub(crate) async fn list_users(
    state: &AppState,
    principal: &Principal,
) -> Result<Response<Body>, ApiError> {
    require_admin(principal)?;
    let tenant = principal.tenant.id.clone();
    let users = state.db(move |store| store.list_users(&tenant)).await?;
    let users: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "users": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    role: Option<Role>,
    disabled: Option<bool>,
}

/// Changes a user's role and/or disables them. The tenant keeps at least one active admin.
pub(crate) async fn update_user(
    state: &AppState,
    principal: &Principal,
    id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    require_admin(principal)?;
    let change: UserChange = read_json(request, state.config.limits.max_body).await?;
    if change.role.is_none() && change.disabled.is_none() {
        return Err(ApiError::bad_request(
            "invalid_request",
            r#"send {"role":"admin"|"member"} and/or {"disabled":true|false}"#,
        ));
    }
    let tenant = principal.tenant.id.clone();
    let user_id = UserId::from_stored(id.to_owned());
    let user = state
        .db(move |store| store.update_user_guarded(&tenant, &user_id, change.role, change.disabled))
        .await
        .map_err(|err| not_in_tenant(err, "user", id))?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "user": UserView::from(&user) }),
    ))
}

pub(crate) async fn list_keys(
    state: &AppState,
    principal: &Principal,
) -> Result<Response<Body>, ApiError> {
    require_admin(principal)?;
    let tenant = principal.tenant.id.clone();
    let (keys, users) = state
        .db(move |store| Ok((store.list_api_keys(&tenant)?, store.list_users(&tenant)?)))
        .await?;
    let keys: Vec<KeyView> = keys.iter().map(|key| key_view(key, &users)).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "keys": keys })))
}

/// Revokes a key of the tenant; every trackd stops accepting it within a second.
pub(crate) async fn revoke_key(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    require_admin(principal)?;
    let tenant = principal.tenant.id.clone();
    let key_id = ApiKeyId::from_stored(id.to_owned());
    let (key, users) = state
        .db(move |store| {
            Ok((
                store.revoke_api_key(&tenant, &key_id)?,
                store.list_users(&tenant)?,
            ))
        })
        .await
        .map_err(|err| not_in_tenant(err, "key", id))?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "key": key_view(&key, &users) }),
    ))
}
