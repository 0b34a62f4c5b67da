//! Direct charge through upstream suppliers (`direct_supplier` products), over the one generic
//! HTTP protocol of docs/SUPPLIER_PROTOCOL.md.
//!
//! Durable schedule: one `supplier_orders` row per (order, supplier), created inside the
//! fulfilment transaction that moves the order to `processing`. The [`poller`] claims due rows
//! with `FOR UPDATE SKIP LOCKED` (any number of processes), makes the HTTP call outside every
//! transaction, and records the answer with [`apply`] in a transaction that locks the order
//! row and re-checks both statuses. Row states:
//!
//! - `pending`: not submitted yet. Claiming it turns it into `submitted` *before* the HTTP call,
//!   so a crash between submit and recording leads to a status query, never a blind resubmit.
//! - `submitted`: the supplier may have the order; it is polled with backoff (`next_poll_at`,
//!   `poll_count`) until a final answer or `deadline_at`.
//! - `succeeded` / `failed`: final. A failure moves on to the next supplier by priority.
//! - `unknown`: the deadline passed without a final answer; the order went to
//!   `awaiting_manual`. A later signed callback still settles it.
//!
//! Submissions are idempotent on our order number at each supplier, and only one row of an
//! order is ever open (the next supplier is tried only after the previous one failed for good).

pub mod callback;
pub mod poller;
pub mod protocol;

use std::time::Duration;

use common::crypto::at_rest::MasterKey;
use common::db::orders::{self, OrderRow};
use common::db::products::ProductRow;
use common::db::suppliers;
use common::domain::{FailureReason, OrderStatus, SupplierOrderStatus};

use crate::Fulfiller;
use crate::outcome::{ACTOR, Outcome};
use protocol::Report;

/// The path suppliers post their callbacks to.
pub const CALLBACK_PATH: &str = "/api/supplier/callback";
/// Polling backoff never waits longer than this (unless the minimum is configured above it).
const POLL_MAX: Duration = Duration::from_secs(60);
/// Stored answers (`supplier_orders.last_response`, `callback_attempts.response_body`) are cut
/// to this many characters.
const BODY_MAX_CHARS: usize = 2000;

/// Settings and shared state of the supplier adapter.
pub struct Suppliers {
    /// Overall time an order may spend with suppliers before it goes to `awaiting_manual`.
    pub deadline: Duration,
    /// First polling delay; doubles per poll up to 60 s.
    pub poll_min: Duration,
    /// Where suppliers post callbacks (`<public url>/api/supplier/callback`); none = no
    /// callbacks, polling only.
    pub callback_url: Option<String>,
    pub master_key: MasterKey,
    pub http: reqwest::Client,
    /// Wakes the poller when a new row is due.
    pub wake: tokio::sync::Notify,
    /// Submits in flight at once: each holds the order's row lock, and so a pooled connection,
    /// for up to the supplier's timeout.
    pub submit_slots: tokio::sync::Semaphore,
}

impl Suppliers {
    pub fn new(
        deadline: Duration,
        poll_min: Duration,
        public_url: Option<&str>,
        master_key: MasterKey,
        db_connections: u32,
    ) -> Suppliers {
        Suppliers {
            deadline,
            poll_min,
            callback_url: public_url.map(|u| format!("{}{CALLBACK_PATH}", u.trim_end_matches('/'))),
            master_key,
            // Each call sets its supplier's own timeout (at most MAX_TIMEOUT).
            http: common::http_client::builder(common::db::suppliers::MAX_TIMEOUT)
                .build()
                .unwrap_or_default(),
            wake: tokio::sync::Notify::new(),
            submit_slots: tokio::sync::Semaphore::new((db_connections as usize / 3).max(1)),
        }
    }

    /// The wait before poll number `poll_count + 1`: `poll_min × 2^poll_count`, capped at 60 s.
    pub fn backoff(&self, poll_count: i32) -> Duration {
        let failures = u32::try_from(poll_count).unwrap_or(0).saturating_add(1);
        common::retry::Backoff::doubling(self.poll_min, POLL_MAX)
            .delay(failures)
            .unwrap_or(POLL_MAX)
    }
}

/// Starts direct charge for an order the fulfilment transaction `tx` has locked: records the
/// first supplier's `supplier_orders` row and moves the order to `processing`. The HTTP submit
/// happens in the poller after `tx` commits. Without an enabled supplier the order waits for an
/// operator, as does an order already in `awaiting_manual` (an operator may be recharging it by
/// hand, so nothing is submitted behind their back).
pub async fn start(
    ctx: &Fulfiller,
    tx: &mut common::db::Tx,
    order: &OrderRow,
    status: OrderStatus,
    product: &ProductRow,
) -> anyhow::Result<Outcome> {
    if !matches!(status, OrderStatus::Received | OrderStatus::AwaitingStock) {
        return Ok(Outcome::AlreadyHandled);
    }
    let Some(first) = next_supplier(tx, product.id, order.id).await? else {
        orders::transition(
            tx,
            order.id,
            status,
            OrderStatus::AwaitingManual,
            ACTOR,
            Some("等待人工充值（未配置可用的供应商）"),
        )
        .await?;
        return Ok(Outcome::AwaitingManual);
    };
    let name = supplier_name(tx, first).await?;
    let deadline_us = ctx.suppliers.deadline.as_micros() as i64;
    sqlx::query(
        "INSERT INTO supplier_orders (order_id, supplier_id, status, next_poll_at, deadline_at)
         VALUES (?, ?, 'pending', NOW(3), NOW(3) + INTERVAL ? MICROSECOND)",
    )
    .bind(order.id)
    .bind(first)
    .bind(deadline_us)
    .execute(&mut **tx)
    .await?;
    orders::transition(
        tx,
        order.id,
        status,
        OrderStatus::Processing,
        ACTOR,
        Some(&format!("提交供应商「{name}」充值")),
    )
    .await?;
    ctx.suppliers.wake.notify_one();
    // The order is now with the supplier; the poller completes it.
    Ok(Outcome::AlreadyHandled)
}

/// The next enabled supplier of the product (ascending priority) this order has not been
/// submitted to yet.
async fn next_supplier(
    tx: &mut common::db::Tx,
    product_id: u64,
    order_id: u64,
) -> sqlx::Result<Option<u64>> {
    sqlx::query_scalar(
        "SELECT ps.supplier_id FROM product_suppliers ps JOIN suppliers s ON s.id = ps.supplier_id
         WHERE ps.product_id = ? AND s.enabled = 1
           AND NOT EXISTS (SELECT 1 FROM supplier_orders so
                           WHERE so.order_id = ? AND so.supplier_id = ps.supplier_id)
         ORDER BY ps.priority, ps.supplier_id LIMIT 1",
    )
    .bind(product_id)
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await
}

async fn supplier_name(tx: &mut common::db::Tx, id: u64) -> sqlx::Result<String> {
    Ok(suppliers::get(&mut **tx, id)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| format!("#{id}")))
}

/// Who reported a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The poller's own submit / query: a non-final answer schedules the next poll, or hands the
    /// order to an operator once the deadline has passed.
    Poll,
    /// The supplier's callback: only final answers change anything.
    Callback,
}

/// What recording an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The row was already final (a repeated answer): nothing changed.
    Repeated,
    Succeeded,
    /// The supplier failed; the next supplier was queued.
    FailedOver,
    Failed,
    /// The deadline passed: the order went to `awaiting_manual`.
    TimedOut,
    /// Not final yet: polled again later.
    Pending,
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    supplier_id: u64,
    status: SupplierOrderStatus,
    poll_count: i32,
    past_deadline: i64,
}

fn cut(s: &str) -> String {
    s.chars().take(BODY_MAX_CHARS).collect()
}

/// Records a supplier's answer about `supplier_orders` row `so_id`, in one transaction that
/// locks the order first and then the row, and acts only on what is still open.
pub async fn apply(
    ctx: &Fulfiller,
    so_id: u64,
    report: &Report,
    raw: Option<&str>,
    source: Source,
) -> anyhow::Result<Applied> {
    let mut tx = ctx.db.begin().await?;
    let applied = apply_in(ctx, &mut tx, so_id, report, raw, source).await?;
    tx.commit().await?;
    applied_committed(ctx, applied);
    Ok(applied)
}

/// Wakes whoever acts on what [`apply_in`] committed: the outbox relay for a final order, the
/// poller for a supplier queued next.
pub(crate) fn applied_committed(ctx: &Fulfiller, applied: Applied) {
    if matches!(applied, Applied::Succeeded | Applied::Failed) {
        ctx.outbox.notify();
    }
    if applied == Applied::FailedOver {
        ctx.suppliers.wake.notify_one();
    }
}

/// [`apply`] inside the caller's transaction `tx` (which may already hold the order's lock);
/// the caller commits and then calls [`applied_committed`].
pub(crate) async fn apply_in(
    ctx: &Fulfiller,
    tx: &mut common::db::Tx,
    so_id: u64,
    report: &Report,
    raw: Option<&str>,
    source: Source,
) -> anyhow::Result<Applied> {
    let order_id: Option<u64> =
        sqlx::query_scalar("SELECT order_id FROM supplier_orders WHERE id = ?")
            .bind(so_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(order_id) = order_id else {
        anyhow::bail!("supplier order {so_id} does not exist");
    };
    let Some(order) = orders::lock(tx, order_id).await? else {
        anyhow::bail!("order {order_id} does not exist");
    };
    let row: LockedRow = sqlx::query_as(
        "SELECT supplier_id, status, poll_count,
                CAST(deadline_at IS NOT NULL AND deadline_at <= NOW(3) AS SIGNED) AS past_deadline
         FROM supplier_orders WHERE id = ? FOR UPDATE",
    )
    .bind(so_id)
    .fetch_one(&mut **tx)
    .await?;
    if row.status.is_final() {
        return Ok(Applied::Repeated);
    }
    let status = order.status;
    let name = supplier_name(tx, row.supplier_id).await?;
    let raw = raw.map(cut);
    let set_row = |st: SupplierOrderStatus, next_poll: bool| {
        // next_poll: keep the schedule column as the caller sets it below; else clear it.
        let sql = if next_poll {
            "UPDATE supplier_orders SET status = ?, supplier_order_no = COALESCE(?, supplier_order_no),
                last_response = COALESCE(?, last_response) WHERE id = ?"
        } else {
            "UPDATE supplier_orders SET status = ?, supplier_order_no = COALESCE(?, supplier_order_no),
                last_response = COALESCE(?, last_response), next_poll_at = NULL WHERE id = ?"
        };
        sqlx::query(sql)
            .bind(st)
            .bind(report.supplier_order_no().map(str::to_owned))
            .bind(raw.clone())
            .bind(so_id)
    };
    let applied = match report {
        Report::Success { supplier_order_no } => {
            set_row(SupplierOrderStatus::Succeeded, false)
                .execute(&mut **tx)
                .await?;
            let no = supplier_order_no.as_deref().unwrap_or("-");
            match status {
                OrderStatus::Processing | OrderStatus::AwaitingManual => {
                    let note = format!("供应商「{name}」充值成功（供应商单号 {no}）");
                    orders::finish_succeeded(
                        tx,
                        orders::Ending::of(&order),
                        status,
                        ACTOR,
                        Some(&note),
                    )
                    .await?;
                }
                other => tracing::error!(
                    order_id = order.id,
                    supplier_id = row.supplier_id,
                    status = other.as_str(),
                    "supplier reports success for an order that is no longer open; check it by hand"
                ),
            }
            Applied::Succeeded
        }
        Report::Failed { failure, reason } => {
            set_row(SupplierOrderStatus::Failed, false)
                .execute(&mut **tx)
                .await?;
            let why = match reason {
                Some(r) => format!("{}：{r}", protocol::failure_label_zh(failure)),
                None => protocol::failure_label_zh(failure).to_owned(),
            };
            match status {
                OrderStatus::Processing => {
                    fail_over(
                        tx,
                        &order,
                        so_id,
                        &name,
                        &why,
                        failure,
                        row.past_deadline != 0,
                    )
                    .await?
                }
                OrderStatus::AwaitingManual => {
                    let note = format!("供应商「{name}」回报充值失败（{why}），订单仍待人工处理");
                    orders::record_event(tx, order.id, Some(status), status, ACTOR, Some(&note))
                        .await?;
                    Applied::Failed
                }
                _ => Applied::Failed,
            }
        }
        Report::Pending { .. } | Report::NotFound | Report::Unknown(_) => {
            if source == Source::Callback {
                set_row(row.status_to_keep(), true)
                    .execute(&mut **tx)
                    .await?;
                Applied::Pending
            } else if status != OrderStatus::Processing {
                // Someone else settled the order: stop polling.
                set_row(SupplierOrderStatus::Unknown, false)
                    .execute(&mut **tx)
                    .await?;
                Applied::Pending
            } else if row.past_deadline != 0 {
                set_row(SupplierOrderStatus::Unknown, false)
                    .execute(&mut **tx)
                    .await?;
                let note = format!(
                    "供应商「{name}」在 {} 秒内未返回最终结果，转人工处理：请先在供应商后台核实订单 {} 的状态，避免重复充值",
                    ctx.suppliers.deadline.as_secs(),
                    order.order_no
                );
                orders::transition(
                    tx,
                    order.id,
                    status,
                    OrderStatus::AwaitingManual,
                    ACTOR,
                    Some(&note),
                )
                .await?;
                Applied::TimedOut
            } else {
                set_row(SupplierOrderStatus::Submitted, true)
                    .execute(&mut **tx)
                    .await?;
                let wait = ctx.suppliers.backoff(row.poll_count);
                sqlx::query(
                    "UPDATE supplier_orders SET poll_count = poll_count + 1,
                        next_poll_at = LEAST(NOW(3) + INTERVAL ? MICROSECOND,
                                             COALESCE(deadline_at, '9999-12-31'))
                     WHERE id = ?",
                )
                .bind(wait.as_micros() as i64)
                .bind(so_id)
                .execute(&mut **tx)
                .await?;
                Applied::Pending
            }
        }
    };
    Ok(applied)
}

impl LockedRow {
    /// The status a non-final answer leaves the row in.
    fn status_to_keep(&self) -> SupplierOrderStatus {
        match self.status {
            SupplierOrderStatus::Pending | SupplierOrderStatus::Unknown => self.status,
            _ => SupplierOrderStatus::Submitted,
        }
    }
}

/// After a definite failure: queue the next supplier, or fail the order when none is left, or
/// hand it to an operator when the deadline has passed.
#[allow(clippy::too_many_arguments)]
async fn fail_over(
    tx: &mut common::db::Tx,
    order: &OrderRow,
    so_id: u64,
    name: &str,
    why: &str,
    failure: &str,
    past_deadline: bool,
) -> anyhow::Result<Applied> {
    let next = match order.product_id {
        Some(p) => next_supplier(tx, p, order.id).await?,
        None => None,
    };
    match next {
        Some(next) if !past_deadline => {
            sqlx::query(
                "INSERT INTO supplier_orders (order_id, supplier_id, status, next_poll_at, deadline_at)
                 SELECT order_id, ?, 'pending', NOW(3), deadline_at FROM supplier_orders WHERE id = ?",
            )
            .bind(next)
            .bind(so_id)
            .execute(&mut **tx)
            .await?;
            let next_name = supplier_name(tx, next).await?;
            let note = format!("供应商「{name}」充值失败（{why}），改由供应商「{next_name}」充值");
            orders::record_event(
                tx,
                order.id,
                Some(OrderStatus::Processing),
                OrderStatus::Processing,
                ACTOR,
                Some(&note),
            )
            .await?;
            Ok(Applied::FailedOver)
        }
        Some(_) => {
            let note =
                format!("供应商「{name}」充值失败（{why}），且已超过供应商处理时限，转人工处理");
            orders::transition(
                tx,
                order.id,
                OrderStatus::Processing,
                OrderStatus::AwaitingManual,
                ACTOR,
                Some(&note),
            )
            .await?;
            Ok(Applied::TimedOut)
        }
        None => {
            let reason = if failure == protocol::INSUFFICIENT_BALANCE {
                FailureReason::SupplierBalance
            } else {
                FailureReason::UpstreamFailed
            };
            orders::finish_failed(
                tx,
                orders::Ending::of(order),
                OrderStatus::Processing,
                reason,
                reason.label_zh(),
                ACTOR,
            )
            .await?;
            Ok(Applied::Failed)
        }
    }
}
