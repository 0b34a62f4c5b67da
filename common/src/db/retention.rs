//! Pruning of old rows by the retention settings ([`Retention`]), run periodically by ONE
//! service: the admin, the operator's own process (gateway, fulfillment and notifier stay on their
//! hot paths). Several admin replicas take turns on a named lock, and every delete re-checks its
//! condition, so a second run at the same time would only find nothing left to delete.
//!
//! Every delete takes at most [`BATCH`] rows (a few hundred orders) per statement and loops, so no
//! statement holds its locks for long. Decisions per table:
//!
//! * `orders` with `order_events`, `callback_attempts` and `supplier_orders`: only when
//!   `RETENTION_ORDER_DAYS` is set (at least 180: JD may query an order that long), only finished
//!   orders (final status, callback delivered / given up / not required and not scheduled, no
//!   supplier order still open). The order's `cards` rows are KEPT: their unique fingerprint is
//!   what refuses a sold card imported again, so deleting them would let a card be sold twice.
//! * `callback_attempts`: the call log of an order, also evidence in a dispute with JD. Deleted
//!   after `RETENTION_LOG_DAYS`, but never before 180 days, and only when their order is finished
//!   and itself older than 180 days (attempts without an order follow the same age).
//! * `agiso_orders`: the Agiso side of an order, deleted with it.
//! * `agiso_events`: Agiso's messages as received, `RETENTION_LOG_DAYS` (one still waiting for
//!   its detail is kept).
//! * `stock_alerts`: pure log (the dashboard shows recent ones): `RETENTION_LOG_DAYS`.
//! * `dead_letters`: only the handled ones (replayed / discarded), `RETENTION_LOG_DAYS` after they
//!   were handled; a pending dead letter waits for an operator, however old.
//! * `sessions`: once expired they can never be used again: deleted at once.
//! * `login_rate`: a window older than an hour no longer counts: deleted.
//! * `card_import_drafts` (parts cascade): a day after expiry (a draft is only committed before).
//! * `service_heartbeats`: instances silent for 7 days (crashed, never cleaned up); the dashboard
//!   shows a silent instance as down well before that.
//! * `outbox`: nothing to do, rows are deleted once published.
//! * `audit_log`: kept. It is the audit trail of every operator and CLI action (who changed a
//!   shop's keys, who resent an order); it is small, and who may shorten it is the owner's call.
//! * `card_batches`, `settings`, shops, products, users, suppliers: not log rows.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Pool, placeholders};
pub use crate::config::Retention;
use crate::domain::{NotifyStatus, OrderStatus};

/// Rows per delete statement (orders: [`ORDER_BATCH`] orders with their rows).
pub const BATCH: usize = 1000;
/// Orders per batch: each brings its events and attempts (a few dozen rows).
pub const ORDER_BATCH: usize = 200;
/// Import drafts per batch: each cascades to its parts (about 1 MB each).
const DRAFT_BATCH: usize = 20;
const HEARTBEAT_STALE_DAYS: u32 = 7;

/// The named lock one pruning instance holds, per database: the database name is hashed, as
/// MySQL refuses lock names longer than 64 characters.
pub const LOCK_NAME: &str = "CONCAT('vg_retention_', SHA1(DATABASE()))";

static PRUNED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    crate::metrics::counter_vec(
        "retention_pruned_rows_total",
        "Rows deleted by the retention task, by table",
        &["table"],
    )
});

/// Rows deleted per table by one run (tables with none left out).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned(pub Vec<(&'static str, u64)>);

impl Pruned {
    pub fn get(&self, table: &str) -> u64 {
        self.0
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }

    fn add(&mut self, table: &'static str, n: u64) {
        if n > 0 {
            PRUNED.with_label_values(&[table]).inc_by(n);
            self.0.push((table, n));
        }
    }
}

/// `'a', 'b'` of the given values (our own enum strings, never user input).
fn quoted(values: impl Iterator<Item = &'static str>) -> String {
    values
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The condition on `orders` alias `o` that the order is finished for good: final status, its
/// callback settled and not scheduled, no supplier order still open. An order matching it never
/// changes again by itself.
fn order_finished() -> String {
    let final_status = quoted(
        OrderStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(OrderStatus::as_str),
    );
    let settled = quoted(
        NotifyStatus::ALL
            .into_iter()
            .filter(|s| *s != NotifyStatus::Pending)
            .map(NotifyStatus::as_str),
    );
    format!(
        "o.status IN ({final_status}) AND o.notify_status IN ({settled}) \
         AND o.notify_next_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM supplier_orders so WHERE so.order_id = o.id \
             AND so.status NOT IN ('succeeded', 'failed'))"
    )
}

/// Deletes `sql` (a single-table `DELETE ... LIMIT n`) until fewer than `n` rows go.
async fn delete_loop(
    pool: &Pool,
    sql: &str,
    days: Option<u32>,
    n: usize,
    stop: &CancellationToken,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} LIMIT {n}")));
        if let Some(d) = days {
            q = q.bind(d);
        }
        let done = q.execute(pool).await?.rows_affected();
        total += done;
        if (done as usize) < n || stop.is_cancelled() {
            return Ok(total);
        }
    }
}

/// Deletes by id the rows `select` finds (ids, at most [`BATCH`]), until it finds fewer.
async fn delete_selected(
    pool: &Pool,
    table: &str,
    select: &str,
    binds: &[u32],
    stop: &CancellationToken,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut q =
            sqlx::query_scalar::<_, u64>(sqlx::AssertSqlSafe(format!("{select} LIMIT {BATCH}")));
        for b in binds {
            q = q.bind(*b);
        }
        let ids = q.fetch_all(pool).await?;
        if !ids.is_empty() {
            let mut d = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE id IN ({})",
                placeholders(ids.len())
            )));
            for id in &ids {
                d = d.bind(id);
            }
            total += d.execute(pool).await?.rows_affected();
        }
        if ids.len() < BATCH || stop.is_cancelled() {
            return Ok(total);
        }
    }
}

/// Finished orders older than `days`, with their events, callback attempts and supplier orders,
/// [`ORDER_BATCH`] orders per transaction. The orders are locked and checked again inside it, so
/// one changed meanwhile (an operator's resend) stays.
async fn prune_orders(pool: &Pool, days: u32, stop: &CancellationToken) -> sqlx::Result<[u64; 5]> {
    let finished = order_finished();
    let mut counts = [0u64; 5];
    loop {
        let ids: Vec<u64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT o.id FROM orders o
             WHERE o.created_at < NOW(3) - INTERVAL ? DAY AND {finished}
             ORDER BY o.created_at, o.id LIMIT {ORDER_BATCH}"
        )))
        .bind(days)
        .fetch_all(pool)
        .await?;
        if ids.is_empty() {
            return Ok(counts);
        }
        let mut tx = pool.begin().await?;
        let mut lock = sqlx::query_scalar::<_, u64>(sqlx::AssertSqlSafe(format!(
            "SELECT o.id FROM orders o
             WHERE o.id IN ({}) AND o.created_at < NOW(3) - INTERVAL ? DAY AND {finished}
             FOR UPDATE",
            placeholders(ids.len())
        )));
        for id in &ids {
            lock = lock.bind(id);
        }
        let locked = lock.bind(days).fetch_all(&mut *tx).await?;
        if !locked.is_empty() {
            let list = placeholders(locked.len());
            for (i, sql) in [
                format!("DELETE FROM order_events WHERE order_id IN ({list})"),
                format!("DELETE FROM callback_attempts WHERE order_id IN ({list})"),
                format!("DELETE FROM supplier_orders WHERE order_id IN ({list})"),
                format!("DELETE FROM agiso_orders WHERE order_id IN ({list})"),
                format!("DELETE FROM orders WHERE id IN ({list})"),
            ]
            .into_iter()
            .enumerate()
            {
                let mut d = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in &locked {
                    d = d.bind(id);
                }
                counts[i] += d.execute(&mut *tx).await?.rows_affected();
            }
        }
        tx.commit().await?;
        if ids.len() < ORDER_BATCH || stop.is_cancelled() {
            return Ok(counts);
        }
    }
}

/// One pass over every table (see the module doc). Safe to run concurrently with itself and with
/// the services.
pub async fn prune(pool: &Pool, r: &Retention, stop: &CancellationToken) -> sqlx::Result<Pruned> {
    let mut out = Pruned::default();
    if r.order_days != 0 {
        let days = r.order_days.max(Retention::ORDER_FLOOR_DAYS);
        let [events, attempts, supplier, agiso, orders] = prune_orders(pool, days, stop).await?;
        out.add("orders", orders);
        out.add("agiso_orders", agiso);
        out.add("order_events", events);
        out.add("callback_attempts", attempts);
        out.add("supplier_orders", supplier);
    }
    if r.log_days != 0 {
        let attempt_days = r.log_days.max(Retention::ORDER_FLOOR_DAYS);
        let n = delete_selected(
            pool,
            "callback_attempts",
            &format!(
                "SELECT a.id FROM callback_attempts a LEFT JOIN orders o ON o.id = a.order_id
                 WHERE a.created_at < NOW(3) - INTERVAL ? DAY
                   AND (o.id IS NULL
                        OR (o.created_at < NOW(3) - INTERVAL ? DAY AND {}))
                 ORDER BY a.created_at, a.id",
                order_finished()
            ),
            &[attempt_days, Retention::ORDER_FLOOR_DAYS],
            stop,
        )
        .await?;
        out.add("callback_attempts", n);
        let n = delete_loop(
            pool,
            "DELETE FROM stock_alerts WHERE created_at < NOW(3) - INTERVAL ? DAY ORDER BY id",
            Some(r.log_days),
            BATCH,
            stop,
        )
        .await?;
        out.add("stock_alerts", n);
        let n = delete_loop(
            pool,
            "DELETE FROM agiso_events WHERE state <> 'pending'
               AND received_at < NOW(3) - INTERVAL ? DAY ORDER BY id",
            Some(r.log_days),
            BATCH,
            stop,
        )
        .await?;
        out.add("agiso_events", n);
        let n = delete_loop(
            pool,
            "DELETE FROM dead_letters WHERE status IN ('replayed', 'discarded')
               AND COALESCE(handled_at, created_at) < NOW(3) - INTERVAL ? DAY",
            Some(r.log_days),
            BATCH,
            stop,
        )
        .await?;
        out.add("dead_letters", n);
    }
    let n = delete_loop(
        pool,
        "DELETE FROM sessions WHERE expires_at < NOW(3)",
        None,
        BATCH,
        stop,
    )
    .await?;
    out.add("sessions", n);
    let n = delete_loop(
        pool,
        "DELETE FROM login_rate WHERE window_start < NOW(3) - INTERVAL 1 HOUR",
        None,
        BATCH,
        stop,
    )
    .await?;
    out.add("login_rate", n);
    let n = delete_loop(
        pool,
        "DELETE FROM card_import_drafts WHERE expires_at < NOW(3) - INTERVAL 1 DAY",
        None,
        DRAFT_BATCH,
        stop,
    )
    .await?;
    out.add("card_import_drafts", n);
    let n = delete_loop(
        pool,
        "DELETE FROM service_heartbeats WHERE last_seen_at < NOW(3) - INTERVAL ? DAY",
        Some(HEARTBEAT_STALE_DAYS),
        BATCH,
        stop,
    )
    .await?;
    out.add("service_heartbeats", n);
    Ok(out)
}

/// [`prune`] under a named lock held by at most one instance: false when another one holds it.
pub async fn prune_once(
    pool: &Pool,
    r: &Retention,
    stop: &CancellationToken,
) -> sqlx::Result<Option<Pruned>> {
    let mut conn = pool.acquire().await?;
    let got: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT GET_LOCK({LOCK_NAME}, 0)"
    )))
    .fetch_one(&mut *conn)
    .await?;
    if got != Some(1) {
        return Ok(None);
    }
    let result = prune(pool, r, stop).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT RELEASE_LOCK({LOCK_NAME})"
    )))
    .execute(&mut *conn)
    .await;
    result.map(Some)
}

/// Prunes at start and then every `every` until stopped, logging what went.
pub async fn run(pool: Pool, r: Retention, every: Duration, stop: CancellationToken) {
    std::sync::LazyLock::force(&PRUNED);
    loop {
        match prune_once(&pool, &r, &stop).await {
            Ok(Some(p)) => {
                for (table, rows) in &p.0 {
                    tracing::info!(
                        table,
                        rows,
                        log_days = r.log_days,
                        order_days = r.order_days,
                        "按保留期限清理了过期数据"
                    );
                }
            }
            Ok(None) => tracing::debug!("retention: another instance is pruning"),
            Err(e) => tracing::warn!(error = %e, "清理过期数据失败，将在下一轮重试"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
