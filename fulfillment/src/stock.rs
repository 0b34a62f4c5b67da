//! Stock over time: orders waiting for cards resume when cards arrive (oldest first) or fail at
//! their deadline; low stock raises one edge-triggered alert per dip below the threshold.

use std::sync::Arc;
use std::time::Duration;

use common::db::products::ProductRow;
use common::domain::{FailureReason, OrderStatus, Platform};
use tokio_util::sync::CancellationToken;

use crate::Fulfiller;
use crate::outcome::{ACTOR, Outcome};
use crate::process::fulfil;

/// Every `every`: fail waiting orders past their deadline, then serve waiting orders of each
/// product in arrival order while cards last.
pub async fn run_waiter(ctx: Arc<Fulfiller>, every: Duration, stop: CancellationToken) {
    loop {
        if let Err(e) = expire_waiting(&ctx).await {
            tracing::warn!(error = %format!("{e:#}"), "expiring waiting orders failed");
        }
        if let Err(e) = resume_waiting(&ctx).await {
            tracing::warn!(error = %format!("{e:#}"), "resuming waiting orders failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Fails (库存不足) every waiting order whose deadline has passed.
pub async fn expire_waiting(ctx: &Fulfiller) -> anyhow::Result<usize> {
    let due: Vec<(u64, Platform)> = sqlx::query_as(
        "SELECT id, platform FROM orders WHERE status = 'awaiting_stock' AND stock_deadline_at <= NOW(3)
         ORDER BY id LIMIT 500",
    )
    .fetch_all(&ctx.db)
    .await?;
    let mut failed = 0;
    for (id, platform) in due {
        let mut tx = ctx.db.begin().await?;
        let still_waiting: Option<(OrderStatus, Option<chrono::NaiveDateTime>)> =
            sqlx::query_as("SELECT status, stock_deadline_at FROM orders WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let due_now = matches!(&still_waiting, Some((OrderStatus::AwaitingStock, Some(deadline))) if *deadline <= chrono::Utc::now().naive_utc());
        if due_now {
            let reason = FailureReason::OutOfStock;
            // No span of its own per order: the order keeps its stored trace context.
            let end = common::db::orders::Ending {
                order_id: id,
                platform,
                traceparent: None,
            };
            common::db::orders::finish_failed(
                &mut tx,
                end,
                OrderStatus::AwaitingStock,
                reason,
                reason.label_zh(),
                ACTOR,
            )
            .await?;
            failed += 1;
        }
        tx.commit().await?;
    }
    if failed > 0 {
        ctx.outbox.notify();
        tracing::info!(failed, "waiting orders failed at their deadline");
    }
    Ok(failed)
}

/// Serves waiting orders, oldest first per product, stopping at the first that cannot be filled.
pub async fn resume_waiting(ctx: &Fulfiller) -> anyhow::Result<usize> {
    let products: Vec<u64> = sqlx::query_scalar(
        "SELECT DISTINCT product_id FROM orders WHERE status = 'awaiting_stock' AND product_id IS NOT NULL",
    )
    .fetch_all(&ctx.db)
    .await?;
    let mut served = 0;
    for product_id in products {
        // One resumer per product across all processes keeps the arrival order.
        let mut guard = ctx.db.acquire().await?;
        let lock = format!("vg_stock_{product_id}");
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
            .bind(&lock)
            .fetch_one(&mut *guard)
            .await?;
        if got != Some(1) {
            continue;
        }
        let result = async {
            let waiting: Vec<u64> = sqlx::query_scalar(
                "SELECT id FROM orders WHERE product_id = ? AND status = 'awaiting_stock' ORDER BY id LIMIT 200",
            )
            .bind(product_id)
            .fetch_all(&ctx.db)
            .await?;
            let mut n = 0;
            for id in waiting {
                match fulfil(ctx, id).await? {
                    Outcome::Succeeded => n += 1,
                    Outcome::AwaitingStock => break,
                    _ => {}
                }
            }
            anyhow::Ok(n)
        }
        .await;
        let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&lock)
            .execute(&mut *guard)
            .await;
        served += result?;
    }
    if served > 0 {
        tracing::info!(served, "waiting orders served from new stock");
    }
    Ok(served)
}

/// Low-stock alerts: a row in `stock_alerts` (shown in the admin) and, when configured, a
/// DingTalk / WeCom robot message.
pub struct Alerts {
    webhook: Option<String>,
    http: reqwest::Client,
}

impl Alerts {
    pub fn new(webhook: Option<String>) -> Self {
        Self {
            webhook,
            http: common::http_client::builder(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn post(&self, text: &str) {
        let Some(url) = &self.webhook else { return };
        // Both DingTalk and WeCom robots accept this text message shape.
        let body = serde_json::json!({"msgtype": "text", "text": {"content": text}});
        match self.http.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(
                status = r.status().as_u16(),
                "alert webhook refused the message"
            ),
            Err(e) => tracing::warn!(error = %e, "alert webhook unreachable"),
        }
    }
}

/// Products to check for low stock, filled by fulfilments and drained by [`run_low_stock`]: the
/// check runs once per product per interval instead of once per order.
#[derive(Default)]
pub struct LowStockQueue(std::sync::Mutex<std::collections::HashSet<u64>>);

impl LowStockQueue {
    pub fn mark(&self, product_id: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(product_id);
    }

    fn take(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect()
    }
}

/// Every `every`, checks the products that sold cards since the last round.
pub async fn run_low_stock(ctx: Arc<Fulfiller>, every: Duration, stop: CancellationToken) {
    loop {
        for id in ctx.low_stock.take() {
            match common::db::products::get(&ctx.db, id).await {
                Ok(Some(p)) => check_low_stock(&ctx, &p).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(product_id = id, error = %e, "low-stock check failed"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// If the product fell below its threshold and has not alerted since it last recovered, record
/// one alert; if it is back above, re-arm the alert. The alert reports the available count at
/// the time of the check: after the order, or the group of orders fulfilled together, that took
/// stock below the threshold (checks run every interval, not per order), so a group that crosses
/// the threshold in one step reports the count after the whole group.
pub async fn check_low_stock(ctx: &Fulfiller, product: &ProductRow) {
    let Some(threshold) = product.low_stock_threshold.filter(|t| *t > 0) else {
        return;
    };
    if let Err(e) = low_stock_edge(ctx, product, threshold).await {
        tracing::warn!(product_id = product.id, error = %e, "low-stock check failed");
    }
}

async fn low_stock_edge(
    ctx: &Fulfiller,
    product: &ProductRow,
    threshold: i32,
) -> anyhow::Result<()> {
    let available =
        common::db::cards::available_at_least(&ctx.db, product.id, i64::from(threshold)).await?;
    if available >= i64::from(threshold) {
        sqlx::query(
            "UPDATE products SET low_stock_alerted = 0 WHERE id = ? AND low_stock_alerted = 1",
        )
        .bind(product.id)
        .execute(&ctx.db)
        .await?;
        return Ok(());
    }
    let mut tx = ctx.db.begin().await?;
    let armed = sqlx::query(
        "UPDATE products SET low_stock_alerted = 1 WHERE id = ? AND low_stock_alerted = 0",
    )
    .bind(product.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if armed {
        sqlx::query("INSERT INTO stock_alerts (product_id, available, threshold) VALUES (?, ?, ?)")
            .bind(product.id)
            .bind(available)
            .bind(threshold)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if armed {
        tracing::warn!(product_id = product.id, available, threshold, "stock.low");
        ctx.alerts
            .post(&format!("【库存预警】商品「{}」可用卡密仅剩 {available} 张（阈值 {threshold}），请及时补货。", product.name))
            .await;
    }
    Ok(())
}
