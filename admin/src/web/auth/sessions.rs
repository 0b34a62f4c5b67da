//! The session rows: looked up by the hash of the cookie's token, created at login, slid
//! forward while used, ended at logout or for a user.

use std::time::Duration;

use common::db::{Pool, Tx};
use common::domain::Role;

use super::token_hash;
use crate::web::token::random_hex;

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    pub(super) user_id: u64,
    pub(super) username: String,
    pub(super) role: Role,
    pub(super) csrf_token: String,
    pub(super) seen_secs_ago: i64,
}

/// A live session: not idle past its expiry, and younger than the absolute lifetime `max`.
pub(super) async fn load_session(
    pool: &Pool,
    token: &str,
    max: Duration,
) -> sqlx::Result<Option<SessionRow>> {
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

pub(super) async fn create_session(
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

/// Slides the session's expiry forward by `ttl`, never past `max` after the login.
pub(super) async fn slide(
    pool: &Pool,
    token: &str,
    ttl: Duration,
    max: Duration,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sessions SET last_seen_at = NOW(3),
            expires_at = LEAST(NOW(3) + INTERVAL ? SECOND, created_at + INTERVAL ? SECOND)
         WHERE id = ?",
    )
    .bind(ttl.as_secs())
    .bind(max.as_secs())
    .bind(token_hash(token))
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends the session of `token` (logout).
pub(super) async fn end(pool: &Pool, token: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = ?")
        .bind(token_hash(token))
        .execute(pool)
        .await?;
    Ok(())
}

/// How many live sessions the user has.
pub async fn live_sessions_of(pool: &Pool, user_id: u64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = ? AND expires_at > NOW(3)")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

/// Ends the user's sessions but the one of `token` (own password changed); how many.
pub async fn end_other_sessions(tx: &mut Tx, user_id: u64, token: &str) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id <> ?")
            .bind(user_id)
            .bind(token_hash(token))
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
