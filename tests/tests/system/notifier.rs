//! The notifier against a fake JD: a real HTTP server that checks every callback's signature
//! (written independently of the service), decrypts `product` with the spec's AES algorithm and
//! decodes the GBK `data`. Orders are seeded final in the database with their
//! `order.completed` outbox message, which the notifier's own relay publishes.
//!
//! Not covered here: a RabbitMQ restart while retries are pending (other tests share the
//! broker); the schedule lives in the database, so only the first message matters.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use common::crypto::JdAesKey;
use common::db::Pool;
use common::domain::{FailureReason, FulfilmentMode, Platform, ShopMode};
use common::mq::{Event, EventType};
use common::protocol::form;
use common::protocol::jd_general::decrypt_cards;
use serde_json::Value;
use system_tests::{Proc, Stage};

const MD5_KEY: &str = "test-md5-key-0123456789";
const AES_KEY: &str = "0123456789abcdef0123456789abcdef";
const GAME_KEY: &str = "game-private-key-abcdef";
const VENDOR: &str = "1201";
const CUSTOMER: &str = "14156143";

/// One callback the fake received.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    fields: Vec<(String, String)>,
    sign_ok: bool,
    at: Instant,
    /// 游戏点卡: the decoded `data` JSON and whether its bytes were valid UTF-8.
    data: Option<Value>,
    data_utf8: bool,
}

impl Hit {
    fn get(&self, name: &str) -> Option<&str> {
        form::first_value(&self.fields, name)
    }
}

struct Jd {
    url: String,
    log: Mutex<Vec<Hit>>,
    /// Answer HTTP 500 to the first this-many callbacks.
    fail_first: AtomicU32,
    /// The 通用交易 `code` to answer after that.
    general_code: Mutex<String>,
}

/// 通用交易 signature (§2): non-empty fields but sign/signType, sorted, `k1v1k2v2…` + key, MD5.
fn general_sign(fields: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && k != "signType" && !v.is_empty())
        .collect();
    p.sort();
    let mut s: String = p.iter().map(|(k, v)| format!("{k}{v}")).collect();
    s.push_str(MD5_KEY);
    common::crypto::md5_hex(s.as_bytes())
}

/// 游戏点卡 signature: non-empty params but sign, sorted, `k=v&…&` + key, MD5.
fn game_sign(fields: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    p.sort();
    let mut s: String = p.iter().map(|(k, v)| format!("{k}={v}&")).collect();
    s.push_str(GAME_KEY);
    common::crypto::md5_hex(s.as_bytes())
}

async fn hit(State(jd): State<Arc<Jd>>, uri: Uri, body: Bytes) -> Response {
    let fields = form::parse_form(&body);
    let path = uri.path().to_owned();
    let game = path.ends_with(".action");
    let sign = form::first_value(&fields, "sign")
        .unwrap_or_default()
        .to_owned();
    let (sign_ok, data, data_utf8) = if game {
        let raw = form::first_value(&fields, "data").unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_default();
        let utf8 = std::str::from_utf8(&bytes).is_ok();
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        let json = (!bad)
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten();
        (sign == game_sign(&fields), json, utf8)
    } else {
        (sign == general_sign(&fields), None, true)
    };
    let n = {
        let mut log = jd.log.lock().unwrap();
        log.push(Hit {
            path,
            fields,
            sign_ok,
            at: Instant::now(),
            data,
            data_utf8,
        });
        log.len() as u32
    };
    if n <= jd.fail_first.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙").into_response();
    }
    if game {
        axum::Json(serde_json::json!({"retCode": "100", "retMessage": "接收成功"})).into_response()
    } else {
        let code = jd.general_code.lock().unwrap().clone();
        axum::Json(serde_json::json!({"code": code, "message": "x"})).into_response()
    }
}

impl Jd {
    async fn start(fail_first: u32, general_code: &str) -> Arc<Jd> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jd = Arc::new(Jd {
            url: format!("http://{}", listener.local_addr().unwrap()),
            log: Mutex::default(),
            fail_first: AtomicU32::new(fail_first),
            general_code: Mutex::new(general_code.into()),
        });
        let app = axum::Router::new().fallback(hit).with_state(jd.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        jd
    }

    fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().clone()
    }
}

async fn general_shop(pool: &Pool, name: &str) -> u64 {
    common::db::shops::insert(
        pool,
        &common::testing::master_key(),
        &common::db::shops::NewShop {
            platform: Some(Platform::JdGeneral),
            name: name.into(),
            merchant_id: VENDOR.into(),
            md5_key: Some(MD5_KEY.into()),
            aes_key: Some(AES_KEY.into()),
            mode: Some(ShopMode::Prod),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn game_shop(pool: &Pool, jd: &Jd) -> u64 {
    common::db::shops::insert(
        pool,
        &common::testing::master_key(),
        &common::db::shops::NewShop {
            platform: Some(Platform::JdGame),
            name: "game".into(),
            merchant_id: CUSTOMER.into(),
            private_key: Some(GAME_KEY.into()),
            mode: Some(ShopMode::Prod),
            direct_callback_url: Some(format!("{}/api/gameApi.action", jd.url)),
            card_callback_url: Some(format!("{}/api/cardApi.action", jd.url)),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// A card product with `n` cards `C-<name>-<i>` / `P-<name>-<i>`.
async fn card_product(pool: &Pool, name: &str, n: usize, platform: Platform) -> u64 {
    let id = common::db::products::insert(
        pool,
        &common::db::products::NewProduct {
            name: name.into(),
            mode: FulfilmentMode::Card,
            face_value_fen: Some(1000),
            price_fen: None,
            low_stock_threshold: None,
            skus: vec![(platform, format!("sku-{name}"))],
        },
    )
    .await
    .unwrap();
    let text: String = (0..n)
        .map(|i| format!("C-{name}-{i},P-{name}-{i},2099-12-31\n"))
        .collect();
    common::db::cards::import(pool, &common::testing::master_key(), id, "b1", &text, true)
        .await
        .unwrap();
    id
}

struct Seed<'a> {
    platform: Platform,
    shop: u64,
    platform_no: &'a str,
    kind: &'static str,
    product: Option<u64>,
    quantity: i32,
    failure: Option<FailureReason>,
    notify_url: Option<String>,
}

/// A final order (cards sold to it when it is a successful card order) and its
/// `order.completed` outbox message. Returns (id, order_no).
async fn final_order(pool: &Pool, s: Seed<'_>) -> (u64, String) {
    let order_no = common::domain::OrderNo::generate(chrono::Utc::now())
        .as_str()
        .to_owned();
    let status = if s.failure.is_some() {
        "failed"
    } else {
        "succeeded"
    };
    let mut tx = pool.begin().await.unwrap();
    let id = sqlx::query(
        "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, product_id,
            sku, quantity, total_price_fen, status, failure_code, failure_reason, notify_url, completed_at)
         VALUES (?, ?, ?, ?, ?, ?, 'sku', ?, 1000, ?, ?, ?, ?, NOW(3))",
    )
    .bind(&order_no)
    .bind(s.platform.as_str())
    .bind(s.shop)
    .bind(s.platform_no)
    .bind(s.kind)
    .bind(s.product)
    .bind(s.quantity)
    .bind(status)
    .bind(s.failure.map(FailureReason::as_str))
    .bind(s.failure.map(FailureReason::label_zh))
    .bind(&s.notify_url)
    .execute(&mut *tx)
    .await
    .unwrap()
    .last_insert_id();
    if s.failure.is_none() && s.kind == "card" {
        sqlx::query(
            "UPDATE cards SET status = 'sold', order_id = ?, sold_at = NOW(3)
             WHERE product_id = ? AND status = 'available' ORDER BY id LIMIT ?",
        )
        .bind(id)
        .bind(s.product)
        .bind(s.quantity)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    common::mq::outbox::enqueue(
        &mut tx,
        &Event::new(EventType::OrderCompleted, id, s.platform),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (id, order_no)
}

async fn notifier(stage: &Stage, extra: &[(&str, &str)]) -> Proc {
    let mut env = stage.env();
    env.push(("NOTIFY_POLL_MS".into(), "50".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut p = Proc::spawn("notifier", &env);
    p.wait_ready(Duration::from_secs(30)).await;
    p
}

/// (notify_status, notify_attempts, notify_reason)
async fn notify_state(pool: &Pool, id: u64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT notify_status, notify_attempts, notify_reason FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_status(pool: &Pool, id: u64, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (status, ..) = notify_state(pool, id).await;
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} notify_status {status}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
            kind: "card",
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
            kind: "direct",
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
    assert_eq!(a.outcome, "delivered");
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

    proc_.terminate();
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
            kind: "card",
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
            kind: "direct",
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

    proc_.terminate();
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
            kind: "card",
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

    proc_.terminate();
    stage.cleanup().await;
}

#[tokio::test]
async fn notifier_stops_on_code_13_gives_up_after_schedule_and_resends_manually() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    // JD answering 13: one attempt, then giving_up with a reason.
    let jd13 = Jd::start(0, "13").await;
    // JD always failing: the schedule runs out.
    let down = Jd::start(u32::MAX, "0").await;
    let shop = general_shop(pool, "general").await;
    let seed = |no: &'static str, url: String| Seed {
        platform: Platform::JdGeneral,
        shop,
        platform_no: no,
        kind: "direct",
        product: None,
        quantity: 1,
        failure: Some(FailureReason::NoProduct),
        notify_url: Some(url),
    };
    let (stop_id, _) = final_order(pool, seed("30001", jd13.url.clone())).await;
    let (down_id, _) = final_order(pool, seed("30002", down.url.clone())).await;
    let mut proc_ = notifier(&stage, &[("NOTIFY_SCHEDULE", "100ms,100ms")]).await;
    wait_status(pool, stop_id, "giving_up", Duration::from_secs(20)).await;
    wait_status(pool, down_id, "giving_up", Duration::from_secs(20)).await;

    let (_, attempts, reason) = notify_state(pool, stop_id).await;
    assert_eq!(attempts, 1);
    assert_eq!(jd13.hits().len(), 1, "code 13 stops at once");
    let reason = reason.expect("a reason for the operator");
    assert!(reason.contains("13") && reason.contains("终态"), "{reason}");
    let logged = common::db::notify::attempts(pool, stop_id).await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].outcome, "giving_up");

    let (_, attempts, reason) = notify_state(pool, down_id).await;
    assert_eq!(attempts, 3, "one attempt plus one per schedule step");
    assert_eq!(down.hits().len(), 3);
    assert!(reason.unwrap().contains("3 次"));
    let outcomes: Vec<String> = common::db::notify::attempts(pool, down_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "giving_up"]);

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
    assert_eq!(
        common::db::notify::resend_giving_up_of_shop(pool, shop)
            .await
            .unwrap(),
        1,
        "only the giving_up order of the shop"
    );
    wait_status(pool, down_id, "delivered", Duration::from_secs(20)).await;

    proc_.terminate();
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
            kind: "card",
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
    let exit = tokio::task::spawn_blocking(move || {
        let status = crashing.child.wait().unwrap();
        (crashing, status)
    });
    let (_crashed, status) = tokio::time::timeout(Duration::from_secs(20), exit)
        .await
        .expect("the failpoint aborts the notifier")
        .unwrap();
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
    assert_eq!(logged[0].outcome, "delivered");

    proc_.terminate();
    stage.cleanup().await;
}
