//! Query strings: `a=1&b=two%20words`, percent-decoded, `+` as space.

use std::collections::HashMap;

pub(crate) fn parse(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|pair| pair.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn decodes_pairs() {
        let query = parse(Some(
            "q=code+review&category=ops%2Fdev&skill=sk_1&bad=%zz&end=%4",
        ));
        assert_eq!(query["q"], "code review");
        assert_eq!(query["category"], "ops/dev");
        assert_eq!(query["skill"], "sk_1");
        assert_eq!(query["bad"], "%zz");
        assert_eq!(query["end"], "%4");
        assert!(parse(None).is_empty());
    }
}
