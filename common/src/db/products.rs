//! Products and their platform SKU mapping.

use sqlx::{FromRow, MySqlExecutor};

use crate::domain::{FulfilmentMode, OrderKind, Platform, StockPolicy};

/// Why a product's settings cannot be saved.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// An enabled product needs a unit price above zero: the gateway checks every order's total
    /// against it, and without one it refuses the product's orders.
    #[error("an enabled product needs a price above zero")]
    PriceRequired,
    /// The mode would switch between card and direct while orders of the product are still
    /// open: they were taken as the old kind and must be finished as such.
    #[error("{open} open orders keep the product's order kind")]
    OpenOrders { open: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ProductError {
    /// The operator's message, in Chinese; `None` for a database error.
    pub fn message_zh(&self) -> Option<String> {
        match self {
            ProductError::PriceRequired => {
                Some("启用的商品必须设置大于 0 的单价：网关按单价核对每笔订单的金额。".into())
            }
            ProductError::OpenOrders { open } => Some(format!(
                "该商品还有 {open} 笔未完结的订单（已接单、处理中、等待补货或等待人工），不能在卡密和直充之间切换履约方式：\
                 这些订单已按原类型接单。请先处理完这些订单，或新建一个商品。"
            )),
            ProductError::Db(_) => None,
        }
    }
}

/// An enabled product must have a price above zero.
pub fn check_price(enabled: bool, price_fen: Option<i64>) -> Result<(), ProductError> {
    if enabled && price_fen.is_none_or(|p| p <= 0) {
        return Err(ProductError::PriceRequired);
    }
    Ok(())
}

/// How many orders of `product_id` are not final yet (`ix_orders_product_status`).
pub async fn open_orders(ex: impl MySqlExecutor<'_>, product_id: u64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE product_id = ?
           AND status IN ('received', 'processing', 'awaiting_stock', 'awaiting_manual')",
    )
    .bind(product_id)
    .fetch_one(ex)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct ProductRow {
    pub id: u64,
    pub name: String,
    pub mode: FulfilmentMode,
    pub face_value_fen: Option<i64>,
    pub price_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    pub out_of_stock_policy: StockPolicy,
    pub stock_wait_seconds: i32,
    pub enabled: bool,
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

/// Creates the product (enabled, so it needs a price) and its SKU mappings in one transaction.
pub async fn insert(pool: &super::Pool, p: &NewProduct) -> Result<u64, ProductError> {
    check_price(true, p.price_fen)?;
    let mut tx = pool.begin().await?;
    let id = sqlx::query(
        "INSERT INTO products (name, mode, face_value_fen, price_fen, low_stock_threshold)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&p.name)
    .bind(p.mode)
    .bind(p.face_value_fen)
    .bind(p.price_fen)
    .bind(p.low_stock_threshold)
    .execute(&mut *tx)
    .await?
    .last_insert_id();
    for (platform, sku) in &p.skus {
        sqlx::query("INSERT INTO product_skus (product_id, platform, sku) VALUES (?, ?, ?)")
            .bind(id)
            .bind(platform)
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

/// The products among `ids` that exist, in id order.
pub async fn get_many(ex: impl MySqlExecutor<'_>, ids: &[u64]) -> sqlx::Result<Vec<ProductRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE id IN ({}) ORDER BY id",
        super::placeholders(ids.len())
    );
    let mut q = sqlx::query_as::<_, ProductRow>(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(ex).await
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
    .bind(platform)
    .bind(sku)
    .fetch_optional(ex)
    .await
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct ProductListing {
    pub id: u64,
    pub name: String,
    pub mode: FulfilmentMode,
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
    pub out_of_stock_policy: StockPolicy,
    pub stock_wait_seconds: i32,
    pub enabled: bool,
}

impl ProductFields {
    pub fn of(p: &ProductRow) -> ProductFields {
        ProductFields {
            name: p.name.clone(),
            mode: p.mode,
            face_value_fen: p.face_value_fen,
            price_fen: p.price_fen,
            low_stock_threshold: p.low_stock_threshold,
            out_of_stock_policy: p.out_of_stock_policy,
            stock_wait_seconds: p.stock_wait_seconds,
            enabled: p.enabled,
        }
    }
}

/// Creates a product without SKUs (they are added one by one, see [`add_sku`]).
pub async fn create(ex: impl MySqlExecutor<'_>, f: &ProductFields) -> Result<u64, ProductError> {
    check_price(f.enabled, f.price_fen)?;
    let r = sqlx::query(
        "INSERT INTO products (name, mode, face_value_fen, price_fen, low_stock_threshold,
            out_of_stock_policy, stock_wait_seconds, enabled)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&f.name)
    .bind(f.mode)
    .bind(f.face_value_fen)
    .bind(f.price_fen)
    .bind(f.low_stock_threshold)
    .bind(f.out_of_stock_policy)
    .bind(f.stock_wait_seconds)
    .bind(f.enabled)
    .execute(ex)
    .await?;
    Ok(r.last_insert_id())
}

/// Saves every field; a changed low-stock threshold re-arms the low-stock alert. False when
/// the product does not exist. Refused when enabled without a price, and when the mode would
/// switch between card and direct while the product has open orders (the product row is locked
/// first, in the caller's transaction).
pub async fn update(
    conn: &mut sqlx::MySqlConnection,
    id: u64,
    f: &ProductFields,
) -> Result<bool, ProductError> {
    check_price(f.enabled, f.price_fen)?;
    let mode: Option<FulfilmentMode> =
        sqlx::query_scalar("SELECT mode FROM products WHERE id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(mode) = mode else {
        return Ok(false);
    };
    if OrderKind::of_mode(mode) != OrderKind::of_mode(f.mode) {
        let open = open_orders(&mut *conn, id).await?;
        if open > 0 {
            return Err(ProductError::OpenOrders { open });
        }
    }
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
    .bind(f.mode)
    .bind(f.face_value_fen)
    .bind(f.price_fen)
    .bind(f.low_stock_threshold)
    .bind(f.out_of_stock_policy)
    .bind(f.stock_wait_seconds)
    .bind(f.enabled)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Enables or disables a product. True when the value changed. Enabling a product without a
/// price above zero is refused ([`ProductError::PriceRequired`]).
pub async fn set_enabled(
    conn: &mut sqlx::MySqlConnection,
    id: u64,
    enabled: bool,
) -> Result<bool, ProductError> {
    if enabled {
        let price: Option<Option<i64>> =
            sqlx::query_scalar("SELECT price_fen FROM products WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(price) = price {
            check_price(true, price)?;
        }
    }
    let r = sqlx::query("UPDATE products SET enabled = ? WHERE id = ? AND enabled <> ?")
        .bind(enabled)
        .bind(id)
        .bind(enabled)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct SkuRow {
    pub id: u64,
    pub product_id: u64,
    pub platform: Platform,
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
    .bind(platform)
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
        .bind(platform)
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
    pub mode: FulfilmentMode,
    pub face_value_fen: Option<i64>,
    pub price_fen: Option<i64>,
    pub low_stock_threshold: Option<i32>,
    pub out_of_stock_policy: StockPolicy,
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
