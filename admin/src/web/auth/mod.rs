//! Who is asking, and may they: logins (argon2id, per-IP rate limit and per-account lockout, both counted in the database
//! so every instance shares them),
//! server-side sessions (only the SHA-256 of the cookie token is stored), the CSRF check of
//! every write, roles checked by extractors, and the audit row every write leaves.
//!
//! Here the extractors, tokens and cookies, and the guard; the session SQL in `sessions`, the
//! login page, login, logout and the bootstrap admin in `login`.

mod login;
mod sessions;

use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::{WebError, WebResult};
use super::page;
use super::token::random_hex;
pub use super::user::CurrentUser;
use super::user::{FLASH_COOKIE, Flash};
use crate::CookieSecure;

pub use login::{
    FIRST_USER_HINT, FirstUserHint, LOGIN_BODY_LIMIT, LoginForm, LoginQuery, bootstrap_admin,
    log_if_no_user, login_form, login_submit, logout, no_user_yet,
};
pub use sessions::{end_other_sessions, end_sessions_of, live_sessions_of};

pub const SESSION_COOKIE: &str = "vg_admin";
const LOGIN_CSRF_COOKIE: &str = "vg_login";
/// The form field (or `X-CSRF-Token` header) carrying the session's token.
pub const CSRF_FIELD: &str = "_csrf";

pub use common::domain::Role;

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or(WebError::Forbidden)
    }
}

/// A user with at least the operator role (order actions, cards, resends).
pub struct Operator(pub CurrentUser);

/// A user with the admin role (shops and keys, products, users).
pub struct AdminUser(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let u = CurrentUser::from_request_parts(parts, s).await?;
        if u.role >= Role::Operator {
            Ok(Operator(u))
        } else {
            Err(WebError::Forbidden)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let u = CurrentUser::from_request_parts(parts, s).await?;
        if u.role >= Role::Admin {
            Ok(AdminUser(u))
        } else {
            Err(WebError::Forbidden)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens, cookies

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of two tokens.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_https(headers: &HeaderMap, mode: CookieSecure) -> bool {
    match mode {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https")),
    }
}

fn set_cookie(resp: &mut Response, name: &str, value: &str, max_age: Option<u64>, secure: bool) {
    let mut c = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn client_ip(
    state: &AppState,
    req_headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<IpAddr> {
    let peer = peer.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    common::http::client_ip(peer, req_headers, &state.config.client_ip)
}

// ---------------------------------------------------------------------------------------------
// The guard: session, CSRF, flash

fn public_path(path: &str) -> bool {
    path == "/admin/login" || path.starts_with("/admin/static/")
}

/// Every `/admin` request but the login page and static files: loads the session (or redirects
/// to the login page), checks the CSRF token of every write, hands the flash message over.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if public_path(&path) {
        return next.run(req).await;
    }
    if !path.starts_with("/admin/") {
        // `/favicon.ico` and the like: not ours, and no login redirect (a browser following it
        // in the background would replace the login form's token).
        return WebError::NotFound.into_response();
    }
    let session = match cookie(req.headers(), SESSION_COOKIE) {
        Some(token) => {
            match sessions::load_session(&state.db, token, state.config.session_max).await {
                Ok(s) => s.map(|s| (token.to_owned(), s)),
                Err(e) => return WebError::from(e).into_response(),
            }
        }
        None => None,
    };
    let Some((token, s)) = session else {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let to = if req.method() == Method::GET && target != "/admin/" {
            format!("/admin/login?{}", page::query_string(&[("next", &target)]))
        } else {
            "/admin/login".to_owned()
        };
        return Redirect::to(&to).into_response();
    };
    let role = s.role;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = client_ip(&state, req.headers(), peer).map(|i| i.to_string());
    let flash = cookie(req.headers(), FLASH_COOKIE).and_then(Flash::from_cookie_value);
    let had_flash = cookie(req.headers(), FLASH_COOKIE).is_some();

    let req = if matches!(*req.method(), Method::GET | Method::HEAD) {
        req
    } else {
        match check_csrf(req, &s.csrf_token, state.config.max_upload_bytes).await {
            Ok(req) => req,
            Err(e) => return e.into_response(),
        }
    };

    // Sliding expiry, written at most once a minute per session, never past the absolute end.
    if s.seen_secs_ago >= 60 {
        let _ = sessions::slide(
            &state.db,
            &token,
            state.config.session_ttl,
            state.config.session_max,
        )
        .await;
    }
    let mut req = req;
    req.extensions_mut().insert(CurrentUser {
        id: s.user_id,
        username: s.username,
        role,
        csrf: s.csrf_token,
        ip,
        flash,
    });
    let mut resp = next.run(req).await;
    // A flash is shown once: clear it unless this response sets a new one.
    if had_flash
        && !resp.headers().get_all(header::SET_COOKIE).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.starts_with(&format!("{FLASH_COOKIE}=")))
        })
    {
        set_cookie(&mut resp, FLASH_COOKIE, "", Some(0), false);
    }
    resp
}

/// Reads the body (bounded), finds the CSRF token (header, urlencoded field or multipart
/// field) and puts the body back for the handler.
async fn check_csrf(req: Request, expected: &str, limit: usize) -> WebResult<Request> {
    let (parts, body) = req.into_parts();
    if let Some(h) = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        && same_token(h, expected)
    {
        return Ok(Request::from_parts(parts, body));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| WebError::bad("提交的内容过大或不完整。"))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let found = if content_type.starts_with("multipart/form-data") {
        multipart_field(&content_type, bytes.clone(), CSRF_FIELD).await
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD))
            .map(|(_, v)| v)
    };
    match found {
        Some(t) if same_token(&t, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(WebError::Csrf),
    }
}

async fn multipart_field(content_type: &str, body: Bytes, name: &str) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = mp.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vg_admin=tok; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
