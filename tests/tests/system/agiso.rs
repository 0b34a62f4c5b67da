//! agiso-sync against a fake Agiso gateway ([`system_tests::fake_agiso`]): a real HTTP server
//! that checks every call as Agiso does (Bearer token, `ApiVersion: 1`, form encoding, the
//! signature) and serves paging, code 2, code 16 and −50. Pushes are signed as Agiso signs
//! them. The real `agiso-sync` and `fulfillment` binaries run against the stage's database and
//! queues.

use std::time::{Duration, Instant};

use common::db::Pool;
use common::domain::{FulfilmentMode, OrderStatus, Platform};
use common::testing::fixtures::{Product, Shop, import_cards, numbered_cards};
use serde_json::{Value, json};
use system_tests::back_office::{BackOffice, create_user};
use system_tests::fake_agiso::{
    ACCESS_TOKEN, APP_SECRET, FakeAgiso, Push, envelope_error, now_secs,
};
use system_tests::{Proc, Stage};

const APP_ID: &str = "20261202";
const OPERATOR_TOKEN: &str = "operator-token-0123456789";

pub(crate) async fn agiso_shop(pool: &Pool, fake: &FakeAgiso, service: &str) -> u64 {
    Shop::agiso(&format!("agiso-{service}"), APP_ID, service)
        .agiso_secrets(APP_SECRET, ACCESS_TOKEN)
        .with(|s| s.base_url = Some(fake.url.clone()))
        .insert(pool)
        .await
}

/// A product of `mode` mapped to Agiso SKU `sku`, with `cards` cards in stock.
pub(crate) async fn product(
    pool: &Pool,
    name: &str,
    mode: FulfilmentMode,
    sku: &str,
    cards: usize,
) -> u64 {
    let id = Product::new(name, mode)
        .sku(Platform::Agiso, sku)
        .insert(pool)
        .await;
    if cards > 0 {
        import_cards(pool, id, "b1", &numbered_cards(&format!("{name}-"), cards)).await;
    }
    id
}

pub(crate) fn agiso_env(stage: &Stage, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = stage.env();
    for (k, v) in [
        ("AGISO_DELIVERY_SCHEDULE", "200ms,200ms,200ms"),
        ("AGISO_DELIVERY_POLL_MS", "100"),
        ("AGISO_DELIVERY_LEASE_MS", "1500"),
        ("AGISO_POLL_INTERVAL_SECS", "0"),
        ("AGISO_SHOP_CACHE_TTL_MS", "0"),
        ("AGISO_OPERATOR_TOKEN", OPERATOR_TOKEN),
    ] {
        env.push((k.into(), v.into()));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

pub(crate) async fn start(name: &str, env: &[(String, String)]) -> Proc {
    let mut p = Proc::spawn(name, env);
    p.wait_ready(Duration::from_secs(30)).await;
    p
}

pub(crate) fn taobao_trade(tid: u64, oid: u64, sku: &str, num: i32, payment: &str) -> Value {
    json!({"Tid": tid, "Status": "WAIT_SELLER_SEND_GOODS", "Orders": [
        {"Oid": oid, "NumIid": 600000000001u64, "OuterIid": sku, "Num": num, "Payment": payment, "Title": "卡"}
    ]})
}

pub(crate) fn taobao_push(trade: &Value) -> Push {
    Push {
        from_platform: "TbAlds",
        aopic: 2,
        timestamp: now_secs(),
        json: trade.to_string(),
    }
}

pub(crate) async fn count(pool: &Pool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits until the order of `platform_no` has `notify_status` = `want`; returns its id.
pub(crate) async fn wait_notify(
    pool: &Pool,
    platform_no: &str,
    want: &str,
    within: Duration,
) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let row: Option<(u64, String, String)> = sqlx::query_as(
            "SELECT id, status, notify_status FROM orders WHERE platform = 'agiso' AND platform_order_no = ?",
        )
        .bind(platform_no)
        .fetch_optional(pool)
        .await
        .unwrap();
        if let Some((id, _, notify)) = &row
            && notify == want
        {
            return *id;
        }
        assert!(
            Instant::now() < deadline,
            "order {platform_no} never reached {want}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cards sold to an order, in clear (card number, password).
pub(crate) async fn sold(pool: &Pool, order_id: u64) -> Vec<(String, String)> {
    let order = common::db::orders::get(pool, order_id)
        .await
        .unwrap()
        .unwrap();
    match common::db::cards::for_success(pool, &common::testing::master_key(), &order, "test")
        .await
        .unwrap()
    {
        common::db::cards::SuccessCards::Complete(cards) => {
            cards.into_iter().map(|c| (c.card_no, c.password)).collect()
        }
        other => panic!("order {order_id}: {other:?}"),
    }
}

#[tokio::test]
async fn agiso_taobao_card_push_is_filled_and_delivered_with_exactly_its_cards() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "alds").await;
    product(pool, "tb", FulfilmentMode::Card, "TB-CARD", 5).await;
    let env = agiso_env(&stage, &[]);
    let _agiso = start("agiso-sync", &env).await;
    let _fulfil = start("fulfillment", &stage.env()).await;
    let agiso_url = _agiso.url("/api/agiso/push");

    let trade = taobao_trade(
        3130073692357778123,
        3130073692357778124,
        "TB-CARD",
        2,
        "19.98",
    );
    let client = reqwest::Client::new();
    let (status, body) = taobao_push(&trade)
        .send(&client, &agiso_url, APP_SECRET)
        .await;
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "§7.3: 200 with an empty body"
    );

    let id = wait_notify(
        pool,
        "3130073692357778124",
        "delivered",
        Duration::from_secs(30),
    )
    .await;
    let order = common::db::orders::get(pool, id).await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Succeeded);
    assert_eq!(order.quantity, 2);
    assert_eq!(order.total_price_fen, 1998, "amounts in fen, exactly");

    let results = fake.calls_to("/alds/Trade/CreateOrderResult");
    assert_eq!(results.len(), 1, "the cards are stored once");
    assert!(results[0].problem.is_none(), "{:?}", results[0].problem);
    assert_eq!(results[0].get("tid"), Some("3130073692357778123"));
    let content: Value = serde_json::from_str(results[0].get("content").unwrap()).unwrap();
    assert_eq!(content[0]["Oid"], json!(3130073692357778124u64));
    let sent = results[0].handed_cards();
    assert_eq!(
        sent,
        sold(pool, id).await,
        "exactly the cards sold to the order"
    );
    assert_eq!(
        fake.shipped("/alds/Trade/LogisticsDummySend", "3130073692357778123"),
        1
    );
    assert!(
        fake.calls().iter().all(|c| c.problem.is_none()),
        "every call well-formed"
    );
    // Every call is logged, cards masked.
    let logged: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT target, request_body FROM callback_attempts WHERE order_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(logged.len(), 2, "{logged:?}");
    for (target, body) in &logged {
        assert_eq!(target, "agiso");
        for (card, pass) in &sent {
            assert!(
                !body.as_deref().unwrap_or("").contains(card.as_str()),
                "card masked"
            );
            assert!(
                !body.as_deref().unwrap_or("").contains(pass.as_str()),
                "password masked"
            );
        }
    }
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_the_same_push_ten_times_then_polled_is_one_order_and_one_delivery() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "alds").await;
    product(pool, "dup", FulfilmentMode::Card, "DUP-1", 5).await;
    let env = agiso_env(&stage, &[]);
    let agiso = start("agiso-sync", &env).await;
    let _fulfil = start("fulfillment", &stage.env()).await;
    let trade = taobao_trade(5001, 5002, "DUP-1", 1, "10.00");
    let push = taobao_push(&trade);
    let url = agiso.url("/api/agiso/push");
    let client = reqwest::Client::new();
    let answers =
        futures_util::future::join_all((0..10).map(|_| push.send(&client, &url, APP_SECRET))).await;
    assert!(
        answers.iter().all(|(s, b)| *s == 200 && b.is_empty()),
        "{answers:?}"
    );
    // The backstop poll finds the same trade again (a page of filler trades first, so it pages).
    for i in 0..100u64 {
        fake.add_paid_trade(taobao_trade(9000 + i, 19000 + i, "NOT-MAPPED", 1, "1.00"));
    }
    fake.add_paid_trade(trade.clone());
    let polled: Value = client
        .post(agiso.url("/api/agiso/pull"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(polled["ok"], json!(true), "{polled}");
    assert_eq!(
        polled["polled"]["pages"],
        json!(2),
        "pages until a short page: {polled}"
    );
    assert_eq!(polled["polled"]["trades"], json!(101), "{polled}");
    let pulls = fake.calls_to("/alds/Trade/TradesBuyerPay");
    assert_eq!(pulls[0].get("pageNo"), Some("1"));
    assert_eq!(pulls[1].get("pageNo"), Some("2"));
    assert!(pulls[0].get("modifyTimeStart").is_some());

    wait_notify(pool, "5002", "delivered", Duration::from_secs(30)).await;
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM orders WHERE platform_order_no = '5002'"
        )
        .await,
        1,
        "one order"
    );
    assert_eq!(
        fake.shipped("/alds/Trade/LogisticsDummySend", "5001"),
        1,
        "one delivery"
    );
    assert_eq!(
        fake.calls_to("/alds/Trade/CreateOrderResult")
            .iter()
            .filter(|c| c.get("tid") == Some("5001"))
            .count(),
        1
    );
    // The unmapped polled trades wait for an operator, never dropped.
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM orders WHERE platform = 'agiso' AND status = 'awaiting_manual'"
        )
        .await,
        100
    );
    let note: String = sqlx::query_scalar(
        "SELECT e.note FROM order_events e JOIN orders o ON o.id = e.order_id
         WHERE o.platform_order_no = '19000' AND e.to_status = 'awaiting_manual'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(note, "未关联商品");
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_push_with_a_bad_signature_or_a_stale_timestamp_is_refused_and_stores_nothing() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "alds").await;
    product(pool, "bad", FulfilmentMode::Card, "BAD-1", 1).await;
    let agiso = start("agiso-sync", &agiso_env(&stage, &[])).await;
    let url = agiso.url("/api/agiso/push");
    let client = reqwest::Client::new();
    let trade = taobao_trade(7001, 7002, "BAD-1", 1, "1.00");
    let (status, body) = taobao_push(&trade)
        .send(&client, &url, "not-the-secret")
        .await;
    assert_eq!((status, body.as_str()), (403, "验签失败"));
    for stale in [
        (chrono::Utc::now().timestamp() - 11 * 60).to_string(),
        (chrono::Utc::now().timestamp_millis() + 11 * 60 * 1000).to_string(),
        "11222212121".to_owned(),
    ] {
        let push = Push {
            timestamp: stale.clone(),
            ..taobao_push(&trade)
        };
        let (status, body) = push.send(&client, &url, APP_SECRET).await;
        assert_eq!((status, body.as_str()), (403, "时间戳无效"), "{stale}");
    }
    // Milliseconds within the window are accepted.
    let push = Push {
        timestamp: chrono::Utc::now().timestamp_millis().to_string(),
        ..taobao_push(&taobao_trade(7003, 7004, "BAD-1", 1, "1.00"))
    };
    assert_eq!(push.send(&client, &url, APP_SECRET).await.0, 200);
    assert_eq!(
        count(pool, "SELECT COUNT(*) FROM agiso_events WHERE tid = '7001'").await,
        0
    );
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM orders WHERE platform_order_no = '7002'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM orders WHERE platform_order_no = '7004'"
        )
        .await,
        1
    );
    // Malformed: no sign at all.
    let r = client
        .post(format!("{url}?fromPlatform=TbAlds&timestamp=1&aopic=2"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("json=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_rate_limit_then_success_delivers_once_and_code_16_stops_for_an_operator() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "alds").await;
    product(pool, "rl", FulfilmentMode::Card, "RL-1", 5).await;
    let agiso = start("agiso-sync", &agiso_env(&stage, &[])).await;
    let _fulfil = start("fulfillment", &stage.env()).await;
    let client = reqwest::Client::new();
    let url = agiso.url("/api/agiso/push");

    fake.queue(
        "/alds/Trade/LogisticsDummySend",
        envelope_error(2, "接口调用频率超限", None),
    );
    taobao_push(&taobao_trade(8001, 8002, "RL-1", 1, "1.00"))
        .send(&client, &url, APP_SECRET)
        .await;
    let id = wait_notify(pool, "8002", "delivered", Duration::from_secs(30)).await;
    assert_eq!(fake.shipped("/alds/Trade/LogisticsDummySend", "8001"), 1);
    assert_eq!(
        fake.calls_to("/alds/Trade/LogisticsDummySend").len(),
        2,
        "code 2, then success"
    );
    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM callback_attempts WHERE order_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        outcomes.last().map(String::as_str),
        Some("delivered"),
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&"retry".to_owned()), "{outcomes:?}");

    // A business error Agiso marks retryable (AllowRetry) is retried too.
    fake.queue(
        "/alds/Trade/LogisticsDummySend",
        envelope_error(3, "业务异常", Some(true)),
    );
    taobao_push(&taobao_trade(8005, 8006, "RL-1", 1, "1.00"))
        .send(&client, &url, APP_SECRET)
        .await;
    wait_notify(pool, "8006", "delivered", Duration::from_secs(30)).await;
    assert_eq!(fake.shipped("/alds/Trade/LogisticsDummySend", "8005"), 1);
    assert_eq!(
        fake.calls_to("/alds/Trade/LogisticsDummySend")
            .iter()
            .filter(|c| c.get("tids") == Some("8005"))
            .count(),
        2,
        "AllowRetry, then success"
    );

    fake.queue(
        "/alds/Trade/LogisticsDummySend",
        envelope_error(16, "余额不足", Some(false)),
    );
    taobao_push(&taobao_trade(8003, 8004, "RL-1", 1, "1.00"))
        .send(&client, &url, APP_SECRET)
        .await;
    let id = wait_notify(pool, "8004", "giving_up", Duration::from_secs(30)).await;
    let reason: Option<String> =
        sqlx::query_scalar("SELECT notify_reason FROM orders WHERE id = ?")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    let reason = reason.unwrap_or_default();
    assert!(reason.contains("16") && reason.contains("余额"), "{reason}");
    assert_eq!(
        fake.calls_to("/alds/Trade/LogisticsDummySend")
            .iter()
            .filter(|c| c.get("tids") == Some("8003"))
            .count(),
        1,
        "no retry after 16"
    );
    // The same attempts in agiso-sync's metrics: one per decided attempt, by outcome.
    let page = reqwest::get(agiso.metrics_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (outcome, n) in [("retry", 2), ("delivered", 2), ("giving_up", 1)] {
        let series =
            format!("callback_attempts_total{{outcome=\"{outcome}\",target=\"agiso\"}} {n}\n");
        assert!(page.contains(&series), "{series}in:\n{page}");
    }
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_refund_before_fulfilment_cancels_the_order_and_no_card_leaves_stock() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "alds").await;
    let product_id = product(pool, "rf", FulfilmentMode::Card, "RF-1", 3).await;
    let agiso = start("agiso-sync", &agiso_env(&stage, &[])).await;
    let client = reqwest::Client::new();
    let url = agiso.url("/api/agiso/push");
    taobao_push(&taobao_trade(8101, 8102, "RF-1", 2, "2.00"))
        .send(&client, &url, APP_SECRET)
        .await;
    let refund = Push {
        from_platform: "TbAlds",
        aopic: 65536,
        timestamp: now_secs(),
        json: json!({"RefundId": "r-1", "Tid": 8101, "Oid": 8102, "RefundFee": "2.00"}).to_string(),
    };
    assert_eq!(refund.send(&client, &url, APP_SECRET).await.0, 200);
    // Fulfilment starts only now, with the order's message waiting in its queue.
    let _fulfil = start("fulfillment", &stage.env()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, notify, scheduled): (String, String, i64) = sqlx::query_as(
        "SELECT status, notify_status, CAST(notify_next_at IS NOT NULL AS SIGNED)
         FROM orders WHERE platform_order_no = '8102'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    // Cancelled in the transaction that failed it: its final transition's delivery schedule is
    // cleared with it (retention only purges unscheduled orders).
    assert_eq!(
        (status.as_str(), notify.as_str(), scheduled),
        ("failed", "not_required", 0)
    );
    assert_eq!(
        count(pool, &format!("SELECT COUNT(*) FROM cards WHERE product_id = {product_id} AND status = 'available'")).await,
        3,
        "no card left stock"
    );
    assert!(
        fake.calls().is_empty(),
        "nothing delivered: {:?}",
        fake.calls()
    );

    // A refund that arrives before its order (the paid push came late, or was lost and the
    // poll finds it): the order is created, but waits for an operator.
    let refund_first = Push {
        json: json!({"RefundId": "r-2", "Tid": 8201, "Oid": 8202, "RefundFee": "1.00"}).to_string(),
        timestamp: now_secs(),
        ..refund
    };
    assert_eq!(refund_first.send(&client, &url, APP_SECRET).await.0, 200);
    taobao_push(&taobao_trade(8201, 8202, "RF-1", 1, "1.00"))
        .send(&client, &url, APP_SECRET)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status: String =
        sqlx::query_scalar("SELECT status FROM orders WHERE platform_order_no = '8202'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(status, "awaiting_manual");
    assert_eq!(
        count(
            pool,
            &format!(
                "SELECT COUNT(*) FROM cards WHERE product_id = {product_id} AND status = 'available'"
            )
        )
        .await,
        3,
        "no card left stock for the refunded line"
    );
    assert!(
        fake.calls().is_empty(),
        "nothing delivered: {:?}",
        fake.calls()
    );
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_killed_between_the_call_and_its_record_ends_delivered_once() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "aldsJd").await;
    product(pool, "kill", FulfilmentMode::Card, "JD-KILL", 3).await;
    let _fulfil = start("fulfillment", &stage.env()).await;
    let mut agiso = start(
        "agiso-sync",
        &agiso_env(&stage, &[("AGISO_FAILPOINT", "abort-after-call")]),
    )
    .await;
    let client = reqwest::Client::new();
    let push = Push {
        from_platform: "AldsJd",
        aopic: 8,
        timestamp: now_secs(),
        json: json!({"OrderId": 88001, "OrderType": 2, "BuyNum": 2, "SkuId": "JD-KILL", "TotalPrice": "20.00"}).to_string(),
    };
    assert_eq!(
        push.send(&client, &agiso.url("/api/agiso/push"), APP_SECRET)
            .await
            .0,
        200
    );
    // The first CardSend reaches Agiso, then the process dies before recording it.
    let status = agiso.wait_exit(Duration::from_secs(30)).await;
    assert!(!status.success(), "aborted at the failpoint");
    assert_eq!(fake.shipped("/aldsJd/GameCard/CardSend", "88001"), 1);
    let _again = start("agiso-sync", &agiso_env(&stage, &[])).await;
    let id = wait_notify(pool, "88001", "delivered", Duration::from_secs(30)).await;
    assert_eq!(
        fake.shipped("/aldsJd/GameCard/CardSend", "88001"),
        1,
        "delivered once"
    );
    let sends = fake.calls_to("/aldsJd/GameCard/CardSend");
    assert_eq!(sends.len(), 2, "the repeat was answered −50");
    let cards: Value = serde_json::from_str(sends[0].get("cardJson").unwrap()).unwrap();
    let sent: Vec<(String, String)> = cards
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cardno"].as_str().unwrap().to_owned(),
                c["cardpass"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(sent, sold(pool, id).await);
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_jd_orders_are_answered_by_their_type() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso_shop(pool, &fake, "aldsJd").await;
    product(pool, "jdc", FulfilmentMode::Card, "JD-CARD", 2).await;
    product(pool, "jdr", FulfilmentMode::DirectManual, "JD-TOPUP", 0).await;
    product(pool, "jdv", FulfilmentMode::DirectManual, "JD-VTP", 0).await;
    let agiso = start("agiso-sync", &agiso_env(&stage, &[])).await;
    let _fulfil = start("fulfillment", &stage.env()).await;
    let client = reqwest::Client::new();
    let url = agiso.url("/api/agiso/push");
    for (aopic, payload) in [
        (
            8,
            json!({"OrderId": 91001, "OrderType": 2, "BuyNum": 1, "SkuId": "JD-CARD", "TotalPrice": "10.00"}),
        ),
        (
            8,
            json!({"OrderId": 91002, "OrderType": 1, "BuyNum": 1, "SkuId": "JD-TOPUP", "GameAccount": "player-1"}),
        ),
        (
            16,
            json!({"JdOrderNo": 91003, "Quantity": 1, "SkuId": "JD-VTP", "ProduceAccount": "13800000000", "TotalPrice": 1000}),
        ),
    ] {
        let push = Push {
            from_platform: "AldsJd",
            aopic,
            timestamp: now_secs(),
            json: payload.to_string(),
        };
        assert_eq!(push.send(&client, &url, APP_SECRET).await.0, 200);
    }
    // The two top-ups wait for an operator; complete them as the back office does.
    for no in ["91002", "91003"] {
        let deadline = Instant::now() + Duration::from_secs(20);
        let id = loop {
            let row: Option<(u64, String)> = sqlx::query_as(
                "SELECT id, status FROM orders WHERE platform_order_no = ? AND status = 'awaiting_manual'",
            )
            .bind(no)
            .fetch_optional(pool)
            .await
            .unwrap();
            if let Some((id, _)) = row {
                break id;
            }
            assert!(
                Instant::now() < deadline,
                "{no} never waited for an operator"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut tx = pool.begin().await.unwrap();
        common::db::orders::finish_succeeded(
            &mut tx,
            common::db::orders::Ending::here(id, Platform::Agiso),
            OrderStatus::AwaitingManual,
            "operator",
            Some("已人工充值"),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    for no in ["91001", "91002", "91003"] {
        wait_notify(pool, no, "delivered", Duration::from_secs(30)).await;
    }
    assert_eq!(fake.shipped("/aldsJd/GameCard/CardSend", "91001"), 1);
    assert_eq!(fake.shipped("/aldsJd/GameCard/RechargeSend", "91002"), 1);
    assert_eq!(fake.shipped("/aldsJd/Vtp/Send", "91003"), 1);
    assert_eq!(fake.calls().len(), 3, "one call each: {:?}", fake.calls());
    let account: Option<String> =
        sqlx::query_scalar("SELECT recharge_account FROM orders WHERE platform_order_no = '91002'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(account.as_deref(), Some("player-1"));
    stage.cleanup().await;
}

#[tokio::test]
async fn agiso_without_a_shop_is_ready_and_idle() {
    let stage = Stage::new().await;
    let agiso = start("agiso-sync", &agiso_env(&stage, &[])).await;
    let client = reqwest::Client::new();
    let trade = taobao_trade(1, 2, "X", 1, "1.00");
    let (status, body) = taobao_push(&trade)
        .send(&client, &agiso.url("/api/agiso/push"), APP_SECRET)
        .await;
    assert_eq!((status, body.as_str()), (403, "验签失败"));
    let r = client
        .post(agiso.url("/api/agiso/pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        401,
        "operator endpoints need the token"
    );
    assert_eq!(
        count(&stage.pool, "SELECT COUNT(*) FROM agiso_events").await,
        0
    );
    stage.cleanup().await;
}

/// The back office's 阿奇索 buttons drive the real agiso-sync against the fake Agiso: the order
/// page shows the tid and its push, 立即发货 delivers again, 拉取订单 and 余额自检 answer with
/// their results, and the stock page lists Agiso's categories beside our own stock. Every action
/// is audited.
#[tokio::test]
async fn agiso_back_office_buttons_drive_agiso_sync() {
    let stage = Stage::new().await;
    let fake = FakeAgiso::start().await;
    let pool = &stage.pool;
    let shop = agiso_shop(pool, &fake, "alds").await;
    product(pool, "bo-card", FulfilmentMode::Card, "TB-BO", 5).await;
    fake.set_categories(vec![
        json!({"IdNo": 901, "Title": "后台测试分类", "TotalNum": 10, "UsedNum": 4}),
    ]);
    let env = agiso_env(&stage, &[]);
    let agiso = start("agiso-sync", &env).await;
    let _fulfil = start("fulfillment", &stage.env()).await;

    let trade = taobao_trade(
        3130073692357779001,
        3130073692357779002,
        "TB-BO",
        2,
        "19.98",
    );
    let client = reqwest::Client::new();
    let (status, _) = taobao_push(&trade)
        .send(&client, &agiso.url("/api/agiso/push"), APP_SECRET)
        .await;
    assert_eq!(status, 200);
    let id = wait_notify(
        pool,
        "3130073692357779002",
        "delivered",
        Duration::from_secs(30),
    )
    .await;

    create_user(&stage, "ops", "operator", "operator-pass-1");
    let mut admin_env = stage.env();
    admin_env.push(("AGISO_SYNC_URL".into(), agiso.url("")));
    admin_env.push(("AGISO_OPERATOR_TOKEN".into(), OPERATOR_TOKEN.into()));
    let admin = start("admin", &admin_env).await;
    let b = BackOffice::login(admin.url(""), "ops", "operator-pass-1").await;

    // The order page: the tid and its push event, with the two buttons.
    let (status, page) = b.get(&format!("/admin/orders/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("3130073692357779001"), "the tid");
    assert!(page.contains("推送"), "the push event");
    assert!(page.contains(&format!("/admin/orders/{id}/agiso/deliver")));
    assert!(page.contains(&format!("/admin/orders/{id}/agiso/status")));
    assert!(!page.contains("未配置 AGISO_SYNC_URL"));

    // 立即发货: agiso-sync ships the trade again (Agiso answers −50, already shipped).
    let sends = || fake.calls_to("/alds/Trade/LogisticsDummySend").len();
    let before = sends();
    let (status, _) = b.press(&format!("/admin/orders/{id}/agiso/deliver")).await;
    assert_eq!(status, 303);
    let deadline = Instant::now() + Duration::from_secs(20);
    while sends() <= before {
        assert!(Instant::now() < deadline, "立即发货 never reached Agiso");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, page) = b.get(&format!("/admin/orders/{id}")).await;
    assert!(page.contains("已通知阿奇索同步服务立即发货"), "the flash");

    // 查询发货状态: Agiso's view, shown in the answer.
    fake.set_jd_detail("3130073692357779001", trade.clone());
    let (status, page) = b.press(&format!("/admin/orders/{id}/agiso/status")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("阿奇索订单详情") && page.contains("WAIT_SELLER_SEND_GOODS"));

    // 拉取订单 and 余额自检: their results as the next page's message.
    let pulls = fake.calls_to("/alds/Trade/TradesBuyerPay").len();
    let (status, _) = b.press(&format!("/admin/agiso/shops/{shop}/pull")).await;
    assert_eq!(status, 303);
    assert!(fake.calls_to("/alds/Trade/TradesBuyerPay").len() > pulls);
    let (_, page) = b.get("/admin/agiso").await;
    assert!(page.contains("已拉取订单：1 个店铺"), "{page}");
    let (status, _) = b.press(&format!("/admin/agiso/shops/{shop}/balance")).await;
    assert_eq!(status, 303);
    let (_, page) = b.get("/admin/agiso").await;
    assert!(page.contains("余额 123.45 元"), "{page}");

    // 查询卡密库存: Agiso's categories beside our stock (5 imported, 2 sold).
    let (status, page) = b.press(&format!("/admin/agiso/shops/{shop}/stock")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("后台测试分类"));
    assert!(
        page.contains("<td class=\"num\">6</td>"),
        "available 10 − 4"
    );
    assert!(page.contains("bo-card") && page.contains("TB-BO"));

    // A page GET calls nothing: only the buttons did.
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'agiso.%' AND username = 'ops'"
        )
        .await,
        5,
        "every button audited"
    );
    assert!(!page.contains(APP_SECRET) && !page.contains(ACCESS_TOKEN));
}
