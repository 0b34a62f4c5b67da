//! The SQL of 商品管理 that `common::db::products` and `common::db::suppliers` (shared with
//! the gateway, fulfilment and the CLI) do not have: the rows the pages lock before a change,
//! and the supplier choices.

use common::db::products::ProductRow;
use common::db::{Pool, Tx};

/// The product, locked for an edit.
pub async fn lock_product(tx: &mut Tx, id: u64) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(
        "SELECT id, name, mode, face_value_fen, price_fen, low_stock_threshold,
                out_of_stock_policy, stock_wait_seconds, enabled
         FROM products WHERE id = ? FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// A SKU mapping of the product (platform, SKU), locked for its removal.
pub async fn lock_sku(
    tx: &mut Tx,
    product_id: u64,
    sku_id: u64,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as(
        "SELECT platform, sku FROM product_skus WHERE id = ? AND product_id = ? FOR UPDATE",
    )
    .bind(sku_id)
    .bind(product_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Every supplier: id, name, enabled.
pub async fn supplier_choices(pool: &Pool) -> sqlx::Result<Vec<(u64, String, bool)>> {
    sqlx::query_as("SELECT id, name, enabled FROM suppliers ORDER BY name")
        .fetch_all(pool)
        .await
}
