//! Upstream direct-charge suppliers and which products they serve. The shared secret is stored
//! encrypted with MASTER_KEY (AES-256-GCM) and decrypted only to sign or verify a message.

use sqlx::{Acquire, FromRow, MySql, MySqlExecutor};

use crate::crypto::at_rest::{MasterKey, RowKey, SealedColumn, Slot};

/// A supplier as stored. `secret_enc` is an AES-256-GCM blob; see [`SupplierRow::secret`].
#[derive(Clone, FromRow)]
pub struct SupplierRow {
    pub id: u64,
    pub name: String,
    pub base_url: String,
    pub merchant_id: String,
    pub secret_enc: Vec<u8>,
    pub timeout_ms: i32,
    pub enabled: bool,
}

impl std::fmt::Debug for SupplierRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupplierRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("merchant_id", &self.merchant_id)
            .field("timeout_ms", &self.timeout_ms)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl SupplierRow {
    /// The shared signing secret, decrypted.
    pub fn secret(&self, key: &MasterKey) -> anyhow::Result<String> {
        key.open_string(secret_slot(self.id), &self.secret_enc)
            .map_err(|_| {
                anyhow::anyhow!(
                    "supplier {} secret cannot be decrypted with MASTER_KEY",
                    self.id
                )
            })
    }

    /// The HTTP timeout of one call to this supplier.
    /// The supplier's HTTP timeout, between 100 ms and [`MAX_TIMEOUT`]: a submit holds its
    /// order's row lock for up to this long, and an operator's action on that order must get the
    /// lock well within InnoDB's lock wait timeout (50 s by default).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.timeout_ms).unwrap_or(0).max(100))
            .min(MAX_TIMEOUT)
    }
}

/// The longest supplier timeout used, whatever is configured.
pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// A supplier to create; the secret in clear text, encrypted by [`insert`].
pub struct NewSupplier {
    pub name: String,
    pub base_url: String,
    pub merchant_id: String,
    pub secret: String,
    pub timeout_ms: Option<i32>,
}

const COLUMNS: &str = "id, name, base_url, merchant_id, secret_enc, timeout_ms, enabled";

/// Where the secret of supplier `id` is sealed.
fn secret_slot(id: u64) -> Slot<'static> {
    Slot::new(SealedColumn::SupplierSecret, RowKey::Id(id))
}

/// Creates a supplier. Its secret is sealed for its id, so the row is inserted first (with an
/// empty secret that opens nowhere) and the secret written into it, in one transaction.
pub async fn insert<'c>(
    conn: impl Acquire<'c, Database = MySql>,
    key: &MasterKey,
    s: &NewSupplier,
) -> sqlx::Result<u64> {
    let mut tx = conn.begin().await?;
    let id = sqlx::query(
        "INSERT INTO suppliers (name, base_url, merchant_id, secret_enc, timeout_ms)
         VALUES (?, ?, ?, '', ?)",
    )
    .bind(&s.name)
    .bind(s.base_url.trim_end_matches('/'))
    .bind(&s.merchant_id)
    .bind(s.timeout_ms.unwrap_or(5000))
    .execute(&mut *tx)
    .await?
    .last_insert_id();
    sqlx::query("UPDATE suppliers SET secret_enc = ? WHERE id = ?")
        .bind(key.seal_str(secret_slot(id), &s.secret))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Links a product to a supplier (or updates the link): lower `priority` is tried first.
pub async fn link_product(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    supplier_id: u64,
    priority: i32,
    supplier_sku: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO product_suppliers (product_id, supplier_id, priority, supplier_sku)
         VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE priority = ?, supplier_sku = ?",
    )
    .bind(product_id)
    .bind(supplier_id)
    .bind(priority)
    .bind(supplier_sku)
    // Again for the update: MySQL 8 deprecates `VALUES(col)` there.
    .bind(priority)
    .bind(supplier_sku)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn set_enabled(
    ex: impl MySqlExecutor<'_>,
    supplier_id: u64,
    enabled: bool,
) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE suppliers SET enabled = ? WHERE id = ?")
        .bind(enabled)
        .bind(supplier_id)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn list(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<SupplierRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM suppliers ORDER BY id"
    )))
    .fetch_all(ex)
    .await
}

pub async fn get(ex: impl MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<SupplierRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM suppliers WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn find_by_name(
    ex: impl MySqlExecutor<'_>,
    name: &str,
) -> sqlx::Result<Option<SupplierRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM suppliers WHERE name = ?"
    )))
    .bind(name)
    .fetch_optional(ex)
    .await
}

/// One product-supplier link with the supplier's columns.
#[derive(Debug, Clone, FromRow)]
pub struct ProductSupplier {
    pub supplier_id: u64,
    pub priority: i32,
    pub supplier_sku: String,
}

/// The supplier's SKU for a product, if they are linked.
pub async fn link(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    supplier_id: u64,
) -> sqlx::Result<Option<ProductSupplier>> {
    sqlx::query_as(
        "SELECT supplier_id, priority, supplier_sku FROM product_suppliers
         WHERE product_id = ? AND supplier_id = ?",
    )
    .bind(product_id)
    .bind(supplier_id)
    .fetch_optional(ex)
    .await
}

/// The enabled suppliers of a product in the order they are tried (ascending priority, then id).
pub async fn for_product(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
) -> sqlx::Result<Vec<ProductSupplier>> {
    sqlx::query_as(
        "SELECT ps.supplier_id, ps.priority, ps.supplier_sku
         FROM product_suppliers ps JOIN suppliers s ON s.id = ps.supplier_id
         WHERE ps.product_id = ? AND s.enabled = 1
         ORDER BY ps.priority, ps.supplier_id",
    )
    .bind(product_id)
    .fetch_all(ex)
    .await
}

/// A product's supplier link with the supplier's name and state (the back office).
#[derive(Debug, Clone, FromRow)]
pub struct SupplierLink {
    pub supplier_id: u64,
    pub name: String,
    pub enabled: bool,
    pub priority: i32,
    pub supplier_sku: String,
}

/// Every supplier linked to a product, enabled or not, in the order they are tried.
pub async fn links_of_product(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
) -> sqlx::Result<Vec<SupplierLink>> {
    sqlx::query_as(
        "SELECT ps.supplier_id, s.name, s.enabled, ps.priority, ps.supplier_sku
         FROM product_suppliers ps JOIN suppliers s ON s.id = ps.supplier_id
         WHERE ps.product_id = ?
         ORDER BY ps.priority, ps.supplier_id",
    )
    .bind(product_id)
    .fetch_all(ex)
    .await
}

/// Removes a product's link to a supplier. False when there was none.
pub async fn unlink_product(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    supplier_id: u64,
) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM product_suppliers WHERE product_id = ? AND supplier_id = ?")
        .bind(product_id)
        .bind(supplier_id)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}
