//! trackd's settings: where tenants live, and the limits that keep one client from hurting others.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Tenants are `<slug>.<base_domain>`; the bare domain serves the landing page.
    pub base_domain: String,
    /// Tracked events each API key may send per minute (`RELAY_TRACK_RATE_PER_MINUTE`).
    pub track_rate_per_minute: u32,
    pub limits: Limits,
    /// How browsers reach the base domain (`RELAY_PUBLIC_URL`, e.g. `https://relay.example.com`);
    /// `None` means `http://<base domain>:<listening port>`. Sign-in redirects are built on it.
    pub public_url: Option<String>,
    /// The OIDC provider; `None` turns single sign-on off.
    pub sso: Option<crate::SsoConfig>,
    /// Reverse proxies (Caddy) whose `X-Forwarded-For` names the client
    /// (`RELAY_TRUSTED_PROXIES`); from anyone else the header is ignored.
    pub trusted_proxies: Vec<IpNet>,
}

/// An address block, `10.0.0.0/8` or `::1/128` (a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            // An IPv4 client seen through an IPv6 socket.
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|ip| self.contains(IpAddr::V4(ip))),
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or block (e.g. 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("{text:?} has a prefix length that is not 0-{max}"))?
        };
        Ok(Self { addr, prefix })
    }
}

/// Server hardening limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A client must send its first byte, and then its whole request head, within this time.
    pub header_read_timeout: Duration,
    /// A connection with nothing read or written for this long is closed (kept-alive and HTTP/2
    /// connections included). Longer than `request_timeout`, so a request being answered is
    /// never cut.
    pub idle_timeout: Duration,
    /// A whole request, body included, must be answered within this time.
    pub request_timeout: Duration,
    /// `POST /api/track` bodies above this size get 413.
    pub max_track_body: usize,
    /// `POST /api/skills` bodies (a skill with its files) above this size get 413.
    pub max_publish_body: usize,
    /// Any other request body above this size gets 413.
    pub max_body: usize,
    /// Connections above this count wait to be accepted.
    pub max_connections: usize,
    /// On shutdown, open requests get this long to finish.
    pub drain_timeout: Duration,
    /// How long a looked-up API key is trusted before it is checked again; revocation takes
    /// effect within this time.
    pub key_cache_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_track_body: 1024 * 1024,
            max_publish_body: 10 * 1024 * 1024,
            max_body: 64 * 1024,
            max_connections: 4096,
            drain_timeout: Duration::from_secs(10),
            key_cache_ttl: Duration::from_millis(900),
        }
    }
}

impl Config {
    pub fn new(base_domain: &str) -> anyhow::Result<Self> {
        let base_domain = base_domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let valid = !base_domain.is_empty()
            && base_domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            anyhow::bail!(
                "RELAY_BASE_DOMAIN {base_domain:?} is not a DNS name: use e.g. relay.example.com or localhost"
            );
        }
        Ok(Self {
            base_domain,
            track_rate_per_minute: 600,
            limits: Limits::default(),
            public_url: None,
            sso: None,
            trusted_proxies: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    #[test]
    fn address_blocks() {
        let net: IpNet = "172.16.0.0/12".parse().unwrap();
        assert!(net.contains("172.20.1.2".parse().unwrap()));
        assert!(!net.contains("172.32.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:172.16.0.9".parse().unwrap()));
        let host: IpNet = "::1".parse().unwrap();
        assert!(host.contains("::1".parse().unwrap()));
        assert!(!host.contains("::2".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0.0/x"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
