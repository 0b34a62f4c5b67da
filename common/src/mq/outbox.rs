//! The transactional outbox. A service writes the message row in the same transaction as the
//! state change ([`enqueue`]); the relay publishes pending rows with confirms and deletes them
//! only after the broker confirmed. A crash anywhere means the row is published again later, with
//! the same `message_id` (= event id), never lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::event::Event;
use super::publisher::{Outgoing, PublishError, Publisher};
use crate::db::pool::{Pool, Tx, placeholders};
use crate::metrics::{OUTBOX_FAILURES, OUTBOX_PUBLISHED};

/// Adds `events` to the outbox in one statement, inside the caller's transaction, each with its
/// own `traceparent` ([`Event::traceparent`]).
pub async fn enqueue(tx: &mut Tx, events: &[Event]) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO outbox (event_id, routing_key, payload, traceparent) VALUES {}",
        vec!["(?, ?, ?, ?)"; events.len()].join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for e in events {
        q = q
            .bind(e.event_id.to_string())
            .bind(e.routing_key())
            .bind(e.to_json())
            .bind(&e.traceparent);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Lets code that just committed outbox rows wake the local relay at once instead of waiting
/// for its next poll.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

pub struct OutboxRelay {
    pool: Pool,
    publisher: Publisher,
    batch: u32,
    poll: Duration,
    signal: OutboxSignal,
    /// How long a claimed batch is reserved for the relay publishing it.
    lease: Duration,
    /// Test failpoint: abort the process after publishing and before deleting the rows.
    abort_after_publish: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: u64,
    event_id: String,
    routing_key: String,
    payload: String,
    traceparent: Option<String>,
    attempts: i32,
}

impl OutboxRelay {
    pub fn new(
        pool: Pool,
        publisher: Publisher,
        batch: u32,
        poll: Duration,
        signal: OutboxSignal,
    ) -> Self {
        Self {
            pool,
            publisher,
            batch: batch.max(1),
            poll,
            signal,
            lease: Duration::from_secs(30),
            abort_after_publish: false,
        }
    }

    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn with_abort_after_publish(mut self, on: bool) -> Self {
        self.abort_after_publish = on;
        self
    }

    /// Runs until `stop`: drains whenever signalled or every poll interval.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            loop {
                match self.relay_batch().await {
                    Ok(n) if n == self.batch as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay batch failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                // At once: what commits while a batch is published forms the next batch, so
                // under load batches grow by themselves and no message waits on a timer.
                _ = self.signal.0.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Publishes one batch of due rows. The batch is first claimed with a lease (a short
    /// autocommitted UPDATE), so relays in other processes never take the same rows while it is
    /// published, and no lock is held while the broker confirms. A relay that dies leaves its
    /// claim to expire; the rows are then published again, with the same message ids.
    pub async fn relay_batch(&self) -> anyhow::Result<usize> {
        let claim = uuid::Uuid::new_v4().to_string();
        // Every pooled connection is READ COMMITTED (`db::connect`): the claiming UPDATE skips
        // rows whose committed version another relay already claimed, and takes no gap locks
        // that would stall inserts of new rows.
        let mut conn = self.pool.acquire().await?;
        let claimed = sqlx::query(
            "UPDATE outbox SET claim = ?, claimed_at = NOW(3)
             WHERE available_at <= NOW(3)
               AND (claim IS NULL OR claimed_at < NOW(3) - INTERVAL ? MICROSECOND)
             ORDER BY id LIMIT ?",
        )
        .bind(&claim)
        .bind(self.lease.as_micros() as u64)
        .bind(self.batch)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(0);
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, event_id, routing_key, payload, traceparent, attempts FROM outbox
             WHERE claim = ? ORDER BY id",
        )
        .bind(&claim)
        .fetch_all(&mut *conn)
        .await?;
        let messages: Vec<Outgoing> = rows
            .iter()
            .map(|r| Outgoing {
                message_id: r.event_id.clone(),
                routing_key: r.routing_key.clone(),
                payload: r.payload.clone().into_bytes(),
                traceparent: r.traceparent.clone(),
            })
            .collect();
        let results = self.publisher.publish_batch(&messages).await;
        if self.abort_after_publish && results.iter().any(Result::is_ok) {
            tracing::error!(
                "failpoint: aborting after publish, before the outbox rows are deleted"
            );
            std::process::abort();
        }
        let mut sent = Vec::new();
        for (row, result) in rows.iter().zip(&results) {
            match result {
                Ok(()) => {
                    OUTBOX_PUBLISHED
                        .with_label_values(&[row.routing_key.as_str()])
                        .inc();
                    sent.push(row.id);
                }
                Err(e) => {
                    let reason = match e {
                        PublishError::Unavailable(_) => "unavailable",
                        PublishError::Nacked => "nacked",
                        PublishError::Unroutable(_) => "unroutable",
                    };
                    OUTBOX_FAILURES.with_label_values(&[reason]).inc();
                    tracing::warn!(event_id = %row.event_id, routing_key = %row.routing_key, error = %e, "outbox publish failed; will retry");
                    // Back off per row: 1 s, 2 s, 4 s ... capped at 60 s.
                    let delay_ms = 1000i64 << row.attempts.clamp(0, 6);
                    sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, claim = NULL, claimed_at = NULL,
                             available_at = NOW(3) + INTERVAL ? MICROSECOND WHERE id = ? AND claim = ?",
                    )
                    .bind(delay_ms.min(60_000) * 1000)
                    .bind(row.id)
                    .bind(&claim)
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
        if !sent.is_empty() {
            let sql = format!(
                "DELETE FROM outbox WHERE claim = ? AND id IN ({})",
                placeholders(sent.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&claim);
            for id in &sent {
                q = q.bind(id);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(rows.len())
    }
}
