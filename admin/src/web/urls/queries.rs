//! The SQL of the URL generator: the `settings` row of its base-URL override, and the shops.

use common::db::{Pool, Tx};

/// A setting's stored value.
pub async fn setting(pool: &Pool, name: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// A setting's stored value, locked for a change.
pub async fn lock_setting(tx: &mut Tx, name: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = ? FOR UPDATE")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await
}

/// Stores a setting's value, or removes the setting (`None`).
pub async fn set_setting(tx: &mut Tx, name: &str, value: Option<&str>) -> sqlx::Result<()> {
    match value {
        Some(v) => {
            sqlx::query(
                // The value bound twice, not `VALUES(value)`: MySQL 8 deprecates that.
                "INSERT INTO settings (name, value) VALUES (?, ?)
                 ON DUPLICATE KEY UPDATE value = ?",
            )
            .bind(name)
            .bind(v)
            .bind(v)
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM settings WHERE name = ?")
                .bind(name)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Every shop: id, platform, name, merchant id, Agiso service, enabled.
pub async fn shops(pool: &Pool) -> sqlx::Result<Vec<(u64, String, String, String, String, bool)>> {
    sqlx::query_as(
        "SELECT id, platform, name, merchant_id, agiso_service, enabled FROM shops
         ORDER BY platform, name",
    )
    .fetch_all(pool)
    .await
}
