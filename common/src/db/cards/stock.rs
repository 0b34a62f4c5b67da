//! Stock counts per card product.

use std::collections::HashMap;

use sqlx::FromRow;

use crate::domain::CardStatus;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct StockRow {
    pub product_id: u64,
    pub product_name: String,
    pub available: i64,
    pub sold: i64,
    pub void: i64,
    pub exported: i64,
    pub expired: i64,
    pub low_stock_threshold: Option<i32>,
}

/// Stock per card product. Cards past their expiry date count as expired, not available.
///
/// One pass over `ix_cards_pick` (product_id, status, expires_at, id) in index order, grouped
/// by its first two columns, merged with the products here: joining in SQL made MariaDB count
/// per product through a temporary table, several times slower. Still a full index scan (about
/// 0.2 s per million cards): callers showing it on a page cache it.
pub async fn stock(pool: &crate::db::Pool) -> sqlx::Result<Vec<StockRow>> {
    let products: Vec<(u64, String, Option<i32>)> = sqlx::query_as(
        "SELECT id, name, low_stock_threshold FROM products WHERE mode = 'card' ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let counts: Vec<(u64, CardStatus, i64, i64)> = sqlx::query_as(
        "SELECT product_id, status, COUNT(*),
            CAST(COALESCE(SUM(expires_at < ?), 0) AS SIGNED)
         FROM cards FORCE INDEX (ix_cards_pick)
         GROUP BY product_id, status",
    )
    .bind(crate::domain::beijing_today())
    .fetch_all(pool)
    .await?;
    let mut by_product: HashMap<u64, StockRow> = HashMap::with_capacity(products.len());
    for (id, name, threshold) in &products {
        by_product.insert(
            *id,
            StockRow {
                product_id: *id,
                product_name: name.clone(),
                available: 0,
                sold: 0,
                void: 0,
                exported: 0,
                expired: 0,
                low_stock_threshold: *threshold,
            },
        );
    }
    for (product_id, status, n, expired) in counts {
        let Some(row) = by_product.get_mut(&product_id) else {
            continue;
        };
        match status {
            CardStatus::Available => {
                row.available += n - expired;
                row.expired += expired;
            }
            CardStatus::Sold => row.sold += n,
            CardStatus::Void => row.void += n,
            CardStatus::Exported => row.exported += n,
        }
    }
    Ok(products
        .iter()
        .filter_map(|(id, _, _)| by_product.remove(id))
        .collect())
}
