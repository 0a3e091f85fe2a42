//! relay-mcp's HTTP client for trackd.
//!
//! Names under `localhost` are loopback by RFC 6761, but many system resolvers (these machines'
//! included) do not resolve `acme.localhost`: for `http://…localhost` servers the client connects
//! to 127.0.0.1 itself and keeps the name in the Host header, so local tenants work out of the box.

use std::time::Duration;

use anyhow::{Context, bail};

/// What became of a batch of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// 202: stored.
    Sent,
    /// A final refusal (a 4xx other than 408 and 429): sending again would not help.
    Rejected(u16),
    /// Not now (network error, 408, 429, 5xx): try again, not before `after`.
    Retry { after: Duration },
}

pub struct Client {
    agent: ureq::Agent,
    /// Where requests go: the server, or 127.0.0.1 for a `localhost` name.
    base: String,
    /// The Host header when `base` is not the server's own name.
    host: Option<String>,
    api_key: Option<String>,
}

impl Client {
    pub fn new(server: &str, api_key: Option<String>, timeout: Duration) -> anyhow::Result<Self> {
        let server = server.trim().trim_end_matches('/');
        let (scheme, authority) = server
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .with_context(|| format!("server {server:?} must start with https:// or http://"))?;
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            bail!("server {server:?} must be a bare URL such as https://acme.relay.example.com");
        }
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (name, Some(port)),
            _ => (authority, None),
        };
        let name = name.to_ascii_lowercase();
        let loopback_name = name == "localhost" || name.ends_with(".localhost");
        let (base, host) = if scheme == "http" && loopback_name {
            let port = port.unwrap_or("80");
            (
                format!("http://127.0.0.1:{port}"),
                Some(authority.to_owned()),
            )
        } else {
            (server.to_owned(), None)
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("relay-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self {
            agent,
            base,
            host,
            api_key,
        })
    }

    /// `GET path`, the answer's status and JSON body (`None` when the server cannot be reached
    /// or does not answer JSON).
    pub fn get_json(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(host) = &self.host {
            request = request.header("Host", host);
        }
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request.call().ok()?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().ok()?;
        Some((status, serde_json::from_str(&body).ok()?))
    }

    /// Sends `body` as JSON with `method` (POST, PUT) to `path`; the status and JSON answer
    /// (`None` when the server cannot be reached).
    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Option<(u16, serde_json::Value)> {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "PUT" => self.agent.put(url),
            _ => self.agent.post(url),
        }
        .header("Content-Type", "application/json");
        if let Some(host) = &self.host {
            request = request.header("Host", host);
        }
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request.send(body.to_string().as_str()).ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// Posts `pairs` as an HTML form (`application/x-www-form-urlencoded`) to `path`: OAuth's
    /// token endpoint takes its parameters this way. The status and JSON answer (`None` when the
    /// server cannot be reached).
    pub fn post_form(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> Option<(u16, serde_json::Value)> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(host) = &self.host {
            request = request.header("Host", host);
        }
        let mut response = request.send_form(pairs.iter().copied()).ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// Posts stored events (each a JSON object) as one batch to `/api/track`.
    pub fn post_events(&self, events: &[&str]) -> Delivery {
        let body = format!("{{\"events\":[{}]}}", events.join(","));
        let mut request = self
            .agent
            .post(format!("{}/api/track", self.base))
            .header("Content-Type", "application/json");
        if let Some(host) = &self.host {
            request = request.header("Host", host);
        }
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let response = match request.send(body.as_str()) {
            Ok(response) => response,
            Err(_) => {
                return Delivery::Retry {
                    after: Duration::ZERO,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map_or(Duration::ZERO, Duration::from_secs);
        match status {
            202 => Delivery::Sent,
            408 | 429 => Delivery::Retry { after: retry_after },
            400..=499 => Delivery::Rejected(status),
            _ => Delivery::Retry { after: retry_after },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names_go_to_loopback_with_their_host() {
        let client =
            Client::new("http://acme.localhost:8080/", None, Duration::from_secs(1)).unwrap();
        assert_eq!(client.base, "http://127.0.0.1:8080");
        assert_eq!(client.host.as_deref(), Some("acme.localhost:8080"));
        let client = Client::new(
            "https://acme.relay.example.com",
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            (client.base.as_str(), client.host),
            ("https://acme.relay.example.com", None)
        );
        for bad in ["acme.example.com", "ftp://x", "https://a/b", "http://"] {
            assert!(
                Client::new(bad, None, Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
    }
}
