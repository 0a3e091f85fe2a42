//! A small but real OpenID Connect provider for tests, over real HTTP on loopback.
//!
//! It serves discovery (`/.well-known/openid-configuration`), a JWKS (`/jwks`), an authorization
//! endpoint (`/authorize`) that approves at once, without a login page, as the identity the test
//! chose, and a token endpoint (`/token`) that redeems codes (single use, 60 s, `redirect_uri`
//! match, PKCE S256) for RS256 ID tokens. Keys are made when the provider starts. Tests can mint
//! tokens directly ([`OidcProvider::mint`], for token exchange), break the next token-endpoint ID
//! token ([`OidcProvider::tamper_next`]), rotate the signing key, and count JWKS fetches.
//!
//! There is one client, [`CLIENT_ID`] with [`CLIENT_SECRET`] (`client_secret_post` or
//! `client_secret_basic`). The server runs on a thread of its own until the provider is dropped.
//!
//! ```no_run
//! use relay_testkit::oidc::{Identity, OidcProvider, Signing, TokenSpec, CLIENT_ID};
//!
//! let idp = OidcProvider::start();
//! idp.sign_in_as(Identity::new("bob@acme.com"));
//! // ... point the client at idp.issuer() and run its login ...
//! let forged = idp.mint(
//!     &TokenSpec::for_identity(&Identity::new("eve@acme.com"), CLIENT_ID)
//!         .with_signing(Signing::Hs256WithPublicKey),
//! );
//! # let _ = forged;
//! ```

mod form;
mod http;
mod keys;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use self::keys::{EcKey, RsaKey};

/// The one client the provider knows.
pub const CLIENT_ID: &str = "relay-test-client";
/// [`CLIENT_ID`]'s secret, sent in the token request's form or as HTTP Basic credentials.
pub const CLIENT_SECRET: &str = "relay-test-secret";
/// Whom `/authorize` approves until [`OidcProvider::sign_in_as`] says otherwise.
pub const DEFAULT_EMAIL: &str = "alice@acme.com";
/// How long an authorization code can be redeemed.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// The `scope` of the token endpoint's answers.
pub const GRANTED_SCOPE: &str = "openid email profile";

/// A user of the provider, as its ID tokens describe them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: the provider's stable identifier of the user.
    pub sub: String,
    /// `email`.
    pub email: String,
    /// `email_verified`.
    pub email_verified: bool,
    /// `hd` (Google's hosted domain), written only when set.
    pub hd: Option<String>,
    /// `name`, written only when set.
    pub name: Option<String>,
}

impl Identity {
    /// A verified user with this email and no `hd` or `name`. `sub` is derived from the email
    /// (`"sub-"` + the first 16 hex digits of its SHA-256), so it is the same in every test.
    pub fn new(email: &str) -> Identity {
        Identity {
            sub: format!("sub-{}", keys::short_hash(email.as_bytes())),
            email: email.to_owned(),
            email_verified: true,
            hd: None,
            name: None,
        }
    }

    /// The same user with hosted domain `hd`.
    pub fn with_hd(mut self, hd: &str) -> Identity {
        self.hd = Some(hd.to_owned());
        self
    }

    /// The same user with display name `name`.
    pub fn with_name(mut self, name: &str) -> Identity {
        self.name = Some(name.to_owned());
        self
    }

    /// The same user with `email_verified: false`.
    pub fn unverified(mut self) -> Identity {
        self.email_verified = false;
        self
    }
}

/// How a token is signed: the two honest ways, and the classic forgeries a verifier must refuse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Signing {
    /// RS256 with the current RSA key (its kid in the header).
    #[default]
    Rs256,
    /// ES256 with the provider's P-256 key (its kid in the header).
    Es256,
    /// alg "none", empty signature (header `{"alg":"none","typ":"JWT"}`, no kid).
    None,
    /// HS256 with the current RSA public key (its SPKI PEM text, `-----BEGIN PUBLIC KEY-----`,
    /// LF line endings, as [`OidcProvider::rsa_public_key_pem`] returns) as the HMAC secret, and
    /// the current RSA kid: the classic key-confusion attack.
    Hs256WithPublicKey,
    /// RS256 by a key that is NOT in the JWKS, with a kid the JWKS does not list.
    UnknownKey,
    /// RS256 by the right key (kid in the JWKS) but with the signature's last byte flipped.
    BadSignature,
}

impl Signing {
    /// Every variant, for tests that try them all.
    pub const ALL: [Signing; 6] = [
        Signing::Rs256,
        Signing::Es256,
        Signing::None,
        Signing::Hs256WithPublicKey,
        Signing::UnknownKey,
        Signing::BadSignature,
    ];

    /// Whether a correct verifier accepts tokens signed this way (only RS256 and ES256 do).
    pub fn is_honest(self) -> bool {
        matches!(self, Signing::Rs256 | Signing::Es256)
    }
}

/// What [`OidcProvider::mint`] puts in an ID token. Times are offsets in seconds from now.
///
/// The default is [`DEFAULT_EMAIL`]'s identity, `aud` [`CLIENT_ID`], the provider's issuer,
/// issued now, expiring in 600 s, no `nbf`, `nonce` or `azp`, signed [`Signing::Rs256`].
#[derive(Clone, Debug)]
pub struct TokenSpec {
    /// `sub`, `email`, `email_verified`, and `hd` / `name` when set.
    pub identity: Identity,
    /// `aud`: one entry is written as a string, several (or none) as an array.
    pub aud: Vec<String>,
    /// `iss`, when not the provider's issuer.
    pub iss: Option<String>,
    /// `iat` = now + this.
    pub iat_offset: i64,
    /// `exp` = now + this.
    pub exp_offset: i64,
    /// `nbf` = now + this, written only when set.
    pub nbf_offset: Option<i64>,
    /// `nonce`, written only when set.
    pub nonce: Option<String>,
    /// `azp`, written only when set.
    pub azp: Option<String>,
    /// How the token is signed.
    pub signing: Signing,
    /// More claims, written last (so they also replace any of the above).
    pub extra_claims: Map<String, Value>,
    /// Claims left out of the token altogether (`"exp"`, `"sub"`, ...), after `extra_claims`.
    pub omit_claims: Vec<String>,
}

impl Default for TokenSpec {
    fn default() -> TokenSpec {
        TokenSpec::for_identity(&Identity::new(DEFAULT_EMAIL), CLIENT_ID)
    }
}

impl TokenSpec {
    /// A token for `identity` with the single audience `audience`; the rest as [`Default`].
    pub fn for_identity(identity: &Identity, audience: &str) -> TokenSpec {
        TokenSpec {
            identity: identity.clone(),
            aud: vec![audience.to_owned()],
            iss: None,
            iat_offset: 0,
            exp_offset: 600,
            nbf_offset: None,
            nonce: None,
            azp: None,
            signing: Signing::Rs256,
            extra_claims: Map::new(),
            omit_claims: Vec::new(),
        }
    }

    /// With these audiences (two or more are written as an array).
    pub fn with_audiences(mut self, audiences: &[&str]) -> TokenSpec {
        self.aud = audiences.iter().map(|aud| (*aud).to_owned()).collect();
        self
    }

    /// With `iss` set to `issuer` instead of the provider's.
    pub fn with_issuer(mut self, issuer: &str) -> TokenSpec {
        self.iss = Some(issuer.to_owned());
        self
    }

    /// With `iat` at now + `offset` seconds.
    pub fn with_iat_offset(mut self, offset: i64) -> TokenSpec {
        self.iat_offset = offset;
        self
    }

    /// With `exp` at now + `offset` seconds (negative: already expired).
    pub fn with_exp_offset(mut self, offset: i64) -> TokenSpec {
        self.exp_offset = offset;
        self
    }

    /// With `nbf` at now + `offset` seconds.
    pub fn with_nbf_offset(mut self, offset: i64) -> TokenSpec {
        self.nbf_offset = Some(offset);
        self
    }

    /// With this `nonce`.
    pub fn with_nonce(mut self, nonce: &str) -> TokenSpec {
        self.nonce = Some(nonce.to_owned());
        self
    }

    /// With this `azp`.
    pub fn with_azp(mut self, azp: &str) -> TokenSpec {
        self.azp = Some(azp.to_owned());
        self
    }

    /// Signed this way.
    pub fn with_signing(mut self, signing: Signing) -> TokenSpec {
        self.signing = signing;
        self
    }

    /// With one more claim (or a replaced one).
    pub fn with_claim(mut self, name: &str, value: Value) -> TokenSpec {
        self.extra_claims.insert(name.to_owned(), value);
        self
    }

    /// Without the claim `name`.
    pub fn without_claim(mut self, name: &str) -> TokenSpec {
        self.omit_claims.push(name.to_owned());
        self
    }

    /// The claims, for a provider whose issuer is `issuer`, at `now` (seconds since the epoch).
    fn claims(&self, issuer: &str, now: i64) -> Value {
        let mut claims = Map::new();
        let mut put = |name: &str, value: Value| {
            claims.insert(name.to_owned(), value);
        };
        put("iss", self.iss.as_deref().unwrap_or(issuer).into());
        put("sub", self.identity.sub.as_str().into());
        put(
            "aud",
            match self.aud.as_slice() {
                [one] => one.as_str().into(),
                many => many.iter().map(String::as_str).collect(),
            },
        );
        put("iat", now.saturating_add(self.iat_offset).into());
        put("exp", now.saturating_add(self.exp_offset).into());
        if let Some(offset) = self.nbf_offset {
            put("nbf", now.saturating_add(offset).into());
        }
        if let Some(nonce) = &self.nonce {
            put("nonce", nonce.as_str().into());
        }
        if let Some(azp) = &self.azp {
            put("azp", azp.as_str().into());
        }
        put("email", self.identity.email.as_str().into());
        put("email_verified", self.identity.email_verified.into());
        if let Some(hd) = &self.identity.hd {
            put("hd", hd.as_str().into());
        }
        if let Some(name) = &self.identity.name {
            put("name", name.as_str().into());
        }
        for (name, value) in &self.extra_claims {
            put(name, value.clone());
        }
        for name in &self.omit_claims {
            claims.remove(name);
        }
        Value::Object(claims)
    }

    /// This spec with `tamper`'s overrides applied.
    fn tampered(mut self, tamper: Tamper) -> TokenSpec {
        if let Some(nonce) = tamper.nonce {
            self.nonce = Some(nonce);
        }
        if tamper.drop_nonce {
            self.nonce = None;
        }
        if let Some(aud) = tamper.aud {
            self.aud = vec![aud];
        }
        if let Some(iss) = tamper.iss {
            self.iss = Some(iss);
        }
        if let Some(offset) = tamper.exp_offset {
            self.exp_offset = offset;
        }
        if let Some(offset) = tamper.iat_offset {
            self.iat_offset = offset;
        }
        if let Some(verified) = tamper.email_verified {
            self.identity.email_verified = verified;
        }
        if let Some(signing) = tamper.signing {
            self.signing = signing;
        }
        self
    }
}

/// Overrides applied (once) to the next ID token the token endpoint issues, to test a client's
/// refusals after a real code flow. Fields left `None` / `false` change nothing.
#[derive(Clone, Debug, Default)]
pub struct Tamper {
    /// `nonce` replaced by this value.
    pub nonce: Option<String>,
    /// `nonce` left out.
    pub drop_nonce: bool,
    /// `aud` replaced by this single audience.
    pub aud: Option<String>,
    /// `iss` replaced.
    pub iss: Option<String>,
    /// `exp` at now + this many seconds (negative: already expired).
    pub exp_offset: Option<i64>,
    /// `iat` at now + this many seconds.
    pub iat_offset: Option<i64>,
    /// `email_verified` replaced.
    pub email_verified: Option<bool>,
    /// Signed this way instead of [`Signing::Rs256`].
    pub signing: Option<Signing>,
}

/// An OpenID Connect provider serving on loopback; dropping it stops the server thread.
pub struct OidcProvider {
    shared: Arc<Shared>,
    _server: http::Server,
}

impl OidcProvider {
    /// A provider on `127.0.0.1` at a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start() -> OidcProvider {
        OidcProvider::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("start the test OIDC provider on 127.0.0.1")
    }

    /// A provider listening on `addr` (port 0: a free port). Makes its keys first.
    ///
    /// # Errors
    /// When `addr` cannot be bound or the server thread cannot start.
    pub fn start_on(addr: SocketAddr) -> std::io::Result<OidcProvider> {
        let listener = std::net::TcpListener::bind(addr)?;
        let mut local = listener.local_addr()?;
        match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => local.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => local.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        let shared = Arc::new(Shared {
            addr: local,
            issuer: format!("http://{local}"),
            state: Mutex::new(State {
                identity: Identity::new(DEFAULT_EMAIL),
                rsa_keys: vec![Arc::new(RsaKey::generate())],
                ec_key: Arc::new(EcKey::generate()),
                codes: HashMap::new(),
                tamper: None,
            }),
            unknown_key: OnceLock::new(),
            jwks_fetches: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
        });
        let server = http::Server::start(listener, Arc::clone(&shared))?;
        Ok(OidcProvider {
            shared,
            _server: server,
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The address clients reach the provider at: where it listens, with loopback in place of
    /// an unspecified address (`0.0.0.0`, `[::]`).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Who the next `/authorize` requests approve (default: `Identity::new("alice@acme.com")`);
    /// a request's `login_hint` still wins.
    pub fn sign_in_as(&self, identity: Identity) {
        self.shared.lock().identity = identity;
    }

    /// Mints an ID token directly (for token-exchange tests), bypassing `/authorize`.
    pub fn mint(&self, spec: &TokenSpec) -> String {
        self.shared.mint(spec)
    }

    /// Changes applied to the ID token the token endpoint issues next (once), to test a
    /// client's refusals after a real code flow (nonce mismatch, wrong aud, expired...).
    /// A second call before that token is issued replaces the first.
    pub fn tamper_next(&self, tamper: Tamper) {
        self.shared.lock().tamper = Some(tamper);
    }

    /// Adds a fresh RSA key with a new kid, publishes it in the JWKS and signs with it from now
    /// on; `keep_old` false removes the older RSA keys from the JWKS. Returns the new kid.
    pub fn rotate_key(&self, keep_old: bool) -> String {
        let key = Arc::new(RsaKey::generate());
        let kid = key.kid.clone();
        let mut state = self.shared.lock();
        if !keep_old {
            state.rsa_keys.clear();
        }
        state.rsa_keys.push(key);
        kid
    }

    /// The kid of the RSA key that signs RS256 tokens now.
    pub fn current_kid(&self) -> String {
        self.shared.current_rsa().kid.clone()
    }

    /// The kid of the P-256 key that signs ES256 tokens.
    pub fn ec_kid(&self) -> String {
        self.shared.lock().ec_key.kid.clone()
    }

    /// The current RSA public key as SPKI PEM: the HMAC secret of
    /// [`Signing::Hs256WithPublicKey`] tokens.
    pub fn rsa_public_key_pem(&self) -> String {
        self.shared.current_rsa().public_pem.clone()
    }

    /// The JWKS document `/jwks` serves now (reading it here is not counted as a fetch).
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// How many times `/jwks` was fetched (clients must re-fetch on unknown kid, rate-limited).
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many codes the token endpoint redeemed successfully.
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

/// What the server thread and the provider handle share.
struct Shared {
    /// Where the server listens (an unspecified IP replaced by 127.0.0.1).
    addr: SocketAddr,
    issuer: String,
    state: Mutex<State>,
    /// The key behind [`Signing::UnknownKey`], made on first use.
    unknown_key: OnceLock<RsaKey>,
    jwks_fetches: AtomicUsize,
    tokens_issued: AtomicUsize,
}

struct State {
    identity: Identity,
    /// The RSA keys in the JWKS, oldest first; the last one signs.
    rsa_keys: Vec<Arc<RsaKey>>,
    ec_key: Arc<EcKey>,
    codes: HashMap<String, Grant>,
    tamper: Option<Tamper>,
}

/// What `/authorize` approved, waiting for the token endpoint.
struct Grant {
    identity: Identity,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    issued: Instant,
    used: bool,
}

impl Shared {
    /// The state, even if a panicking thread poisoned the lock (a test's failure, not ours).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current_rsa(&self) -> Arc<RsaKey> {
        let state = self.lock();
        Arc::clone(
            state
                .rsa_keys
                .last()
                .expect("the provider always has a current RSA key"),
        )
    }

    fn jwks(&self) -> Value {
        let state = self.lock();
        let mut keys: Vec<Value> = state.rsa_keys.iter().map(|key| key.jwk()).collect();
        keys.push(state.ec_key.jwk());
        serde_json::json!({ "keys": keys })
    }

    fn mint(&self, spec: &TokenSpec) -> String {
        let claims = spec.claims(&self.issuer, unix_now());
        match spec.signing {
            Signing::Rs256 => self.current_rsa().sign(&claims),
            Signing::Es256 => {
                let key = Arc::clone(&self.lock().ec_key);
                key.sign(&claims)
            }
            Signing::None => keys::unsigned(&claims),
            Signing::Hs256WithPublicKey => self.current_rsa().sign_hs256_with_public_key(&claims),
            Signing::UnknownKey => self.unknown_key.get_or_init(RsaKey::generate).sign(&claims),
            Signing::BadSignature => keys::flip_signature(&self.current_rsa().sign(&claims)),
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
