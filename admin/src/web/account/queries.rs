//! The SQL of 账户 (the sessions' in `auth`, the users' shared in `common::db::users`).

use chrono::NaiveDateTime;
use common::db::{Pool, Tx};

/// When the user last logged in.
pub async fn last_login(pool: &Pool, user_id: u64) -> sqlx::Result<Option<NaiveDateTime>> {
    let (t,): (Option<NaiveDateTime>,) =
        sqlx::query_as("SELECT last_login_at FROM admin_users WHERE id = ?")
            .bind(user_id)
            .fetch_one(pool)
            .await?;
    Ok(t)
}

/// Replaces the password hash (clearing the lock-out) only if it is still `old_hash`, the one
/// the current password was checked against; whether it did.
pub async fn replace_password(
    tx: &mut Tx,
    user_id: u64,
    old_hash: &str,
    new_hash: &str,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE admin_users SET password_hash = ?, failed_logins = 0, locked_until = NULL
         WHERE id = ? AND password_hash = ?",
    )
    .bind(new_hash)
    .bind(user_id)
    .bind(old_hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
