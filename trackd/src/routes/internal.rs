//! Routes for the operator's machinery: Caddy's on-demand TLS check and Prometheus.

use hyper::{Request, Response, StatusCode};

use crate::AppState;
use crate::http::{ApiError, Body, json_response, parse_query, text_response};
use crate::tenancy::{HostName, classify, host_name};

/// `GET /internal/tls-allowed?domain=`: 200 for the base domain and existing tenant hosts, so
/// Caddy asks for certificates only for names this server really serves.
pub(crate) async fn tls_allowed<B>(
    state: &AppState,
    request: &Request<B>,
) -> Result<Response<Body>, ApiError> {
    let query = parse_query(request.uri().query());
    let domain = query.get("domain").map(String::as_str).unwrap_or("");
    let Ok(host) = host_name(domain) else {
        return Err(ApiError::not_found("not a host this server serves"));
    };
    let allowed = match classify(&host, &state.config.base_domain) {
        HostName::Base => true,
        HostName::Subdomain(sub) => state.tenants.find(state, &sub).await?.is_some(),
        HostName::Other => false,
    };
    if allowed {
        Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "allowed": host }),
        ))
    } else {
        Err(ApiError::not_found("not a host this server serves"))
    }
}

/// `GET /metrics` in the Prometheus text format.
pub(crate) fn metrics(state: &AppState) -> Response<Body> {
    text_response(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.metrics.render(),
    )
}
