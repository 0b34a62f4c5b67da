//! Gateway benchmark: correctly signed, unique beginDistill requests (and preCheck requests)
//! against the real release `gateway` binary on local MariaDB + RabbitMQ. Prints throughput,
//! p50/p99 latency, errors and the gateway's RSS.
//!
//!     cargo build --release -p gateway -p system-tests --bins
//!     target/release/bench-gateway [--duration 20] [--concurrency 64] [--precheck-concurrency 16]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::domain::Platform;
use common::protocol::jd_game;
use common::protocol::jd_general::{self, DistillAnswer, ProduceCode};
use common::testing::{TestDb, unique};
use system_tests::bench::{
    Table, hwm_kib, load_client, numeric_args, rss_kib, run_load, start_service,
};

const KEY: &str = common::protocol::vectors::general::K;
const GAME_KEY: &str = common::protocol::vectors::game::K;

struct Args {
    duration: Duration,
    concurrency: usize,
    precheck_concurrency: usize,
}

fn args() -> Args {
    let a = numeric_args(&[
        ("--duration", 20),
        ("--concurrency", 64),
        ("--precheck-concurrency", 16),
    ]);
    Args {
        duration: Duration::from_secs(a["--duration"]),
        concurrency: a["--concurrency"] as usize,
        precheck_concurrency: a["--precheck-concurrency"] as usize,
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let (db, pool) = TestDb::migrated().await;
    let prefix = unique("bench") + ".";
    seed(&pool).await;

    let started = start_service("gateway", &db.url, &prefix, &[]).await;
    let (mut gw, base, idle_rss) = (started.proc, started.base, started.idle_rss_kib);
    let client = load_client();

    // beginDistill: unique orders.
    let counter = Arc::new(AtomicU64::new(1));
    let mut begin = run_load(args.concurrency, args.duration, {
        let (client, base, counter) = (client.clone(), base.clone(), counter.clone());
        move || {
            let (client, base, counter) = (client.clone(), base.clone(), counter.clone());
            async move {
                let no = 1_000_000_000 + counter.fetch_add(1, Ordering::Relaxed);
                let fields = jd_general::sign_form(
                    &[
                        ("wareNo", "45002"),
                        ("quantity", "1"),
                        ("jdOrderNo", &no.to_string()),
                        ("totalPrice", "5000"),
                        ("payTime", "20240101120000"),
                        ("notifyUrl", "https://vtpnotify.jd.com/vtp"),
                        ("vendorId", "1201"),
                        ("signType", "MD5"),
                        ("timestamp", "20240101120000"),
                    ],
                    KEY,
                );
                let body = common::protocol::form::encode_form(&fields);
                let r = client
                    .post(format!("{base}/api/jd/general/beginDistill"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .ok()?;
                let bytes = r.bytes().await.ok()?;
                let a = DistillAnswer::parse_verified(&bytes, KEY).ok()?;
                (a.code == ProduceCode::InProgress).then_some(())
            }
        }
    })
    .await;
    let load_rss = rss_kib(gw.child.id());
    let peak_rss = hwm_kib(gw.child.id());

    // The relay must have published every order.
    let drain_start = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        if left == 0 || drain_start.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = drain_start.elapsed();
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();

    // preCheck: live stock reads.
    let mut pre = run_load(args.precheck_concurrency, Duration::from_secs(10), {
        let (client, base) = (client.clone(), base.clone());
        move || {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let json = r#"{"pin":"p","buyNum":"1","skuId":"20001","brandId":"1","userIp":"1.1.1.1","totalPrice":"50"}"#;
                let mut params = vec![
                    ("customerId".to_string(), "10817".to_string()),
                    ("data".to_string(), base64_encode(json.as_bytes())),
                    ("timestamp".to_string(), "20240101120000".to_string()),
                ];
                let sign = jd_game::sign(&params, GAME_KEY);
                params.push(("sign".to_string(), sign));
                let r = client
                    .post(format!("{base}/api/jd/game/preCheck"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(common::protocol::form::encode_form(&params))
                    .send()
                    .await
                    .ok()?;
                let a = jd_game::GameAnswer::parse(&r.bytes().await.ok()?)?;
                (a.ret_code == jd_game::RetCode::Success).then_some(())
            }
        }
    })
    .await;

    let mut table = Table::new(&["measure", "value"]);
    table.row(&[
        "beginDistill concurrency".into(),
        args.concurrency.to_string(),
    ]);
    table.row(&[
        "beginDistill duration".into(),
        format!("{:.1} s", begin.elapsed.as_secs_f64()),
    ]);
    table.row(&[
        "beginDistill orders/s".into(),
        format!("{:.0}", begin.ok as f64 / begin.elapsed.as_secs_f64()),
    ]);
    table.row(&[
        "beginDistill p50".into(),
        format!("{:.2} ms", begin.latencies.percentile(50.0)),
    ]);
    table.row(&[
        "beginDistill p99".into(),
        format!("{:.2} ms", begin.latencies.percentile(99.0)),
    ]);
    table.row(&["beginDistill errors".into(), begin.errors.to_string()]);
    table.row(&["orders stored".into(), orders.to_string()]);
    table.row(&[
        "outbox drained after load".into(),
        format!("{:.2} s", drain.as_secs_f64()),
    ]);
    table.row(&[
        "preCheck concurrency".into(),
        args.precheck_concurrency.to_string(),
    ]);
    table.row(&[
        "preCheck requests/s".into(),
        format!("{:.0}", pre.ok as f64 / pre.elapsed.as_secs_f64()),
    ]);
    table.row(&[
        "preCheck p50".into(),
        format!("{:.2} ms", pre.latencies.percentile(50.0)),
    ]);
    table.row(&[
        "preCheck p99".into(),
        format!("{:.2} ms", pre.latencies.percentile(99.0)),
    ]);
    table.row(&["preCheck errors".into(), pre.errors.to_string()]);
    table.row(&[
        "gateway RSS idle".into(),
        format!("{:.1} MB", idle_rss as f64 / 1024.0),
    ]);
    table.row(&[
        "gateway RSS after load".into(),
        format!("{:.1} MB", load_rss as f64 / 1024.0),
    ]);
    table.row(&[
        "gateway RSS peak".into(),
        format!("{:.1} MB", peak_rss as f64 / 1024.0),
    ]);
    table.print();

    gw.terminate().await;
    pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn seed(pool: &common::db::Pool) {
    use common::testing::fixtures::{self, Product, Shop};
    Shop::jd_general("bench-general", "1201")
        .keys(KEY, KEY)
        .insert(pool)
        .await;
    Shop::jd_game("bench-game", "10817")
        .private_key(GAME_KEY)
        .insert(pool)
        .await;
    let id = Product::card("bench-card")
        .face_value(5000)
        .price(Some(5000))
        .sku(Platform::JdGeneral, "45002")
        .sku(Platform::JdGame, "20001")
        .insert(pool)
        .await;
    let text: String = (0..1000)
        .map(|i| format!("BENCH{i:06},PASS{i:06}\n"))
        .collect();
    fixtures::import_cards(pool, id, "bench", &text).await;
}
