//! The headers every HTML answer carries. A leaf module, so pages and error pages share them
//! without importing each other.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Pages are never cached: they show live state and per-session tokens.
pub fn html_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, max-age=0"),
    );
    resp
}
