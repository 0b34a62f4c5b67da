//! The supplier poller: claims due `supplier_orders` rows (`FOR UPDATE SKIP LOCKED`, so any
//! number of fulfillment processes share the work), calls the supplier outside every
//! transaction, logs the call in `callback_attempts`, and records the answer with
//! [`super::apply`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::db::suppliers::{self, SupplierRow};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use common::db::Tx;
use common::domain::{AttemptOutcome, OrderStatus, SupplierOrderStatus};

use super::protocol::{self, Report};
use super::{Source, applied_committed, apply, apply_in, cut};
use crate::Fulfiller;

/// Rows claimed per round.
const BATCH: usize = 32;
/// A claimed row is left alone by other pollers for this long beyond the supplier's timeout;
/// if its process died, another one picks it up afterwards (with a status query).
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// A claimed row, as it was before the claim.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: u64,
    order_id: u64,
    supplier_id: u64,
    status: SupplierOrderStatus,
    past_deadline: i64,
}

/// Runs until `stop`: every round claims the due rows and works them concurrently.
pub async fn run(ctx: Arc<Fulfiller>, stop: CancellationToken) {
    let idle =
        (ctx.suppliers.poll_min / 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        let full = match round(&ctx).await {
            Ok(n) => n == BATCH,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "supplier poll round failed");
                false
            }
        };
        if full {
            if stop.is_cancelled() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ctx.suppliers.wake.notified() => {
                // Woken from inside a transaction that is about to commit.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _ = tokio::time::sleep(idle) => {}
        }
    }
}

/// One round: claim, call, record. Returns how many rows were claimed.
pub async fn round(ctx: &Arc<Fulfiller>) -> anyhow::Result<usize> {
    let claimed = claim(ctx).await?;
    let n = claimed.len();
    let mut work = tokio::task::JoinSet::new();
    for row in claimed {
        let ctx = ctx.clone();
        work.spawn(async move {
            let id = row.id;
            if let Err(e) = work_row(&ctx, row).await {
                tracing::warn!(supplier_order = id, error = %format!("{e:#}"), "supplier call failed; retried after the lease");
            }
        });
    }
    while work.join_next().await.is_some() {}
    Ok(n)
}

async fn claim(ctx: &Fulfiller) -> anyhow::Result<Vec<Claimed>> {
    let mut tx = ctx.db.begin().await?;
    let rows: Vec<Claimed> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, order_id, supplier_id, status,
                CAST(deadline_at IS NOT NULL AND deadline_at <= NOW(3) AS SIGNED) AS past_deadline
         FROM supplier_orders
         WHERE status IN ('pending', 'submitted') AND next_poll_at <= NOW(3)
         ORDER BY next_poll_at LIMIT {BATCH}
         FOR UPDATE SKIP LOCKED"
    )))
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        let timeout = match suppliers::get(&mut *tx, row.supplier_id).await? {
            Some(s) => s.timeout(),
            None => Duration::ZERO,
        };
        // From here on the supplier may have the order: `submitted`, so that whoever finds
        // this row next asks the supplier before submitting again.
        sqlx::query(
            "UPDATE supplier_orders SET status = 'submitted',
                 next_poll_at = NOW(3) + INTERVAL ? MICROSECOND WHERE id = ?",
        )
        .bind(((timeout * 2) + LEASE_MARGIN).as_micros() as i64)
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(rows)
}

async fn work_row(ctx: &Fulfiller, row: Claimed) -> anyhow::Result<()> {
    let order = common::db::orders::get(&ctx.db, row.order_id).await?;
    let supplier = suppliers::get(&ctx.db, row.supplier_id).await?;
    let (Some(order), Some(supplier)) = (order, supplier) else {
        anyhow::bail!("order or supplier of supplier order {} is gone", row.id);
    };
    let open = order.status == OrderStatus::Processing;
    let past = row.past_deadline != 0;
    let secret = supplier.secret(&ctx.suppliers.master_key)?;
    let call = Call {
        ctx,
        supplier: &supplier,
        secret: &secret,
        order_id: order.id,
    };
    let (report, raw) = if !open {
        (
            Report::Unknown("order is no longer processing".into()),
            None,
        )
    } else if row.status == SupplierOrderStatus::Pending {
        if past {
            (
                Report::Unknown("deadline passed before submission".into()),
                None,
            )
        } else {
            return submit_locked(&call, row.id).await;
        }
    } else {
        let (report, raw, attempt) = call
            .post("query", query_body(&supplier, order.order_no.as_str()))
            .await;
        attempt.record(&ctx.db).await;
        match report {
            Report::NotFound if !past => return submit_locked(&call, row.id).await,
            other => (other, raw),
        }
    };
    let applied = apply(ctx, row.id, &report, raw.as_deref(), Source::Poll).await?;
    tracing::debug!(
        order_id = order.id,
        supplier_id = supplier.id,
        ?report,
        ?applied,
        "supplier answer recorded"
    );
    Ok(())
}

/// Submits the order to the supplier under the order's row lock, and records the answer in the
/// same transaction. The order's status is re-checked under that lock first: an order an
/// operator (or anyone) has settled since it was queued is never sent, and an operator's
/// manual success or failure waits until the submit and its answer are recorded (and then
/// sees the supplier holding the order). If the commit fails after the call, the row stays
/// `submitted` and is queried after its lease, never blindly submitted elsewhere.
async fn submit_locked(call: &Call<'_>, so_id: u64) -> anyhow::Result<()> {
    let ctx = call.ctx;
    // Each submit holds a pooled connection for up to the supplier's timeout: only a few at a
    // time, so the consumers keep connections.
    let _slot = ctx.suppliers.submit_slots.acquire().await?;
    let mut tx = ctx.db.begin().await?;
    let Some(order) = common::db::orders::lock(&mut tx, call.order_id).await? else {
        anyhow::bail!("order {} is gone", call.order_id);
    };
    let applied = if order.status != OrderStatus::Processing {
        tracing::info!(
            order_id = order.id,
            status = order.status.as_str(),
            "order settled before its submit; nothing sent to the supplier"
        );
        let report = Report::Unknown("order is no longer processing".into());
        apply_in(ctx, &mut tx, so_id, &report, None, Source::Poll).await?
    } else {
        let (report, raw, attempt) = submit(call, &order, &mut tx).await?;
        attempt.record(&mut *tx).await;
        apply_in(ctx, &mut tx, so_id, &report, raw.as_deref(), Source::Poll).await?
    };
    tx.commit().await?;
    applied_committed(ctx, applied);
    tracing::debug!(order_id = order.id, ?applied, "supplier submit recorded");
    Ok(())
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn query_body(supplier: &SupplierRow, order_no: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("merchantId".into(), supplier.merchant_id.clone().into());
    m.insert("orderNo".into(), order_no.into());
    m.insert("timestamp".into(), now_secs().into());
    m
}

async fn submit(
    call: &Call<'_>,
    order: &common::db::orders::OrderRow,
    tx: &mut Tx,
) -> anyhow::Result<(Report, Option<String>, Attempt)> {
    let product_id = order.product_id.unwrap_or_default();
    let Some(link) = suppliers::link(&mut **tx, product_id, call.supplier.id).await? else {
        // Unlinked since the row was queued: nothing was sent, so trying the next one is safe.
        return Ok((
            Report::Failed {
                failure: "PRODUCT_UNAVAILABLE".into(),
                reason: Some("商品已不再关联该供应商".into()),
            },
            None,
            Attempt::none(),
        ));
    };
    let face: Option<i64> = sqlx::query_scalar("SELECT face_value_fen FROM products WHERE id = ?")
        .bind(product_id)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    let mut m = Map::new();
    m.insert(
        "merchantId".into(),
        call.supplier.merchant_id.clone().into(),
    );
    m.insert("orderNo".into(), order.order_no.as_str().into());
    m.insert("sku".into(), link.supplier_sku.into());
    m.insert(
        "account".into(),
        order.recharge_account.clone().unwrap_or_default().into(),
    );
    m.insert("quantity".into(), order.quantity.into());
    if let Some(face) = face {
        m.insert("faceValueFen".into(), face.into());
    }
    if let Some(url) = &call.ctx.suppliers.callback_url {
        m.insert("callbackUrl".into(), url.clone().into());
    }
    m.insert("timestamp".into(), now_secs().into());
    Ok(call.post("recharge", m).await)
}

struct Call<'a> {
    ctx: &'a Fulfiller,
    supplier: &'a SupplierRow,
    secret: &'a str,
    order_id: u64,
}

impl Call<'_> {
    /// Signs and posts one message; the caller records the returned [`Attempt`] in
    /// `callback_attempts` (every call is logged).
    async fn post(
        &self,
        path: &str,
        body: Map<String, Value>,
    ) -> (Report, Option<String>, Attempt) {
        let url = format!("{}/{path}", self.supplier.base_url.trim_end_matches('/'));
        let body = match protocol::signed(body, self.secret) {
            Ok(b) => b,
            Err(e) => return (Report::Unknown(e), None, Attempt::none()),
        };
        let request = Value::Object(body).to_string();
        let started = Instant::now();
        let sent = self
            .ctx
            .suppliers
            .http
            .post(&url)
            .timeout(self.supplier.timeout())
            .header("content-type", "application/json")
            .body(request.clone())
            .send()
            .await;
        let (http_status, text, report, error) = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match common::http_client::read_bounded(resp, MAX_ANSWER).await {
                    Ok(body) => {
                        let text = String::from_utf8_lossy(&body).into_owned();
                        let report = if status == 200 {
                            match serde_json::from_str::<Map<String, Value>>(&text) {
                                Ok(m) => Report::from_body(&m),
                                Err(_) => Report::Unknown("answer is not a JSON object".into()),
                            }
                        } else {
                            Report::Unknown(format!("HTTP {status}"))
                        };
                        let error = match &report {
                            Report::Unknown(e) => Some(e.clone()),
                            _ => None,
                        };
                        (Some(status), Some(text), report, error)
                    }
                    Err(e) => {
                        let e = format!("answer not read: {e}");
                        (Some(status), None, Report::Unknown(e.clone()), Some(e))
                    }
                }
            }
            Err(e) => {
                let e = transport_error(&e);
                (None, None, Report::Unknown(e.clone()), Some(e))
            }
        };
        let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        tracing::info!(
            order_id = self.order_id,
            supplier_id = self.supplier.id,
            url,
            http_status,
            duration_ms,
            outcome = report.outcome().as_str(),
            "supplier call"
        );
        let attempt = Attempt(Some(AttemptRow {
            order_id: self.order_id,
            url,
            request,
            http_status,
            response: text.as_deref().map(cut),
            duration_ms,
            outcome: report.outcome(),
            error: error.map(|e| e.chars().take(500).collect()),
        }));
        (report, text, attempt)
    }
}

/// A supplier call to log in `callback_attempts` (none when nothing was sent).
struct Attempt(Option<AttemptRow>);

struct AttemptRow {
    order_id: u64,
    url: String,
    request: String,
    http_status: Option<u16>,
    response: Option<String>,
    duration_ms: i32,
    outcome: AttemptOutcome,
    error: Option<String>,
}

impl Attempt {
    fn none() -> Attempt {
        Attempt(None)
    }

    /// Writes the row; a failure is only logged (the call itself already happened).
    async fn record(&self, ex: impl sqlx::MySqlExecutor<'_>) {
        let Some(a) = &self.0 else { return };
        let logged = sqlx::query(
            "INSERT INTO callback_attempts (order_id, target, attempt_no, url, request_body, http_status,
                 response_body, duration_ms, outcome, error)
             SELECT ?, 'supplier', COALESCE(MAX(attempt_no), 0) + 1, ?, ?, ?, ?, ?, ?, ?
             FROM callback_attempts WHERE order_id = ? AND target = 'supplier'",
        )
        .bind(a.order_id)
        .bind(&a.url)
        .bind(&a.request)
        .bind(a.http_status)
        .bind(&a.response)
        .bind(a.duration_ms)
        .bind(a.outcome)
        .bind(&a.error)
        .bind(a.order_id)
        .execute(ex)
        .await;
        if let Err(e) = logged {
            tracing::warn!(error = %e, "could not log the supplier call");
        }
    }
}

/// The most of a supplier's answer read (a status report is a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        format!("transport error: {e}")
    }
}
