//! Orders and their timeline. Every status change goes through [`transition`], which checks the
//! state machine, changes the row only if it is still in the expected status, and records the
//! `order_events` row in the same transaction.

use crate::domain::{OrderStatus, TransitionError};

use super::Tx;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Moves `order_id` from `from` to `to`. Fails with `Illegal` for a transition the business
/// forbids and with `Stale` when the row is no longer in `from` (someone else moved it).
pub async fn transition(
    tx: &mut Tx,
    order_id: u64,
    from: OrderStatus,
    to: OrderStatus,
    actor: &str,
    note: Option<&str>,
) -> Result<(), OrderError> {
    from.check_transition(to)?;
    let done = sqlx::query(
        "UPDATE orders SET status = ?,
             completed_at = IF(? , NOW(3), completed_at)
         WHERE id = ? AND status = ?",
    )
    .bind(to.as_str())
    .bind(to.is_final())
    .bind(order_id)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if done != 1 {
        return Err(TransitionError::Stale {
            order_id,
            expected: from,
        }
        .into());
    }
    record_event(tx, order_id, Some(from), to, actor, note).await?;
    Ok(())
}

/// Appends a timeline row (also used for the order's first event, with `from = None`).
pub async fn record_event(
    tx: &mut Tx,
    order_id: u64,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: &str,
    note: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO order_events (order_id, from_status, to_status, actor, note) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(order_id)
    .bind(from.map(OrderStatus::as_str))
    .bind(to.as_str())
    .bind(actor)
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reads an order's status under a row lock (`FOR UPDATE`) for a consumer about to act on it.
pub async fn lock_status(tx: &mut Tx, order_id: u64) -> Result<Option<OrderStatus>, OrderError> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = ? FOR UPDATE")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(s.map(|s| s.parse()).transpose()?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderEventRow {
    pub id: u64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub note: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

pub async fn events(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
) -> sqlx::Result<Vec<OrderEventRow>> {
    sqlx::query_as(
        "SELECT id, from_status, to_status, actor, note, created_at FROM order_events
         WHERE order_id = ? ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(ex)
    .await
}

/// An order as the services read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: u64,
    pub order_no: String,
    pub platform: String,
    pub shop_id: u64,
    pub platform_order_no: String,
    pub order_kind: String,
    pub product_id: Option<u64>,
    pub sku: String,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub notify_status: String,
    pub notify_url: Option<String>,
}

impl OrderRow {
    pub fn status(&self) -> Result<OrderStatus, TransitionError> {
        self.status.parse()
    }

    pub fn failure(&self) -> Option<crate::domain::FailureReason> {
        self.failure_code.as_deref().and_then(|c| c.parse().ok())
    }
}

const ORDER_COLUMNS: &str = "id, order_no, platform, shop_id, platform_order_no, order_kind, product_id, sku, \
    quantity, total_price_fen, recharge_account, status, failure_code, failure_reason, notify_status, notify_url";

/// An order to create, as parsed from a platform's request.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub platform: crate::domain::Platform,
    pub shop_id: u64,
    pub platform_order_no: String,
    /// `card` or `direct`.
    pub order_kind: &'static str,
    pub product_id: u64,
    pub sku: String,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub notify_url: Option<String>,
    pub raw_request: Option<String>,
}

/// What [`create`] did.
#[derive(Debug)]
pub enum Created {
    /// A new order (its row, first event and `order.created` outbox row committed together).
    New(OrderRow),
    /// The platform order number was already known: nothing was written.
    Existing(OrderRow),
}

/// Creates the order, its first timeline event and its `order.created.<platform>` outbox
/// message in one transaction. The unique key on (platform, shop, platform order number) makes
/// concurrent repeats safe: exactly one request creates the order, the others get the stored one.
pub async fn create(
    pool: &super::Pool,
    new: &NewOrder,
    actor: &str,
) -> Result<Created, sqlx::Error> {
    use crate::mq::{Event, EventType};
    for _ in 0..3 {
        let order_no = crate::domain::OrderNo::generate(chrono::Utc::now());
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, product_id,
                sku, quantity, total_price_fen, recharge_account, status, notify_status, notify_url, raw_request)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', 'pending', ?, ?)",
        )
        .bind(order_no.as_str())
        .bind(new.platform.as_str())
        .bind(new.shop_id)
        .bind(&new.platform_order_no)
        .bind(new.order_kind)
        .bind(new.product_id)
        .bind(&new.sku)
        .bind(new.quantity)
        .bind(new.total_price_fen)
        .bind(&new.recharge_account)
        .bind(&new.notify_url)
        .bind(&new.raw_request)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_id(),
            Err(e) if super::is_unique_violation(&e) => {
                drop(tx);
                if let Some(existing) =
                    find_by_platform_no(pool, new.platform, new.shop_id, &new.platform_order_no)
                        .await?
                {
                    return Ok(Created::Existing(existing));
                }
                // The collision was on our own order number: try a fresh one.
                continue;
            }
            Err(e) => return Err(e),
        };
        record_event(&mut tx, id, None, OrderStatus::Received, actor, None).await?;
        crate::mq::outbox::enqueue(
            &mut tx,
            &Event::new(EventType::OrderCreated, id, new.platform),
        )
        .await?;
        tx.commit().await?;
        return Ok(Created::New(OrderRow {
            id,
            order_no: order_no.into_inner(),
            platform: new.platform.as_str().to_owned(),
            shop_id: new.shop_id,
            platform_order_no: new.platform_order_no.clone(),
            order_kind: new.order_kind.to_owned(),
            product_id: Some(new.product_id),
            sku: new.sku.clone(),
            quantity: new.quantity,
            total_price_fen: new.total_price_fen,
            recharge_account: new.recharge_account.clone(),
            status: OrderStatus::Received.as_str().to_owned(),
            failure_code: None,
            failure_reason: None,
            notify_status: "pending".to_owned(),
            notify_url: new.notify_url.clone(),
        }));
    }
    Err(sqlx::Error::Protocol(
        "could not allocate a unique order number".into(),
    ))
}

pub async fn find_by_platform_no(
    ex: impl sqlx::MySqlExecutor<'_>,
    platform: crate::domain::Platform,
    shop_id: u64,
    platform_order_no: &str,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE platform = ? AND shop_id = ? AND platform_order_no = ?"
    )))
    .bind(platform.as_str())
    .bind(shop_id)
    .bind(platform_order_no)
    .fetch_optional(ex)
    .await
}

pub async fn get(ex: impl sqlx::MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}
