//! Who is asking, and may they: logins (argon2id, per-IP rate limit and per-account lockout, both counted in the database
//! so every instance shares them),
//! server-side sessions (only the SHA-256 of the cookie token is stored), the CSRF check of
//! every write, roles checked by extractors, and the audit row every write leaves.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use common::db::Pool;
use common::db::audit::{self, AuditEntry};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::{WebError, WebResult};
use super::page;
pub use super::user::CurrentUser;
use super::user::{FLASH_COOKIE, Flash};
use crate::{CookieSecure, password};

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

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

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
// Sessions

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: u64,
    username: String,
    role: Role,
    csrf_token: String,
    seen_secs_ago: i64,
}

/// A live session: not idle past its expiry, and younger than the absolute lifetime `max`.
async fn load_session(pool: &Pool, token: &str, max: Duration) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT s.user_id, u.username, u.role, s.csrf_token,
                TIMESTAMPDIFF(SECOND, s.last_seen_at, NOW(3)) AS seen_secs_ago
         FROM sessions s JOIN admin_users u ON u.id = s.user_id
         WHERE s.id = ? AND s.expires_at > NOW(3) AND s.created_at > NOW(3) - INTERVAL ? SECOND
           AND u.enabled = 1",
    )
    .bind(token_hash(token))
    .bind(max.as_secs())
    .fetch_optional(pool)
    .await
}

async fn create_session(
    pool: &Pool,
    user_id: u64,
    ttl: Duration,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> sqlx::Result<String> {
    let token = random_hex(32);
    sqlx::query(
        "INSERT INTO sessions (id, user_id, csrf_token, ip, user_agent, expires_at)
         VALUES (?, ?, ?, ?, ?, NOW(3) + INTERVAL ? SECOND)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(random_hex(32))
    .bind(ip)
    .bind(user_agent.map(|u| u.chars().take(255).collect::<String>()))
    .bind(ttl.as_secs())
    .execute(pool)
    .await?;
    // Expired sessions are removed by the hourly retention task (`db::retention`).
    Ok(token)
}

/// Ends every session of a user (disabled account, password changed by an admin).
pub async fn end_sessions_of(ex: impl sqlx::MySqlExecutor<'_>, user_id: u64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = ?")
        .bind(user_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Creates the first admin from `ADMIN_BOOTSTRAP_*` when there is no user at all.
pub async fn bootstrap_admin(
    pool: &Pool,
    username: &str,
    pass: &SecretString,
) -> anyhow::Result<()> {
    if common::db::users::count(pool).await? > 0 {
        return Ok(());
    }
    let hash = password::hash(pass.expose_secret())?;
    match common::db::users::insert(pool, username, &hash, Role::Admin).await {
        Ok(id) => {
            audit::record(
                pool,
                AuditEntry {
                    user_id: Some(id),
                    username: "bootstrap",
                    action: "user.create",
                    target_type: Some("user"),
                    target_id: Some(id.to_string()),
                    detail: Some(format!("{username} (admin, ADMIN_BOOTSTRAP_PASSWORD)")),
                    ip: None,
                },
            )
            .await?;
            tracing::info!(username, "created the bootstrap admin");
            Ok(())
        }
        // Another admin instance created it first.
        Err(e) if common::db::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
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
        Some(token) => match load_session(&state.db, token, state.config.session_max).await {
            Ok(s) => s.map(|s| (token.to_owned(), s)),
            Err(e) => return WebError::from(e).into_response(),
        },
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
        let _ = sqlx::query(
            "UPDATE sessions SET last_seen_at = NOW(3),
                expires_at = LEAST(NOW(3) + INTERVAL ? SECOND, created_at + INTERVAL ? SECOND)
             WHERE id = ?",
        )
        .bind(state.config.session_ttl.as_secs())
        .bind(state.config.session_max.as_secs())
        .bind(token_hash(&token))
        .execute(&state.db)
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

// ---------------------------------------------------------------------------------------------
// Login / logout

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
    username: String,
    /// Set while there is no back-office user at all: how to create the first one.
    first_user: Option<FirstUserHint>,
}

/// How an operator creates the first back-office user: the command in the compose deployment and
/// with the bare binary (the password is asked without echo, or read from standard input).
pub struct FirstUserHint {
    pub compose: &'static str,
    pub binary: &'static str,
}

pub const FIRST_USER_HINT: FirstUserHint = FirstUserHint {
    compose: "docker compose run --rm admin admin create-user --username admin --role admin",
    binary: "admin create-user --username admin --role admin",
};

/// True while no back-office user exists. Once one does, the answer is cached for the life of
/// the process and the database is no longer asked (users are disabled, never all deleted). A
/// database error counts as "users exist": the notice is advice, not worth an error page.
pub async fn no_user_yet(state: &AppState) -> bool {
    use std::sync::atomic::Ordering;
    if state.user_exists.load(Ordering::Relaxed) {
        return false;
    }
    match common::db::users::count(&state.db).await {
        Ok(0) => true,
        Ok(_) => {
            state.user_exists.store(true, Ordering::Relaxed);
            false
        }
        Err(_) => false,
    }
}

/// Says once in the log, at start, that nobody can log in yet and how to create the first user.
pub async fn log_if_no_user(pool: &Pool) {
    if matches!(common::db::users::count(pool).await, Ok(0)) {
        tracing::warn!(
            "还没有任何后台用户，无法登录管理后台。请创建第一个管理员（密码在提示时输入，不回显；\
             脚本中可从标准输入传入）：docker compose 部署执行 `{}`；直接运行二进制执行 `{}`",
            FIRST_USER_HINT.compose,
            FIRST_USER_HINT.binary
        );
    }
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

fn safe_next(next: &str) -> String {
    if next.starts_with("/admin/") && !next.starts_with("//") && !next.contains("://") {
        next.to_owned()
    } else {
        "/admin/".to_owned()
    }
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    username: &str,
    error: Option<String>,
    status: axum::http::StatusCode,
    no_user: bool,
) -> Response {
    // Keep the token of an open login form: several tabs (or background requests that end on
    // this page) must not invalidate each other.
    let csrf = cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .unwrap_or_else(|| random_hex(16));
    let page = LoginPage {
        csrf: csrf.clone(),
        next: safe_next(next),
        error,
        username: username.to_owned(),
        first_user: no_user.then_some(FIRST_USER_HINT),
    };
    let mut resp = match page::render(&page) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    *resp.status_mut() = status;
    let secure = is_https(headers, state.config.cookie_secure);
    set_cookie(&mut resp, LOGIN_CSRF_COOKIE, &csrf, Some(3600), secure);
    resp
}

pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let no_user = no_user_yet(&state).await;
    login_page(
        &state,
        &headers,
        &q.next,
        "",
        None,
        axum::http::StatusCode::OK,
        no_user,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// A typed username that names no account, as the audit log keeps it: its first two characters
/// and its length.
fn masked_username(typed: &str) -> String {
    // Nothing of what was typed: it may be a password entered in the wrong field.
    format!("***（{} 个字符）", typed.chars().count())
}

/// The most an unauthenticated login form may carry (username, password, tokens, `next`).
pub const LOGIN_BODY_LIMIT: usize = 4 * 1024;

/// A hash to verify against when the user does not exist, so both cases take as long.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| password::hash("no such user").unwrap_or_default());

pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let no_user = no_user_yet(&state).await;
    let fail = |msg: &str, status| {
        login_page(
            &state,
            &headers,
            &form.next,
            &form.username,
            Some(msg.to_owned()),
            status,
            no_user,
        )
    };
    let Some(ip) = client_ip(&state, &headers, Some(peer)) else {
        return WebError::Forbidden.into_response();
    };
    let ip_text = ip.to_string();
    match cookie(&headers, LOGIN_CSRF_COOKIE) {
        Some(c) if same_token(c, &form.csrf) => {}
        _ => return WebError::Csrf.into_response(),
    }
    let attempts = match common::db::users::count_login_attempt(&state.db, &ip_text).await {
        Ok(n) => n,
        Err(e) => return WebError::from(e).into_response(),
    };
    if attempts > state.config.login_rate_per_minute {
        tracing::warn!(ip = %ip_text, "login rate limit reached");
        return fail(
            "登录尝试过于频繁，请一分钟后再试。",
            axum::http::StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let username = form.username.trim().to_owned();
    let user = match common::db::users::find_by_username(&state.db, &username).await {
        Ok(u) => u,
        Err(e) => return WebError::from(e).into_response(),
    };
    // What was typed is stored in full only when it names an existing account: an unknown name
    // may be a password typed into the wrong field.
    let audit_name = if user.is_some() {
        username.clone()
    } else {
        masked_username(&username)
    };
    let record = |action: &'static str, user_id: Option<u64>, detail: Option<String>| {
        let (pool, username, ip_text) = (state.db.clone(), audit_name.clone(), ip_text.clone());
        async move {
            let _ = audit::record(
                &pool,
                AuditEntry {
                    user_id,
                    username: &username,
                    action,
                    target_type: Some("user"),
                    target_id: user_id.map(|i| i.to_string()),
                    detail,
                    ip: Some(&ip_text),
                },
            )
            .await;
        }
    };
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let pass = form.password.clone();
    let ok = tokio::task::spawn_blocking(move || password::verify(&pass, &phc))
        .await
        .unwrap_or(false);
    let wrong = "用户名或密码错误。";
    let Some(user) = user.filter(|u| u.enabled) else {
        tracing::warn!(ip = %ip_text, "login failed: unknown or disabled user");
        record("login.failed", None, Some("未知或已停用的用户".into())).await;
        return fail(wrong, axum::http::StatusCode::UNAUTHORIZED);
    };
    let locked = user
        .locked_until
        .is_some_and(|t| t > chrono::Utc::now().naive_utc());
    // A locked account answers exactly like a wrong password: the answer tells a guesser
    // nothing about the account.
    if locked {
        tracing::warn!(user = %user.username, ip = %ip_text, "login refused: account locked");
        record("login.locked", Some(user.id), None).await;
        return fail(wrong, axum::http::StatusCode::UNAUTHORIZED);
    }
    if !ok {
        let lock = match common::db::users::record_login_failure(
            &state.db,
            user.id,
            state.config.login_max_failures,
            state.config.lockout,
        )
        .await
        {
            Ok(lock) => lock,
            Err(e) => return WebError::from(e).into_response(),
        };
        tracing::warn!(user = %user.username, ip = %ip_text, lock, "login failed: wrong password");
        record(
            if lock {
                "login.lockout"
            } else {
                "login.failed"
            },
            Some(user.id),
            Some(if lock {
                "密码错误，账户已锁定".to_owned()
            } else {
                "密码错误".to_owned()
            }),
        )
        .await;
        return fail(wrong, axum::http::StatusCode::UNAUTHORIZED);
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    // Locked meanwhile by a concurrent failure (on any instance): refused like a wrong password.
    match common::db::users::record_login_success(&state.db, user.id).await {
        Ok(true) => {}
        Ok(false) => {
            record("login.locked", Some(user.id), None).await;
            return fail(wrong, axum::http::StatusCode::UNAUTHORIZED);
        }
        Err(e) => return WebError::from(e).into_response(),
    }
    let token = match async {
        create_session(
            &state.db,
            user.id,
            state.config.session_ttl,
            Some(&ip_text),
            ua,
        )
        .await
    }
    .await
    {
        Ok(t) => t,
        Err(e) => return WebError::from(e).into_response(),
    };
    record("login", Some(user.id), None).await;
    tracing::info!(user = %user.username, ip = %ip_text, "login");
    let mut resp = Redirect::to(&safe_next(&form.next)).into_response();
    let secure = is_https(&headers, state.config.cookie_secure);
    set_cookie(&mut resp, SESSION_COOKIE, &token, None, secure);
    set_cookie(&mut resp, LOGIN_CSRF_COOKIE, "", Some(0), secure);
    resp
}

pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let _ = sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(token_hash(token))
            .execute(&state.db)
            .await;
    }
    let _ = user.audit(&state.db, "logout", None, None).await;
    let mut resp = Redirect::to("/admin/login").into_response();
    set_cookie(
        &mut resp,
        SESSION_COOKIE,
        "",
        Some(0),
        is_https(&headers, state.config.cookie_secure),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_kept_inside_admin() {
        assert_eq!(safe_next("/admin/orders?x=1"), "/admin/orders?x=1");
        assert_eq!(safe_next("https://evil.example/admin/"), "/admin/");
        assert_eq!(safe_next("//evil.example"), "/admin/");
        assert_eq!(safe_next(""), "/admin/");
    }

    #[test]
    fn dummy_hash_is_valid() {
        assert!(password::verify("no such user", &DUMMY_HASH));
        assert!(!password::verify("anything", &DUMMY_HASH));
    }

    #[test]
    fn unknown_usernames_are_masked() {
        assert_eq!(masked_username("hunter2-secret"), "***（14 个字符）");
        assert_eq!(masked_username("密码"), "***（2 个字符）");
    }

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
