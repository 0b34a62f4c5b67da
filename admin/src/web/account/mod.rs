//! 账户: the logged-in user's own page; change the own password (current password required,
//! new one at least 8 characters, typed twice), audited. The user's other sessions end; this
//! one stays.
//!
//! The one POST that takes a plain [`CurrentUser`]: every role, viewers included, may change
//! their own password (like logging out).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::password;
use crate::web::auth::{self, CurrentUser};
use crate::web::form::parse_form;
use crate::web::page::{self, Chrome, Nav};
use crate::web::users::{check_password, hash_password};
use crate::web::{AppState, WebError, WebResult};

mod queries;

const PAGE: &str = "/admin/account";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/account", get(show))
        .route("/admin/account/password", post(change_password))
}

#[derive(Template)]
#[template(path = "account/index.html")]
struct AccountPage {
    chrome: Chrome,
    role: &'static str,
    last_login: String,
    sessions: i64,
}

async fn show(State(state): State<AppState>, user: CurrentUser) -> WebResult<Response> {
    let last_login = queries::last_login(&state.db, user.id).await?;
    let sessions = auth::live_sessions_of(&state.db, user.id).await?;
    page::render(&AccountPage {
        role: user.role.label_zh(),
        chrome: Chrome::new(&user, Nav::Account),
        last_login: page::beijing_opt(last_login),
        sessions,
    })
}

#[derive(Deserialize, Default)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    let f: PasswordForm = parse_form(&body);
    if f.current.is_empty() {
        return Ok(page::redirect_error(PAGE, "请输入当前密码"));
    }
    if let Err(e) = check_password(&f.new) {
        return Ok(page::redirect_error(PAGE, format!("新{e}")));
    }
    if f.new != f.confirm {
        return Ok(page::redirect_error(PAGE, "两次输入的新密码不一致"));
    }
    if f.new == f.current {
        return Ok(page::redirect_error(PAGE, "新密码不能与当前密码相同"));
    }
    let row = common::db::users::get(&state.db, user.id)
        .await?
        .ok_or(WebError::Forbidden)?;
    let (current, phc) = (f.current.clone(), row.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || password::verify(&current, &phc))
        .await
        .unwrap_or(false);
    if !ok {
        tracing::warn!(user = %user.username, "own password change refused: wrong current password");
        user.audit(
            &state.db,
            "account.password_failed",
            Some(("user", user.id.to_string())),
            None,
        )
        .await?;
        return Ok(page::redirect_error(PAGE, "当前密码不正确"));
    }
    let hash = hash_password(f.new).await?;
    let this_session = auth::cookie(&headers, auth::SESSION_COOKIE).unwrap_or_default();
    let mut tx = state.db.begin().await?;
    // Only if the hash is still the one the current password was checked against.
    let changed = queries::replace_password(&mut tx, user.id, &row.password_hash, &hash).await?;
    if !changed {
        tx.rollback().await?;
        return Ok(page::redirect_error(
            PAGE,
            "密码刚被修改过，请重新输入当前密码",
        ));
    }
    let ended = auth::end_other_sessions(&mut tx, user.id, this_session).await?;
    user.audit(
        &mut *tx,
        "account.password",
        Some(("user", user.id.to_string())),
        Some(format!("结束其他会话 {ended} 个")),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, other_sessions_ended = ended, "own password changed");
    Ok(page::redirect_ok(
        PAGE,
        if ended > 0 {
            format!("密码已修改，其他 {ended} 个登录会话已结束")
        } else {
            "密码已修改".to_owned()
        },
    ))
}
