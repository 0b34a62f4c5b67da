//! Liveness rows read by the admin dashboard, with the instance's [`crate::version`].

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Pool;

pub async fn beat(
    pool: &Pool,
    instance_id: &str,
    service: &str,
    started_at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    let host = hostname();
    sqlx::query(
        "INSERT INTO service_heartbeats (instance_id, service, hostname, version, started_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?, NOW(3))
         ON DUPLICATE KEY UPDATE last_seen_at = NOW(3)",
    )
    .bind(instance_id)
    .bind(service)
    .bind(host)
    .bind(crate::version())
    .bind(started_at.naive_utc())
    .execute(pool)
    .await?;
    Ok(())
}

/// Beats every `every` until shut down, then removes the row (a clean stop is not a failure).
pub async fn run(
    pool: Pool,
    instance_id: String,
    service: &'static str,
    every: Duration,
    stop: CancellationToken,
) {
    let started = chrono::Utc::now();
    loop {
        if let Err(e) = beat(&pool, &instance_id, service, started).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    let _ = sqlx::query("DELETE FROM service_heartbeats WHERE instance_id = ?")
        .bind(&instance_id)
        .execute(&pool)
        .await;
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}
