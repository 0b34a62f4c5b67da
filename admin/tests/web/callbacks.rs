//! 回调日志 and 操作审计: every filter (target, outcome, order number, Beijing dates; user, action,
//! target, dates), bad filter input answered with a note instead of an error, 50 rows a page
//! with totals, the attempt page with bodies, status, duration, error, next attempt and the link
//! to its order.

use common::domain::{OrderStatus, Platform};
use common::testing::fixtures::{Shop, StoredOrder};

use crate::App;

fn beijing_day(days_ago: i64) -> String {
    (chrono::Utc::now().with_timezone(&common::domain::beijing())
        - chrono::Duration::days(days_ago))
    .format("%Y-%m-%d")
    .to_string()
}

async fn exec(app: &App, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// A succeeded order of an earlier run: its row only.
async fn order(app: &App, shop: u64, order_no: &str, platform_no: &str) -> u64 {
    StoredOrder::new(
        Platform::JdGeneral,
        shop,
        platform_no,
        common::domain::OrderKind::Card,
        OrderStatus::Succeeded,
    )
    .order_no(order_no)
    .sku("S1")
    .insert(&app.pool)
    .await
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    app: &App,
    order: Option<u64>,
    target: &str,
    n: i32,
    url: &str,
    outcome: &str,
    minutes_ago: i64,
    error: Option<&str>,
) -> u64 {
    sqlx::query(
        "INSERT INTO callback_attempts (order_id, target, attempt_no, url, request_body,
            http_status, response_body, duration_ms, outcome, error, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, '{\"jdOrderNo\":1,\"product\":\"abcd****wxyz\"}', 200,
            '{\"code\":\"0\",\"message\":\"成功\"}', 123, ?, ?,
            IF(? = 'retry', NOW(3) + INTERVAL 5 MINUTE, NULL), NOW(3) - INTERVAL ? MINUTE)",
    )
    .bind(order)
    .bind(target)
    .bind(n)
    .bind(url)
    .bind(outcome)
    .bind(error)
    .bind(outcome)
    .bind(minutes_ago)
    .execute(&app.pool)
    .await
    .unwrap()
    .last_insert_id()
}

fn rows(html: &str) -> usize {
    html.matches(">详情</a>").count()
}

#[tokio::test]
async fn callback_log_filters_pages_and_detail() {
    let app = App::start().await;
    let shop = Shop::jd_general("店", "1201").insert(&app.pool).await;
    let a = order(&app, shop, "20261125101010123000001", "JD-A").await;
    let b = order(&app, shop, "20261125101010123000002", "JD-B").await;
    let a1 = attempt(
        &app,
        Some(a),
        "jd_general",
        2,
        "https://jd.example/cb/A1",
        "delivered",
        60,
        None,
    )
    .await;
    let a0 = attempt(
        &app,
        Some(a),
        "jd_general",
        1,
        "https://jd.example/cb/A0",
        "retry",
        120,
        Some("HTTP 502 网关错误"),
    )
    .await;
    attempt(
        &app,
        Some(b),
        "jd_game",
        9,
        "https://jd.example/cb/B0",
        "giving_up",
        3 * 24 * 60,
        Some("已放弃"),
    )
    .await;
    attempt(
        &app,
        Some(b),
        "supplier",
        1,
        "https://supplier.example/submit/B",
        "success",
        30,
        None,
    )
    .await;
    attempt(
        &app,
        None,
        "agiso",
        1,
        "https://agiso.example/x",
        "error",
        10,
        Some("超时"),
    )
    .await;
    for i in 0..120 {
        attempt(
            &app,
            None,
            "supplier",
            1,
            &format!("https://bulk.example/{i}"),
            "failed",
            200 + i,
            None,
        )
        .await;
    }

    let viewer = app.login("viewer").await;
    let get = |q: String| {
        let v = &viewer;
        async move {
            let page = v.get(&format!("/admin/callbacks{q}")).await;
            assert_eq!(page.status, 200, "{q}");
            page.body
        }
    };
    let all = get(String::new()).await;
    assert!(all.contains("共 125 条"));
    assert_eq!(rows(&all), 50);
    assert!(all.contains("https://agiso.example/x"), "newest first");
    assert!(
        !all.contains("https://jd.example/cb/B0"),
        "oldest on a later page"
    );

    let has = |html: &str, urls: &[&str], not: &[&str]| {
        for u in urls {
            assert!(html.contains(u), "missing {u}");
        }
        for u in not {
            assert!(!html.contains(u), "unexpected {u}");
        }
    };
    let p = get("?target=jd_general".into()).await;
    has(
        &p,
        &["cb/A1", "cb/A0"],
        &["cb/B0", "supplier.example", "bulk.example"],
    );
    assert!(p.contains("共 2 条"));
    let p = get("?outcome=retry".into()).await;
    has(&p, &["cb/A0", "HTTP 502 网关错误"], &["cb/A1"]);
    let p = get("?target=jd_general&outcome=delivered".into()).await;
    has(&p, &["cb/A1"], &["cb/A0"]);
    assert_eq!(rows(&p), 1);
    let p = get("?order=20261125101010123000001".into()).await;
    has(&p, &["cb/A1", "cb/A0"], &["cb/B0", "bulk.example"]);
    assert!(p.contains(&format!("href=\"/admin/orders/{a}\"")));
    let p = get("?order=JD-B".into()).await;
    has(&p, &["cb/B0", "supplier.example/submit/B"], &["cb/A1"]);
    let p = get("?order=nope".into()).await;
    assert!(p.contains("没有订单号为「nope」的订单"));
    assert_eq!(rows(&p), 0);
    let p = get(format!("?from={}&target=jd_game", beijing_day(1))).await;
    assert_eq!(rows(&p), 0, "3 days old");
    let p = get(format!("?to={}&target=jd_game", beijing_day(2))).await;
    has(&p, &["cb/B0"], &[]);
    let p = get(format!("?from={}&to={}", beijing_day(0), beijing_day(0))).await;
    assert!(!p.contains("cb/B0"));
    // Bad input: notes, never an error page.
    let p = get("?from=2026/11/25&target=rocket&outcome=%3Cb%3E&page=abc".into()).await;
    assert!(p.contains("格式不正确"));
    assert!(p.contains("未知的回调对象"));
    assert!(p.contains("未知的结果"));
    assert_eq!(rows(&p), 50);
    // Pages keep the filters.
    let p = get("?target=supplier&outcome=failed".into()).await;
    assert!(p.contains("共 120 条"));
    assert!(
        crate::config::unescape(&p)
            .contains("href=\"/admin/callbacks?target=supplier&outcome=failed&page=2\"")
    );
    let p = get("?target=supplier&outcome=failed&page=3".into()).await;
    assert_eq!(rows(&p), 20);
    let p = get("?target=supplier&outcome=failed&page=99".into()).await;
    assert_eq!(rows(&p), 20, "clamped to the last page");

    // The attempt page.
    let d = viewer.get(&format!("/admin/callbacks/{a1}")).await;
    assert_eq!(d.status, 200);
    assert!(d.body.contains("https://jd.example/cb/A1"));
    assert!(
        crate::config::unescape(&d.body).contains("  \"product\": \"abcd****wxyz\""),
        "pretty JSON"
    );
    assert!(d.body.contains("成功"));
    assert!(d.body.contains("123 ms"));
    assert!(d.body.contains(&format!("href=\"/admin/orders/{a}\"")));
    assert!(
        d.body.contains(&format!("href=\"/admin/callbacks/{a0}\"")),
        "the order's other attempt"
    );
    let d = viewer.get(&format!("/admin/callbacks/{a0}")).await;
    assert!(d.body.contains("HTTP 502 网关错误"));
    assert!(
        d.body.contains(
            &(chrono::Utc::now() + chrono::Duration::hours(8))
                .format("%Y-%m-%d")
                .to_string()
        )
    );
    assert!(
        !d.body
            .contains("<dt>下次尝试</dt><dd><span class=\"muted\">无</span>")
    );
    assert_eq!(viewer.get("/admin/callbacks/999999").await.status, 404);
    assert_eq!(viewer.get("/admin/callbacks/abc").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn audit_log_filters_and_pages() {
    let app = App::start().await;
    let admin = app.login("admin").await;
    exec(
        &app,
        "INSERT INTO audit_log (username, action, target_type, target_id, detail, ip, created_at) VALUES
          ('alice', 'order.fail', 'order', '17', 'detail-alice-fail', '10.0.0.1', NOW(3)),
          ('alice', 'card.reveal', 'card', '99', 'detail-alice-reveal', '10.0.0.1', NOW(3) - INTERVAL 1 HOUR),
          ('bob', 'shop.update', 'shop', '3', 'detail-bob-shop', '10.0.0.2', NOW(3) - INTERVAL 5 DAY)",
    )
    .await;
    for i in 0..60 {
        exec(
            &app,
            &format!(
                "INSERT INTO audit_log (username, action, detail, created_at)
                 VALUES ('carol', 'x.bulk', 'bulk-{i}', NOW(3) - INTERVAL {} MINUTE)",
                i + 10
            ),
        )
        .await;
    }
    let viewer = app.login("viewer").await;
    let get = |q: &'static str| {
        let v = &viewer;
        async move {
            let page = v.get(&format!("/admin/audit{q}")).await;
            assert_eq!(page.status, 200, "{q}");
            page.body
        }
    };
    let count = |html: &str| html.matches("<td class=\"audit-detail\">").count();
    let all = get("").await;
    assert_eq!(count(&all), 50);
    assert!(all.contains("detail-alice-fail"), "newest first");
    assert!(all.contains("手动失败"), "action labels");
    assert!(all.contains("href=\"/admin/orders/17\""));
    let p = get("?user=alice").await;
    assert_eq!(count(&p), 2);
    assert!(p.contains("detail-alice-reveal") && !p.contains("detail-bob-shop"));
    let p = get("?action=shop.update").await;
    assert_eq!(count(&p), 1);
    assert!(p.contains("detail-bob-shop"));
    let p = get("?target_type=order&target_id=17").await;
    assert_eq!(count(&p), 1);
    assert!(p.contains("detail-alice-fail"));
    let p = get("?target_type=card").await;
    assert_eq!(count(&p), 1);
    let p = get("?target_id=17").await;
    assert!(p.contains("请同时选择对象类型"));
    let p = get("?user=bob&from=2000-01-01").await;
    assert_eq!(count(&p), 1);
    let today = beijing_day(1);
    let p = viewer
        .get(&format!("/admin/audit?user=bob&from={today}"))
        .await
        .body;
    assert_eq!(count(&p), 0, "5 days old");
    let p = get("?from=yesterday&target_type=planet").await;
    assert!(p.contains("格式不正确") && p.contains("未知的对象类型"));
    let p = get("?action=x.bulk").await;
    assert!(p.contains("共 60 条"));
    let p = get("?action=x.bulk&page=2").await;
    assert_eq!(count(&p), 10);
    // The logins of this test are there too, by user.
    let p = get("?user=admin&action=login").await;
    assert_eq!(count(&p), 1);
    drop(admin);
    app.stop().await;
}
