//! The admin binary exports the operational gauges the alert rules (`deploy/alerts.yml`) use:
//! work waiting for operators, dead letters, low stock and the services' heartbeats, read from
//! the database at start and again every 15 s.

use std::time::Duration;

use common::domain::Platform;
use system_tests::fake_jd::{Seed, card_product, final_order_unscheduled, general_shop};
use system_tests::{Proc, Stage};

/// The value of the sample `series` (name with its labels, as rendered) in a Prometheus text
/// page.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}

/// Polls the admin's `/metrics` until `ok` holds for it, or panics with the last page.
async fn wait_metrics(admin: &Proc, within: Duration, what: &str, ok: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = reqwest::get(admin.metrics_url()).await
            && let Ok(text) = r.text().await
        {
            if ok(&text) {
                return;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{what} not seen within {within:?}; last /metrics:\n{last}");
}

#[tokio::test]
async fn admin_exports_the_operational_gauges() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    let shop = general_shop(pool, "general").await;
    let product = card_product(pool, "low", 1, Platform::JdGeneral).await;
    // Low stock: below the threshold, with the alert armed (as fulfillment's checker leaves it).
    sqlx::query("UPDATE products SET low_stock_threshold = 5, low_stock_alerted = 1 WHERE id = ?")
        .bind(product)
        .execute(pool)
        .await
        .unwrap();
    let seed = |no| Seed {
        platform: Platform::JdGeneral,
        shop,
        platform_no: no,
        kind: common::domain::OrderKind::Direct,
        product: Some(product),
        quantity: 1,
        failure: Some(common::domain::FailureReason::OutOfStock),
        notify_url: None,
    };
    // One order waiting for an operator, two whose callbacks gave up, one plain final order.
    let (manual, _) = final_order_unscheduled(pool, seed("m1")).await;
    sqlx::query("UPDATE orders SET status = 'awaiting_manual', completed_at = NULL WHERE id = ?")
        .bind(manual)
        .execute(pool)
        .await
        .unwrap();
    for no in ["g1", "g2"] {
        let (id, _) = final_order_unscheduled(pool, seed(no)).await;
        sqlx::query("UPDATE orders SET notify_status = 'giving_up' WHERE id = ?")
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
    }
    final_order_unscheduled(pool, seed("done")).await;
    // Dead letters: one pending, one already handled.
    sqlx::query(
        "INSERT INTO dead_letters (message_id, routing_key, payload, status)
         VALUES ('dl-1', 'order.created.jd_general', '{}', 'pending'),
                ('dl-2', 'order.created.jd_general', '{}', 'replayed')",
    )
    .execute(pool)
    .await
    .unwrap();
    // Heartbeats: fulfillment's only instance went silent two minutes ago; gateway's row is two
    // days old (out of the one-day window, not exported).
    sqlx::query(
        "INSERT INTO service_heartbeats (instance_id, service, hostname, version, started_at, last_seen_at)
         VALUES ('f-1', 'fulfillment', 'h', '0', NOW(3) - INTERVAL 1 HOUR, NOW(3) - INTERVAL 120 SECOND),
                ('g-1', 'gateway', 'h', '0', NOW(3) - INTERVAL 3 DAY, NOW(3) - INTERVAL 2 DAY)",
    )
    .execute(pool)
    .await
    .unwrap();

    let mut admin = Proc::spawn("admin", &stage.env());
    admin.wait_ready(Duration::from_secs(60)).await;
    wait_metrics(&admin, Duration::from_secs(30), "the seeded counts", |m| {
        sample(m, "orders_awaiting_manual") == Some(1.0)
            && sample(m, "orders_awaiting_stock") == Some(0.0)
            && sample(m, "callbacks_given_up") == Some(2.0)
            && sample(m, "dead_letters_pending") == Some(1.0)
            && sample(m, "products_low_stock") == Some(1.0)
            && sample(m, "service_heartbeat_age_seconds{service=\"fulfillment\"}")
                .is_some_and(|age| age >= 120.0)
    })
    .await;
    let page = reqwest::get(admin.metrics_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sample(&page, "service_heartbeat_age_seconds{service=\"gateway\"}").is_none(),
        "a heartbeat older than a day is not exported:\n{page}"
    );

    // The gauges follow the database: the dead letter handled, fulfillment back.
    sqlx::query("UPDATE dead_letters SET status = 'discarded' WHERE message_id = 'dl-1'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE service_heartbeats SET last_seen_at = NOW(3) WHERE instance_id = 'f-1'")
        .execute(pool)
        .await
        .unwrap();
    wait_metrics(&admin, Duration::from_secs(60), "the updated counts", |m| {
        sample(m, "dead_letters_pending") == Some(0.0)
            && sample(m, "service_heartbeat_age_seconds{service=\"fulfillment\"}")
                .is_some_and(|age| age < 60.0)
    })
    .await;

    admin.terminate().await;
    stage.cleanup().await;
}
