//! Fulfillment benchmark: a backlog of orders in `fulfillment.orders`, fulfilled by the real
//! release `fulfillment` binary with 4 workers — once all on one hot product, once spread over
//! 100 products. Prints orders fulfilled per second, when orders completed (p50/p99 of the time
//! from the consumer's start to each order's completion, i.e. latency under a full backlog) and
//! the process's RSS.
//!
//!     cargo build --release -p fulfillment -p system-tests --bins
//!     target/release/bench-fulfillment [--orders 20000]

use std::time::{Duration, Instant};

use common::domain::Platform;
use common::mq::publisher::{Outgoing, Publisher};
use common::mq::{Event, EventType, Mq, Topology};
use common::testing::fixtures::{self, Product, Shop};
use common::testing::{TEST_MASTER_KEY, TestDb, amqp_url, unique};
use system_tests::Proc;
use system_tests::bench::{Latencies, Table, rss_kib, status_kib};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let orders: usize = args
        .iter()
        .position(|a| a == "--orders")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut table = Table::new(&[
        "scenario",
        "orders",
        "orders/s",
        "done by p50",
        "done by p99",
        "RSS idle",
        "RSS peak",
    ]);
    for (label, products) in [("hot product", 1usize), ("100 products", 100)] {
        let r = scenario(orders, products).await;
        table.row(&[
            label.to_string(),
            orders.to_string(),
            format!("{:.0}", r.rate),
            format!("{:.1} ms", r.p50),
            format!("{:.1} ms", r.p99),
            format!("{:.1} MB", r.idle_kib as f64 / 1024.0),
            format!("{:.1} MB", r.peak_kib as f64 / 1024.0),
        ]);
    }
    println!("fulfillment, 4 workers x prefetch 16, release build, local MariaDB + RabbitMQ");
    table.print();
}

struct Run {
    rate: f64,
    p50: f64,
    p99: f64,
    idle_kib: u64,
    peak_kib: u64,
}

async fn scenario(orders: usize, products: usize) -> Run {
    let (db, pool) = TestDb::migrated().await;
    let prefix = unique("bench") + ".";
    let shop = Shop::jd_game("bench", "1").insert(&pool).await;
    let mut product_ids = Vec::new();
    let per_product = orders / products + 10;
    for p in 0..products {
        let id = Product::card(&format!("bench-{p}"))
            .price(Some(100))
            .low_stock_threshold(Some(5))
            .sku(Platform::JdGame, &format!("b{p}"))
            .insert(&pool)
            .await;
        let text: String = (0..per_product)
            .map(|i| format!("B{p}N{i:07},P{p}W{i:07}\n"))
            .collect();
        fixtures::import_cards(&pool, id, "bench", &text).await;
        product_ids.push(id);
    }
    // The orders, inserted directly, 50 rows a statement (seeding 20,000 through the fixtures
    // would take longer than the run); their messages published below.
    let mut ids = Vec::with_capacity(orders);
    for chunk in (0..orders).collect::<Vec<_>>().chunks(50) {
        let sql = format!(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, product_id, sku, quantity,
                total_price_fen, status) VALUES {}",
            vec!["(?, 'jd_game', ?, ?, 'card', ?, 'b', 1, 100, 'received')"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            q = q
                .bind(format!("BENCH{i:010}"))
                .bind(shop)
                .bind(i.to_string())
                .bind(product_ids[i % products]);
        }
        q.execute(&pool).await.unwrap();
    }
    let rows: Vec<u64> = sqlx::query_scalar("SELECT id FROM orders ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    ids.extend(rows);

    let env = vec![
        ("DATABASE_URL".to_string(), db.url.clone()),
        ("AMQP_URL".to_string(), amqp_url()),
        ("MASTER_KEY".to_string(), TEST_MASTER_KEY.to_string()),
        ("MQ_PREFIX".to_string(), prefix.clone()),
        ("RUST_LOG".to_string(), "warn".to_string()),
        ("FULFILLMENT_WORKERS".to_string(), "4".to_string()),
        ("FULFILLMENT_PREFETCH".to_string(), "16".to_string()),
        ("DB_MAX_CONNECTIONS".to_string(), "24".to_string()),
    ];
    let mq = Mq::connect(
        secrecy::SecretString::from(amqp_url()),
        "bench-publisher",
        Topology::new(prefix.clone()),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let publisher = Publisher::new(mq.clone());
    for chunk in ids.chunks(500) {
        let msgs: Vec<Outgoing> = chunk
            .iter()
            .map(|id| {
                let e = Event::new(EventType::OrderCreated, *id, Platform::JdGame);
                Outgoing {
                    message_id: e.event_id.to_string(),
                    routing_key: e.routing_key(),
                    payload: e.to_json().into_bytes(),
                    traceparent: None,
                }
            })
            .collect();
        assert!(
            publisher
                .publish_batch(&msgs)
                .await
                .iter()
                .all(Result::is_ok)
        );
    }
    // The backlog is in the queue; now the fulfillment process starts on it.
    let port = system_tests::free_port();
    let mut proc_ = Proc::spawn_path(&system_tests::binary("fulfillment"), &env, port);
    let start = Instant::now();
    let start_utc = chrono::Utc::now();
    proc_.wait_ready(Duration::from_secs(30)).await;
    let idle_kib = rss_kib(proc_.child.id());
    loop {
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'succeeded'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if done as usize == orders || start.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    let peak_kib = status_kib(proc_.child.id(), "VmHWM");
    // Time from the consumer's start to each order's completion.
    let done_at: Vec<chrono::NaiveDateTime> =
        sqlx::query_scalar("SELECT completed_at FROM orders WHERE completed_at IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut lat = Latencies::default();
    for t in done_at {
        let ms = (t - start_utc.naive_utc())
            .num_microseconds()
            .unwrap_or(0)
            .max(0) as u64;
        lat.record(Duration::from_micros(ms));
    }
    let sold: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE status = 'sold'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sold as usize, orders, "every order got exactly one card");
    proc_.terminate().await;
    mq.close().await;
    pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
    Run {
        rate: orders as f64 / elapsed.as_secs_f64(),
        p50: lat.percentile(50.0),
        p99: lat.percentile(99.0),
        idle_kib,
        peak_kib,
    }
}
