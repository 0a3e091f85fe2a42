//! Routing: a plain match on method and path, small enough to read at a glance.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::{ApiError, Body};
use crate::{AppState, routes};

pub(crate) async fn handle(
    state: Arc<AppState>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let timeout = state.config.limits.request_timeout;
    let response = match tokio::time::timeout(timeout, route(state, request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; try again",
        )
        .into_response(),
    };
    tracing::debug!(%peer, %method, path, status = response.status().as_u16(), "request");
    response
}

async fn route(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let segments: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["api", "health"]) => routes::health::get(&state).await,
        (_, ["api", "health"]) => Err(method_not_allowed()),
        _ => Err(ApiError::not_found(format!(
            "no route {} {}",
            request.method(),
            request.uri().path()
        ))),
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
