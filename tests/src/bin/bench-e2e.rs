//! End-to-end benchmark, from JD's request to JD's callback: signed, unique 通用交易
//! `beginDistill` orders (and, `--game-percent` of them, 游戏点卡 `cardOrder`s) go to the real
//! release `gateway` (round-robin over `--replicas` gateways); `fulfillment` takes their cards
//! from stock and `notifier` calls back a local fake JD, which checks every callback's signature,
//! decodes its cards and notes when it arrived. Each rate of `--rates` is an open-loop phase
//! (orders sent on schedule whatever the answers do), then comes a closed-loop saturation phase
//! (`--saturation-connections` workers back to back). Per phase: intake rate and latency,
//! request → callback latency (as JD sees it), end-to-end orders/s, CPU and RSS of the services,
//! MariaDB's and RabbitMQ's CPU, database statements and commits per order. Every order is
//! checked (one callback, valid signature, success, `--quantity` cards, no card sold twice); any
//! violation makes the program exit non-zero.
//!
//!     cargo build --release -p gateway -p fulfillment -p notifier -p system-tests --bins
//!     target/release/bench-e2e [--duration 15] [--rates 100,500,1000,1500]
//!         [--saturation-connections 64] [--game-percent 0] [--replicas 1] [--quantity 1]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::domain::Platform;
use common::protocol::jd_game::{GameAnswer, RetCode};
use common::protocol::jd_general::{DistillAnswer, ProduceCode, ProduceStatus};
use common::testing::fixtures::{self, Product};
use common::testing::{TestDb, unique};
use system_tests::bench::{
    CpuMeter, Latencies, Started, Table, global_status, hwm_kib, load_client,
    numeric_and_list_args, pids_named, rss_kib, start_replicas,
};
use system_tests::fake_jd::{self, CUSTOMER, Jd, MD5_KEY, VENDOR};
use system_tests::jd_client::{self, BeginInput, GameCall};
use tokio::sync::Semaphore;

/// Open loop: requests in flight at most; the dispatcher waits (and counts it) beyond that.
const MAX_IN_FLIGHT: usize = 2_000;
/// Orders per second the saturation phase may send at most (its cards are stocked for that).
const SATURATION_BOUND_PER_SEC: u64 = 2_500;
/// Cards per import.
const IMPORT_CHUNK: u64 = 20_000;
const GENERAL_SKU: &str = "e2e-general";
const GAME_SKU: &str = "e2e-game";
const PRICE_FEN: u64 = 1000;
/// JD order numbers of the run: this, plus the run's order counter.
const FIRST_ORDER_NO: u64 = 7_000_000_000;
/// An intake answer later than this counts as not accepted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a phase waits for its callbacks beyond its duration.
const CALLBACK_GRACE: Duration = Duration::from_secs(60);

struct Args {
    duration: Duration,
    rates: Vec<u64>,
    saturation_connections: usize,
    game_percent: u64,
    replicas: usize,
    quantity: u64,
}

fn args() -> Args {
    let (n, lists) = numeric_and_list_args(
        &[
            ("--duration", 15),
            ("--saturation-connections", 64),
            ("--game-percent", 0),
            ("--replicas", 1),
            ("--quantity", 1),
        ],
        &[("--rates", &[100, 500, 1000, 1500])],
    );
    let a = Args {
        duration: Duration::from_secs(n["--duration"]),
        rates: lists["--rates"].clone(),
        saturation_connections: n["--saturation-connections"] as usize,
        game_percent: n["--game-percent"],
        replicas: n["--replicas"] as usize,
        quantity: n["--quantity"],
    };
    assert!(a.duration > Duration::ZERO, "--duration must be at least 1");
    assert!(a.rates.iter().all(|r| *r > 0), "--rates must be above 0");
    assert!(a.game_percent <= 100, "--game-percent is 0 to 100");
    assert!(a.replicas >= 1, "--replicas must be at least 1");
    assert!((1..=1000).contains(&a.quantity), "--quantity is 1 to 1000");
    a
}

impl Args {
    /// Orders the run may send: every open-loop order plus the saturation phase's bound.
    fn order_bound(&self) -> u64 {
        let secs = self.duration.as_secs();
        self.rates.iter().map(|r| r * secs).sum::<u64>() + self.saturation_budget()
    }

    fn saturation_budget(&self) -> u64 {
        SATURATION_BOUND_PER_SEC * self.duration.as_secs()
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up

/// The two shops (the fake JD's keys), one card product on both platforms and its cards.
async fn provision(pool: &common::db::Pool, jd_url: &str, args: &Args) {
    fake_jd::general_shop(pool, "e2e-general").await;
    fake_jd::game_shop_at(pool, jd_url).await;
    let product = Product::card("e2e-card")
        .face_value(PRICE_FEN as i64)
        .price(Some(PRICE_FEN as i64))
        .sku(Platform::JdGeneral, GENERAL_SKU)
        .sku(Platform::JdGame, GAME_SKU)
        .insert(pool)
        .await;
    let cards = args.order_bound() * args.quantity;
    let started = Instant::now();
    let mut from = 0;
    while from < cards {
        let to = (from + IMPORT_CHUNK).min(cards);
        let text: String = (from..to)
            .map(|i| format!("E2E{i:010},PW{i:010},2099-12-31\n"))
            .collect();
        let report = fixtures::import_cards(pool, product, &format!("e2e-{from}"), &text).await;
        assert_eq!(report.new as u64, to - from, "cards imported");
        from = to;
    }
    println!(
        "imported {cards} cards in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The service processes: `replicas` of each.
struct Services {
    gateways: Vec<Started>,
    fulfillment: Vec<Started>,
    notifiers: Vec<Started>,
}

impl Services {
    /// Consumers first, so the gateways' first messages find them.
    async fn start(db_url: &str, prefix: &str, replicas: usize) -> Services {
        let fulfillment = start_replicas("fulfillment", replicas, db_url, prefix, &[]).await;
        let notifiers = start_replicas("notifier", replicas, db_url, prefix, &[]).await;
        let gateways = start_replicas("gateway", replicas, db_url, prefix, &[]).await;
        Services {
            gateways,
            fulfillment,
            notifiers,
        }
    }

    fn groups(&self) -> [(&'static str, &[Started]); 3] {
        [
            ("gateway", &self.gateways),
            ("fulfillment", &self.fulfillment),
            ("notifier", &self.notifiers),
        ]
    }

    /// The process ids of gateway, fulfillment and notifier.
    fn pids(&self) -> [Vec<u32>; 3] {
        self.groups()
            .map(|(_, group)| group.iter().map(|s| s.proc.child.id()).collect())
    }

    fn print_idle_rss(&self) {
        let mut table = Table::new(&["service", "replica", "idle RSS"]);
        for (name, group) in self.groups() {
            for (i, s) in group.iter().enumerate() {
                table.row(&[
                    name.to_string(),
                    (i + 1).to_string(),
                    format!("{:.1} MB", s.idle_rss_kib as f64 / 1024.0),
                ]);
            }
        }
        table.print();
    }

    async fn stop(self) {
        let all = [self.gateways, self.fulfillment, self.notifiers];
        for mut s in all.into_iter().flatten() {
            s.proc.terminate().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Load

/// Where and how orders are sent; one order counter for the whole run.
struct Orders {
    client: reqwest::Client,
    gateways: Vec<String>,
    jd_url: String,
    quantity: u64,
    game_percent: u64,
    next: AtomicU64,
}

/// One order as JD sent it.
struct Sent {
    no: String,
    /// A 游戏点卡 `cardOrder` (else 通用交易 `beginDistill`).
    game: bool,
    at: Instant,
    intake: Duration,
    /// Answered "accepted, in progress" (通用交易 JDO_201 / 3, 游戏点卡 100).
    accepted: bool,
}

impl Orders {
    /// The next order of the run: 游戏点卡 for `game_percent` of them, spread evenly, else
    /// 通用交易.
    async fn send_next(&self) -> Sent {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let no = (FIRST_ORDER_NO + i).to_string();
        let base = &self.gateways[i as usize % self.gateways.len()];
        let game = (i + 1) * self.game_percent / 100 > i * self.game_percent / 100;
        let at = Instant::now();
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            if game {
                self.card_order(base, &no).await
            } else {
                self.begin_distill(base, &no).await
            }
        })
        .await;
        Sent {
            game,
            intake: at.elapsed(),
            accepted: matches!(answer, Ok(Some(()))),
            no,
            at,
        }
    }

    async fn begin_distill(&self, base: &str, no: &str) -> Option<()> {
        let fields = jd_client::begin_distill(
            &BeginInput {
                jd_order_no: no.parse().expect("a numeric JD order number"),
                vendor_id: VENDOR,
                ware_no: GENERAL_SKU,
                quantity: u32::try_from(self.quantity).expect("quantity"),
                total_price_fen: i64::try_from(PRICE_FEN * self.quantity).expect("total"),
                notify_url: &self.jd_url,
                produce_account: None,
                pay_time: "20240101120000",
                timestamp: "20240101120000",
            },
            MD5_KEY,
        );
        let body = self.post(base, jd_client::BEGIN_PATH, &fields).await?;
        let a = DistillAnswer::parse_verified(&body, MD5_KEY).ok()?;
        (a.code == ProduceCode::InProgress && a.produce_status == ProduceStatus::InProgress)
            .then_some(())
    }

    async fn card_order(&self, base: &str, no: &str) -> Option<()> {
        let total = PRICE_FEN * self.quantity;
        let data = serde_json::json!({
            "orderId": no,
            "buyNum": self.quantity,
            "skuId": GAME_SKU,
            "brandId": "1",
            "totalPrice": format!("{}.{:02}", total / 100, total % 100),
            "sourceType": 0,
        });
        let params = jd_client::game(CUSTOMER, &data, "20240101120000", fake_jd::GAME_KEY);
        let path = GameCall::CardOrder.path();
        let body = self.post(base, &path, &params).await?;
        (GameAnswer::parse(&body)?.ret_code == RetCode::Success).then_some(())
    }

    async fn post(&self, base: &str, path: &str, form: &[(String, String)]) -> Option<Bytes> {
        let (_, body) = jd_client::post(&self.client, base, path, form).await.ok()?;
        Some(body)
    }
}

/// What a phase sent.
struct Sends {
    orders: Vec<Sent>,
    /// Open loop: times the in-flight cap held the dispatcher back.
    cap_hits: u64,
    /// Saturation: the phase stopped early because its stocked cards were used up.
    budget_used_up: bool,
}

/// Order i is due at start + i / rate; each due order is its own task, so slow answers do not
/// slow the offered rate (up to [`MAX_IN_FLIGHT`] in flight).
async fn open_loop(orders: &Arc<Orders>, rate: u64, duration: Duration) -> Sends {
    let total = rate * duration.as_secs();
    let start = tokio::time::Instant::now();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut cap_hits = 0;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate as f64)).await;
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                cap_hits += 1;
                slots.clone().acquire_owned().await.expect("open semaphore")
            }
        };
        let orders = orders.clone();
        tasks.push(tokio::spawn(async move {
            let sent = orders.send_next().await;
            drop(permit);
            sent
        }));
    }
    let mut sent = Vec::with_capacity(tasks.len());
    for t in tasks {
        sent.push(t.await.expect("request task"));
    }
    Sends {
        orders: sent,
        cap_hits,
        budget_used_up: false,
    }
}

/// `connections` workers send back to back for `duration`, at most `budget` orders in all.
async fn closed_loop(
    orders: &Arc<Orders>,
    connections: usize,
    duration: Duration,
    budget: u64,
) -> Sends {
    let deadline = Instant::now() + duration;
    let left = Arc::new(AtomicI64::new(budget as i64));
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (orders, left) = (orders.clone(), left.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                while Instant::now() < deadline && left.fetch_sub(1, Ordering::Relaxed) > 0 {
                    sent.push(orders.send_next().await);
                }
                sent
            })
        })
        .collect();
    let mut sent = Vec::new();
    for w in workers {
        sent.extend(w.await.expect("load worker"));
    }
    Sends {
        orders: sent,
        cap_hits: 0,
        budget_used_up: left.load(Ordering::Relaxed) < 0 && Instant::now() < deadline,
    }
}

/// Waits until every accepted order of `sends` has its callback, or `within`; the missing ones.
async fn wait_callbacks(jd: &Jd, sends: &Sends, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut missing: Vec<String> = sends
        .orders
        .iter()
        .filter(|s| s.accepted)
        .map(|s| s.no.clone())
        .collect();
    loop {
        missing = jd.without_callback(&missing);
        if missing.is_empty() || Instant::now() >= deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Measures

/// The processes a phase measures.
struct Watched {
    /// gateway, fulfillment, notifier (each its replicas).
    services: [Vec<u32>; 3],
    mariadb: Vec<u32>,
    rabbitmq: Vec<u32>,
    /// This program: the load generator and the fake JD, on the same cores.
    bench: Vec<u32>,
}

impl Watched {
    fn find(services: &Services) -> Watched {
        Watched {
            services: services.pids(),
            mariadb: pids_named(&["mariadbd", "mysqld"]),
            rabbitmq: pids_named(&["beam.smp"]),
            bench: vec![std::process::id()],
        }
    }
}

/// Counters at a phase's start.
struct Meters {
    services: [CpuMeter; 3],
    mariadb: CpuMeter,
    rabbitmq: CpuMeter,
    bench: CpuMeter,
    status: HashMap<String, u64>,
    started: Instant,
}

/// What a phase used, from its first request to its last callback (or the wait's end).
struct Usage {
    /// Cores, summed over replicas: gateway, fulfillment, notifier.
    cpu: [f64; 3],
    /// VmRSS at the phase's end and VmHWM (peak since start), MB, summed over replicas.
    rss_mb: [f64; 3],
    peak_mb: [f64; 3],
    mariadb: f64,
    rabbitmq: f64,
    bench: f64,
    /// Δ of `SHOW GLOBAL STATUS` counters.
    status: HashMap<String, u64>,
    wall: Duration,
}

impl Meters {
    async fn start(w: &Watched, pool: &common::db::Pool) -> Meters {
        Meters {
            services: w.services.each_ref().map(|p| CpuMeter::start(p)),
            mariadb: CpuMeter::start(&w.mariadb),
            rabbitmq: CpuMeter::start(&w.rabbitmq),
            bench: CpuMeter::start(&w.bench),
            status: global_status(pool).await,
            started: Instant::now(),
        }
    }

    async fn finish(self, w: &Watched, pool: &common::db::Pool) -> Usage {
        let mb = |read: fn(u32) -> u64, pids: &Vec<u32>| {
            pids.iter().map(|p| read(*p)).sum::<u64>() as f64 / 1024.0
        };
        let after = global_status(pool).await;
        let status = after
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.saturating_sub(*self.status.get(k)?))))
            .collect();
        Usage {
            cpu: self.services.each_ref().map(CpuMeter::cores),
            rss_mb: w.services.each_ref().map(|p| mb(rss_kib, p)),
            peak_mb: w.services.each_ref().map(|p| mb(hwm_kib, p)),
            mariadb: self.mariadb.cores(),
            rabbitmq: self.rabbitmq.cores(),
            bench: self.bench.cores(),
            status,
            wall: self.started.elapsed(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Per-phase verdicts on every order.
#[derive(Default)]
struct Checks {
    sent: usize,
    /// Of them, 游戏点卡 `cardOrder`s.
    game: usize,
    accepted: usize,
    not_accepted: usize,
    called_back: usize,
    lost: usize,
    duplicates: usize,
    bad_sign: usize,
    not_success: usize,
    wrong_card_count: usize,
    card_reused: usize,
}

impl Checks {
    fn violations(&self) -> usize {
        self.not_accepted
            + self.lost
            + self.duplicates
            + self.bad_sign
            + self.not_success
            + self.wrong_card_count
            + self.card_reused
    }
}

/// What the callbacks of a phase's orders say.
struct Verdict {
    checks: Checks,
    e2e: Latencies,
    intake: Latencies,
    first_send: Option<Instant>,
    last_answer: Option<Instant>,
    last_callback: Option<Instant>,
}

/// Checks each order of `sends` against its callbacks; `sold` (card → JD order, the whole run)
/// catches a card delivered to two orders.
fn check(sends: &Sends, jd: &Jd, quantity: u64, sold: &mut HashMap<String, String>) -> Verdict {
    let calls = jd.orders.lock().unwrap();
    let mut v = Verdict {
        checks: Checks {
            sent: sends.orders.len(),
            game: sends.orders.iter().filter(|s| s.game).count(),
            ..Checks::default()
        },
        e2e: Latencies::default(),
        intake: Latencies::default(),
        first_send: sends.orders.iter().map(|s| s.at).min(),
        last_answer: sends.orders.iter().map(|s| s.at + s.intake).max(),
        last_callback: None,
    };
    let c = &mut v.checks;
    for sent in &sends.orders {
        if !sent.accepted {
            c.not_accepted += 1;
            continue;
        }
        c.accepted += 1;
        v.intake.record(sent.intake);
        let Some(got) = calls.get(&sent.no) else {
            c.lost += 1;
            continue;
        };
        let first = &got[0];
        c.called_back += 1;
        c.duplicates += got.len() - 1;
        c.bad_sign += usize::from(got.iter().any(|g| !g.sign_ok));
        c.not_success += usize::from(!first.success);
        c.wrong_card_count += usize::from(first.cards.len() as u64 != quantity);
        for card in &first.cards {
            if sold
                .insert(card.clone(), sent.no.clone())
                .is_some_and(|o| o != sent.no)
            {
                c.card_reused += 1;
            }
        }
        v.e2e.record(first.at.saturating_duration_since(sent.at));
        v.last_callback = v.last_callback.max(Some(first.at));
    }
    v
}

/// Over the whole run, once every phase is done: duplicates that came late, and callbacks for
/// order numbers the run never sent or whose intake was not accepted.
fn check_run(jd: &Jd, accepted: &std::collections::HashSet<String>) -> (usize, usize) {
    let calls = jd.orders.lock().unwrap();
    let duplicates = calls.values().map(|v| v.len() - 1).sum();
    let unexpected = calls.keys().filter(|no| !accepted.contains(*no)).count();
    (duplicates, unexpected)
}

// ---------------------------------------------------------------------------------------------
// Phases

/// What runs the phases.
struct Bench {
    args: Args,
    orders: Arc<Orders>,
    jd: Arc<Jd>,
    watched: Watched,
    pool: common::db::Pool,
    sold: HashMap<String, String>,
    accepted: std::collections::HashSet<String>,
}

enum Load {
    Open(u64),
    Saturation,
}

/// One phase's row of the result tables.
struct Phase {
    label: String,
    sends: Sends,
    verdict: Verdict,
    usage: Usage,
    missing: Vec<String>,
}

impl Bench {
    async fn phase(&mut self, load: Load) -> Phase {
        let d = self.args.duration;
        let meters = Meters::start(&self.watched, &self.pool).await;
        let (label, sends) = match load {
            Load::Open(rate) => (rate.to_string(), open_loop(&self.orders, rate, d).await),
            Load::Saturation => {
                let n = self.args.saturation_connections;
                let budget = self.args.saturation_budget();
                let sends = closed_loop(&self.orders, n, d, budget).await;
                (format!("saturation ×{n}"), sends)
            }
        };
        let missing = wait_callbacks(&self.jd, &sends, CALLBACK_GRACE + d).await;
        let usage = meters.finish(&self.watched, &self.pool).await;
        let verdict = check(&sends, &self.jd, self.args.quantity, &mut self.sold);
        self.accepted.extend(
            sends
                .orders
                .iter()
                .filter(|s| s.accepted)
                .map(|s| s.no.clone()),
        );
        let phase = Phase {
            label,
            sends,
            verdict,
            usage,
            missing,
        };
        phase.print_progress();
        phase
    }
}

fn secs_between(from: Option<Instant>, to: Option<Instant>) -> f64 {
    match (from, to) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    }
}

fn per_order(status: &HashMap<String, u64>, name: &str, orders: usize) -> String {
    match status.get(name) {
        Some(n) if orders > 0 => format!("{:.2}", *n as f64 / orders as f64),
        Some(_) => "0".into(),
        None => "-".into(),
    }
}

/// The server's fsync counter: `Innodb_os_log_fsyncs` (redo log; MySQL, older MariaDB), else
/// `Innodb_data_fsyncs` (MariaDB 10.x has only that one).
fn fsync_counter(status: &HashMap<String, u64>) -> &'static str {
    if status.contains_key("Innodb_os_log_fsyncs") {
        "Innodb_os_log_fsyncs"
    } else {
        "Innodb_data_fsyncs"
    }
}

fn triple(v: [f64; 3], decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).join("/")
}

impl Phase {
    fn print_progress(&self) {
        let c = &self.verdict.checks;
        println!(
            "phase {}: {} sent, {} accepted, {} called back, {} violations, {:.1} s",
            self.label,
            c.sent,
            c.accepted,
            c.called_back,
            c.violations(),
            self.usage.wall.as_secs_f64()
        );
        if !self.missing.is_empty() {
            let some: Vec<&str> = self.missing.iter().take(10).map(String::as_str).collect();
            println!(
                "  {} accepted orders without a callback, e.g. {}",
                self.missing.len(),
                some.join(", ")
            );
        }
    }

    fn result_row(&mut self) -> Vec<String> {
        let v = &mut self.verdict;
        let u = &self.usage;
        let c = &v.checks;
        let intake_secs = secs_between(v.first_send, v.last_answer);
        let e2e_secs = secs_between(v.first_send, v.last_callback);
        let rate = |n: usize, secs: f64| {
            if secs > 0.0 {
                format!("{:.0}", n as f64 / secs)
            } else {
                "0".into()
            }
        };
        let (accepted, called_back, lost, dups) = (c.accepted, c.called_back, c.lost, c.duplicates);
        vec![
            self.label.clone(),
            rate(accepted, intake_secs),
            format!("{:.1}", v.intake.percentile(50.0)),
            format!("{:.1}", v.intake.percentile(99.0)),
            format!("{:.1}", v.e2e.percentile(50.0)),
            format!("{:.1}", v.e2e.percentile(95.0)),
            format!("{:.1}", v.e2e.percentile(99.0)),
            rate(called_back, e2e_secs),
            triple(u.cpu, 2),
            format!("{} (peak {})", triple(u.rss_mb, 0), triple(u.peak_mb, 0)),
            format!("{:.2}", u.mariadb),
            format!("{:.2}", u.rabbitmq),
            format!("{:.2}", u.bench),
            per_order(&u.status, "Questions", accepted),
            per_order(&u.status, "Com_commit", accepted),
            per_order(&u.status, fsync_counter(&u.status), accepted),
            lost.to_string(),
            dups.to_string(),
        ]
    }

    fn checks_row(&self) -> Vec<String> {
        let c = &self.verdict.checks;
        let notes = match (self.sends.cap_hits, self.sends.budget_used_up) {
            (0, false) => String::new(),
            (n, false) => format!("in-flight cap ({MAX_IN_FLIGHT}) hit {n}×"),
            (_, true) => "stopped early: stocked cards used up".into(),
        };
        vec![
            self.label.clone(),
            c.sent.to_string(),
            c.game.to_string(),
            c.accepted.to_string(),
            c.not_accepted.to_string(),
            c.called_back.to_string(),
            c.lost.to_string(),
            c.duplicates.to_string(),
            c.bad_sign.to_string(),
            c.not_success.to_string(),
            c.wrong_card_count.to_string(),
            c.card_reused.to_string(),
            format!("{:.1}", self.usage.wall.as_secs_f64()),
            notes,
        ]
    }
}

fn print_tables(phases: &mut [Phase]) {
    let mut results = Table::new(&[
        "offered/s",
        "intake/s",
        "intake p50",
        "intake p99",
        "e2e p50",
        "e2e p95",
        "e2e p99",
        "e2e orders/s",
        "CPU gw/ff/nt",
        "RSS gw/ff/nt MB",
        "MariaDB CPU",
        "RabbitMQ CPU",
        "bench CPU",
        "stmts/order",
        "commits/order",
        "fsyncs/order",
        "lost",
        "dup",
    ]);
    let mut checks = Table::new(&[
        "phase",
        "sent",
        "game",
        "accepted",
        "not accepted",
        "called back",
        "lost",
        "dup",
        "bad sign",
        "not success",
        "wrong card count",
        "card reused",
        "wall s",
        "notes",
    ]);
    for p in phases.iter_mut() {
        results.row(&p.result_row());
        checks.row(&p.checks_row());
    }
    println!();
    println!(
        "latencies in ms; CPU in cores (bench = this program: load and fake JD) and RSS summed \
         over replicas, measured from a phase's first request to its last callback; RSS at that point (peak = VmHWM since start); \
         statements (Questions), commits (Com_commit) and fsyncs ({}) are server-wide SHOW \
         GLOBAL STATUS deltas per accepted order, idle polling of the services included",
        phases
            .first()
            .map_or("-", |p| fsync_counter(&p.usage.status))
    );
    results.print();
    println!();
    checks.print();
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() {
    let args = args();
    let (db, pool) = TestDb::migrated().await;
    let prefix = unique("bench") + ".";
    let jd = Jd::start_verifying();
    let jd_url = jd.url.clone();
    provision(&pool, &jd_url, &args).await;

    let services = Services::start(&db.url, &prefix, args.replicas).await;
    services.print_idle_rss();
    let orders = Arc::new(Orders {
        client: load_client(),
        gateways: services.gateways.iter().map(|s| s.base.clone()).collect(),
        jd_url,
        quantity: args.quantity,
        game_percent: args.game_percent,
        next: AtomicU64::new(0),
    });
    let summary = format!(
        "variant: {} replica(s) of each service, {}% 游戏点卡, quantity {}, {} s per phase, \
         machine cores {}",
        args.replicas,
        args.game_percent,
        args.quantity,
        args.duration.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut bench = Bench {
        watched: Watched::find(&services),
        orders,
        jd,
        pool,
        args,
        sold: HashMap::new(),
        accepted: Default::default(),
    };

    let mut phases = Vec::new();
    for rate in bench.args.rates.clone() {
        phases.push(bench.phase(Load::Open(rate)).await);
    }
    phases.push(bench.phase(Load::Saturation).await);
    let (run_duplicates, unexpected) = check_run(&bench.jd, &bench.accepted);

    print_tables(&mut phases);
    println!("{summary}");

    services.stop().await;
    bench.pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;

    let phase_violations: usize = phases.iter().map(|p| p.verdict.checks.violations()).sum();
    let phase_duplicates: usize = phases.iter().map(|p| p.verdict.checks.duplicates).sum();
    let late_duplicates = run_duplicates.saturating_sub(phase_duplicates);
    if phase_violations + late_duplicates + unexpected > 0 {
        eprintln!(
            "FAILED: {phase_violations} violations in the phases (see the checks table), \
             {late_duplicates} duplicate callbacks after their phase, {unexpected} callbacks \
             for orders not accepted"
        );
        std::process::exit(1);
    }
    println!("all checks passed");
}
