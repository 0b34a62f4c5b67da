//! 用户 (admins only, also for reading): the back-office users; create (argon2id password),
//! change role, enable / disable (disabling ends the user's sessions), reset password (ends the
//! user's sessions), unlock. No change may leave the system without an enabled admin. All
//! audited; a repeated submit changes nothing the second time.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use common::db::users::{self, UserRow};
use serde::Deserialize;

use super::auth::{self, AdminUser, Role};
use super::form::{parse_form, path_id};
use super::page::{self, Chrome, Nav};
use super::{AppState, WebError, WebResult};
use crate::password;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/enabled", post(set_enabled))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/users/{id}/unlock", post(unlock))
}

const LIST: &str = "/admin/users";
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A new password's rules; the message is shown as is.
pub fn check_password(p: &str) -> Result<(), String> {
    let n = p.chars().count();
    if n < password::MIN_PASSWORD_CHARS {
        return Err(format!("密码至少 {} 个字符", password::MIN_PASSWORD_CHARS));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("密码最多 {MAX_PASSWORD_CHARS} 个字符"));
    }
    Ok(())
}

/// argon2id, off the async threads (it takes a while on purpose).
pub async fn hash_password(p: String) -> WebResult<String> {
    tokio::task::spawn_blocking(move || password::hash(&p))
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .map_err(WebError::Internal)
}

fn check_username(u: &str) -> Result<(), String> {
    let n = u.chars().count();
    if n == 0 {
        return Err("请填写用户名".into());
    }
    if n > 64 {
        return Err("用户名最多 64 个字符".into());
    }
    if !u.chars().all(|c| c.is_alphanumeric() || "_.-@".contains(c)) {
        return Err("用户名只能包含字母、数字、汉字和 _ . - @".into());
    }
    Ok(())
}

pub struct Line {
    pub id: u64,
    pub username: String,
    pub role: &'static str,
    pub role_label: &'static str,
    pub enabled: bool,
    pub locked: String,
    pub failed_logins: i32,
    pub last_login: String,
    pub created: String,
    pub is_self: bool,
}

impl Line {
    pub fn has_role(&self, r: &str) -> bool {
        self.role == r
    }

    pub fn unlockable(&self) -> bool {
        !self.locked.is_empty() || self.failed_logins > 0
    }
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage {
    chrome: Chrome,
    lines: Vec<Line>,
}

async fn list(State(state): State<AppState>, AdminUser(user): AdminUser) -> WebResult<Response> {
    let now = chrono::Utc::now().naive_utc();
    let lines = users::list(&state.db)
        .await?
        .into_iter()
        .map(|u| Line {
            id: u.id,
            is_self: u.id == user.id,
            username: u.username,
            role: u.role.as_str(),
            role_label: u.role.label_zh(),
            enabled: u.enabled,
            locked: u
                .locked_until
                .filter(|t| *t > now)
                .map(|t| format!("锁定至 {}", page::beijing(t)))
                .unwrap_or_default(),
            failed_logins: u.failed_logins,
            last_login: page::beijing_opt(u.last_login_at),
            created: page::beijing(u.created_at),
        })
        .collect();
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::Users),
        lines,
    })
}

#[derive(Deserialize, Default)]
struct CreateForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn create(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    body: Bytes,
) -> WebResult<Response> {
    let f: CreateForm = parse_form(&body);
    let username = f.username.trim().to_owned();
    if let Err(e) = check_username(&username) {
        return Ok(page::redirect_error(LIST, e));
    }
    let Some(role) = f.role.trim().parse::<Role>().ok() else {
        return Ok(page::redirect_error(LIST, "请选择角色"));
    };
    if let Err(e) = check_password(&f.password) {
        return Ok(page::redirect_error(LIST, e));
    }
    let hash = hash_password(f.password).await?;
    let mut tx = state.db.begin().await?;
    let id = match users::insert(&mut *tx, &username, &hash, role).await {
        Ok(id) => id,
        Err(e) if common::db::is_unique_violation(&e) => {
            return Ok(page::redirect_error(
                LIST,
                format!("用户名「{username}」已存在"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    user.audit(
        &mut *tx,
        "user.create",
        Some(("user", id.to_string())),
        Some(format!("{username}（{}）", role.label_zh())),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(new_user = %username, role = role.as_str(), by = %user.username, "user created");
    Ok(page::redirect_ok(
        LIST,
        format!("已创建用户「{username}」（{}）", role.label_zh()),
    ))
}

/// Locks the enabled admins, then the target (always in this order, so two admins acting at
/// once cannot deadlock), and says whether the target is the last enabled admin.
async fn lock_target(tx: &mut common::db::Tx, id: u64) -> WebResult<(UserRow, bool)> {
    let admins = users::lock_enabled_admins(&mut **tx).await?;
    let target = users::lock(&mut **tx, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let last_admin = admins == [target.id];
    Ok((target, last_admin))
}

const LAST_ADMIN: &str = "不能停用或降级最后一个启用的管理员：请先把其他用户设为管理员。";

#[derive(Deserialize, Default)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn set_role(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let f: RoleForm = parse_form(&body);
    let Some(role) = f.role.trim().parse::<Role>().ok() else {
        return Ok(page::redirect_error(LIST, "请选择角色"));
    };
    let mut tx = state.db.begin().await?;
    let (target, last_admin) = lock_target(&mut tx, id).await?;
    if last_admin && role != Role::Admin {
        tx.rollback().await?;
        return Ok(page::redirect_error(LIST, LAST_ADMIN));
    }
    if !users::set_role(&mut *tx, id, role).await? {
        tx.rollback().await?;
        return Ok(page::redirect_ok(
            LIST,
            format!("「{}」已是{}，未修改。", target.username, role.label_zh()),
        ));
    }
    let old = target.role.label_zh();
    user.audit(
        &mut *tx,
        "user.role",
        Some(("user", id.to_string())),
        Some(format!("{}：{old} → {}", target.username, role.label_zh())),
    )
    .await?;
    tx.commit().await?;
    Ok(page::redirect_ok(
        LIST,
        format!("已将「{}」设为{}", target.username, role.label_zh()),
    ))
}

#[derive(Deserialize, Default)]
struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

async fn set_enabled(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let f: EnabledForm = parse_form(&body);
    let enable = match f.enabled.trim() {
        "1" => true,
        "0" => false,
        _ => return Ok(page::redirect_error(LIST, "无效的操作")),
    };
    let mut tx = state.db.begin().await?;
    let (target, last_admin) = lock_target(&mut tx, id).await?;
    if last_admin && !enable {
        tx.rollback().await?;
        return Ok(page::redirect_error(LIST, LAST_ADMIN));
    }
    let word = if enable { "启用" } else { "停用" };
    if !users::set_enabled(&mut *tx, id, enable).await? {
        tx.rollback().await?;
        return Ok(page::redirect_ok(
            LIST,
            format!("「{}」已是{word}状态，未修改。", target.username),
        ));
    }
    if !enable {
        auth::end_sessions_of(&mut *tx, id).await?;
    }
    user.audit(
        &mut *tx,
        if enable {
            "user.enable"
        } else {
            "user.disable"
        },
        Some(("user", id.to_string())),
        Some(target.username.clone()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(target_user = %target.username, enable, by = %user.username, "user enabled changed");
    Ok(page::redirect_ok(
        LIST,
        if enable {
            format!("已启用「{}」", target.username)
        } else {
            format!("已停用「{}」，其登录会话已全部结束", target.username)
        },
    ))
}

#[derive(Deserialize, Default)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    if id == user.id {
        return Ok(page::redirect_error(
            LIST,
            "请在「账户」页修改自己的密码（需要输入当前密码）。",
        ));
    }
    let f: PasswordForm = parse_form(&body);
    if let Err(e) = check_password(&f.password) {
        return Ok(page::redirect_error(LIST, e));
    }
    let hash = hash_password(f.password).await?;
    let mut tx = state.db.begin().await?;
    let target = users::lock(&mut *tx, id).await?.ok_or(WebError::NotFound)?;
    users::set_password(&mut *tx, id, &hash).await?;
    auth::end_sessions_of(&mut *tx, id).await?;
    user.audit(
        &mut *tx,
        "user.password_reset",
        Some(("user", id.to_string())),
        Some(target.username.clone()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(target_user = %target.username, by = %user.username, "password reset");
    Ok(page::redirect_ok(
        LIST,
        format!(
            "已重置「{}」的密码，并结束了其登录会话（锁定也已解除）",
            target.username
        ),
    ))
}

async fn unlock(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let mut tx = state.db.begin().await?;
    let target = users::lock(&mut *tx, id).await?.ok_or(WebError::NotFound)?;
    if !users::unlock(&mut *tx, id).await? {
        tx.rollback().await?;
        return Ok(page::redirect_ok(
            LIST,
            format!("「{}」没有被锁定，未修改。", target.username),
        ));
    }
    user.audit(
        &mut *tx,
        "user.unlock",
        Some(("user", id.to_string())),
        Some(format!(
            "{}（此前连续失败 {} 次）",
            target.username, target.failed_logins
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(page::redirect_ok(
        LIST,
        format!("已解除「{}」的锁定", target.username),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password("密码密码密码密码").is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
        assert!(check_username("张三_01").is_ok());
        assert!(check_username("a b").is_err());
        assert!(check_username("<script>").is_err());
        assert!(check_username("").is_err());
    }
}
