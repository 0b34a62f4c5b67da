//! The SQL of 死信队列 (the collector writes rows through `crate::dead_letters`).

use chrono::NaiveDateTime;
use common::db::{Pool, Tx};
use common::domain::DeadLetterStatus;

use super::{DETAIL_BYTES, PREVIEW_BYTES};

#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: u64,
    pub message_id: Option<String>,
    pub routing_key: String,
    pub source_queue: Option<String>,
    pub reason: Option<String>,
    pub death_count: i32,
    pub payload: Vec<u8>,
    pub size: i64,
    pub status: DeadLetterStatus,
    pub handled_by: Option<String>,
    pub handled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// A page of letters (`where_sql` binds `status` when given), newest first, payloads cut
/// to their first `PREVIEW_BYTES`.
pub async fn rows(
    pool: &Pool,
    where_sql: &str,
    status: Option<DeadLetterStatus>,
    limit: u64,
    offset: u64,
) -> sqlx::Result<Vec<Row>> {
    let sql = format!(
        "SELECT id, message_id, routing_key, source_queue, reason, death_count,
            SUBSTRING(payload, 1, {PREVIEW_BYTES}) AS payload, LENGTH(payload) AS size, status,
            handled_by, handled_at, created_at
         FROM dead_letters {where_sql} ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    if let Some(s) = status {
        q = q.bind(s);
    }
    q.fetch_all(pool).await
}

/// One letter, its payload cut to its first `DETAIL_BYTES`.
pub async fn letter(pool: &Pool, id: u64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, message_id, routing_key, source_queue, reason, death_count,
            SUBSTRING(payload, 1, {DETAIL_BYTES}) AS payload, LENGTH(payload) AS size, status,
            handled_by, handled_at, created_at
         FROM dead_letters WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A letter's status, routing key and payload, locked for an action.
pub async fn lock(
    tx: &mut Tx,
    id: u64,
) -> sqlx::Result<Option<(DeadLetterStatus, String, Vec<u8>)>> {
    sqlx::query_as("SELECT status, routing_key, payload FROM dead_letters WHERE id = ? FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Marks a locked pending letter `replayed` or `discarded` by `user`.
pub async fn mark_handled(
    tx: &mut Tx,
    id: u64,
    status: DeadLetterStatus,
    user: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE dead_letters SET status = ?, handled_by = ?, handled_at = NOW(3)
         WHERE id = ? AND status = 'pending'",
    )
    .bind(status)
    .bind(user)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
