//! The work waiting for people and the services' liveness, as Prometheus gauges on the admin's
//! `/metrics` (alert rules: `deploy/alerts.yml`). They are database state — the same counts the
//! dashboard shows — so one service reads them: every [`EVERY`] (the dashboard's refresh), the
//! first time at start. With several admin instances each exports the same values (alert on
//! `max`).

use std::sync::LazyLock;
use std::time::Duration;

use common::db::Pool;
use prometheus::{IntGauge, IntGaugeVec};
use tokio_util::sync::CancellationToken;

/// How often the gauges are read from the database.
pub const EVERY: Duration = Duration::from_secs(15);

/// The products in low stock (the dashboard lists them): enabled card products whose
/// edge-triggered low-stock alert is armed (fulfillment sets it when the available cards fall
/// below the threshold, and clears it on restock).
pub const LOW_STOCK_PRODUCTS: &str = "mode = 'card' AND enabled = 1 AND low_stock_alerted = 1
    AND low_stock_threshold IS NOT NULL";

/// The queues of work for operators, in the dashboard's order: orders awaiting an operator,
/// orders awaiting stock, orders whose callbacks gave up, pending dead letters.
pub async fn queues_of_work(pool: &Pool) -> sqlx::Result<[i64; 4]> {
    let mut counts = [0i64; 4];
    for (slot, sql) in counts.iter_mut().zip([
        "SELECT COUNT(*) FROM orders WHERE status = 'awaiting_manual'",
        "SELECT COUNT(*) FROM orders WHERE status = 'awaiting_stock'",
        "SELECT COUNT(*) FROM orders WHERE notify_status = 'giving_up'",
        "SELECT COUNT(*) FROM dead_letters WHERE status = 'pending'",
    ]) {
        *slot = sqlx::query_scalar(sql).fetch_one(pool).await?;
    }
    Ok(counts)
}

struct Gauges {
    awaiting_manual: IntGauge,
    awaiting_stock: IntGauge,
    given_up: IntGauge,
    dead_letters: IntGauge,
    low_stock: IntGauge,
    heartbeat_age: IntGaugeVec,
}

static GAUGES: LazyLock<Gauges> = LazyLock::new(|| {
    use common::metrics::{gauge, gauge_vec};
    Gauges {
        awaiting_manual: gauge(
            "orders_awaiting_manual",
            "Orders waiting for an operator (status awaiting_manual)",
        ),
        awaiting_stock: gauge(
            "orders_awaiting_stock",
            "Orders waiting for stock (status awaiting_stock)",
        ),
        given_up: gauge(
            "callbacks_given_up",
            "Orders whose platform callbacks gave up (notify_status giving_up), not yet resent",
        ),
        dead_letters: gauge(
            "dead_letters_pending",
            "Dead-lettered messages collected and not yet replayed or discarded",
        ),
        low_stock: gauge(
            "products_low_stock",
            "Enabled card products below their low-stock threshold",
        ),
        heartbeat_age: gauge_vec(
            "service_heartbeat_age_seconds",
            "Seconds since the newest heartbeat of any instance of the service (instances beat \
             every 10 s; a cleanly stopped instance removes its row; services seen in the last day)",
            &["service"],
        ),
    }
});

/// Reads every gauge from the database once.
pub async fn update(pool: &Pool) -> sqlx::Result<()> {
    let g = &*GAUGES;
    let [manual, stock, given_up, dead] = queues_of_work(pool).await?;
    let low: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM products WHERE {LOW_STOCK_PRODUCTS}"
    )))
    .fetch_one(pool)
    .await?;
    let beats: Vec<(String, i64)> = sqlx::query_as(
        "SELECT service, CAST(TIMESTAMPDIFF(SECOND, MAX(last_seen_at), NOW(3)) AS SIGNED)
         FROM service_heartbeats
         WHERE last_seen_at > NOW(3) - INTERVAL 1 DAY
         GROUP BY service",
    )
    .fetch_all(pool)
    .await?;
    g.awaiting_manual.set(manual);
    g.awaiting_stock.set(stock);
    g.given_up.set(given_up);
    g.dead_letters.set(dead);
    g.low_stock.set(low);
    // Services that stopped cleanly (no rows left) drop out instead of keeping their last age.
    g.heartbeat_age.reset();
    for (service, age) in beats {
        g.heartbeat_age.with_label_values(&[&service]).set(age);
    }
    Ok(())
}

/// Updates the gauges every [`EVERY`] until the service stops.
pub async fn run(pool: Pool, stop: CancellationToken) {
    loop {
        if let Err(e) = update(&pool).await {
            tracing::warn!(error = %e, "cannot read the operational gauges");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
