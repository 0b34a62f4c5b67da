//! Products and their platform SKU mapping.

use sqlx::{FromRow, MySqlExecutor};

use crate::domain::{FulfilmentMode, Platform};

#[derive(Debug, Clone, FromRow)]
pub struct ProductRow {
    pub id: u64,
    pub name: String,
    pub mode: String,
    pub face_value_fen: Option<i64>,
    pub price_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    pub out_of_stock_policy: String,
    pub stock_wait_seconds: i32,
    pub enabled: bool,
}

impl ProductRow {
    pub fn mode(&self) -> Option<FulfilmentMode> {
        self.mode.parse().ok()
    }
}

pub struct NewProduct {
    pub name: String,
    pub mode: FulfilmentMode,
    pub face_value_fen: Option<i64>,
    pub price_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    pub skus: Vec<(Platform, String)>,
}

const COLUMNS: &str = "id, name, mode, face_value_fen, price_fen, low_stock_threshold, \
    out_of_stock_policy, stock_wait_seconds, enabled";

/// Creates the product and its SKU mappings in one transaction.
pub async fn insert(pool: &super::Pool, p: &NewProduct) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query(
        "INSERT INTO products (name, mode, face_value_fen, price_fen, low_stock_threshold)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&p.name)
    .bind(p.mode.as_str())
    .bind(p.face_value_fen)
    .bind(p.price_fen)
    .bind(p.low_stock_threshold)
    .execute(&mut *tx)
    .await?
    .last_insert_id();
    for (platform, sku) in &p.skus {
        sqlx::query("INSERT INTO product_skus (product_id, platform, sku) VALUES (?, ?, ?)")
            .bind(id)
            .bind(platform.as_str())
            .bind(sku)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn find_by_name(
    ex: impl MySqlExecutor<'_>,
    name: &str,
) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM products WHERE name = ?"
    )))
    .bind(name)
    .fetch_optional(ex)
    .await
}

pub async fn get(ex: impl MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM products WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The product a platform SKU (or merchant product code) maps to.
pub async fn find_by_sku(
    ex: impl MySqlExecutor<'_>,
    platform: Platform,
    sku: &str,
) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.{} FROM product_skus s JOIN products p ON p.id = s.product_id
         WHERE s.platform = ? AND s.sku = ?",
        COLUMNS.replace(", ", ", p.")
    )))
    .bind(platform.as_str())
    .bind(sku)
    .fetch_optional(ex)
    .await
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct ProductListing {
    pub id: u64,
    pub name: String,
    pub mode: String,
    pub face_value_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    pub enabled: bool,
    /// `platform:sku` pairs, comma separated.
    pub skus: Option<String>,
}

pub async fn list(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<ProductListing>> {
    sqlx::query_as(
        "SELECT p.id, p.name, p.mode, p.face_value_fen, p.low_stock_threshold, p.enabled,
                GROUP_CONCAT(CONCAT(s.platform, ':', s.sku) ORDER BY s.id SEPARATOR ',') AS skus
         FROM products p LEFT JOIN product_skus s ON s.product_id = p.id
         GROUP BY p.id, p.name, p.mode, p.face_value_fen, p.low_stock_threshold, p.enabled
         ORDER BY p.id",
    )
    .fetch_all(ex)
    .await
}
