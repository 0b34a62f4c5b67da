//! Reading what a browser sends, the same way on every page: urlencoded form bodies, query
//! strings and path ids. Bad input never becomes a 400: a form gets its defaults (which
//! validation then refuses with a message), an id that is not one is a missing page.

use std::collections::HashMap;

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use super::error::{WebError, WebResult};

/// A urlencoded body into a struct of `#[serde(default)]` text fields. Never fails: a body that
/// cannot be read (or repeats a field) gives the defaults, which validation then refuses.
pub fn parse_form<T: DeserializeOwned + Default>(body: &Bytes) -> T {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// A query string's name-value pairs in order; an undecodable one has none.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default()
}

/// The first value of `name` among a query's pairs, or `""`.
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// A form's fields by name, for forms whose fields depend on the action (later duplicates win;
/// an undecodable body has no fields).
#[derive(Debug, Default)]
pub struct FormFields(HashMap<String, String>);

impl FormFields {
    pub fn parse(body: &[u8]) -> FormFields {
        FormFields(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        )
    }

    /// The field, if the form has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The field, or `""` when missing.
    pub fn get(&self, name: &str) -> &str {
        self.field(name).unwrap_or_default()
    }

    /// A trimmed free-text field, cut to `max` characters.
    pub fn text(&self, name: &str, max: usize) -> String {
        self.get(name).trim().chars().take(max).collect()
    }
}

/// A path id; anything else is a missing page, never a 400.
pub fn path_id(raw: &str) -> WebResult<u64> {
    raw.parse().map_err(|_| WebError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_pairs_read_leniently() {
        let f = FormFields::parse(b"a=1&note=+%20hi+there+&a=2");
        assert_eq!(f.get("a"), "2");
        assert_eq!(f.field("b"), None);
        assert_eq!(f.get("b"), "");
        assert_eq!(f.text("note", 5), "hi th");
        assert_eq!(FormFields::parse(b"\xff\xfe").field("a"), None);
        assert_eq!(
            query_pairs(Some("x=1&y=%E4%B8%AD")),
            [
                ("x".to_owned(), "1".to_owned()),
                ("y".to_owned(), "中".to_owned())
            ]
        );
        assert!(query_pairs(None).is_empty());
        let q = query_pairs(Some("a=1&a=2"));
        assert_eq!((first(&q, "a"), first(&q, "b")), ("1", ""));
    }
}
