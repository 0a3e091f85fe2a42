//! The provider's HTTP side: a hyper HTTP/1.1 server on a current-thread tokio runtime owned by a
//! background thread, and the four endpoints.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::form::{self, Params};
use super::keys;
use super::{
    CLIENT_ID, CLIENT_SECRET, CODE_LIFETIME, GRANTED_SCOPE, Grant, Identity, Shared, Signing,
    TokenSpec,
};

/// Request bodies larger than this are refused (a token request is a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;
/// Codes neither redeemed nor useful any more are forgotten after this long.
const FORGET_CODES_AFTER: Duration = Duration::from_secs(600);

type Reply = Response<Full<Bytes>>;

/// The server thread; dropping this stops it (and closes every connection).
pub(super) struct Server {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub(super) fn start(
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
    ) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (shutdown, stop) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("relay-test-oidc".to_owned())
            .spawn(move || {
                runtime.block_on(accept_loop(listener, shared, stop));
                // Dropping the runtime here drops every connection task.
            })?;
        Ok(Server {
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let shared = Arc::clone(&shared);
                            async move { Ok::<_, Infallible>(handle(&shared, request).await) }
                        });
                        // A client hanging up mid-request is its business, not the test's.
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or unreadable",
            );
        }
    };
    route(shared, &parts, &body)
}

fn route(shared: &Shared, parts: &Parts, body: &[u8]) -> Reply {
    let get_only = |reply: fn(&Shared, &Parts) -> Reply| match parts.method {
        Method::GET | Method::HEAD => reply(shared, parts),
        _ => method_not_allowed("GET, HEAD"),
    };
    match parts.uri.path() {
        "/.well-known/openid-configuration" => get_only(|shared, _| discovery(shared)),
        "/jwks" => get_only(|shared, _| {
            shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            json_reply(StatusCode::OK, &shared.jwks())
        }),
        "/authorize" => get_only(|shared, parts| authorize(shared, &parts.uri)),
        "/token" => match parts.method {
            Method::POST => token(shared, parts, body),
            _ => method_not_allowed("POST"),
        },
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

fn discovery(shared: &Shared) -> Reply {
    let issuer = &shared.issuer;
    json_reply(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": [
                "iss", "sub", "aud", "azp", "exp", "iat", "nonce",
                "email", "email_verified", "hd", "name",
            ],
        }),
    )
}

/// `GET /authorize`: checks the request, then approves at once and redirects back with a code.
fn authorize(shared: &Shared, uri: &Uri) -> Reply {
    match approve(shared, uri.query().unwrap_or("")) {
        Ok(location) => match HeaderValue::from_str(&location) {
            Ok(location) => Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, location)
                .header(header::CACHE_CONTROL, "no-store")
                .body(Full::new(Bytes::new()))
                .unwrap_or_else(|_| internal_error()),
            Err(_) => text(StatusCode::BAD_REQUEST, "redirect_uri is not a valid URI"),
        },
        Err(message) => text(StatusCode::BAD_REQUEST, &message),
    }
}

/// The redirect for an approved authorization request, or why the request is refused.
fn approve(shared: &Shared, query: &str) -> Result<String, String> {
    let params = Params::parse(query)?;
    match params.get("client_id") {
        Some(CLIENT_ID) => {}
        Some(other) => return Err(format!("unknown client_id {other:?}")),
        None => return Err("client_id is missing".to_owned()),
    }
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or("redirect_uri is missing")?;
    check_redirect_uri(redirect_uri)?;
    match params.get("response_type") {
        Some("code") => {}
        Some(other) => return Err(format!("unsupported response_type {other:?} (only code)")),
        None => return Err("response_type is missing".to_owned()),
    }
    if !params
        .get("scope")
        .is_some_and(|scope| scope.split(' ').any(|scope| scope == "openid"))
    {
        return Err("scope must include openid".to_owned());
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (Some(challenge), Some("S256")) => {
            if !is_pkce_value(challenge) {
                return Err("code_challenge is not 43-128 characters of [A-Za-z0-9-._~]".into());
            }
            Some(challenge.to_owned())
        }
        (Some(_), None) => {
            return Err(
                "code_challenge_method is missing (plain is not supported: use S256)".into(),
            );
        }
        (Some(_), Some(method)) => {
            return Err(format!(
                "unsupported code_challenge_method {method:?} (only S256)"
            ));
        }
        (None, Some(_)) => return Err("code_challenge_method without code_challenge".to_owned()),
    };

    let code = keys::random_token(32);
    let mut state = shared.lock();
    let identity = match params.get("login_hint") {
        Some(email) => Identity::new(email),
        None => state.identity.clone(),
    };
    state
        .codes
        .retain(|_, grant| grant.issued.elapsed() < FORGET_CODES_AFTER);
    state.codes.insert(
        code.clone(),
        Grant {
            identity,
            client_id: CLIENT_ID.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            nonce: params.get("nonce").map(str::to_owned),
            code_challenge,
            issued: std::time::Instant::now(),
            used: false,
        },
    );
    drop(state);

    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect_uri}{separator}code={}", form::encode(&code));
    if let Some(state) = params.get("state") {
        location.push_str("&state=");
        location.push_str(&form::encode(state));
    }
    Ok(location)
}

/// An absolute `http`/`https` URI without a fragment (RFC 6749 §3.1.2).
fn check_redirect_uri(redirect_uri: &str) -> Result<(), String> {
    let refuse = || format!("redirect_uri {redirect_uri:?} is not an absolute http(s) URI");
    if redirect_uri.contains('#') {
        return Err(format!("redirect_uri {redirect_uri:?} has a fragment"));
    }
    let uri: Uri = redirect_uri.parse().map_err(|_| refuse())?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(refuse()),
    }
}

/// RFC 7636's code_verifier syntax, which an S256 code_challenge also has.
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An error of the token endpoint (RFC 6749 §5.2).
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client tried HTTP Basic).
    basic_challenge: bool,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> TokenError {
        TokenError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    fn invalid_client(description: impl Into<String>, basic_challenge: bool) -> TokenError {
        TokenError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            basic_challenge,
        }
    }
}

/// `POST /token`.
fn token(shared: &Shared, parts: &Parts, body: &[u8]) -> Reply {
    match redeem(shared, parts, body) {
        Ok(answer) => {
            let mut reply = json_reply(StatusCode::OK, &answer);
            reply
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            reply
        }
        Err(err) => {
            let mut reply = json_reply(
                err.status,
                &json!({"error": err.error, "error_description": err.description}),
            );
            if err.basic_challenge {
                reply.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"relay-test-oidc\""),
                );
            }
            reply
        }
    }
}

fn redeem(shared: &Shared, parts: &Parts, body: &[u8]) -> Result<Value, TokenError> {
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if form_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(TokenError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = std::str::from_utf8(body)
        .map_err(|_| TokenError::new("invalid_request", "the body is not UTF-8"))?;
    let params = Params::parse(body).map_err(|err| TokenError::new("invalid_request", err))?;
    let client_id = authenticate(parts, &params)?;
    match params.get("grant_type") {
        Some("authorization_code") => {}
        Some(other) => {
            return Err(TokenError::new(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported (only authorization_code)"),
            ));
        }
        None => return Err(TokenError::new("invalid_request", "grant_type is missing")),
    }
    let code = params
        .get("code")
        .ok_or_else(|| TokenError::new("invalid_request", "code is missing"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| TokenError::new("invalid_request", "redirect_uri is missing"))?;
    let verifier = params.get("code_verifier");

    let mut state = shared.lock();
    let grant = state
        .codes
        .get_mut(code)
        .ok_or_else(|| TokenError::new("invalid_grant", "unknown authorization code"))?;
    if grant.used {
        return Err(TokenError::new(
            "invalid_grant",
            "authorization code already used",
        ));
    }
    // Any redemption attempt by an authenticated client uses the code up, as real providers do.
    grant.used = true;
    if grant.client_id != client_id {
        return Err(TokenError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if grant.issued.elapsed() > CODE_LIFETIME {
        return Err(TokenError::new(
            "invalid_grant",
            "authorization code expired",
        ));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(TokenError::new(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&grant.code_challenge, verifier) {
        (None, None) => {}
        (Some(challenge), Some(verifier)) => {
            if !is_pkce_value(verifier) {
                return Err(TokenError::new(
                    "invalid_grant",
                    "code_verifier is not 43-128 characters of [A-Za-z0-9-._~]",
                ));
            }
            if keys::s256(verifier) != *challenge {
                return Err(TokenError::new(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(TokenError::new(
                "invalid_grant",
                "code_verifier is missing (the authorization request had a code_challenge)",
            ));
        }
        (None, Some(_)) => {
            return Err(TokenError::new(
                "invalid_grant",
                "code_verifier given, but the authorization request had no code_challenge",
            ));
        }
    }
    let mut spec = TokenSpec::for_identity(&grant.identity, CLIENT_ID);
    spec.azp = Some(CLIENT_ID.to_owned());
    spec.nonce = grant.nonce.clone();
    spec.signing = Signing::Rs256;
    let spec = match state.tamper.take() {
        Some(tamper) => spec.tampered(tamper),
        None => spec,
    };
    drop(state);

    let id_token = shared.mint(&spec);
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    Ok(json!({
        "access_token": keys::random_token(32),
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
        "scope": GRANTED_SCOPE,
    }))
}

/// The authenticated client's id: `client_secret_basic` or `client_secret_post`, not both.
fn authenticate(parts: &Parts, params: &Params) -> Result<String, TokenError> {
    let Some(authorization) = parts.headers.get(header::AUTHORIZATION) else {
        let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret"))
        else {
            return Err(TokenError::invalid_client(
                "no client authentication (HTTP Basic, or client_id and client_secret in the form)",
                false,
            ));
        };
        return check_client(id, secret, false);
    };
    let bad_header = || TokenError::invalid_client("malformed HTTP Basic credentials", true);
    let authorization = authorization.to_str().map_err(|_| bad_header())?;
    let (scheme, credentials) = authorization.split_once(' ').ok_or_else(bad_header)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client(
            format!("unsupported authorization scheme {scheme:?} (use Basic)"),
            true,
        ));
    }
    let credentials = STANDARD
        .decode(credentials.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad_header)?;
    let (id, secret) = credentials.split_once(':').ok_or_else(bad_header)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    let id = form::decode(id).ok_or_else(bad_header)?;
    let secret = form::decode(secret).ok_or_else(bad_header)?;
    if params.get("client_secret").is_some() {
        return Err(TokenError::new(
            "invalid_request",
            "client authenticated twice (HTTP Basic and client_secret in the form)",
        ));
    }
    if params.get("client_id").is_some_and(|form_id| form_id != id) {
        return Err(TokenError::new(
            "invalid_request",
            "client_id in the form differs from the HTTP Basic user",
        ));
    }
    check_client(&id, &secret, true)
}

fn check_client(id: &str, secret: &str, basic: bool) -> Result<String, TokenError> {
    if id == CLIENT_ID && secret == CLIENT_SECRET {
        Ok(id.to_owned())
    } else {
        Err(TokenError::invalid_client(
            "unknown client or wrong client secret",
            basic,
        ))
    }
}

fn json_reply(status: StatusCode, value: &Value) -> Reply {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_else(|_| internal_error())
}

fn text(status: StatusCode, message: &str) -> Reply {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(format!("{message}\n"))))
        .unwrap_or_else(|_| internal_error())
}

fn method_not_allowed(allow: &'static str) -> Reply {
    let mut reply = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    reply
}

fn internal_error() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from_static(b"internal error\n")));
    *reply.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    reply
}
