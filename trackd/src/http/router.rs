//! Routing: a plain match on method and path segments, small enough to read at a glance. Every
//! answer is counted by route pattern and status, and logged at debug.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::{ApiError, Body};
use crate::{AppState, auth, routes, tenancy};

/// A matched route; the label is the pattern metrics and logs use.
enum Route {
    Health,
    Me,
    ListSkills,
    PublishSkill,
    GetSkill(String),
    GetVersion(String, String),
    RateSkill(String),
    Deploy,
    Track,
    AnalyticsSummary,
    AnalyticsSkills,
    AnalyticsTimeseries,
    AnalyticsUsers,
    AdminUsers,
    AdminUser(String),
    AdminKeys,
    AdminKey(String),
    Home,
    Login,
    Callback,
    Session,
    Token,
    Logout,
    TlsAllowed,
    Metrics,
    WrongMethod(&'static str),
    NotFound,
}

impl Route {
    fn of(method: &Method, path: &str) -> Self {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let get = method == Method::GET;
        match segments.as_slice() {
            ["api", "health"] if get => Route::Health,
            ["api", "health"] => Route::WrongMethod("/api/health"),
            ["api", "me"] if get => Route::Me,
            ["api", "me"] => Route::WrongMethod("/api/me"),
            ["api", "skills"] if get => Route::ListSkills,
            ["api", "skills"] if method == Method::POST => Route::PublishSkill,
            ["api", "skills"] => Route::WrongMethod("/api/skills"),
            ["api", "skills", slug] if get => Route::GetSkill((*slug).to_owned()),
            ["api", "skills", _] => Route::WrongMethod("/api/skills/{slug}"),
            ["api", "skills", slug, "versions", version] if get => {
                Route::GetVersion((*slug).to_owned(), (*version).to_owned())
            }
            ["api", "skills", _, "versions", _] => {
                Route::WrongMethod("/api/skills/{slug}/versions/{version}")
            }
            ["api", "skills", slug, "rating"] if method == Method::PUT => {
                Route::RateSkill((*slug).to_owned())
            }
            ["api", "skills", _, "rating"] => Route::WrongMethod("/api/skills/{slug}/rating"),
            ["api", "deployments"] if method == Method::POST => Route::Deploy,
            ["api", "deployments"] => Route::WrongMethod("/api/deployments"),
            ["api", "track"] if method == Method::POST => Route::Track,
            ["api", "track"] => Route::WrongMethod("/api/track"),
            ["api", "analytics", "summary"] if get => Route::AnalyticsSummary,
            ["api", "analytics", "skills"] if get => Route::AnalyticsSkills,
            ["api", "analytics", "timeseries"] if get => Route::AnalyticsTimeseries,
            ["api", "analytics", "users"] if get => Route::AnalyticsUsers,
            [
                "api",
                "analytics",
                "summary" | "skills" | "timeseries" | "users",
            ] => Route::WrongMethod("/api/analytics/{view}"),
            ["api", "admin", "users"] if get => Route::AdminUsers,
            ["api", "admin", "users"] => Route::WrongMethod("/api/admin/users"),
            ["api", "admin", "users", id] if method == Method::PATCH => {
                Route::AdminUser((*id).to_owned())
            }
            ["api", "admin", "users", _] => Route::WrongMethod("/api/admin/users/{id}"),
            ["api", "admin", "keys"] if get => Route::AdminKeys,
            ["api", "admin", "keys"] => Route::WrongMethod("/api/admin/keys"),
            ["api", "admin", "keys", id] if method == Method::DELETE => {
                Route::AdminKey((*id).to_owned())
            }
            ["api", "admin", "keys", _] => Route::WrongMethod("/api/admin/keys/{id}"),
            [""] if get => Route::Home,
            [""] => Route::WrongMethod("/"),
            ["auth", "login"] if get => Route::Login,
            ["auth", "login"] => Route::WrongMethod("/auth/login"),
            ["auth", "callback"] if get => Route::Callback,
            ["auth", "callback"] => Route::WrongMethod("/auth/callback"),
            ["auth", "session"] if get => Route::Session,
            ["auth", "session"] => Route::WrongMethod("/auth/session"),
            ["auth", "token"] if method == Method::POST => Route::Token,
            ["auth", "token"] => Route::WrongMethod("/auth/token"),
            ["auth", "logout"] if method == Method::POST => Route::Logout,
            ["auth", "logout"] => Route::WrongMethod("/auth/logout"),
            ["internal", "tls-allowed"] if get => Route::TlsAllowed,
            ["internal", "tls-allowed"] => Route::WrongMethod("/internal/tls-allowed"),
            ["metrics"] if get => Route::Metrics,
            ["metrics"] => Route::WrongMethod("/metrics"),
            _ => Route::NotFound,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Route::Health => "/api/health",
            Route::Me => "/api/me",
            Route::ListSkills | Route::PublishSkill => "/api/skills",
            Route::GetSkill(_) => "/api/skills/{slug}",
            Route::GetVersion(..) => "/api/skills/{slug}/versions/{version}",
            Route::RateSkill(_) => "/api/skills/{slug}/rating",
            Route::Deploy => "/api/deployments",
            Route::Track => "/api/track",
            Route::AnalyticsSummary => "/api/analytics/summary",
            Route::AnalyticsSkills => "/api/analytics/skills",
            Route::AnalyticsTimeseries => "/api/analytics/timeseries",
            Route::AnalyticsUsers => "/api/analytics/users",
            Route::AdminUsers => "/api/admin/users",
            Route::AdminUser(_) => "/api/admin/users/{id}",
            Route::AdminKeys => "/api/admin/keys",
            Route::AdminKey(_) => "/api/admin/keys/{id}",
            Route::Home => "/",
            Route::Login => "/auth/login",
            Route::Callback => "/auth/callback",
            Route::Session => "/auth/session",
            Route::Token => "/auth/token",
            Route::Logout => "/auth/logout",
            Route::TlsAllowed => "/internal/tls-allowed",
            Route::Metrics => "/metrics",
            Route::WrongMethod(label) => label,
            Route::NotFound => "unmatched",
        }
    }
}

pub(crate) async fn handle(
    state: Arc<AppState>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    let method = request.method().clone();
    let route = Route::of(&method, request.uri().path());
    let label = route.label();
    let timeout = state.config.limits.request_timeout;
    let response = match tokio::time::timeout(timeout, dispatch(&state, route, request, peer)).await
    {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; try again",
        )
        .into_response(),
    };
    let status = response.status().as_u16();
    state.metrics.request(label, status);
    // Never the path itself or the body: the route pattern says what was asked.
    tracing::debug!(%peer, %method, route = label, status, micros = started.elapsed().as_micros() as u64, "request");
    response
}

async fn dispatch(
    state: &AppState,
    route: Route,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    if matches!(
        route,
        Route::Login | Route::Callback | Route::Session | Route::Token
    ) && let Err(wait) = state
        .sign_in_limiter
        .take(&client_ip(&request, peer, &state.config.trusted_proxies), 1)
    {
        return Ok(super::rate_limited(
            "too many sign-in requests from this address",
            wait,
        ));
    }
    match route {
        Route::Health => routes::health::get(state).await,
        Route::TlsAllowed => routes::internal::tls_allowed(state, &request).await,
        Route::Metrics => Ok(routes::internal::metrics(state)),
        Route::Home => routes::pages::home(state, &request).await,
        Route::Login => routes::auth::login(state, &request).await,
        Route::Callback => routes::auth::callback(state, &request).await,
        Route::Session => routes::auth::session(state, &request).await,
        Route::Token => routes::auth::token(state, request).await,
        Route::Logout => routes::auth::logout(state, &request).await,
        Route::WrongMethod(label) => {
            let allow = match label {
                "/api/skills" => "GET, POST",
                "/api/skills/{slug}/rating" => "PUT",
                "/api/deployments" | "/api/track" | "/auth/token" | "/auth/logout" => "POST",
                "/api/admin/users/{id}" => "PATCH",
                "/api/admin/keys/{id}" => "DELETE",
                _ => "GET",
            };
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("this route takes {allow}"),
            )
            .into_response();
            response.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static(allow),
            );
            Ok(response)
        }
        Route::NotFound => Err(ApiError::not_found(format!(
            "no route {} {}",
            request.method(),
            request.uri().path()
        ))),
        authenticated => {
            let host = tenancy::resolve(state, &request).await?;
            // A signed-in browser may read (who it is, its analytics); everything else takes a key.
            let readable = matches!(
                authenticated,
                Route::Me
                    | Route::AnalyticsSummary
                    | Route::AnalyticsSkills
                    | Route::AnalyticsTimeseries
                    | Route::AnalyticsUsers
            );
            let session =
                if readable && !request.headers().contains_key(hyper::header::AUTHORIZATION) {
                    auth::session(state, &request, &host).await?
                } else {
                    None
                };
            let caller = match session {
                Some(session) => routes::analytics::Caller {
                    user: session.user,
                    tenant: session.tenant,
                },
                None => {
                    let principal = auth::authenticate(state, &request, &host).await?;
                    if readable {
                        routes::analytics::Caller {
                            user: principal.user.clone(),
                            tenant: principal.tenant.clone(),
                        }
                    } else {
                        return keyed(state, authenticated, principal, request).await;
                    }
                }
            };
            let params = super::parse_query(request.uri().query());
            match authenticated {
                Route::Me => Ok(routes::me::of(&caller.user, &caller.tenant)),
                Route::AnalyticsSummary => {
                    routes::analytics::summary(state, &caller, &params).await
                }
                Route::AnalyticsSkills => routes::analytics::skills(state, &caller, &params).await,
                Route::AnalyticsTimeseries => {
                    routes::analytics::timeseries(state, &caller, &params).await
                }
                Route::AnalyticsUsers => routes::analytics::users(state, &caller, &params).await,
                _ => Err(ApiError::internal()),
            }
        }
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not one (proxies append what they saw; a client's own entries come
/// first and are not believed).
pub(crate) fn client_ip<B>(
    request: &Request<B>,
    peer: SocketAddr,
    trusted: &[crate::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer.ip()) {
        return peer.ip();
    }
    let forwarded: Vec<std::net::IpAddr> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer.ip())
}

/// The routes only an API key opens.
async fn keyed(
    state: &AppState,
    route: Route,
    principal: Arc<relay_store::Principal>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    match route {
        Route::ListSkills => routes::skills::list(state, &principal, &request).await,
        Route::PublishSkill => routes::skills::publish(state, &principal, request).await,
        Route::GetSkill(slug) => routes::skills::get(state, &principal, &slug).await,
        Route::GetVersion(slug, version) => {
            routes::skills::version(state, &principal, &slug, &version).await
        }
        Route::RateSkill(slug) => routes::skills::rate(state, &principal, &slug, request).await,
        Route::Deploy => routes::deployments::create(state, &principal, request).await,
        Route::Track => routes::track::post(state, &principal, request).await,
        Route::AdminUsers => routes::admin::list_users(state, &principal).await,
        Route::AdminUser(id) => routes::admin::update_user(state, &principal, &id, request).await,
        Route::AdminKeys => routes::admin::list_keys(state, &principal).await,
        Route::AdminKey(id) => routes::admin::revoke_key(state, &principal, &id).await,
        _ => Err(ApiError::internal()),
    }
}
