//! The one fake JD of the system tests, benchmarks and drills: a real HTTP server that checks
//! every callback's signature (written independently of the service, from the specs), decodes
//! 游戏点卡's GBK `data` and decrypts 通用交易's AES cards, answers HTTP 500 to the first
//! `fail_first` callbacks, can be switched down (HTTP 503 to everything) and up at runtime, and
//! records per JD order number every callback (count, verified signature, result, cards); plus
//! helpers that seed JD shops, card products and final orders, and start the `notifier` binary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use common::crypto::JdAesKey;
use common::db::Pool;
use common::domain::{FailureReason, OrderStatus, Platform, ShopMode};
use common::mq::{Event, EventType};
use common::protocol::form;
use common::protocol::jd_general::{self, ProduceResultCallback, ProduceStatus};
use common::testing::fixtures::{self, Product, Shop, StoredOrder};
use serde_json::Value;

use crate::{Proc, Stage};

pub const MD5_KEY: &str = "test-md5-key-0123456789";
pub const AES_KEY: &str = "0123456789abcdef0123456789abcdef";
pub const GAME_KEY: &str = "game-private-key-abcdef";
pub const VENDOR: &str = "1201";
pub const CUSTOMER: &str = "14156143";

/// One callback the fake received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub fields: Vec<(String, String)>,
    pub sign_ok: bool,
    pub at: Instant,
    /// 游戏点卡: the decoded `data` JSON and whether its bytes were valid UTF-8.
    pub data: Option<Value>,
    pub data_utf8: bool,
    /// Answered with HTTP 500 (counted in [`Jd::fail_first`]).
    pub failed: bool,
    /// The W3C `traceparent` header, if the callback carried one.
    pub traceparent: Option<String>,
}

impl Hit {
    pub fn get(&self, name: &str) -> Option<&str> {
        form::first_value(&self.fields, name)
    }
}

/// One callback as JD received it, by order: what a verifier needs.
#[derive(Clone, Debug)]
pub struct Callback {
    pub at: Instant,
    pub sign_ok: bool,
    /// The result it reports: success (通用交易 produceStatus 1, 游戏点卡 orderStatus 0).
    pub success: bool,
    /// The card numbers it carries (通用交易 decrypted with [`AES_KEY`], 游戏点卡 `cardinfos`).
    pub cards: Vec<String>,
    /// Answered with an error (HTTP 500 of `fail_first`, or 503 while down): not delivered.
    pub refused: bool,
}

pub struct Jd {
    pub url: String,
    /// Every request in full (only when started with [`Jd::start`]; [`Jd::start_verifying`]
    /// keeps just [`Jd::by_order`], for long runs).
    pub log: Mutex<Vec<Hit>>,
    keep_hits: bool,
    /// Callbacks by JD order number (通用交易 `jdOrderNo`, 游戏点卡 `data.orderId`), in arrival
    /// order.
    pub orders: Mutex<HashMap<String, Vec<Callback>>>,
    /// While true, every request is answered HTTP 503 (JD unreachable).
    down: AtomicBool,
    /// Requests received so far (for `fail_first`).
    seen: AtomicU32,
    /// Answer HTTP 500 to the first this-many callbacks.
    pub fail_first: AtomicU32,
    /// The 通用交易 `code` to answer after that.
    pub general_code: Mutex<String>,
}

/// 通用交易 signature (§2): non-empty fields but sign/signType, sorted, `k1v1k2v2…` + key, MD5.
pub fn general_sign(fields: &[(String, String)]) -> String {
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
pub fn game_sign(fields: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    p.sort();
    let mut s: String = p.iter().map(|(k, v)| format!("{k}={v}&")).collect();
    s.push_str(GAME_KEY);
    common::crypto::md5_hex(s.as_bytes())
}

/// 游戏点卡 callback `data` (Base64 of GBK JSON): the decoded JSON (`None` when unreadable) and
/// whether its bytes were valid UTF-8.
pub fn game_data(fields: &[(String, String)]) -> (Option<Value>, bool) {
    let raw = form::first_value(fields, "data").unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap_or_default();
    let utf8 = std::str::from_utf8(&bytes).is_ok();
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    let json = (!bad)
        .then(|| serde_json::from_str::<Value>(&text).ok())
        .flatten();
    (json, utf8)
}

/// The JD order number, result and cards of a 通用交易 produce-result callback.
fn read_general(fields: &[(String, String)]) -> (String, bool, Vec<String>) {
    let parsed = ProduceResultCallback::parse(fields).ok();
    let success = parsed
        .as_ref()
        .is_some_and(|c| c.produce_status == ProduceStatus::Success);
    let key = JdAesKey::new(AES_KEY).expect("AES key");
    let cards = parsed
        .and_then(|c| c.product)
        .and_then(|p| jd_general::decrypt_cards(&p, &key).ok())
        .map(|items| items.into_iter().map(|c| c.card_number).collect())
        .unwrap_or_default();
    let no = form::first_value(fields, "jdOrderNo").unwrap_or_default();
    (no.to_owned(), success, cards)
}

/// The JD order number, result and cards of a 游戏点卡 callback's decoded `data`.
fn read_game(data: &Value) -> (String, bool, Vec<String>) {
    let no = match &data["orderId"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let cards = data["cardinfos"]
        .as_array()
        .map(|cards| {
            cards
                .iter()
                .filter_map(|c| c["cardno"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let success = match &data["orderStatus"] {
        Value::String(s) => s == "0",
        Value::Number(n) => n.as_u64() == Some(0),
        _ => false,
    };
    (no, success, cards)
}

async fn hit(
    State(jd): State<Arc<Jd>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let fields = form::parse_form(&body);
    let path = uri.path().to_owned();
    let game = path.ends_with(".action");
    let sign = form::first_value(&fields, "sign")
        .unwrap_or_default()
        .to_owned();
    let (sign_ok, data, data_utf8) = if game {
        let (json, utf8) = game_data(&fields);
        (sign == game_sign(&fields), json, utf8)
    } else {
        (sign == general_sign(&fields), None, true)
    };
    let (no, success, cards) = match &data {
        Some(d) => read_game(d),
        None if game => (String::new(), false, Vec::new()),
        None => read_general(&fields),
    };
    let down = jd.down.load(Ordering::SeqCst);
    let failed = {
        let mut log = jd.log.lock().unwrap();
        let seen = jd.seen.fetch_add(1, Ordering::SeqCst);
        let failed = down || seen < jd.fail_first.load(Ordering::SeqCst);
        if jd.keep_hits {
            log.push(Hit {
                path,
                fields,
                sign_ok,
                at,
                data,
                data_utf8,
                failed,
                traceparent: headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            });
        }
        jd.orders
            .lock()
            .unwrap()
            .entry(no)
            .or_default()
            .push(Callback {
                at,
                sign_ok,
                success,
                cards,
                refused: failed,
            });
        failed
    };
    if down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    if failed {
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
    /// A fake JD that keeps every request ([`Jd::hits`]) and its callbacks by order.
    pub async fn start(fail_first: u32, general_code: &str) -> Arc<Jd> {
        Jd::serve(fail_first, general_code, true)
    }

    /// A fake JD that answers success to every callback and keeps only its callbacks by order
    /// ([`Jd::by_order`]): for benchmarks and drills with many orders.
    pub fn start_verifying() -> Arc<Jd> {
        Jd::serve(0, "0", false)
    }

    fn serve(fail_first: u32, general_code: &str, keep_hits: bool) -> Arc<Jd> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let jd = Arc::new(Jd {
            url: format!("http://{}", listener.local_addr().unwrap()),
            log: Mutex::default(),
            keep_hits,
            orders: Mutex::default(),
            down: AtomicBool::new(false),
            seen: AtomicU32::new(0),
            fail_first: AtomicU32::new(fail_first),
            general_code: Mutex::new(general_code.into()),
        });
        let app = axum::Router::new().fallback(hit).with_state(jd.clone());
        crate::serve_apart(listener, app);
        jd
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().clone()
    }

    /// Switches JD down (every request answered HTTP 503) or up again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// A copy of the callbacks by JD order number.
    pub fn by_order(&self) -> HashMap<String, Vec<Callback>> {
        self.orders.lock().unwrap().clone()
    }

    /// The callbacks JD accepted (answered success) for `order_no`.
    pub fn delivered(&self, order_no: &str) -> Vec<Callback> {
        self.orders
            .lock()
            .unwrap()
            .get(order_no)
            .map(|v| v.iter().filter(|c| !c.refused).cloned().collect())
            .unwrap_or_default()
    }

    /// Of `order_nos`, those without a delivered callback yet.
    pub fn without_callback(&self, order_nos: &[String]) -> Vec<String> {
        let orders = self.orders.lock().unwrap();
        order_nos
            .iter()
            .filter(|no| {
                !orders
                    .get(*no)
                    .is_some_and(|v| v.iter().any(|c| !c.refused))
            })
            .cloned()
            .collect()
    }
}

pub async fn general_shop(pool: &Pool, name: &str) -> u64 {
    Shop::jd_general(name, VENDOR)
        .keys(MD5_KEY, AES_KEY)
        .mode(ShopMode::Prod)
        .insert(pool)
        .await
}

pub async fn game_shop(pool: &Pool, jd: &Jd) -> u64 {
    game_shop_at(pool, &jd.url).await
}

/// The 游戏点卡 shop (production mode, [`GAME_KEY`]) whose callbacks go to the JD at `jd_url`
/// (`/api/gameApi.action`, `/api/cardApi.action`).
pub async fn game_shop_at(pool: &Pool, jd_url: &str) -> u64 {
    Shop::jd_game("game", CUSTOMER)
        .private_key(GAME_KEY)
        .mode(ShopMode::Prod)
        .callback_urls(
            &format!("{jd_url}/api/gameApi.action"),
            &format!("{jd_url}/api/cardApi.action"),
        )
        .insert(pool)
        .await
}

/// A card product with `n` cards `C-<name>-<i>` / `P-<name>-<i>`.
pub async fn card_product(pool: &Pool, name: &str, n: usize, platform: Platform) -> u64 {
    let id = Product::card(name)
        .face_value(1000)
        .price(Some(1000))
        .sku(platform, &format!("sku-{name}"))
        .insert(pool)
        .await;
    let text: String = (0..n)
        .map(|i| format!("C-{name}-{i},P-{name}-{i},2099-12-31\n"))
        .collect();
    fixtures::import_cards(pool, id, "b1", &text).await;
    id
}

pub struct Seed<'a> {
    pub platform: Platform,
    pub shop: u64,
    pub platform_no: &'a str,
    pub kind: common::domain::OrderKind,
    pub product: Option<u64>,
    pub quantity: i32,
    pub failure: Option<FailureReason>,
    pub notify_url: Option<String>,
}

/// A final order as the final transition leaves it (cards sold to it when it is a successful
/// card order, its first callback scheduled now) and its `order.completed` outbox message.
/// Returns (id, order_no).
pub async fn final_order(pool: &Pool, s: Seed<'_>) -> (u64, String) {
    insert_final_order(pool, s, true).await
}

/// [`final_order`] as an earlier version left it (it scheduled the callback when the message
/// arrived) whose message was lost: never scheduled, no outbox row.
pub async fn final_order_unscheduled(pool: &Pool, s: Seed<'_>) -> (u64, String) {
    insert_final_order(pool, s, false).await
}

async fn insert_final_order(pool: &Pool, s: Seed<'_>, scheduled: bool) -> (u64, String) {
    let order_no = common::domain::OrderNo::generate(chrono::Utc::now())
        .as_str()
        .to_owned();
    let status = if s.failure.is_some() {
        OrderStatus::Failed
    } else {
        OrderStatus::Succeeded
    };
    let mut tx = pool.begin().await.unwrap();
    let mut row = StoredOrder::new(s.platform, s.shop, s.platform_no, s.kind, status)
        .order_no(&order_no)
        .sku("sku")
        .quantity(s.quantity)
        .total_fen(1000)
        .failure(s.failure)
        .notify_url(s.notify_url.clone())
        .completed();
    if let Some(product) = s.product {
        row = row.product(product);
    }
    let id = row.insert(&mut *tx).await;
    // Fulfilment's doing: the order's cards taken from stock.
    if s.failure.is_none() && s.kind == common::domain::OrderKind::Card {
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
    if scheduled {
        sqlx::query("UPDATE orders SET notify_next_at = NOW(3) WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        common::mq::outbox::enqueue(
            &mut tx,
            &[Event::new(EventType::OrderCompleted, id, s.platform)],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    (id, order_no)
}

/// Starts the `notifier` binary of `stage` (polling every 50 ms) and waits until it is ready.
pub async fn notifier(stage: &Stage, extra: &[(&str, &str)]) -> Proc {
    let mut env = stage.env();
    env.push(("NOTIFY_POLL_MS".into(), "50".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut p = Proc::spawn("notifier", &env);
    p.wait_ready(Duration::from_secs(30)).await;
    p
}

/// The id of the order stored for the platform's order number.
pub async fn order_id(pool: &Pool, platform_no: &str) -> u64 {
    sqlx::query_scalar("SELECT id FROM orders WHERE platform_order_no = ?")
        .bind(platform_no)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("order {platform_no}: {e}"))
}

/// (notify_status, notify_attempts, notify_reason)
pub async fn notify_state(pool: &Pool, id: u64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT notify_status, notify_attempts, notify_reason FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn wait_status(pool: &Pool, id: u64, want: &str, within: Duration) {
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
