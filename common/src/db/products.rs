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

/// A product's editable settings (the back office's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    pub name: String,
    pub mode: FulfilmentMode,
    pub face_value_fen: Option<i64>,
    pub price_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    /// `fail` | `wait`
    pub out_of_stock_policy: String,
    pub stock_wait_seconds: i32,
    pub enabled: bool,
}

impl ProductFields {
    pub fn of(p: &ProductRow) -> Option<ProductFields> {
        Some(ProductFields {
            name: p.name.clone(),
            mode: p.mode()?,
            face_value_fen: p.face_value_fen,
            price_fen: p.price_fen,
            low_stock_threshold: p.low_stock_threshold,
            out_of_stock_policy: p.out_of_stock_policy.clone(),
            stock_wait_seconds: p.stock_wait_seconds,
            enabled: p.enabled,
        })
    }
}

/// Creates a product without SKUs (they are added one by one, see [`add_sku`]).
pub async fn create(ex: impl MySqlExecutor<'_>, f: &ProductFields) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "INSERT INTO products (name, mode, face_value_fen, price_fen, low_stock_threshold,
            out_of_stock_policy, stock_wait_seconds, enabled)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&f.name)
    .bind(f.mode.as_str())
    .bind(f.face_value_fen)
    .bind(f.price_fen)
    .bind(f.low_stock_threshold)
    .bind(&f.out_of_stock_policy)
    .bind(f.stock_wait_seconds)
    .bind(f.enabled)
    .execute(ex)
    .await?;
    Ok(r.last_insert_id())
}

/// Saves every field; a changed low-stock threshold re-arms the low-stock alert. False when
/// the product does not exist.
pub async fn update(ex: impl MySqlExecutor<'_>, id: u64, f: &ProductFields) -> sqlx::Result<bool> {
    // MySQL assigns left to right: the alert flag is compared with the old threshold first.
    let r = sqlx::query(
        "UPDATE products SET
            low_stock_alerted = IF(low_stock_threshold <=> ?, low_stock_alerted, 0),
            name = ?, mode = ?, face_value_fen = ?, price_fen = ?, low_stock_threshold = ?,
            out_of_stock_policy = ?, stock_wait_seconds = ?, enabled = ?
         WHERE id = ?",
    )
    .bind(f.low_stock_threshold)
    .bind(&f.name)
    .bind(f.mode.as_str())
    .bind(f.face_value_fen)
    .bind(f.price_fen)
    .bind(f.low_stock_threshold)
    .bind(&f.out_of_stock_policy)
    .bind(f.stock_wait_seconds)
    .bind(f.enabled)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Enables or disables a product. True when the value changed.
pub async fn set_enabled(ex: impl MySqlExecutor<'_>, id: u64, enabled: bool) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE products SET enabled = ? WHERE id = ? AND enabled <> ?")
        .bind(enabled)
        .bind(id)
        .bind(enabled)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct SkuRow {
    pub id: u64,
    pub product_id: u64,
    pub platform: String,
    pub sku: String,
}

/// A product's platform SKUs, by platform then SKU.
pub async fn skus(ex: impl MySqlExecutor<'_>, product_id: u64) -> sqlx::Result<Vec<SkuRow>> {
    sqlx::query_as(
        "SELECT id, product_id, platform, sku FROM product_skus WHERE product_id = ?
         ORDER BY platform, sku",
    )
    .bind(product_id)
    .fetch_all(ex)
    .await
}

/// The product (id, name) a platform SKU already maps to.
pub async fn sku_owner(
    ex: impl MySqlExecutor<'_>,
    platform: Platform,
    sku: &str,
) -> sqlx::Result<Option<(u64, String)>> {
    sqlx::query_as(
        "SELECT p.id, p.name FROM product_skus s JOIN products p ON p.id = s.product_id
         WHERE s.platform = ? AND s.sku = ?",
    )
    .bind(platform.as_str())
    .bind(sku)
    .fetch_optional(ex)
    .await
}

/// Maps a platform SKU to the product; a SKU mapped anywhere already is a unique violation
/// (`uq_product_skus`).
pub async fn add_sku(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    platform: Platform,
    sku: &str,
) -> sqlx::Result<u64> {
    let r = sqlx::query("INSERT INTO product_skus (product_id, platform, sku) VALUES (?, ?, ?)")
        .bind(product_id)
        .bind(platform.as_str())
        .bind(sku)
        .execute(ex)
        .await?;
    Ok(r.last_insert_id())
}

/// Removes one SKU mapping of the product. False when there was none.
pub async fn remove_sku(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    sku_id: u64,
) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM product_skus WHERE id = ? AND product_id = ?")
        .bind(sku_id)
        .bind(product_id)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One product with what the back office's list shows.
#[derive(Debug, Clone, FromRow)]
pub struct ProductOverview {
    pub id: u64,
    pub name: String,
    pub mode: String,
    pub face_value_fen: Option<i64>,
    pub price_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    pub out_of_stock_policy: String,
    pub stock_wait_seconds: i32,
    pub enabled: bool,
    /// `platform:sku` pairs, tab separated.
    pub skus: Option<String>,
    pub suppliers: i64,
}

/// Every product with its SKUs and number of linked suppliers, by id.
pub async fn overview(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<ProductOverview>> {
    sqlx::query_as(
        "SELECT p.id, p.name, p.mode, p.face_value_fen, p.price_fen, p.low_stock_threshold,
                p.out_of_stock_policy, p.stock_wait_seconds, p.enabled,
                (SELECT GROUP_CONCAT(CONCAT(s.platform, ':', s.sku) ORDER BY s.platform, s.sku
                    SEPARATOR '\t') FROM product_skus s WHERE s.product_id = p.id) AS skus,
                (SELECT COUNT(*) FROM product_suppliers ps WHERE ps.product_id = p.id) AS suppliers
         FROM products p ORDER BY p.id",
    )
    .fetch_all(ex)
    .await
}
