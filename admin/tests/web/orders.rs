//! 订单管理: the list (search, every filter, capped totals, pages), the CSV export, the order
//! page (timeline, masked cards, supplier orders, callback attempts), the audited reveal, and
//! the operator actions — each changes the order once when submitted twice, commits its outbox
//! message, refuses final orders, and is 403 for viewers.

use std::time::Duration;

use common::db::notify::{self, Attempt, Outcome};
use common::db::orders;
use common::domain::{CallbackTarget, FulfilmentMode, OrderKind, OrderStatus, Platform};
use common::mq::{Event, QueueName, Topology};
use common::testing::fixtures::{self, Order, Product, Shop, Supplier};

use crate::{Answer, App, Browser, assert_no_secret};

const SHOP_MD5_KEY: &str = "SHOPMD5KEY-0123456789abcdef";
const CARD_NO: &str = "CARDNO-9876543210-SECRET";
const CARD_PW: &str = "CARDPW-1122334455-SECRET";
/// A key-shaped value that slipped into a stored request: shown masked.
const RAW_KEY: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

struct World {
    jd_general: (Platform, u64),
    jd_game: (Platform, u64),
    agiso: (Platform, u64),
    card: u64,
    manual: u64,
    supplier: u64,
}

async fn world(app: &App) -> World {
    let mut ids = Vec::new();
    for shop in [
        Shop::jd_general("通用交易店", "V1001"),
        Shop::jd_game("游戏点卡店", "C2002"),
        Shop::agiso("阿奇索店", "A3003", ""),
    ] {
        ids.push(shop.md5_key(SHOP_MD5_KEY).insert(&app.pool).await);
    }
    let mut products_ = Vec::new();
    for (name, mode) in [
        ("腾讯Q币10元", FulfilmentMode::Card),
        ("话费人工充值", FulfilmentMode::DirectManual),
        ("话费供应商直充", FulfilmentMode::DirectSupplier),
    ] {
        let p = Product::new(name, mode).face_value(1000).price(Some(1000));
        products_.push(p.insert(&app.pool).await);
    }
    World {
        jd_general: (Platform::JdGeneral, ids[0]),
        jd_game: (Platform::JdGame, ids[1]),
        agiso: (Platform::Agiso, ids[2]),
        card: products_[0],
        manual: products_[1],
        supplier: products_[2],
    }
}

/// A new order through the services' own path (row, first event, `order.created` outbox row).
async fn order(
    app: &App,
    (platform, shop): (Platform, u64),
    product: u64,
    kind: OrderKind,
    quantity: i32,
    platform_no: &str,
    account: Option<&str>,
) -> (u64, String) {
    let o = Order::new(platform, shop, platform_no, kind, product)
        .sku("SKU-1")
        .quantity(quantity)
        .total_fen(1234 * i64::from(quantity))
        .account(account)
        .raw_request(&format!(
            r#"{{"vendorId":"V1001","jdOrderNo":"{platform_no}","note":"{RAW_KEY}","buyNum":"{quantity}"}}"#
        ))
        .create(&app.pool, "gateway")
        .await;
    (o.id, o.order_no.into_inner())
}

/// Moves an order along `path` as the services would (guarded transitions with events).
async fn walk(app: &App, id: u64, path: &[OrderStatus]) {
    fixtures::walk(
        &app.pool,
        id,
        OrderStatus::Received,
        path,
        "fulfillment",
        Some("测试"),
    )
    .await;
}

async fn exec(app: &App, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// `n` plain orders in one statement (digits crossed: portable to MySQL and MariaDB), all
/// created at the same instant `created` (a SQL expression) so ties in created_at are covered.
async fn bulk_orders(app: &App, shop: u64, product: u64, prefix: &str, n: u32, created: &str) {
    let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
        UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
        UNION ALL SELECT 8 UNION ALL SELECT 9)";
    exec(
        app,
        &format!(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind,
                product_id, sku, quantity, total_price_fen, status, notify_status, created_at)
             SELECT CONCAT('{prefix}', LPAD(k, 8, '0')), 'jd_general', {shop},
                CONCAT('{prefix}P', k), 'card', {product}, 'SKU-1', 1, 100, 'received', 'pending',
                {created}
             FROM (SELECT a.d + b.d * 10 + c.d * 100 + e.d * 1000 + f.d * 10000 AS k
                   FROM {digits} a, {digits} b, {digits} c, {digits} e, {digits} f) t
             WHERE k < {n}"
        ),
    )
    .await;
}

/// A card sold to `order_id` (imported like stock, then issued).
async fn sell_card(app: &App, product: u64, order_id: u64, no: &str, pw: &str) {
    fixtures::stock_cards(&app.pool, product, "batch-1", &[(no, pw)]).await;
    sqlx::query(
        "UPDATE cards SET status = 'sold', order_id = ?, sold_at = NOW(3)
         WHERE product_id = ? AND status = 'available'",
    )
    .bind(order_id)
    .bind(product)
    .execute(&app.pool)
    .await
    .unwrap();
}

fn rows_in(html: &str) -> usize {
    html.matches("<td class=\"mono\"><a href=\"/admin/orders/")
        .count()
}

fn once_of(html: &str) -> String {
    let marker = "name=\"once\" value=\"";
    let at = html.find(marker).expect("an action form") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// POSTs, expects the 303 back to the order page, and returns that page (with its flash).
async fn act(b: &Browser, id: u64, action: &str, fields: &[(&str, &str)]) -> String {
    let a = b
        .post(&format!("/admin/orders/{id}/{action}"), fields)
        .await;
    assert_eq!(a.status, 303, "{action}: {}", a.body);
    let to = a.location.expect("redirect");
    assert_eq!(to, format!("/admin/orders/{id}"));
    let page = b.get(&to).await;
    assert_eq!(page.status, 200);
    page.body
}

async fn status_of(app: &App, id: u64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn events_of(app: &App, id: u64) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM order_events WHERE order_id = {id}"
    ))
    .await
}

async fn audits(app: &App, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
    ))
    .await
}

/// Waits until the admin's outbox relay has published every committed message.
async fn outbox_drained(app: &App) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.count("SELECT COUNT(*) FROM outbox").await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Takes every message now in one of the app's queues: (routing key, event).
async fn drain(app: &App, queue: QueueName) -> Vec<(String, Event)> {
    use lapin::options::BasicGetOptions;
    outbox_drained(app).await;
    let name = Topology::new(app.prefix.clone()).queue(queue);
    let conn = lapin::Connection::connect(
        &common::testing::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("amqp");
    let ch = conn.create_channel().await.expect("channel");
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(name.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        out.push((
            m.delivery.routing_key.as_str().to_owned(),
            Event::parse(&m.delivery.data).expect("event"),
        ));
    }
    let _ = conn.close(200, "done".into()).await;
    out
}

fn keys_for(msgs: &[(String, Event)], order_id: u64) -> Vec<String> {
    msgs.iter()
        .filter(|(_, e)| e.order_id == order_id)
        .map(|(k, _)| k.clone())
        .collect()
}

fn beijing_day(days_ago: i64) -> String {
    (chrono::Utc::now().with_timezone(&common::domain::beijing())
        - chrono::Duration::days(days_ago))
    .format("%Y-%m-%d")
    .to_string()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_search_filters_and_pages() {
    let app = App::start().await;
    let w = world(&app).await;
    let (a, a_no) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-1001",
        None,
    )
    .await;
    walk(&app, a, &[OrderStatus::Succeeded]).await;
    let (b, b_no) = order(
        &app,
        w.jd_game,
        w.manual,
        OrderKind::Direct,
        1,
        "GAME-2002",
        Some("13800138000"),
    )
    .await;
    walk(&app, b, &[OrderStatus::AwaitingManual]).await;
    exec(
        &app,
        &format!("UPDATE orders SET created_at = NOW(3) - INTERVAL 3 DAY WHERE id = {b}"),
    )
    .await;
    let (c, c_no) = order(&app, w.agiso, w.card, OrderKind::Card, 2, "TID-3003", None).await;
    walk(&app, c, &[OrderStatus::Failed]).await;
    exec(&app, &format!("UPDATE orders SET notify_status = 'giving_up', created_at = NOW(3) - INTERVAL 10 DAY WHERE id = {c}")).await;
    let (d, d_no) = order(
        &app,
        w.jd_game,
        w.supplier,
        OrderKind::Direct,
        1,
        "GAME-4004",
        Some("13900139000"),
    )
    .await;
    walk(&app, d, &[OrderStatus::Processing]).await;
    bulk_orders(
        &app,
        w.jd_general.1,
        w.card,
        "BULK",
        120,
        "NOW(3) - INTERVAL 20 DAY",
    )
    .await;

    let v = app.login("viewer").await;
    let all = v.get("/admin/orders").await;
    assert_eq!(all.status, 200);
    assert!(all.body.contains("共 124 条"), "{}", all.body);
    assert_eq!(rows_in(&all.body), 50);
    // Newest first: the four recent orders lead, in creation order reversed.
    let pos = |no: &str| all.body.find(no).unwrap_or_else(|| panic!("{no} listed"));
    assert!(pos(&d_no) < pos(&a_no) && pos(&a_no) < pos(&b_no) && pos(&b_no) < pos(&c_no));
    for label in [
        "待人工处理",
        "处理中",
        "成功",
        "失败",
        "已放弃",
        "京东游戏点卡",
        "阿奇索",
        "12.34",
        "24.68",
        "13800138000",
    ] {
        assert!(all.body.contains(label), "{label}");
    }
    assert!(all.body.contains(&format!("href=\"/admin/orders/{b}\"")));
    let p3 = v.get("/admin/orders?page=3").await;
    assert_eq!(rows_in(&p3.body), 24);
    assert!(p3.body.contains("上一页") && !p3.body.contains("下一页"));
    // Bad page numbers are the first page.
    assert_eq!(rows_in(&v.get("/admin/orders?page=abc").await.body), 50);
    assert_eq!(rows_in(&v.get("/admin/orders?page=999").await.body), 24);

    let everyone = [a_no.as_str(), b_no.as_str(), c_no.as_str(), d_no.as_str()];
    // The search box: our number, the platform's number, the recharge account; exact only.
    let h = check(
        &everyone,
        v.get(&format!("/admin/orders?q={a_no}")).await.body,
        &[&a_no],
    );
    assert!(h.contains("共 1 条"));
    check(
        &everyone,
        v.get("/admin/orders?q=GAME-2002").await.body,
        &[&b_no],
    );
    check(
        &everyone,
        v.get("/admin/orders?q=+13900139000+").await.body,
        &[&d_no],
    );
    let h = check(&everyone, v.get("/admin/orders?q=GAME").await.body, &[]);
    assert!(h.contains("没有符合条件的订单"));
    // Each filter.
    check(
        &everyone,
        v.get("/admin/orders?platform=agiso").await.body,
        &[&c_no],
    );
    check(
        &everyone,
        v.get(&format!("/admin/orders?shop={}", w.jd_game.1))
            .await
            .body,
        &[&b_no, &d_no],
    );
    let h = check(
        &everyone,
        v.get("/admin/orders?status=awaiting_manual").await.body,
        &[&b_no],
    );
    assert!(h.contains("<option value=\"awaiting_manual\" selected>待人工处理</option>"));
    check(
        &everyone,
        v.get("/admin/orders?notify_status=giving_up").await.body,
        &[&c_no],
    );
    check(
        &everyone,
        v.get(&format!("/admin/orders?product={}", w.manual))
            .await
            .body,
        &[&b_no],
    );
    let h = check(
        &everyone,
        v.get(&format!(
            "/admin/orders?from={}&to={}",
            beijing_day(5),
            beijing_day(1)
        ))
        .await
        .body,
        &[&b_no],
    );
    assert!(h.contains("共 1 条"));
    let today = beijing_day(0);
    let h = check(
        &everyone,
        v.get(&format!("/admin/orders?from={today}&to={today}"))
            .await
            .body,
        &[&a_no, &d_no],
    );
    assert!(h.contains("共 2 条"));
    // Combined filters keep each other (and the pager and export keep them all).
    let h = check(
        &everyone,
        v.get(&format!(
            "/admin/orders?platform=jd_game&status=processing&shop={}",
            w.jd_game.1
        ))
        .await
        .body,
        &[&d_no],
    );
    assert!(
        h.contains(&format!(
            "/admin/orders/export.csv?platform=jd_game&#38;shop={}&#38;status=processing",
            w.jd_game.1
        )),
        "{h}"
    );
    let bulk = v
        .get(&format!(
            "/admin/orders?shop={}&to={}",
            w.jd_general.1,
            beijing_day(15)
        ))
        .await;
    assert!(bulk.body.contains("共 120 条"));
    assert!(
        bulk.body.contains(&format!(
            "/admin/orders?shop={}&#38;to={}&#38;page=2",
            w.jd_general.1,
            beijing_day(15)
        )),
        "pager keeps the filters"
    );

    // Bad filter values are ignored with a message, never a 400.
    let bad = v.get("/admin/orders?status=bogus&shop=x&product=-1&platform=taobao&from=2026-13-45&to=yesterday&notify_status=%FF").await;
    assert_eq!(bad.status, 200);
    for note in [
        "无法识别的订单状态",
        "店铺参数无效",
        "商品参数无效",
        "无法识别的平台",
        "开始日期格式错误",
        "结束日期格式错误",
        "无法识别的回调状态",
    ] {
        assert!(bad.body.contains(note), "{note}");
    }
    assert!(bad.body.contains("共 124 条"));
    let long = "9".repeat(300);
    let h = v.get(&format!("/admin/orders?q={long}")).await;
    assert_eq!(h.status, 200);
    assert!(h.body.contains("搜索内容过长"));
    assert_no_secret(&all.body, &[SHOP_MD5_KEY, RAW_KEY]);
    app.stop().await;
}

#[tokio::test]
async fn capped_total() {
    let app = App::start().await;
    let w = world(&app).await;
    bulk_orders(&app, w.jd_game.1, w.card, "CAP", 10_050, "NOW(3)").await;
    let v = app.login("viewer").await;
    let page = v.get("/admin/orders").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("超过 10,000 条"), "{}", page.body);
    assert_eq!(rows_in(&page.body), 50);
    // The last page the capped total allows is reachable.
    let last = v.get("/admin/orders?page=200").await;
    assert_eq!(rows_in(&last.body), 50);
    let none = v.get("/admin/orders?status=failed").await;
    assert!(none.body.contains("共 0 条"));
    // Newest first straight from an index, never a sort of every order.
    exec(&app, "ANALYZE TABLE orders").await;
    for filter in [
        "",
        " WHERE created_at >= NOW(3) - INTERVAL 1 DAY",
        " WHERE shop_id = 1",
        " WHERE status = 'received'",
    ] {
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN SELECT id FROM orders{filter} ORDER BY created_at DESC, id DESC LIMIT 50"
        )))
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            use sqlx::Row;
            format!(
                "key={:?} extra={:?}",
                r.try_get::<Option<String>, _>("key").unwrap_or_default(),
                r.try_get::<Option<String>, _>("Extra").unwrap_or_default()
            )
        })
        .collect();
        let plan = plan.join(" | ");
        assert!(
            !plan.contains("filesort") && !plan.contains("key=None"),
            "{filter}: {plan}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn csv_export() {
    let app = App::start().await;
    let w = world(&app).await;
    let (a, a_no) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-1001",
        None,
    )
    .await;
    walk(&app, a, &[OrderStatus::Succeeded]).await;
    sell_card(&app, w.card, a, CARD_NO, CARD_PW).await;
    let (b, b_no) = order(
        &app,
        w.jd_game,
        w.manual,
        OrderKind::Direct,
        1,
        "GAME-2002",
        Some("=HYPERLINK(\"x\")"),
    )
    .await;
    walk(&app, b, &[OrderStatus::AwaitingManual]).await;
    let (_, c_no) = order(
        &app,
        w.jd_game,
        w.card,
        OrderKind::Card,
        3,
        "GAME-3003",
        None,
    )
    .await;
    // 1,205 more with the same creation instant: the chunked keyset walk must neither skip nor
    // repeat rows that tie on created_at.
    bulk_orders(
        &app,
        w.jd_general.1,
        w.card,
        "TIE",
        1205,
        "NOW(3) - INTERVAL 1 DAY",
    )
    .await;

    let v = app.login("viewer").await;
    let a_ = v.get("/admin/orders/export.csv?platform=jd_game").await;
    assert_eq!(a_.status, 200);
    assert!(
        a_.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        a_.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert!(
        a_.body
            .starts_with("\u{feff}订单号,平台单号,平台,店铺,商品"),
        "BOM and header"
    );
    let lines: Vec<&str> = a_.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", a_.body);
    assert!(a_.body.contains(&b_no) && a_.body.contains(&c_no) && !a_.body.contains(&a_no));
    assert!(
        a_.body.contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "formula defused: {}",
        a_.body
    );
    assert!(a_.body.contains("37.02") && a_.body.contains("待人工处理"));
    assert_eq!(audits(&app, "order.export").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'order.export' AND detail LIKE '%平台=jd_game%'").await,
        1
    );

    let all = v.get("/admin/orders/export.csv").await;
    let lines: Vec<&str> = all.body.lines().collect();
    assert_eq!(lines.len(), 1 + 3 + 1205);
    let mut nos: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    nos.sort_unstable();
    nos.dedup();
    assert_eq!(nos.len(), 3 + 1205, "every order exactly once");
    assert!(!all.body.contains("已达导出上限"));
    // No card data in any export.
    assert_no_secret(&all.body, &[CARD_NO, CARD_PW, "CARD****CRET", SHOP_MD5_KEY]);
    // Filters apply to the export exactly like the list.
    let one = v.get(&format!("/admin/orders/export.csv?q={a_no}")).await;
    assert_eq!(one.body.lines().count(), 2);
    assert_eq!(audits(&app, "order.export").await, 3);
    app.stop().await;
}

#[tokio::test]
async fn order_page_timeline_cards_attempts_and_reveal() {
    let app = App::start().await;
    let w = world(&app).await;
    let (a, a_no) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-1001",
        None,
    )
    .await;
    {
        let mut tx = app.pool.begin().await.unwrap();
        orders::finish_succeeded(
            &mut tx,
            orders::Ending::here(a, Platform::JdGeneral),
            OrderStatus::Received,
            "fulfillment",
            Some("发出 1 张卡密"),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    sell_card(&app, w.card, a, CARD_NO, CARD_PW).await;
    for (no, outcome, status) in [
        (1, Outcome::Retry(Duration::from_secs(30)), Some(502)),
        (2, Outcome::Delivered, Some(200)),
    ] {
        notify::record_attempt(
            &app.pool,
            &Attempt {
                order_id: a,
                target: CallbackTarget::JdGeneral,
                attempt_no: no,
                url: "https://jd.example/produce/result",
                request_body: Some("vendorId=V1001&sign=0123456789abcdef0123456789abcdef&product=[已隐藏] sha256:ab12"),
                http_status: status,
                response_body: Some(r#"{"code":"0","message":"成功"}"#),
                duration_ms: 12,
                outcome,
                error: (no == 1).then_some("京东返回 502，稍后重试"),
            },
        )
        .await
        .unwrap();
    }
    let (c, _) = order(&app, w.agiso, w.card, OrderKind::Card, 1, "TID-3003", None).await;
    exec(&app, &format!(
        "INSERT INTO callback_attempts (order_id, target, attempt_no, url, request_body, http_status, response_body, duration_ms, outcome, error)
         VALUES ({c}, 'agiso', 1, 'https://gw.agiso.example/alds/Trade/Send', 'tid=TID-3003&accessToken=AT-SECRET-abcdefghijklmnop', 200, '{{\"IsSuccess\":false}}', 30, 'retry', '阿奇索返回失败')"
    )).await;
    let (d, _) = order(
        &app,
        w.jd_game,
        w.supplier,
        OrderKind::Direct,
        1,
        "GAME-4004",
        Some("13900139000"),
    )
    .await;
    walk(
        &app,
        d,
        &[OrderStatus::Processing, OrderStatus::AwaitingManual],
    )
    .await;
    let supplier_id = Supplier::new("星河供应商", "https://sup.example", "M7", "sup-secret-7")
        .insert(&app.pool)
        .await;
    exec(&app, &format!(
        "INSERT INTO supplier_orders (order_id, supplier_id, supplier_order_no, status, poll_count, last_response)
         VALUES ({d}, {supplier_id}, 'SUP-777', 'unknown', 4, '{{\"code\":\"PROCESSING\",\"sign\":\"ffeeddccbbaa99887766554433221100\"}}')"
    )).await;

    // Viewer: everything readable, cards masked, no action forms.
    let v = app.login("viewer").await;
    let page = v.get(&format!("/admin/orders/{a}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["cache-control"], "no-store, max-age=0");
    for s in [
        a_no.as_str(),
        "JDG-1001",
        "处理时间线",
        "网关",
        "履约服务",
        "发出 1 张卡密",
        "已接收",
        "成功",
        ">****CRET<",
        ">******<",
        "https://jd.example/produce/result",
        "京东返回 502，稍后重试",
        "待重试",
        "已送达",
        "通用交易店",
        "腾讯Q币10元",
        "12.34",
        "0123****cdef",
        "0a1b****e8f9",
    ] {
        assert!(page.body.contains(s), "order page shows {s}");
    }
    assert_no_secret(
        &page.body,
        &[
            CARD_NO,
            CARD_PW,
            SHOP_MD5_KEY,
            RAW_KEY,
            "0123456789abcdef0123456789abcdef",
            // Masked cards: nothing of the password, at most the number's last 4.
            "CARDN",
            "CARDP",
            "-SECRET",
        ],
    );
    for form in [
        "/succeed",
        "/fail",
        "/resend",
        "/refulfil",
        "/reveal",
        "name=\"once\"",
    ] {
        assert!(!page.body.contains(form), "viewer sees no {form} form");
    }
    let agiso = v.get(&format!("/admin/orders/{c}")).await;
    assert!(agiso.body.contains("阿奇索返回失败") && agiso.body.contains("gw.agiso.example"));
    assert_no_secret(&agiso.body, &["AT-SECRET-abcdefghijklmnop"]);
    let sup = v.get(&format!("/admin/orders/{d}")).await;
    for s in [
        "星河供应商",
        "SUP-777",
        "结果未知",
        "PROCESSING",
        "13900139000",
    ] {
        assert!(sup.body.contains(s), "supplier order shows {s}");
    }
    assert_no_secret(&sup.body, &["ffeeddccbbaa99887766554433221100"]);
    assert_eq!(v.get("/admin/orders/999999").await.status, 404);
    assert_eq!(v.get("/admin/orders/abc").await.status, 404);

    // Viewer may not reveal: 403, nothing audited.
    let r = v.post(&format!("/admin/orders/{a}/reveal"), &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(audits(&app, "card.reveal").await, 0);

    // Operator: the actions of a final JD order, then the reveal.
    let op = app.login("operator").await;
    let page = op.get(&format!("/admin/orders/{a}")).await;
    assert!(page.body.contains(&format!("/admin/orders/{a}/reveal")));
    assert!(page.body.contains(&format!("/admin/orders/{a}/resend")));
    assert!(!page.body.contains(&format!("/admin/orders/{a}/succeed")));
    assert!(!page.body.contains(&format!("/admin/orders/{a}/fail")));
    assert!(!page.body.contains(&format!("/admin/orders/{a}/refulfil")));
    assert!(page.body.contains("data-confirm="));
    let shown = op.post(&format!("/admin/orders/{a}/reveal"), &[]).await;
    assert_eq!(
        shown.status, 200,
        "rendered in the POST answer, no redirect"
    );
    assert_eq!(shown.headers["cache-control"], "no-store, max-age=0");
    assert!(shown.body.contains(CARD_NO) && shown.body.contains(CARD_PW));
    assert!(shown.body.contains("已记录审计日志"));
    assert_eq!(audits(&app, "card.reveal").await, 1);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM audit_log WHERE action = 'card.reveal' AND target_type = 'order' AND target_id = '{a}' AND username = 'operator'")).await,
        1
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%{CARD_NO}%' OR detail LIKE '%{CARD_PW}%'")).await,
        0,
        "no card data in the audit log"
    );
    // Once: the next view is masked again.
    let again = op.get(&format!("/admin/orders/{a}")).await;
    assert_no_secret(
        &again.body,
        &[CARD_NO, CARD_PW, "CARDN", "CARDP", "-SECRET"],
    );
    // An order without cards: nothing to reveal, nothing audited.
    let nothing = op.post(&format!("/admin/orders/{d}/reveal"), &[]).await;
    assert_eq!(nothing.status, 200);
    assert!(nothing.body.contains("没有已发放的卡密"));
    assert_eq!(audits(&app, "card.reveal").await, 1);
    // The supplier order whose result is unknown: no 重新履约, with the reason.
    let sup = op.get(&format!("/admin/orders/{d}")).await;
    assert!(!sup.body.contains(&format!("/admin/orders/{d}/refulfil")));
    assert!(sup.body.contains("重复充值"));
    assert!(sup.body.contains("请先向供应商核实充值结果"));
    assert!(sup.body.contains(&format!("/admin/orders/{d}/succeed")));
    app.stop().await;
}

#[tokio::test]
async fn manual_success_of_a_card_order_happens_once() {
    let app = App::start().await;
    let w = world(&app).await;
    let (e, e_no) = order(
        &app,
        w.jd_game,
        w.card,
        OrderKind::Card,
        2,
        "GAME-5005",
        None,
    )
    .await;
    walk(&app, e, &[OrderStatus::AwaitingStock]).await;
    let _ = drain(&app, QueueName::FulfillmentOrders).await;
    let op = app.login("operator").await;
    let page = op.get(&format!("/admin/orders/{e}")).await;
    assert!(page.body.contains("卡密（共需 2 张）"));
    let once = once_of(&page.body);
    let path = format!("/admin/orders/{e}/succeed");
    assert_eq!(events_of(&app, e).await, 2);

    // Wrong count, bad lines: refused, nothing written.
    let h = act(
        &op,
        e,
        "succeed",
        &[("once", &once), ("cards", "CARD-A1,PW-A1")],
    )
    .await;
    assert!(h.contains("需要 2 张卡密，实际提交了 1 张"), "{h}");
    let h = act(
        &op,
        e,
        "succeed",
        &[
            ("once", &once),
            ("cards", "CARD-A1,PW-A1\nCARD-A2,PW-A2\nCARD-A3,PW-A3"),
        ],
    )
    .await;
    assert!(h.contains("实际提交了 3 张"));
    let h = act(
        &op,
        e,
        "succeed",
        &[("once", &once), ("cards", "onlyone\nCARD-A2,PW-A2")],
    )
    .await;
    assert!(h.contains("第 1 行"), "{h}");
    assert_eq!(status_of(&app, e).await, "awaiting_stock");
    assert_eq!(events_of(&app, e).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 0);
    assert_eq!(audits(&app, "order.succeed").await, 0);

    // The right cards: stored encrypted as sold cards of the product, order succeeded, one
    // order.completed message.
    let cards = "CARD-A1,PW-A1,2099-12-31\nCARD-A2\tPW-A2\n";
    let h = act(
        &op,
        e,
        "succeed",
        &[("once", &once), ("cards", cards), ("note", "客户催单")],
    )
    .await;
    assert!(h.contains("订单已手动成功"), "{h}");
    assert_no_secret(&h, &["PW-A1", "PW-A2"]);
    assert_eq!(status_of(&app, e).await, "succeeded");
    assert_eq!(events_of(&app, e).await, 3);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM order_events WHERE order_id = {e} AND actor = 'operator:operator' AND from_status = 'awaiting_stock' AND to_status = 'succeeded' AND note LIKE '%客户催单%'")).await,
        1
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM cards WHERE order_id = {e} AND status = 'sold' AND product_id = {} AND batch_id = 'manual-{e_no}' AND sold_at IS NOT NULL", w.card)).await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM card_batches WHERE id = 'manual-{e_no}' AND inserted = 2"
        ))
        .await,
        1
    );
    let issued = common::db::cards::issued_to_order(&app.pool, &common::testing::master_key(), e)
        .await
        .unwrap();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        (issued[0].card_no.as_str(), issued[0].password.as_str()),
        ("CARD-A1", "PW-A1")
    );
    assert_eq!(
        issued[0].expires_on,
        chrono::NaiveDate::from_ymd_opt(2099, 12, 31)
    );
    assert_eq!(issued[1].password, "PW-A2");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cards WHERE card_no_enc LIKE '%CARD-A1%'")
            .await,
        0,
        "encrypted"
    );
    assert_eq!(audits(&app, "order.succeed").await, 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%PW-A%' OR detail LIKE '%CARD-A%'"
        )
        .await,
        0
    );
    let sent = drain(&app, QueueName::NotifierCallbacks).await;
    assert_eq!(
        keys_for(&sent, e),
        vec!["order.completed.jd_game".to_owned()]
    );

    // The same form again: recognised, nothing changes.
    let h = act(&op, e, "succeed", &[("once", &once), ("cards", cards)]).await;
    assert!(h.contains("重复提交"), "{h}");
    // A fresh form on the final order: refused.
    let h = act(
        &op,
        e,
        "succeed",
        &[
            ("once", &"ab".repeat(16)),
            ("cards", "CARD-B1,PW-B1\nCARD-B2,PW-B2"),
        ],
    )
    .await;
    assert!(h.contains("已是最终状态"), "{h}");
    assert_eq!(status_of(&app, e).await, "succeeded");
    assert_eq!(events_of(&app, e).await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 2);
    assert_eq!(audits(&app, "order.succeed").await, 1);
    assert!(drain(&app, QueueName::NotifierCallbacks).await.is_empty());
    assert_eq!(op.post(&path, &[("once", &once)]).await.status, 303);

    // A card already in the product's stock is refused (never issued twice).
    let (f, _) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-6006",
        None,
    )
    .await;
    walk(&app, f, &[OrderStatus::AwaitingManual]).await;
    let once = once_of(&op.get(&format!("/admin/orders/{f}")).await.body);
    let h = act(
        &op,
        f,
        "succeed",
        &[("once", &once), ("cards", "CARD-A1,PW-A1")],
    )
    .await;
    assert!(h.contains("已在商品「腾讯Q币10元」的库存中（已售）"), "{h}");
    assert_eq!(status_of(&app, f).await, "awaiting_manual");
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 2);
    // So is a card in another product's stock, in any status: a card is sold once, anywhere.
    let other = Product::card("网易一卡通")
        .face_value(1000)
        .price(Some(1000))
        .insert(&app.pool)
        .await;
    let r = fixtures::import_cards(
        &app.pool,
        other,
        "elsewhere",
        "CARD-X1,PW-X1\nCARD-X2,PW-X2\n",
    )
    .await;
    assert_eq!(r.new, 2);
    exec(
        &app,
        "UPDATE cards SET status = 'void' WHERE batch_id = 'elsewhere' ORDER BY id LIMIT 1",
    )
    .await;
    for (cards, shown) in [
        ("CARD-X1,PW-X1", "已在商品「网易一卡通」的库存中（作废）"),
        ("CARD-X2,PW-X2", "已在商品「网易一卡通」的库存中（可用）"),
    ] {
        let once = once_of(&op.get(&format!("/admin/orders/{f}")).await.body);
        let h = act(&op, f, "succeed", &[("once", &once), ("cards", cards)]).await;
        assert!(h.contains(shown), "{h}");
        assert!(h.contains("同一张卡密只能售出一次"), "{h}");
    }
    assert_eq!(status_of(&app, f).await, "awaiting_manual");
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 4);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cards WHERE order_id IS NOT NULL")
            .await,
        2,
        "nothing issued to the order"
    );
    // The form id is required.
    let h = act(&op, f, "succeed", &[("cards", "CARD-C1,PW-C1")]).await;
    assert!(h.contains("表单已失效"));
    assert_eq!(status_of(&app, f).await, "awaiting_manual");
    app.stop().await;
}

#[tokio::test]
async fn manual_success_of_direct_orders_and_manual_failure() {
    let app = App::start().await;
    let w = world(&app).await;
    let (b, _) = order(
        &app,
        w.jd_game,
        w.manual,
        OrderKind::Direct,
        1,
        "GAME-2002",
        Some("13800138000"),
    )
    .await;
    walk(&app, b, &[OrderStatus::AwaitingManual]).await;
    let (g, _) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-7007",
        None,
    )
    .await;
    walk(&app, g, &[OrderStatus::AwaitingManual]).await;
    let (t, _) = order(
        &app,
        w.agiso,
        w.manual,
        OrderKind::Direct,
        1,
        "TID-8008",
        Some("buyer01"),
    )
    .await;
    walk(&app, t, &[OrderStatus::Processing]).await;
    let op = app.login("operator").await;

    // Direct order: a confirmation, no cards.
    let page = op.get(&format!("/admin/orders/{b}")).await;
    assert!(page.body.contains("已在充值渠道完成充值") && !page.body.contains("name=\"cards\""));
    let once = once_of(&page.body);
    let h = act(&op, b, "succeed", &[("once", &once)]).await;
    assert!(h.contains("请勾选"));
    assert_eq!(status_of(&app, b).await, "awaiting_manual");
    let h = act(&op, b, "succeed", &[("once", &once), ("confirm", "1")]).await;
    assert!(h.contains("订单已手动成功"));
    assert_eq!(status_of(&app, b).await, "succeeded");
    assert_eq!(events_of(&app, b).await, 3);
    let h = act(&op, b, "succeed", &[("once", &once), ("confirm", "1")]).await;
    assert!(h.contains("重复提交"));
    assert_eq!(events_of(&app, b).await, 3);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM cards WHERE order_id = {b}"))
            .await,
        0
    );

    // Manual failure with a reason from the list and a note.
    let page = op.get(&format!("/admin/orders/{g}")).await;
    assert!(
        page.body
            .contains("<option value=\"out_of_stock\">库存不足（out_of_stock）</option>"),
        "reason select"
    );
    let once = once_of(&page.body);
    let h = act(&op, g, "fail", &[("once", &once), ("reason", "bogus")]).await;
    assert!(h.contains("请选择失败原因"));
    assert_eq!(status_of(&app, g).await, "awaiting_manual");
    let h = act(
        &op,
        g,
        "fail",
        &[
            ("once", &once),
            ("reason", "out_of_stock"),
            ("note", "供应商缺货"),
        ],
    )
    .await;
    assert!(h.contains("订单已手动失败"), "{h}");
    let (status, code, reason): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT status, failure_code, failure_reason FROM orders WHERE id = ?")
            .bind(g)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert_eq!(code.as_deref(), Some("out_of_stock"));
    assert_eq!(reason.as_deref(), Some("库存不足：供应商缺货"));
    assert_eq!(events_of(&app, g).await, 3);
    let h = act(
        &op,
        g,
        "fail",
        &[("once", &once), ("reason", "out_of_stock")],
    )
    .await;
    assert!(h.contains("重复提交"));
    let h = act(
        &op,
        g,
        "fail",
        &[("once", &"cd".repeat(16)), ("reason", "manual")],
    )
    .await;
    assert!(h.contains("已是最终状态"));
    assert_eq!(events_of(&app, g).await, 3);
    assert_eq!(audits(&app, "order.fail").await, 1);
    // And an Agiso order goes to agiso-sync.
    let once = once_of(&op.get(&format!("/admin/orders/{t}")).await.body);
    act(
        &op,
        t,
        "fail",
        &[("once", &once), ("reason", "account_invalid")],
    )
    .await;
    assert_eq!(status_of(&app, t).await, "failed");

    let sent = drain(&app, QueueName::NotifierCallbacks).await;
    assert_eq!(
        keys_for(&sent, b),
        vec!["order.completed.jd_game".to_owned()]
    );
    assert_eq!(
        keys_for(&sent, g),
        vec!["order.completed.jd_general".to_owned()]
    );
    let agiso = drain(&app, QueueName::AgisoDeliveries).await;
    assert_eq!(
        keys_for(&agiso, t),
        vec!["order.completed.agiso".to_owned()]
    );
    assert_eq!(agiso.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn resend_and_refulfil_happen_once() {
    let app = App::start().await;
    let w = world(&app).await;
    let (a, _) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-1001",
        None,
    )
    .await;
    walk(&app, a, &[OrderStatus::Failed]).await;
    exec(&app, &format!("UPDATE orders SET notify_status = 'giving_up', notify_attempts = 8, notify_next_at = NULL, notify_reason = '京东地址不可达' WHERE id = {a}")).await;
    let (c, _) = order(&app, w.agiso, w.card, OrderKind::Card, 1, "TID-3003", None).await;
    walk(&app, c, &[OrderStatus::Succeeded]).await;
    let (h_, _) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-9009",
        None,
    )
    .await;
    walk(&app, h_, &[OrderStatus::AwaitingManual]).await;
    let (s, _) = order(
        &app,
        w.jd_game,
        w.card,
        OrderKind::Card,
        1,
        "GAME-9010",
        None,
    )
    .await;
    walk(&app, s, &[OrderStatus::AwaitingStock]).await;
    let (m, _) = order(
        &app,
        w.jd_game,
        w.manual,
        OrderKind::Direct,
        1,
        "GAME-9011",
        Some("13800138000"),
    )
    .await;
    walk(&app, m, &[OrderStatus::AwaitingManual]).await;
    let _ = drain(&app, QueueName::FulfillmentOrders).await;
    let op = app.login("operator").await;

    // 重发回调: a fresh schedule, once.
    let once = once_of(&op.get(&format!("/admin/orders/{a}")).await.body);
    let h = act(&op, a, "resend", &[("once", &once)]).await;
    assert!(h.contains("已安排重发回调"), "{h}");
    let (ns, attempts, next): (String, i32, Option<chrono::NaiveDateTime>) = sqlx::query_as(
        "SELECT notify_status, notify_attempts, notify_next_at FROM orders WHERE id = ?",
    )
    .bind(a)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((ns.as_str(), attempts), ("pending", 0));
    assert!(next.is_some());
    // The notifier delivers meanwhile; the same form again must not send it a second time.
    exec(&app, &format!("UPDATE orders SET notify_status = 'delivered', notify_attempts = 1, notify_next_at = NULL WHERE id = {a}")).await;
    let h = act(&op, a, "resend", &[("once", &once)]).await;
    assert!(h.contains("重复提交"));
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM orders WHERE id = {a} AND notify_status = 'delivered' AND notify_attempts = 1")).await,
        1
    );
    assert_eq!(audits(&app, "order.resend").await, 1);
    // Not for Agiso orders, nor for orders without a result yet.
    let h = act(&op, c, "resend", &[("once", &"ef".repeat(16))]).await;
    assert!(h.contains("阿奇索订单"));
    let h = act(&op, h_, "resend", &[("once", &"ef".repeat(16))]).await;
    assert!(h.contains("订单尚未结束"));
    assert_eq!(audits(&app, "order.resend").await, 1);

    // 重新履约 of an order waiting for an operator: back to a state fulfilment acts on, plus one
    // order.refulfil message, once.
    let page = op.get(&format!("/admin/orders/{h_}")).await;
    assert!(page.body.contains(&format!("/admin/orders/{h_}/refulfil")));
    let once = once_of(&page.body);
    let h = act(&op, h_, "refulfil", &[("once", &once)]).await;
    assert!(h.contains("已重新提交履约"), "{h}");
    assert_eq!(status_of(&app, h_).await, "awaiting_stock");
    assert_eq!(events_of(&app, h_).await, 4);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM order_events WHERE order_id = {h_} AND actor = 'operator:operator'")).await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM orders WHERE id = {h_} AND stock_deadline_at > NOW(3)"
        ))
        .await,
        1
    );
    let h = act(&op, h_, "refulfil", &[("once", &once)]).await;
    assert!(h.contains("重复提交"));
    assert_eq!(status_of(&app, h_).await, "awaiting_stock");
    assert_eq!(events_of(&app, h_).await, 4);
    // An order waiting for stock keeps its status; the timeline shows who asked.
    let once = once_of(&op.get(&format!("/admin/orders/{s}")).await.body);
    act(&op, s, "refulfil", &[("once", &once)]).await;
    act(&op, s, "refulfil", &[("once", &once)]).await;
    assert_eq!(status_of(&app, s).await, "awaiting_stock");
    assert_eq!(events_of(&app, s).await, 3);
    let queued = drain(&app, QueueName::FulfillmentOrders).await;
    assert_eq!(
        keys_for(&queued, h_),
        vec!["order.refulfil.jd_general".to_owned()]
    );
    assert_eq!(
        keys_for(&queued, s),
        vec!["order.refulfil.jd_game".to_owned()]
    );
    assert_eq!(queued.len(), 2);
    assert_eq!(audits(&app, "order.refulfil").await, 2);

    // Refused: a manual-recharge order (fulfilment would not act), a final order.
    let page = op.get(&format!("/admin/orders/{m}")).await;
    assert!(!page.body.contains(&format!("/admin/orders/{m}/refulfil")));
    let h = act(&op, m, "refulfil", &[("once", &"12".repeat(16))]).await;
    assert!(h.contains("人工直充商品不会自动履约"));
    let h = act(&op, a, "refulfil", &[("once", &"12".repeat(16))]).await;
    assert!(h.contains("已是最终状态"));
    assert_eq!(status_of(&app, m).await, "awaiting_manual");
    assert_eq!(status_of(&app, a).await, "failed");
    assert_eq!(audits(&app, "order.refulfil").await, 2);
    assert!(drain(&app, QueueName::FulfillmentOrders).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn viewer_gets_403_on_every_action_and_nothing_changes() {
    let app = App::start().await;
    let w = world(&app).await;
    let (open, _) = order(
        &app,
        w.jd_general,
        w.card,
        OrderKind::Card,
        1,
        "JDG-1001",
        None,
    )
    .await;
    walk(&app, open, &[OrderStatus::AwaitingManual]).await;
    let (done, _) = order(
        &app,
        w.jd_game,
        w.card,
        OrderKind::Card,
        1,
        "GAME-2002",
        None,
    )
    .await;
    walk(&app, done, &[OrderStatus::Failed]).await;
    sell_card(&app, w.card, done, CARD_NO, CARD_PW).await;
    outbox_drained(&app).await;
    let before_events = app.count("SELECT COUNT(*) FROM order_events").await;
    let before_audit = app.count("SELECT COUNT(*) FROM audit_log").await;

    let v = app.login("viewer").await;
    let once = "ab".repeat(16);
    for id in [open, done] {
        for (action, fields) in [
            (
                "succeed",
                vec![
                    ("once", once.as_str()),
                    ("cards", "CARD-V1,PW-V1"),
                    ("confirm", "1"),
                ],
            ),
            ("fail", vec![("once", once.as_str()), ("reason", "manual")]),
            ("resend", vec![("once", once.as_str())]),
            ("refulfil", vec![("once", once.as_str())]),
            ("reveal", vec![]),
        ] {
            let a: Answer = v
                .post(&format!("/admin/orders/{id}/{action}"), &fields)
                .await;
            assert_eq!(a.status, 403, "viewer {action} on {id}");
            assert_no_secret(&a.body, &[CARD_NO, CARD_PW]);
        }
    }
    assert_eq!(status_of(&app, open).await, "awaiting_manual");
    assert_eq!(status_of(&app, done).await, "failed");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM order_events").await,
        before_events
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM cards").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    // Logging in is audited; nothing else was.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action <> 'login'")
            .await,
        before_audit
    );
    let refulfils = drain(&app, QueueName::FulfillmentOrders).await;
    assert!(
        refulfils
            .iter()
            .all(|(k, _)| k.starts_with("order.created."))
    );
    assert!(drain(&app, QueueName::NotifierCallbacks).await.is_empty());

    // Unknown orders and bad ids: 404, for operators too.
    let op = app.login("operator").await;
    assert_eq!(
        op.post(
            "/admin/orders/999999/fail",
            &[("once", &once), ("reason", "manual")]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        op.post("/admin/orders/abc/succeed", &[("once", &once)])
            .await
            .status,
        404
    );
    app.stop().await;
}

/// Asserts the page lists exactly `yes` among `all`.
fn check(all: &[&str], html: String, yes: &[&String]) -> String {
    for s in all {
        let want = yes.iter().any(|y| y.as_str() == *s);
        assert_eq!(html.contains(s), want, "{s} listed: expected {want}");
    }
    html
}

/// While a supplier holds an order (processing, its row submitted, no answer yet), manual
/// success and failure are refused: either could charge twice or charge after JD's refund.
/// Once the supplier's deadline hands the order to an operator, they act as usual.
#[tokio::test]
async fn manual_result_waits_while_a_supplier_holds_the_order() {
    let app = App::start().await;
    let w = world(&app).await;
    let (d, _) = order(
        &app,
        w.jd_game,
        w.supplier,
        OrderKind::Direct,
        1,
        "GAME-5005",
        Some("13900139000"),
    )
    .await;
    walk(&app, d, &[OrderStatus::Processing]).await;
    let supplier_id = Supplier::new("甲供应商", "https://sup.example", "M8", "sup-secret-8")
        .insert(&app.pool)
        .await;
    exec(
        &app,
        &format!(
            "INSERT INTO supplier_orders (order_id, supplier_id, status, poll_count) VALUES ({d}, {supplier_id}, 'submitted', 1)"
        ),
    )
    .await;
    let op = app.login("operator").await;
    let once = once_of(&op.get(&format!("/admin/orders/{d}")).await.body);
    let h = act(&op, d, "fail", &[("once", &once), ("reason", "manual")]).await;
    assert!(h.contains("供应商正在处理该订单"), "{h}");
    let h = act(&op, d, "succeed", &[("once", &once), ("confirm", "1")]).await;
    assert!(h.contains("供应商正在处理该订单"), "{h}");
    assert_eq!(status_of(&app, d).await, "processing");
    assert_eq!(audits(&app, "order.fail").await, 0);
    assert_eq!(audits(&app, "order.succeed").await, 0);
    // The deadline passed: the row is unknown and the order waits for an operator.
    exec(
        &app,
        &format!("UPDATE supplier_orders SET status = 'unknown' WHERE order_id = {d}"),
    )
    .await;
    let mut tx = app.pool.begin().await.unwrap();
    orders::transition(
        &mut tx,
        d,
        OrderStatus::Processing,
        OrderStatus::AwaitingManual,
        "fulfillment",
        Some("测试"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let h = act(&op, d, "fail", &[("once", &once), ("reason", "manual")]).await;
    assert!(h.contains("订单已手动失败"), "{h}");
    assert_eq!(status_of(&app, d).await, "failed");
    app.stop().await;
}
