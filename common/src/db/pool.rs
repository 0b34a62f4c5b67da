//! The pool and the small helpers every repository and the outbox use. A leaf module: what
//! outside `db` needs of the database (the outbox relay in `mq`) imports it from here, so the
//! repositories that enqueue outbox rows and the outbox itself do not import each other.

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

pub use sqlx::MySqlPool as Pool;
pub type Tx = sqlx::Transaction<'static, sqlx::MySql>;

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
    let connect = || {
        MySqlPoolOptions::new()
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
    };
    crate::retry::reconnect()
        .retry_for(wait, "database", connect)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))
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
