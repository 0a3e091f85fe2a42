//! trackd as an OpenID Connect client: discovery, the code exchange, and ID-token verification
//! against the provider's JWKS.
//!
//! Everything here is blocking (ureq) and runs on the blocking pool: sign-ins are rare, and the
//! provider is another company's server whose answers must not hold up a runtime worker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;

use super::SsoConfig;

/// Clock difference tolerated between trackd and the provider for `exp`, `nbf` and `iat`.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The provider's keys (and discovery document) are fetched at most this often, whatever
/// happens: a stream of forged `kid`s or a failing provider cannot make trackd hammer it.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Keys are re-read this often even when every `kid` is known, so removed keys stop working.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Token exchange takes ID tokens issued at most this long ago.
pub(crate) const EXCHANGE_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// Why a sign-in could not go on. Messages are for people; none carries a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SsoError {
    #[error("the sign-in provider could not be reached ({0}); try again shortly")]
    Unreachable(String),
    #[error("the sign-in provider refused: {0}")]
    Provider(String),
    #[error("the ID token was refused: {0}")]
    Token(String),
    /// The provider answered, and said no (a 4xx from its token endpoint).
    #[error("the sign-in provider refused: {0}")]
    Refused(String),
}

/// The provider's discovery document, the parts trackd uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    pub(crate) jwks_uri: String,
}

/// The ID token's claims trackd reads; `iss`, `aud`, `exp` and `nbf` are checked by the
/// signature verification itself.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IdClaims {
    pub(crate) sub: String,
    pub(crate) iat: i64,
    /// A string, or a list when the token is for several audiences.
    #[serde(default)]
    pub(crate) aud: serde_json::Value,
    #[serde(default)]
    pub(crate) azp: Option<String>,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) email_verified: Option<Verified>,
    /// Google Workspace's hosted domain.
    #[serde(default)]
    pub(crate) hd: Option<String>,
}

/// `email_verified` is a boolean in the spec; some providers send the string "true".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Verified {
    Bool(bool),
    Text(String),
}

impl IdClaims {
    pub(crate) fn email_verified(&self) -> bool {
        match &self.email_verified {
            Some(Verified::Bool(verified)) => *verified,
            Some(Verified::Text(text)) => text.eq_ignore_ascii_case("true"),
            None => false,
        }
    }
}

/// A value fetched from the provider, and when it was last tried. Nobody holds the lock while
/// fetching: the first caller marks the attempt and fetches, the others use what is cached (or
/// are told to try again shortly), so a slow or failing provider ties up one thread, not all.
struct Fetched<T> {
    value: Option<T>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

impl<T> Default for Fetched<T> {
    fn default() -> Self {
        Self {
            value: None,
            fetched_at: None,
            attempted_at: None,
        }
    }
}

impl<T> Fetched<T> {
    /// Whether a fetch may start now (none for [`REFETCH_INTERVAL`]); marks the attempt.
    fn claim_attempt(&mut self) -> bool {
        if self
            .attempted_at
            .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL)
        {
            return false;
        }
        self.attempted_at = Some(Instant::now());
        true
    }
}

/// The provider, as trackd knows it: discovery and keys, fetched on first need and cached.
pub(crate) struct Oidc {
    config: SsoConfig,
    /// Issuers the ID token's `iss` may name: the configured one (and, for Google, the
    /// scheme-less form Google also issues).
    issuers: Vec<String>,
    http: ureq::Agent,
    metadata: Mutex<Fetched<Arc<Metadata>>>,
    keys: Mutex<Fetched<Arc<JwkSet>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Oidc {
    pub(crate) fn new(config: SsoConfig) -> Self {
        let http = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("trackd/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let mut issuers = vec![config.issuer.clone()];
        if config.issuer == super::DEFAULT_ISSUER {
            issuers.push("accounts.google.com".to_owned());
        }
        Self {
            config,
            issuers,
            http,
            metadata: Mutex::new(Fetched::default()),
            keys: Mutex::new(Fetched::default()),
        }
    }

    pub(crate) fn config(&self) -> &SsoConfig {
        &self.config
    }

    /// The discovery document, fetched once (a failed fetch is retried at most every 10 s).
    /// Its `issuer` must be the configured one exactly.
    pub(crate) fn metadata(&self) -> Result<Arc<Metadata>, SsoError> {
        {
            let mut cached = lock(&self.metadata);
            if let Some(metadata) = &cached.value {
                return Ok(metadata.clone());
            }
            if !cached.claim_attempt() {
                return Err(SsoError::Unreachable(
                    "its discovery document could not be read moments ago".into(),
                ));
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let metadata: Metadata = self.get_json(&url)?;
        if metadata.issuer != self.config.issuer {
            return Err(SsoError::Provider(format!(
                "its discovery document names the issuer {:?}, not the configured {:?}: \
                 check RELAY_OIDC_ISSUER",
                metadata.issuer, self.config.issuer
            )));
        }
        let metadata = Arc::new(metadata);
        let mut cached = lock(&self.metadata);
        cached.value = Some(metadata.clone());
        cached.fetched_at = Some(Instant::now());
        Ok(metadata)
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SsoError> {
        let mut response = self
            .http
            .get(url)
            .header("Accept", "application/json")
            .call()
            .map_err(|err| SsoError::Unreachable(err.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(SsoError::Provider(format!("{url} answered {status}")));
        }
        read_json(&mut response)
            .map_err(|err| SsoError::Provider(format!("{url} did not answer JSON: {err}")))
    }

    /// Trades the authorization code for the provider's ID token (the code was sent to
    /// `redirect_uri`, with PKCE `verifier`).
    pub(crate) fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<String, SsoError> {
        let metadata = self.metadata()?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", self.config.client_id.as_str()),
        ];
        if let Some(secret) = self.config.client_secret.as_deref() {
            form.push(("client_secret", secret));
        }
        let mut response = self
            .http
            .post(&metadata.token_endpoint)
            .header("Accept", "application/json")
            .send_form(form)
            .map_err(|err| SsoError::Unreachable(err.to_string()))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = read_json(&mut response).map_err(|err| {
            SsoError::Provider(format!("its token endpoint answered {status}: {err}"))
        })?;
        if status != 200 {
            let error = body["error"].as_str().unwrap_or("error");
            let description: String = body["error_description"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            let message = format!("the code exchange failed ({status} {error}) {description}");
            return Err(if (400..500).contains(&status) {
                SsoError::Refused(format!("{message}; sign in again"))
            } else {
                SsoError::Provider(message)
            });
        }
        body["id_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SsoError::Provider("the token answer has no id_token".into()))
    }

    /// Verifies an ID token: RS256 or ES256 only, signed by a key the provider publishes, from
    /// the configured issuer, for this client, in date; and with `nonce` when one is expected.
    pub(crate) fn verify(&self, token: &str, nonce: Option<&str>) -> Result<IdClaims, SsoError> {
        let refuse = |why: &str| SsoError::Token(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|err| match err.kind() {
            // `alg: none` and unknown algorithms do not even parse as a header.
            ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::Base64(_) => {
                refuse("it is not a signed JWT with an accepted algorithm (RS256 or ES256)")
            }
            _ => refuse("it is not a JWT"),
        })?;
        // An OAuth access token in JWT form (RFC 9068) is not an ID token, even for this client.
        if header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(refuse("it is an access token, not an ID token"));
        }
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(SsoError::Token(format!(
                "it is signed with {:?}; only RS256 and ES256 are accepted",
                header.alg
            )));
        }
        let jwk = self.key_for(header.kid.as_deref())?;
        let key_fits = match (&jwk.algorithm, header.alg) {
            (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            _ => false,
        };
        if !key_fits {
            return Err(refuse("its algorithm does not match the provider's key"));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| refuse("the provider publishes a key trackd cannot use"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&self.issuers);
        validation.set_audience(&[self.config.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_SKEW.as_secs();
        let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
            .map_err(|err| {
                SsoError::Token(
                    match err.kind() {
                        ErrorKind::InvalidSignature => "its signature does not verify",
                        ErrorKind::ExpiredSignature => "it has expired",
                        ErrorKind::ImmatureSignature => "it is not valid yet",
                        ErrorKind::InvalidIssuer => "it was issued by another provider",
                        ErrorKind::InvalidAudience => "it was issued for another application",
                        ErrorKind::MissingRequiredClaim(_) => {
                            "it lacks a required claim (iss, aud, exp, sub)"
                        }
                        _ => "it is malformed",
                    }
                    .to_owned(),
                )
            })?
            .claims;
        let now = relay_core::Timestamp::now().as_millis() / 1000;
        if claims.iat > now + CLOCK_SKEW.as_secs() as i64 {
            return Err(refuse("it claims to be issued in the future"));
        }
        // With several audiences, the token must have been issued to this client.
        if claims
            .aud
            .as_array()
            .is_some_and(|audiences| audiences.len() > 1)
            && claims.azp.as_deref() != Some(self.config.client_id.as_str())
        {
            return Err(refuse("it was issued for another application (azp)"));
        }
        if let Some(expected) = nonce
            && claims.nonce.as_deref() != Some(expected)
        {
            return Err(refuse("its nonce does not match this sign-in; start again"));
        }
        Ok(claims)
    }

    /// Verifies an ID token obtained elsewhere (token exchange): as [`Oidc::verify`], and issued
    /// within [`EXCHANGE_MAX_AGE`], so an old token that leaked cannot be traded for keys.
    pub(crate) fn verify_for_exchange(&self, token: &str) -> Result<IdClaims, SsoError> {
        let claims = self.verify(token, None)?;
        let now = relay_core::Timestamp::now().as_millis() / 1000;
        if claims.iat < now - EXCHANGE_MAX_AGE.as_secs() as i64 {
            return Err(SsoError::Token(format!(
                "it was issued more than {} minutes ago: exchange a fresh ID token",
                EXCHANGE_MAX_AGE.as_secs() / 60
            )));
        }
        Ok(claims)
    }

    /// The published key with this `kid`. Keys are re-read hourly, and an unknown `kid` re-reads
    /// them at once (the provider may have rotated its keys); either way at most once per
    /// [`REFETCH_INTERVAL`], and a failed re-read keeps the keys already known.
    fn key_for(&self, kid: Option<&str>) -> Result<Jwk, SsoError> {
        let (keys, stale) = {
            let cached = lock(&self.keys);
            let stale = cached
                .fetched_at
                .is_none_or(|at| at.elapsed() >= JWKS_MAX_AGE);
            (cached.value.clone(), stale)
        };
        if !stale && let Some(jwk) = find_key(keys.as_deref(), kid) {
            return Ok(jwk);
        }
        if !lock(&self.keys).claim_attempt() {
            // Another request is reading the keys, or just did.
            if keys.is_none() {
                return Err(SsoError::Unreachable(
                    "its keys are being read or could not be read moments ago".into(),
                ));
            }
            return find_key(keys.as_deref(), kid).ok_or_else(unknown_key);
        }
        if !stale {
            tracing::info!("ID token signed by an unknown key: re-reading the provider's keys");
        }
        match self.fetch_keys() {
            Ok(fresh) => {
                let mut cached = lock(&self.keys);
                cached.value = Some(fresh.clone());
                cached.fetched_at = Some(Instant::now());
                drop(cached);
                find_key(Some(&fresh), kid).ok_or_else(unknown_key)
            }
            Err(err) => match find_key(keys.as_deref(), kid) {
                Some(jwk) => {
                    tracing::warn!(
                        "re-reading the provider's keys failed, using the known ones: {err}"
                    );
                    Ok(jwk)
                }
                None => Err(err),
            },
        }
    }

    fn fetch_keys(&self) -> Result<Arc<JwkSet>, SsoError> {
        let metadata = self.metadata()?;
        let keys: JwkSet = self.get_json(&metadata.jwks_uri)?;
        Ok(Arc::new(keys))
    }
}

fn unknown_key() -> SsoError {
    SsoError::Token("it is signed by a key the provider does not publish".into())
}

/// A provider's JSON answer, at most 1 MiB.
fn read_json<T: serde::de::DeserializeOwned>(
    response: &mut ureq::http::Response<ureq::Body>,
) -> Result<T, String> {
    let text = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .map_err(|err| err.to_string())?;
    serde_json::from_str(&text).map_err(|err| err.to_string())
}

/// The signing key with this `kid`; without a `kid`, the only key there is.
fn find_key(keys: Option<&JwkSet>, kid: Option<&str>) -> Option<Jwk> {
    let keys = keys?;
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None if keys.keys.len() == 1 => keys.keys.first().cloned(),
        None => None,
    }
}
