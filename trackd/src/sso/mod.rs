//! Single sign-on: the provider settings, the addresses browsers are sent to, and the small
//! pieces of the flow (random values, hashes, PKCE, cookies, loopback redirect URIs).

pub(crate) mod oidc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::{Request, header};
use sha2::{Digest, Sha256};

pub(crate) use oidc::{Oidc, SsoError};

/// Google, unless `RELAY_OIDC_ISSUER` names another provider.
pub const DEFAULT_ISSUER: &str = "https://accounts.google.com";

/// The OIDC client trackd is (`RELAY_OIDC_*`). SSO is on when this is configured. `Debug`
/// never shows the secret.
#[derive(Clone)]
pub struct SsoConfig {
    pub issuer: String,
    pub client_id: String,
    /// Confidential clients (Google's web clients) have one; a public client with PKCE may not.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for SsoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl SsoConfig {
    /// Checks the issuer: HTTPS, except on a loopback address (a provider in a test).
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: Option<String>,
    ) -> anyhow::Result<Self> {
        let issuer = issuer.trim().to_owned();
        let (scheme, rest) = issuer.split_once("://").unwrap_or(("", ""));
        let host = rest.split(['/', ':']).next().unwrap_or("");
        let loopback = host == "127.0.0.1" || host == "localhost" || rest.starts_with("[::1]");
        let acceptable = scheme == "https" || (scheme == "http" && loopback);
        if !acceptable || host.is_empty() {
            anyhow::bail!(
                "RELAY_OIDC_ISSUER {issuer:?} must be an https:// URL (http:// only on 127.0.0.1)"
            );
        }
        let client_id = client_id.trim();
        anyhow::ensure!(!client_id.is_empty(), "RELAY_OIDC_CLIENT_ID is empty");
        Ok(Self {
            issuer,
            client_id: client_id.to_owned(),
            client_secret: client_secret
                .map(|secret| secret.trim().to_owned())
                .filter(|secret| !secret.is_empty()),
        })
    }
}

/// How browsers reach this server: the scheme and port in front of the base domain and its
/// tenant subdomains (`RELAY_PUBLIC_URL`, e.g. `https://relay.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    secure: bool,
    base_domain: String,
    /// `:8080`, or empty for the scheme's default port.
    port: String,
}

impl PublicUrl {
    /// `url` must name the base domain itself: `http(s)://<base domain>[:port]`.
    pub fn parse(url: &str, base_domain: &str) -> anyhow::Result<Self> {
        let url = url.trim().trim_end_matches('/');
        let (scheme, authority) = url.split_once("://").unwrap_or(("", url));
        let secure = match scheme {
            "https" => true,
            "http" => false,
            _ => anyhow::bail!("RELAY_PUBLIC_URL {url:?} must start with https:// or http://"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                anyhow::ensure!(
                    port.parse::<u16>().is_ok(),
                    "RELAY_PUBLIC_URL {url:?} has a port that is not a number"
                );
                (host, format!(":{port}"))
            }
            None => (authority, String::new()),
        };
        anyhow::ensure!(
            host.eq_ignore_ascii_case(base_domain),
            "RELAY_PUBLIC_URL {url:?} must name the base domain {base_domain} (no path)"
        );
        Ok(Self {
            secure,
            base_domain: base_domain.to_owned(),
            port,
        })
    }

    /// `http://<base domain>:<port>`: what a local trackd is reached at.
    pub fn local(base_domain: &str, port: u16) -> Self {
        Self {
            secure: false,
            base_domain: base_domain.to_owned(),
            port: format!(":{port}"),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.secure { "https" } else { "http" }
    }

    /// Cookies are `Secure` when browsers reach trackd over HTTPS.
    pub(crate) fn secure(&self) -> bool {
        self.secure
    }

    pub(crate) fn base(&self) -> String {
        format!("{}://{}{}", self.scheme(), self.base_domain, self.port)
    }

    pub(crate) fn tenant(&self, slug: &str) -> String {
        format!(
            "{}://{slug}.{}{}",
            self.scheme(),
            self.base_domain,
            self.port
        )
    }

    /// The one redirect URI registered with the provider.
    pub(crate) fn callback(&self) -> String {
        format!("{}/auth/callback", self.base())
    }
}

/// 32 random bytes, base64url: states, nonces, verifiers, codes and session ids.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a secret it only has to recognise.
pub(crate) fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A PKCE value (verifier or S256 challenge): 43-128 unreserved characters (RFC 7636).
pub(crate) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Only a program on the person's own machine may receive a CLI sign-in code:
/// `http://127.0.0.1:<port>/…` or `http://[::1]:<port>/…` (IP literals, as RFC 8252 §8.3
/// advises: a name could be resolved elsewhere), in plain printable ASCII.
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    if uri.len() > 2048 || !uri.bytes().all(|b| b.is_ascii_graphic()) || uri.contains('#') {
        return false;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|port| {
        !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    port_ok && matches!(host, "127.0.0.1" | "[::1]")
}

pub(crate) use relay_api::query::with_query;

/// The named cookie's value, from any `Cookie` header of the request.
pub(crate) fn cookie<B>(request: &Request<B>, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` on HTTPS. `max_age` 0 deletes it.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    secure: bool,
) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_are_accepted() {
        for good in [
            "http://127.0.0.1:53682/callback",
            "http://[::1]:9/cb",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:8000/cb?x=1",
        ] {
            assert!(is_loopback_redirect(good), "{good}");
        }
        for bad in [
            "https://127.0.0.1:5/cb",
            "http://evil.example.com/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://127.0.0.1@evil.com/cb",
            "http://user@127.0.0.1:5/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:5/cb#frag",
            "http://localhost:8000/",
            "http://127.0.0.1:+80/cb",
            "http://127.0.0.1:5/c\r\nSet-Cookie:x=1",
            "http://127.0.0.1:5/c b",
            "http://127.0.0.1:5/caf\u{e9}",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn pkce_matches_rfc_7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_pkce_value("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!is_pkce_value("short"));
    }

    #[test]
    fn public_urls_name_the_base_domain() {
        let url = PublicUrl::parse("https://relay.example.com/", "relay.example.com").unwrap();
        assert_eq!(url.callback(), "https://relay.example.com/auth/callback");
        assert_eq!(url.tenant("acme"), "https://acme.relay.example.com");
        assert!(url.secure());
        let local = PublicUrl::parse("http://localhost:8080", "localhost").unwrap();
        assert_eq!(local.tenant("acme"), "http://acme.localhost:8080");
        assert!(PublicUrl::parse("https://other.example.com", "relay.example.com").is_err());
        assert!(PublicUrl::parse("ftp://relay.example.com", "relay.example.com").is_err());
    }

    #[test]
    fn the_client_secret_never_shows_in_debug_output() {
        let config = SsoConfig::new(DEFAULT_ISSUER, "id", Some("hunter2".into())).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn issuers_are_https_except_on_loopback() {
        assert!(SsoConfig::new(DEFAULT_ISSUER, "id", None).is_ok());
        assert!(SsoConfig::new("http://127.0.0.1:4000", "id", None).is_ok());
        assert!(SsoConfig::new("http://accounts.example.com", "id", None).is_err());
        assert!(SsoConfig::new(DEFAULT_ISSUER, " ", None).is_err());
    }

    #[test]
    fn cookies_and_queries() {
        let request = Request::builder()
            .header(header::COOKIE, "a=1; relay_session=xyz")
            .body(())
            .unwrap();
        assert_eq!(cookie(&request, "relay_session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&request, "missing"), None);
    }
}
