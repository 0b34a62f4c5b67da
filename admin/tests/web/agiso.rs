//! 阿奇索 without agiso-sync configured: the page and the order page show the buttons disabled
//! with the reason, a POST changes nothing but says why, viewers never see the page; an Agiso
//! order's page shows its tid and stored events. (With agiso-sync running: the system test
//! `agiso_back_office_buttons_drive_agiso_sync`.)

use common::db::agiso::{self, EventState, NewEvent, OrderType, Service, Source};
use common::domain::{FulfilmentMode, OrderKind, Platform};
use common::testing::fixtures::{Order, Product, Shop};

use crate::App;

#[tokio::test]
async fn agiso_buttons_are_disabled_without_agiso_sync() {
    let app = App::start().await;
    let shop = Shop::agiso("阿奇索测试店", "20261202", "alds")
        .agiso_secrets("unusedSecret0123456789abcdefABCD", "unused-token")
        .insert(&app.pool)
        .await;
    let product = Product::new("阿奇索测试商品", FulfilmentMode::Card)
        .insert(&app.pool)
        .await;
    let order = Order::new(
        Platform::Agiso,
        shop,
        "3130000000000000002",
        OrderKind::Card,
        product,
    )
    .create(&app.pool, "agiso-sync")
    .await;
    let mut tx = app.pool.begin().await.unwrap();
    agiso::insert_order(
        &mut tx,
        order.id,
        Service::Alds,
        "3130000000000000001",
        OrderType::Taobao,
    )
    .await
    .unwrap();
    agiso::insert_event(
        &mut tx,
        &NewEvent {
            shop_id: shop,
            service: Service::Alds,
            tid: "3130000000000000001",
            aopic: 2,
            sub_key: "",
            topic: "trade_buyer_pay",
            source: Source::Push,
            payload: r#"{"Tid":3130000000000000001}"#,
            state: EventState::Done,
            note: Some("已建订单"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let op = app.login("operator").await;
    let page = op.get("/admin/agiso").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("阿奇索测试店") && page.body.contains("淘宝"));
    assert!(page.body.contains("未配置 AGISO_SYNC_URL"));
    assert!(
        !page.body.contains("/admin/agiso/shops/"),
        "no working button"
    );

    let a = op
        .post(&format!("/admin/agiso/shops/{shop}/pull"), &[])
        .await;
    assert_eq!(a.status, 303);
    let page = op.get("/admin/agiso").await;
    assert!(page.body.contains("拉取订单失败：未配置 AGISO_SYNC_URL"));
    let no_csrf = op
        .post_raw(&format!("/admin/agiso/shops/{shop}/balance"), &[])
        .await;
    assert_eq!(no_csrf.status, 403, "CSRF as every other form");

    let detail = op.get(&format!("/admin/orders/{}", order.id)).await;
    assert_eq!(detail.status, 200);
    for text in [
        "3130000000000000001",
        "淘宝订单",
        "trade_buyer_pay",
        "推送",
        "已建订单",
    ] {
        assert!(detail.body.contains(text), "order page shows {text}");
    }
    assert!(detail.body.contains("未配置 AGISO_SYNC_URL"));
    assert!(!detail.body.contains("/agiso/deliver"));

    let viewer = app.login("viewer").await;
    assert_eq!(viewer.get("/admin/agiso").await.status, 403);
    let a = viewer
        .post(&format!("/admin/orders/{}/agiso/deliver", order.id), &[])
        .await;
    assert_eq!(a.status, 403);
    let home = viewer.get("/admin/").await;
    assert!(!home.body.contains("href=\"/admin/agiso\""));
    app.stop().await;
}
