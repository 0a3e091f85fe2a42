//! `application/x-www-form-urlencoded` parsing and percent-encoding, strict enough for a test
//! provider: bad escapes, non-UTF-8 and repeated parameters are errors, never panics.

use std::collections::HashMap;

/// The parameters of a query string or form body, each name at most once (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// Parses `a=1&b=two+words&c=%2F`. Empty pieces (`a=1&&b=2`) are skipped; a piece without
    /// `=` is a parameter with an empty value.
    pub(crate) fn parse(input: &str) -> Result<Params, String> {
        let mut params = HashMap::new();
        for piece in input.split('&').filter(|piece| !piece.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = decode(name).ok_or_else(|| "malformed percent-encoding".to_owned())?;
            let value = decode(value)
                .ok_or_else(|| format!("malformed percent-encoding in parameter {name:?}"))?;
            if params.insert(name.clone(), value).is_some() {
                return Err(format!("parameter {name:?} given more than once"));
            }
        }
        Ok(Params(params))
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

/// Form-decodes one name or value: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
pub(crate) fn decode(input: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(input.len());
    let mut rest = input.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            b'%' => {
                let [high, low, tail @ ..] = tail else {
                    return None;
                };
                bytes.push(hex_value(*high)? << 4 | hex_value(*low)?);
                rest = tail;
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the result is safe as a
/// query-string name or value (and as a form value).
pub(crate) fn encode(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let params = Params::parse("a=1&b=two+words&c=%2F%c3%A9&&d&e=").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), Some("two words"));
        assert_eq!(params.get("c"), Some("/é"));
        assert_eq!(params.get("d"), None);
        assert_eq!(params.get("e"), None);
        assert_eq!(params.get("f"), None);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(Params::parse("a=%").is_err());
        assert!(Params::parse("a=%4").is_err());
        assert!(Params::parse("a=%zz").is_err());
        assert!(Params::parse("a=%ff").is_err(), "not UTF-8");
        assert!(Params::parse("a=1&a=2").is_err(), "repeated");
    }

    #[test]
    fn encode_round_trips() {
        let raw = "http://x/cb?a=1&b=é ~+%";
        let encoded = encode(raw);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
        );
        assert_eq!(decode(&encoded).as_deref(), Some(raw));
    }
}
