//! The notifier against a fake JD ([`system_tests::fake_jd`]): a real HTTP server that checks
//! every callback's signature (written independently of the service), decrypts `product` with the
//! spec's AES algorithm and decodes the GBK `data`. Orders are seeded final in the database with
//! their `order.completed` outbox message, which the notifier's own relay publishes (or without
//! it, for the sweep).
//!
//! A RabbitMQ restart while retries are pending is tested alone, in `tests/broker_restart.rs`
//! (other tests share the broker).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::crypto::JdAesKey;
use common::domain::{AttemptOutcome, FailureReason, Platform};
use common::protocol::jd_general::decrypt_cards;
use system_tests::fake_jd::{
    AES_KEY, CUSTOMER, Jd, Seed, VENDOR, card_product, final_order, final_order_unscheduled,
    game_shop, general_shop, notifier, notify_state, wait_status,
};
use system_tests::{Proc, Stage};

/// Card orders claimed together have their cards read together (one statement for the whole
/// claim): each callback still carries exactly the cards sold to its own order, whatever the
/// products and quantities next to it.
#[tokio::test]
async fn notifier_callbacks_claimed_together_carry_each_orders_own_cards() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let shop = general_shop(pool, "general").await;
    let a = card_product(pool, "a", 5, Platform::JdGeneral).await;
    let b = card_product(pool, "b", 5, Platform::JdGeneral).await;
    let seed = |no, product, quantity, failure| Seed {
        platform: Platform::JdGeneral,
        shop,
        platform_no: no,
        kind: common::domain::OrderKind::Card,
        product: Some(product),
        quantity,
        failure,
        notify_url: Some(format!("{}/vtp", jd.url)),
    };
    // All final before the notifier starts: its first claim takes them all.
    let mut orders = Vec::new();
    for (no, product, quantity, failure) in [
        ("20001", a, 2, None),
        ("20002", b, 3, None),
        ("20003", a, 1, Some(FailureReason::OutOfStock)),
        ("20004", a, 1, None),
        ("20005", b, 1, None),
    ] {
        let (id, _) = final_order(pool, seed(no, product, quantity, failure)).await;
        orders.push((id, no, failure.is_none()));
    }
    let mut proc_ = notifier(&stage, &[]).await;
    for (id, ..) in &orders {
        wait_status(pool, *id, "delivered", Duration::from_secs(20)).await;
    }

    let hits = jd.hits();
    assert_eq!(hits.len(), orders.len(), "one callback per order");
    let aes = JdAesKey::new(AES_KEY).unwrap();
    let key = common::testing::master_key();
    for (id, no, succeeded) in &orders {
        let hit = hits
            .iter()
            .find(|h| h.get("jdOrderNo") == Some(*no))
            .unwrap_or_else(|| panic!("no callback for {no}"));
        assert!(hit.sign_ok);
        let sent: Vec<String> = hit
            .get("product")
            .map(|p| decrypt_cards(p, &aes).unwrap())
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.card_number)
            .collect();
        let own: Vec<String> = common::db::cards::issued_to_order(pool, &key, *id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.card_no)
            .collect();
        assert_eq!(sent, own, "order {no}: exactly its own cards");
        assert_eq!(sent.is_empty(), !succeeded, "order {no}");
    }

    proc_.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_jd_general_card_success_and_failure_are_delivered() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let shop = general_shop(pool, "general").await;
    let product = card_product(pool, "g", 2, Platform::JdGeneral).await;
    // notifyUrl with a trailing slash: the callback goes to <it>/produce/result, no double slash.
    let notify_url = format!("{}/vtp/", jd.url);
    let (ok_id, ok_no) = final_order(
        pool,
        Seed {
            platform: Platform::JdGeneral,
            shop,
            platform_no: "10002",
            kind: common::domain::OrderKind::Card,
            product: Some(product),
            quantity: 2,
            failure: None,
            notify_url: Some(notify_url.clone()),
        },
    )
    .await;
    let (failed_id, failed_no) = final_order(
        pool,
        Seed {
            platform: Platform::JdGeneral,
            shop,
            platform_no: "10003",
            kind: common::domain::OrderKind::Direct,
            product: None,
            quantity: 1,
            failure: Some(FailureReason::AccountInvalid),
            notify_url: Some(notify_url),
        },
    )
    .await;
    let mut proc_ = notifier(&stage, &[]).await;
    wait_status(pool, ok_id, "delivered", Duration::from_secs(20)).await;
    wait_status(pool, failed_id, "delivered", Duration::from_secs(20)).await;

    let hits = jd.hits();
    assert_eq!(hits.len(), 2, "one callback per order");
    let aes = JdAesKey::new(AES_KEY).unwrap();
    for h in &hits {
        assert_eq!(h.path, "/vtp/produce/result");
        assert!(h.sign_ok, "signature verifies: {:?}", h.fields);
        assert_eq!(h.get("vendorId"), Some(VENDOR));
        let ts = h.get("timestamp").unwrap();
        assert!(
            ts.len() == 14 && ts.bytes().all(|b| b.is_ascii_digit()),
            "{ts}"
        );
        match h.get("jdOrderNo") {
            Some("10002") => {
                assert_eq!(h.get("agentOrderNo"), Some(ok_no.as_str()));
                assert_eq!(h.get("produceStatus"), Some("1"));
                assert_eq!(h.get("quantity"), Some("2"));
                let cards = decrypt_cards(h.get("product").expect("product"), &aes).unwrap();
                let pairs: Vec<(String, String, String)> = cards
                    .into_iter()
                    .map(|c| (c.card_number, c.password, c.expiry_date))
                    .collect();
                assert_eq!(
                    pairs,
                    vec![
                        ("C-g-0".into(), "P-g-0".into(), "2099-12-31".into()),
                        ("C-g-1".into(), "P-g-1".into(), "2099-12-31".into()),
                    ]
                );
            }
            Some("10003") => {
                assert_eq!(h.get("agentOrderNo"), Some(failed_no.as_str()));
                assert_eq!(h.get("produceStatus"), Some("2"));
                assert_eq!(h.get("product"), None, "no product on failure");
            }
            other => panic!("unexpected jdOrderNo {other:?}"),
        }
    }

    let attempts = common::db::notify::attempts(pool, ok_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(a.outcome, AttemptOutcome::Delivered);
    assert_eq!(a.http_status, Some(200));
    assert_eq!(a.url, format!("{}/vtp/produce/result", jd.url));
    assert!(a.next_attempt_at.is_none());
    let body = a.request_body.as_deref().unwrap();
    assert!(body.contains("[卡密已隐藏]"), "{body}");
    assert!(!body.contains("P-g-0"), "no card data in the log");
    let product = hits
        .iter()
        .find(|h| h.get("jdOrderNo") == Some("10002"))
        .and_then(|h| h.get("product"))
        .unwrap()
        .to_owned();
    assert!(!body.contains(&product), "no encrypted product in the log");
    assert!(a.response_body.as_deref().unwrap().contains("\"code\""));
    assert_eq!(notify_state(pool, ok_id).await.1, 1);

    proc_.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_jd_game_direct_and_card_callbacks_in_gbk() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let shop = game_shop(pool, &jd).await;
    let product = card_product(pool, "k", 1, Platform::JdGame).await;
    let (card_id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGame,
            shop,
            platform_no: "301189718929",
            kind: common::domain::OrderKind::Card,
            product: Some(product),
            quantity: 1,
            failure: None,
            notify_url: None,
        },
    )
    .await;
    let (direct_id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGame,
            shop,
            platform_no: "301189718928",
            kind: common::domain::OrderKind::Direct,
            product: None,
            quantity: 1,
            failure: Some(FailureReason::SupplierBalance),
            notify_url: None,
        },
    )
    .await;
    let mut proc_ = notifier(&stage, &[]).await;
    wait_status(pool, card_id, "delivered", Duration::from_secs(20)).await;
    wait_status(pool, direct_id, "delivered", Duration::from_secs(20)).await;

    let hits = jd.hits();
    assert_eq!(hits.len(), 2);
    for h in &hits {
        assert!(h.sign_ok, "signature verifies: {:?}", h.fields);
        assert_eq!(h.get("customerId"), Some(CUSTOMER));
        let data = h.data.as_ref().expect("data is base64 of GBK JSON");
        match h.path.as_str() {
            "/api/cardApi.action" => {
                assert_eq!(data["orderId"], "301189718929");
                assert_eq!(data["orderStatus"], "0");
                assert_eq!(data["cardinfos"][0]["cardno"], "C-k-0");
                assert_eq!(data["cardinfos"][0]["cardpass"], "P-k-0");
                assert_eq!(data["cardinfos"][0]["expiretime"], "2099-12-31");
            }
            "/api/gameApi.action" => {
                assert_eq!(data["orderId"], "301189718928");
                assert_eq!(data["orderStatus"], "2");
                assert_eq!(data["failedCode"], 112);
                assert_eq!(data["failedReason"], "账户余额不足");
                assert!(!h.data_utf8, "the Chinese reason is GBK, not UTF-8");
            }
            other => panic!("unexpected path {other}"),
        }
    }
    let attempts = common::db::notify::attempts(pool, card_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    let body = attempts[0].request_body.as_deref().unwrap();
    assert!(
        body.contains("[卡密已隐藏]") && !body.contains("P-k-0"),
        "{body}"
    );
    let attempts = common::db::notify::attempts(pool, direct_id).await.unwrap();
    assert!(
        attempts[0]
            .request_body
            .as_deref()
            .unwrap()
            .contains("账户余额不足")
    );

    proc_.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_retries_on_schedule_until_jd_is_up() {
    let stage = Stage::new().await;
    let jd = Jd::start(3, "0").await;
    let pool = &stage.pool;
    let shop = general_shop(pool, "general").await;
    let product = card_product(pool, "r", 1, Platform::JdGeneral).await;
    let (id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGeneral,
            shop,
            platform_no: "20001",
            kind: common::domain::OrderKind::Card,
            product: Some(product),
            quantity: 1,
            failure: None,
            notify_url: Some(format!("{}/vtp", jd.url)),
        },
    )
    .await;
    let mut proc_ = notifier(&stage, &[("NOTIFY_SCHEDULE", "300ms,600ms,900ms,5s")]).await;
    wait_status(pool, id, "delivered", Duration::from_secs(20)).await;

    let hits = jd.hits();
    assert_eq!(hits.len(), 4, "three failures, then delivered");
    assert!(hits.iter().all(|h| h.sign_ok));
    // The same order number and the same cards on every attempt.
    for h in &hits[1..] {
        assert_eq!(h.get("agentOrderNo"), hits[0].get("agentOrderNo"));
        assert_eq!(h.get("product"), hits[0].get("product"));
    }
    // The schedule (±20 % jitter, minus a little for polling) is followed.
    for (i, base) in [300u64, 600, 900].into_iter().enumerate() {
        let gap = hits[i + 1].at - hits[i].at;
        assert!(
            gap >= Duration::from_millis(base * 8 / 10 - 50),
            "gap {i} was {gap:?}, schedule {base} ms"
        );
        assert!(
            gap < Duration::from_millis(base * 12 / 10 + 1500),
            "gap {i} was {gap:?}"
        );
    }
    let attempts = common::db::notify::attempts(pool, id).await.unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "retry", "delivered"]);
    let numbers: Vec<i32> = attempts.iter().map(|a| a.attempt_no).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    for a in &attempts[..3] {
        assert_eq!(a.http_status, Some(500));
        assert!(a.next_attempt_at.is_some());
        assert!(a.error.is_some());
    }
    assert_eq!(notify_state(pool, id).await.1, 4);

    proc_.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_stops_on_code_13_gives_up_after_schedule_and_resends_manually() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    // JD answering 13: one attempt, then giving_up with a reason.
    let jd13 = Jd::start(0, "13").await;
    // JD answering 10 (signature: our key is wrong): retried on the schedule, with an alert.
    let jd10 = Jd::start(0, "10").await;
    // JD always failing: the schedule runs out.
    let down = Jd::start(u32::MAX, "0").await;
    let shop = general_shop(pool, "general").await;
    let seed = |no: &'static str, url: String| Seed {
        platform: Platform::JdGeneral,
        shop,
        platform_no: no,
        kind: common::domain::OrderKind::Direct,
        product: None,
        quantity: 1,
        failure: Some(FailureReason::NoProduct),
        notify_url: Some(url),
    };
    let (stop_id, _) = final_order(pool, seed("30001", jd13.url.clone())).await;
    let (down_id, _) = final_order(pool, seed("30002", down.url.clone())).await;
    let (key_id, _) = final_order(pool, seed("30003", jd10.url.clone())).await;
    let mut proc_ = notifier(&stage, &[("NOTIFY_SCHEDULE", "100ms,100ms")]).await;
    wait_status(pool, stop_id, "giving_up", Duration::from_secs(20)).await;
    wait_status(pool, down_id, "giving_up", Duration::from_secs(20)).await;
    wait_status(pool, key_id, "giving_up", Duration::from_secs(20)).await;

    let (_, attempts, reason) = notify_state(pool, key_id).await;
    assert_eq!(attempts, 3, "code 10 is retried on the whole schedule");
    assert_eq!(jd10.hits().len(), 3);
    let reason = reason.unwrap();
    assert!(
        reason.contains("3 次") && reason.contains("签名"),
        "{reason}"
    );
    let outcomes: Vec<AttemptOutcome> = common::db::notify::attempts(pool, key_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Retry,
            AttemptOutcome::Retry,
            AttemptOutcome::GivingUp
        ]
    );
    let metrics = reqwest::get(proc_.metrics_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "notify_callback_alerts_total{code=\"10\"} 3",
        "notify_callback_alerts_total{code=\"stop\"} 1",
    ] {
        assert!(metrics.contains(line), "alerts counted: {line}");
    }

    let (_, attempts, reason) = notify_state(pool, stop_id).await;
    assert_eq!(attempts, 1);
    assert_eq!(jd13.hits().len(), 1, "code 13 stops at once");
    let reason = reason.expect("a reason for the operator");
    assert!(reason.contains("13") && reason.contains("终态"), "{reason}");
    let logged = common::db::notify::attempts(pool, stop_id).await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].outcome, AttemptOutcome::GivingUp);

    let (_, attempts, reason) = notify_state(pool, down_id).await;
    assert_eq!(attempts, 3, "one attempt plus one per schedule step");
    assert_eq!(down.hits().len(), 3);
    assert!(reason.unwrap().contains("3 次"));
    let outcomes: Vec<AttemptOutcome> = common::db::notify::attempts(pool, down_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Retry,
            AttemptOutcome::Retry,
            AttemptOutcome::GivingUp
        ]
    );

    // Manual resend: JD is fixed, the schedule starts again.
    *jd13.general_code.lock().unwrap() = "0".into();
    down.fail_first.store(0, Ordering::SeqCst);
    assert!(
        common::db::notify::resend_order(pool, stop_id)
            .await
            .unwrap()
    );
    wait_status(pool, stop_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(
        notify_state(pool, stop_id).await.1,
        1,
        "attempts restart at 0"
    );
    // The key is fixed too: resending the shop's given-up callbacks delivers the order that
    // gave up on code 10 as well.
    *jd10.general_code.lock().unwrap() = "0".into();
    assert_eq!(
        common::db::notify::resend_giving_up_of_shop(pool, shop)
            .await
            .unwrap(),
        2,
        "only the giving_up orders of the shop"
    );
    wait_status(pool, down_id, "delivered", Duration::from_secs(20)).await;
    wait_status(pool, key_id, "delivered", Duration::from_secs(20)).await;

    proc_.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_crash_between_send_and_record_sends_at_most_one_extra() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let shop = general_shop(pool, "general").await;
    let product = card_product(pool, "c", 1, Platform::JdGeneral).await;
    let (id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGeneral,
            shop,
            platform_no: "40001",
            kind: common::domain::OrderKind::Card,
            product: Some(product),
            quantity: 1,
            failure: None,
            notify_url: Some(format!("{}/vtp", jd.url)),
        },
    )
    .await;
    let lease = [
        ("NOTIFY_LEASE_MS", "1500"),
        ("NOTIFY_HTTP_TIMEOUT_MS", "1000"),
    ];
    // Not waited for: it may abort before its readiness probe is asked.
    let mut crashing = {
        let mut env = stage.env();
        env.push(("NOTIFY_POLL_MS".into(), "50".into()));
        env.push(("NOTIFY_FAILPOINT".into(), "abort-after-send".into()));
        env.extend(lease.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Proc::spawn("notifier", &env)
    };
    // The process dies right after JD got the callback, before recording it.
    let status = crashing.wait_exit(Duration::from_secs(20)).await;
    assert!(!status.success());
    assert_eq!(jd.hits().len(), 1);
    let (st, attempts, _) = notify_state(pool, id).await;
    assert_eq!((st.as_str(), attempts), ("pending", 0), "nothing recorded");

    let mut proc_ = notifier(&stage, &lease).await;
    wait_status(pool, id, "delivered", Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = jd.hits();
    assert_eq!(hits.len(), 2, "exactly one extra callback");
    assert_eq!(hits[0].get("agentOrderNo"), hits[1].get("agentOrderNo"));
    assert_eq!(hits[0].get("product"), hits[1].get("product"), "same cards");
    assert!(hits.iter().all(|h| h.sign_ok));
    let logged = common::db::notify::attempts(pool, id).await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].outcome, AttemptOutcome::Delivered);

    proc_.terminate().await;
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_sweep_sends_callbacks_of_orders_never_scheduled() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let shop = general_shop(pool, "general").await;
    let seed = |no: &'static str| Seed {
        platform: Platform::JdGeneral,
        shop,
        platform_no: no,
        kind: common::domain::OrderKind::Direct,
        product: None,
        quantity: 1,
        failure: Some(FailureReason::NoProduct),
        notify_url: Some(format!("{}/vtp", jd.url)),
    };
    let backdate = |id: u64| {
        sqlx::query("UPDATE orders SET completed_at = NOW(3) - INTERVAL 1 HOUR WHERE id = ?")
            .bind(id)
            .execute(pool)
    };
    // Final an hour ago, never scheduled (an earlier version's order whose message was lost).
    let (lost_id, lost_no) = final_order_unscheduled(pool, seed("60001")).await;
    backdate(lost_id).await.unwrap();
    // Final an hour ago, scheduled by its transition, with its message: one callback.
    let (both_id, both_no) = final_order(pool, seed("60002")).await;
    backdate(both_id).await.unwrap();
    // Not final (completed_at set only to show that the status is checked): never called back.
    let (open_id, _) = final_order_unscheduled(pool, seed("60003")).await;
    sqlx::query(
        "UPDATE orders SET status = 'processing', completed_at = NOW(3) - INTERVAL 1 HOUR
         WHERE id = ?",
    )
    .bind(open_id)
    .execute(pool)
    .await
    .unwrap();
    // Final just now, never scheduled: swept only after the grace period.
    let grace = Duration::from_millis(3000);
    let recent_at = Instant::now();
    let (recent_id, recent_no) = final_order_unscheduled(pool, seed("60004")).await;

    let mut proc_ = notifier(
        &stage,
        &[
            ("NOTIFY_SWEEP_MS", "200"),
            ("NOTIFY_SWEEP_GRACE_MS", "3000"),
        ],
    )
    .await;
    wait_status(pool, lost_id, "delivered", Duration::from_secs(10)).await;
    wait_status(pool, both_id, "delivered", Duration::from_secs(10)).await;
    wait_status(pool, recent_id, "delivered", Duration::from_secs(15)).await;
    // A few more sweeps: nothing else is sent.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let hits = jd.hits();
    let mut numbers: Vec<&str> = hits.iter().filter_map(|h| h.get("agentOrderNo")).collect();
    numbers.sort_unstable();
    let mut want = vec![lost_no.as_str(), both_no.as_str(), recent_no.as_str()];
    want.sort_unstable();
    assert_eq!(
        numbers, want,
        "one callback per final order, none for the open one"
    );
    assert!(hits.iter().all(|h| h.sign_ok && !h.failed));
    let recent = hits
        .iter()
        .find(|h| h.get("agentOrderNo") == Some(recent_no.as_str()))
        .unwrap();
    assert!(
        recent.at - recent_at >= grace - Duration::from_millis(100),
        "swept {:?} after completion, grace {grace:?}",
        recent.at - recent_at
    );
    let (status, attempts, _) = notify_state(pool, open_id).await;
    assert_eq!((status.as_str(), attempts), ("pending", 0));
    let next: Option<chrono::NaiveDateTime> =
        sqlx::query_scalar("SELECT notify_next_at FROM orders WHERE id = ?")
            .bind(open_id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(next, None, "an order that is not final is never scheduled");

    proc_.terminate().await;
    stage.cleanup().await;
}

/// A succeeded card order that holds fewer sold cards than its quantity is never called back as
/// a success: the attempt is recorded with the reason, the order stays pending (retried on the
/// schedule), and the alert is on the order's timeline once.
#[tokio::test]
async fn notifier_sends_no_success_callback_with_the_wrong_number_of_cards() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let general = general_shop(pool, "general").await;
    let game = game_shop(pool, &jd).await;
    // One card in stock each, orders of two: each holds one sold card.
    let gp = card_product(pool, "short-g", 1, Platform::JdGeneral).await;
    let kp = card_product(pool, "short-k", 1, Platform::JdGame).await;
    let (general_id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGeneral,
            shop: general,
            platform_no: "60001",
            kind: common::domain::OrderKind::Card,
            product: Some(gp),
            quantity: 2,
            failure: None,
            notify_url: Some(format!("{}/vtp", jd.url)),
        },
    )
    .await;
    let (game_id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGame,
            shop: game,
            platform_no: "60002",
            kind: common::domain::OrderKind::Card,
            product: Some(kp),
            quantity: 2,
            failure: None,
            notify_url: None,
        },
    )
    .await;
    let mut proc_ = notifier(&stage, &[("NOTIFY_SCHEDULE", "300ms,10m")]).await;
    // Wait for two attempts of each (the first and the scheduled retry).
    let deadline = Instant::now() + Duration::from_secs(20);
    for id in [general_id, game_id] {
        while notify_state(pool, id).await.1 < 2 {
            assert!(
                Instant::now() < deadline,
                "order {id} was not attempted twice: {:?}",
                notify_state(pool, id).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(jd.hits().is_empty(), "no callback reaches JD");
    for id in [general_id, game_id] {
        let (status, ..) = notify_state(pool, id).await;
        assert_eq!(status, "pending", "kept pending on the schedule");
        let attempts = common::db::notify::attempts(pool, id).await.unwrap();
        assert!(attempts.iter().all(|a| a.outcome == AttemptOutcome::Retry));
        let error = attempts[0].error.as_deref().unwrap_or_default();
        assert!(
            error.contains("卡密数量异常：应有 2 张，实有 1 张"),
            "{error}"
        );
        let notes: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT note FROM order_events WHERE order_id = ? AND note LIKE '卡密数量异常%'",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(notes.len(), 1, "one alert on the timeline: {notes:?}");
    }
    proc_.terminate().await;
    stage.cleanup().await;
}

/// A 游戏点卡 gift-rights top-up's callback echoes `"type":1` and its `rightsId` (spec §6); a
/// normal top-up's does not.
#[tokio::test]
async fn notifier_game_rights_callback_echoes_the_rights_id() {
    let stage = Stage::new().await;
    let jd = Jd::start(0, "0").await;
    let pool = &stage.pool;
    let shop = game_shop(pool, &jd).await;
    let mut ids = Vec::new();
    for no in ["301189719301", "301189719302"] {
        let (id, _) = final_order(
            pool,
            Seed {
                platform: Platform::JdGame,
                shop,
                platform_no: no,
                kind: common::domain::OrderKind::Direct,
                product: None,
                quantity: 1,
                failure: None,
                notify_url: None,
            },
        )
        .await;
        ids.push(id);
    }
    sqlx::query("UPDATE orders SET rights_id = '88001' WHERE id = ?")
        .bind(ids[0])
        .execute(pool)
        .await
        .unwrap();
    let mut proc_ = notifier(&stage, &[]).await;
    for id in &ids {
        wait_status(pool, *id, "delivered", Duration::from_secs(20)).await;
    }
    let hits = jd.hits();
    assert_eq!(hits.len(), 2);
    for h in &hits {
        assert!(h.sign_ok);
        assert_eq!(h.path, "/api/gameApi.action");
        let data = h.data.as_ref().expect("data");
        assert_eq!(data["orderStatus"], "0");
        if data["orderId"] == "301189719301" {
            assert_eq!(data["type"], 1);
            assert_eq!(data["rightsId"], "88001");
        } else {
            assert!(
                data.get("type").is_none() && data.get("rightsId").is_none(),
                "{data}"
            );
        }
    }
    proc_.terminate().await;
    stage.cleanup().await;
}
