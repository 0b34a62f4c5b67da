//! The login page, login (rate limit, lockout, constant-time answers), logout, and the first
//! admin from the environment.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use common::db::Pool;
use common::db::audit::{self, AuditEntry};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::password;
use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::page;
pub use crate::web::user::CurrentUser;

use super::sessions;
use super::*;

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
        sessions::create_session(
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
        let _ = sessions::end(&state.db, token).await;
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
}
