//! Reading a test's queues on the real broker: waiting until consumers took everything, and
//! taking the messages a test expects (with their message ids).

use std::time::Duration;

use super::amqp_url;

/// Ready messages in `queue` by a passive declare on `ch` (`None` when the queue does not
/// exist: the broker then closes the channel).
async fn ready_in(ch: &lapin::Channel, queue: &str) -> Option<u32> {
    use lapin::options::QueueDeclareOptions;
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        Default::default(),
    )
    .await
    .ok()
    .map(|d| d.message_count())
}

/// Messages ready in `queue` (`None` when it does not exist or the broker cannot be reached).
pub async fn queue_depth(queue: &str) -> Option<u32> {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .ok()?;
    let ch = conn.create_channel().await.ok()?;
    let ready = ready_in(&ch, queue).await;
    let _ = conn.close(200, "done".into()).await;
    ready
}

/// Waits until `queue` holds no ready message (its consumers took everything), or panics after
/// `within`.
pub async fn wait_queue_empty(queue: &str, within: Duration) {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("amqp");
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ch = conn.create_channel().await.expect("channel");
        let ready = ready_in(&ch, queue).await.expect("queue exists");
        if ready == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{queue} still holds {ready} messages after {within:?}"
        );
        let _ = ch.close(200, "poll".into()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = conn.close(200, "done".into()).await;
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
