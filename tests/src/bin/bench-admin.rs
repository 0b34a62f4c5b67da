//! Admin benchmark: 1,000,000 orders, 1,000,000 cards and 200,000 callback attempts in the
//! database, then every list page and search of the real release `admin` binary, each requested
//! repeatedly at a small concurrency (operators, not robots). Prints p50/p99 per page (target:
//! p99 ≤ 100 ms) and the admin's RSS.
//!
//!     cargo build --release -p admin -p system-tests --bins
//!     target/release/bench-admin [--orders 1000000] [--cards 1000000] [--requests 200] [--concurrency 4]

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::crypto::at_rest::MasterKey;
use common::testing::{TEST_MASTER_KEY, TestDb, amqp_url, unique};
use system_tests::bench::{Latencies, Table, rss_kib, status_kib};
use system_tests::{Proc, free_port};

const PASSWORD: &str = "bench-password-1";

struct Args {
    orders: u64,
    cards: u64,
    requests: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        orders: 1_000_000,
        cards: 1_000_000,
        requests: 200,
        concurrency: 4,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let n = pair.get(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        match pair[0].as_str() {
            "--orders" => a.orders = n,
            "--cards" => a.cards = n,
            "--requests" => a.requests = n as usize,
            "--concurrency" => a.concurrency = n as usize,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

async fn exec(pool: &common::db::Pool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Rows are generated in SQL (a 0..999 numbers table crossed with itself), in chunks.
async fn seed(pool: &common::db::Pool, key: &MasterKey, orders: u64, cards: u64) {
    exec(pool, "CREATE TABLE bench_n (n INT NOT NULL PRIMARY KEY)").await;
    let values: Vec<String> = (0..1000).map(|i| format!("({i})")).collect();
    exec(
        pool,
        &format!("INSERT INTO bench_n VALUES {}", values.join(",")),
    )
    .await;
    exec(
        pool,
        "INSERT INTO shops (id, platform, name, merchant_id) VALUES
            (1, 'jd_general', '京东通用店', 'V1001'), (2, 'jd_game', '京东点卡店', 'C2002'),
            (3, 'agiso', '阿奇索店', 'A3003')",
    )
    .await;
    exec(
        pool,
        "INSERT INTO products (id, name, mode, low_stock_threshold)
         SELECT n + 1, CONCAT('商品', n + 1), IF(n % 4 = 3, 'direct_manual', 'card'), 100
         FROM bench_n WHERE n < 100",
    )
    .await;
    // Orders: 90 days, id order = time order; 90 % succeeded, 5 % failed, 3 % processing,
    // 2 % awaiting manual; every tenth has a recharge account.
    let span_secs = 90 * 24 * 3600;
    let chunk = 100_000u64;
    let started = Instant::now();
    let mut done = 0;
    while done < orders {
        let n = chunk.min(orders - done);
        exec(
            pool,
            &format!(
                "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind,
                    product_id, sku, quantity, total_price_fen, recharge_account, status,
                    notify_status, created_at, completed_at)
                 SELECT CONCAT('B', LPAD(k, 10, '0')),
                    ELT(k % 3 + 1, 'jd_general', 'jd_game', 'agiso'), k % 3 + 1,
                    CONCAT('9', LPAD(k, 12, '0')), IF(k % 4 = 3, 'direct', 'card'),
                    k % 100 + 1, CONCAT('SKU', k % 100 + 1), 1, 1000 + k % 5000,
                    IF(k % 10 = 0, CONCAT('1', LPAD(k % 100000000, 10, '0')), NULL),
                    CASE WHEN k % 100 < 90 THEN 'succeeded' WHEN k % 100 < 95 THEN 'failed'
                         WHEN k % 100 < 98 THEN 'processing' ELSE 'awaiting_manual' END,
                    CASE WHEN k % 100 < 89 THEN 'delivered' WHEN k % 100 < 95 THEN 'giving_up'
                         ELSE 'pending' END,
                    NOW(3) - INTERVAL ({total} - k) * {step} MICROSECOND,
                    NOW(3) - INTERVAL ({total} - k) * {step} MICROSECOND
                 FROM (SELECT a.n * 1000 + b.n + {done} AS k FROM bench_n a CROSS JOIN bench_n b
                       WHERE a.n * 1000 + b.n < {n}) t",
                total = orders,
                step = span_secs * 1_000_000 / orders.max(1),
            ),
        )
        .await;
        done += n;
    }
    println!("seeded {orders} orders in {:.0?}", started.elapsed());
    // Cards: 64 distinct encrypted values reused (the list decrypts 50 per page; sealed for
    // another row they do not open, at the same AES-GCM cost as one that does); unique
    // fingerprints; 70 % available, 28 % sold, 2 % void; batches of 10,000.
    exec(
        pool,
        "CREATE TABLE bench_blobs (i INT PRIMARY KEY, no_enc VARBINARY(1024), pass_enc BLOB)",
    )
    .await;
    for i in 0..64 {
        sqlx::query("INSERT INTO bench_blobs VALUES (?, ?, ?)")
            .bind(i)
            .bind(common::db::cards::seal(
                key,
                common::crypto::SealedColumn::CardNo,
                0,
                &[i as u8],
                &format!("CARDNO{i:010}"),
            ))
            .bind(common::db::cards::seal(
                key,
                common::crypto::SealedColumn::CardPassword,
                0,
                &[i as u8],
                &format!("PASS{i:012}"),
            ))
            .execute(pool)
            .await
            .unwrap();
    }
    let started = Instant::now();
    let mut done = 0;
    while done < cards {
        let n = chunk.min(cards - done);
        exec(
            pool,
            &format!(
                "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint,
                    status, order_id, created_at, sold_at)
                 SELECT k % 100 + 1, CONCAT('batch-', FLOOR(k / 10000)), bb.no_enc, bb.pass_enc,
                    UNHEX(SHA2(CONCAT('card', k), 256)),
                    CASE WHEN k % 100 < 70 THEN 'available' WHEN k % 100 < 98 THEN 'sold' ELSE 'void' END,
                    IF(k % 100 BETWEEN 70 AND 97, k + 1, NULL),
                    NOW(3) - INTERVAL ({cards} - k) SECOND,
                    IF(k % 100 BETWEEN 70 AND 97, NOW(3), NULL)
                 FROM (SELECT a.n * 1000 + b.n + {done} AS k FROM bench_n a CROSS JOIN bench_n b
                       WHERE a.n * 1000 + b.n < {n}) t
                 JOIN bench_blobs bb ON bb.i = t.k % 64"
            ),
        )
        .await;
        done += n;
    }
    exec(
        pool,
        "INSERT INTO card_batches (id, product_id, source, imported_by, total_lines, inserted)
         SELECT DISTINCT batch_id, MIN(product_id), '基准测试', 'bench', 10000, 10000
         FROM cards GROUP BY batch_id",
    )
    .await;
    println!("seeded {cards} cards in {:.0?}", started.elapsed());
    // Callback attempts: 200,000 over the first orders.
    exec(
        pool,
        "INSERT INTO callback_attempts (order_id, target, attempt_no, url, request_body, http_status,
            response_body, duration_ms, outcome, created_at)
         SELECT k + 1, ELT(k % 2 + 1, 'jd_general', 'jd_game'), 1, 'http://jd.example/produce/result',
            'vendorId=1001&product=[卡密已隐藏]', 200, '{\"code\":\"0\"}', 12,
            IF(k % 20 = 0, 'retry', 'delivered'), NOW(3) - INTERVAL (200000 - k) SECOND
         FROM (SELECT a.n * 1000 + b.n AS k FROM bench_n a CROSS JOIN bench_n b
               WHERE a.n < 200) t",
    )
    .await;
    exec(
        pool,
        "INSERT INTO audit_log (username, action, target_type, target_id, detail)
         SELECT 'bench', 'order.resend', 'order', n, '基准' FROM bench_n",
    )
    .await;
    exec(pool, "ANALYZE TABLE orders, cards, callback_attempts").await;
}

/// A logged-in HTTP session (cookies handled by hand: the session cookie only).
struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

async fn login(base: &str) -> Session {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let form = client
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_value(&form, "vg_login").expect("login cookie");
    let html = form.text().await.unwrap();
    let at = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
    let token = html[at..].split('"').next().unwrap().to_owned();
    let resp = client
        .post(format!("{base}/admin/login"))
        .header("cookie", format!("vg_login={login_cookie}"))
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "login");
    let session = cookie_value(&resp, "vg_admin").expect("session cookie");
    Session {
        client,
        base: base.to_owned(),
        cookie: format!("vg_admin={session}"),
    }
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF token") + 20;
    html[at..].split('"').next().unwrap().to_owned()
}

/// `n` new cards for `product` through the import page as an operator does it: a CSV file
/// uploaded for the preview, then the commit. Returns (preview, commit) times.
async fn import_cards(s: &Session, product: u64, n: usize) -> (Duration, Duration) {
    let get = |path: &str| {
        s.client
            .get(format!("{}{path}", s.base))
            .header("cookie", &s.cookie)
    };
    let form_page = get("/admin/cards/import").send().await.unwrap();
    let csrf = csrf_of(&form_page.text().await.unwrap());
    let mut text = String::with_capacity(n * 48);
    text.push_str("卡号,卡密,有效期\n");
    for i in 0..n {
        text.push_str(&format!("BENCHIMP{i:010},BENCHPW{i:016},2099-12-31\n"));
    }
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .text("product", product.to_string())
        .text("text", String::new())
        .part(
            "file",
            reqwest::multipart::Part::bytes(text.into_bytes())
                .file_name("bench.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let started = Instant::now();
    let preview = s
        .client
        .post(format!("{}/admin/cards/import/preview", s.base))
        .header("cookie", &s.cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status().as_u16(), 200, "preview");
    let html = preview.text().await.unwrap();
    let previewed = started.elapsed();
    let at = html.find("name=\"draft\" value=\"").expect("a draft") + 20;
    let draft = html[at..].split('"').next().unwrap().to_owned();
    let started = Instant::now();
    let done = s
        .client
        .post(format!("{}/admin/cards/import/commit", s.base))
        .header("cookie", &s.cookie)
        .form(&[("_csrf", csrf.as_str()), ("draft", draft.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303, "commit");
    let flash = done
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(flash.contains("/admin/cards"), "{flash}");
    (previewed, started.elapsed())
}

#[tokio::main]
async fn main() {
    let args = args();
    let (db, pool) = TestDb::migrated().await;
    let key = MasterKey::from_base64(TEST_MASTER_KEY).unwrap();
    seed(&pool, &key, args.orders, args.cards).await;

    let prefix = unique("bench") + ".";
    let port = free_port();
    let env = vec![
        ("DATABASE_URL".to_string(), db.url.clone()),
        ("AMQP_URL".to_string(), amqp_url()),
        ("MASTER_KEY".to_string(), TEST_MASTER_KEY.to_string()),
        ("MQ_PREFIX".to_string(), prefix.clone()),
        ("RUST_LOG".to_string(), "warn".to_string()),
        ("ADMIN_BOOTSTRAP_PASSWORD".to_string(), PASSWORD.to_string()),
        (
            "ADMIN_LOGIN_RATE_PER_MINUTE".to_string(),
            "1000".to_string(),
        ),
    ];
    let mut admin = Proc::spawn_path(&system_tests::binary("admin"), &env, port);
    admin.wait_ready(Duration::from_secs(30)).await;
    let pid = admin.child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kib = rss_kib(pid);
    let session = Arc::new(login(&format!("http://127.0.0.1:{port}")).await);

    // A sample of real values to search for.
    let (order_no, platform_no, account): (String, String, String) = sqlx::query_as(
        "SELECT order_no, platform_order_no, recharge_account FROM orders
         WHERE recharge_account IS NOT NULL ORDER BY id LIMIT 1 OFFSET 4321",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&common::domain::beijing())
        .date_naive();
    let week_ago = today - chrono::Duration::days(7);
    let pages: Vec<(&str, String)> = vec![
        ("订单列表", "/admin/orders".into()),
        ("订单列表 第 150 页", "/admin/orders?page=150".into()),
        ("订单 按订单号", format!("/admin/orders?q={order_no}")),
        ("订单 按京东单号", format!("/admin/orders?q={platform_no}")),
        ("订单 按充值账号", format!("/admin/orders?q={account}")),
        (
            "订单 状态=待人工",
            "/admin/orders?status=awaiting_manual".into(),
        ),
        ("订单 状态=失败", "/admin/orders?status=failed".into()),
        (
            "订单 回调=已放弃",
            "/admin/orders?notify_status=giving_up".into(),
        ),
        (
            "订单 平台=游戏点卡",
            "/admin/orders?platform=jd_game".into(),
        ),
        ("订单 店铺", "/admin/orders?shop=2".into()),
        ("订单 商品", "/admin/orders?product=42".into()),
        (
            "订单 日期范围",
            format!("/admin/orders?from={week_ago}&to={today}"),
        ),
        (
            "订单 组合筛选",
            format!("/admin/orders?platform=jd_general&status=failed&from={week_ago}&to={today}"),
        ),
        ("卡密列表", "/admin/cards".into()),
        ("卡密 商品", "/admin/cards?product=7".into()),
        (
            "卡密 商品+可用",
            "/admin/cards?product=7&status=available".into(),
        ),
        ("卡密 作废", "/admin/cards?status=void".into()),
        ("卡密 批次", "/admin/cards?batch=batch-42".into()),
        ("回调日志", "/admin/callbacks".into()),
        ("回调日志 重试", "/admin/callbacks?outcome=retry".into()),
        (
            "回调日志 按订单",
            format!("/admin/callbacks?order={order_no}"),
        ),
        ("商品管理", "/admin/products".into()),
        ("系统配置", "/admin/config".into()),
        ("操作审计", "/admin/audit".into()),
        ("死信队列", "/admin/dead-letters".into()),
        ("仪表盘", "/admin/".into()),
    ];
    let mut table = Table::new(&["page", "requests", "p50 ms", "p99 ms", "max ms", "status"]);
    let mut worst = 0.0f64;
    for (label, path) in &pages {
        let mut all = Latencies::default();
        let mut statuses = std::collections::BTreeSet::new();
        let per_worker = args.requests.div_ceil(args.concurrency.max(1));
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (s, path) = (session.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Latencies::default();
                let mut codes = Vec::new();
                for _ in 0..per_worker {
                    let t = Instant::now();
                    let r = s
                        .client
                        .get(format!("{}{}", s.base, path))
                        .header("cookie", &s.cookie)
                        .send()
                        .await
                        .unwrap();
                    codes.push(r.status().as_u16());
                    let _ = r.bytes().await;
                    lat.record(t.elapsed());
                }
                (lat, codes)
            }));
        }
        for t in tasks {
            let (lat, codes) = t.await.unwrap();
            all.merge(lat);
            statuses.extend(codes);
        }
        let p99 = all.percentile(99.0);
        worst = worst.max(p99);
        table.row(&[
            label.to_string(),
            all.len().to_string(),
            format!("{:.1}", all.percentile(50.0)),
            format!("{p99:.1}"),
            format!("{:.1}", all.percentile(100.0)),
            statuses
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    let import = import_cards(&session, 1, 100_000).await;
    let peak_kib = status_kib(pid, "VmHWM");
    println!(
        "admin, {} orders, {} cards, {} requests per page at concurrency {}, release build, local MariaDB (target p99 ≤ 100 ms)",
        args.orders, args.cards, args.requests, args.concurrency
    );
    table.print();
    println!(
        "卡密导入 100,000 张（上传文件 → 预览 → 确认导入）: preview {:.1} s + commit {:.1} s = {:.1} s (target < 30 s)",
        import.0.as_secs_f64(),
        import.1.as_secs_f64(),
        (import.0 + import.1).as_secs_f64()
    );
    println!(
        "worst p99 {worst:.1} ms; admin RSS idle {:.1} MB, peak {:.1} MB",
        idle_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
    admin.terminate().await;
    pool.close().await;
    db.drop_database().await;
    common::testing::delete_topology(&prefix).await;
}
