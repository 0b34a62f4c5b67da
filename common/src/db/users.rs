//! Back-office users. Password hashing (argon2id) happens in the admin crate.

use sqlx::{FromRow, MySqlExecutor};

use crate::domain::Role;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: u64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub enabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<chrono::NaiveDateTime>,
}

pub async fn insert(
    ex: impl MySqlExecutor<'_>,
    username: &str,
    password_hash: &str,
    role: Role,
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
    pub role: Role,
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
pub async fn set_role(ex: impl MySqlExecutor<'_>, id: u64, role: Role) -> sqlx::Result<bool> {
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

/// Counts one login attempt of `ip` in its one-minute window, atomically and across every admin
/// instance; returns the attempts in the window so far (this one included). Rows of windows
/// that ended an hour ago are cleared a few at a time.
pub async fn count_login_attempt(pool: &super::Pool, ip: &str) -> sqlx::Result<u32> {
    // MySQL and MariaDB assign left to right: `attempts` is computed from the old window.
    sqlx::query(
        "INSERT INTO login_rate (ip, window_start, attempts) VALUES (?, NOW(3), 1)
         ON DUPLICATE KEY UPDATE
             attempts = IF(window_start <= NOW(3) - INTERVAL 60 SECOND, 1, attempts + 1),
             window_start = IF(window_start <= NOW(3) - INTERVAL 60 SECOND, NOW(3), window_start)",
    )
    .bind(ip)
    .execute(pool)
    .await?;
    let attempts: u32 = sqlx::query_scalar("SELECT attempts FROM login_rate WHERE ip = ?")
        .bind(ip)
        .fetch_optional(pool)
        .await?
        .unwrap_or(1);
    // Old windows are removed by the hourly retention task (`retention`).
    Ok(attempts)
}

/// Records one wrong password of user `id` atomically: the count goes up by one in SQL (so
/// concurrent attempts on any instance are all counted), and reaching `max_failures` locks the
/// account for `lockout` and restarts the count. Returns whether the account is now locked.
pub async fn record_login_failure(
    pool: &super::Pool,
    id: u64,
    max_failures: i32,
    lockout: std::time::Duration,
) -> sqlx::Result<bool> {
    // Every expression reads the count before this failure (`failed_logins + 1` is the new
    // one), so the result does not depend on the order assignments are applied in (MySQL: left
    // to right; MariaDB's SIMULTANEOUS_ASSIGNMENT mode: all at once).
    sqlx::query(
        "UPDATE admin_users SET
            locked_until = IF(failed_logins + 1 >= ?, NOW(3) + INTERVAL ? SECOND, locked_until),
            failed_logins = IF(failed_logins + 1 >= ?, 0, failed_logins + 1)
         WHERE id = ?",
    )
    .bind(max_failures)
    .bind(lockout.as_secs())
    .bind(max_failures)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM admin_users WHERE id = ? AND locked_until > NOW(3)",
    )
    .bind(id)
    .fetch_one(pool)
    .await?
        > 0)
}

/// A successful login of user `id`: clears the failure count and stamps the time, unless the
/// account is locked (checked in the same statement, so a lock set by a concurrent failure
/// wins). Returns whether the login may proceed.
pub async fn record_login_success(pool: &super::Pool, id: u64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE admin_users SET failed_logins = 0, locked_until = NULL, last_login_at = NOW(3)
         WHERE id = ? AND (locked_until IS NULL OR locked_until <= NOW(3))",
    )
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}
