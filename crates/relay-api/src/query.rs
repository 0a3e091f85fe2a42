//! Query strings and HTML forms (`a=1&b=two%20words`): what trackd reads from URLs and sign-in
//! forms, and what the sign-in redirects and relay-mcp's login write.

use std::collections::HashMap;

/// The pairs of a query string or form body, percent-decoded, `+` as a space. A malformed
/// escape is kept as written; a repeated name keeps its last value.
pub fn parse(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-decodes `text` (`+` is a space); bytes that are not UTF-8 become U+FFFD.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                out.push(hex_value(bytes[i + 1]) * 16 + hex_value(bytes[i + 2]));
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `base` with `pairs` appended to its query string.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = base.to_owned();
    let mut separator = if base.contains('?') { '&' } else { '?' };
    for (key, value) in pairs {
        url.push(separator);
        url.push_str(&encode(key));
        url.push('=');
        url.push_str(&encode(value));
        separator = '&';
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let query = parse("q=code+review&category=ops%2Fdev&skill=sk_1&bad=%zz&end=%4&e=%C3%A9");
        assert_eq!(query["q"], "code review");
        assert_eq!(query["category"], "ops/dev");
        assert_eq!(query["skill"], "sk_1");
        assert_eq!(query["bad"], "%zz");
        assert_eq!(query["end"], "%4");
        assert_eq!(query["e"], "é");
        assert!(parse("").is_empty());
    }

    #[test]
    fn encodes_and_round_trips() {
        assert_eq!(
            with_query("http://x/cb?a=1", &[("state", "a b&c")]),
            "http://x/cb?a=1&state=a%20b%26c"
        );
        for text in ["", "plain", "a b+c&d=e/f?g#h", "été ☕", "%41"] {
            assert_eq!(decode(&encode(text)), text);
        }
    }
}
