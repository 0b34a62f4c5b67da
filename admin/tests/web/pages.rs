//! Every page, with seeded data: a crawler follows every `/admin/...` link from the dashboard,
//! as an admin and as a viewer, and every page must answer 200 without a single secret or
//! unmasked card in its HTML — not even part of one: no character of a card password and no
//! more than the last 4 of a card number. Viewers never reach the card stock. The data is seeded through the back office's own forms where
//! it has them (shops with their keys, card import, manual success with cards).

use std::collections::{BTreeSet, VecDeque};

use common::db::notify::{self, Attempt, Outcome};
use common::domain::{CallbackTarget, OrderStatus, Platform};
use common::testing::fixtures::{self, Order, Product};
use reqwest::multipart::Form;

use crate::{App, Browser, assert_no_secret};

const MD5_KEY: &str = "crawl-MD5-key-0123456789abcdef";
const AES_KEY: &str = "CRAWLaes0123456789abcdefghijklmn";
const PRIVATE_KEY: &str = "fedcba9876543210fedcba9876543210";
const APP_SECRET: &str = "crawlAppSecret0123456789abcdefAB";
const ACCESS_TOKEN: &str = "crawl-AccessToken-0123456789";
const STOCK_NO: &str = "STOCKNO-55667788-CRAWL";
const STOCK_PW: &str = "KWPSTK-99001122-QZJX";
const SOLD_NO: &str = "SOLDNO-13572468-CRAWL";
const SOLD_PW: &str = "KWPSLD-24681357-VYBM";

const SECRETS: [&str; 9] = [
    MD5_KEY,
    AES_KEY,
    PRIVATE_KEY,
    APP_SECRET,
    ACCESS_TOKEN,
    STOCK_NO,
    STOCK_PW,
    SOLD_NO,
    SOLD_PW,
];

/// Parts of the cards no masked view may show: the passwords' first and last 4 characters and
/// the numbers' first 4.
const CARD_FRAGMENTS: [&str; 5] = ["KWPS", "QZJX", "VYBM", "STOC", "SOLD"];

fn value_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let at = html.find(marker)? + marker.len();
    html[at..].split('"').next()
}

async fn seed(app: &App, admin: &Browser) -> u64 {
    for (platform, fields) in [
        (
            "jd_general",
            vec![
                ("name", "巡检通用店"),
                ("merchant_id", "7001"),
                ("md5_key", MD5_KEY),
                ("aes_key", AES_KEY),
                ("mode", "test"),
                ("enabled", "1"),
            ],
        ),
        (
            "jd_game",
            vec![
                ("name", "巡检点卡店"),
                ("merchant_id", "7002"),
                ("private_key", PRIVATE_KEY),
                ("mode", "prod"),
                ("enabled", "1"),
            ],
        ),
        (
            "agiso",
            vec![
                ("name", "巡检阿奇索店"),
                ("merchant_id", "app-7003"),
                ("agiso_service", "alds"),
                ("app_secret", APP_SECRET),
                ("access_token", ACCESS_TOKEN),
                // The self-test page queries the balance: a closed local port, never the
                // real gateway.
                ("base_url", "http://127.0.0.1:9"),
                ("mode", "prod"),
            ],
        ),
    ] {
        let a = admin
            .post(&format!("/admin/config/shops?platform={platform}"), &fields)
            .await;
        assert_eq!(a.status, 303, "create {platform} shop: {}", a.body);
    }
    let shop: u64 = sqlx::query_scalar("SELECT id FROM shops WHERE platform = 'jd_general'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let product = Product::card("巡检卡密商品")
        .face_value(500)
        .price(Some(1000))
        .low_stock_threshold(Some(5))
        .insert(&app.pool)
        .await;

    // Cards through the import page (preview, then commit).
    let op = app.login("operator").await;
    let form = Form::new()
        .text("_csrf", op.csrf.clone())
        .text("product", product.to_string())
        .text("text", format!("{STOCK_NO},{STOCK_PW}\n"));
    let preview = op.post_multipart("/admin/cards/import/preview", form).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let draft = value_after(&preview.body, "name=\"draft\" value=\"")
        .expect("a draft")
        .to_owned();
    let done = op
        .post("/admin/cards/import/commit", &[("draft", &draft)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);

    // An order held for an operator, completed by hand with a card typed in.
    let order = Order::new(
        Platform::JdGeneral,
        shop,
        "JDCRAWL0001",
        common::domain::OrderKind::Card,
        product,
    )
    .sku("SKU-C")
    .total_fen(500)
    .notify_url("http://127.0.0.1:9/jd")
    .raw_request(r#"{"vendorId":"7001","jdOrderNo":"JDCRAWL0001"}"#)
    .create(&app.pool, "gateway")
    .await;
    fixtures::walk(
        &app.pool,
        order.id,
        OrderStatus::Received,
        &[OrderStatus::AwaitingManual],
        "fulfillment",
        Some("测试"),
    )
    .await;
    let page = op.get(&format!("/admin/orders/{}", order.id)).await;
    let once = value_after(&page.body, "name=\"once\" value=\"")
        .expect("an action token")
        .to_owned();
    let cards = format!("{SOLD_NO},{SOLD_PW}");
    let a = op
        .post(
            &format!("/admin/orders/{}/succeed", order.id),
            &[("once", &once), ("cards", &cards)],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);

    // One recorded callback attempt (the notifier masks cards before recording).
    notify::record_attempt(
        &app.pool,
        &Attempt {
            order_id: order.id,
            target: CallbackTarget::JdGeneral,
            attempt_no: 1,
            url: "http://127.0.0.1:9/jd/produce/result",
            request_body: Some("vendorId=7001&jdOrderNo=JDCRAWL0001&product=****"),
            http_status: Some(500),
            response_body: Some("upstream error"),
            duration_ms: 12,
            outcome: Outcome::Retry(std::time::Duration::from_secs(15)),
            error: Some("HTTP 500"),
        },
    )
    .await
    .unwrap();
    order.id
}

/// Follows every same-site link (GET) from `/admin/`; returns the paths visited.
async fn crawl(b: &Browser, who: &str) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::from(["/admin/".to_owned()]);
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        assert!(seen.len() <= 400, "{who}: the crawl does not end");
        let page = b.get(&path).await;
        assert_eq!(page.status, 200, "{who} GET {path}: {}", page.body);
        assert_no_secret(&page.body, &SECRETS);
        for f in CARD_FRAGMENTS {
            assert!(
                !page.body.contains(f),
                "{who} GET {path} shows part of a card: {f}"
            );
        }
        let html = page
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if !html {
            continue;
        }
        for part in page.body.split("href=\"").skip(1) {
            let link = part
                .split('"')
                .next()
                .unwrap_or_default()
                .replace("&amp;", "&");
            let link = link.split('#').next().unwrap_or_default().to_owned();
            if link.starts_with("/admin/")
                && !link.starts_with("/admin/static/")
                && !link.contains("export")
                && !seen.contains(&link)
            {
                queue.push_back(link);
            }
        }
    }
    seen
}

#[tokio::test]
async fn every_page_renders_with_seeded_data_and_shows_no_secret() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    let order = seed(&app, &admin).await;

    let visited = crawl(&admin, "admin").await;
    let order_page = format!("/admin/orders/{order}");
    for must in [
        "/admin/",
        "/admin/orders",
        order_page.as_str(),
        "/admin/cards",
        "/admin/cards/import",
        "/admin/products",
        "/admin/products/new",
        "/admin/config",
        "/admin/config/shops/new?platform=jd_general",
        "/admin/urls",
        "/admin/callbacks",
        "/admin/dead-letters",
        "/admin/audit",
        "/admin/users",
        "/admin/account",
    ] {
        assert!(
            visited.contains(must),
            "the crawl reached {must}: {visited:?}"
        );
    }
    for prefix in [
        "/admin/callbacks/",
        "/admin/products/",
        "/admin/config/shops/",
    ] {
        assert!(
            visited
                .iter()
                .any(|p| p.starts_with(prefix) && p.len() > prefix.len()),
            "a detail page under {prefix}: {visited:?}"
        );
    }
    assert!(
        visited.iter().any(|p| p.ends_with("/test")),
        "a shop self-test page: {visited:?}"
    );

    let viewer = app.login("viewer").await;
    let seen_by_viewer = crawl(&viewer, "viewer").await;
    assert!(seen_by_viewer.contains(order_page.as_str()));
    assert!(
        !seen_by_viewer.iter().any(|p| p.starts_with("/admin/cards")),
        "no link to the card stock for viewers: {seen_by_viewer:?}"
    );
    assert_eq!(viewer.get("/admin/cards").await.status, 403);
    app.stop().await;
}
