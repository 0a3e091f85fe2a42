//! API-key authentication: `Authorization: Bearer rly_…`, looked up by SHA-256, cached briefly.
//!
//! A cached answer (found or not) is reused for at most `Limits::key_cache_ttl` (under a second),
//! so a key revoked by any process (relay-admin on the database, another trackd) stops working
//! within a second.

use std::sync::Arc;

use hyper::{Request, StatusCode, header};
use relay_core::{ApiKeyHash, ApiKeySecret};
use relay_store::Principal;

use crate::AppState;
use crate::cache::TtlCache;
use crate::http::ApiError;
use crate::tenancy::HostTenant;

const KEY_CACHE_MAX: usize = 100_000;

/// Key lookups by hash, found or not, reused for `Limits::key_cache_ttl`.
pub(crate) struct KeyCache(TtlCache<Option<Arc<Principal>>>);

impl KeyCache {
    pub(crate) fn new(ttl: std::time::Duration) -> Self {
        Self(TtlCache::new(ttl, KEY_CACHE_MAX))
    }

    async fn lookup(
        &self,
        state: &AppState,
        hash: ApiKeyHash,
    ) -> Result<Option<Arc<Principal>>, ApiError> {
        if let Some(principal) = self.0.get(hash.as_str()) {
            return Ok(principal);
        }
        let key = hash.as_str().to_owned();
        let asked = std::time::Instant::now();
        let principal = state
            .db(move |store| store.authenticate(&hash))
            .await?
            .map(Arc::new);
        self.0.put(key, principal.clone(), asked);
        Ok(principal)
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The key's owner, if the request carries a live key that may act on the Host's tenant.
pub(crate) async fn authenticate<B>(
    state: &AppState,
    request: &Request<B>,
    host: &HostTenant,
) -> Result<Arc<Principal>, ApiError> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("send your Relay API key as `Authorization: Bearer rly_…`"))?;
    let key = header
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer rly_…`"))?;
    // Only something shaped like a Relay key is worth a database query (and a cache entry).
    let shaped = key.len() == ApiKeySecret::LEN
        && key.starts_with(ApiKeySecret::PREFIX)
        && key[ApiKeySecret::PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric());
    if !shaped {
        return Err(unauthorized(
            "this is not a Relay API key (they start with rly_): sign in with `relay-mcp login`",
        ));
    }
    let principal = state
        .keys
        .lookup(state, ApiKeyHash::of_presented(key))
        .await?
        .ok_or_else(|| {
            unauthorized("this API key is unknown or revoked: sign in again with `relay-mcp login`")
        })?;
    if let HostTenant::Tenant(tenant) = host
        && tenant.id != principal.tenant.id
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_tenant",
            format!(
                "this key belongs to another organization than {}: use the address of your own",
                tenant.slug
            ),
        ));
    }
    Ok(principal)
}

/// The browser's dashboard session, if its cookie names a live one for the Host's tenant.
/// Only GET routes accept a session: a cookie alone must never be able to change anything.
pub(crate) async fn session<B>(
    state: &AppState,
    request: &Request<B>,
    host: &HostTenant,
) -> Result<Option<relay_store::WebSession>, ApiError> {
    let HostTenant::Tenant(tenant) = host else {
        return Ok(None);
    };
    let Some(id) = crate::sso::cookie(request, crate::routes::auth::SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = crate::sso::sha256_hex(&id);
    let session = state
        .db(move |store| store.web_session(&id_hash, relay_core::Timestamp::now()))
        .await?;
    Ok(session.filter(|session| session.tenant.id == tenant.id))
}
