//! Gateway intake over real HTTP against real MariaDB and RabbitMQ. JD is played by signed
//! requests built exactly as the specs say; new orders are read back from the real queue.

mod game;
mod general;

use std::time::Duration;

use common::db::Pool;
use common::domain::Platform;
use common::mq::{QueueName, Topology};
use common::testing::app::TestApp;
use common::testing::fixtures::{self, Product, Shop};
use common::testing::queues::drain_queue;

pub const GENERAL_KEY: &str = common::protocol::vectors::general::K;
pub const GAME_KEY: &str = common::protocol::vectors::game::K;

/// A running gateway (the shared in-process [`TestApp`]: its own database and queue prefix),
/// with shops and products seeded, and a client to play JD.
pub struct App {
    app: TestApp,
    pub client: reqwest::Client,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl App {
    pub async fn start() -> App {
        App::start_with(&[]).await
    }

    /// [`App::start`] with extra configuration variables.
    pub async fn start_with(vars: &[(&str, &str)]) -> App {
        let vars = [&[("GATEWAY_CACHE_TTL_MS", "0")], vars].concat();
        let app = TestApp::start(&vars, async |env| {
            gateway::build(gateway::Config::from_env(&env)?).await
        })
        .await;
        seed(&app.pool).await;
        App {
            app,
            client: reqwest::Client::new(),
        }
    }

    pub async fn post_form(&self, path: &str, fields: &[(String, String)]) -> (u16, Vec<u8>) {
        let body = common::protocol::form::encode_form(fields);
        self.post_raw(path, body.into_bytes(), "application/x-www-form-urlencoded")
            .await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>, content_type: &str) -> (u16, Vec<u8>) {
        let r = self
            .client
            .post(format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.bytes().await.expect("body").to_vec())
    }

    /// The rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        self.app
            .count(&format!("SELECT COUNT(*) FROM {table}"))
            .await
    }

    /// Waits until the relay has published everything, then reads the queue.
    pub async fn created_messages(&self) -> Vec<(Option<String>, serde_json::Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.count("outbox").await > 0 {
            assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let queue = Topology::new(self.prefix.clone()).queue(QueueName::FulfillmentOrders);
        drain_queue(&queue, usize::MAX, Duration::ZERO)
            .await
            .into_iter()
            .map(|(id, body)| (id, serde_json::from_slice(&body).unwrap()))
            .collect()
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }
}

/// Shops: 通用交易 vendorId 1201 (the JD document's example key), 游戏点卡 customerId 10817 and
/// 1010000055, products for each platform.
async fn seed(pool: &Pool) {
    Shop::jd_general("通用店", "1201")
        .keys(GENERAL_KEY, GENERAL_KEY)
        .insert(pool)
        .await;
    Shop::jd_game("点卡店", "10817")
        .private_key(GAME_KEY)
        .insert(pool)
        .await;
    Shop::jd_game("点卡店2", common::protocol::vectors::game::V1_CUSTOMER_ID)
        .private_key(common::protocol::vectors::game::V1_KEY)
        .insert(pool)
        .await;
    Product::direct_manual("话费直充100")
        .price(Some(10000))
        .sku(Platform::JdGeneral, "45001")
        .insert(pool)
        .await;
    Product::card("点卡50")
        .price(Some(5000))
        .sku(Platform::JdGeneral, "45002")
        .sku(Platform::JdGame, "20001")
        .insert(pool)
        .await;
    Product::direct_manual("游戏直充")
        .price(Some(980))
        .sku(Platform::JdGame, "10022039398")
        .insert(pool)
        .await;
    Product::card("停售商品")
        .price(Some(100))
        .sku(Platform::JdGeneral, "45009")
        .sku(Platform::JdGame, "20009")
        .disabled()
        .insert(pool)
        .await;
}

/// Simulates fulfilment of `order_id` with fresh cards (what the fulfillment service does),
/// so the query answers can be checked.
pub async fn succeed_with_cards(pool: &Pool, order_id: u64, cards: &[(&str, &str, Option<&str>)]) {
    use common::domain::OrderStatus;
    let product_id: u64 = sqlx::query_scalar("SELECT product_id FROM orders WHERE id = ?")
        .bind(order_id)
        .fetch_one(pool)
        .await
        .unwrap();
    let lines: Vec<_> = cards
        .iter()
        .map(|(no, pass, exp)| fixtures::card_line(no, pass, *exp))
        .collect();
    let mut tx = pool.begin().await.unwrap();
    fixtures::sold_cards(&mut tx, product_id, order_id, "T", &lines).await;
    common::db::orders::transition(
        &mut tx,
        order_id,
        OrderStatus::Received,
        OrderStatus::Processing,
        "test",
        None,
    )
    .await
    .unwrap();
    common::db::orders::transition(
        &mut tx,
        order_id,
        OrderStatus::Processing,
        OrderStatus::Succeeded,
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

pub async fn fail_order(pool: &Pool, order_id: u64, reason: common::domain::FailureReason) {
    use common::domain::OrderStatus;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE orders SET failure_code = ?, failure_reason = ? WHERE id = ?")
        .bind(reason.as_str())
        .bind(reason.label_zh())
        .bind(order_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    common::db::orders::transition(
        &mut tx,
        order_id,
        OrderStatus::Received,
        OrderStatus::Failed,
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

pub async fn order_id(pool: &Pool, platform_order_no: &str) -> u64 {
    sqlx::query_scalar("SELECT id FROM orders WHERE platform_order_no = ?")
        .bind(platform_order_no)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many timeline notes of `order_id` start with `prefix` (an alert is written once).
pub async fn notes_starting(pool: &Pool, order_id: u64, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM order_events WHERE order_id = ? AND note LIKE ?")
        .bind(order_id)
        .bind(format!("{prefix}%"))
        .fetch_one(pool)
        .await
        .unwrap()
}
