//! The durable callback schedule of JD orders (`orders.notify_*`) and its attempt log
//! (`callback_attempts`). The notifier claims due orders with a lease, sends outside any
//! transaction, then records the attempt; the admin resets the schedule for manual resends.

use std::time::Duration;

use super::Pool;
use super::orders::{ORDER_COLUMNS, OrderRow};
use crate::domain::{AttemptOutcome, CallbackTarget, NotifyStatus};

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Schedules the first callback of orders that have been final for longer than `grace` but were
/// never scheduled. The final transition schedules every order it completes
/// (`orders::transition_many`), so these are orders completed by an earlier version (which
/// scheduled when the `order.completed` message arrived) or written outside the transitions. At
/// most `limit` orders per call, so a large backlog is taken in short statements; returns how
/// many were scheduled. The candidates are found by a plain read of the `(notify_status,
/// notify_next_at)` index — which also holds every order not final yet, so a locking scan would
/// hold up (and deadlock with) the transitions completing them — and then scheduled by id under
/// the same conditions.
pub async fn schedule_lost(
    pool: &Pool,
    audience: Audience,
    grace: Duration,
    limit: u32,
) -> sqlx::Result<u64> {
    const UNSCHEDULED: &str = "notify_status = 'pending' AND notify_next_at IS NULL
           AND status IN ('succeeded', 'failed')";
    let ids: Vec<u64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM orders
         WHERE {UNSCHEDULED} AND platform IN ({})
           AND completed_at < NOW(3) - INTERVAL ? MICROSECOND
         LIMIT ?",
        audience.platforms_sql()
    )))
    .bind(micros(grace))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE orders SET notify_next_at = NOW(3) WHERE {UNSCHEDULED} AND id IN ({})",
        super::placeholders(ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        q = q.bind(id);
    }
    Ok(q.execute(pool).await?.rows_affected())
}

/// Whose orders a worker tells their platform about: JD's (the notifier's callbacks) or
/// Agiso's (agiso-sync's deliveries). Both run on the orders' `notify_*` schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Jd,
    Agiso,
}

impl Audience {
    /// The platforms, as a fixed SQL list (no user input).
    fn platforms_sql(self) -> &'static str {
        match self {
            Audience::Jd => "'jd_general', 'jd_game'",
            Audience::Agiso => "'agiso'",
        }
    }
}

/// A claimed order as read when it was claimed, and how many attempts were already recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    #[sqlx(rename = "notify_attempts")]
    pub attempts_done: i32,
    #[sqlx(flatten)]
    pub order: OrderRow,
}

impl Claimed {
    pub fn order_id(&self) -> u64 {
        self.order.id
    }
}

/// Claims up to `limit` due orders: pushes their `notify_next_at` forward by `lease` in a short
/// transaction (`SKIP LOCKED`, so concurrent notifiers take different orders) and returns them,
/// read in the same statement that locked them. A claimed order that is never recorded (crash)
/// becomes due again when the lease ends.
pub async fn claim_due(
    pool: &Pool,
    audience: Audience,
    limit: u32,
    lease: Duration,
) -> sqlx::Result<Vec<Claimed>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let rows: Vec<Claimed> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS}, notify_attempts FROM orders
         WHERE notify_status = 'pending' AND notify_next_at <= NOW(3) AND platform IN ({})
         ORDER BY notify_next_at LIMIT ? FOR UPDATE SKIP LOCKED",
        audience.platforms_sql()
    )))
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
    for c in &rows {
        q = q.bind(c.order.id);
    }
    q.execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
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
    /// As stored in `callback_attempts.outcome`.
    pub fn stored(self) -> AttemptOutcome {
        match self {
            Outcome::Delivered => AttemptOutcome::Delivered,
            Outcome::Retry(_) => AttemptOutcome::Retry,
            Outcome::GivingUp => AttemptOutcome::GivingUp,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.stored().as_str()
    }

    /// The order's `notify_status` after this attempt.
    fn notify_status(self) -> NotifyStatus {
        match self {
            Outcome::Delivered => NotifyStatus::Delivered,
            Outcome::Retry(_) => NotifyStatus::Pending,
            Outcome::GivingUp => NotifyStatus::GivingUp,
        }
    }
}

/// One attempt to record. `request_body` must already have card data masked.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub order_id: u64,
    /// `jd_general` | `jd_game`.
    pub target: CallbackTarget,
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
    record_attempts(pool, std::slice::from_ref(a)).await
}

/// Parameter bytes per statement at most (one row more when a single row is larger): sqlx does
/// not set `TCP_NODELAY`, and a statement split over several writes stalls on delayed ACKs.
const STATEMENT_BUDGET: usize = 8 * 1024;
/// Rows per `UPDATE … JOIN (SELECT … UNION ALL …)`, which keeps its SQL text short too.
const UPDATE_ROWS: usize = 40;

/// Splits `items` into runs whose estimated sizes stay within [`STATEMENT_BUDGET`] and `max_rows`.
fn chunks<T>(
    items: &[T],
    max_rows: usize,
    size: impl Fn(&T) -> usize,
) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut n, mut bytes) = (0, 0);
        while n < rest.len() && n < max_rows {
            let b = size(&rest[n]);
            if n > 0 && bytes + b > STATEMENT_BUDGET {
                break;
            }
            bytes += b;
            n += 1;
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// A deadlock or lock wait timeout: the transaction was rolled back and may simply be retried.
fn is_lock_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|d| matches!(d.number(), 1205 | 1213))
}

/// One attempt's row values, cut to the column sizes.
struct RowValues<'a> {
    a: &'a Attempt<'a>,
    url: String,
    request_body: Option<String>,
    response_body: Option<String>,
    error: Option<String>,
    next_micros: Option<i64>,
    status: NotifyStatus,
    reason: Option<String>,
}

impl<'a> RowValues<'a> {
    fn new(a: &'a Attempt<'a>) -> RowValues<'a> {
        RowValues {
            a,
            url: cut(a.url, 1024),
            request_body: a.request_body.map(|b| cut(b, 16_000)),
            response_body: a.response_body.map(|b| cut(b, 4_000)),
            error: a.error.map(|e| cut(e, 512)),
            next_micros: match a.outcome {
                Outcome::Retry(d) => Some(micros(d)),
                _ => None,
            },
            status: a.outcome.notify_status(),
            reason: match a.outcome {
                Outcome::GivingUp => a.error.map(|e| cut(e, 255)),
                _ => None,
            },
        }
    }

    fn insert_size(&self) -> usize {
        64 + self.a.target.as_str().len()
            + self.url.len()
            + self.request_body.as_ref().map_or(0, String::len)
            + self.response_body.as_ref().map_or(0, String::len)
            + self.error.as_ref().map_or(0, String::len)
    }

    fn update_size(&self) -> usize {
        48 + self.reason.as_ref().map_or(0, String::len)
    }
}

/// Records many attempts in one transaction: multi-row `INSERT`s into `callback_attempts` and
/// `UPDATE`s of the orders joined to a derived table of their new values, each statement kept
/// small. As with [`record_attempt`], only orders still `pending` change. A deadlock with a
/// concurrent writer is retried.
pub async fn record_attempts(pool: &Pool, attempts: &[Attempt<'_>]) -> sqlx::Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<RowValues<'_>> = attempts.iter().map(RowValues::new).collect();
    // One lock order for every writer.
    rows.sort_by_key(|r| r.a.order_id);
    let mut tries = 0;
    loop {
        match write_attempts(pool, &rows).await {
            Err(e) if is_lock_conflict(&e) && tries < 3 => tries += 1,
            Ok(()) => {
                for r in &rows {
                    crate::metrics::CALLBACK_ATTEMPTS
                        .with_label_values(&[r.a.target.as_str(), r.a.outcome.as_str()])
                        .inc();
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

/// Logs calls that do not move the order's schedule (an intermediate step of a delivery made
/// of several calls); the step that decides is recorded with [`record_attempt`].
pub async fn log_calls(pool: &Pool, attempts: &[Attempt<'_>]) -> sqlx::Result<()> {
    let rows: Vec<RowValues<'_>> = attempts.iter().map(RowValues::new).collect();
    let mut tx = pool.begin().await?;
    insert_attempts(&mut tx, &rows).await?;
    tx.commit().await
}

async fn write_attempts(pool: &Pool, rows: &[RowValues<'_>]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    insert_attempts(&mut tx, rows).await?;
    update_schedules(&mut tx, rows).await?;
    tx.commit().await
}

async fn insert_attempts(tx: &mut super::Tx, rows: &[RowValues<'_>]) -> sqlx::Result<()> {
    for chunk in chunks(rows, usize::MAX, RowValues::insert_size) {
        let sql = format!(
            "INSERT INTO callback_attempts (order_id, target, attempt_no, url, request_body,
                http_status, response_body, duration_ms, outcome, error, next_attempt_at)
             VALUES {}",
            vec![
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? IS NULL, NULL, NOW(3) + INTERVAL ? MICROSECOND))";
                chunk.len()
            ]
            .join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.a.order_id)
                .bind(r.a.target)
                .bind(r.a.attempt_no)
                .bind(&r.url)
                .bind(&r.request_body)
                .bind(r.a.http_status)
                .bind(&r.response_body)
                .bind(r.a.duration_ms)
                .bind(r.a.outcome.stored())
                .bind(&r.error)
                .bind(r.next_micros)
                .bind(r.next_micros);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn update_schedules(tx: &mut super::Tx, rows: &[RowValues<'_>]) -> sqlx::Result<()> {
    for chunk in chunks(rows, UPDATE_ROWS, RowValues::update_size) {
        // Typed first row (and every row, so no branch's parameters are typed by guesswork):
        // the same on MariaDB and MySQL 8.
        let values = vec![
            "SELECT CAST(? AS UNSIGNED) AS id, CAST(? AS CHAR(16)) AS st, CAST(? AS SIGNED) AS att, \
             CAST(? AS SIGNED) AS next_us, CAST(? AS CHAR(255)) AS reason";
            chunk.len()
        ]
        .join(" UNION ALL ");
        let sql = format!(
            "UPDATE orders o JOIN ({values}) v ON o.id = v.id
             SET o.notify_status = v.st, o.notify_attempts = v.att,
                 o.notify_next_at = IF(v.next_us IS NULL, NULL, NOW(3) + INTERVAL v.next_us MICROSECOND),
                 o.notify_reason = v.reason
             WHERE o.notify_status = 'pending'"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.a.order_id)
                .bind(r.status)
                .bind(r.a.attempt_no)
                .bind(r.next_micros)
                .bind(&r.reason);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Sets whether (and how) the platform is still to be told about the order; e.g. `not_required`
/// for an order cancelled because the buyer was refunded. Any status but `pending` also clears
/// the schedule (the final transition may have set it).
pub async fn set_status(
    tx: &mut super::Tx,
    order_id: u64,
    status: crate::domain::NotifyStatus,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET notify_status = ?, notify_next_at = IF(?, notify_next_at, NULL)
         WHERE id = ?",
    )
    .bind(status)
    .bind(status == NotifyStatus::Pending)
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stops telling the platform about an order that has not been told yet (`pending` → `giving_up`
/// with `reason`, unscheduled); an operator can resend it. A delivered order is left as it is.
pub async fn stop(tx: &mut super::Tx, order_id: u64, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET notify_status = 'giving_up', notify_next_at = NULL, notify_reason = ?
         WHERE id = ? AND notify_status = 'pending'",
    )
    .bind(reason)
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

/// Manual resend of every `giving_up` order of a shop. Returns how many were rescheduled. Takes
/// any executor, so the admin can commit it together with its audit row.
pub async fn resend_giving_up_of_shop(
    ex: impl sqlx::MySqlExecutor<'_>,
    shop_id: u64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE orders SET notify_status = 'pending', notify_attempts = 0,
            notify_next_at = NOW(3), notify_reason = NULL
         WHERE shop_id = ? AND notify_status = 'giving_up' AND status IN ('succeeded', 'failed')",
    )
    .bind(shop_id)
    .execute(ex)
    .await?
    .rows_affected())
}

/// How many orders of a shop have a `giving_up` callback (what [`resend_giving_up_of_shop`]
/// would reschedule).
pub async fn count_giving_up_of_shop(
    ex: impl sqlx::MySqlExecutor<'_>,
    shop_id: u64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders
         WHERE notify_status = 'giving_up' AND shop_id = ? AND status IN ('succeeded', 'failed')",
    )
    .bind(shop_id)
    .fetch_one(ex)
    .await
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
    pub outcome: AttemptOutcome,
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
