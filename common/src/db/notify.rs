//! The durable callback schedule of JD orders (`orders.notify_*`) and its attempt log
//! (`callback_attempts`). The notifier claims due orders with a lease, sends outside any
//! transaction, then records the attempt; the admin resets the schedule for manual resends.

use std::time::Duration;

use super::Pool;

/// `notify_status` values.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const GIVING_UP: &str = "giving_up";

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Schedules the first callback of a final order whose notification is still pending and not
/// yet scheduled. Idempotent: a redelivered `order.completed` does not reset a running schedule.
/// Returns whether the order was scheduled by this call.
pub async fn schedule_first(pool: &Pool, order_id: u64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE orders SET notify_next_at = NOW(3)
         WHERE id = ? AND notify_status = 'pending' AND notify_next_at IS NULL
           AND status IN ('succeeded', 'failed')",
    )
    .bind(order_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// A claimed order: its id and how many attempts were already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub order_id: u64,
    pub attempts_done: i32,
}

/// Claims up to `limit` due orders: pushes their `notify_next_at` forward by `lease` in a short
/// transaction (`SKIP LOCKED`, so concurrent notifiers take different orders). A claimed order
/// that is never recorded (crash) becomes due again when the lease ends.
pub async fn claim_due(pool: &Pool, limit: u32, lease: Duration) -> sqlx::Result<Vec<Claimed>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let rows: Vec<(u64, i32)> = sqlx::query_as(
        "SELECT id, notify_attempts FROM orders
         WHERE notify_status = 'pending' AND notify_next_at <= NOW(3)
         ORDER BY notify_next_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE orders SET notify_next_at = NOW(3) + INTERVAL ? MICROSECOND WHERE id IN ({})",
        super::placeholders(rows.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(lease));
    for (id, _) in &rows {
        q = q.bind(*id);
    }
    q.execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(order_id, attempts_done)| Claimed {
            order_id,
            attempts_done,
        })
        .collect())
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again after the delay.
    Retry(Duration),
    GivingUp,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::GivingUp => GIVING_UP,
        }
    }
}

/// One attempt to record. `request_body` must already have card data masked.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub order_id: u64,
    /// `jd_general` | `jd_game`.
    pub target: &'a str,
    pub attempt_no: i32,
    pub url: &'a str,
    pub request_body: Option<&'a str>,
    pub http_status: Option<u16>,
    pub response_body: Option<&'a str>,
    pub duration_ms: u32,
    pub outcome: Outcome,
    /// Transport error, or the reason of a retry / stop (Chinese, operator-facing).
    pub error: Option<&'a str>,
}

fn cut(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Writes the `callback_attempts` row and moves the order's schedule, in one transaction. Only
/// an order still `pending` changes (a manual reset in between keeps its fresh schedule).
pub async fn record_attempt(pool: &Pool, a: &Attempt<'_>) -> sqlx::Result<()> {
    let next_micros = match a.outcome {
        Outcome::Retry(d) => Some(micros(d)),
        _ => None,
    };
    let reason = match a.outcome {
        Outcome::GivingUp => a.error.map(|e| cut(e, 255)),
        _ => None,
    };
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO callback_attempts (order_id, target, attempt_no, url, request_body,
            http_status, response_body, duration_ms, outcome, error, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? IS NULL, NULL, NOW(3) + INTERVAL ? MICROSECOND))",
    )
    .bind(a.order_id)
    .bind(a.target)
    .bind(a.attempt_no)
    .bind(cut(a.url, 1024))
    .bind(a.request_body.map(|b| cut(b, 16_000)))
    .bind(a.http_status)
    .bind(a.response_body.map(|b| cut(b, 4_000)))
    .bind(a.duration_ms)
    .bind(a.outcome.as_str())
    .bind(a.error.map(|e| cut(e, 512)))
    .bind(next_micros)
    .bind(next_micros)
    .execute(&mut *tx)
    .await?;
    let status = match a.outcome {
        Outcome::Delivered => DELIVERED,
        Outcome::Retry(_) => PENDING,
        Outcome::GivingUp => GIVING_UP,
    };
    sqlx::query(
        "UPDATE orders SET notify_status = ?, notify_attempts = ?,
            notify_next_at = IF(? IS NULL, NULL, NOW(3) + INTERVAL ? MICROSECOND),
            notify_reason = ?
         WHERE id = ? AND notify_status = 'pending'",
    )
    .bind(status)
    .bind(a.attempt_no)
    .bind(next_micros)
    .bind(next_micros)
    .bind(reason)
    .bind(a.order_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Manual resend of one final order: a fresh schedule starting now. Returns whether the order
/// exists and is final (only final orders have a result to send). Takes any executor, so the
/// admin can commit it together with its audit row.
pub async fn resend_order(ex: impl sqlx::MySqlExecutor<'_>, order_id: u64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE orders SET notify_status = 'pending', notify_attempts = 0,
            notify_next_at = NOW(3), notify_reason = NULL
         WHERE id = ? AND status IN ('succeeded', 'failed')",
    )
    .bind(order_id)
    .execute(ex)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Manual resend of every `giving_up` order of a shop. Returns how many were rescheduled.
pub async fn resend_giving_up_of_shop(pool: &Pool, shop_id: u64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE orders SET notify_status = 'pending', notify_attempts = 0,
            notify_next_at = NOW(3), notify_reason = NULL
         WHERE shop_id = ? AND notify_status = 'giving_up' AND status IN ('succeeded', 'failed')",
    )
    .bind(shop_id)
    .execute(pool)
    .await?
    .rows_affected())
}

/// One logged attempt, for the admin and tests.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: u64,
    pub attempt_no: i32,
    pub url: String,
    pub request_body: Option<String>,
    pub http_status: Option<i16>,
    pub response_body: Option<String>,
    pub duration_ms: i32,
    pub outcome: String,
    pub error: Option<String>,
    pub next_attempt_at: Option<chrono::NaiveDateTime>,
    pub created_at: chrono::NaiveDateTime,
}

/// The attempts logged for an order, oldest first.
pub async fn attempts(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
) -> sqlx::Result<Vec<AttemptRow>> {
    sqlx::query_as(
        "SELECT id, attempt_no, url, request_body, http_status, response_body, duration_ms,
            outcome, error, next_attempt_at, created_at
         FROM callback_attempts WHERE order_id = ? AND target IN ('jd_general', 'jd_game')
         ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(ex)
    .await
}
