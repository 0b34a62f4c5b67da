//! The shared test harness (`common::testing`): its fixtures write rows exactly as the services
//! read them back, and a sandbox is gone after its clean-up. Every other test stands on these.

use common::db::shops::{self, ShopSecret};
use common::db::{cards, products};
use common::domain::{FailureReason, OrderStatus, Platform, ShopMode};
use common::testing::fixtures::{self, Order, Product, Shop, StoredOrder, Supplier};
use common::testing::{Sandbox, master_key};

async fn count(pool: &common::db::Pool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn fixtures_write_what_the_services_read() {
    let sandbox = Sandbox::new().await;
    let pool = &sandbox.pool;
    let key = master_key();

    // Shops: each platform, its keys sealed for the row and opened with the master key.
    let general = Shop::jd_general("通用店", "V1")
        .keys("md5-key-general", "0123456789abcdef0123456789abcdef")
        .insert(pool)
        .await;
    let game = Shop::jd_game("点卡店", "C1")
        .private_key("game-private-key")
        .mode(ShopMode::Test)
        .callback_urls("http://jd.example/direct", "http://jd.example/card")
        .insert(pool)
        .await;
    let agiso = Shop::agiso("阿奇索店", "A1", "aldsJd")
        .agiso_secrets("app-secret", "access-token")
        .insert(pool)
        .await;
    let g = shops::get(pool, general).await.unwrap().unwrap();
    assert_eq!(g.platform, Platform::JdGeneral);
    assert_eq!(g.merchant_id, "V1");
    assert_eq!(g.mode, ShopMode::Prod);
    assert_eq!(
        g.secret(&key, ShopSecret::Md5Key).unwrap().as_deref(),
        Some("md5-key-general")
    );
    assert_eq!(
        g.secret(&key, ShopSecret::AesKey).unwrap().as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    let k = shops::get(pool, game).await.unwrap().unwrap();
    assert_eq!(k.platform, Platform::JdGame);
    assert_eq!(k.mode, ShopMode::Test);
    assert_eq!(
        k.secret(&key, ShopSecret::PrivateKey).unwrap().as_deref(),
        Some("game-private-key")
    );
    assert_eq!(
        k.card_callback_url.as_deref(),
        Some("http://jd.example/card")
    );
    let a = shops::get(pool, agiso).await.unwrap().unwrap();
    assert_eq!(a.platform, Platform::Agiso);
    assert_eq!(a.agiso_service, "aldsJd");
    assert_eq!(
        a.secret(&key, ShopSecret::AccessToken).unwrap().as_deref(),
        Some("access-token")
    );

    // Products: mode, price, SKUs, out-of-stock policy, disabled.
    let card = Product::card("点卡")
        .face_value(500)
        .price(Some(480))
        .low_stock_threshold(Some(3))
        .sku(Platform::JdGeneral, "45001")
        .sku(Platform::JdGame, "20001")
        .when_out_of_stock(common::domain::StockPolicy::Wait, 60)
        .insert(pool)
        .await;
    let p = products::get(pool, card).await.unwrap().unwrap();
    assert_eq!(
        (
            p.mode.as_str(),
            p.face_value_fen,
            p.price_fen,
            p.low_stock_threshold
        ),
        ("card", Some(500), Some(480), Some(3))
    );
    assert_eq!(
        (
            p.out_of_stock_policy.as_str(),
            p.stock_wait_seconds,
            p.enabled
        ),
        ("wait", 60, true)
    );
    assert_eq!(products::skus(pool, card).await.unwrap().len(), 2);
    let off = Product::direct_supplier("停售")
        .disabled()
        .insert(pool)
        .await;
    let p = products::get(pool, off).await.unwrap().unwrap();
    assert_eq!((p.mode.as_str(), p.enabled), ("direct_supplier", false));

    // Stock: imported once, duplicates refused; numbered files hold what they say.
    fixtures::stock_cards(pool, card, "b1", &[("NO-1", "PW-1"), ("NO-2", "PW-2")]).await;
    let r = fixtures::import_cards(pool, card, "b2", &fixtures::numbered_cards("N", 3)).await;
    assert_eq!((r.new, r.duplicate), (3, 0));
    let r = fixtures::import_cards(pool, card, "b3", "NO-1,PW-1\n").await;
    assert_eq!((r.new, r.duplicate), (0, 1));
    assert_eq!(
        count(
            pool,
            &format!(
                "SELECT COUNT(*) FROM cards WHERE product_id = {card} AND status = 'available'"
            )
        )
        .await,
        5
    );

    // A new order: row, first event, outbox message; then walked with events.
    let o = Order::new(
        Platform::JdGeneral,
        general,
        "JD-1",
        common::domain::OrderKind::Card,
        card,
    )
    .quantity(2)
    .total_fen(960)
    .create(pool, "gateway")
    .await;
    assert_eq!(o.status, OrderStatus::Received);
    assert_eq!(count(pool, "SELECT COUNT(*) FROM outbox").await, 1);
    fixtures::walk(
        pool,
        o.id,
        OrderStatus::Received,
        &[OrderStatus::Processing, OrderStatus::Succeeded],
        "fulfillment",
        None,
    )
    .await;
    let mut tx = pool.begin().await.unwrap();
    fixtures::sold_cards(
        &mut tx,
        card,
        o.id,
        "T",
        &[fixtures::card_line("SOLD-1", "SP-1", Some("2030-01-31"))],
    )
    .await;
    tx.commit().await.unwrap();
    let issued = cards::issued_to_order(pool, &key, o.id).await.unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        (issued[0].card_no.as_str(), issued[0].password.as_str()),
        ("SOLD-1", "SP-1")
    );
    assert_eq!(
        issued[0].expires_on,
        chrono::NaiveDate::from_ymd_opt(2030, 1, 31)
    );
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
        .bind(o.id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(
        count(
            pool,
            &format!(
                "SELECT COUNT(*) FROM order_events WHERE order_id = {}",
                o.id
            )
        )
        .await,
        3
    );

    // A stored order: exactly its columns, no history.
    let s = StoredOrder::new(
        Platform::JdGame,
        game,
        "G-1",
        common::domain::OrderKind::Direct,
        OrderStatus::Failed,
    )
    .order_no("OURS-1")
    .product(off)
    .sku("S1")
    .quantity(1)
    .total_fen(1234)
    .account("acc")
    .failure(Some(FailureReason::OutOfStock))
    .gave_up(4, "超时")
    .notify_url(Some("http://jd.example/n".into()))
    .days_ago(3)
    .completed()
    .insert(pool)
    .await;
    let row: (
        String,
        String,
        String,
        i64,
        String,
        String,
        i32,
        String,
        bool,
        bool,
    ) = sqlx::query_as(
        "SELECT order_no, platform, status, total_price_fen, failure_code, notify_status,
            notify_attempts, notify_reason, created_at < NOW(3) - INTERVAL 2 DAY,
            completed_at IS NOT NULL
         FROM orders WHERE id = ?",
    )
    .bind(s)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "OURS-1".into(),
            "jd_game".into(),
            "failed".into(),
            1234,
            "out_of_stock".into(),
            "giving_up".into(),
            4,
            "超时".into(),
            true,
            true
        )
    );
    assert_eq!(
        count(
            pool,
            &format!("SELECT COUNT(*) FROM order_events WHERE order_id = {s}")
        )
        .await,
        0
    );
    assert_eq!(count(pool, "SELECT COUNT(*) FROM outbox").await, 1);

    // A supplier: its secret sealed and opened.
    let sup = Supplier::new("上游", "http://sup.example/", "M1", "sup-secret")
        .timeout_ms(2000)
        .insert(pool)
        .await;
    let row = common::db::suppliers::get(pool, sup)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.base_url.as_str(), row.timeout_ms),
        ("http://sup.example", 2000)
    );
    assert_eq!(row.secret(&key).unwrap(), "sup-secret");

    // Clean-up drops the database.
    let name = sandbox.db.name.clone();
    sandbox.cleanup().await;
    let other = common::testing::TestDb::create().await;
    let pool = other.pool().await;
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(&name)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "{name} dropped");
    pool.close().await;
    other.drop_database().await;
}
