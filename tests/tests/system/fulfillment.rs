//! Fulfillment: exactly-once card issue under duplicate delivery, several processes, SIGKILL;
//! out-of-stock policies; poison messages; low-stock alerts.

use std::collections::HashSet;
use std::time::Duration;

use common::db::Pool;
use common::domain::{OrderStatus, Platform, StockPolicy};
use common::mq::publisher::{Outgoing, Publisher};
use common::mq::{Event, EventType, Mq, QueueName, Topology};
use common::testing::fixtures::{self, Product, Shop, StoredOrder};
use system_tests::{Proc, Stage, drain_queue, wait_queue_empty};

async fn product(
    pool: &Pool,
    name: &str,
    policy: StockPolicy,
    wait_secs: i32,
    threshold: Option<i32>,
) -> u64 {
    Product::card(name)
        .price(Some(100))
        .low_stock_threshold(threshold)
        .sku(Platform::JdGame, &format!("sku-{name}"))
        .when_out_of_stock(policy, wait_secs)
        .insert(pool)
        .await
}

async fn cards(pool: &Pool, product_id: u64, prefix: &str, n: usize) {
    let r = fixtures::import_cards(
        pool,
        product_id,
        prefix,
        &fixtures::numbered_cards(prefix, n),
    )
    .await;
    assert_eq!(r.new, n);
}

async fn shop(pool: &Pool) -> u64 {
    Shop::jd_game("f", "1").insert(pool).await
}

/// Orders inserted directly (no outbox row): the test publishes their messages itself.
async fn orders(
    pool: &Pool,
    shop: u64,
    product_id: u64,
    first_no: u64,
    quantities: &[i32],
) -> Vec<u64> {
    let mut ids = Vec::new();
    for (i, q) in quantities.iter().enumerate() {
        let no = first_no + i as u64;
        let id = StoredOrder::new(
            Platform::JdGame,
            shop,
            &no.to_string(),
            common::domain::OrderKind::Card,
            OrderStatus::Received,
        )
        .order_no(&format!("N{no}"))
        .product(product_id)
        .quantity(*q)
        .insert(pool)
        .await;
        ids.push(id);
    }
    ids
}

async fn publish(prefix: &str, ids: &[u64], copies: usize) {
    publish_kind(prefix, ids, copies, EventType::OrderCreated).await
}

async fn publish_kind(prefix: &str, ids: &[u64], copies: usize, kind: EventType) {
    let mq = Mq::connect(
        secrecy::SecretString::from(common::testing::amqp_url()),
        "test-publisher",
        Topology::new(prefix),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let publisher = Publisher::new(mq.clone());
    let mut msgs = Vec::new();
    for _ in 0..copies {
        for id in ids {
            // Every copy is the same message (same id), as a re-delivery would be.
            let e = Event {
                event_id: uuid::Uuid::from_u64_pair(7, *id),
                ..Event::new(kind, *id, Platform::JdGame)
            };
            msgs.push(Outgoing {
                message_id: e.event_id.to_string(),
                routing_key: e.routing_key(),
                payload: e.to_json().into_bytes(),
                traceparent: None,
            });
        }
    }
    for chunk in msgs.chunks(500) {
        assert!(
            publisher
                .publish_batch(chunk)
                .await
                .iter()
                .all(Result::is_ok)
        );
    }
    mq.close().await;
}

async fn wait_until(pool: &Pool, sql: &'static str, want: i64, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if n == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {n}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every order has exactly its quantity of cards, no card belongs to two orders, and the sold
/// count equals the sum of quantities.
async fn assert_exactly_once(pool: &Pool) {
    let per_order: Vec<(u64, i32, i64)> = sqlx::query_as(
        "SELECT o.id, o.quantity, CAST(COUNT(c.id) AS SIGNED) FROM orders o LEFT JOIN cards c ON c.order_id = o.id
         GROUP BY o.id, o.quantity",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (id, q, n) in &per_order {
        assert_eq!(i64::from(*q), *n, "order {id} has {n} cards, wants {q}");
    }
    let sold: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE status = 'sold'")
        .fetch_one(pool)
        .await
        .unwrap();
    let want: i64 = per_order.iter().map(|(_, q, _)| i64::from(*q)).sum();
    assert_eq!(sold, want);
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cards WHERE (status = 'sold') <> (order_id IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM order_events WHERE to_status = 'succeeded'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        events as usize,
        per_order.len(),
        "one success transition per order"
    );
}

fn env_with(stage: &Stage, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = stage.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

#[tokio::test]
async fn thousand_orders_two_processes_every_message_twice() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let mut all = Vec::new();
    for (i, name) in ["A", "B", "C"].iter().enumerate() {
        let p = product(&stage.pool, name, StockPolicy::Fail, 0, None).await;
        cards(&stage.pool, p, name, 1000).await;
        let n = if i == 0 { 334 } else { 333 };
        let quantities: Vec<i32> = (0..n).map(|k| 1 + (k % 3)).collect();
        all.extend(
            orders(
                &stage.pool,
                shop,
                p,
                1_000_000 * (i as u64 + 1),
                &quantities,
            )
            .await,
        );
    }
    assert_eq!(all.len(), 1000);
    publish(&stage.prefix, &all, 2).await;
    let env = env_with(
        &stage,
        &[("FULFILLMENT_WORKERS", "3"), ("FULFILLMENT_PREFETCH", "8")],
    );
    let mut a = Proc::spawn("fulfillment", &env);
    let mut b = Proc::spawn("fulfillment", &env);
    a.wait_ready(Duration::from_secs(30)).await;
    b.wait_ready(Duration::from_secs(30)).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        1000,
        Duration::from_secs(120),
    )
    .await;
    // The duplicate deliveries are consumed too (none stuck or requeued for ever), and nothing
    // happened twice.
    let q = Topology::new(stage.prefix.clone()).queue(QueueName::FulfillmentOrders);
    wait_queue_empty(&q, Duration::from_secs(60)).await;
    // Stopping finishes what the processes still hold (a duplicate being handled is acked, or
    // back in the queue): only then is the final state what the assertions read.
    a.terminate().await;
    b.terminate().await;
    wait_queue_empty(&q, Duration::from_secs(1)).await;
    assert_exactly_once(&stage.pool).await;
    // Each completion is announced once (outbox → order.completed.jd_game).
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM outbox",
        0,
        Duration::from_secs(20),
    )
    .await;
    let completed = drain_queue(
        &Topology::new(stage.prefix.clone()).queue(QueueName::NotifierCallbacks),
        3000,
        Duration::from_secs(2),
    )
    .await;
    let ids: HashSet<u64> = completed
        .iter()
        .map(|(_, body)| Event::parse(body).unwrap().order_id)
        .collect();
    assert_eq!(completed.len(), 1000);
    assert_eq!(ids.len(), 1000);
    stage.cleanup().await;
}

#[tokio::test]
async fn sigkill_mid_run_then_restart_completes_every_order_once() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let p = product(&stage.pool, "K", StockPolicy::Fail, 0, None).await;
    cards(&stage.pool, p, "K", 1200).await;
    let ids = orders(&stage.pool, shop, p, 5_000_000, &vec![2; 500]).await;
    publish(&stage.prefix, &ids, 1).await;
    let env = env_with(
        &stage,
        &[("FULFILLMENT_WORKERS", "4"), ("FULFILLMENT_PREFETCH", "16")],
    );
    let mut first = Proc::spawn("fulfillment", &env);
    // Kill it hard once it is part-way through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'succeeded'")
                .fetch_one(&stage.pool)
                .await
                .unwrap();
        if done >= 50 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(first.child.id().to_string())
        .status();
    let _ = first.child.wait();
    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'succeeded'")
        .fetch_one(&stage.pool)
        .await
        .unwrap();
    assert!(done < 500, "killed mid-run ({done} done)");
    let mut second = Proc::spawn("fulfillment", &env);
    second.wait_ready(Duration::from_secs(30)).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        500,
        Duration::from_secs(120),
    )
    .await;
    assert_exactly_once(&stage.pool).await;
    second.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn out_of_stock_policies_restock_order_and_deadline() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let failing = product(&stage.pool, "F", StockPolicy::Fail, 0, None).await;
    let waiting = product(&stage.pool, "W", StockPolicy::Wait, 3600, None).await;
    let short = product(&stage.pool, "S", StockPolicy::Wait, 1, None).await;
    let f = orders(&stage.pool, shop, failing, 100, &[1]).await;
    let w = orders(&stage.pool, shop, waiting, 200, &[1, 2, 1]).await;
    let s = orders(&stage.pool, shop, short, 300, &[1]).await;
    let all: Vec<u64> = f.iter().chain(&w).chain(&s).copied().collect();
    publish(&stage.prefix, &all, 1).await;
    let env = env_with(&stage, &[("FULFILLMENT_STOCK_POLL_MS", "200")]);
    let mut p = Proc::spawn("fulfillment", &env);
    p.wait_ready(Duration::from_secs(30)).await;

    let status = |id: u64| {
        let pool = stage.pool.clone();
        async move {
            let r: (String, Option<String>, Option<String>) = sqlx::query_as(
                "SELECT status, failure_code, failure_reason FROM orders WHERE id = ?",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
            r
        }
    };
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status IN ('failed', 'awaiting_stock')",
        5,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        status(f[0]).await,
        (
            "failed".into(),
            Some("out_of_stock".into()),
            Some("库存不足".into())
        )
    );
    for id in &w {
        assert_eq!(status(*id).await.0, "awaiting_stock");
    }
    // The short deadline passes: failed with 库存不足.
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'failed'",
        2,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        status(s[0]).await,
        (
            "failed".into(),
            Some("out_of_stock".into()),
            Some("库存不足".into())
        )
    );

    // Three cards arrive: the oldest (1 card) and the second (2 cards) are served; the third
    // waits (arrival order, even though one card would fit it).
    cards(&stage.pool, waiting, "W", 3).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        2,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(status(w[0]).await.0, "succeeded");
    assert_eq!(status(w[1]).await.0, "succeeded");
    assert_eq!(status(w[2]).await.0, "awaiting_stock");
    cards(&stage.pool, waiting, "X", 1).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        3,
        Duration::from_secs(20),
    )
    .await;
    assert_exactly_once_for(&stage.pool, &w).await;
    p.terminate().await;
    stage.cleanup().await;
}

/// 重新履约 of an order an operator held, for a product that waits for stock and has none: the
/// order waits (through processing, as the state machine wants), and is served when cards come.
#[tokio::test]
async fn refulfil_of_a_held_order_waits_for_stock() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let waiting = product(&stage.pool, "R", StockPolicy::Wait, 3600, None).await;
    let ids = orders(&stage.pool, shop, waiting, 400, &[1]).await;
    sqlx::query("UPDATE orders SET status = 'awaiting_manual' WHERE id = ?")
        .bind(ids[0])
        .execute(&stage.pool)
        .await
        .unwrap();
    publish_kind(&stage.prefix, &ids, 1, EventType::OrderRefulfil).await;
    let env = env_with(&stage, &[("FULFILLMENT_STOCK_POLL_MS", "200")]);
    let mut p = Proc::spawn("fulfillment", &env);
    p.wait_ready(Duration::from_secs(30)).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'awaiting_stock'",
        1,
        Duration::from_secs(20),
    )
    .await;
    let path: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT from_status, to_status FROM order_events WHERE order_id = ? ORDER BY id",
    )
    .bind(ids[0])
    .fetch_all(&stage.pool)
    .await
    .unwrap();
    assert_eq!(
        path,
        vec![
            (Some("awaiting_manual".into()), "processing".into()),
            (Some("processing".into()), "awaiting_stock".into()),
        ]
    );
    cards(&stage.pool, waiting, "R", 1).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_exactly_once_for(&stage.pool, &ids).await;
    // Nothing was dead-lettered on the way.
    let dead = drain_queue(
        &Topology::new(stage.prefix.clone()).queue(QueueName::DeadLetters),
        10,
        Duration::from_millis(300),
    )
    .await;
    assert!(dead.is_empty(), "dead letters: {}", dead.len());
    p.terminate().await;
    stage.cleanup().await;
}

async fn assert_exactly_once_for(pool: &Pool, ids: &[u64]) {
    for id in ids {
        let (q, n): (i32, i64) = sqlx::query_as(
            "SELECT o.quantity, CAST((SELECT COUNT(*) FROM cards c WHERE c.order_id = o.id) AS SIGNED) FROM orders o WHERE o.id = ?",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(i64::from(q), n);
    }
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_do_not_block() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let p = product(&stage.pool, "P", StockPolicy::Fail, 0, None).await;
    cards(&stage.pool, p, "P", 5).await;
    let mut proc_ = Proc::spawn("fulfillment", &stage.env());
    proc_.wait_ready(Duration::from_secs(30)).await;
    let mq = Mq::connect(
        secrecy::SecretString::from(common::testing::amqp_url()),
        "poison",
        Topology::new(stage.prefix.clone()),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let publisher = Publisher::new(mq.clone());
    let bad = [
        Outgoing {
            message_id: "bad-1".into(),
            routing_key: "order.created.jd_game".into(),
            payload: b"not json".to_vec(),
            traceparent: None,
        },
        Outgoing {
            message_id: "bad-2".into(),
            routing_key: "order.created.jd_game".into(),
            payload: Event::new(EventType::OrderCreated, 987_654, Platform::JdGame)
                .to_json()
                .into_bytes(),
            traceparent: None,
        },
    ];
    assert!(
        publisher
            .publish_batch(&bad)
            .await
            .iter()
            .all(Result::is_ok)
    );
    mq.close().await;
    let ids = orders(&stage.pool, shop, p, 900, &[1, 1]).await;
    publish(&stage.prefix, &ids, 1).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        2,
        Duration::from_secs(20),
    )
    .await;
    let dead = drain_queue(
        &Topology::new(stage.prefix.clone()).queue(QueueName::DeadLetters),
        5,
        Duration::from_secs(5),
    )
    .await;
    let dead_ids: HashSet<String> = dead.into_iter().filter_map(|(id, _)| id).collect();
    assert_eq!(
        dead_ids,
        HashSet::from(["bad-1".to_string(), "bad-2".to_string()])
    );
    proc_.terminate().await;
    stage.cleanup().await;
}

/// A low-stock alert reports the available count when the check runs: after the order (or the
/// group of orders fulfilled together) that took stock below the threshold. The test waits for
/// each state it asserts, so it does not depend on how orders are grouped or when checks run.
#[tokio::test]
async fn low_stock_alerts_once_per_dip_and_posts_to_the_webhook() {
    // A fake robot webhook: records request bodies.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let app = axum::Router::new().route(
        "/robot/send",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                axum::Json(serde_json::json!({"errcode": 0}))
            }
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/robot/send", listener.local_addr().unwrap());
    system_tests::serve_apart(listener, app);

    let stage = Stage::new().await;
    let pool = &stage.pool;
    let shop = shop(pool).await;
    let p = product(pool, "L", StockPolicy::Fail, 0, Some(3)).await;
    cards(pool, p, "L", 5).await;
    let mut proc_ = Proc::spawn(
        "fulfillment",
        &env_with(&stage, &[("ALERT_WEBHOOK_URL", &url)]),
    );
    proc_.wait_ready(Duration::from_secs(30)).await;
    let alerts = || async {
        sqlx::query_as::<_, (i32, i32)>("SELECT available, threshold FROM stock_alerts ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    };
    let succeeded = "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'";
    let alert_count = "SELECT COUNT(*) FROM stock_alerts";
    let within = Duration::from_secs(20);

    // 5 → 4 → 3: no alert; → 2: the alert, reporting 2.
    let ids = orders(pool, shop, p, 700, &[1, 1, 1, 1]).await;
    for (n, id) in ids[..3].iter().enumerate() {
        publish(&stage.prefix, &[*id], 1).await;
        wait_until(pool, succeeded, n as i64 + 1, within).await;
    }
    wait_until(pool, alert_count, 1, within).await;
    assert_eq!(alerts().await, vec![(2, 3)]);
    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the webhook is called")
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["msgtype"], "text");
    let text = v["text"]["content"].as_str().unwrap();
    assert!(
        text.contains("库存预警") && text.contains("仅剩 2 张"),
        "{text}"
    );

    // → 1: still the same dip, no second alert.
    publish(&stage.prefix, &ids[3..], 1).await;
    wait_until(pool, succeeded, 4, within).await;

    // Restock above the threshold: the next check re-arms the alert.
    cards(pool, p, "M", 5).await;
    let more = orders(pool, shop, p, 800, &[1, 1, 1, 1]).await;
    publish(&stage.prefix, &more[..1], 1).await;
    wait_until(pool, succeeded, 5, within).await;
    wait_until(
        pool,
        "SELECT COUNT(*) FROM products WHERE low_stock_alerted = 0",
        1,
        within,
    )
    .await;
    // 5 → 2 at once or one by one (as fulfilment groups them): one alert, with the count after.
    publish(&stage.prefix, &more[1..], 1).await;
    wait_until(pool, succeeded, 8, within).await;
    wait_until(pool, alert_count, 2, within).await;
    assert_eq!(alerts().await, vec![(2, 3), (2, 3)], "one alert per dip");
    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the webhook is called again")
        .unwrap();
    assert!(body.contains("库存预警"), "{body}");
    assert!(rx.try_recv().is_err(), "one webhook message per dip");
    proc_.terminate().await;
    stage.cleanup().await;
}

/// Cards are good through their expiry day in Beijing (UTC+8), not in the database session's
/// UTC, whose date lags Beijing's from 16:00 to 24:00 UTC: a card that expired yesterday in
/// Beijing is never sold, one expiring today in Beijing is. Expiry dates are built from the
/// computed Beijing date, so the test means the same at any hour.
#[tokio::test]
async fn card_expiry_counts_in_beijing_days() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let p = product(&stage.pool, "E", StockPolicy::Fail, 0, None).await;
    cards(&stage.pool, p, "E", 3).await;
    let ids: Vec<u64> = sqlx::query_scalar("SELECT id FROM cards WHERE product_id = ? ORDER BY id")
        .bind(p)
        .fetch_all(&stage.pool)
        .await
        .unwrap();
    let today = common::domain::beijing_today();
    let day = chrono::Days::new(1);
    let expiries = [today - day, today, today + day];
    for (id, expires) in ids.iter().zip(expiries) {
        sqlx::query("UPDATE cards SET expires_at = ? WHERE id = ?")
            .bind(expires)
            .bind(id)
            .execute(&stage.pool)
            .await
            .unwrap();
    }
    // The picking query takes the Beijing date as a parameter: a day ahead of the session's
    // UTC date (as from 16:00 to 24:00 UTC), today's card is no longer sellable either.
    let mut tx = stage.pool.begin().await.unwrap();
    let pick = common::db::cards::pick_available(&mut tx, p, 10, today)
        .await
        .unwrap();
    assert_eq!(pick, ids[1..]);
    let pick = common::db::cards::pick_available(&mut tx, p, 10, today + day)
        .await
        .unwrap();
    assert_eq!(pick, ids[2..]);
    tx.rollback().await.unwrap();
    // preCheck's count agrees with the pick.
    assert_eq!(
        common::db::cards::available_at_least(&stage.pool, p, 10)
            .await
            .unwrap(),
        2
    );

    // Through the real process: three orders of one card; two get today's and tomorrow's
    // cards, the third finds no sellable stock. Yesterday's card stays unsold.
    let o = orders(&stage.pool, shop, p, 700, &[1, 1, 1]).await;
    publish(&stage.prefix, &o, 1).await;
    let mut proc_ = Proc::spawn("fulfillment", &stage.env());
    proc_.wait_ready(Duration::from_secs(30)).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status IN ('succeeded', 'failed')",
        3,
        Duration::from_secs(20),
    )
    .await;
    let sold: Vec<u64> =
        sqlx::query_scalar("SELECT id FROM cards WHERE status = 'sold' ORDER BY id")
            .fetch_all(&stage.pool)
            .await
            .unwrap();
    assert_eq!(sold, ids[1..], "yesterday's card (in Beijing) was sold");
    let failed: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, failure_code FROM orders WHERE status = 'failed'")
            .fetch_all(&stage.pool)
            .await
            .unwrap();
    assert_eq!(failed, vec![("failed".into(), Some("out_of_stock".into()))]);
    proc_.terminate().await;
    stage.cleanup().await;
}

/// The order's stored kind decides the path, not the product's mode now: a card order whose
/// product became direct, and a direct order whose product became card (with cards in stock),
/// both wait for an operator with a reason, and no card leaves the stock.
#[tokio::test]
async fn an_order_is_fulfilled_as_what_it_is_not_as_its_product_is_now() {
    let stage = Stage::new().await;
    let shop = shop(&stage.pool).await;
    let was_card = product(&stage.pool, "WasCard", StockPolicy::Fail, 0, None).await;
    let now_card = product(&stage.pool, "NowCard", StockPolicy::Fail, 0, None).await;
    cards(&stage.pool, was_card, "A", 2).await;
    cards(&stage.pool, now_card, "B", 2).await;
    // A card order of a product switched to direct charge since.
    let card_order = orders(&stage.pool, shop, was_card, 800, &[1]).await;
    sqlx::query("UPDATE products SET mode = 'direct_manual' WHERE id = ?")
        .bind(was_card)
        .execute(&stage.pool)
        .await
        .unwrap();
    // A direct order of a product that is a card product now.
    let direct_order = orders(&stage.pool, shop, now_card, 900, &[1]).await;
    sqlx::query("UPDATE orders SET order_kind = 'direct', recharge_account = 'acc' WHERE id = ?")
        .bind(direct_order[0])
        .execute(&stage.pool)
        .await
        .unwrap();
    let all = [card_order[0], direct_order[0]];
    publish(&stage.prefix, &all, 2).await;
    let mut p = Proc::spawn("fulfillment", &stage.env());
    p.wait_ready(Duration::from_secs(30)).await;
    wait_until(
        &stage.pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'awaiting_manual'",
        2,
        Duration::from_secs(20),
    )
    .await;
    for (id, want) in [
        (
            card_order[0],
            "订单为卡密订单，但商品「WasCard」现为人工直充模式",
        ),
        (
            direct_order[0],
            "订单为直充订单，但商品「NowCard」现为卡密模式",
        ),
    ] {
        let notes: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT to_status, note FROM order_events WHERE order_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&stage.pool)
        .await
        .unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].0, "awaiting_manual");
        let note = notes[0].1.clone().unwrap_or_default();
        assert!(note.starts_with(want), "{note}");
        assert!(note.contains("请人工处理"), "{note}");
    }
    let sold: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE status <> 'available'")
        .fetch_one(&stage.pool)
        .await
        .unwrap();
    assert_eq!(sold, 0, "no card left the stock");
    let supplier_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM supplier_orders")
        .fetch_one(&stage.pool)
        .await
        .unwrap();
    assert_eq!(supplier_rows, 0);
    p.terminate().await;
    stage.cleanup().await;
}

/// Cards another transaction holds for a moment (here: locked as an operator's export locks its
/// batch) are waited for, not taken for missing: the order under the `fail` policy succeeds once
/// they are released instead of failing out of stock (JD would refund it).
#[tokio::test]
async fn cards_held_for_a_moment_do_not_fail_an_order_out_of_stock() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    let shop = shop(pool).await;
    let p = product(pool, "H", StockPolicy::Fail, 0, None).await;
    cards(pool, p, "H", 1).await;
    let mut proc_ = Proc::spawn("fulfillment", &stage.env());
    proc_.wait_ready(Duration::from_secs(30)).await;

    let mut holder = pool.begin().await.unwrap();
    let held: Vec<u64> = sqlx::query_scalar("SELECT id FROM cards WHERE product_id = ? FOR UPDATE")
        .bind(p)
        .fetch_all(&mut *holder)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let ids = orders(pool, shop, p, 900, &[1]).await;
    publish(&stage.prefix, &ids, 1).await;
    // The fulfilment waits on the held card (its blocking pick shows in the process list).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST
             WHERE INFO LIKE '%FROM cards%FOR UPDATE%' AND INFO NOT LIKE '%SKIP LOCKED%'
               AND INFO NOT LIKE '%PROCESSLIST%'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
            .bind(ids[0])
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(status, "received", "decided while the card was only held");
        if waiting > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fulfilment never waited for the held card"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    holder.rollback().await.unwrap();
    wait_until(
        pool,
        "SELECT COUNT(*) FROM orders WHERE status = 'succeeded'",
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_exactly_once(pool).await;
    proc_.terminate().await;
    stage.cleanup().await;
}
