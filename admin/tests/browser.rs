//! The back office in a real browser: headless Debian Chromium driven through WebDriver
//! (chromedriver) from Rust. An operator logs in, imports cards, finds an order, completes it by
//! hand; screenshots of the dashboard, orders and cards pages are saved under
//! `target/tmp/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`, `chromium-driver`;
//! `scripts/test.sh` installs them). Without them this test fails and says so, except where
//! `scripts/test.sh` found Chromium to be only a snap (Ubuntu) and set `VG_SKIP_BROWSER_TEST` to
//! the reason: then it prints that it was skipped, and why, and passes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::domain::{OrderStatus, Platform};
use common::testing::app::TestApp;
use common::testing::fixtures::{Product, Shop, StoredOrder};
use common::testing::{free_port, unique};
use fantoccini::{Client, ClientBuilder, Locator};

const PASSWORD: &str = "browser-test-password";

struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn find(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

async fn start_driver() -> Driver {
    let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
        .expect("chromedriver not found: install Debian chromium-driver (scripts/test.sh does)");
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = std::env::temp_dir().join(unique("vg-chromium-"));
    let d = Driver {
        child,
        port,
        profile,
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn browser(d: &Driver) -> Client {
    let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).expect(
        "chromium not found: install Debian chromium (scripts/test.sh does; on Ubuntu, where \
             it is only a snap, scripts/test.sh skips this test)",
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=1440,1000", "--lang=zh-CN",
                format!("--user-data-dir={}", d.profile.display()),
            ],
        }),
    );
    ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.port))
        .await
        .expect("WebDriver session")
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        png.len() > 10_000,
        "{name}: a real rendering, not a blank page"
    );
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    path
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// A running admin (the shared in-process [`TestApp`]) with one operator.
async fn start_app() -> TestApp {
    let app = TestApp::start(&[], async |env| {
        admin::build(admin::Config::from_env(&env)?).await
    })
    .await;
    let hash = admin::password::hash(PASSWORD).unwrap();
    common::db::users::insert(&app.pool, "op", &hash, common::domain::Role::Operator)
        .await
        .unwrap();
    app
}

async fn login(c: &Client, app: &TestApp) {
    c.goto(&format!("{}/admin/", app.base)).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
    c.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("op")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if c.wait().for_element(Locator::Css(".stat")).await.is_err() {
        let url = c.current_url().await.unwrap();
        let html = c.source().await.unwrap_or_default();
        panic!("no dashboard after login: at {url}\n{html}");
    }
}

/// A JD 通用交易 shop, a card product and one card order held for an operator.
async fn seed(pool: &common::db::Pool) -> (u64, u64) {
    let shop = Shop::jd_general("通用店", "1201").insert(pool).await;
    let product = Product::card("腾讯Q币10元").insert(pool).await;
    let order = StoredOrder::new(
        Platform::JdGeneral,
        shop,
        "JD880001",
        common::domain::OrderKind::Card,
        OrderStatus::AwaitingManual,
    )
    .order_no("VG2026112500000001")
    .product(product)
    .sku("1001")
    .total_fen(1000)
    .notify_url(Some("http://127.0.0.1:9/jd".into()))
    .insert(pool)
    .await;
    (product, order)
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn wait_for(c: &Client, css: &str) {
    if c.wait().for_element(Locator::Css(css)).await.is_err() {
        let url = c.current_url().await.unwrap();
        let html = c.source().await.unwrap_or_default();
        panic!("{css} not found at {url}\n{html}");
    }
}

#[tokio::test]
async fn operator_day_in_a_real_browser() {
    if let Ok(reason) = std::env::var("VG_SKIP_BROWSER_TEST")
        && !reason.is_empty()
    {
        eprintln!("SKIPPED operator_day_in_a_real_browser: {reason}");
        return;
    }
    let app = start_app().await;
    let (product, order_id) = seed(&app.pool).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;

    login(&c, &app).await;
    assert_eq!(text_of(&c, "h1").await, "仪表盘");
    screenshot(&c, "dashboard").await;

    // Import cards by paste: the preview counts new and duplicate lines, then the operator
    // confirms and lands on the new batch, masked.
    click(&c, "a[href=\"/admin/cards\"]").await;
    wait_for(&c, "a[href^=\"/admin/cards/import\"]").await;
    click(&c, "a[href^=\"/admin/cards/import\"]").await;
    wait_for(&c, "select[name=product]").await;
    c.find(Locator::Css("select[name=product]"))
        .await
        .unwrap()
        .select_by_value(&product.to_string())
        .await
        .unwrap();
    type_into(
        &c,
        "textarea[name=text]",
        "BRIMPORT0001,BRIMPASS0001\nBRIMPORT0002,BRIMPASS0002\nBRIMPORT0001,BRIMPASS0001\n",
    )
    .await;
    click(&c, "form.cards-import button[type=submit]").await;
    wait_for(&c, "#count-new").await;
    assert_eq!(text_of(&c, "#count-new").await, "2");
    assert_eq!(text_of(&c, "#count-dup-file").await, "1");
    click(
        &c,
        "form[action=\"/admin/cards/import/commit\"] button[type=submit]",
    )
    .await;
    c.accept_alert().await.expect("a confirmation dialog");
    wait_for(&c, ".cards-row").await;
    assert_eq!(
        c.find_all(Locator::Css(".cards-row")).await.unwrap().len(),
        2
    );
    let page = c.source().await.unwrap();
    assert!(
        !page.contains("BRIMPASS0001") && !page.contains("BRIMPORT0001"),
        "imported cards are shown masked"
    );
    screenshot(&c, "cards").await;
    let imported: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cards WHERE product_id = ? AND status = 'available'",
    )
    .bind(product)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(imported, 2);

    // Find the order by its JD number and complete it by hand with a card.
    click(&c, "a[href=\"/admin/orders\"]").await;
    wait_for(&c, "input[name=q]").await;
    type_into(&c, "input[name=q]", "JD880001").await;
    click(&c, "form.filters button[type=submit]").await;
    let row_link = format!("a[href=\"/admin/orders/{order_id}\"]");
    wait_for(&c, &row_link).await;
    screenshot(&c, "orders").await;
    click(&c, &row_link).await;
    wait_for(&c, "textarea[name=cards]").await;
    type_into(
        &c,
        "textarea[name=cards]",
        "BRCARD000000001,BRPASS000000001",
    )
    .await;
    click(&c, "form[action$=\"/succeed\"] button[type=submit]").await;
    // The form asks for confirmation (app.js); the operator confirms.
    c.accept_alert().await.expect("a confirmation dialog");
    wait_for(&c, ".badge.succeeded").await;
    let page = c.source().await.unwrap();
    assert!(
        !page.contains("BRPASS000000001"),
        "the card is shown masked"
    );
    screenshot(&c, "order").await;
    let (status, events): (String, i64) = sqlx::query_as(
        "SELECT status, (SELECT COUNT(*) FROM order_events WHERE order_id = o.id AND actor = 'operator:op')
         FROM orders o WHERE id = ?",
    )
    .bind(order_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), events), ("succeeded", 1));
    let sold: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE order_id = ? AND status = 'sold'")
            .bind(order_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(sold, 1);

    c.close().await.unwrap();
    app.stop().await;
}
