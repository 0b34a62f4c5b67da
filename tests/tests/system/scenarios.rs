//! End-to-end scenarios through the real binaries, each from the platform's request to the
//! callback it receives and the query it asks: signed JD requests over HTTP to the `gateway`,
//! `fulfillment` filling them (from stock, through fake suppliers, or by an operator in the
//! `admin` back office), the `notifier` calling back a fake JD that verifies every signature
//! ([`system_tests::fake_jd`]). Each callback is decoded with the protocol codecs (`jd_aes` for
//! 通用交易 cards, the GBK `data` for 游戏点卡) and compared with the cards the database sold
//! to the order (`cards.order_id`) and with what the query endpoint answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::crypto::JdAesKey;
use common::db::Pool;
use common::domain::{FulfilmentMode, Platform, StockPolicy};
use common::protocol::jd_game::{
    self as game, CardInfo, GameAnswer, GameCallback, GameOrderStatus,
};
use common::protocol::jd_general::{
    self as general, DistillAnswer, ProduceCode, ProduceResultCallback, ProduceStatus,
};
use common::testing::fixtures::{Product, Supplier};
use serde_json::Value;
use system_tests::back_office::{BackOffice, create_user, field_of};
use system_tests::fake_jd::{
    self, AES_KEY, CUSTOMER, GAME_KEY, Hit, Jd, MD5_KEY, VENDOR, order_id,
};
use system_tests::fake_supplier::{Behaviour, FakeSupplier};
use system_tests::jd_client::{self, BeginInput};
use system_tests::{Proc, Stage};

use crate::{agiso, supplier};

const GENERAL_CALLBACK: &str = "/produce/result";
const GAME_DIRECT_CALLBACK: &str = "/api/gameApi.action";
const GAME_CARD_CALLBACK: &str = "/api/cardApi.action";
/// Every scenario's budget for one step (each runs in a few seconds).
const STEP: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// The stage: database, fake JD, services.

/// One scenario's world: its database and queues, the fake JD, the running services.
struct World {
    stage: Stage,
    jd: Arc<Jd>,
    http: reqwest::Client,
    env: Vec<(String, String)>,
    gateway: Option<Proc>,
    services: Vec<Proc>,
}

impl World {
    /// A fresh stage and fake JD; nothing runs yet (fixtures first, so the services read them).
    async fn new() -> World {
        let stage = Stage::new().await;
        let jd = Jd::start(0, "0").await;
        let mut env = stage.env();
        for (k, v) in [
            ("NOTIFY_SCHEDULE", "1s,1s,2s"),
            ("NOTIFY_POLL_MS", "50"),
            ("FULFILLMENT_STOCK_POLL_MS", "200"),
            ("SUPPLIER_POLL_MIN_MS", "100"),
        ] {
            env.push((k.into(), v.into()));
        }
        World {
            stage,
            jd,
            http: reqwest::Client::new(),
            env,
            gateway: None,
            services: Vec::new(),
        }
    }

    fn pool(&self) -> &Pool {
        &self.stage.pool
    }

    /// Sets a service variable for the services started after this.
    fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
    }

    async fn spawn(&self, name: &str) -> Proc {
        let mut p = Proc::spawn(name, &self.env);
        p.wait_ready(Duration::from_secs(30)).await;
        p
    }

    /// Starts the gateway.
    async fn start_gateway(&mut self) {
        self.gateway = Some(self.spawn("gateway").await);
    }

    /// Starts `name` (fulfillment, notifier, …).
    async fn start(&mut self, name: &str) {
        let p = self.spawn(name).await;
        self.services.push(p);
    }

    /// The usual pipeline: gateway, fulfillment, notifier.
    async fn start_pipeline(&mut self) {
        self.start_gateway().await;
        self.start("fulfillment").await;
        self.start("notifier").await;
    }

    fn gateway_url(&self, path: &str) -> String {
        self.gateway.as_ref().expect("gateway started").url(path)
    }

    /// Stops every service (each must exit cleanly: none crashed during the scenario) and
    /// drops the stage.
    async fn finish(mut self) {
        for p in self.services.iter_mut().chain(self.gateway.iter_mut()) {
            let status = p.terminate().await;
            assert!(status.success(), "a service exited with {status}");
        }
        self.stage.cleanup().await;
    }

    /// Posts a JD request to the gateway; the raw answer (always HTTP 200).
    async fn post(&self, path: &str, fields: &[(String, String)]) -> Vec<u8> {
        let (status, body) = jd_client::post(&self.http, &self.gateway_url(""), path, fields)
            .await
            .unwrap();
        assert_eq!(status, 200, "{path}");
        body.to_vec()
    }

    // ---- 通用交易

    /// beginDistill, its answer verified with the shop's MD5 key.
    async fn begin(&self, req: &[(String, String)]) -> DistillAnswer {
        let body = self.post(jd_client::BEGIN_PATH, req).await;
        DistillAnswer::parse_verified(&body, MD5_KEY)
            .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&body)))
    }

    /// findDistill of `jd_order_no`, as JD sends it (no vendorId), verified.
    async fn find(&self, jd_order_no: &str) -> DistillAnswer {
        let req = jd_client::find_distill(
            jd_order_no.parse().expect("a numeric JD order number"),
            None,
            &timestamp(),
            MD5_KEY,
        );
        let body = self.post(jd_client::FIND_PATH, &req).await;
        DistillAnswer::parse_verified(&body, MD5_KEY)
            .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&body)))
    }

    // ---- 游戏点卡

    /// A 游戏点卡 endpoint with `data` = `json`, signed with the shop's private key.
    async fn game(&self, endpoint: &str, json: &Value) -> GameAnswer {
        let body = self
            .post(&jd_client::game_call(endpoint).path(), &game_request(json))
            .await;
        GameAnswer::parse(&body)
            .unwrap_or_else(|| panic!("not an answer: {}", String::from_utf8_lossy(&body)))
    }

    /// The callbacks JD received on `path` for the order `jd_order_no`.
    fn callbacks(&self, path: &str, jd_order_no: &str) -> Vec<Hit> {
        self.jd
            .hits()
            .into_iter()
            .filter(|h| h.path == path && callback_order_no(h).as_deref() == Some(jd_order_no))
            .collect()
    }

    /// Waits until the order's callback was delivered, then returns the one callback JD got.
    async fn the_callback(&self, path: &str, jd_order_no: &str) -> Hit {
        let id = order_id(self.pool(), jd_order_no).await;
        fake_jd::wait_status(self.pool(), id, "delivered", STEP).await;
        let (_, attempts, _) = fake_jd::notify_state(self.pool(), id).await;
        let hits = self.callbacks(path, jd_order_no);
        assert_eq!(hits.len(), 1, "exactly one callback: {hits:?}");
        assert_eq!(attempts, 1, "one attempt recorded");
        let logged: Vec<(String, String)> = sqlx::query_as(
            "SELECT target, outcome FROM callback_attempts
             WHERE order_id = ? AND target IN ('jd_general', 'jd_game')",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .unwrap();
        assert_eq!(logged.len(), 1, "one logged callback: {logged:?}");
        assert_eq!(logged[0].1, "delivered");
        assert!(
            self.jd.hits().iter().all(|h| h.sign_ok),
            "every callback signed"
        );
        hits.into_iter().next().unwrap()
    }
}

/// JD's timestamps: `yyyyMMddHHmmss`, Beijing time.
fn timestamp() -> String {
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    chrono::Utc::now()
        .with_timezone(&beijing)
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// A signed 通用交易 beginDistill: `quantity` of `ware_no` for `total_fen`, calling back `jd`.
fn begin_request(
    jd: &Jd,
    jd_order_no: &str,
    ware_no: &str,
    quantity: u32,
    total_fen: i64,
    account: Option<&str>,
) -> Vec<(String, String)> {
    jd_client::begin_distill(
        &BeginInput {
            jd_order_no: jd_order_no.parse().expect("a numeric JD order number"),
            vendor_id: VENDOR,
            ware_no,
            quantity,
            total_price_fen: total_fen,
            notify_url: &jd.url,
            produce_account: account,
            pay_time: &timestamp(),
            timestamp: &timestamp(),
        },
        MD5_KEY,
    )
}

/// A signed 游戏点卡 request: `customerId`, `data` (Base64 of the UTF-8 JSON), `timestamp`.
fn game_request(json: &Value) -> Vec<(String, String)> {
    jd_client::game(CUSTOMER, json, &timestamp(), GAME_KEY)
}

/// The `data` JSON of a 游戏点卡 answer.
fn answer_data(a: &GameAnswer) -> Value {
    let text = game::decode_data(a.data.as_deref().expect("data")).expect("Base64 JSON");
    serde_json::from_str(&text).unwrap()
}

/// A small number in an answer's `data` (JD sends them as numbers or strings).
fn data_number(a: &GameAnswer, field: &str) -> Option<u8> {
    match &answer_data(a)[field] {
        Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A query answer's `orderStatus` (0 success, 1 in progress).
fn order_status(a: &GameAnswer) -> Option<u8> {
    data_number(a, "orderStatus")
}

/// preCheck's `data` (no order id yet): `buy` of `sku` for `total` yuan.
fn precheck(sku: &str, buy: u32, total: &str) -> Value {
    serde_json::json!({
        "pin": "jd_buyer", "buyNum": buy, "skuId": sku, "brandId": "1",
        "userIp": "10.1.2.3", "totalPrice": total, "gameAccount": "13800138000",
    })
}

/// preCheck's `status` (0: sellable).
fn precheck_status(a: &GameAnswer) -> Option<u8> {
    data_number(a, "status")
}

/// The order number a callback names (通用交易 `jdOrderNo`, 游戏点卡 `data.orderId`).
fn callback_order_no(h: &Hit) -> Option<String> {
    h.get("jdOrderNo").map(str::to_owned).or_else(|| {
        h.data.as_ref().and_then(|d| match &d["orderId"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    })
}

/// A 通用交易 callback read as JD reads it: signature verified with the codec, fields parsed.
fn general_callback(h: &Hit) -> ProduceResultCallback {
    assert!(
        general::verify_signed_fields(&h.fields, MD5_KEY),
        "通用交易 callback signature: {h:?}"
    );
    ProduceResultCallback::parse(&h.fields).expect("a produce-result callback")
}

/// A 游戏点卡 callback read as JD reads it: signature verified, GBK `data` decoded by the codec.
fn game_callback(h: &Hit) -> GameCallback {
    let params = game::GameParams::parse(&h.fields).expect("callback parameters");
    assert_eq!(params.customer_id, CUSTOMER);
    assert!(
        params.verify_signature(GAME_KEY),
        "游戏点卡 callback signature: {h:?}"
    );
    GameCallback::from_params(&params).expect("a 游戏点卡 callback")
}

/// Decrypts a 通用交易 `product` (AES-256-ECB with the shop's key): (card, password) pairs.
fn decrypt(product: &str) -> Vec<(String, String)> {
    let key = JdAesKey::new(AES_KEY).unwrap();
    general::decrypt_cards(product, &key)
        .expect("cards decrypt with the shop's AES key")
        .into_iter()
        .map(|c| (c.card_number, c.password))
        .collect()
}

fn game_cards(cards: &[CardInfo]) -> Vec<(String, String)> {
    cards
        .iter()
        .map(|c| (c.cardno.clone(), c.cardpass.clone()))
        .collect()
}

/// The (card, password) pairs of a 游戏点卡 query or order answer's `cardinfos`.
fn answer_cards(a: &GameAnswer) -> Vec<(String, String)> {
    let cards: Vec<CardInfo> =
        serde_json::from_value(answer_data(a)["cardinfos"].clone()).expect("cardinfos");
    game_cards(&cards)
}

// ---------------------------------------------------------------------------------------------
// The database's view.

async fn orders_of(pool: &Pool, platform_no: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE platform_order_no = ?")
        .bind(platform_no)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn status_of(pool: &Pool, id: u64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_order_status(pool: &Pool, id: u64, want: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let s = status_of(pool, id).await;
        if s == want {
            return;
        }
        assert!(Instant::now() < deadline, "order {id} is {s}, want {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The cards sold to the order (`cards.order_id`, status `sold`), decrypted from the database,
/// sorted by card number.
async fn sold_to(pool: &Pool, id: u64) -> Vec<(String, String)> {
    let rows: Vec<(u64, String)> =
        sqlx::query_as("SELECT order_id, status FROM cards WHERE order_id = ?")
            .bind(id)
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(rows.iter().all(|r| r.1 == "sold"), "{rows:?}");
    let cards = agiso::sold(pool, id).await;
    assert_eq!(cards.len(), rows.len(), "every sold card read");
    sorted(cards)
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// Registers the fake as supplier `name` and links it to `product` at `priority`.
async fn supplier(
    pool: &Pool,
    name: &str,
    fake: &FakeSupplier,
    product: u64,
    priority: i32,
) -> u64 {
    let id = Supplier::new(name, &fake.url, &fake.merchant, &fake.secret)
        .timeout_ms(2000)
        .insert(pool)
        .await;
    common::db::suppliers::link_product(pool, product, id, priority, &format!("UP-{name}"))
        .await
        .unwrap();
    id
}

/// (supplier_id, status) of the order's supplier rows, in creation order.
async fn supplier_rows(pool: &Pool, id: u64) -> Vec<(u64, String)> {
    sqlx::query_as("SELECT supplier_id, status FROM supplier_orders WHERE order_id = ? ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// 通用交易 card order of three: accepted in progress, filled from stock, called back once with
/// exactly the three cards sold to it, and findDistill answers the same cards.
#[tokio::test]
async fn general_card_order_of_three_is_called_back_with_its_cards_and_queried_alike() {
    let mut w = World::new().await;
    fake_jd::general_shop(w.pool(), "g").await;
    fake_jd::card_product(w.pool(), "g3", 5, Platform::JdGeneral).await;
    w.start_pipeline().await;

    let a = w
        .begin(&begin_request(&w.jd, "7001", "sku-g3", 3, 3000, None))
        .await;
    assert_eq!(
        (a.code, a.produce_status),
        (ProduceCode::InProgress, ProduceStatus::InProgress)
    );
    let agent = a.agent_order_no.clone().expect("agentOrderNo");

    let hit = w.the_callback(GENERAL_CALLBACK, "7001").await;
    let cb = general_callback(&hit);
    assert_eq!(cb.produce_status, ProduceStatus::Success);
    assert_eq!(
        (cb.jd_order_no.as_str(), cb.agent_order_no.as_str()),
        ("7001", agent.as_str())
    );
    assert_eq!((cb.vendor_id.to_string(), cb.quantity), (VENDOR.into(), 3));
    let id = order_id(w.pool(), "7001").await;
    let sold = sold_to(w.pool(), id).await;
    assert_eq!(sold.len(), 3);
    assert_eq!(sorted(decrypt(cb.product.as_deref().expect("cards"))), sold);

    let q = w.find("7001").await;
    assert_eq!(
        (q.code, q.produce_status),
        (ProduceCode::Success, ProduceStatus::Success)
    );
    assert_eq!(q.agent_order_no.as_deref(), Some(agent.as_str()));
    assert_eq!(sorted(decrypt(q.product.as_deref().expect("cards"))), sold);
    assert_eq!(q.product, cb.product, "the same encrypted cards");
    // Two cards stay in stock.
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE status = 'available'")
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(left, 2);
    w.finish().await;
}

/// 通用交易 direct order of a manual product: it waits for an operator (JD's queries meanwhile
/// see it in progress, and no callback goes out); the operator confirms the recharge in the back
/// office (login, the order page's form, 手动成功); JD is called back once with success and no
/// cards, and findDistill answers success.
#[tokio::test]
async fn general_direct_order_completed_by_an_operator_in_the_back_office() {
    let mut w = World::new().await;
    fake_jd::general_shop(w.pool(), "g").await;
    Product::direct_manual("qb")
        .face_value(5000)
        .price(Some(5000))
        .sku(Platform::JdGeneral, "sku-qb")
        .insert(w.pool())
        .await;
    create_user(&w.stage, "ops", "operator", "operator-pass-1");
    w.start_pipeline().await;
    w.start("admin").await;

    let a = w
        .begin(&begin_request(
            &w.jd,
            "7101",
            "sku-qb",
            1,
            5000,
            Some("13800138000"),
        ))
        .await;
    assert_eq!(a.code, ProduceCode::InProgress);
    let id = order_id(w.pool(), "7101").await;
    wait_order_status(w.pool(), id, "awaiting_manual").await;
    let q = w.find("7101").await;
    assert_eq!(
        (q.code, q.produce_status, q.product.as_deref()),
        (ProduceCode::InProgress, ProduceStatus::InProgress, None)
    );
    assert!(w.callbacks(GENERAL_CALLBACK, "7101").is_empty());

    let admin = w.services.last().unwrap().url("");
    let b = BackOffice::login(admin, "ops", "operator-pass-1").await;
    let (status, page) = b.get(&format!("/admin/orders/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("7101"), "the order page");
    let once = field_of(&page, "once").expect("the order page's action form");
    let (status, body) = b
        .submit(
            &format!("/admin/orders/{id}/succeed"),
            &[("once", &once), ("confirm", "1")],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(status_of(w.pool(), id).await, "succeeded");

    let cb = general_callback(&w.the_callback(GENERAL_CALLBACK, "7101").await);
    assert_eq!(
        (cb.produce_status, cb.quantity, cb.product.as_deref()),
        (ProduceStatus::Success, 1, None)
    );
    assert_eq!(cb.agent_order_no, a.agent_order_no.clone().unwrap());
    let q = w.find("7101").await;
    assert_eq!(
        (q.code, q.produce_status, q.product.as_deref()),
        (ProduceCode::Success, ProduceStatus::Success, None)
    );
    // The same form again changes nothing (the action is done once).
    let (status, _) = b
        .submit(
            &format!("/admin/orders/{id}/succeed"),
            &[("once", &once), ("confirm", "1")],
        )
        .await;
    assert_eq!(status, 303);
    let events: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'succeeded'",
    )
    .bind(id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(events, 1);
    assert_eq!(w.callbacks(GENERAL_CALLBACK, "7101").len(), 1);
    w.finish().await;
}

/// 游戏点卡 direct order through suppliers: the first by priority refuses (no balance), the
/// second recharges; JD is called back once with success and directQuery answers success. An
/// order whose only supplier refuses fails, called back and queried with the same code.
#[tokio::test]
async fn game_direct_order_fails_over_to_the_second_supplier() {
    let a = FakeSupplier::start("MA", "secret-a", Behaviour::NoBalance).await;
    let b = FakeSupplier::start("MB", "secret-b", Behaviour::Succeed { after: 1 }).await;
    let mut w = World::new().await;
    fake_jd::game_shop(w.pool(), &w.jd).await;
    let p = supplier::product(w.pool(), "dc").await;
    // Linked out of order: priority decides, not creation.
    let sb = supplier(w.pool(), "B", &b, p, 20).await;
    let sa = supplier(w.pool(), "A", &a, p, 10).await;
    w.start_pipeline().await;

    // JD first asks whether the product can be sold (an enabled supplier is linked).
    let check = w.game("preCheck", &precheck("sku-dc", 1, "100.00")).await;
    assert_eq!(
        (check.ret_code, precheck_status(&check)),
        (game::RetCode::Success, Some(0))
    );
    let charge = serde_json::json!({
        "orderId": "8001", "buyNum": 1, "skuId": "sku-dc",
        "totalPrice": "100.00", "gameAccount": "13800138000",
    });
    let ans = w.game("directCharge", &charge).await;
    assert_eq!(
        (ans.ret_code, ans.data.as_deref()),
        (game::RetCode::Success, None)
    );

    let hit = w.the_callback(GAME_DIRECT_CALLBACK, "8001").await;
    let cb = game_callback(&hit);
    assert_eq!(cb.order_id.as_str(), "8001");
    assert_eq!(cb.order_status, GameOrderStatus::Success);
    assert!(cb.cardinfos.is_empty() && cb.failed_code.is_none());

    let id = order_id(w.pool(), "8001").await;
    let order_no: String = sqlx::query_scalar("SELECT order_no FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(
        supplier_rows(w.pool(), id).await,
        vec![(sa, "failed".into()), (sb, "succeeded".into())]
    );
    assert_eq!(a.paths(), ["recharge"], "A refused once");
    assert_eq!(a.order_nos("recharge"), [order_no.as_str()]);
    assert_eq!(b.paths(), ["recharge", "query"]);
    assert_eq!(b.order_nos("recharge"), [order_no.as_str()]);
    assert_eq!(b.recharges(), 1, "B recharged once");
    assert!(a.all_signed() && b.all_signed());
    let sent = &b.received()[0].1;
    assert_eq!(sent["account"], "13800138000");
    assert_eq!(sent["sku"], "UP-B");

    let q = w
        .game("directQuery", &serde_json::json!({"orderId": "8001"}))
        .await;
    assert_eq!(
        (q.ret_code, order_status(&q)),
        (game::RetCode::Success, Some(0))
    );

    // A product whose only supplier refuses: the order fails; JD is called back once with the
    // failure (112, 账户余额不足: JD refunds) and directQuery answers the same code.
    let only_a = supplier::product(w.pool(), "df").await;
    common::db::suppliers::link_product(w.pool(), only_a, sa, 1, "UP-A2")
        .await
        .unwrap();
    let charge = serde_json::json!({
        "orderId": "8002", "buyNum": 1, "skuId": "sku-df",
        "totalPrice": "100.00", "gameAccount": "13800138000",
    });
    assert_eq!(
        w.game("directCharge", &charge).await.ret_code,
        game::RetCode::Success
    );
    let cb = game_callback(&w.the_callback(GAME_DIRECT_CALLBACK, "8002").await);
    assert_eq!(cb.order_status, GameOrderStatus::Failed);
    assert_eq!(cb.failed_code, Some(game::RetCode::InsufficientBalance));
    assert!(!game::RetCode::InsufficientBalance.is_retry(), "JD refunds");
    let q = w
        .game("directQuery", &serde_json::json!({"orderId": "8002"}))
        .await;
    assert_eq!(q.ret_code, game::RetCode::InsufficientBalance);
    assert_eq!(Some(q.ret_message), cb.failed_reason);
    assert_eq!(a.paths(), ["recharge", "recharge"]);
    assert_eq!(b.order_nos("recharge").len(), 1, "B is not linked to it");
    w.finish().await;
}

/// 游戏点卡 card order of two: called back once on the card URL with exactly its two cards,
/// and cardQuery (and a repeated cardOrder) answer the same cards.
#[tokio::test]
async fn game_card_order_is_called_back_with_its_cards_and_queried_alike() {
    let mut w = World::new().await;
    fake_jd::game_shop(w.pool(), &w.jd).await;
    fake_jd::card_product(w.pool(), "gc", 4, Platform::JdGame).await;
    w.start_pipeline().await;

    // preCheck counts the sellable cards: two of four are, five are not.
    let check = w.game("preCheck", &precheck("sku-gc", 2, "20.00")).await;
    assert_eq!(
        (check.ret_code, precheck_status(&check)),
        (game::RetCode::Success, Some(0))
    );
    let short = w.game("preCheck", &precheck("sku-gc", 5, "50.00")).await;
    assert_eq!(short.ret_code, game::RetCode::OutOfStock, "110");
    let order = serde_json::json!({
        "orderId": "8101", "buyNum": 2, "skuId": "sku-gc", "totalPrice": "20.00",
    });
    let ans = w.game("cardOrder", &order).await;
    assert_eq!(
        (ans.ret_code, ans.data.as_deref()),
        (game::RetCode::Success, None),
        "asynchronous"
    );

    let hit = w.the_callback(GAME_CARD_CALLBACK, "8101").await;
    let cb = game_callback(&hit);
    assert_eq!(cb.order_status, GameOrderStatus::Success);
    let id = order_id(w.pool(), "8101").await;
    let sold = sold_to(w.pool(), id).await;
    assert_eq!(sold.len(), 2);
    assert_eq!(sorted(game_cards(&cb.cardinfos)), sold);

    let q = w
        .game("cardQuery", &serde_json::json!({"orderId": "8101"}))
        .await;
    assert_eq!(
        (q.ret_code, order_status(&q)),
        (game::RetCode::Success, Some(0))
    );
    assert_eq!(sorted(answer_cards(&q)), sold);
    let again = w.game("cardOrder", &order).await;
    assert_eq!(
        sorted(answer_cards(&again)),
        sold,
        "a repeat hands over the same cards"
    );
    assert_eq!(orders_of(w.pool(), "8101").await, 1);
    w.finish().await;
}

/// A card order of a product that waits for stock: it waits (`awaiting_stock`), JD's
/// findDistill meanwhile answers in progress and no callback goes out; cards imported with the
/// `admin cards import` CLI resume it, JD is called back once with the imported cards, and
/// findDistill answers the same.
#[tokio::test]
async fn an_order_waits_for_stock_and_resumes_when_cards_are_imported() {
    let mut w = World::new().await;
    fake_jd::general_shop(w.pool(), "g").await;
    Product::card("待补货卡")
        .face_value(1000)
        .price(Some(1000))
        .sku(Platform::JdGeneral, "sku-ws")
        .when_out_of_stock(StockPolicy::Wait, 120)
        .insert(w.pool())
        .await;
    w.start_pipeline().await;

    let a = w
        .begin(&begin_request(&w.jd, "7201", "sku-ws", 2, 2000, None))
        .await;
    assert_eq!(a.code, ProduceCode::InProgress);
    let id = order_id(w.pool(), "7201").await;
    wait_order_status(w.pool(), id, "awaiting_stock").await;
    for _ in 0..3 {
        let q = w.find("7201").await;
        assert_eq!(
            (q.code, q.produce_status, q.product.as_deref()),
            (ProduceCode::InProgress, ProduceStatus::InProgress, None)
        );
    }
    // A repeated beginDistill meanwhile: the same order, still in progress.
    let again = w
        .begin(&begin_request(&w.jd, "7201", "sku-ws", 2, 2000, None))
        .await;
    assert_eq!(again, a);
    assert_eq!(orders_of(w.pool(), "7201").await, 1);
    assert!(w.callbacks(GENERAL_CALLBACK, "7201").is_empty());
    assert_eq!(status_of(w.pool(), id).await, "awaiting_stock");

    // The operator imports two cards with the CLI.
    let file = std::env::temp_dir().join(format!("{}-restock.txt", w.stage.prefix));
    std::fs::write(&file, "RS-0001,PW-0001\nRS-0002,PW-0002\n").unwrap();
    let out = std::process::Command::new(system_tests::binary("admin"))
        .args(["cards", "import", "--product", "待补货卡", "--file"])
        .arg(&file)
        .args(["--batch", "R1"])
        .env_clear()
        .envs(w.stage.env())
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("new 2"), "{stdout}");

    // JD keeps asking: in progress until success, never a failure.
    let deadline = Instant::now() + STEP;
    let done = loop {
        let q = w.find("7201").await;
        if q.code == ProduceCode::Success {
            break q;
        }
        assert_eq!(
            (q.code, q.produce_status),
            (ProduceCode::InProgress, ProduceStatus::InProgress)
        );
        assert!(Instant::now() < deadline, "never resumed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let imported = vec![
        ("RS-0001".to_string(), "PW-0001".to_string()),
        ("RS-0002".to_string(), "PW-0002".to_string()),
    ];
    assert_eq!(sold_to(w.pool(), id).await, imported);
    assert_eq!(sorted(decrypt(done.product.as_deref().unwrap())), imported);
    let cb = general_callback(&w.the_callback(GENERAL_CALLBACK, "7201").await);
    assert_eq!(cb.produce_status, ProduceStatus::Success);
    assert_eq!(sorted(decrypt(cb.product.as_deref().unwrap())), imported);
    w.finish().await;
}

/// How JD re-queries: until the first success, every answer must be "in progress"; the number
/// of such answers, once it has seen success (and success stays).
async fn requery_until_success<A: std::fmt::Debug>(
    name: &str,
    ask: impl AsyncFn() -> A,
    judge: impl Fn(&A) -> Option<bool>,
) -> usize {
    let deadline = Instant::now() + STEP;
    let mut in_progress = 0;
    loop {
        let a = ask().await;
        match judge(&a) {
            Some(false) => in_progress += 1,
            Some(true) => break,
            None => panic!("{name}: neither in progress nor success: {a:?}"),
        }
        assert!(Instant::now() < deadline, "{name}: never succeeded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..3 {
        let a = ask().await;
        assert_eq!(judge(&a), Some(true), "{name}: success stays: {a:?}");
    }
    in_progress
}

/// JD re-queries direct orders while the supplier is still recharging — a 通用交易 order with
/// findDistill and a 游戏点卡 order with directQuery: every answer before success is "in
/// progress" (JDO_201 / 3; 100 with `orderStatus` 1), never a failure or retry code; then
/// success, which stays; one callback each.
#[tokio::test]
async fn jd_requeries_until_success_and_sees_only_in_progress_before() {
    let s = FakeSupplier::start("MS", "secret-s", Behaviour::Succeed { after: 3 }).await;
    let mut w = World::new().await;
    // Polled at 300 ms, 600 ms, 1.2 s: about two seconds of "in progress".
    w.set("SUPPLIER_POLL_MIN_MS", "300");
    fake_jd::general_shop(w.pool(), "g").await;
    fake_jd::game_shop(w.pool(), &w.jd).await;
    let p = Product::direct_supplier("rq")
        .face_value(10000)
        .price(Some(10000))
        .sku(Platform::JdGame, "sku-rq")
        .sku(Platform::JdGeneral, "sku-rq-g")
        .insert(w.pool())
        .await;
    supplier(w.pool(), "S", &s, p, 1).await;
    w.start_pipeline().await;

    let charge = serde_json::json!({
        "orderId": "8201", "buyNum": 1, "skuId": "sku-rq",
        "totalPrice": "100.00", "gameAccount": "13800138000",
    });
    assert_eq!(
        w.game("directCharge", &charge).await.ret_code,
        game::RetCode::Success
    );
    let begin = begin_request(&w.jd, "7401", "sku-rq-g", 1, 10000, Some("13900139000"));
    assert_eq!(w.begin(&begin).await.code, ProduceCode::InProgress);

    let query = serde_json::json!({"orderId": "8201"});
    let (game_waits, general_waits) = tokio::join!(
        requery_until_success(
            "directQuery",
            async || w.game("directQuery", &query).await,
            |q| match (q.ret_code, order_status(q)) {
                (game::RetCode::Success, Some(1)) => Some(false),
                (game::RetCode::Success, Some(0)) => Some(true),
                _ => None,
            },
        ),
        requery_until_success(
            "findDistill",
            async || w.find("7401").await,
            |q| match (q.code, q.produce_status) {
                (ProduceCode::InProgress, ProduceStatus::InProgress) => Some(false),
                (ProduceCode::Success, ProduceStatus::Success) => Some(true),
                _ => None,
            },
        ),
    );
    assert!(game_waits >= 5, "JD saw 8201 in progress: {game_waits}");
    assert!(
        general_waits >= 5,
        "JD saw 7401 in progress: {general_waits}"
    );
    assert_eq!(s.order_nos("recharge").len(), 2, "one recharge per order");
    assert!(s.all_signed());
    let cb = game_callback(&w.the_callback(GAME_DIRECT_CALLBACK, "8201").await);
    assert_eq!(cb.order_status, GameOrderStatus::Success);
    let cb = general_callback(&w.the_callback(GENERAL_CALLBACK, "7401").await);
    assert_eq!(
        (cb.produce_status, cb.product.as_deref()),
        (ProduceStatus::Success, None)
    );
    w.finish().await;
}

/// Sends `req` twice in a row and four times at once; all answers must be identical.
async fn repeated<T: PartialEq + std::fmt::Debug>(send: impl AsyncFn() -> T) -> T {
    let first = send().await;
    let second = send().await;
    let together = futures_util::future::join_all((0..4).map(|_| send())).await;
    assert_eq!(first, second, "a repeat gets the same answer");
    for a in &together {
        assert_eq!(a, &first, "concurrent repeats get the same answer");
    }
    first
}

/// Every JD request repeated (twice in a row, then four at once): one order each, one callback
/// each, identical answers — for 通用交易 cards, 游戏点卡 cards and a 游戏点卡 direct order
/// through a supplier (recharged once). The orders are all taken before fulfilment runs, so the
/// repeats meet the same state; then each query is repeated after success.
#[tokio::test]
async fn every_request_repeated_makes_one_order_one_callback_and_identical_answers() {
    let s = FakeSupplier::start("MS", "secret-s", Behaviour::Succeed { after: 0 }).await;
    let mut w = World::new().await;
    fake_jd::general_shop(w.pool(), "g").await;
    fake_jd::game_shop(w.pool(), &w.jd).await;
    fake_jd::card_product(w.pool(), "rg", 5, Platform::JdGeneral).await;
    fake_jd::card_product(w.pool(), "rc", 5, Platform::JdGame).await;
    let p = supplier::product(w.pool(), "rd").await;
    supplier(w.pool(), "S", &s, p, 1).await;
    w.start_gateway().await;
    w.start("notifier").await;

    let begin = begin_request(&w.jd, "7301", "sku-rg", 2, 2000, None);
    let a = repeated(async || w.begin(&begin).await).await;
    assert_eq!(a.code, ProduceCode::InProgress);
    let card = serde_json::json!({
        "orderId": "8301", "buyNum": 2, "skuId": "sku-rc", "totalPrice": "20.00",
    });
    let c = repeated(async || w.game("cardOrder", &card).await).await;
    assert_eq!(
        (c.ret_code, c.data.as_deref()),
        (game::RetCode::Success, None)
    );
    let direct = serde_json::json!({
        "orderId": "8302", "buyNum": 1, "skuId": "sku-rd",
        "totalPrice": "100.00", "gameAccount": "13800138000",
    });
    let d = repeated(async || w.game("directCharge", &direct).await).await;
    assert_eq!(
        (d.ret_code, d.data.as_deref()),
        (game::RetCode::Success, None)
    );
    for no in ["7301", "8301", "8302"] {
        assert_eq!(orders_of(w.pool(), no).await, 1, "one order {no}");
        let id = order_id(w.pool(), no).await;
        assert_eq!(status_of(w.pool(), id).await, "received");
    }

    // JD keeps repeating the order requests while they are filled: in progress, then the
    // final answer, never anything else.
    w.start("fulfillment").await;
    tokio::join!(
        requery_until_success(
            "beginDistill",
            async || w.begin(&begin).await,
            |a| match (a.code, a.produce_status, a.product.is_some()) {
                (ProduceCode::InProgress, ProduceStatus::InProgress, false) => Some(false),
                (ProduceCode::Success, ProduceStatus::Success, true) => Some(true),
                _ => None,
            },
        ),
        requery_until_success(
            "cardOrder",
            async || w.game("cardOrder", &card).await,
            |a| match (a.ret_code, a.data.is_some()) {
                (game::RetCode::Success, false) => Some(false),
                (game::RetCode::Success, true) if answer_cards(a).len() == 2 => Some(true),
                _ => None,
            },
        ),
        requery_until_success(
            "directCharge",
            async || w.game("directCharge", &direct).await,
            |a| (a.ret_code == game::RetCode::Success && a.data.is_none()).then_some(true),
        ),
    );
    let g = general_callback(&w.the_callback(GENERAL_CALLBACK, "7301").await);
    let gc = game_callback(&w.the_callback(GAME_CARD_CALLBACK, "8301").await);
    let gd = game_callback(&w.the_callback(GAME_DIRECT_CALLBACK, "8302").await);
    assert_eq!(g.produce_status, ProduceStatus::Success);
    assert_eq!(gc.order_status, GameOrderStatus::Success);
    assert_eq!(gd.order_status, GameOrderStatus::Success);
    assert_eq!(s.order_nos("recharge").len(), 1, "recharged once");
    assert_eq!(s.recharges(), 1);

    // After success: every query and order request, repeated, answers the same result.
    let sold = sold_to(w.pool(), order_id(w.pool(), "7301").await).await;
    let q = repeated(async || w.find("7301").await).await;
    assert_eq!(q.code, ProduceCode::Success);
    assert_eq!(sorted(decrypt(q.product.as_deref().unwrap())), sold);
    assert_eq!(q.product, g.product);
    let again = repeated(async || w.begin(&begin).await).await;
    assert_eq!(again, q, "a repeated beginDistill answers as findDistill");

    let sold = sold_to(w.pool(), order_id(w.pool(), "8301").await).await;
    let cq = repeated(async || {
        w.game("cardQuery", &serde_json::json!({"orderId": "8301"}))
            .await
    })
    .await;
    assert_eq!(sorted(answer_cards(&cq)), sold);
    assert_eq!(sorted(game_cards(&gc.cardinfos)), sold);
    let co = repeated(async || w.game("cardOrder", &card).await).await;
    assert_eq!(sorted(answer_cards(&co)), sold);
    let dq = repeated(async || {
        w.game("directQuery", &serde_json::json!({"orderId": "8302"}))
            .await
    })
    .await;
    assert_eq!(order_status(&dq), Some(0));
    let dc = repeated(async || w.game("directCharge", &direct).await).await;
    assert_eq!(dc.ret_code, game::RetCode::Success);
    assert_eq!(s.order_nos("recharge").len(), 1, "still recharged once");

    // Still one callback each (nothing more was scheduled by the repeats).
    assert_eq!(w.jd.hits().len(), 3, "{:?}", w.jd.hits());
    w.finish().await;
}

/// An Agiso (Taobao) order from push to delivery: the push (sent twice) makes one order, filled
/// from stock; Agiso receives exactly the cards sold to it once, and the trade is shipped once.
#[tokio::test]
async fn agiso_order_from_push_to_delivery() {
    let stage = Stage::new().await;
    let fake = system_tests::fake_agiso::FakeAgiso::start().await;
    let pool = &stage.pool;
    agiso::agiso_shop(pool, &fake, "alds").await;
    agiso::product(pool, "tb3", FulfilmentMode::Card, "TB-SCN", 5).await;
    let env = agiso::agiso_env(&stage, &[]);
    let sync = agiso::start("agiso-sync", &env).await;
    let _fulfil = agiso::start("fulfillment", &stage.env()).await;

    let trade = agiso::taobao_trade(
        3130073692357790001,
        3130073692357790002,
        "TB-SCN",
        3,
        "29.97",
    );
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let (status, body) = agiso::taobao_push(&trade)
            .send(
                &client,
                &sync.url("/api/agiso/push"),
                system_tests::fake_agiso::APP_SECRET,
            )
            .await;
        assert_eq!((status, body.as_str()), (200, ""));
    }
    let id = agiso::wait_notify(pool, "3130073692357790002", "delivered", STEP).await;
    assert_eq!(orders_of(pool, "3130073692357790002").await, 1);
    assert_eq!(status_of(pool, id).await, "succeeded");

    let results = fake.calls_to("/alds/Trade/CreateOrderResult");
    assert_eq!(results.len(), 1, "the cards are handed over once");
    assert_eq!(results[0].get("tid"), Some("3130073692357790001"));
    let sent = results[0].handed_cards();
    let sold = sold_to(pool, id).await;
    assert_eq!(sold.len(), 3);
    assert_eq!(sorted(sent), sold);
    assert_eq!(
        fake.shipped("/alds/Trade/LogisticsDummySend", "3130073692357790001"),
        1
    );
    assert!(fake.calls().iter().all(|c| c.problem.is_none()));
    stage.cleanup().await;
}
