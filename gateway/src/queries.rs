//! The gateway's own reads that no shared repository has: plain queries returning plain values,
//! so the handlers and service functions never hold SQL.

use common::db::Pool;
use common::domain::{Platform, PlatformOrderNo};

/// The shops that hold an order with this platform order number (a query that names no shop is
/// signed by one of them).
pub async fn shops_with_order(
    pool: &Pool,
    platform: Platform,
    order_no: &PlatformOrderNo,
) -> Result<Vec<u64>, sqlx::Error> {
    sqlx::query_scalar::<_, u64>(
        "SELECT shop_id FROM orders WHERE platform = ? AND platform_order_no = ?",
    )
    .bind(platform.as_str())
    .bind(order_no.as_str())
    .fetch_all(pool)
    .await
}

/// How many enabled suppliers can recharge a product.
pub async fn enabled_suppliers(pool: &Pool, product_id: u64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM product_suppliers ps JOIN suppliers s ON s.id = ps.supplier_id
         WHERE ps.product_id = ? AND s.enabled = 1",
    )
    .bind(product_id)
    .fetch_one(pool)
    .await
}
