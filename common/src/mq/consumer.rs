//! Consuming with manual acks and bounded prefetch. A handler acks only after its transaction
//! committed; undecodable or poison messages are dead-lettered and never block the queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::event::Event;
use super::{Mq, QueueName};
use crate::metrics::MQ_CONSUMED;
use crate::retry::Backoff;

/// What to do with a message once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Done (or already done before: handlers are idempotent).
    Ack,
    /// A transient failure (database down...): deliver again later.
    Requeue,
    /// Cannot ever succeed: to the dead-letter queue for an operator.
    DeadLetter,
}

/// A decoded message handed to a handler.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: Event,
    pub redelivered: bool,
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub queue: QueueName,
    /// Unacked messages per worker (and so handlers running at once per worker).
    pub prefetch: u16,
    /// Independent channels consuming the queue.
    pub workers: usize,
}

/// A message as it came from the broker, before decoding (for the dead-letter collector, which
/// must keep even undecodable messages).
#[derive(Debug, Clone)]
pub struct RawDelivery {
    pub data: Vec<u8>,
    pub routing_key: String,
    pub message_id: Option<String>,
    pub headers: Option<FieldTable>,
    pub redelivered: bool,
}

/// Runs `workers` consumers of `spec.queue` until `stop`, reconnecting after broker failures.
/// In-flight handlers finish (and ack) before this returns. Undecodable messages are
/// dead-lettered without reaching the handler.
pub async fn run<H, Fut>(mq: Arc<Mq>, spec: ConsumerSpec, stop: CancellationToken, handler: H)
where
    H: Fn(Received) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Disposition> + Send + 'static,
{
    let label = spec.queue.base();
    run_raw(mq, spec, stop, move |raw: RawDelivery| {
        let handler = handler.clone();
        async move {
            match Event::parse(&raw.data) {
                Ok(event) => {
                    handler(Received {
                        event,
                        redelivered: raw.redelivered,
                        traceparent: crate::telemetry::extract_amqp(raw.headers.as_ref()),
                    })
                    .await
                }
                Err(e) => {
                    tracing::error!(queue = label, error = %e, "undecodable message; dead-lettering it");
                    Disposition::DeadLetter
                }
            }
        }
    })
    .await
}

/// [`run`] for handlers that take the message undecoded.
pub async fn run_raw<H, Fut>(mq: Arc<Mq>, spec: ConsumerSpec, stop: CancellationToken, handler: H)
where
    H: Fn(RawDelivery) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Disposition> + Send + 'static,
{
    let mut workers = JoinSet::new();
    for worker in 0..spec.workers.max(1) {
        let (mq, spec, stop, handler) = (mq.clone(), spec.clone(), stop.clone(), handler.clone());
        workers.spawn(async move {
            // 200 ms doubling up to 5 s between reconnects; a working channel starts over.
            let backoff = Backoff::doubling(Duration::from_millis(200), Duration::from_secs(5));
            let mut failures = 0;
            while !stop.is_cancelled() {
                match consume_once(&mq, &spec, worker, &stop, handler.clone()).await {
                    Ok(()) => failures = 0,
                    Err(e) => {
                        tracing::warn!(queue = spec.queue.base(), error = %e, "consumer lost its channel; reconnecting");
                        failures += 1;
                        let delay = backoff.delay(failures).unwrap_or(Duration::from_secs(5));
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(delay) => {}
                        }
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

async fn consume_once<H, Fut>(
    mq: &Mq,
    spec: &ConsumerSpec,
    worker: usize,
    stop: &CancellationToken,
    handler: H,
) -> anyhow::Result<()>
where
    H: Fn(RawDelivery) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Disposition> + Send + 'static,
{
    let ch = mq.channel().await?;
    ch.basic_qos(spec.prefetch.max(1), BasicQosOptions::default())
        .await?;
    let queue = mq.topology.queue(spec.queue);
    let mut consumer = ch
        .basic_consume(
            queue.clone().into(),
            format!("{}-{}-{}", spec.queue.base(), std::process::id(), worker).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut in_flight = JoinSet::new();
    let label = spec.queue.base();
    let result = loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break Ok(()),
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => continue,
            next = consumer.next() => next,
        };
        let delivery = match next {
            None => break Err(anyhow::anyhow!("consumer stream ended")),
            Some(Err(e)) => break Err(e.into()),
            Some(Ok(d)) => d,
        };
        let handler = handler.clone();
        in_flight.spawn(async move {
            let disposition = handler(RawDelivery {
                data: delivery.data.clone(),
                routing_key: delivery.routing_key.to_string(),
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.to_string()),
                headers: delivery.properties.headers().clone(),
                redelivered: delivery.redelivered,
            })
            .await;
            let outcome = match disposition {
                Disposition::Ack => delivery.acker.ack(BasicAckOptions::default()).await.map(|_| "ack"),
                Disposition::Requeue => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    delivery
                        .acker
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        })
                        .await
                        .map(|_| "requeue")
                }
                Disposition::DeadLetter => delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await
                    .map(|_| "dead_letter"),
            };
            match outcome {
                Ok(o) => MQ_CONSUMED.with_label_values(&[label, o]).inc(),
                // The broker will redeliver: handlers are idempotent.
                Err(e) => tracing::warn!(queue = label, error = %e, "ack failed; message will be redelivered"),
            }
        });
    };
    while in_flight.join_next().await.is_some() {}
    if result.is_ok() {
        let _ = ch.close(200, "shutdown".into()).await;
    }
    result
}
