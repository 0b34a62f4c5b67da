//! `notifier`: Sends JD's asynchronous callbacks with a durable retry schedule and logs every attempt.
//!
//! An order's final transition schedules its first callback in the database
//! (`notify_next_at = NOW(3)`, `orders::transition_many`); the consumer of `notifier.callbacks`
//! only wakes the sender and acks. Delivery runs from that durable schedule ([`sender`]), so
//! retries survive restarts of the notifier and of RabbitMQ. A periodic sweep schedules
//! completed orders that were never scheduled (completed by an earlier version).
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod callback;
pub mod recorder;
pub mod schedule;
pub mod sender;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::domain::Platform;
use common::mq::QueueName;
use common::mq::consumer::{self, ConsumerSpec, Disposition, Received};
use common::service::{Infra, Service, ServiceConfig};
use tokio_util::sync::CancellationToken;

pub const SERVICE: &str = "notifier";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `NOTIFY_SCHEDULE`: delays between attempts (`15s,15s,30s,3m,…`); one more attempt than
    /// entries, then `giving_up`. Each delay is jittered ±20 %.
    pub schedule: common::retry::Backoff,
    /// `NOTIFY_HTTP_TIMEOUT_MS`.
    pub http_timeout: Duration,
    /// `NOTIFY_PER_HOST_CONCURRENCY`: requests in flight per JD host.
    pub per_host_concurrency: usize,
    /// `NOTIFY_CONCURRENCY`: attempts in flight overall.
    pub concurrency: usize,
    /// `NOTIFY_CLAIM_BATCH`: orders claimed per query.
    pub claim_batch: usize,
    /// `NOTIFY_LEASE_MS`: how long a claimed order is not claimed again (a crash between
    /// sending and recording resends it after this).
    pub lease: Duration,
    /// `NOTIFY_POLL_MS`: how often the schedule is read when idle.
    pub poll: Duration,
    /// `NOTIFY_PREFETCH`: unacked `order.completed` messages.
    pub prefetch: u16,
    /// `NOTIFY_SWEEP_MS`: how often completed JD orders that were never scheduled (completed
    /// by an earlier version, whose `order.completed` message was lost) are looked for.
    pub sweep: Duration,
    /// `NOTIFY_SWEEP_GRACE_MS`: how long an order must have been final before the sweep
    /// schedules it (an earlier version scheduled on the message, which normally arrives well within this).
    pub sweep_grace: Duration,
    /// Test failpoint (`NOTIFY_FAILPOINT=abort-after-send`): abort after sending a callback,
    /// before recording it.
    pub abort_after_send: bool,
}

fn positive(var: &str, n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(ConfigError {
            var: var.into(),
            problem: "must be at least 1".into(),
        });
    }
    Ok(n)
}

fn positive_millis(env: &Env, var: &str, default_ms: u64) -> Result<Duration, ConfigError> {
    let d = env.millis_or(var, default_ms)?;
    if d.is_zero() {
        return Err(ConfigError {
            var: var.into(),
            problem: "must be at least 1".into(),
        });
    }
    Ok(d)
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let schedule_text = env
            .optional_str("NOTIFY_SCHEDULE")
            .unwrap_or_else(|| schedule::DEFAULT_SCHEDULE.to_owned());
        let schedule = schedule::parse_schedule(&schedule_text).ok_or_else(|| ConfigError {
            var: "NOTIFY_SCHEDULE".into(),
            problem: "is malformed: expected comma-separated durations such as 15s,30s,3m,1h"
                .into(),
        })?;
        let http_timeout = env.millis_or("NOTIFY_HTTP_TIMEOUT_MS", 10_000)?;
        let lease = env.millis_or("NOTIFY_LEASE_MS", 60_000)?;
        if lease <= http_timeout {
            return Err(ConfigError {
                var: "NOTIFY_LEASE_MS".into(),
                problem: "must be longer than NOTIFY_HTTP_TIMEOUT_MS".into(),
            });
        }
        Ok(Self {
            common: CommonConfig::from_env(env, SERVICE, ports::NOTIFIER)?,
            schedule,
            http_timeout,
            per_host_concurrency: positive(
                "NOTIFY_PER_HOST_CONCURRENCY",
                env.parse_or("NOTIFY_PER_HOST_CONCURRENCY", 16usize, "a number")?,
            )?,
            concurrency: positive(
                "NOTIFY_CONCURRENCY",
                env.parse_or("NOTIFY_CONCURRENCY", 256usize, "a number")?,
            )?,
            claim_batch: positive(
                "NOTIFY_CLAIM_BATCH",
                env.parse_or("NOTIFY_CLAIM_BATCH", 200usize, "a number")?,
            )?,
            lease,
            poll: env.millis_or("NOTIFY_POLL_MS", 500)?,
            prefetch: env.parse_or("NOTIFY_PREFETCH", 64u16, "a number of messages")?,
            sweep: positive_millis(env, "NOTIFY_SWEEP_MS", 60_000)?,
            sweep_grace: env.millis_or("NOTIFY_SWEEP_GRACE_MS", 30_000)?,
            abort_after_send: match env.raw("NOTIFY_FAILPOINT") {
                None => false,
                Some("abort-after-send") => true,
                Some(_) => {
                    return Err(ConfigError {
                        var: "NOTIFY_FAILPOINT".into(),
                        problem: "is malformed: expected abort-after-send or unset".into(),
                    });
                }
            },
        })
    }
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// `order.completed.jd_*`: wakes the sender and acks. The order's final transition already
/// scheduled its first callback in the database, so the message is only the signal that
/// something is due: a lost one delays the callback until the sender's next poll.
async fn handle(sender: &sender::Sender, msg: Received) -> Disposition {
    // The wake-up, in the order's trace (the callback's own span continues it from the order).
    let span = tracing::info_span!("wake", order_id = msg.event.order_id);
    common::telemetry::set_remote_parent(&span, msg.traceparent.as_deref());
    let _in = span.enter();
    if matches!(msg.event.platform, Platform::JdGeneral | Platform::JdGame) {
        sender.wake.notify_one();
    }
    Disposition::Ack
}

/// Orders scheduled per sweep statement.
const SWEEP_LIMIT: u32 = 500;

/// Every `config.sweep`: schedules completed JD orders that were never scheduled (completed by
/// an earlier version, which scheduled on the message) once final for `config.sweep_grace`.
async fn sweep(sender: Arc<sender::Sender>, stop: CancellationToken) {
    loop {
        loop {
            match common::db::notify::schedule_lost(
                &sender.db,
                common::db::notify::Audience::Jd,
                sender.config.sweep_grace,
                SWEEP_LIMIT,
            )
            .await
            {
                Ok(0) => break,
                Ok(n) => {
                    tracing::warn!(
                        orders = n,
                        "scheduled callbacks of completed orders that were never scheduled"
                    );
                    sender.wake.notify_one();
                    if n < u64::from(SWEEP_LIMIT) || stop.is_cancelled() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sweep for unscheduled callbacks failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(sender.config.sweep) => {}
        }
    }
}

/// Connects, migrates, declares the topology, starts the consumer, the sender and the sweep,
/// and binds the HTTP listener.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let mut infra = Infra::start(config.common.clone()).await?;
    sender::init_metrics();
    let sender = sender::Sender::new(
        infra.db.clone(),
        config.common.master_key.clone(),
        config.clone(),
    )?;
    let spec = ConsumerSpec {
        queue: QueueName::NotifierCallbacks,
        prefetch: config.prefetch,
        workers: 1,
    };
    let (mq, s) = (infra.mq.clone(), sender.clone());
    infra.spawn(move |stop| {
        consumer::run(mq, spec, stop, move |msg| {
            let s = s.clone();
            async move { handle(&s, msg).await }
        })
    });
    let s = sender.clone();
    infra.spawn(move |stop| s.run(stop));
    let s = sender.clone();
    infra.spawn(move |stop| sweep(s, stop));
    Service::bind(infra, Router::new()).await
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    build(config).await?.run_until_stopped().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs: Vec<(String, String)> = vec![
            (
                "DATABASE_URL".into(),
                "mysql://u:p@127.0.0.1:3306/db".into(),
            ),
            ("AMQP_URL".into(), "amqp://127.0.0.1:5672".into()),
            (
                "MASTER_KEY".into(),
                common::testing::TEST_MASTER_KEY.to_owned(),
            ),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Env::from_pairs(pairs)
    }

    #[test]
    fn config_defaults_and_errors() {
        let c = Config::from_env(&env(&[])).expect("defaults");
        assert_eq!(c.schedule.retries(), Some(15));
        assert_eq!(c.http_timeout, Duration::from_secs(10));
        assert_eq!(c.per_host_concurrency, 16);
        assert!(!c.abort_after_send);
        assert_eq!(c.sweep, Duration::from_secs(60));
        assert_eq!(c.sweep_grace, Duration::from_secs(30));
        let c = Config::from_env(&env(&[
            ("NOTIFY_SWEEP_MS", "250"),
            ("NOTIFY_SWEEP_GRACE_MS", "0"),
        ]))
        .expect("sweep settings");
        assert_eq!(c.sweep, Duration::from_millis(250));
        assert_eq!(c.sweep_grace, Duration::ZERO);
        let c = Config::from_env(&env(&[("NOTIFY_SCHEDULE", "100ms,200ms")])).expect("short");
        assert_eq!(
            c.schedule,
            common::retry::Backoff::listed(vec![
                Duration::from_millis(100),
                Duration::from_millis(200)
            ])
            .with_jitter(schedule::JITTER)
        );
        for (var, value) in [
            ("NOTIFY_SCHEDULE", "soon"),
            ("NOTIFY_HTTP_TIMEOUT_MS", "x"),
            ("NOTIFY_PER_HOST_CONCURRENCY", "0"),
            ("NOTIFY_FAILPOINT", "boom"),
            ("NOTIFY_LEASE_MS", "5000"),
            ("NOTIFY_SWEEP_MS", "0"),
            ("NOTIFY_SWEEP_MS", "1m"),
            ("NOTIFY_SWEEP_GRACE_MS", "-1"),
        ] {
            let e = Config::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(e.var, var);
        }
    }
}
