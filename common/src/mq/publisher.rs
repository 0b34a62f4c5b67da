//! Publishing with publisher confirms and `mandatory`: a message counts as sent only when the
//! broker has confirmed it and it was routed to at least one queue.

use std::sync::Arc;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};
use tokio::sync::Mutex;

use super::Mq;

/// One message to publish on the `orders` exchange.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub message_id: String,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub traceparent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    #[error("broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key {0}")]
    Unroutable(String),
}

pub struct Publisher {
    mq: Arc<Mq>,
    channel: Mutex<Option<Channel>>,
}

impl Publisher {
    pub fn new(mq: Arc<Mq>) -> Self {
        Self {
            mq,
            channel: Mutex::new(None),
        }
    }

    async fn confirm_channel(&self) -> Result<Channel, PublishError> {
        let mut guard = self.channel.lock().await;
        if let Some(ch) = guard.as_ref()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        let ch = self
            .mq
            .channel()
            .await
            .map_err(|e| PublishError::Unavailable(e.to_string()))?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| PublishError::Unavailable(e.to_string()))?;
        *guard = Some(ch.clone());
        Ok(ch)
    }

    /// Publishes all messages, pipelined, and waits for every confirm. The result at index `i`
    /// tells whether message `i` is safely in a queue.
    pub async fn publish_batch(&self, messages: &[Outgoing]) -> Vec<Result<(), PublishError>> {
        let ch = match self.confirm_channel().await {
            Ok(ch) => ch,
            Err(e) => {
                return messages
                    .iter()
                    .map(|_| Err(PublishError::Unavailable(e.to_string())))
                    .collect();
            }
        };
        let exchange = self.mq.topology.exchange();
        let mut pending = Vec::with_capacity(messages.len());
        for m in messages {
            let mut headers = FieldTable::default();
            crate::telemetry::inject_amqp(&mut headers, m.traceparent.as_deref());
            let props = BasicProperties::default()
                .with_message_id(m.message_id.clone().into())
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_headers(headers);
            let confirm = ch
                .basic_publish(
                    exchange.clone().into(),
                    m.routing_key.clone().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &m.payload,
                    props,
                )
                .await;
            pending.push(confirm);
        }
        let mut results = Vec::with_capacity(messages.len());
        for (m, confirm) in messages.iter().zip(pending) {
            let r = match confirm {
                Err(e) => Err(PublishError::Unavailable(e.to_string())),
                Ok(c) => match c.await {
                    Ok(Confirmation::Ack(None)) => Ok(()),
                    Ok(Confirmation::Ack(Some(_))) => {
                        Err(PublishError::Unroutable(m.routing_key.clone()))
                    }
                    Ok(Confirmation::Nack(_)) => Err(PublishError::Nacked),
                    Ok(Confirmation::NotRequested) => {
                        Err(PublishError::Unavailable("confirms not enabled".to_owned()))
                    }
                    Err(e) => Err(PublishError::Unavailable(e.to_string())),
                },
            };
            results.push(r);
        }
        if results
            .iter()
            .any(|r| matches!(r, Err(PublishError::Unavailable(_))))
        {
            // Drop the channel so the next batch starts on a fresh one.
            *self.channel.lock().await = None;
        }
        results
    }
}
