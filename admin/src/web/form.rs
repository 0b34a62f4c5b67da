//! Reading what a browser sends, the same way on every page: urlencoded form bodies and path ids.
//! Bad input never becomes a 400: a form gets its defaults (which validation then refuses with a
//! message), an id that is not one is a missing page.

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use super::error::{WebError, WebResult};

/// A urlencoded body into a struct of `#[serde(default)]` text fields. Never fails: a body that
/// cannot be read (or repeats a field) gives the defaults, which validation then refuses.
pub fn parse_form<T: DeserializeOwned + Default>(body: &Bytes) -> T {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// A path id; anything else is a missing page, never a 400.
pub fn path_id(raw: &str) -> WebResult<u64> {
    raw.parse().map_err(|_| WebError::NotFound)
}
