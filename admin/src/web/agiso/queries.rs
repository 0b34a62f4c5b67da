//! The SQL of the 阿奇索 page: the enabled Agiso shops and the products mapped to Agiso SKUs.

use common::db::Pool;
use common::domain::Platform;

/// The enabled Agiso shops: id, name, service, by name.
pub async fn enabled_shops(pool: &Pool) -> sqlx::Result<Vec<(u64, String, String)>> {
    sqlx::query_as(
        "SELECT id, name, agiso_service FROM shops
         WHERE platform = 'agiso' AND enabled = 1 ORDER BY name, id",
    )
    .fetch_all(pool)
    .await
}

/// One enabled Agiso shop: name and service.
pub async fn enabled_shop(pool: &Pool, id: u64) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as(
        "SELECT name, agiso_service FROM shops WHERE id = ? AND platform = 'agiso' AND enabled = 1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The products mapped to Agiso SKUs: product id, name, SKU, by name.
pub async fn mapped_products(pool: &Pool) -> sqlx::Result<Vec<(u64, String, String)>> {
    sqlx::query_as(
        "SELECT p.id, p.name, s.sku FROM product_skus s JOIN products p ON p.id = s.product_id
         WHERE s.platform = 'agiso' ORDER BY p.name, s.sku",
    )
    .fetch_all(pool)
    .await
}

/// The order's platform, if the order exists.
pub async fn order_platform(pool: &Pool, id: u64) -> sqlx::Result<Option<Platform>> {
    let row: Option<(Platform,)> = sqlx::query_as("SELECT platform FROM orders WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(p,)| p))
}
