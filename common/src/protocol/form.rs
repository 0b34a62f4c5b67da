//! `application/x-www-form-urlencoded` bodies as ordered `(name, value)` pairs, shared by the JD
//! and Agiso codecs. Order and duplicates are kept exactly as received; signatures are computed
//! over these decoded values.

/// Decodes a form body (or a query string) into pairs. `+` becomes a space and `%XX` escapes are
/// decoded; invalid UTF-8 in escapes is replaced rather than rejected.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    // Deserializing into a list of string pairs cannot fail for any input; the fallback only
    // keeps this panic-free.
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

/// Encodes pairs as a form body: space as `+`, and `+`, `/`, `=` and every non-ASCII byte
/// percent-escaped (so a Base64 value survives the trip).
pub fn encode_form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    // Serializing string pairs cannot fail; empty output only if it somehow did.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The first value of `name`, if present.
pub fn first_value<'a, K: AsRef<str>, V: AsRef<str>>(
    pairs: &'a [(K, V)],
    name: &str,
) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.as_ref() == name)
        .map(|(_, v)| v.as_ref())
}

/// The first name that occurs more than once, if any, as it may be shown in an answer or a
/// log line ([`shown_name`]: never the raw bytes of an outsider's name). A duplicated protocol
/// field is ambiguous (which value was signed?), so the codecs reject such requests. Linear
/// time: a body of thousands of fields costs one hash set.
pub fn duplicated_name<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Option<String> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    pairs
        .iter()
        .map(|(k, _)| k.as_ref())
        .find(|k| !seen.insert(*k))
        .map(shown_name)
}

/// A parameter name fit to echo: a short ASCII identifier as is, anything else replaced.
pub fn shown_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if plain {
        name.to_owned()
    } else {
        "（非法参数名）".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let pairs = parse_form(b"a=1&b=x+y&c=%2B%3D%2F&d=&e=%E4%BA%AC");
        assert_eq!(
            pairs,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y".to_string()),
                ("c".to_string(), "+=/".to_string()),
                ("d".to_string(), String::new()),
                ("e".to_string(), "京".to_string()),
            ]
        );
        assert_eq!(first_value(&pairs, "c"), Some("+=/"));
        assert_eq!(first_value(&pairs, "z"), None);
        assert!(parse_form(b"").is_empty());
        // Garbage does not panic.
        let _ = parse_form(b"%%%&&==\xff\xfe");
    }

    #[test]
    fn encodes_base64_safely() {
        let body = encode_form(&[("data", "ab+c/d=="), ("t", "x y")]);
        assert_eq!(body, "data=ab%2Bc%2Fd%3D%3D&t=x+y");
        assert_eq!(parse_form(body.as_bytes())[0].1, "ab+c/d==");
    }

    #[test]
    fn finds_duplicates() {
        assert_eq!(
            duplicated_name(&[("a", "1"), ("b", "2"), ("a", "3")]).as_deref(),
            Some("a")
        );
        assert_eq!(duplicated_name(&[("a", "1"), ("b", "2")]), None);
        // An outsider's name is never echoed raw.
        let evil = "<script>\r\nx".repeat(100);
        let pairs = [(evil.as_str(), "1"), (evil.as_str(), "2")];
        assert_eq!(duplicated_name(&pairs).as_deref(), Some("（非法参数名）"));
        assert_eq!(shown_name("customerId"), "customerId");
        assert_eq!(shown_name(&"a".repeat(33)), "（非法参数名）");
        // Many fields: linear time.
        let many: Vec<(String, String)> = (0..100_000)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(duplicated_name(&many), None);
    }
}
