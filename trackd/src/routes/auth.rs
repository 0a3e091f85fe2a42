//! Single sign-on: `/auth/login`, `/auth/callback`, `/auth/session`, `/auth/token`,
//! `/auth/logout`.
//!
//! The flow: a sign-in starts at `/auth/login` (on a tenant host it is first moved to the base
//! domain, where the one registered callback lives). trackd remembers it under a random `state`,
//! binds it to the browser with a cookie, and sends the browser to the provider with a nonce and
//! PKCE. The provider returns to `/auth/callback`; trackd exchanges the code, verifies the ID
//! token, maps the email's domain to a tenant and provisions the user. Then a CLI's loopback gets
//! a one-time code (redeemed with its PKCE verifier at `/auth/token` for an API key), or the
//! browser is handed to its tenant host with a one-time code that `/auth/session` turns into a
//! session cookie.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use relay_core::{ApiKeySecret, Email, Tenant, Timestamp, User};
use relay_store::{AuthCode, CliLogin, CodePurpose, LoginFlow, Redemption};
use serde::Serialize;

use super::json;
use crate::AppState;
use crate::http::{ApiError, Body, body, empty_response, parse_query};
use crate::sso::{self, Oidc, SsoError, oidc::IdClaims};
use crate::tenancy::{self, HostTenant};

/// The cookie that binds a sign-in to the browser that started it (base domain, `/auth`).
const LOGIN_COOKIE: &str = "relay_login";
/// The dashboard session cookie (tenant host).
pub(crate) const SESSION_COOKIE: &str = "relay_session";
/// Binds a browser sign-in to the browser on its tenant host, for the session hand-off.
const HANDOFF_COOKIE: &str = "relay_handoff";
/// A sign-in must come back from the provider within this time.
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// One-time codes expire after this time.
const CODE_TTL: Duration = Duration::from_secs(5 * 60);
/// How long a dashboard session lasts.
const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const TOKEN_BODY_LIMIT: usize = 64 * 1024;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

fn later(ttl: Duration) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().as_millis() + ttl.as_millis() as i64)
}

/// The provider, or 404 when this server has no SSO configured.
fn provider(state: &AppState) -> Result<Arc<Oidc>, ApiError> {
    state.sso.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "sso_disabled",
            "single sign-on is not configured on this server: the operator sets \
             RELAY_OIDC_CLIENT_ID (see the README); until then ask for an API key",
        )
    })
}

/// Runs a blocking call to the provider on the blocking pool.
async fn with_provider<T: Send + 'static>(
    oidc: &Arc<Oidc>,
    call: impl FnOnce(&Oidc) -> Result<T, SsoError> + Send + 'static,
) -> Result<T, ApiError> {
    let oidc = oidc.clone();
    tokio::task::spawn_blocking(move || call(&oidc))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(sso_error)
}

fn sso_error(err: SsoError) -> ApiError {
    match &err {
        SsoError::Unreachable(_) | SsoError::Provider(_) => {
            tracing::warn!("sign-in provider: {err}");
            ApiError::new(StatusCode::BAD_GATEWAY, "sso_unavailable", err.to_string())
        }
        SsoError::Refused(_) => {
            tracing::info!("sign-in provider: {err}");
            ApiError::bad_request("sso_refused", err.to_string())
        }
        SsoError::Token(_) => {
            tracing::info!("refused an ID token: {err}");
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", err.to_string())
        }
    }
}

fn redirect(location: &str) -> Response<Body> {
    let mut response = empty_response(StatusCode::FOUND);
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response<Body>) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
}

fn add_cookie(response: &mut Response<Body>, cookie: &str) {
    if let Ok(value) = header::HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `GET /auth/login`: starts a sign-in.
///
/// A CLI sign-in may start on any host (PKCE binds its code to the CLI). A browser sign-in
/// starts on its tenant host, which sets a hand-off cookie so that only this browser can turn
/// the result into a session there; from the base domain, the person's email (`login_hint`,
/// the landing page's form) names the tenant host to start on.
pub(crate) async fn login(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let oidc = provider(state)?;
    let params = parse_query(request.uri().query());
    let host = tenancy::resolve(state, request).await?;
    let cli = cli_request(&params)?;
    let hint = params.get("login_hint").filter(|hint| !hint.is_empty());
    // The callback, and so the sign-in cookie, live on the base domain: go on there.
    if !matches!(host, HostTenant::Base) {
        let mut pairs: Vec<(&str, &str)> = [
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
            "login_hint",
        ]
        .into_iter()
        .filter_map(|key| params.get(key).map(|value| (key, value.as_str())))
        .collect();
        let mut response_cookie = None;
        let handoff_hash;
        if let HostTenant::Tenant(tenant) = &host {
            pairs.push(("tenant", tenant.slug.as_str()));
            if cli.is_none() {
                let handoff = sso::random_token();
                handoff_hash = sso::sha256_hex(&handoff);
                pairs.push(("handoff", handoff_hash.as_str()));
                response_cookie = Some(sso::set_cookie(
                    HANDOFF_COOKIE,
                    &handoff,
                    "/auth",
                    LOGIN_TTL.as_secs(),
                    state.public_url.secure(),
                ));
            }
        }
        let base = format!("{}/auth/login", state.public_url.base());
        let mut response = redirect(&sso::with_query(&base, &pairs));
        if let Some(cookie) = response_cookie {
            add_cookie(&mut response, &cookie);
        }
        return Ok(response);
    }

    let tenant = match params.get("tenant") {
        None => None,
        Some(slug) => Some(state.tenants.find(state, slug).await?.ok_or_else(|| {
            ApiError::not_found(format!("no organization {slug:?} on this server"))
        })?),
    };
    let handoff_hash = params
        .get("handoff")
        .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .cloned();
    if cli.is_none() && (tenant.is_none() || handoff_hash.is_none()) {
        // A browser sign-in must start on its tenant host: find it.
        let slug = match (&tenant, hint) {
            (Some(tenant), _) => tenant.slug.to_string(),
            (None, Some(hint)) => tenant_of_email(state, hint).await?.slug.to_string(),
            (None, None) => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!(
                        "say who you are: sign in from your organization's address \
                         ({}), or give your work email as login_hint",
                        state.public_url.tenant("<organization>")
                    ),
                ));
            }
        };
        let start = format!("{}/auth/login", state.public_url.tenant(&slug));
        let pairs: Vec<(&str, &str)> = hint
            .map(|hint| ("login_hint", hint.as_str()))
            .into_iter()
            .collect();
        return Ok(redirect(&sso::with_query(&start, &pairs)));
    }

    let flow_state = sso::random_token();
    let browser = sso::random_token();
    let nonce = sso::random_token();
    let verifier = sso::random_token();
    let now = Timestamp::now();
    let flow = LoginFlow {
        state_hash: sso::sha256_hex(&flow_state),
        tenant: tenant.as_ref().map(|tenant| tenant.id.clone()),
        browser_hash: sso::sha256_hex(&browser),
        handoff_hash: if cli.is_none() { handoff_hash } else { None },
        nonce: nonce.clone(),
        pkce_verifier: verifier.clone(),
        cli,
        created_at: now,
        expires_at: later(LOGIN_TTL),
    };
    let metadata = with_provider(&oidc, |oidc| oidc.metadata()).await?;
    state.db(move |store| store.start_login(&flow)).await?;

    let challenge = sso::pkce_challenge(&verifier);
    let callback = state.public_url.callback();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", oidc.config().client_id.as_str()),
        ("redirect_uri", callback.as_str()),
        ("scope", "openid email profile"),
        ("state", flow_state.as_str()),
        ("nonce", nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(hint) = hint {
        pairs.push(("login_hint", hint.as_str()));
    }
    let mut response = redirect(&sso::with_query(&metadata.authorization_endpoint, &pairs));
    add_cookie(
        &mut response,
        &sso::set_cookie(
            LOGIN_COOKIE,
            &browser,
            "/auth",
            LOGIN_TTL.as_secs(),
            state.public_url.secure(),
        ),
    );
    Ok(response)
}

/// The tenant owning an email address's domain, or a refusal a person understands.
async fn tenant_of_email(state: &AppState, email: &str) -> Result<Tenant, ApiError> {
    let email = Email::parse(email).map_err(|_| {
        ApiError::bad_request(
            "invalid_request",
            format!("{email:?} is not an email address"),
        )
    })?;
    let domain = email.domain();
    let lookup = domain.clone();
    state
        .db(move |store| store.tenant_by_domain(&lookup))
        .await?
        .ok_or_else(|| unknown_domain(&email))
}

fn unknown_domain(email: &Email) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "unknown_domain",
        format!(
            "{email} belongs to no organization on this server: an administrator adds {} to \
             your organization first",
            email.domain()
        ),
    )
}

/// The CLI's part of `/auth/login`: all of `redirect_uri`, `state` and an S256
/// `code_challenge`, or none of them (a browser sign-in).
fn cli_request(params: &HashMap<String, String>) -> Result<Option<CliLogin>, ApiError> {
    let redirect_uri = params.get("redirect_uri");
    let client_state = params.get("state");
    let challenge = params.get("code_challenge");
    if redirect_uri.is_none() && client_state.is_none() && challenge.is_none() {
        return Ok(None);
    }
    let invalid = |message: &str| ApiError::bad_request("invalid_request", message);
    let redirect_uri = redirect_uri
        .ok_or_else(|| invalid("a CLI sign-in needs redirect_uri, state and code_challenge"))?;
    if !sso::is_loopback_redirect(redirect_uri) {
        return Err(invalid(
            "redirect_uri must be a loopback address on this machine \
             (http://127.0.0.1:<port>/…); sign-in codes are never sent elsewhere",
        ));
    }
    let client_state = client_state
        .filter(|value| !value.is_empty() && value.len() <= 512)
        .ok_or_else(|| invalid("a CLI sign-in needs a state of 1-512 characters"))?;
    let challenge = challenge
        .filter(|value| sso::is_pkce_value(value))
        .ok_or_else(|| {
            invalid("a CLI sign-in needs a PKCE code_challenge (S256, 43 characters)")
        })?;
    if params
        .get("code_challenge_method")
        .is_some_and(|method| method != "S256")
    {
        return Err(invalid("only the S256 code_challenge_method is accepted"));
    }
    Ok(Some(CliLogin {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        code_challenge: challenge.clone(),
    }))
}

/// `GET /auth/callback` (base domain): the provider sends the browser back here.
pub(crate) async fn callback(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let oidc = provider(state)?;
    if !matches!(tenancy::resolve(state, request).await?, HostTenant::Base) {
        return Err(ApiError::not_found(format!(
            "the sign-in callback is at {}",
            state.public_url.callback()
        )));
    }
    let params = parse_query(request.uri().query());
    let expired = || {
        ApiError::bad_request(
            "invalid_state",
            "this sign-in has expired or was already completed: start again \
             (`relay-mcp login`, or the sign-in page)",
        )
    };
    let flow_state = params.get("state").ok_or_else(expired)?;
    let state_hash = sso::sha256_hex(flow_state);
    let flow = state
        .db(move |store| store.take_login(&state_hash, Timestamp::now()))
        .await?
        .ok_or_else(expired)?;

    let same_browser = sso::cookie(request, LOGIN_COOKIE)
        .is_some_and(|value| sso::sha256_hex(&value) == flow.browser_hash);
    let outcome = if same_browser {
        complete(state, &oidc, &flow, &params).await
    } else {
        Err(ApiError::bad_request(
            "state_mismatch",
            "this sign-in was started in another browser (or its cookie is gone): start again here",
        ))
    };
    let mut response = match (outcome, &flow.cli) {
        (Ok((tenant, user)), Some(cli)) => {
            let code = issue_code(state, &tenant, &user, CodePurpose::Cli, Some(cli), None).await?;
            redirect(&sso::with_query(
                &cli.redirect_uri,
                &[("code", code.as_str()), ("state", cli.state.as_str())],
            ))
        }
        (Ok((tenant, user)), None) => {
            let code = issue_code(
                state,
                &tenant,
                &user,
                CodePurpose::Web,
                None,
                flow.handoff_hash.clone(),
            )
            .await?;
            let session = format!(
                "{}/auth/session",
                state.public_url.tenant(tenant.slug.as_str())
            );
            redirect(&sso::with_query(&session, &[("code", code.as_str())]))
        }
        // The CLI waits on its loopback: tell it there, the OAuth way, so it can say why.
        (Err(err), Some(cli)) => redirect(&sso::with_query(
            &cli.redirect_uri,
            &[
                ("error", err.code),
                ("error_description", err.message.as_str()),
                ("state", cli.state.as_str()),
            ],
        )),
        (Err(err), None) => err.into_response(),
    };
    add_cookie(
        &mut response,
        &sso::set_cookie(LOGIN_COOKIE, "", "/auth", 0, state.public_url.secure()),
    );
    Ok(response)
}

/// The provider's answer to a sign-in, verified, as a person of a tenant.
async fn complete(
    state: &AppState,
    oidc: &Arc<Oidc>,
    flow: &LoginFlow,
    params: &HashMap<String, String>,
) -> Result<(Tenant, User), ApiError> {
    if let Some(error) = params.get("error") {
        let description: String = params
            .get("error_description")
            .map(|text| text.chars().take(200).collect())
            .unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("the sign-in provider did not sign you in ({error}) {description}")
                .trim_end()
                .to_owned(),
        ));
    }
    let code = params
        .get("code")
        .filter(|code| !code.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_request", "the provider sent no authorization code")
        })?
        .clone();
    let verifier = flow.pkce_verifier.clone();
    let callback = state.public_url.callback();
    let nonce = flow.nonce.clone();
    let claims = with_provider(oidc, move |oidc| {
        let id_token = oidc.exchange_code(&code, &verifier, &callback)?;
        oidc.verify(&id_token, Some(&nonce))
    })
    .await?;
    let expected = match &flow.tenant {
        Some(id) => {
            let id = id.clone();
            state.db(move |store| store.tenant_by_id(&id)).await?
        }
        None => None,
    };
    person(state, &claims, expected.as_ref()).await
}

/// The verified person's tenant (by email domain) and user, provisioned on first sign-in.
/// `expected` is the tenant whose host the request came through, if any.
async fn person(
    state: &AppState,
    claims: &IdClaims,
    expected: Option<&Tenant>,
) -> Result<(Tenant, User), ApiError> {
    let refused = |code, message: String| ApiError::new(StatusCode::FORBIDDEN, code, message);
    let email = claims
        .email
        .as_deref()
        .and_then(|email| Email::parse(email).ok())
        .ok_or_else(|| {
            refused(
                "no_email",
                "the sign-in provider gave no usable email address: allow the email scope".into(),
            )
        })?;
    if !claims.email_verified() {
        return Err(refused(
            "email_unverified",
            format!(
                "the sign-in provider has not verified {email}: verify it there, then sign in again"
            ),
        ));
    }
    let lookup = email.domain();
    let tenant = state
        .db(move |store| store.tenant_by_domain(&lookup))
        .await?
        .ok_or_else(|| unknown_domain(&email))?;
    if let Some(expected) = expected
        && expected.id != tenant.id
    {
        return Err(refused(
            "wrong_tenant",
            format!(
                "{email} belongs to {}, not to {}: sign in at {}",
                tenant.name,
                expected.name,
                state.public_url.tenant(tenant.slug.as_str())
            ),
        ));
    }
    let (tenant_id, hd) = (tenant.id.clone(), claims.hd.clone());
    let hd_ok = state
        .db(move |store| {
            if !store.tenant_requires_hd(&tenant_id)? {
                return Ok(true);
            }
            let domains = store.list_domains(&tenant_id)?;
            Ok(hd.is_some_and(|hd| {
                domains
                    .iter()
                    .any(|owned| owned.domain.as_str().eq_ignore_ascii_case(&hd))
            }))
        })
        .await?;
    if !hd_ok {
        return Err(refused(
            "hd_mismatch",
            format!(
                "{} accepts only accounts managed by its Google Workspace, and {email} is not one",
                tenant.name
            ),
        ));
    }
    let (tenant_id, subject, address) = (tenant.id.clone(), claims.sub.clone(), email.clone());
    let user = state
        .db(move |store| store.provision_user(&tenant_id, &address, &subject))
        .await
        .map_err(|err| match err.status {
            StatusCode::CONFLICT => {
                ApiError::new(StatusCode::CONFLICT, "account_conflict", err.message)
            }
            _ => err,
        })?;
    if user.disabled {
        return Err(refused(
            "user_disabled",
            format!(
                "{email} is disabled in {}: ask an administrator",
                tenant.name
            ),
        ));
    }
    Ok((tenant, user))
}

/// Stores a new one-time code and returns it (the only time it exists outside a hash).
async fn issue_code(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    purpose: CodePurpose,
    cli: Option<&CliLogin>,
    handoff_hash: Option<String>,
) -> Result<String, ApiError> {
    let code = sso::random_token();
    let stored = AuthCode {
        code_hash: sso::sha256_hex(&code),
        tenant_id: tenant.id.clone(),
        user_id: user.id.clone(),
        purpose,
        code_challenge: cli.map(|cli| cli.code_challenge.clone()),
        redirect_uri: cli.map(|cli| cli.redirect_uri.clone()),
        handoff_hash,
        created_at: Timestamp::now(),
        expires_at: later(CODE_TTL),
    };
    state
        .db(move |store| store.issue_auth_code(&stored))
        .await?;
    Ok(code)
}

/// `GET /auth/session?code=` (tenant host): the browser's hand-off from the callback.
pub(crate) async fn session(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let HostTenant::Tenant(tenant) = tenancy::resolve(state, request).await? else {
        return Err(ApiError::not_found(
            "sessions are made on an organization's own address",
        ));
    };
    let params = parse_query(request.uri().query());
    let code = params.get("code").cloned().unwrap_or_default();
    let redemption = state
        .db(move |store| {
            store.redeem_auth_code(&sso::sha256_hex(&code), CodePurpose::Web, Timestamp::now())
        })
        .await?;
    let code = match redemption {
        Redemption::Redeemed(code) => code,
        refused => return Err(code_refusal(&refused)),
    };
    if code.tenant_id != tenant.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_tenant",
            "this sign-in belongs to another organization's address",
        ));
    }
    let same_browser = sso::cookie(request, HANDOFF_COOKIE).is_some_and(|value| {
        code.handoff_hash.as_deref() == Some(sso::sha256_hex(&value).as_str())
    });
    if !same_browser {
        return Err(ApiError::bad_request(
            "state_mismatch",
            "this sign-in was started in another browser: sign in here instead",
        ));
    }
    let id = sso::random_token();
    let id_hash = sso::sha256_hex(&id);
    let expires_at = later(SESSION_TTL);
    state
        .db(move |store| {
            store.create_web_session(&code.tenant_id, &code.user_id, &id_hash, expires_at)
        })
        .await?;
    let mut response = redirect("/");
    add_cookie(
        &mut response,
        &sso::set_cookie(HANDOFF_COOKIE, "", "/auth", 0, state.public_url.secure()),
    );
    add_cookie(
        &mut response,
        &sso::set_cookie(
            SESSION_COOKIE,
            &id,
            "/",
            SESSION_TTL.as_secs(),
            state.public_url.secure(),
        ),
    );
    Ok(response)
}

fn code_refusal(redemption: &Redemption) -> ApiError {
    let message = match redemption {
        Redemption::AlreadyUsed => "this sign-in code was already used: sign in again",
        Redemption::Expired => "this sign-in code has expired (they last 5 minutes): sign in again",
        _ => "this sign-in code is not one this server issued: sign in again",
    };
    ApiError::bad_request("invalid_grant", message)
}

/// `POST /auth/logout`: ends the browser's session.
pub(crate) async fn logout(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let ended = match sso::cookie(request, SESSION_COOKIE) {
        Some(id) => {
            state
                .db(move |store| store.end_web_session(&sso::sha256_hex(&id)))
                .await?
        }
        None => false,
    };
    // The dashboard's sign-out form gets its landing page back; API clients get JSON.
    let from_browser = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let mut response = if from_browser {
        let mut response = empty_response(StatusCode::SEE_OTHER);
        response
            .headers_mut()
            .insert(header::LOCATION, header::HeaderValue::from_static("/"));
        response
    } else {
        json(StatusCode::OK, &serde_json::json!({ "signed_out": ended }))
    };
    add_cookie(
        &mut response,
        &sso::set_cookie(SESSION_COOKIE, "", "/", 0, state.public_url.secure()),
    );
    no_store(&mut response);
    Ok(response)
}

#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    issued_token_type: &'static str,
    tenant: relay_api::MeTenant,
    user: relay_api::MeUser,
}

/// `POST /auth/token`: a one-time CLI code with its PKCE verifier, or an ID token (RFC 8693),
/// for a Relay API key.
pub(crate) async fn token(
    state: &AppState,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let host = tenancy::resolve(state, &request).await?;
    let params = body::read_form_or_json(request, TOKEN_BODY_LIMIT).await?;
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let missing = |name: &str| {
        ApiError::bad_request(
            "invalid_request",
            format!("{name} is required for this grant"),
        )
    };
    let (tenant, user, origin) = match param("grant_type") {
        Some("authorization_code") => {
            let code = param("code").ok_or_else(|| missing("code"))?.to_owned();
            let verifier = param("code_verifier").ok_or_else(|| missing("code_verifier"))?;
            let redirect_uri = param("redirect_uri").ok_or_else(|| missing("redirect_uri"))?;
            // The code is spent before the checks below: a guessed verifier gets one try.
            let redemption = state
                .db(move |store| {
                    store.redeem_auth_code(
                        &sso::sha256_hex(&code),
                        CodePurpose::Cli,
                        Timestamp::now(),
                    )
                })
                .await?;
            let code = match redemption {
                Redemption::Redeemed(code) => code,
                refused => return Err(code_refusal(&refused)),
            };
            if code.redirect_uri.as_deref() != Some(redirect_uri) {
                return Err(ApiError::bad_request(
                    "invalid_grant",
                    "redirect_uri differs from the one the sign-in started with",
                ));
            }
            if code.code_challenge.as_deref() != Some(sso::pkce_challenge(verifier).as_str()) {
                return Err(ApiError::bad_request(
                    "invalid_grant",
                    "the code_verifier does not match this sign-in's code_challenge",
                ));
            }
            let (tenant_id, user_id) = (code.tenant_id.clone(), code.user_id.clone());
            let (tenant, user) = state
                .db(move |store| {
                    let tenant = store.tenant_by_id(&tenant_id)?;
                    let user = store.user_by_id(&tenant_id, &user_id)?;
                    Ok(tenant.zip(user))
                })
                .await?
                .ok_or_else(|| code_refusal(&Redemption::Unknown))?;
            if user.disabled {
                return Err(ApiError::forbidden(format!(
                    "{} is disabled in {}: ask an administrator",
                    user.email, tenant.name
                )));
            }
            (tenant, user, "sso: relay-mcp login")
        }
        Some(TOKEN_EXCHANGE) => {
            let oidc = provider(state)?;
            let subject = param("subject_token")
                .ok_or_else(|| missing("subject_token"))?
                .to_owned();
            if param("subject_token_type") != Some(ID_TOKEN_TYPE) {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!("subject_token_type must be {ID_TOKEN_TYPE}"),
                ));
            }
            let claims =
                with_provider(&oidc, move |oidc| oidc.verify_for_exchange(&subject)).await?;
            let expected = match &host {
                HostTenant::Tenant(tenant) => Some(tenant.as_ref().clone()),
                _ => None,
            };
            let (tenant, user) = person(state, &claims, expected.as_ref()).await?;
            (tenant, user, "sso: token exchange")
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "unsupported_grant_type",
                format!(
                    "grant_type {other:?} is not supported: use authorization_code or {TOKEN_EXCHANGE}"
                ),
            ));
        }
        None => return Err(missing("grant_type")),
    };
    if let HostTenant::Tenant(host_tenant) = &host
        && host_tenant.id != tenant.id
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_tenant",
            format!(
                "{} belongs to {}: use {}",
                user.email,
                tenant.name,
                state.public_url.tenant(tenant.slug.as_str())
            ),
        ));
    }
    let secret = ApiKeySecret::generate();
    let (tenant_id, user_id) = (tenant.id.clone(), user.id.clone());
    let key = secret.clone();
    state
        .db(move |store| store.create_api_key(&tenant_id, &user_id, origin, &key))
        .await?;
    tracing::info!(tenant = %tenant.slug, user = %user.id, origin, "issued an API key");
    let mut response = json(
        StatusCode::OK,
        &TokenAnswer {
            access_token: secret.expose().to_owned(),
            token_type: "Bearer",
            issued_token_type: ACCESS_TOKEN_TYPE,
            tenant: relay_api::MeTenant {
                slug: tenant.slug.to_string(),
                name: tenant.name.clone(),
            },
            user: relay_api::MeUser {
                id: user.id.to_string(),
                email: user.email.to_string(),
                role: user.role.to_string(),
            },
        },
    );
    no_store(&mut response);
    Ok(response)
}
