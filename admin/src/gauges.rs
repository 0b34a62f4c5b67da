//! The work waiting for people, the orders by status, the queues' lag, the stock and the
//! services' liveness, as Prometheus gauges on the admin's `/metrics` (alert rules:
//! `deploy/alerts.yml`, dashboard: `deploy/grafana/dashboards/vgoods.json`). They are database
//! and broker state — the same counts the dashboard shows — so one service reads them, off the
//! order path: every [`EVERY`] (the dashboard's refresh), the first time at start. With several
//! admin instances each exports the same values (alert on `max`).
//!
//! What each read costs, so it can run every 15 s on a large database:
//! - orders by status: the unfinished orders exactly (`ix_orders_status`, few rows: work in
//!   flight); the final ones (`succeeded`, `failed`) only for the orders created today (Beijing
//!   day, as the dashboard's "今日"), one range of the covering `ix_orders_dashboard` — counting
//!   every final order ever would scan the whole table;
//! - the outbox's oldest row: its first primary-key entry;
//! - the callback backlog: one range of `ix_orders_notify` (scheduled callbacks only);
//! - the queues' depths: one passive declare per queue on one channel;
//! - available cards: per card product, a range of `ix_cards_pick` (product, `available`, not
//!   expired) — proportional to the cards for sale, not to the cards ever sold.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::db::Pool;
use common::domain::{OrderStatus, Platform};
use common::mq::{Mq, QueueName};
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
    orders_by_status: IntGaugeVec,
    outbox_oldest_age: IntGauge,
    callbacks_pending: IntGauge,
    callbacks_due: IntGauge,
    queue_messages: IntGaugeVec,
    cards_available: IntGaugeVec,
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
        orders_by_status: gauge_vec(
            "orders_by_status",
            "Orders by platform and status: every unfinished order; finished ones (succeeded, \
             failed) created today (Beijing day)",
            &["platform", "status"],
        ),
        outbox_oldest_age: gauge(
            "outbox_oldest_age_seconds",
            "Age of the oldest outbox message not yet published to the broker (0: none waiting)",
        ),
        callbacks_pending: gauge(
            "callbacks_pending",
            "Platform callbacks (JD, Agiso deliveries) scheduled and not yet delivered or given up",
        ),
        callbacks_due: gauge(
            "callbacks_due",
            "Scheduled platform callbacks whose time has come, waiting for a sender",
        ),
        queue_messages: gauge_vec(
            "mq_queue_messages",
            "Messages ready in each RabbitMQ queue (not yet delivered to a consumer)",
            &["queue"],
        ),
        cards_available: gauge_vec(
            "cards_available",
            "Cards available for sale (not expired) per card product",
            &["product_id", "product"],
        ),
    }
});

/// Orders by (platform, status): the unfinished ones all, the finished ones created since
/// `today_start` (UTC). Every combination present, zero when there is none.
pub async fn orders_by_status(
    pool: &Pool,
    today_start: chrono::NaiveDateTime,
) -> sqlx::Result<Vec<(Platform, OrderStatus, i64)>> {
    let open: Vec<(Platform, OrderStatus, i64)> = sqlx::query_as(
        // Forced: on a small or fresh table the optimizer prefers a full scan of the covering
        // ix_orders_dashboard, which would read every order ever made once the table is large.
        "SELECT platform, status, COUNT(*) FROM orders FORCE INDEX (ix_orders_status)
         WHERE status IN ('received', 'processing', 'awaiting_manual', 'awaiting_stock')
         GROUP BY platform, status",
    )
    .fetch_all(pool)
    .await?;
    let finished: Vec<(Platform, OrderStatus, i64)> = sqlx::query_as(
        "SELECT platform, status, COUNT(*) FROM orders FORCE INDEX (ix_orders_dashboard)
         WHERE created_at >= ? AND status IN ('succeeded', 'failed')
         GROUP BY platform, status",
    )
    .bind(today_start)
    .fetch_all(pool)
    .await?;
    let mut all = Vec::new();
    for platform in Platform::ALL {
        for status in OrderStatus::ALL {
            let n = open
                .iter()
                .chain(&finished)
                .find(|(p, s, _)| *p == platform && *s == status)
                .map_or(0, |r| r.2);
            all.push((platform, status, n));
        }
    }
    Ok(all)
}

/// The start of today's Beijing day, in UTC (the database's time zone).
fn beijing_day_start() -> chrono::NaiveDateTime {
    common::domain::beijing_today()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        - chrono::Duration::hours(8)
}

/// Available (unexpired) cards per card product: (id, name, count).
pub async fn cards_available(pool: &Pool) -> sqlx::Result<Vec<(u64, String, i64)>> {
    sqlx::query_as(
        "SELECT p.id, p.name,
            (SELECT COUNT(*) FROM cards c FORCE INDEX (ix_cards_pick)
             WHERE c.product_id = p.id AND c.status = 'available' AND c.expires_at >= ?)
         FROM products p WHERE p.mode = 'card' ORDER BY p.id",
    )
    .bind(common::domain::beijing_today())
    .fetch_all(pool)
    .await
}

/// Seconds since the oldest unpublished outbox message was written (0 when none waits).
pub async fn outbox_oldest_age(pool: &Pool) -> sqlx::Result<i64> {
    let age: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(GREATEST(TIMESTAMPDIFF(SECOND, created_at, NOW(3)), 0) AS SIGNED)
         FROM outbox ORDER BY id LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(age.unwrap_or(0))
}

/// The callback backlog: (scheduled and not delivered, of which due now). One range of
/// `ix_orders_notify` (notify_status, notify_next_at).
pub async fn callback_backlog(pool: &Pool) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(notify_next_at <= NOW(3)), 0) AS SIGNED)
         FROM orders WHERE notify_status = 'pending' AND notify_next_at IS NOT NULL",
    )
    .fetch_one(pool)
    .await
}

/// Messages ready in each queue of the topology, by a passive declare (which changes nothing).
pub async fn queue_depths(mq: &Mq) -> anyhow::Result<Vec<(QueueName, u32)>> {
    use lapin::options::QueueDeclareOptions;
    let ch = mq.channel().await?;
    let mut depths = Vec::with_capacity(QueueName::ALL.len());
    for q in QueueName::ALL {
        let queue = ch
            .queue_declare(
                mq.topology.queue(q).into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        depths.push((q, queue.message_count()));
    }
    let _ = ch.close(200, "queue depths read".into()).await;
    Ok(depths)
}

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
    // The alerts' gauges first: a failing dashboard query below never leaves them stale.
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
    let by_status = orders_by_status(pool, beijing_day_start()).await?;
    let outbox_age = outbox_oldest_age(pool).await?;
    let cards = cards_available(pool).await?;
    let (pending, due) = callback_backlog(pool).await?;
    g.callbacks_pending.set(pending);
    g.callbacks_due.set(due);
    for (platform, status, n) in by_status {
        g.orders_by_status
            .with_label_values(&[platform.as_str(), status.as_str()])
            .set(n);
    }
    g.outbox_oldest_age.set(outbox_age);
    // Deleted products (or renamed ones) drop out instead of keeping their last count.
    g.cards_available.reset();
    for (id, name, n) in cards {
        g.cards_available
            .with_label_values(&[&id.to_string(), &name])
            .set(n);
    }
    Ok(())
}

/// Reads the broker's gauges once (the queues' depths).
pub async fn update_broker(mq: &Mq) -> anyhow::Result<()> {
    let depths = tokio::time::timeout(Duration::from_secs(5), queue_depths(mq))
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))??;
    for (q, n) in depths {
        GAUGES
            .queue_messages
            .with_label_values(&[q.base()])
            .set(i64::from(n));
    }
    Ok(())
}

/// Updates the gauges every [`EVERY`] until the service stops.
pub async fn run(pool: Pool, mq: Arc<Mq>, stop: CancellationToken) {
    // Announced on /metrics before the first read completes.
    LazyLock::force(&GAUGES);
    loop {
        if let Err(e) = update(&pool).await {
            tracing::warn!(error = %e, "cannot read the operational gauges");
        }
        if let Err(e) = update_broker(&mq).await {
            tracing::warn!(error = %e, "cannot read the queues' depths");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
