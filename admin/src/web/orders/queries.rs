//! The SQL of 订单管理, and the rows it returns: the list and the export (filtered by a
//! [`Where`]), the order page, the supplier orders and other callbacks of an order, and what the
//! actions read and write besides `common::db::orders` (the order's state machine).

use chrono::NaiveDateTime;
use common::db::{Pool, Tx};
use common::domain::{
    AttemptOutcome, CallbackTarget, FailureReason, FulfilmentMode, NotifyStatus, OrderKind,
    OrderStatus, Platform, SupplierOrderStatus,
};

use crate::web::page::Where;

/// Everything the order page shows of the order row, with its shop and product names.
#[derive(sqlx::FromRow)]
pub struct OrderFull {
    pub order_no: String,
    pub platform: Platform,
    pub shop_id: u64,
    pub shop_name: Option<String>,
    pub platform_order_no: String,
    pub order_kind: OrderKind,
    pub product_id: Option<u64>,
    pub product_name: Option<String>,
    pub product_mode: Option<FulfilmentMode>,
    pub sku: String,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub status: OrderStatus,
    pub failure_code: Option<FailureReason>,
    pub failure_reason: Option<String>,
    pub notify_status: NotifyStatus,
    pub notify_url: Option<String>,
    pub notify_attempts: i32,
    pub notify_next_at: Option<NaiveDateTime>,
    pub notify_reason: Option<String>,
    pub stock_deadline_at: Option<NaiveDateTime>,
    pub raw_request: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

/// The order page's order.
pub async fn order_full(
    ex: impl sqlx::MySqlExecutor<'_>,
    id: u64,
) -> sqlx::Result<Option<OrderFull>> {
    sqlx::query_as(
        "SELECT o.order_no, o.platform, o.shop_id, s.name AS shop_name, o.platform_order_no,
                o.order_kind, o.product_id, p.name AS product_name, p.mode AS product_mode, o.sku,
                o.quantity, o.total_price_fen, o.recharge_account, o.status, o.failure_code,
                o.failure_reason, o.notify_status, o.notify_url, o.notify_attempts, o.notify_next_at,
                o.notify_reason, o.stock_deadline_at, o.raw_request, o.created_at, o.updated_at,
                o.completed_at
         FROM orders o
         LEFT JOIN shops s ON s.id = o.shop_id
         LEFT JOIN products p ON p.id = o.product_id
         WHERE o.id = ?",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}

#[derive(sqlx::FromRow)]
pub struct SupplierRow {
    pub supplier_name: Option<String>,
    pub supplier_id: u64,
    pub supplier_order_no: Option<String>,
    pub status: SupplierOrderStatus,
    pub poll_count: i32,
    pub next_poll_at: Option<NaiveDateTime>,
    pub deadline_at: Option<NaiveDateTime>,
    pub last_response: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(sqlx::FromRow)]
pub struct OtherAttempt {
    pub target: CallbackTarget,
    pub attempt_no: i32,
    pub url: String,
    pub request_body: Option<String>,
    pub http_status: Option<i16>,
    pub response_body: Option<String>,
    pub duration_ms: i32,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// The order's supplier orders, oldest first.
pub async fn supplier_orders(pool: &Pool, id: u64) -> sqlx::Result<Vec<SupplierRow>> {
    sqlx::query_as(
        "SELECT sp.name AS supplier_name, so.supplier_id, so.supplier_order_no, so.status,
                so.poll_count, so.next_poll_at, so.deadline_at, so.last_response, so.created_at,
                so.updated_at
         FROM supplier_orders so LEFT JOIN suppliers sp ON sp.id = so.supplier_id
         WHERE so.order_id = ? ORDER BY so.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Callback attempts to other targets than JD (webhooks), oldest first.
pub async fn other_attempts(pool: &Pool, id: u64) -> sqlx::Result<Vec<OtherAttempt>> {
    sqlx::query_as(
        "SELECT target, attempt_no, url, request_body, http_status, response_body, duration_ms,
                outcome, error, next_attempt_at, created_at
         FROM callback_attempts WHERE order_id = ? AND target NOT IN ('jd_general', 'jd_game')
         ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Supplier orders of `order_id` that are not finally failed: the supplier may still recharge.
pub async fn live_supplier_orders(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM supplier_orders WHERE order_id = ? AND status <> 'failed'",
    )
    .bind(order_id)
    .fetch_one(ex)
    .await
}

/// Whether a supplier holds `order_id` right now: a `processing` order with a row the poller
/// has claimed (`submitted`), whose answer is not recorded yet.
pub async fn supplier_has_it(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM supplier_orders WHERE order_id = ? AND status = 'submitted'",
    )
    .bind(order_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// One line of the order list.
#[derive(sqlx::FromRow)]
pub struct ListRow {
    pub id: u64,
    pub order_no: String,
    pub platform_order_no: String,
    pub platform: Platform,
    pub shop_name: Option<String>,
    pub product_name: Option<String>,
    pub sku: String,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub status: OrderStatus,
    pub notify_status: NotifyStatus,
    pub created_at: NaiveDateTime,
}

/// A page of the order list, newest first. Ids first from the filter's index (covering, cheap
/// even deep into the pages), then the rows with their shop and product names.
pub async fn list_page(
    pool: &Pool,
    w: &Where,
    per_page: u64,
    offset: u64,
) -> sqlx::Result<Vec<ListRow>> {
    let sql = format!(
        "SELECT o.id, o.order_no, o.platform_order_no, o.platform, s.name AS shop_name,
                p.name AS product_name, o.sku, o.quantity, o.total_price_fen, o.recharge_account,
                o.status, o.notify_status, o.created_at
         FROM (SELECT id FROM orders{} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}) t
         JOIN orders o ON o.id = t.id
         LEFT JOIN shops s ON s.id = o.shop_id
         LEFT JOIN products p ON p.id = o.product_id
         ORDER BY o.created_at DESC, o.id DESC",
        w.sql(),
        per_page,
        offset
    );
    w.bind_as(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(pool)
        .await
}

/// The shops for the list's select: id, name, platform.
pub async fn shop_choices(pool: &Pool) -> sqlx::Result<Vec<(u64, String, Platform)>> {
    sqlx::query_as("SELECT id, name, platform FROM shops ORDER BY platform, name")
        .fetch_all(pool)
        .await
}

/// The products for the list's select: id, name.
pub async fn product_choices(pool: &Pool) -> sqlx::Result<Vec<(u64, String)>> {
    sqlx::query_as("SELECT id, name FROM products ORDER BY name")
        .fetch_all(pool)
        .await
}

/// One order of the CSV export.
#[derive(sqlx::FromRow)]
pub struct ExportRow {
    pub id: u64,
    pub order_no: String,
    pub platform_order_no: String,
    pub platform: Platform,
    pub shop_name: Option<String>,
    pub product_name: Option<String>,
    pub sku: String,
    pub order_kind: OrderKind,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub status: OrderStatus,
    pub failure_reason: Option<String>,
    pub notify_status: NotifyStatus,
    pub notify_attempts: i32,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

/// Up to `limit` orders of the export, newest first (the caller adds the keyset bound).
pub async fn export_batch(pool: &Pool, w: &Where, limit: usize) -> sqlx::Result<Vec<ExportRow>> {
    let sql = format!(
        "SELECT o.id, o.order_no, o.platform_order_no, o.platform, s.name AS shop_name,
                p.name AS product_name, o.sku, o.order_kind, o.quantity, o.total_price_fen,
                o.recharge_account, o.status, o.failure_reason, o.notify_status,
                o.notify_attempts, o.created_at, o.completed_at
         FROM (SELECT id FROM orders{} ORDER BY created_at DESC, id DESC LIMIT {limit}) t
         JOIN orders o ON o.id = t.id
         LEFT JOIN shops s ON s.id = o.shop_id
         LEFT JOIN products p ON p.id = o.product_id
         ORDER BY o.created_at DESC, o.id DESC",
        w.sql()
    );
    w.bind_as(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(pool)
        .await
}

/// Whether this very form was already carried out (its audit row exists).
pub async fn already_done(tx: &mut Tx, id: u64, action: &str, once: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log
         WHERE target_type = 'order' AND target_id = ? AND action = ? AND detail LIKE ?",
    )
    .bind(id.to_string())
    .bind(action)
    .bind(format!("%（提交号 {once}）"))
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// How many cards the order was sold.
pub async fn sold_card_count(tx: &mut Tx, order_id: u64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE order_id = ? AND status = 'sold'")
        .bind(order_id)
        .fetch_one(&mut **tx)
        .await
}

/// The batch row of cards entered by hand for an order (`total` lines, all inserted).
pub async fn insert_manual_batch(
    tx: &mut Tx,
    batch_id: &str,
    product_id: u64,
    source: &str,
    imported_by: &str,
    total: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO card_batches (id, product_id, source, imported_by, total_lines, inserted)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(batch_id)
    .bind(product_id)
    .bind(source)
    .bind(imported_by)
    .bind(total)
    .bind(total)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The order's callback attempts so far and whether a next one is scheduled.
pub async fn notify_progress(tx: &mut Tx, order_id: u64) -> sqlx::Result<(i32, bool)> {
    sqlx::query_as("SELECT notify_attempts, notify_next_at IS NOT NULL FROM orders WHERE id = ?")
        .bind(order_id)
        .fetch_one(&mut **tx)
        .await
}

/// Waiting for stock gives up `wait_seconds` from now.
pub async fn set_stock_deadline(tx: &mut Tx, order_id: u64, wait_seconds: i32) -> sqlx::Result<()> {
    sqlx::query("UPDATE orders SET stock_deadline_at = NOW(3) + INTERVAL ? SECOND WHERE id = ?")
        .bind(wait_seconds)
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
