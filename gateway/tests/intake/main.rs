//! Gateway intake over real HTTP against real MariaDB and RabbitMQ. JD is played by signed
//! requests built exactly as the specs say; new orders are read back from the real queue.

mod game;
mod general;

use std::time::Duration;

use common::db::Pool;
use common::domain::{FulfilmentMode, Platform};
use common::mq::{QueueName, Topology};
use common::testing::{TestDb, service_env, unique};

pub const GENERAL_KEY: &str = common::protocol::vectors::general::K;
pub const GAME_KEY: &str = common::protocol::vectors::game::K;

/// A running gateway on its own database and queue prefix, with shops and products seeded.
pub struct App {
    pub base: String,
    pub pool: Pool,
    pub prefix: String,
    pub client: reqwest::Client,
    db: TestDb,
    stop: tokio_util::sync::CancellationToken,
}

impl App {
    pub async fn start() -> App {
        App::start_with(&[]).await
    }

    /// [`App::start`] with extra configuration variables.
    pub async fn start_with(vars: &[(&str, &str)]) -> App {
        let (db, pool) = TestDb::migrated().await;
        let prefix = unique("t") + ".";
        let mut env = service_env(&db.url, &prefix);
        env.set("GATEWAY_CACHE_TTL_MS", "0");
        for (k, v) in vars {
            env.set(k, *v);
        }
        let config = gateway::Config::from_env(&env).expect("config");
        let service = gateway::build(config).await.expect("gateway starts");
        let base = format!("http://{}", service.local_addr());
        let token = service.stop_token();
        tokio::spawn(service.run_until_stopped());
        seed(&pool).await;
        App {
            base,
            pool,
            prefix,
            client: reqwest::Client::new(),
            db,
            stop: token,
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

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until the relay has published everything, then reads the queue.
    pub async fn created_messages(&self) -> Vec<(Option<String>, serde_json::Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.count("outbox").await > 0 {
            assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let queue = Topology::new(self.prefix.clone()).queue(QueueName::FulfillmentOrders);
        read_queue(&queue).await
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.pool.close().await;
        common::testing::delete_topology(&self.prefix).await;
        self.db.drop_database().await;
    }
}

async fn read_queue(queue: &str) -> Vec<(Option<String>, serde_json::Value)> {
    use lapin::options::{BasicAckOptions, BasicGetOptions};
    let conn = lapin::Connection::connect(
        &common::testing::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        let id = msg
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string());
        msg.delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        out.push((id, serde_json::from_slice(&msg.delivery.data).unwrap()));
    }
    let _ = conn.close(200, "done".into()).await;
    out
}

/// Shops: 通用交易 vendorId 1201 (the JD document's example key), 游戏点卡 customerId 10817 and
/// 1010000055, products for each platform.
async fn seed(pool: &Pool) {
    use common::db::{products, shops};
    let key = common::testing::master_key();
    for (platform, name, merchant, sign_key) in [
        (Platform::JdGeneral, "通用店", "1201", GENERAL_KEY),
        (Platform::JdGame, "点卡店", "10817", GAME_KEY),
        (
            Platform::JdGame,
            "点卡店2",
            common::protocol::vectors::game::V1_CUSTOMER_ID,
            common::protocol::vectors::game::V1_KEY,
        ),
    ] {
        let mut s = shops::NewShop {
            platform: Some(platform),
            name: name.into(),
            merchant_id: merchant.into(),
            ..Default::default()
        };
        match platform {
            Platform::JdGeneral => {
                s.md5_key = Some(sign_key.into());
                s.aes_key = Some(GENERAL_KEY.into());
            }
            _ => s.private_key = Some(sign_key.into()),
        }
        shops::insert(pool, &key, &s).await.unwrap();
    }
    for (name, mode, skus, price) in [
        (
            "话费直充100",
            FulfilmentMode::DirectManual,
            vec![(Platform::JdGeneral, "45001")],
            Some(10000),
        ),
        (
            "点卡50",
            FulfilmentMode::Card,
            vec![(Platform::JdGeneral, "45002"), (Platform::JdGame, "20001")],
            Some(5000),
        ),
        (
            "游戏直充",
            FulfilmentMode::DirectManual,
            vec![(Platform::JdGame, "10022039398")],
            Some(980),
        ),
        (
            "停售商品",
            FulfilmentMode::Card,
            vec![(Platform::JdGeneral, "45009"), (Platform::JdGame, "20009")],
            Some(100),
        ),
    ] {
        products::insert(
            pool,
            &products::NewProduct {
                name: name.into(),
                mode,
                face_value_fen: None,
                price_fen: price,
                low_stock_threshold: None,
                skus: skus.into_iter().map(|(p, s)| (p, s.to_owned())).collect(),
            },
        )
        .await
        .unwrap();
    }
    sqlx::query("UPDATE products SET enabled = 0 WHERE name = '停售商品'")
        .execute(pool)
        .await
        .unwrap();
}

/// Simulates fulfilment of `order_id` with fresh cards (what the fulfillment service does),
/// so the query answers can be checked.
pub async fn succeed_with_cards(pool: &Pool, order_id: u64, cards: &[(&str, &str, Option<&str>)]) {
    use common::domain::OrderStatus;
    let key = common::testing::master_key();
    let product_id: u64 = sqlx::query_scalar("SELECT product_id FROM orders WHERE id = ?")
        .bind(order_id)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for (no, pass, exp) in cards {
        use common::crypto::SealedColumn::{CardNo, CardPassword};
        use common::db::cards::seal;
        let fp = key.fingerprint(format!("{no}\0{pass}").as_bytes());
        sqlx::query(
            "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint, expires_at, status, order_id, sold_at)
             VALUES (?, 'T', ?, ?, ?, ?, 'sold', ?, NOW(3))",
        )
        .bind(product_id)
        .bind(seal(&key, CardNo, product_id, &fp, no))
        .bind(seal(&key, CardPassword, product_id, &fp, pass))
        .bind(fp.as_slice())
        .bind(exp.unwrap_or("9999-12-31"))
        .bind(order_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
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
