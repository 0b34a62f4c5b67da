//! agiso-sync push benchmark: signed, unique Taobao paid-order pushes (aopic 2, one mapped
//! line each: every push stores its event and creates an order with its timeline, Agiso side
//! and outbox rows) against the real release `agiso-sync` binary on local MariaDB + RabbitMQ.
//! Prints pushes accepted per second, p50/p99 latency, errors and the service's RSS.
//! Target on the 2-core reference machine: ≥ 2,000 pushes/s, p99 ≤ 50 ms.
//!
//!     cargo build --release -p agiso-sync -p system-tests --bins
//!     target/release/bench-agiso [--duration 20] [--concurrency 32]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::domain::{FulfilmentMode, Platform};
use common::testing::fixtures::{Product, Shop};
use common::testing::{TestDb, unique};
use system_tests::bench::{
    Table, hwm_kib, load_client, numeric_args, rss_kib, run_load, start_service,
};
use system_tests::fake_agiso::{ACCESS_TOKEN, APP_SECRET, Push, now_secs};

struct Args {
    duration: Duration,
    concurrency: usize,
}

fn args() -> Args {
    let a = numeric_args(&[("--duration", 20), ("--concurrency", 32)]);
    Args {
        duration: Duration::from_secs(a["--duration"]),
        concurrency: a["--concurrency"] as usize,
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let (db, pool) = TestDb::migrated().await;
    let prefix = unique("bench") + ".";
    Shop::agiso("bench-agiso", "20261202", "alds")
        .agiso_secrets(APP_SECRET, ACCESS_TOKEN)
        .with(|s| s.base_url = Some("http://127.0.0.1:9".into()))
        .insert(&pool)
        .await;
    Product::new("bench-agiso", FulfilmentMode::Card)
        .sku(Platform::Agiso, "BENCH-CARD")
        .insert(&pool)
        .await;

    let started = start_service(
        "agiso-sync",
        &db.url,
        &prefix,
        &[("AGISO_POLL_INTERVAL_SECS", "0")],
    )
    .await;
    let (mut svc, idle_rss) = (started.proc, started.idle_rss_kib);
    let url = format!("{}/api/agiso/push", started.base);
    let client = load_client();

    let counter = Arc::new(AtomicU64::new(1));
    let mut load = run_load(args.concurrency, args.duration, {
        let (client, url, counter) = (client.clone(), url.clone(), counter.clone());
        move || {
            let (client, url, counter) = (client.clone(), url.clone(), counter.clone());
            async move {
                let tid = 3_000_000_000_000_000_000u64 + counter.fetch_add(1, Ordering::Relaxed);
                let json = format!(
                    r#"{{"Tid":{tid},"Status":"WAIT_SELLER_SEND_GOODS","Orders":[{{"Oid":{},"NumIid":600000000001,"OuterIid":"BENCH-CARD","Num":1,"Payment":"9.90","Title":"卡"}}]}}"#,
                    tid + 1_000_000_000_000_000
                );
                let push = Push {
                    from_platform: "TbAlds",
                    aopic: 2,
                    timestamp: now_secs(),
                    json,
                };
                let (status, body) = push.try_send(&client, &url, APP_SECRET).await?;
                (status == 200 && body.is_empty()).then_some(())
            }
        }
    })
    .await;
    let load_rss = rss_kib(svc.child.id());
    let peak_rss = hwm_kib(svc.child.id());
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();

    let mut table = Table::new(&["measure", "value"]);
    table.row(&["concurrency".into(), args.concurrency.to_string()]);
    table.row(&[
        "duration".into(),
        format!("{:.1} s", load.elapsed.as_secs_f64()),
    ]);
    table.row(&[
        "pushes accepted/s".into(),
        format!("{:.0}", load.ok as f64 / load.elapsed.as_secs_f64()),
    ]);
    table.row(&[
        "p50".into(),
        format!("{:.2} ms", load.latencies.percentile(50.0)),
    ]);
    table.row(&[
        "p99".into(),
        format!("{:.2} ms", load.latencies.percentile(99.0)),
    ]);
    table.row(&["errors".into(), load.errors.to_string()]);
    table.row(&["orders created".into(), orders.to_string()]);
    table.row(&[
        "RSS idle".into(),
        format!("{:.1} MB", idle_rss as f64 / 1024.0),
    ]);
    table.row(&[
        "RSS after load".into(),
        format!("{:.1} MB", load_rss as f64 / 1024.0),
    ]);
    table.row(&[
        "RSS peak".into(),
        format!("{:.1} MB", peak_rss as f64 / 1024.0),
    ]);
    table.print();

    svc.terminate().await;
    pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
}
