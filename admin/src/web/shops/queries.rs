//! The SQL of 系统配置 that `common::db::shops` (shared with the gateway and the notifier) does
//! not have.

use std::collections::HashMap;

use common::db::{Pool, Tx};
use common::domain::Platform;

/// Orders whose callbacks were given up on, per shop.
pub async fn giving_up_by_shop(pool: &Pool) -> sqlx::Result<HashMap<u64, i64>> {
    Ok(sqlx::query_as::<_, (u64, i64)>(
        "SELECT shop_id, COUNT(*) FROM orders WHERE notify_status = 'giving_up' GROUP BY shop_id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect())
}

/// Disables a shop (one created disabled).
pub async fn disable(tx: &mut Tx, id: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE shops SET enabled = 0 WHERE id = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A SKU of the platform (any product's), for the self-test's samples.
pub async fn first_sku(pool: &Pool, platform: Platform) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT sku FROM product_skus WHERE platform = ? ORDER BY id LIMIT 1")
        .bind(platform.as_str())
        .fetch_optional(pool)
        .await
}
