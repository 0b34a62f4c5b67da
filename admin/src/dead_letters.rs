//! The dead-letter collector: moves every message of the dead-letter queue into the
//! `dead_letters` table (acking only after the row committed), so operators can read, replay
//! or discard them from the back office. Undecodable messages are kept as they came.

use common::db::Pool;
use common::mq::consumer::{Disposition, RawDelivery};
use lapin::types::{AMQPValue, FieldTable};

/// Where the broker says the message died: (queue, reason, count), from the first `x-death`.
pub fn death_info(headers: Option<&FieldTable>) -> (Option<String>, Option<String>, i64) {
    let first = headers
        .and_then(|h| h.inner().get("x-death"))
        .and_then(|v| match v {
            AMQPValue::FieldArray(a) => a.as_slice().first().cloned(),
            _ => None,
        });
    let Some(AMQPValue::FieldTable(t)) = first else {
        return (None, None, 1);
    };
    let text = |k: &str| match t.inner().get(k) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
        _ => None,
    };
    let count = match t.inner().get("count") {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        Some(AMQPValue::LongUInt(n)) => i64::from(*n),
        _ => 1,
    };
    (text("queue"), text("reason"), count)
}

/// Stores one dead letter (idempotent on the message id) and acks it.
pub async fn collect(pool: &Pool, msg: RawDelivery) -> Disposition {
    let (queue, reason, count) = death_info(msg.headers.as_ref());
    // The count bound twice, not `VALUES(death_count)`: MySQL 8 deprecates that.
    let r = sqlx::query(
        "INSERT INTO dead_letters (message_id, routing_key, source_queue, reason, death_count, payload)
         VALUES (?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE death_count = ?,
            status = IF(status = 'replayed', 'pending', status)",
    )
    .bind(msg.message_id.as_deref().map(|m| m.chars().take(64).collect::<String>()))
    .bind(msg.routing_key.chars().take(128).collect::<String>())
    .bind(queue)
    .bind(reason)
    .bind(count)
    .bind(&msg.data)
    .bind(count)
    .execute(pool)
    .await;
    match r {
        Ok(_) => {
            tracing::warn!(routing_key = %msg.routing_key, message_id = ?msg.message_id, "dead letter stored for the operators");
            Disposition::Ack
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot store dead letter; will retry");
            Disposition::Requeue
        }
    }
}
