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

pub async fn events(ex: impl sqlx::MySqlExecutor<'_>, order_id: u64) -> sqlx::Result<Vec<OrderEventRow>> {
    sqlx::query_as(
        "SELECT id, from_status, to_status, actor, note, created_at FROM order_events
         WHERE order_id = ? ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(ex)
    .await
}
