//! Test support (feature `testing`), shared by every crate's tests: a fresh MariaDB/MySQL
//! database per test with the migrations applied, a unique RabbitMQ name prefix, a ready
//! `CommonConfig`; the rows tests create ([`fixtures`]); a service started in-process on its own
//! database and queue prefix ([`app::TestApp`]).
//!
//! `TEST_DATABASE_URL` (default `mysql://vgtest:vgtest@127.0.0.1:3306`) must name a user that may
//! create databases called `vgt_*`; `TEST_AMQP_URL` defaults to the local RabbitMQ.
//! `scripts/test.sh` creates both.

use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::{CommonConfig, Env};
use crate::crypto::at_rest::MasterKey;
use crate::db::Pool;

pub mod app;
pub mod fixtures;
pub mod queues;

pub const TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://vgtest:vgtest@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

pub fn master_key() -> MasterKey {
    MasterKey::from_base64(TEST_MASTER_KEY).expect("valid test key")
}

/// A TCP port free on 127.0.0.1 right now (another socket may still take it before it is bound).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A short random name part.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A fresh, empty database (no migrations). Dropped by [`TestDb::drop_database`].
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = unique("vgt_");
        let server = server_url();
        let mut conn = MySqlConnectOptions::from_str(&server)
            .expect("TEST_DATABASE_URL")
            .connect()
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach the test database server ({e}); run scripts/test.sh")
            });
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )))
        .execute(&mut conn)
        .await
        .expect("create test database");
        let _ = conn.close().await;
        TestDb {
            url: format!("{server}/{name}"),
            name,
        }
    }

    /// A fresh database with the migrations applied, and a pool on it.
    pub async fn migrated() -> (TestDb, Pool) {
        let db = TestDb::create().await;
        let pool = db.pool().await;
        crate::db::migrate(&pool, Some(&master_key()), false)
            .await
            .expect("migrations");
        (db, pool)
    }

    pub async fn pool(&self) -> Pool {
        crate::db::connect(
            &SecretString::from(self.url.clone()),
            10,
            Duration::from_secs(10),
        )
        .await
        .expect("connect to test database")
    }

    pub async fn drop_database(self) {
        if let Ok(mut conn) = MySqlConnectOptions::from_str(&server_url())
            .expect("TEST_DATABASE_URL")
            .connect()
            .await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{}`",
                self.name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// A test's own world: a fresh migrated database with a pool on it, and a fresh queue prefix,
/// so tests run in parallel. The in-process [`app::TestApp`] and the system tests' stage (real
/// processes) both stand on one.
pub struct Sandbox {
    pub db: TestDb,
    pub pool: Pool,
    /// `t<12 hex>.`, the `MQ_PREFIX` of the services under test.
    pub prefix: String,
}

impl Sandbox {
    pub async fn new() -> Sandbox {
        let (db, pool) = TestDb::migrated().await;
        Sandbox {
            db,
            pool,
            prefix: unique("t") + ".",
        }
    }

    /// Closes the pool, then drops the prefix's queues and exchanges and the database.
    pub async fn cleanup(self) {
        self.pool.close().await;
        delete_topology(&self.prefix).await;
        self.db.drop_database().await;
    }
}

/// The variables every service under test gets, in-process or as a process: its own database,
/// the test broker, the test master key, its queue prefix, a quick outbox relay.
pub fn service_vars(db_url: &str, mq_prefix: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db_url.to_owned()),
        ("AMQP_URL", amqp_url()),
        ("MASTER_KEY", TEST_MASTER_KEY.to_owned()),
        ("MQ_PREFIX", mq_prefix.to_owned()),
        ("OUTBOX_POLL_MS", "100".to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into()
}

/// The environment a service under test reads in-process: [`service_vars`], listening on port 0.
pub fn service_env(db_url: &str, mq_prefix: &str) -> Env {
    let mut env = Env::from_pairs(service_vars(db_url, mq_prefix));
    env.set("HTTP_ADDR", "127.0.0.1:0");
    env.set("METRICS_ADDR", "127.0.0.1:0");
    env
}

pub fn common_config(db_url: &str, mq_prefix: &str, service: &'static str) -> CommonConfig {
    CommonConfig::from_env(&service_env(db_url, mq_prefix), service, 0).expect("test config")
}

/// Deletes every queue and exchange of a test prefix.
pub async fn delete_topology(prefix: &str) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) =
        lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await
    else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    let topo = crate::mq::Topology::new(prefix);
    for q in crate::mq::QueueName::ALL {
        let _ = ch
            .queue_delete(topo.queue(q).into(), QueueDeleteOptions::default())
            .await;
    }
    for x in [topo.exchange(), topo.dead_letter_exchange()] {
        let _ = ch
            .exchange_delete(x.into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "test cleanup".into()).await;
}
