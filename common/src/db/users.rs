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
