//! The HTML pages: the landing page on the base domain and the signed-in page on a tenant host.
//! Plain server-rendered HTML, readable without JavaScript.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::AppState;
use crate::auth;
use crate::http::{ApiError, Body, text_response};
use crate::tenancy::{self, HostTenant};

const HTML: &str = "text/html; charset=utf-8";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{}</style></head><body>{body}</body></html>\n",
        escape(title),
        super::dashboard::STYLE
    );
    let mut response = text_response(StatusCode::OK, HTML, html);
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /`: the landing page on the base domain; on a tenant host, who is signed in.
pub(crate) async fn home(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let host = tenancy::resolve(state, request).await?;
    let sign_in = if state.sso.is_some() {
        "<p><a class=\"button\" href=\"/auth/login\">Sign in with your company account</a></p>"
    } else {
        "<p>Single sign-on is not configured on this server yet; ask your administrator for an \
         API key.</p>"
    };
    match host {
        HostTenant::Tenant(tenant) => {
            let body = match auth::session(state, request, &HostTenant::Tenant(tenant.clone()))
                .await?
            {
                Some(session) => {
                    let params = crate::http::parse_query(request.uri().query());
                    match super::dashboard::body(state, &session, &params).await {
                        Ok(body) => body,
                        // A person's mistake in the form: say so on a page, not in JSON.
                        Err(err) if err.status.is_client_error() => {
                            let body = format!(
                                "<h1>{}</h1><p>{}</p><p><a href=\"/\">Back to the dashboard</a></p>",
                                escape(&tenant.name),
                                escape(&err.message)
                            );
                            let mut response = page(&format!("{} · Relay", tenant.name), &body);
                            *response.status_mut() = err.status;
                            return Ok(response);
                        }
                        Err(err) => return Err(err),
                    }
                }
                None => format!(
                    "<h1>{}</h1><p>Relay: your organization's Claude Code skills.</p>{sign_in}",
                    escape(&tenant.name)
                ),
            };
            Ok(page(&format!("{} · Relay", tenant.name), &body))
        }
        HostTenant::Base | HostTenant::Other => {
            // Which organization is found from the work email, so the form asks for it.
            let sign_in = if state.sso.is_some() {
                "<form method=\"get\" action=\"/auth/login\"><p><label>Work email \
                 <input type=\"email\" name=\"login_hint\" required \
                 placeholder=\"you@company.com\" autocomplete=\"email\"></label> \
                 <button>Sign in</button></p></form>"
            } else {
                sign_in
            };
            Ok(page(
                "Relay",
                &format!(
                    "<h1>Relay</h1><p>Your company's Claude Code skills, and how much they are used.</p>{sign_in}"
                ),
            ))
        }
    }
}
