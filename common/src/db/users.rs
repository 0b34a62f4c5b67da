//! Back-office users. Password hashing (argon2id) happens in the admin crate.

use sqlx::{FromRow, MySqlExecutor};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: u64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub enabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<chrono::NaiveDateTime>,
}

pub async fn insert(
    ex: impl MySqlExecutor<'_>,
    username: &str,
    password_hash: &str,
    role: &str,
) -> sqlx::Result<u64> {
    let r = sqlx::query("INSERT INTO admin_users (username, password_hash, role) VALUES (?, ?, ?)")
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .execute(ex)
        .await?;
    Ok(r.last_insert_id())
}

pub async fn find_by_username(
    ex: impl MySqlExecutor<'_>,
    username: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, username, password_hash, role, enabled, failed_logins, locked_until
         FROM admin_users WHERE username = ?",
    )
    .bind(username)
    .fetch_optional(ex)
    .await
}

pub async fn count(ex: impl MySqlExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM admin_users")
        .fetch_one(ex)
        .await
}

/// A user as the back office lists it.
#[derive(Debug, Clone, FromRow)]
pub struct UserListRow {
    pub id: u64,
    pub username: String,
    pub role: String,
    pub enabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<chrono::NaiveDateTime>,
    pub last_login_at: Option<chrono::NaiveDateTime>,
    pub created_at: chrono::NaiveDateTime,
}

/// Every user, by name (the table holds a handful of people).
pub async fn list(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<UserListRow>> {
    sqlx::query_as(
        "SELECT id, username, role, enabled, failed_logins, locked_until, last_login_at, created_at
         FROM admin_users ORDER BY username LIMIT 1000",
    )
    .fetch_all(ex)
    .await
}

pub async fn get(ex: impl MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, username, password_hash, role, enabled, failed_logins, locked_until
         FROM admin_users WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The row of one user, locked for the rest of the transaction.
pub async fn lock(ex: impl MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, username, password_hash, role, enabled, failed_logins, locked_until
         FROM admin_users WHERE id = ? FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The ids of the enabled admins, locked: the check "is this the last enabled admin" and the
/// change that depends on it then cannot interleave with another admin's change.
pub async fn lock_enabled_admins(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<u64>> {
    sqlx::query_scalar(
        "SELECT id FROM admin_users WHERE role = 'admin' AND enabled = 1 ORDER BY id FOR UPDATE",
    )
    .fetch_all(ex)
    .await
}

/// Sets the role; returns whether it changed.
pub async fn set_role(ex: impl MySqlExecutor<'_>, id: u64, role: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE admin_users SET role = ? WHERE id = ? AND role <> ?")
        .bind(role)
        .bind(id)
        .bind(role)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Enables or disables; returns whether it changed.
pub async fn set_enabled(ex: impl MySqlExecutor<'_>, id: u64, enabled: bool) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE admin_users SET enabled = ? WHERE id = ? AND enabled <> ?")
        .bind(enabled)
        .bind(id)
        .bind(enabled)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces the password hash and clears the lock-out.
pub async fn set_password(
    ex: impl MySqlExecutor<'_>,
    id: u64,
    password_hash: &str,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE admin_users SET password_hash = ?, failed_logins = 0, locked_until = NULL
         WHERE id = ?",
    )
    .bind(password_hash)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Clears the lock-out (failed logins and `locked_until`); returns whether anything changed.
pub async fn unlock(ex: impl MySqlExecutor<'_>, id: u64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE admin_users SET failed_logins = 0, locked_until = NULL
         WHERE id = ? AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
    )
    .bind(id)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}
