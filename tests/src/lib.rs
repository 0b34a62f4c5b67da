//! System-test harness: runs the real service binaries as processes against real MariaDB and
//! RabbitMQ, each test on its own database and queue prefix.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::testing::{TEST_MASTER_KEY, TestDb, amqp_url, unique};

/// The five service binaries.
pub const SERVICES: [&str; 5] = ["gateway", "fulfillment", "notifier", "agiso-sync", "admin"];

/// `target/<profile>/<name>`, built by `cargo build --workspace --bins` (scripts/test.sh does).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/system-xxxx -> target/debug
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A test environment: a migrated database and a queue prefix of its own.
pub struct Stage {
    pub db: TestDb,
    pub pool: common::db::Pool,
    pub prefix: String,
}

impl Stage {
    pub async fn new() -> Stage {
        let (db, pool) = TestDb::migrated().await;
        Stage {
            db,
            pool,
            prefix: unique("t") + ".",
        }
    }

    /// Environment variables for a service process of this stage.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DATABASE_URL".into(), self.db.url.clone()),
            ("AMQP_URL".into(), amqp_url()),
            ("MASTER_KEY".into(), TEST_MASTER_KEY.into()),
            ("MQ_PREFIX".into(), self.prefix.clone()),
            ("OUTBOX_POLL_MS".into(), "100".into()),
            ("RUST_LOG".into(), "warn".into()),
        ]
    }

    pub async fn cleanup(self) {
        self.pool.close().await;
        common::testing::delete_topology(&self.prefix).await;
        self.db.drop_database().await;
    }
}

/// A service process, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Proc {
    pub fn spawn(name: &str, env: &[(String, String)]) -> Proc {
        let port = free_port();
        let child = Command::new(binary(name))
            .env_clear()
            .envs(env.iter().cloned())
            .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn service");
        Proc { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Waits until `/readyz` answers 200 (or panics after `timeout`).
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("service exited early with {status}");
            }
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status().as_u16() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "service not ready within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait for service")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Reads up to `max` messages currently in `queue` (basic.get, acked), with their message ids.
pub async fn drain_queue(
    queue: &str,
    max: usize,
    wait: Duration,
) -> Vec<(Option<String>, Vec<u8>)> {
    use lapin::options::{BasicAckOptions, BasicGetOptions};
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("amqp");
    let ch = conn.create_channel().await.expect("channel");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while out.len() < max {
        match ch
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            Some(msg) => {
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
                    .expect("ack");
                out.push((id, msg.delivery.data.clone()));
            }
            None if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None => break,
        }
    }
    let _ = conn.close(200, "done".into()).await;
    out
}
