//! The one way to reach MySQL: a sqlx pool, the embedded migrations, and the repositories the
//! services share. Works on MySQL 8 and MariaDB >= 10.6.

pub mod agiso;
pub mod audit;
pub mod cards;
pub mod heartbeat;
pub mod notify;
pub mod orders;
pub mod pool;
pub mod products;
pub mod retention;
pub mod schema;
pub mod sealed;
pub mod shops;
pub mod suppliers;
pub mod users;

use sqlx::migrate::Migrator;

use crate::crypto::at_rest::MasterKey;

pub use pool::{Pool, Tx, connect, is_unique_violation, placeholders};

/// The schema: `migrations/` embedded at build time; applied idempotently (a second run is a
/// no-op) by [`migrate`], which serialises concurrently starting services on a named lock.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Applies pending migrations, then re-seals values stored before they were bound to their row
/// and column ([`sealed`]; `force_reseal` scans again even when a previous run marked it done).
/// Without the key (a CLI command that touches no secret) the re-sealing waits for the next
/// run that has it: every service and `admin migrate`. Returns what the re-sealing did.
/// Services starting together serialise on a named lock of our own: sqlx's built-in lock uses
/// `GET_LOCK(name, -1)`, which MariaDB rejects (it returns NULL at once), so on MariaDB
/// concurrent starts would race into a half-applied migration.
pub async fn migrate(
    pool: &Pool,
    key: Option<&MasterKey>,
    force_reseal: bool,
) -> anyhow::Result<sealed::Resealed> {
    use sqlx::Acquire;
    let mut conn = pool.acquire().await?;
    let got: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK(CONCAT('vg_migrate_', DATABASE()), 120)")
            .fetch_one(&mut *conn)
            .await?;
    if got != Some(1) {
        anyhow::bail!("database migration failed: could not take the migration lock within 120 s");
    }
    let result = match MIGRATOR.run(conn.acquire().await?).await {
        Ok(()) => match key {
            Some(key) => sealed::reseal_legacy(&mut conn, key, force_reseal)
                .await
                .map_err(|e| anyhow::anyhow!("re-sealing stored secrets failed: {e}")),
            None => Ok(sealed::Resealed::default()),
        },
        Err(e) => Err(anyhow::anyhow!("database migration failed: {e}")),
    };
    let _ = sqlx::query("SELECT RELEASE_LOCK(CONCAT('vg_migrate_', DATABASE()))")
        .execute(&mut *conn)
        .await;
    result
}
