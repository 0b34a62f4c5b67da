//! The one way to reach MySQL: a sqlx pool, the embedded migrations, and the repositories the
//! services share. Works on MySQL 8 and MariaDB >= 10.6.

pub mod audit;
pub mod cards;
pub mod heartbeat;
pub mod notify;
pub mod orders;
pub mod products;
pub mod schema;
pub mod shops;
pub mod suppliers;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

pub use sqlx::MySqlPool as Pool;
pub type Tx = sqlx::Transaction<'static, sqlx::MySql>;

/// The schema: `migrations/` embedded at build time; applied idempotently (a second run is a
/// no-op) by [`migrate`], which serialises concurrently starting services on a named lock.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Connects, retrying for up to `wait` while the database is still starting (compose, CI).
pub async fn connect(
    url: &secrecy::SecretString,
    max_connections: u32,
    wait: Duration,
) -> anyhow::Result<Pool> {
    let options = MySqlConnectOptions::from_str(url.expose_secret())
        .map_err(|_| anyhow::anyhow!("DATABASE_URL is malformed"))?
        .charset("utf8mb4")
        .timezone(Some("+00:00".into()));
    let deadline = tokio::time::Instant::now() + wait;
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = MySqlPoolOptions::new()
            // READ COMMITTED everywhere: correctness rests on row locks (`FOR UPDATE`,
            // `SKIP LOCKED`), conditional updates and unique keys, all of which hold under it;
            // REPEATABLE READ's gap locks only made concurrent fulfilments and inserts wait on
            // each other.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            })
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, "database not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(e) => return Err(anyhow::anyhow!("cannot connect to the database: {e}")),
        }
    }
}

/// Applies pending migrations. Services starting together serialise on a named lock of our
/// own: sqlx's built-in lock uses `GET_LOCK(name, -1)`, which MariaDB rejects (it returns NULL
/// at once), so on MariaDB concurrent starts would race into a half-applied migration.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    use sqlx::Acquire;
    let mut conn = pool.acquire().await?;
    let got: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK(CONCAT('vg_migrate_', DATABASE()), 120)")
            .fetch_one(&mut *conn)
            .await?;
    if got != Some(1) {
        anyhow::bail!("database migration failed: could not take the migration lock within 120 s");
    }
    let result = MIGRATOR
        .run(conn.acquire().await?)
        .await
        .map_err(|e| anyhow::anyhow!("database migration failed: {e}"));
    let _ = sqlx::query("SELECT RELEASE_LOCK(CONCAT('vg_migrate_', DATABASE()))")
        .execute(&mut *conn)
        .await;
    result
}

/// True when the error is a duplicate-key violation (the database doing the dedupe).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// `?, ?, ?` for an IN list of `n` values.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}
