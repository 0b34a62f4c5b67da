//! Notifier benchmark: a backlog of completed JD orders due for their callback, sent by the real
//! release `notifier` binary to a local fake JD at concurrency 64 (NOTIFY_CONCURRENCY and
//! NOTIFY_PER_HOST_CONCURRENCY). Every callback is signed, sent over HTTP, answered, and its
//! attempt recorded (`callback_attempts` row + order update, in batches). Prints callbacks per second
//! (target ≥ 2,000/s) and the process's RSS.
//!
//!     cargo build --release -p notifier -p system-tests --bins
//!     target/release/bench-notifier [--orders 20000]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::domain::{Platform, ShopMode};
use common::testing::fixtures::Shop;
use common::testing::{TEST_MASTER_KEY, TestDb, amqp_url, unique};
use system_tests::Proc;
use system_tests::bench::{Table, rss_kib, status_kib};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let orders: usize = args
        .iter()
        .position(|a| a == "--orders")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let jd = FakeJd::start().await;
    let mut table = Table::new(&[
        "platform",
        "callbacks",
        "callbacks/s",
        "JD received",
        "attempts logged",
        "RSS idle",
        "RSS peak",
    ]);
    for platform in [Platform::JdGame, Platform::JdGeneral] {
        let before = jd.hits.load(Ordering::Relaxed);
        let r = scenario(platform, orders, &jd.url).await;
        table.row(&[
            platform.as_str().to_string(),
            orders.to_string(),
            format!("{:.0}", r.rate),
            (jd.hits.load(Ordering::Relaxed) - before).to_string(),
            r.logged.to_string(),
            format!("{:.1} MB", r.idle_kib as f64 / 1024.0),
            format!("{:.1} MB", r.peak_kib as f64 / 1024.0),
        ]);
    }
    println!("notifier, concurrency 64, release build, local MariaDB + fake JD (target ≥ 2000/s)");
    table.print();
}

struct FakeJd {
    url: String,
    hits: Arc<AtomicU64>,
}

impl FakeJd {
    async fn start() -> FakeJd {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicU64::new(0));
        let h = hits.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::Relaxed);
                if uri.path().ends_with(".action") {
                    r#"{"retCode":"100","retMessage":"接收成功"}"#
                } else {
                    r#"{"code":"0","message":"成功"}"#
                }
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeJd { url, hits }
    }
}

struct Run {
    rate: f64,
    /// `delivered` rows in `callback_attempts` (one per order when every attempt is recorded).
    logged: i64,
    idle_kib: u64,
    peak_kib: u64,
}

async fn scenario(platform: Platform, orders: usize, jd_url: &str) -> Run {
    let (db, pool) = TestDb::migrated().await;
    let prefix = unique("bench") + ".";
    let shop = Shop::new(platform, "bench", "1201")
        .keys("bench-md5-key", "0123456789abcdef0123456789abcdef")
        .private_key("bench-private-key")
        .mode(ShopMode::Prod)
        .callback_urls(
            &format!("{jd_url}/api/gameApi.action"),
            &format!("{jd_url}/api/cardApi.action"),
        )
        .insert(&pool)
        .await;
    // Completed direct orders, due now, in chunks of 500 rows a statement (a backlog this size
    // is seeded in bulk, not through the fixtures); notify_next_at stays NULL until the run.
    for chunk in (0..orders).collect::<Vec<_>>().chunks(500) {
        let sql = format!(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, sku,
                quantity, total_price_fen, status, notify_url, completed_at) VALUES {}",
            vec!["(?, ?, ?, ?, 'direct', 'sku', 1, 1000, 'succeeded', ?, NOW(3))"; chunk.len()]
                .join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            q = q
                .bind(format!("B{i:012}"))
                .bind(platform.as_str())
                .bind(shop)
                .bind((500_000_000 + i).to_string())
                .bind(format!("{jd_url}/vtp"));
        }
        q.execute(&pool).await.unwrap();
    }

    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("AMQP_URL".into(), amqp_url()),
        ("MASTER_KEY".into(), TEST_MASTER_KEY.into()),
        ("MQ_PREFIX".into(), prefix.clone()),
        ("RUST_LOG".into(), "warn".into()),
        ("DB_MAX_CONNECTIONS".into(), "48".into()),
        ("NOTIFY_CONCURRENCY".into(), "64".into()),
        ("NOTIFY_PER_HOST_CONCURRENCY".into(), "64".into()),
        ("NOTIFY_POLL_MS".into(), "20".into()),
    ];
    let mut proc_ = Proc::spawn_path(
        &system_tests::binary("notifier"),
        &env,
        system_tests::free_port(),
    );
    proc_.wait_ready(Duration::from_secs(60)).await;
    let pid = proc_.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kib = rss_kib(pid);

    let started = Instant::now();
    sqlx::query("UPDATE orders SET notify_next_at = NOW(3) WHERE notify_status = 'pending'")
        .execute(&pool)
        .await
        .unwrap();
    loop {
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE notify_status = 'delivered'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if done as usize >= orders {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {done} of {orders} delivered in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let peak_kib = status_kib(pid, "VmHWM");
    proc_.terminate().await;
    let logged: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM callback_attempts WHERE outcome = 'delivered'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
    Run {
        rate: orders as f64 / elapsed.as_secs_f64(),
        logged,
        idle_kib,
        peak_kib,
    }
}
