//! The SQL of 回调日志: the attempts list (filtered by a [`Where`]), one attempt and the other
//! attempts of its order.

use chrono::NaiveDateTime;
use common::db::Pool;
use common::domain::{AttemptOutcome, CallbackTarget};

use crate::web::page::Where;

#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: u64,
    pub order_id: Option<u64>,
    pub order_no: Option<String>,
    pub target: CallbackTarget,
    pub attempt_no: i32,
    pub url: String,
    pub http_status: Option<i16>,
    pub duration_ms: i32,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(sqlx::FromRow)]
pub struct Full {
    pub id: u64,
    pub order_id: Option<u64>,
    pub order_no: Option<String>,
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

/// The orders an operator's order number names: our order number exactly; failing that, the
/// platform's order number (at most 20).
pub async fn order_ids(pool: &Pool, order: &str) -> sqlx::Result<Vec<u64>> {
    let ids: Vec<u64> = sqlx::query_scalar("SELECT id FROM orders WHERE order_no = ?")
        .bind(order)
        .fetch_all(pool)
        .await?;
    if !ids.is_empty() {
        return Ok(ids);
    }
    sqlx::query_scalar("SELECT id FROM orders WHERE platform_order_no = ? ORDER BY id LIMIT 20")
        .bind(order)
        .fetch_all(pool)
        .await
}

/// A page of attempts, newest first.
pub async fn page(pool: &Pool, w: &Where, per_page: u64, offset: u64) -> sqlx::Result<Vec<Row>> {
    let sql = format!(
        "SELECT c.id, c.order_id, o.order_no, c.target, c.attempt_no, c.url, c.http_status,
                    c.duration_ms, c.outcome, c.error, c.created_at
             FROM (SELECT id FROM callback_attempts{} ORDER BY created_at DESC, id DESC
                   LIMIT {} OFFSET {}) t
             JOIN callback_attempts c ON c.id = t.id
             LEFT JOIN orders o ON o.id = c.order_id
             ORDER BY c.created_at DESC, c.id DESC",
        w.sql(),
        per_page,
        offset
    );
    w.bind_as(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(pool)
        .await
}

/// One attempt with its order number.
pub async fn attempt(pool: &Pool, id: u64) -> sqlx::Result<Option<Full>> {
    sqlx::query_as(
        "SELECT c.id, c.order_id, o.order_no, c.target, c.attempt_no, c.url, c.request_body,
                c.http_status, c.response_body, c.duration_ms, c.outcome, c.error,
                c.next_attempt_at, c.created_at
         FROM callback_attempts c LEFT JOIN orders o ON o.id = c.order_id WHERE c.id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The order's attempts (id, number, target, outcome, time), oldest first, at most 200.
pub async fn attempts_of_order(
    pool: &Pool,
    order_id: u64,
) -> sqlx::Result<Vec<(u64, i32, CallbackTarget, AttemptOutcome, NaiveDateTime)>> {
    sqlx::query_as(
        "SELECT id, attempt_no, target, outcome, created_at FROM callback_attempts
         WHERE order_id = ? ORDER BY id LIMIT 200",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
}
