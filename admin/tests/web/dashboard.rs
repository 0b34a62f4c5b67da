//! 仪表盘.

use common::domain::{OrderStatus, Platform};
use common::testing::fixtures::{Product, Shop, StoredOrder};

use crate::App;

async fn seed(app: &App) {
    let db = &app.pool;
    let general = Shop::jd_general("通用店", "V1").insert(db).await;
    let game = Shop::jd_game("点卡店", "C1").insert(db).await;
    let product = Product::card("腾讯Q币10元")
        .low_stock_threshold(Some(5))
        .insert(db)
        .await;
    // Below its threshold and already alerted, as fulfilment's low-stock check leaves it.
    sqlx::query("UPDATE products SET low_stock_alerted = 1 WHERE id = ?")
        .bind(product)
        .execute(db)
        .await
        .unwrap();
    // Today: 3 succeeded (12.34 each) + 1 failed on 通用交易, 1 awaiting_manual on 游戏点卡;
    // 3 days ago: 2 succeeded; 10 days ago (outside 7 days): 5 succeeded.
    let rows = [
        ((Platform::JdGeneral, general), OrderStatus::Succeeded, 0, 3),
        ((Platform::JdGeneral, general), OrderStatus::Failed, 0, 1),
        ((Platform::JdGame, game), OrderStatus::AwaitingManual, 0, 1),
        ((Platform::JdGame, game), OrderStatus::Succeeded, 3, 2),
        (
            (Platform::JdGeneral, general),
            OrderStatus::Succeeded,
            10,
            5,
        ),
    ];
    let mut n = 0;
    for ((platform, shop), status, days_ago, count) in rows {
        for _ in 0..count {
            n += 1;
            let notify = if status == OrderStatus::Failed {
                "giving_up"
            } else {
                "pending"
            };
            StoredOrder::new(
                platform,
                shop,
                &format!("J{n:06}"),
                common::domain::OrderKind::Card,
                status,
            )
            .order_no(&format!("O{n:06}"))
            .product(product)
            .sku("S1")
            .total_fen(1234)
            .notify_status(notify)
            .days_ago(days_ago)
            .insert(db)
            .await;
        }
    }
    sqlx::query(
        "INSERT INTO service_heartbeats (instance_id, service, hostname, version, started_at, last_seen_at)
         VALUES ('a', 'gateway', 'host-a', '0.1.0', NOW(3), NOW(3)),
                ('b', 'notifier', 'host-b', '0.1.0', NOW(3) - INTERVAL 1 HOUR, NOW(3) - INTERVAL 10 MINUTE)",
    )
    .execute(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn dashboard_shows_counts_health_queues_and_chart() {
    let app = App::start().await;
    seed(&app).await;
    // Seeded behind the admin's back: drop the aggregates it computed at start.
    admin::web::dashboard::forget(&app.pool);
    let b = app.login("viewer").await;
    let page = b.get("/admin/").await;
    assert_eq!(page.status, 200);
    let html = page.body;
    let tile = |label: &str| -> String {
        let at = html
            .find(&format!("<div class=\"label\">{label}</div>"))
            .unwrap_or_else(|| panic!("tile {label}"));
        let rest = &html[at..];
        let v = rest.find("<div class=\"value\">").unwrap() + "<div class=\"value\">".len();
        let end = rest[v..].find("</div>").unwrap();
        let inner = &rest[v..v + end];
        // Strip a link around the value.
        inner
            .rsplit('>')
            .nth(1)
            .map(|s| s.split('<').next().unwrap_or(s))
            .filter(|s| !s.is_empty())
            .unwrap_or(inner)
            .to_owned()
    };
    // The 10-day-old orders only count in neither window; the failed one is in both.
    assert_eq!(tile("今日订单"), "5");
    assert_eq!(tile("近 7 日订单"), "7");
    assert_eq!(tile("今日成功率"), "75.0%");
    assert_eq!(tile("今日成交金额(元)"), "37.02");
    assert_eq!(tile("近 7 日成交金额(元)"), "61.70");
    assert_eq!(tile("待人工处理"), "1");
    assert_eq!(tile("回调已放弃"), "1");
    // Chart, health (one up, one stale), queues of this service's prefix, low stock.
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 24);
    assert!(html.contains("host-a") && html.contains("host-b"));
    // Up: host-a and the admin serving this page (it beats too).
    assert_eq!(
        html.matches("<span class=\"badge ok\">正常</span>").count(),
        2
    );
    assert_eq!(
        html.matches("<span class=\"badge bad\">失联</span>")
            .count(),
        1
    );
    assert!(
        html.contains(&format!("{}fulfillment.orders", app.prefix)),
        "queue depths"
    );
    assert!(html.contains("腾讯Q币10元"), "low stock product");
    app.stop().await;
}
