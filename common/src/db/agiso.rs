//! Agiso's rows: every push or polled trade as received (`agiso_events`, stored once per
//! (service, order, topic, sub-key)), the Agiso side of each Agiso order (`agiso_orders`), and
//! the backstop poll's window per shop (`agiso_poll_marks`).

use super::{Pool, Tx};
pub use crate::domain::agiso::{DeliveryStep, EventState, OrderType, Service, Source};

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub shop_id: u64,
    pub service: Service,
    pub tid: &'a str,
    pub aopic: i64,
    pub sub_key: &'a str,
    pub topic: &'a str,
    pub source: Source,
    pub payload: &'a str,
    /// The state its handling leaves it in, and what it did (for operators).
    pub state: EventState,
    pub note: Option<&'a str>,
}

/// Stores the event in `tx`; `None` when the same (service, tid, aopic, sub-key) is already
/// stored: a repeated push or a trade polled again.
pub async fn insert_event(tx: &mut Tx, e: &NewEvent<'_>) -> sqlx::Result<Option<u64>> {
    let inserted = sqlx::query(
        "INSERT INTO agiso_events (shop_id, service, tid, aopic, sub_key, topic, source, payload,
             state, note, processed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? = 'pending', NULL, NOW(3)))",
    )
    .bind(e.shop_id)
    .bind(e.service)
    .bind(e.tid)
    .bind(e.aopic)
    .bind(e.sub_key)
    .bind(e.topic)
    .bind(e.source)
    .bind(e.payload)
    .bind(e.state)
    .bind(e.note.map(|n| n.chars().take(255).collect::<String>()))
    .bind(e.state)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(r) => Ok(Some(r.last_insert_id())),
        Err(e) if super::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records what handling the event did.
pub async fn finish_event(
    ex: impl sqlx::MySqlExecutor<'_>,
    id: u64,
    state: EventState,
    note: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE agiso_events SET state = ?, note = ?,
             processed_at = IF(? = 'pending', NULL, NOW(3))
         WHERE id = ?",
    )
    .bind(state)
    .bind(note.map(|n| n.chars().take(255).collect::<String>()))
    .bind(state)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: u64,
    pub shop_id: u64,
    pub service: Service,
    pub tid: String,
    pub aopic: i64,
    pub sub_key: String,
    pub topic: String,
    pub source: Source,
    pub payload: String,
    pub state: EventState,
    pub note: Option<String>,
    pub received_at: chrono::NaiveDateTime,
}

const EVENT_COLUMNS: &str =
    "id, shop_id, service, tid, aopic, sub_key, topic, source, payload, state, note, received_at";

/// Events still waiting for their detail, the least recently tried first.
pub async fn pending_events(pool: &Pool, limit: u32) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM agiso_events WHERE state = 'pending'
         ORDER BY COALESCE(processed_at, received_at) LIMIT ?"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every event of one Agiso order (an operator's view), newest last.
pub async fn events_of_tid(
    ex: impl sqlx::MySqlExecutor<'_>,
    service: Service,
    tid: &str,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM agiso_events WHERE service = ? AND tid = ? ORDER BY id"
    )))
    .bind(service)
    .bind(tid)
    .fetch_all(ex)
    .await
}

/// The refund topics stored for one Agiso order that concern sub-order `oid` (or the whole
/// trade): read in the caller's transaction before an order of that line is created.
pub async fn refund_topics(
    ex: impl sqlx::MySqlExecutor<'_>,
    service: Service,
    tid: &str,
    oid: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT topic FROM agiso_events
         WHERE service = ? AND tid = ? AND topic IN ('taobao_refund_created', 'taobao_refund_succeeded')
           AND (sub_key LIKE ':%' OR sub_key LIKE CONCAT(?, ':%'))",
    )
    .bind(service)
    .bind(tid)
    .bind(oid)
    .fetch_all(ex)
    .await
}

/// A pending event whose detail could not be read this time: noted, and put behind the others
/// (events are taken by when they were last tried), so a few that keep failing never block
/// the rest.
pub async fn retry_later(
    ex: impl sqlx::MySqlExecutor<'_>,
    id: u64,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE agiso_events SET note = ?, processed_at = NOW(3) WHERE id = ? AND state = 'pending'",
    )
    .bind(note.chars().take(255).collect::<String>())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// The Agiso side of an order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgisoOrderRow {
    pub order_id: u64,
    pub service: Service,
    pub tid: String,
    pub order_type: OrderType,
    pub step: DeliveryStep,
}

pub async fn insert_order(
    tx: &mut Tx,
    order_id: u64,
    service: Service,
    tid: &str,
    order_type: OrderType,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agiso_orders (order_id, service, tid, order_type) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE order_id = order_id",
    )
    .bind(order_id)
    .bind(service)
    .bind(tid)
    .bind(order_type)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn order(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
) -> sqlx::Result<Option<AgisoOrderRow>> {
    sqlx::query_as(
        "SELECT order_id, service, tid, order_type, step FROM agiso_orders WHERE order_id = ?",
    )
    .bind(order_id)
    .fetch_optional(ex)
    .await
}

/// The orders of one Agiso order (a Taobao trade has one per sub-order).
pub async fn orders_of_tid(
    ex: impl sqlx::MySqlExecutor<'_>,
    service: Service,
    tid: &str,
) -> sqlx::Result<Vec<AgisoOrderRow>> {
    sqlx::query_as(
        "SELECT order_id, service, tid, order_type, step FROM agiso_orders
         WHERE service = ? AND tid = ? ORDER BY order_id",
    )
    .bind(service)
    .bind(tid)
    .fetch_all(ex)
    .await
}

/// Marks the Taobao cards of these orders as stored with Agiso (`CreateOrderResult` done), so a
/// retry goes on with the shipment.
pub async fn set_step(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
    step: DeliveryStep,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE agiso_orders SET step = ? WHERE order_id = ?")
        .bind(step)
        .bind(order_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// The start of the next poll window of a shop, if it was polled before.
pub async fn poll_mark(pool: &Pool, shop_id: u64) -> sqlx::Result<Option<chrono::NaiveDateTime>> {
    sqlx::query_scalar("SELECT polled_until FROM agiso_poll_marks WHERE shop_id = ?")
        .bind(shop_id)
        .fetch_optional(pool)
        .await
}

pub async fn set_poll_mark(
    pool: &Pool,
    shop_id: u64,
    until: chrono::NaiveDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agiso_poll_marks (shop_id, polled_until) VALUES (?, ?)
         ON DUPLICATE KEY UPDATE polled_until = GREATEST(polled_until, VALUES(polled_until))",
    )
    .bind(shop_id)
    .bind(until)
    .execute(pool)
    .await?;
    Ok(())
}
