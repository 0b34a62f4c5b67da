//! Pruning by the retention settings, against the real database: what is old enough goes, what
//! JD may still ask about (orders inside 180 days, unfinished orders, their rows) stays.

use common::db::Pool;
use common::db::retention::{self, Retention};
use tokio_util::sync::CancellationToken;

use common::testing::fixtures::Product;

use crate::App;

async fn exec(pool: &Pool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// An order `age_days` old with one event, one callback attempt and one sold card of that age:
/// rows of every table aged on purpose (`created_at` in the past, a due callback), written
/// directly rather than through the fixtures, which write rows as of now.
async fn order(pool: &Pool, no: &str, age_days: u32, status: &str, notify: &str) -> u64 {
    let id = sqlx::query(
        "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, sku,
            quantity, total_price_fen, status, notify_status, notify_next_at, created_at)
         VALUES (?, 'jd_general', 1, ?, 'card', 'S1', 1, 100, ?, ?,
            IF(? = 'pending', NOW(3) + INTERVAL 1 HOUR, NULL), NOW(3) - INTERVAL ? DAY)",
    )
    .bind(no)
    .bind(no)
    .bind(status)
    .bind(notify)
    .bind(notify)
    .bind(age_days)
    .execute(pool)
    .await
    .unwrap()
    .last_insert_id();
    sqlx::query(
        "INSERT INTO order_events (order_id, to_status, actor, created_at)
         VALUES (?, ?, 'test', NOW(3) - INTERVAL ? DAY)",
    )
    .bind(id)
    .bind(status)
    .bind(age_days)
    .execute(pool)
    .await
    .unwrap();
    attempt(pool, Some(id), age_days).await;
    sqlx::query(
        "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint,
            status, order_id, created_at)
         SELECT id, 'B1', x'00', x'00', UNHEX(SHA2(?, 256)), 'sold', ?, NOW(3) - INTERVAL ? DAY
         FROM products WHERE name = 'retention-p'",
    )
    .bind(no)
    .bind(id)
    .bind(age_days)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn attempt(pool: &Pool, order_id: Option<u64>, age_days: u32) {
    sqlx::query(
        "INSERT INTO callback_attempts (order_id, target, attempt_no, url, outcome, created_at)
         VALUES (?, 'jd_general', 1, 'http://jd.example/notify', 'delivered',
            NOW(3) - INTERVAL ? DAY)",
    )
    .bind(order_id)
    .bind(age_days)
    .execute(pool)
    .await
    .unwrap();
}

async fn count(app: &App, sql: String) -> i64 {
    app.count(&sql).await
}

async fn rows_of(app: &App, order_id: u64) -> (i64, i64, i64, i64) {
    (
        count(
            app,
            format!("SELECT COUNT(*) FROM orders WHERE id = {order_id}"),
        )
        .await,
        count(
            app,
            format!("SELECT COUNT(*) FROM order_events WHERE order_id = {order_id}"),
        )
        .await,
        count(
            app,
            format!("SELECT COUNT(*) FROM callback_attempts WHERE order_id = {order_id}"),
        )
        .await,
        count(
            app,
            format!("SELECT COUNT(*) FROM cards WHERE order_id = {order_id}"),
        )
        .await,
    )
}

#[tokio::test]
async fn old_rows_go_and_what_jd_may_still_query_stays() {
    let app = App::start().await;
    let pool = app.pool.clone();
    Product::card("retention-p").insert(&pool).await;

    let old_done = order(&pool, "R-OLD-DONE", 400, "succeeded", "delivered").await;
    let old_failed = order(&pool, "R-OLD-FAILED", 400, "failed", "giving_up").await;
    let mid_done = order(&pool, "R-MID-DONE", 190, "succeeded", "delivered").await;
    let young_done = order(&pool, "R-YOUNG-DONE", 100, "succeeded", "delivered").await;
    let old_processing = order(&pool, "R-OLD-PROC", 400, "processing", "pending").await;
    let old_awaiting = order(&pool, "R-OLD-MANUAL", 400, "awaiting_manual", "pending").await;
    let old_notify_due = order(&pool, "R-OLD-NOTIFY", 400, "succeeded", "pending").await;
    // Attempts without an order (supplier calls): the same 180-day floor.
    attempt(&pool, None, 200).await;
    attempt(&pool, None, 100).await;

    // Pure log rows and short-lived rows.
    let product: u64 = sqlx::query_scalar("SELECT id FROM products WHERE name = 'retention-p'")
        .fetch_one(&pool)
        .await
        .unwrap();
    exec(
        &pool,
        &format!(
            "INSERT INTO stock_alerts (product_id, available, threshold, created_at) VALUES
         ({product}, 1, 5, NOW(3) - INTERVAL 100 DAY), ({product}, 2, 5, NOW(3) - INTERVAL 10 DAY)"
        ),
    )
    .await;
    exec(&pool,
        "INSERT INTO dead_letters (message_id, routing_key, payload, status, handled_at, created_at) VALUES
         ('dl-old-discarded', 'k', x'00', 'discarded', NOW(3) - INTERVAL 100 DAY, NOW(3) - INTERVAL 101 DAY),
         ('dl-old-pending', 'k', x'00', 'pending', NULL, NOW(3) - INTERVAL 300 DAY),
         ('dl-new-replayed', 'k', x'00', 'replayed', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 11 DAY)",
    )
    .await;
    exec(&pool,
        "INSERT INTO sessions (id, user_id, csrf_token, expires_at)
         SELECT REPEAT('a', 64), id, REPEAT('c', 64), NOW(3) - INTERVAL 1 MINUTE FROM admin_users WHERE username = 'viewer'
         UNION ALL
         SELECT REPEAT('b', 64), id, REPEAT('c', 64), NOW(3) + INTERVAL 1 HOUR FROM admin_users WHERE username = 'viewer'",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO login_rate (ip, window_start, attempts) VALUES
         ('192.0.2.1', NOW(3) - INTERVAL 2 HOUR, 3), ('192.0.2.2', NOW(3), 1)",
    )
    .await;
    exec(
        &pool,
        &format!(
        "INSERT INTO card_import_drafts (id, user_id, product_id, source, total_lines, new_cards,
            dup_in_file, dup_in_stock, invalid, expires_at) VALUES
         (REPEAT('1', 32), 1, {product}, 'f', 1, 1, 0, 0, 0, NOW(3) - INTERVAL 2 DAY),
         (REPEAT('2', 32), 1, {product}, 'f', 1, 1, 0, 0, 0, NOW(3) + INTERVAL 1 HOUR)"
    ),
    )
    .await;
    exec(&pool,
        "INSERT INTO card_import_draft_parts (draft_id, seq, cards_enc) VALUES (REPEAT('1', 32), 0, x'00')",
    )
    .await;
    exec(&pool,
        "INSERT INTO service_heartbeats (instance_id, service, hostname, version, started_at, last_seen_at) VALUES
         ('crashed-long-ago', 'gateway', 'h', 'v', NOW(3) - INTERVAL 9 DAY, NOW(3) - INTERVAL 8 DAY),
         ('crashed-today', 'gateway', 'h', 'v', NOW(3) - INTERVAL 1 DAY, NOW(3) - INTERVAL 1 HOUR)",
    )
    .await;

    let stop = CancellationToken::new();
    // Default settings: orders kept forever, log rows 90 days.
    let keep_orders = Retention::default();
    let first = retention::prune(&pool, &keep_orders, &stop).await.unwrap();
    assert_eq!(first.get("orders"), 0, "{first:?}");
    // Every order is kept, with its events and cards; callback attempts go only for finished
    // orders older than 180 days (and attempts without order older than 180 days).
    assert_eq!(rows_of(&app, old_done).await, (1, 1, 0, 1));
    assert_eq!(rows_of(&app, old_failed).await, (1, 1, 0, 1));
    assert_eq!(rows_of(&app, mid_done).await, (1, 1, 0, 1));
    assert_eq!(rows_of(&app, young_done).await, (1, 1, 1, 1));
    assert_eq!(rows_of(&app, old_processing).await, (1, 1, 1, 1));
    assert_eq!(rows_of(&app, old_awaiting).await, (1, 1, 1, 1));
    assert_eq!(rows_of(&app, old_notify_due).await, (1, 1, 1, 1));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM callback_attempts WHERE order_id IS NULL")
            .await,
        1
    );
    // (The admin's own run at start may have taken some rows first: counted by table here.)
    assert_eq!(app.count("SELECT COUNT(*) FROM callback_attempts").await, 5);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM stock_alerts WHERE created_at < NOW(3) - INTERVAL 90 DAY")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM stock_alerts").await, 1);
    let letters: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM dead_letters ORDER BY message_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(letters, ["dl-new-replayed", "dl-old-pending"]);
    let sessions: Vec<String> = sqlx::query_scalar("SELECT LEFT(id, 1) FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, ["b"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM login_rate WHERE ip = '192.0.2.1'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM login_rate").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_drafts").await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM card_import_draft_parts")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM service_heartbeats WHERE instance_id LIKE 'crashed-%'")
            .await,
        1
    );

    // Orders kept 200 days: finished orders older than that go with their events and attempts;
    // their sold cards stay (the fingerprint refuses the card imported again).
    let with_orders = Retention {
        log_days: 90,
        order_days: 200,
    };
    let second = retention::prune(&pool, &with_orders, &stop).await.unwrap();
    assert_eq!(second.get("orders"), 2, "{second:?}");
    assert_eq!(second.get("order_events"), 2, "{second:?}");
    assert_eq!(rows_of(&app, old_done).await, (0, 0, 0, 1));
    assert_eq!(rows_of(&app, old_failed).await, (0, 0, 0, 1));
    assert_eq!(rows_of(&app, mid_done).await, (1, 1, 0, 1));
    assert_eq!(rows_of(&app, young_done).await, (1, 1, 1, 1));
    assert_eq!(rows_of(&app, old_processing).await, (1, 1, 1, 1));
    assert_eq!(rows_of(&app, old_awaiting).await, (1, 1, 1, 1));
    assert_eq!(rows_of(&app, old_notify_due).await, (1, 1, 1, 1));

    // A run again finds nothing; the metric counts what went.
    let third = retention::prune(&pool, &with_orders, &stop).await.unwrap();
    assert_eq!(third, retention::Pruned::default());
    let metrics = common::metrics::render();
    assert!(
        metrics.contains("retention_pruned_rows_total{table=\"orders\"}"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_one_instance_prunes_at_a_time() {
    let app = App::start().await;
    let pool = app.pool.clone();
    let mut holder = pool.acquire().await.unwrap();
    // Wait for the admin's own first run (at start) to release the lock, then hold it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT GET_LOCK({}, 0)",
            retention::LOCK_NAME
        )))
        .fetch_one(&mut *holder)
        .await
        .unwrap();
        if got == Some(1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention lock never free"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stop = CancellationToken::new();
    let r = Retention::default();
    assert_eq!(retention::prune_once(&pool, &r, &stop).await.unwrap(), None);
    let _: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT RELEASE_LOCK({})",
        retention::LOCK_NAME
    )))
    .fetch_one(&mut *holder)
    .await
    .unwrap();
    assert!(
        retention::prune_once(&pool, &r, &stop)
            .await
            .unwrap()
            .is_some()
    );
    drop(holder);
    app.stop().await;
}
