//! `GET /api/health`: is trackd up, and can it reach its database?

use hyper::{Response, StatusCode};
use relay_api::Health;

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body};

pub(crate) async fn get(state: &AppState) -> Result<Response<Body>, ApiError> {
    let reachable = state.db(|store| store.ping()).await.is_ok();
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if reachable { "ok" } else { "unavailable" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: if reachable { "ok" } else { "unreachable" }.to_owned(),
    };
    Ok(json(status, &body))
}
