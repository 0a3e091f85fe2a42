//! `GET /api/health`: is trackd up, and can it reach its database?

use hyper::{Response, StatusCode};

use crate::AppState;
use crate::http::{ApiError, Body, json_response};

pub(crate) async fn get(state: &std::sync::Arc<AppState>) -> Result<Response<Body>, ApiError> {
    let store = state.store.clone();
    let database = tokio::task::spawn_blocking(move || store.ping())
        .await
        .map_err(|_| ApiError::internal())?;
    let (status, database) = match database {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::warn!("health check: database unreachable: {err}");
            (StatusCode::SERVICE_UNAVAILABLE, "unreachable")
        }
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": database,
    });
    Ok(json_response(status, &body))
}
