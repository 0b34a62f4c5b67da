//! A service under test, in-process: a fresh migrated database, a fresh queue prefix, the real
//! service (`build` + `run_until_stopped`) listening on a free port. The gateway's intake tests
//! and the admin's web tests start theirs through [`TestApp::start`]; each keeps only what is its
//! own (signed JD requests, a logged-in browser) on top.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Sandbox, TestDb, service_env};
use crate::config::Env;
use crate::db::Pool;
use crate::service::Service;

/// A running service on its own database and queue prefix; [`TestApp::stop`] stops it and drops
/// both.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub pool: Pool,
    /// The queue prefix (`MQ_PREFIX`).
    pub prefix: String,
    /// The environment the service was built from (for a second instance).
    pub env: Env,
    db: TestDb,
    stop: CancellationToken,
}

impl TestApp {
    /// Starts the service that `build` makes from its environment: [`service_env`] for a fresh
    /// migrated database and queue prefix, then `vars` on top.
    pub async fn start<F, Fut>(vars: &[(&str, &str)], build: F) -> TestApp
    where
        F: FnOnce(Env) -> Fut,
        Fut: Future<Output = anyhow::Result<Service>>,
    {
        let Sandbox { db, pool, prefix } = Sandbox::new().await;
        let mut env = service_env(&db.url, &prefix);
        for (k, v) in vars {
            env.set(k, *v);
        }
        let service = build(env.clone()).await.expect("service starts");
        let base = format!("http://{}", service.local_addr());
        let stop = service.stop_token();
        tokio::spawn(service.run_until_stopped());
        TestApp {
            base,
            pool,
            prefix,
            env,
            db,
            stop,
        }
    }

    /// Another instance built by `build` from the same environment (same database and queue
    /// prefix), stopped with this one; returns its base URL.
    pub async fn replica<F, Fut>(&self, build: F) -> String
    where
        F: FnOnce(Env) -> Fut,
        Fut: Future<Output = anyhow::Result<Service>>,
    {
        let service = build(self.env.clone()).await.expect("replica starts");
        let base = format!("http://{}", service.local_addr());
        let own = service.stop_token();
        let app_stop = self.stop.clone();
        tokio::spawn(async move {
            app_stop.cancelled().await;
            own.cancel();
        });
        tokio::spawn(service.run_until_stopped());
        base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The single number a `SELECT COUNT(*) …` (or any one-value query) returns.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
    }

    /// Stops the service, then drops its queues, exchanges and database.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::sleep(Duration::from_millis(100)).await;
        Sandbox {
            db: self.db,
            pool: self.pool,
            prefix: self.prefix,
        }
        .cleanup()
        .await;
    }
}
