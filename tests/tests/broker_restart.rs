//! RabbitMQ restarts while JD callbacks wait for their retries. A test binary of its own: cargo
//! runs test binaries one after another, so nothing else uses the local broker while this one
//! stops and starts it (`rabbitmqctl stop_app` / `start_app` through `system_tests::infra`;
//! needs rabbitmqctl and root: as root it runs rabbitmqctl directly, otherwise through `sudo -n`,
//! which scripts/test.sh keeps authorised; it fails, saying so, without them).
//!
//! The real `notifier` binary keeps running throughout: retries go on from the database while the
//! broker is down, orders completed meanwhile are called back without waiting for it (their
//! final transition scheduled them), its connection comes back, the `order.completed` messages
//! written while the broker was down (and after) are published and consumed, and every order is
//! delivered exactly once with valid signatures.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::db::Pool;
use common::domain::{FailureReason, Platform};
use system_tests::Stage;
use system_tests::fake_jd::{
    Hit, Jd, Seed, card_product, final_order, game_shop, general_shop, notifier,
};
use system_tests::infra::{BrokerGuard, rabbitmqctl, wait_amqp};

/// (notify_status, notify_attempts) of every order.
async fn states(pool: &Pool, ids: &[u64]) -> Vec<(u64, String, i32)> {
    let mut out = Vec::new();
    for &id in ids {
        let (status, attempts): (String, i32) =
            sqlx::query_as("SELECT notify_status, notify_attempts FROM orders WHERE id = ?")
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap();
        out.push((id, status, attempts));
    }
    out
}

/// The JD order number a callback is about (通用交易 `jdOrderNo`, 游戏点卡 `data.orderId`).
fn jd_order_no(h: &Hit) -> String {
    h.get("jdOrderNo")
        .map(str::to_owned)
        .or_else(|| {
            h.data
                .as_ref()
                .and_then(|d| d["orderId"].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| panic!("callback without an order number: {:?}", h.fields))
}

struct Shops {
    general: u64,
    game: u64,
    general_cards: u64,
    game_cards: u64,
}

/// Four final orders (both platforms, card success and failure) with their messages; returns
/// (id, JD order number).
async fn seed_batch(pool: &Pool, jd: &Jd, shops: &Shops, first_no: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for i in 0..4u64 {
        let no = (first_no + i).to_string();
        let general = i % 2 == 0;
        let card = i < 2;
        let (id, _) = final_order(
            pool,
            Seed {
                platform: if general {
                    Platform::JdGeneral
                } else {
                    Platform::JdGame
                },
                shop: if general { shops.general } else { shops.game },
                platform_no: &no,
                kind: if card {
                    common::domain::OrderKind::Card
                } else {
                    common::domain::OrderKind::Direct
                },
                product: card.then_some(if general {
                    shops.general_cards
                } else {
                    shops.game_cards
                }),
                quantity: 1,
                failure: (!card).then_some(FailureReason::SupplierBalance),
                notify_url: general.then(|| format!("{}/vtp", jd.url)),
            },
        )
        .await;
        out.push((id, no));
    }
    out
}

#[tokio::test]
async fn notifier_survives_a_rabbitmq_restart_with_retries_pending() {
    // Fails here, before anything else, when rabbitmqctl cannot reach the broker.
    rabbitmqctl(&["await_startup", "--timeout", "60"]).await;
    let stage = Stage::new().await;
    let pool = &stage.pool;
    // JD is down (HTTP 500) until told otherwise.
    let jd = Jd::start(u32::MAX, "0").await;
    let shops = Shops {
        general: general_shop(pool, "general").await,
        game: game_shop(pool, &jd).await,
        general_cards: card_product(pool, "g", 10, Platform::JdGeneral).await,
        game_cards: card_product(pool, "k", 10, Platform::JdGame).await,
    };
    let before = seed_batch(pool, &jd, &shops, 70_001).await;
    // Retries every second for over a minute; no sweep. Orders are scheduled by their final
    // transition (the fixture does what it does) and their messages only wake the sender, so
    // the end of the test checks that the messages themselves made it through the restart.
    let schedule = format!("300ms,500ms{}", ",1s".repeat(70));
    let mut proc_ = notifier(
        &stage,
        &[
            ("NOTIFY_SCHEDULE", schedule.as_str()),
            // Short enough that a fake JD frozen while the broker restarts (the test runtime
            // blocked, as it once was, for 2 to 13 s) shows up as callbacks JD never saw.
            ("NOTIFY_HTTP_TIMEOUT_MS", "5000"),
            ("NOTIFY_SWEEP_MS", "3600000"),
            ("NOTIFY_SWEEP_GRACE_MS", "3600000"),
        ],
    )
    .await;

    // Retries pending: every order of the first batch failed at least twice.
    let ids: Vec<u64> = before.iter().map(|(id, _)| *id).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = states(pool, &ids).await;
        if s.iter().all(|(_, st, n)| st == "pending" && *n >= 2) {
            break;
        }
        assert!(Instant::now() < deadline, "retries not pending: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let guard = BrokerGuard;
    rabbitmqctl(&["stop_app"]).await;
    let down_at = Instant::now();
    // Completed while the broker is down: their messages wait in the outbox.
    let during = seed_batch(pool, &jd, &shops, 71_001).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        proc_.child.try_wait().unwrap().is_none(),
        "the notifier exited while the broker was down"
    );
    let start_at = Instant::now();
    rabbitmqctl(&["start_app"]).await;
    rabbitmqctl(&["await_startup", "--timeout", "60"]).await;
    wait_amqp(Duration::from_secs(60)).await;
    let up_at = Instant::now();
    eprintln!(
        "RabbitMQ was stopped for {:?}",
        up_at.duration_since(down_at)
    );
    // Completed after the broker is back.
    let after = seed_batch(pool, &jd, &shops, 72_001).await;
    // JD recovers after a few more failures.
    let seen = jd.hits().len() as u32;
    jd.fail_first.store(seen + 3, Ordering::SeqCst);

    let all: Vec<(u64, String)> = before
        .iter()
        .chain(&during)
        .chain(&after)
        .cloned()
        .collect();
    let ids: Vec<u64> = all.iter().map(|(id, _)| *id).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let s = states(pool, &ids).await;
        if s.iter().all(|(_, st, _)| st == "delivered") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every order delivered after the broker restart: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every order.completed message, also those written while the broker was down, was
    // published after the restart (the outbox is empty) and consumed (the queue is empty).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(pool)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} outbox rows never published after the broker restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    system_tests::wait_queue_empty(
        &format!("{}notifier.callbacks", stage.prefix),
        Duration::from_secs(30),
    )
    .await;
    // Late duplicates would arrive now.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert!(
        proc_.child.try_wait().unwrap().is_none(),
        "the notifier survived the broker restart"
    );
    let client = reqwest::Client::new();
    let ready = client.get(proc_.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status().as_u16(),
        200,
        "the broker connection is back"
    );

    let hits = jd.hits();
    assert!(
        hits.iter().all(|h| h.sign_ok),
        "every callback's signature verifies"
    );
    assert!(
        hits.iter()
            .any(|h| h.at > down_at && h.at < up_at && h.failed),
        "retries went on from the database while the broker was down"
    );
    let mut by_order: HashMap<String, Vec<&Hit>> = HashMap::new();
    for h in &hits {
        by_order.entry(jd_order_no(h)).or_default().push(h);
    }
    assert_eq!(
        by_order.len(),
        all.len(),
        "callbacks only for the seeded orders"
    );
    for (id, no) in &all {
        let got = by_order
            .get(no)
            .unwrap_or_else(|| panic!("no callback for {no}"));
        let delivered = got.iter().filter(|h| !h.failed).count();
        assert_eq!(delivered, 1, "order {no}: delivered exactly once");
        assert!(
            !got.last().unwrap().failed,
            "order {no}: nothing after delivery"
        );
        let (attempts,): (i32,) = sqlx::query_as("SELECT notify_attempts FROM orders WHERE id = ?")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        let logged = common::db::notify::attempts(pool, *id).await.unwrap();
        assert_eq!(
            (attempts as usize, logged.len()),
            (got.len(), got.len()),
            "order {no}: (notify_attempts, attempts logged) must both equal the callbacks JD \
             received: every callback recorded once"
        );
        assert_eq!(
            logged.last().unwrap().outcome,
            common::domain::AttemptOutcome::Delivered
        );
    }
    // The orders completed while the broker was down were scheduled by their final transition:
    // their callbacks did not wait for the broker (their messages, published once it was back,
    // only wake the sender).
    for (_, no) in &during {
        let first = by_order[no][0];
        assert!(
            first.at < start_at,
            "order {no} completed while the broker was down was first called back only after it \
             came back"
        );
    }

    let status = proc_.terminate().await;
    assert!(
        status.success(),
        "clean shutdown after the restart: {status}"
    );
    drop(guard);
    stage.cleanup().await;
}
