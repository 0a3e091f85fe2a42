//! Which tenant a request is for, from its Host: `<slug>.<base domain>` names a tenant, the bare
//! base domain names none (the landing page; on the API the key decides), and so does a host
//! outside the base domain (an IP, `localhost` under another base domain). Port and case are
//! ignored; a malformed Host is 400, an unknown subdomain 404.

use std::sync::Arc;
use std::time::Duration;

use hyper::{Request, StatusCode, header};
use relay_core::{Tenant, TenantSlug};

use crate::AppState;
use crate::cache::TtlCache;
use crate::http::ApiError;

/// How long a tenant lookup is reused. Tenants are created and deleted rarely, by an operator.
const TENANT_CACHE_TTL: Duration = Duration::from_secs(5);
const TENANT_CACHE_MAX: usize = 10_000;

#[derive(Debug, Clone)]
pub(crate) enum HostTenant {
    /// `<slug>.<base domain>` of an existing tenant.
    Tenant(Arc<Tenant>),
    /// The bare base domain.
    Base,
    /// A host outside the base domain: an IP address or another name.
    Other,
}

/// What the Host names, before any database lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostName {
    Base,
    Subdomain(String),
    Other,
}

/// The host name without port, lower-cased, or why it is malformed.
pub(crate) fn host_name(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the Host header is empty");
    }
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // An IPv6 literal: [::1]:8080
        let (addr, after) = rest
            .split_once(']')
            .ok_or("the Host header has an unclosed '['")?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the Host header's IPv6 address is not valid");
        }
        if !after.is_empty() && !is_port(after.strip_prefix(':').unwrap_or("x")) {
            return Err("the Host header's port is not a number");
        }
        return Ok(format!("[{}]", addr.to_ascii_lowercase()));
    } else {
        match raw.rsplit_once(':') {
            Some((host, port)) => {
                if !is_port(port) {
                    return Err("the Host header's port is not a number");
                }
                host
            }
            None => raw,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return Err("the Host header is not a host name");
    }
    Ok(host)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Classifies a host name against the base domain.
pub(crate) fn classify(host: &str, base_domain: &str) -> HostName {
    if host == base_domain {
        return HostName::Base;
    }
    match host
        .strip_suffix(base_domain)
        .and_then(|sub| sub.strip_suffix('.'))
    {
        Some(sub) => HostName::Subdomain(sub.to_owned()),
        None => HostName::Other,
    }
}

/// The request's host, from the Host header or (HTTP/2) the URI's authority.
pub(crate) fn request_host<B>(request: &Request<B>) -> Result<String, ApiError> {
    let raw = match request.headers().get(header::HOST) {
        Some(value) => value
            .to_str()
            .map_err(|_| bad_host("the Host header is not text"))?
            .to_owned(),
        None => request
            .uri()
            .authority()
            .map(|authority| authority.as_str().to_owned())
            .ok_or_else(|| bad_host("the request has no Host header"))?,
    };
    host_name(&raw).map_err(bad_host)
}

fn bad_host(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_host", message)
}

/// Finds the tenant a request's Host names.
pub(crate) async fn resolve<B>(
    state: &AppState,
    request: &Request<B>,
) -> Result<HostTenant, ApiError> {
    let host = request_host(request)?;
    match classify(&host, &state.config.base_domain) {
        HostName::Base => Ok(HostTenant::Base),
        HostName::Other => Ok(HostTenant::Other),
        HostName::Subdomain(sub) => match state.tenants.find(state, &sub).await? {
            Some(tenant) => Ok(HostTenant::Tenant(tenant)),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_tenant",
                format!("no organization {sub:?} on this server: check the address"),
            )),
        },
    }
}

/// Tenant lookups by slug, found or not, reused for a few seconds.
pub(crate) struct TenantCache(TtlCache<Option<Arc<Tenant>>>);

impl Default for TenantCache {
    fn default() -> Self {
        Self(TtlCache::new(TENANT_CACHE_TTL, TENANT_CACHE_MAX))
    }
}

impl TenantCache {
    pub(crate) async fn find(
        &self,
        state: &AppState,
        sub: &str,
    ) -> Result<Option<Arc<Tenant>>, ApiError> {
        // A deeper subdomain or a name that cannot be a slug names no tenant; no query needed.
        let Ok(slug) = TenantSlug::parse(sub) else {
            return Ok(None);
        };
        if let Some(tenant) = self.0.get(sub) {
            return Ok(tenant);
        }
        let asked = std::time::Instant::now();
        let tenant = state
            .db(move |store| store.tenant_by_slug(&slug))
            .await?
            .map(Arc::new);
        self.0.put(sub.to_owned(), tenant.clone(), asked);
        Ok(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_ignore_port_case_and_trailing_dot() {
        assert_eq!(
            host_name("Acme.Relay.Example.com:8443").unwrap(),
            "acme.relay.example.com"
        );
        assert_eq!(host_name("acme.localhost.").unwrap(), "acme.localhost");
        assert_eq!(host_name("127.0.0.1:8080").unwrap(), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080").unwrap(), "[::1]");
        for bad in [
            "",
            "acme..localhost",
            "acme.localhost:http",
            "ac me",
            "acme/x",
            "[::1",
            "[zz]:1",
            "a:1:2",
        ] {
            assert!(host_name(bad).is_err(), "{bad:?} should be malformed");
        }
    }

    #[test]
    fn hosts_classify_against_the_base_domain() {
        let base = "relay.example.com";
        assert_eq!(classify("relay.example.com", base), HostName::Base);
        assert_eq!(
            classify("acme.relay.example.com", base),
            HostName::Subdomain("acme".into())
        );
        assert_eq!(
            classify("a.b.relay.example.com", base),
            HostName::Subdomain("a.b".into())
        );
        assert_eq!(classify("xrelay.example.com", base), HostName::Other);
        assert_eq!(classify("127.0.0.1", base), HostName::Other);
    }
}
