//! A browser for sign-in tests: plain HTTP/1.1 over TCP, following redirects across hosts and
//! keeping cookies per host, the way a person's browser carries a sign-in from a Relay server to
//! an OIDC provider and back.
//!
//! Every `*.localhost` name and `127.0.0.1` is this machine (RFC 6761), whatever the system
//! resolver thinks, so `http://acme.localhost:8080/` reaches a local trackd with the right Host.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// Header lines as sent, names as written.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `error.code` of a Relay error answer, or "".
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Where a series of redirects ended.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The last answer: the page, or the redirect that pointed at the stop prefix.
    pub page: Page,
    /// Every URL requested, in order.
    pub trail: Vec<String>,
    /// The URL the browser was sent to but did not open (it started with the stop prefix).
    pub stopped_at: Option<String>,
}

#[derive(Debug, Default)]
pub struct Browser {
    cookies: HashMap<String, HashMap<String, String>>,
}

impl Browser {
    pub fn new() -> Self {
        Self::default()
    }

    /// One request, no redirects followed; cookies sent and stored. Panics on a URL that is not
    /// `http://host:port/…` on this machine: a test's mistake.
    pub fn request(&mut self, method: &str, url: &str) -> Page {
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the test browser speaks http:// only: {url}"));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let (host, port) = authority
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("the test browser needs a port: {url}"));
        assert!(
            host == "127.0.0.1" || host == "localhost" || host.ends_with(".localhost"),
            "the test browser only visits this machine: {url}"
        );
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
             Accept: text/html,application/json\r\nContent-Length: 0\r\n"
        );
        if let Some(jar) = self.cookies.get(host).filter(|jar| !jar.is_empty()) {
            let mut pairs: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.sort();
            head.push_str(&format!("Cookie: {}\r\n", pairs.join("; ")));
        }
        head.push_str("\r\n");
        let page = exchange(&format!("127.0.0.1:{port}"), head.as_bytes());
        for (name, value) in &page.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let Some((key, val)) = value
                .split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            let jar = self.cookies.entry(host.to_owned()).or_default();
            if value.contains("Max-Age=0") {
                jar.remove(key.trim());
            } else {
                jar.insert(key.trim().to_owned(), val.trim().to_owned());
            }
        }
        page
    }

    /// GETs `url` and follows redirects (at most 10), stopping before any URL that starts with
    /// `stop_at` (a CLI's loopback the test wants to inspect rather than open).
    pub fn visit(&mut self, url: &str, stop_at: Option<&str>) -> Visit {
        let mut url = url.to_owned();
        let mut trail = Vec::new();
        for _ in 0..10 {
            trail.push(url.clone());
            let page = self.request("GET", &url);
            let location = page
                .header("location")
                .filter(|_| page.status / 100 == 3)
                .map(str::to_owned);
            let Some(location) = location else {
                return Visit {
                    page,
                    trail,
                    stopped_at: None,
                };
            };
            let next = if location.starts_with('/') {
                let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{location}")
            } else {
                location
            };
            if stop_at.is_some_and(|prefix| next.starts_with(prefix)) {
                return Visit {
                    page,
                    trail,
                    stopped_at: Some(next),
                };
            }
            url = next;
        }
        panic!("too many redirects: {trail:?}");
    }

    /// The cookie this browser holds for `host`.
    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.cookies.get(host)?.get(name).cloned()
    }
}

/// Sends a raw request to `addr` and reads the whole answer (the request says
/// `Connection: close`). Bodies with a length or until close; chunked bodies are decoded.
pub fn exchange(addr: &str, request: &[u8]) -> Page {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|err| panic!("cannot connect to {addr}: {err}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    stream.write_all(request).expect("sending the request");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer from {addr}: {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Page {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The query parameters of a URL, percent-decoded.
pub fn query_of(url: &str) -> HashMap<String, String> {
    relay_api::query::parse(url.split_once('?').map_or("", |(_, query)| query))
}

pub use relay_api::query::{decode as percent_decode, encode as percent_encode};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_round_trip() {
        let url = format!(
            "http://x/cb?code=a%2Bb&state={}&bad=%zz",
            percent_encode("s t&u")
        );
        let query = query_of(&url);
        assert_eq!(query["code"], "a+b");
        assert_eq!(query["state"], "s t&u");
        assert_eq!(query["bad"], "%zz");
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
