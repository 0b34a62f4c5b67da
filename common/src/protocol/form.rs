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

/// The first name that occurs more than once, if any. A duplicated protocol field is ambiguous
/// (which value was signed?), so the codecs reject such requests.
pub fn duplicated_name<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Option<&str> {
    pairs.iter().enumerate().find_map(|(i, (k, _))| {
        pairs[..i]
            .iter()
            .any(|(earlier, _)| earlier.as_ref() == k.as_ref())
            .then_some(k.as_ref())
    })
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
            duplicated_name(&[("a", "1"), ("b", "2"), ("a", "3")]),
            Some("a")
        );
        assert_eq!(duplicated_name(&[("a", "1"), ("b", "2")]), None);
    }
}
