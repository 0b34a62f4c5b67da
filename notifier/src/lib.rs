//! `notifier`: Sends JD's asynchronous callbacks with a durable retry schedule and logs every attempt.
//!
//! The consumer of `notifier.callbacks` only schedules the first attempt of a completed order in
//! the database (`notify_next_at = NOW(3)`) and acks. Delivery runs from that durable schedule
//! ([`sender`]), so retries survive restarts of the notifier and of RabbitMQ.
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod callback;
pub mod schedule;
pub mod sender;

use std::time::Duration;

use axum::Router;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::domain::Platform;
use common::mq::QueueName;
use common::mq::consumer::{self, ConsumerSpec, Disposition, Received};
use common::service::{Infra, Service, ServiceConfig};

pub const SERVICE: &str = "notifier";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `NOTIFY_SCHEDULE`: delays between attempts (`15s,15s,30s,3m,…`); one more attempt than
    /// entries, then `giving_up`. Each delay is jittered ±20 %.
    pub schedule: Vec<Duration>,
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

/// `order.completed.jd_*`: schedules the first attempt (idempotent) and acks.
async fn handle(sender: &sender::Sender, msg: Received) -> Disposition {
    if !matches!(msg.event.platform, Platform::JdGeneral | Platform::JdGame) {
        return Disposition::Ack;
    }
    match common::db::notify::schedule_first(&sender.db, msg.event.order_id).await {
        Ok(scheduled) => {
            if scheduled {
                sender.wake.notify_one();
            }
            Disposition::Ack
        }
        Err(e) => {
            tracing::warn!(order_id = msg.event.order_id, error = %e, "cannot schedule callback");
            Disposition::Requeue
        }
    }
}

/// Connects, migrates, declares the topology, starts the consumer and the sender, and binds
/// the HTTP listener.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let mut infra = Infra::start(config.common.clone()).await?;
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
        assert_eq!(c.schedule.len(), 15);
        assert_eq!(c.http_timeout, Duration::from_secs(10));
        assert_eq!(c.per_host_concurrency, 16);
        assert!(!c.abort_after_send);
        let c = Config::from_env(&env(&[("NOTIFY_SCHEDULE", "100ms,200ms")])).expect("short");
        assert_eq!(
            c.schedule,
            vec![Duration::from_millis(100), Duration::from_millis(200)]
        );
        for (var, value) in [
            ("NOTIFY_SCHEDULE", "soon"),
            ("NOTIFY_HTTP_TIMEOUT_MS", "x"),
            ("NOTIFY_PER_HOST_CONCURRENCY", "0"),
            ("NOTIFY_FAILPOINT", "boom"),
            ("NOTIFY_LEASE_MS", "5000"),
        ] {
            let e = Config::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(e.var, var);
        }
    }
}
