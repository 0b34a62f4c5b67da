//! Fault drills: two replicas of every service on a fresh [`Stage`], a steady open-loop load of
//! JD orders over both JD platforms (通用交易 `beginDistill` card orders, 游戏点卡 `cardOrder` and
//! `directCharge` through two suppliers), and, one after another during the load, the faults of
//! [`Kind`]: SIGKILL of each service's replicas and their restart, a RabbitMQ restart, a MariaDB
//! restart, the fake JD down for a while, a supplier that hangs. Afterwards every order is
//! checked against the database, the callbacks JD received and JD's query endpoints (see
//! [`verify`]), and a table per drill is printed. Used by `drills` (full, release binaries,
//! `scripts/drills.sh`) and `tests/drills.rs` (short, in CI).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use common::crypto::JdAesKey;
use common::domain::Platform;
use common::protocol::jd_game::{GameAnswer, RetCode};
use common::protocol::jd_general::{self, DistillAnswer, ProduceStatus};
use common::testing::fixtures::{self, Product, Supplier};
use serde_json::Value;

use crate::bench::Table;
use crate::fake_jd::{self, AES_KEY, CUSTOMER, GAME_KEY, Jd, MD5_KEY, VENDOR};
use crate::fake_supplier::{Behaviour, FakeSupplier as Fake};
use crate::jd_client::{self, BeginInput};
use crate::{Proc, Stage, infra};

const GENERAL_SKU: &str = "drill-general";
const GAME_CARD_SKU: &str = "drill-game-card";
const GAME_DIRECT_SKU: &str = "drill-game-direct";
const PRICE_FEN: u64 = 1000;
/// JD order numbers of a run: this plus the run's order counter.
const FIRST_ORDER_NO: u64 = 8_000_000_000;

/// One fault of a drill run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SIGKILL both replicas of the service, then start them again.
    Kill(&'static str),
    /// `rabbitmqctl stop_app`, a pause, `start_app`.
    RabbitMq,
    /// MariaDB stopped, a pause, started again.
    MariaDb,
    /// The fake JD answers HTTP 503 to every callback for a while.
    JdDown,
    /// The first supplier holds every request beyond the supplier timeout for a while.
    SupplierHang,
}

impl Kind {
    pub fn label(self) -> String {
        match self {
            Kind::Kill(s) => format!("SIGKILL {s} ×2"),
            Kind::RabbitMq => "RabbitMQ restart".into(),
            Kind::MariaDb => "MariaDB restart".into(),
            Kind::JdDown => "fake JD down".into(),
            Kind::SupplierHang => "supplier hangs".into(),
        }
    }

    /// A drill by its command-line name: a service name, `rabbitmq`, `mariadb`, `jd`,
    /// `supplier`.
    pub fn parse(name: &str) -> Option<Kind> {
        if let Some(s) = crate::SERVICES.iter().find(|s| **s == name) {
            return Some(Kind::Kill(s));
        }
        match name {
            "rabbitmq" => Some(Kind::RabbitMq),
            "mariadb" => Some(Kind::MariaDb),
            "jd" => Some(Kind::JdDown),
            "supplier" => Some(Kind::SupplierHang),
            _ => None,
        }
    }

    /// Every drill, in the order they run.
    pub fn all() -> Vec<Kind> {
        let mut v: Vec<Kind> = crate::SERVICES.iter().map(|s| Kind::Kill(s)).collect();
        v.extend([
            Kind::RabbitMq,
            Kind::MariaDb,
            Kind::JdDown,
            Kind::SupplierHang,
        ]);
        v
    }
}

/// What a run does.
#[derive(Clone, Debug)]
pub struct Config {
    /// Orders per second offered (open loop).
    pub rate: u64,
    /// Orders at least: the load runs until the drills are over and this many were sent.
    pub orders: u64,
    pub replicas: usize,
    pub drills: Vec<Kind>,
    /// How long JD stays down, the supplier hangs, the broker and database stay stopped.
    pub fault: Duration,
    /// Pause before the first drill and between drills (the load runs on).
    pub settle: Duration,
    /// A callback later than this after its fault ended counts as late.
    pub late_bound: Duration,
    /// How long to wait, once the load stopped, for every order to be final and called back.
    pub quiesce: Duration,
    /// Service logs go to `<log_dir>/<service>-<replica>.log`.
    pub log_dir: PathBuf,
}

impl Config {
    /// The full drill of `scripts/drills.sh`.
    pub fn full() -> Config {
        Config {
            rate: 15,
            orders: 2_400,
            replicas: 2,
            drills: Kind::all(),
            fault: Duration::from_secs(20),
            settle: Duration::from_secs(5),
            late_bound: Duration::from_secs(60),
            quiesce: Duration::from_secs(300),
            log_dir: std::env::temp_dir().join("vg-drills"),
        }
    }

    /// The short drill of CI: every kind, fewer orders, shorter faults.
    pub fn short() -> Config {
        Config {
            rate: 4,
            orders: 300,
            fault: Duration::from_secs(6),
            settle: Duration::from_secs(2),
            late_bound: Duration::from_secs(60),
            quiesce: Duration::from_secs(150),
            ..Config::full()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up

/// The service processes: `replicas` of each, consumers started first.
struct Services {
    groups: Vec<(&'static str, Vec<Proc>)>,
}

/// Service settings for a drill: short retry schedules and leases, so recovery is seen within
/// the run (the defaults retry over a day).
fn drill_env(stage: &Stage) -> Vec<(String, String)> {
    let mut env = stage.env();
    let schedule = format!("1s,1s,2s,2s,3s{}", ",5s".repeat(80));
    for (k, v) in [
        ("RUST_LOG", "warn"),
        ("DB_MAX_CONNECTIONS", "12"),
        ("NOTIFY_SCHEDULE", schedule.as_str()),
        ("NOTIFY_POLL_MS", "200"),
        ("NOTIFY_HTTP_TIMEOUT_MS", "3000"),
        ("NOTIFY_LEASE_MS", "8000"),
        ("NOTIFY_SWEEP_MS", "10000"),
        ("NOTIFY_SWEEP_GRACE_MS", "10000"),
        ("OUTBOX_LEASE_MS", "5000"),
        ("SUPPLIER_POLL_MIN_MS", "500"),
        ("SUPPLIER_DEADLINE_SECS", "600"),
        ("FULFILLMENT_STOCK_POLL_MS", "500"),
        ("AGISO_OPERATOR_TOKEN", "drill-operator-token-0123456789"),
    ] {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

impl Services {
    async fn start(stage: &Stage, cfg: &Config) -> Services {
        std::fs::create_dir_all(&cfg.log_dir).expect("log directory");
        let env = drill_env(stage);
        let mut groups = Vec::new();
        for name in ["fulfillment", "notifier", "agiso-sync", "admin", "gateway"] {
            let mut procs = Vec::new();
            for i in 0..cfg.replicas {
                let log = cfg.log_dir.join(format!("{name}-{}.log", i + 1));
                let _ = std::fs::remove_file(&log);
                let mut p = Proc::spawn_logged(name, &env, &log);
                p.wait_ready(Duration::from_secs(60)).await;
                procs.push(p);
            }
            groups.push((name, procs));
        }
        Services { groups }
    }

    fn group(&mut self, name: &str) -> &mut Vec<Proc> {
        &mut self
            .groups
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("service group")
            .1
    }

    fn gateway_urls(&mut self) -> Vec<String> {
        self.group("gateway").iter().map(|p| p.url("")).collect()
    }

    /// SIGKILL every replica of `name`, then start them again on their ports and wait until
    /// they are ready.
    async fn kill_and_restart(&mut self, name: &str) {
        for p in self.group(name).iter_mut() {
            p.sigkill();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        for p in self.group(name).iter_mut() {
            p.restart();
        }
        for p in self.group(name).iter_mut() {
            p.wait_ready(Duration::from_secs(60)).await;
        }
    }

    /// Replicas that exited on their own (a supervisor would start them again; so does this):
    /// their names.
    async fn restart_exited(&mut self) -> Vec<String> {
        let mut exited = Vec::new();
        for (name, procs) in &mut self.groups {
            for (i, p) in procs.iter_mut().enumerate() {
                if !p.running() {
                    exited.push(format!("{name}#{}", i + 1));
                    p.restart();
                    p.wait_ready(Duration::from_secs(60)).await;
                }
            }
        }
        exited
    }

    async fn stop(mut self) {
        for (_, procs) in &mut self.groups {
            for p in procs.iter_mut() {
                p.terminate().await;
            }
        }
    }
}

/// The suppliers of the direct-charge product: `first` (priority 1, the one that hangs) and
/// `second` (priority 2).
struct Suppliers {
    first: Arc<Fake>,
    second: Arc<Fake>,
}

/// Shops on both JD platforms calling back the fake JD, a card product on both platforms with
/// enough cards, a direct product through two suppliers.
async fn provision(stage: &Stage, jd: &Jd, cfg: &Config) -> Suppliers {
    let pool = &stage.pool;
    fake_jd::general_shop(pool, "drill-general").await;
    fake_jd::game_shop_at(pool, &jd.url).await;
    let cards = Product::card("drill-card")
        .face_value(PRICE_FEN as i64)
        .price(Some(PRICE_FEN as i64))
        .sku(Platform::JdGeneral, GENERAL_SKU)
        .sku(Platform::JdGame, GAME_CARD_SKU)
        .insert(pool)
        .await;
    // Up to 3 cards per order, with room for the orders sent while the drills run on.
    let n = (cfg.orders + cfg.rate * 300) * 3;
    let mut from = 0;
    while from < n {
        let to = (from + 20_000).min(n);
        let text: String = (from..to)
            .map(|i| format!("DRL{i:010},PW{i:010},2099-12-31\n"))
            .collect();
        fixtures::import_cards(pool, cards, &format!("drill-{from}"), &text).await;
        from = to;
    }
    let direct = Product::direct_supplier("drill-direct")
        .face_value(PRICE_FEN as i64)
        .price(Some(PRICE_FEN as i64))
        .sku(Platform::JdGame, GAME_DIRECT_SKU)
        .insert(pool)
        .await;
    let first = Fake::start(
        "drill-m1",
        "drill-secret-1",
        Behaviour::Succeed { after: 0 },
    )
    .await;
    let second = Fake::start(
        "drill-m2",
        "drill-secret-2",
        Behaviour::Succeed { after: 0 },
    )
    .await;
    for (priority, fake) in [(1, &first), (2, &second)] {
        let id = Supplier::new(
            &format!("supplier-{priority}"),
            &fake.url,
            &fake.merchant,
            &fake.secret,
        )
        .timeout_ms(2000)
        .insert(pool)
        .await;
        common::db::suppliers::link_product(pool, direct, id, priority, &format!("UP-{id}"))
            .await
            .expect("link supplier");
    }
    Suppliers { first, second }
}

// ---------------------------------------------------------------------------------------------
// Load

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderType {
    /// 通用交易 `beginDistill` of the card product.
    General,
    /// 游戏点卡 `cardOrder`.
    GameCard,
    /// 游戏点卡 `directCharge` through the suppliers.
    GameDirect,
}

/// One JD order, as the load sent it.
#[derive(Clone, Debug)]
struct Sent {
    no: String,
    ty: OrderType,
    quantity: u64,
    /// First attempt.
    at: Instant,
    /// When an answer said "accepted" (or named the stored order).
    accepted_at: Option<Instant>,
    attempts: u32,
    /// A definite refusal (or giving up): what JD was told.
    refusal: Option<String>,
}

/// What one attempt got.
enum Answer {
    Accepted,
    /// Unreachable, unreadable, or a code JD retries on.
    Retry,
    Refused(String),
}

/// Where and how orders are sent, and what was sent.
struct Load {
    client: reqwest::Client,
    gateways: Vec<String>,
    jd_url: String,
    next: AtomicU64,
    sent: Mutex<Vec<Sent>>,
}

/// JD keeps repeating an order it has no answer for this long.
const ACCEPT_DEADLINE: Duration = Duration::from_secs(240);

impl Load {
    fn order_type(i: u64) -> OrderType {
        match i % 10 {
            0..=4 => OrderType::General,
            5..=7 => OrderType::GameCard,
            _ => OrderType::GameDirect,
        }
    }

    /// Sends the next order as JD does: the same order number again (round-robin over the
    /// gateways) while unreachable or answered with a retry code, until accepted; then one
    /// query a few seconds later (JD's reverse query).
    async fn send_next(&self) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let no = (FIRST_ORDER_NO + i).to_string();
        let ty = Load::order_type(i);
        let quantity = match ty {
            OrderType::GameDirect => 1,
            _ => 1 + i % 3,
        };
        let mut sent = Sent {
            no: no.clone(),
            ty,
            quantity,
            at: Instant::now(),
            accepted_at: None,
            attempts: 0,
            refusal: None,
        };
        loop {
            let base = &self.gateways[(i as usize + sent.attempts as usize) % self.gateways.len()];
            sent.attempts += 1;
            match self.order(base, &sent).await {
                Answer::Accepted => {
                    sent.accepted_at = Some(Instant::now());
                    break;
                }
                Answer::Refused(why) => {
                    sent.refusal = Some(why);
                    break;
                }
                Answer::Retry if sent.at.elapsed() > ACCEPT_DEADLINE => {
                    sent.refusal = Some("no answer within the deadline".into());
                    break;
                }
                Answer::Retry => {
                    let pause = 200 * u64::from(sent.attempts.min(10));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
        let accepted = sent.accepted_at.is_some();
        self.sent.lock().unwrap().push(sent.clone());
        if accepted {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let base = &self.gateways[i as usize % self.gateways.len()];
            let _ = query(&self.client, base, ty, &no).await;
        }
    }

    async fn order(&self, base: &str, s: &Sent) -> Answer {
        let total = PRICE_FEN * s.quantity;
        let Some(body) = (match s.ty {
            OrderType::General => {
                let fields = jd_client::begin_distill(
                    &BeginInput {
                        jd_order_no: s.no.parse().expect("a numeric JD order number"),
                        vendor_id: VENDOR,
                        ware_no: GENERAL_SKU,
                        quantity: u32::try_from(s.quantity).expect("quantity"),
                        total_price_fen: i64::try_from(total).expect("total"),
                        notify_url: &self.jd_url,
                        produce_account: None,
                        pay_time: "20240101120000",
                        timestamp: "20240101120000",
                    },
                    MD5_KEY,
                );
                post(&self.client, base, jd_client::BEGIN_PATH, fields).await
            }
            OrderType::GameCard | OrderType::GameDirect => {
                let price = format!("{}.{:02}", total / 100, total % 100);
                let (path, data) = if s.ty == OrderType::GameCard {
                    let data = serde_json::json!({"orderId": s.no, "buyNum": s.quantity,
                        "skuId": GAME_CARD_SKU, "brandId": "1", "totalPrice": price, "sourceType": 0});
                    ("cardOrder", data)
                } else {
                    let data = serde_json::json!({"orderId": s.no, "buyNum": 1,
                        "skuId": GAME_DIRECT_SKU, "totalPrice": price,
                        "gameAccount": format!("acct{}", s.no)});
                    ("directCharge", data)
                };
                let path = jd_client::game_call(path).path();
                post(&self.client, base, &path, game_params(&data)).await
            }
        }) else {
            return Answer::Retry;
        };
        match s.ty {
            OrderType::General => match DistillAnswer::parse_verified(&body, MD5_KEY) {
                Err(_) => Answer::Retry,
                Ok(a) => match a.produce_status {
                    ProduceStatus::InProgress | ProduceStatus::Success => Answer::Accepted,
                    ProduceStatus::Failed if a.agent_order_no.is_some() => Answer::Accepted,
                    ProduceStatus::Failed => Answer::Refused(format!("{:?}", a.code)),
                    ProduceStatus::Exception => Answer::Retry,
                },
            },
            _ => match GameAnswer::parse(&body) {
                None => Answer::Retry,
                Some(a) if a.ret_code == RetCode::Success => Answer::Accepted,
                Some(a) if a.ret_code.is_retry() => Answer::Retry,
                Some(a) => Answer::Refused(format!("{} {}", a.ret_code.code(), a.ret_message)),
            },
        }
    }
}

/// A signed 游戏点卡 request with `data` (Base64 of its JSON).
fn game_params(data: &Value) -> Vec<(String, String)> {
    jd_client::game(CUSTOMER, data, "20240101120000", GAME_KEY)
}

/// POSTs a signed form to the gateway at `base`: the body of a 2xx answer.
async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    fields: Vec<(String, String)>,
) -> Option<Bytes> {
    let request = jd_client::request(client, base, path, &fields).timeout(Duration::from_secs(15));
    let (status, body) = jd_client::send(request).await.ok()?;
    if !(200..300).contains(&status) {
        return None;
    }
    Some(body)
}

/// What a query endpoint answers about an order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Queried {
    Success(Vec<String>),
    Failed,
    InProgress,
    /// No readable answer (or a retry code).
    Unknown,
}

/// findDistill / cardQuery / directQuery of JD order `no`.
async fn query(client: &reqwest::Client, base: &str, ty: OrderType, no: &str) -> Queried {
    match ty {
        OrderType::General => {
            let fields = jd_client::find_distill(
                no.parse().expect("a numeric JD order number"),
                Some(VENDOR),
                "20240101120000",
                MD5_KEY,
            );
            let Some(body) = post(client, base, jd_client::FIND_PATH, fields).await else {
                return Queried::Unknown;
            };
            let Ok(a) = DistillAnswer::parse_verified(&body, MD5_KEY) else {
                return Queried::Unknown;
            };
            match a.produce_status {
                ProduceStatus::Success => {
                    let key = JdAesKey::new(AES_KEY).expect("AES key");
                    let cards = a
                        .product
                        .and_then(|p| jd_general::decrypt_cards(&p, &key).ok())
                        .map(|c| c.into_iter().map(|c| c.card_number).collect())
                        .unwrap_or_default();
                    Queried::Success(cards)
                }
                ProduceStatus::Failed => Queried::Failed,
                ProduceStatus::InProgress => Queried::InProgress,
                ProduceStatus::Exception => Queried::Unknown,
            }
        }
        OrderType::GameCard | OrderType::GameDirect => {
            let path = if ty == OrderType::GameCard {
                "cardQuery"
            } else {
                "directQuery"
            };
            let params = game_params(&serde_json::json!({ "orderId": no }));
            let path = jd_client::game_call(path).path();
            let Some(body) = post(client, base, &path, params).await else {
                return Queried::Unknown;
            };
            let Some(a) = GameAnswer::parse(&body) else {
                return Queried::Unknown;
            };
            if a.ret_code.is_retry() {
                return Queried::Unknown;
            }
            if a.ret_code != RetCode::Success {
                return Queried::Failed;
            }
            let data: Value = a
                .data
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            // A string in cardQuery's answer, a number in directQuery's.
            let status = match &data["orderStatus"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            match status.as_str() {
                "0" => Queried::Success(
                    data["cardinfos"]
                        .as_array()
                        .map(|c| {
                            c.iter()
                                .filter_map(|c| c["cardno"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                "1" => Queried::InProgress,
                _ => Queried::Unknown,
            }
        }
    }
}

/// Sends orders on schedule (`rate` per second, each its own task) until `stop` is set and at
/// least `min_orders` were sent; then waits for every order's task.
async fn run_load(
    load: Arc<Load>,
    rate: u64,
    min_orders: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    let mut i = 0u64;
    while !(stop.load(Ordering::SeqCst) && i >= min_orders) {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate as f64)).await;
        let load = load.clone();
        tasks.push(tokio::spawn(async move { load.send_next().await }));
        i += 1;
    }
    for t in tasks {
        t.await.expect("order task");
    }
}

// ---------------------------------------------------------------------------------------------
// Drills

/// One drill as it ran: the fault's start and end.
#[derive(Clone, Debug)]
pub struct Ran {
    pub kind: Kind,
    pub start: Instant,
    pub end: Instant,
    pub note: String,
}

async fn run_drill(
    kind: Kind,
    services: &mut Services,
    jd: &Jd,
    suppliers: &Suppliers,
    stage: &Stage,
    cfg: &Config,
) -> Ran {
    let start = Instant::now();
    let mut note = String::new();
    match kind {
        Kind::Kill(name) => services.kill_and_restart(name).await,
        Kind::RabbitMq => infra::restart_rabbitmq(cfg.fault / 2).await,
        Kind::MariaDb => {
            let guard = infra::DatabaseGuard;
            infra::restart_mariadb(&stage.db.url, cfg.fault / 4).await;
            drop(guard);
        }
        Kind::JdDown => {
            jd.set_down(true);
            tokio::time::sleep(cfg.fault).await;
            jd.set_down(false);
        }
        Kind::SupplierHang => {
            suppliers.first.set_stall(true);
            tokio::time::sleep(cfg.fault).await;
            suppliers.first.set_stall(false);
        }
    }
    let end = Instant::now();
    let exited = services.restart_exited().await;
    if !exited.is_empty() {
        note.push_str(&format!(" exited and restarted: {}", exited.join(", ")));
    }
    eprintln!(
        "drill {}: {:.1} s {}",
        kind.label(),
        end.duration_since(start).as_secs_f64(),
        note
    );
    Ran {
        kind,
        start,
        end,
        note,
    }
}

// ---------------------------------------------------------------------------------------------
// Verification

/// One order's verdict.
#[derive(Debug, Default, Clone)]
struct Verdict {
    /// Accepted but not final, or final without a callback JD accepted.
    lost: bool,
    /// Two orders for one JD number, a card in two orders, conflicting callbacks.
    duplicated: bool,
    /// The callback disagrees with the database or the query endpoint, bad signature, wrong
    /// card count.
    wrong: bool,
    /// Callbacks JD accepted (identical repeats after a crash count here, above 1).
    delivered: usize,
    /// First callback JD accepted.
    first_callback: Option<Instant>,
    why: Vec<String>,
}

/// A database order row.
#[derive(sqlx::FromRow, Clone)]
struct Row {
    id: u64,
    platform_order_no: String,
    status: String,
    quantity: i32,
    order_kind: String,
}

/// What the run found.
pub struct Report {
    pub table: Vec<Vec<String>>,
    pub lost: usize,
    pub duplicated: usize,
    pub wrong: usize,
    pub dead_letters: Vec<String>,
    pub not_accepted: Vec<String>,
    pub sent: usize,
    pub accepted: usize,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.lost + self.duplicated + self.wrong == 0
            && self.dead_letters.is_empty()
            && self.not_accepted.is_empty()
    }

    pub fn print(&self) {
        let mut t = Table::new(&[
            "drill",
            "orders",
            "lost",
            "duplicated",
            "late",
            "recovery s",
            "backlog cleared s",
            "wrong",
            "repeat callbacks",
            "fault s",
            "notes",
        ]);
        for row in &self.table {
            t.row(row);
        }
        t.print();
    }
}

async fn wait_quiet(stage: &Stage, jd: &Jd, nos: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE status NOT IN ('succeeded', 'failed')",
        )
        .fetch_one(&stage.pool)
        .await
        .unwrap_or(1);
        let missing = jd.without_callback(nos).len();
        if (open == 0 && missing == 0) || Instant::now() >= deadline {
            eprintln!("quiescence: {open} orders not final, {missing} without a callback");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Checks every order (see the module docs) and builds the table.
async fn verify(
    stage: &Stage,
    jd: &Jd,
    load: &Load,
    ran: &[Ran],
    cfg: &Config,
    gateway: &str,
) -> Report {
    let sent: Vec<Sent> = load.sent.lock().unwrap().clone();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, platform_order_no, status, quantity, order_kind FROM orders ORDER BY id",
    )
    .fetch_all(&stage.pool)
    .await
    .expect("orders");
    let mut db: HashMap<String, Vec<Row>> = HashMap::new();
    for r in rows {
        db.entry(r.platform_order_no.clone()).or_default().push(r);
    }
    let callbacks = jd.by_order();
    let key = common::testing::master_key();
    let mut card_owner: HashMap<String, String> = HashMap::new();
    let mut verdicts: HashMap<String, Verdict> = HashMap::new();
    let mut not_accepted = Vec::new();
    for s in &sent {
        let mut v = Verdict::default();
        let rows = db.get(&s.no).cloned().unwrap_or_default();
        if s.accepted_at.is_none() && rows.is_empty() {
            not_accepted.push(format!("{} ({:?}): {:?}", s.no, s.ty, s.refusal));
            continue;
        }
        if rows.len() > 1 {
            v.duplicated = true;
            v.why
                .push(format!("{} orders for one JD number", rows.len()));
        }
        let Some(row) = rows.first() else {
            v.lost = true;
            v.why.push("accepted but not in the database".into());
            verdicts.insert(s.no.clone(), v);
            continue;
        };
        let final_ = row.status == "succeeded" || row.status == "failed";
        if !final_ {
            v.lost = true;
            v.why.push(format!("status {}", row.status));
        }
        let got: Vec<fake_jd::Callback> = callbacks
            .get(&s.no)
            .map(|c| c.iter().filter(|c| !c.refused).cloned().collect())
            .unwrap_or_default();
        v.delivered = got.len();
        v.first_callback = got.first().map(|c| c.at);
        if got.is_empty() {
            v.lost = true;
            v.why.push("no callback".into());
        }
        if callbacks
            .get(&s.no)
            .is_some_and(|c| c.iter().any(|c| !c.sign_ok))
        {
            v.wrong = true;
            v.why.push("bad callback signature".into());
        }
        let sorted = |c: &[String]| {
            let mut c = c.to_vec();
            c.sort();
            c
        };
        if let Some(first) = got.first() {
            if got
                .iter()
                .any(|c| c.success != first.success || sorted(&c.cards) != sorted(&first.cards))
            {
                v.duplicated = true;
                v.why.push("conflicting callbacks".into());
            }
            if first.success != (row.status == "succeeded") {
                v.wrong = true;
                v.why.push(format!(
                    "callback success={} status {}",
                    first.success, row.status
                ));
            }
            for card in &first.cards {
                if let Some(other) = card_owner.insert(card.clone(), s.no.clone())
                    && other != s.no
                {
                    v.duplicated = true;
                    v.why.push(format!("card {card} also sold to {other}"));
                }
            }
            if row.status == "succeeded" && row.order_kind == "card" {
                let sold = common::db::cards::issued_to_order(&stage.pool, &key, row.id)
                    .await
                    .map(|c| c.into_iter().map(|c| c.card_no).collect::<Vec<_>>())
                    .unwrap_or_default();
                if sold.len() != row.quantity as usize
                    || sorted(&sold) != sorted(&first.cards)
                    || first.cards.len() as u64 != s.quantity
                {
                    v.wrong = true;
                    v.why.push(format!(
                        "cards: callback {}, database {}, quantity {}",
                        first.cards.len(),
                        sold.len(),
                        s.quantity
                    ));
                }
            }
            let q = query(&load.client, gateway, s.ty, &s.no).await;
            let expected = if first.success {
                Queried::Success(first.cards.clone())
            } else {
                Queried::Failed
            };
            let same = match (&q, &expected) {
                (Queried::Success(a), Queried::Success(b)) => sorted(a) == sorted(b),
                (a, b) => a == b,
            };
            if !same {
                v.wrong = true;
                v.why
                    .push(format!("query answers {q:?}, callback {expected:?}"));
            }
        }
        verdicts.insert(s.no.clone(), v);
    }
    // Orders in the database the load never sent, or callbacks for unknown orders.
    let known: HashSet<&String> = sent.iter().map(|s| &s.no).collect();
    let mut extra = 0;
    for no in db.keys().chain(callbacks.keys()) {
        if !known.contains(no) {
            extra += 1;
        }
    }

    let dead_letters = dead_letters(stage).await;

    let row_for = |label: String,
                   pick: &dyn Fn(&Sent) -> bool,
                   end: Option<Instant>,
                   fault: String,
                   note: String| {
        let picked: Vec<(&Sent, &Verdict)> = sent
            .iter()
            .filter(|s| pick(s))
            .filter_map(|s| verdicts.get(&s.no).map(|v| (s, v)))
            .collect();
        let lost = picked.iter().filter(|(_, v)| v.lost).count();
        let dup = picked.iter().filter(|(_, v)| v.duplicated).count();
        let wrong = picked.iter().filter(|(_, v)| v.wrong).count();
        let repeats: usize = picked
            .iter()
            .map(|(_, v)| v.delivered.saturating_sub(1))
            .sum();
        let (late, recovery, backlog) = match end {
            Some(end) => {
                let late = picked
                    .iter()
                    .filter(|(_, v)| v.first_callback.is_some_and(|at| at > end + cfg.late_bound))
                    .count();
                // The first order sent after the fault ended and called back.
                let recovery = sent
                    .iter()
                    .filter(|s| s.at >= end)
                    .filter_map(|s| verdicts.get(&s.no)?.first_callback)
                    .min()
                    .map(|at| format!("{:.1}", at.duration_since(end).as_secs_f64()))
                    .unwrap_or_else(|| "-".into());
                let backlog = picked
                    .iter()
                    .filter_map(|(_, v)| v.first_callback)
                    .max()
                    .map(|at| format!("{:.1}", at.saturating_duration_since(end).as_secs_f64()))
                    .unwrap_or_else(|| "-".into());
                (late.to_string(), recovery, backlog)
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        vec![
            label,
            picked.len().to_string(),
            lost.to_string(),
            dup.to_string(),
            late,
            recovery,
            backlog,
            wrong.to_string(),
            repeats.to_string(),
            fault,
            note,
        ]
    };
    let mut table = Vec::new();
    for r in ran {
        let (start, end) = (r.start, r.end);
        table.push(row_for(
            r.kind.label(),
            &|s: &Sent| s.at >= start && s.at <= end,
            Some(end),
            format!("{:.1}", end.duration_since(start).as_secs_f64()),
            r.note.clone(),
        ));
    }
    let mut all = row_for(
        "whole run".into(),
        &|_: &Sent| true,
        None,
        "-".into(),
        format!(
            "{} sent, {} not accepted, {extra} unknown orders/callbacks",
            sent.len(),
            not_accepted.len()
        ),
    );
    all[4] = sent
        .iter()
        .filter_map(|s| Some((s, verdicts.get(&s.no)?)))
        .filter(|(s, v)| {
            // Late in the whole run: called back later than the bound after it was accepted
            // and after the last fault that overlapped it.
            let fault_end = ran
                .iter()
                .filter(|r| r.start <= s.accepted_at.unwrap_or(s.at) + cfg.late_bound)
                .map(|r| r.end)
                .filter(|e| *e >= s.at)
                .max()
                .unwrap_or(s.at);
            v.first_callback.is_some_and(|at| {
                at > fault_end.max(s.accepted_at.unwrap_or(s.at)) + cfg.late_bound
            })
        })
        .count()
        .to_string();
    table.push(all);
    for (no, v) in &verdicts {
        if v.lost || v.duplicated || v.wrong {
            eprintln!("order {no}: {}", v.why.join("; "));
        }
    }
    Report {
        table,
        lost: verdicts.values().filter(|v| v.lost).count(),
        duplicated: verdicts.values().filter(|v| v.duplicated).count() + extra,
        wrong: verdicts.values().filter(|v| v.wrong).count(),
        dead_letters,
        not_accepted,
        sent: sent.len(),
        accepted: verdicts.len(),
    }
}

/// A `dead_letters` row: id, routing key, source queue, reason, payload.
type DeadLetter = (u64, String, Option<String>, Option<String>, Vec<u8>);

/// The dead letters of the run: `dead_letters` rows and messages still in the dead-letter queue.
async fn dead_letters(stage: &Stage) -> Vec<String> {
    let rows: Vec<DeadLetter> = sqlx::query_as(
        "SELECT id, routing_key, source_queue, reason, payload FROM dead_letters ORDER BY id",
    )
    .fetch_all(&stage.pool)
    .await
    .unwrap_or_default();
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|(id, key, queue, reason, payload)| {
            let text = String::from_utf8_lossy(&payload);
            format!(
                "dead_letters #{id}: {key} from {queue:?} ({reason:?}): {}",
                text.chars().take(200).collect::<String>()
            )
        })
        .collect();
    let dlq = format!("{}dead-letters", stage.prefix);
    if let Some(n) = common::testing::queues::queue_depth(&dlq).await
        && n > 0
    {
        out.push(format!("{n} messages in {dlq}"));
    }
    out
}

// ---------------------------------------------------------------------------------------------

/// Runs the drills of `cfg` under load and checks the outcome.
pub async fn run(cfg: &Config) -> Report {
    let started = Instant::now();
    let stage = Stage::new().await;
    let jd = Jd::start_verifying();
    let suppliers = provision(&stage, &jd, cfg).await;
    let mut services = Services::start(&stage, cfg).await;
    eprintln!(
        "{} replicas of each service ready after {:.1} s; logs in {}",
        cfg.replicas,
        started.elapsed().as_secs_f64(),
        cfg.log_dir.display()
    );
    let gateways = services.gateway_urls();
    let load = Arc::new(Load {
        client: crate::bench::load_client(),
        gateways: gateways.clone(),
        jd_url: jd.url.clone(),
        next: AtomicU64::new(0),
        sent: Mutex::default(),
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load_task = tokio::spawn(run_load(load.clone(), cfg.rate, cfg.orders, stop.clone()));

    let mut ran = Vec::new();
    for kind in &cfg.drills {
        tokio::time::sleep(cfg.settle).await;
        ran.push(run_drill(*kind, &mut services, &jd, &suppliers, &stage, cfg).await);
    }
    tokio::time::sleep(cfg.settle).await;
    stop.store(true, Ordering::SeqCst);
    load_task.await.expect("load");
    let nos: Vec<String> = load
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.accepted_at.is_some())
        .map(|s| s.no.clone())
        .collect();
    eprintln!(
        "load done after {:.1} s: {} orders accepted; waiting for quiescence",
        started.elapsed().as_secs_f64(),
        nos.len()
    );
    wait_quiet(&stage, &jd, &nos, cfg.quiesce).await;
    // Late repeats would arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut report = verify(&stage, &jd, &load, &ran, cfg, &gateways[0]).await;
    // Only orders the first supplier dropped while it hung reach the second one.
    let hang = Kind::SupplierHang.label();
    for row in report.table.iter_mut().filter(|r| r[0] == hang) {
        let note = format!(
            "timed-out submits queried, resubmitted to the same supplier on NOT_FOUND; {} \
             failed over to the second",
            suppliers.second.recharges()
        );
        row[10] = format!("{note} {}", row[10]).trim().to_string();
    }
    services.stop().await;
    if report.passed() {
        stage.cleanup().await;
    } else {
        eprintln!(
            "database {} kept for inspection (service logs in {})",
            stage.db.url,
            cfg.log_dir.display()
        );
    }
    eprintln!("drills took {:.1} s", started.elapsed().as_secs_f64());
    report
}

/// The bound of "late" and the definitions printed under the table.
pub fn legend(cfg: &Config) -> String {
    format!(
        "orders = JD orders first sent while the fault lasted (accepted then or on a retry); \
         lost = accepted but not final or never called back; duplicated = two orders for one \
         JD number, a card in two orders, or conflicting callbacks; late = first callback more \
         than {} s after the fault ended; recovery = fault end → callback of the first order \
         sent after it; backlog cleared = fault end → last callback of the fault's orders; \
         wrong = callback disagreeing with the database's cards, the order's status or the \
         query endpoint; repeat callbacks = identical callbacks sent again (a crash between \
         sending and recording)",
        cfg.late_bound.as_secs()
    )
}
