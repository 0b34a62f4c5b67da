//! `agiso-sync`: Agiso (阿奇索) push receiver and backstop poller; delivers completed Agiso
//! orders back through Agiso. With no enabled Agiso shop it idles (and says so once).
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod client;
pub mod deliver;
pub mod intake;
pub mod metrics;
pub mod operator;
pub mod poll;
pub mod push;
pub mod shops;
pub mod writer;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::db::notify::Audience;
use common::mq::QueueName;
use common::mq::consumer::{self, ConsumerSpec, Disposition, Received};
use common::service::{Infra, Service, ServiceConfig};

pub const SERVICE: &str = "agiso-sync";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// Agiso's gateway when a shop sets none (`AGISO_GATEWAY_URL`).
    pub gateway_url: String,
    /// Calls per second per AppId this process makes at most (Agiso allows 20).
    pub calls_per_sec: NonZeroU32,
    /// Timeout of one call to Agiso.
    pub call_timeout: Duration,
    /// How long the decrypted shops are cached.
    pub shop_cache_ttl: Duration,
    pub delivery: deliver::DeliveryConfig,
    /// Completed orders that were never scheduled (completed by an earlier version) are
    /// scheduled by a sweep this often, once final for `sweep_grace`.
    pub sweep: Duration,
    pub sweep_grace: Duration,
    /// The backstop poll's interval (zero: off).
    pub poll_every: Duration,
    /// Bearer token of the operator endpoints (`AGISO_OPERATOR_TOKEN`).
    pub operator_token: Option<secrecy::SecretString>,
}

/// Delivery retries: ≈ 24 h, like JD's callbacks, starting faster (Agiso answers quickly).
pub const DEFAULT_DELIVERY_SCHEDULE: &str = "5s,15s,30s,1m,3m,10m,30m,1h,2h,3h,6h,6h";

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let calls: u32 = env.parse_or("AGISO_CALLS_PER_SEC", 15u32, "a number of calls (1-20)")?;
        let calls_per_sec = NonZeroU32::new(calls)
            .filter(|c| c.get() <= 20)
            .ok_or_else(|| ConfigError {
                var: "AGISO_CALLS_PER_SEC".into(),
                problem: "must be 1-20 (Agiso allows 20 calls per second per app)".into(),
            })?;
        Ok(Self {
            common: CommonConfig::from_env(env, SERVICE, ports::AGISO_SYNC)?,
            gateway_url: env
                .optional_url("AGISO_GATEWAY_URL")?
                .unwrap_or_else(|| common::protocol::agiso::GATEWAY_BASE.to_owned()),
            calls_per_sec,
            call_timeout: env.millis_or("AGISO_CALL_TIMEOUT_MS", 10_000)?,
            shop_cache_ttl: env.millis_or("AGISO_SHOP_CACHE_TTL_MS", 3000)?,
            delivery: deliver::DeliveryConfig {
                schedule: {
                    let text = env
                        .optional_str("AGISO_DELIVERY_SCHEDULE")
                        .unwrap_or_else(|| DEFAULT_DELIVERY_SCHEDULE.to_owned());
                    common::retry::Backoff::parse_listed(&text, 0.2).ok_or_else(|| ConfigError {
                        var: "AGISO_DELIVERY_SCHEDULE".into(),
                        problem: "expected delays such as 5s,15s,1m,1h".into(),
                    })?
                },
                lease: env.millis_or("AGISO_DELIVERY_LEASE_MS", 60_000)?,
                poll: env.millis_or("AGISO_DELIVERY_POLL_MS", 1000)?,
                abort_after_call: match env.raw("AGISO_FAILPOINT") {
                    None => false,
                    Some("abort-after-call") => true,
                    Some(_) => {
                        return Err(ConfigError {
                            var: "AGISO_FAILPOINT".into(),
                            problem: "is malformed: expected abort-after-call or unset".into(),
                        });
                    }
                },
            },
            sweep: env.millis_or("AGISO_SWEEP_MS", 60_000)?,
            sweep_grace: env.millis_or("AGISO_SWEEP_GRACE_MS", 30_000)?,
            operator_token: env
                .optional_str("AGISO_OPERATOR_TOKEN")
                .filter(|t| !t.trim().is_empty())
                .map(secrecy::SecretString::from),
            poll_every: Duration::from_secs(env.parse_or(
                "AGISO_POLL_INTERVAL_SECS",
                60u64,
                "a number of seconds (0 = off)",
            )?),
        })
    }
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// Everything a handler or task needs.
pub struct AgisoSync {
    pub db: common::db::Pool,
    pub key: common::crypto::MasterKey,
    pub shops: shops::Shops,
    pub client: client::Client,
    /// Group-commits verified pushes.
    pub pushes: writer::PushWriter,
    /// Bearer token of the operator endpoints; `None`: they answer 503.
    pub operator_token: Option<secrecy::SecretString>,
    /// Wakes the delivery loop (an operator asked for a delivery now).
    pub deliver_now: std::sync::Arc<tokio::sync::Notify>,
}

pub type AppState = Arc<AgisoSync>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/agiso/push", post(push::receive))
        .route("/api/agiso/pull", post(operator::pull))
        .route("/api/agiso/deliver", post(operator::deliver))
        .route("/api/agiso/status", post(operator::status))
        .route("/api/agiso/stock", post(operator::stock))
        .route("/api/agiso/balance", post(operator::balance))
        .with_state(state)
}

/// Connects, migrates, declares the topology and binds the HTTP listener.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let mut infra = Infra::start(config.common.clone()).await?;
    metrics::init();
    let state = Arc::new(AgisoSync {
        db: infra.db.clone(),
        key: config.common.master_key.clone(),
        shops: shops::Shops::new(
            infra.db.clone(),
            config.common.master_key.clone(),
            config.gateway_url.clone(),
            config.shop_cache_ttl,
        ),
        client: client::Client::new(config.calls_per_sec, config.call_timeout)?,
        pushes: writer::PushWriter::start(infra.db.clone(), 2),
        operator_token: config.operator_token.clone(),
        deliver_now: std::sync::Arc::new(tokio::sync::Notify::new()),
    });
    let idle = state.clone();
    infra.spawn(move |stop| say_when_idle(idle, stop));
    let deliverer = deliver::Deliverer::new(state.clone(), config.delivery.clone());
    let spec = ConsumerSpec {
        queue: QueueName::AgisoDeliveries,
        prefetch: 32,
        workers: 1,
    };
    let (mq, d) = (infra.mq.clone(), deliverer.clone());
    infra.spawn(move |stop| {
        consumer::run(mq, spec, stop, move |msg| {
            let d = d.clone();
            async move { scheduled(&d, msg).await }
        })
    });
    let d = deliverer.clone();
    infra.spawn(move |stop| d.run(stop));
    let (p, every) = (state.clone(), config.poll_every);
    infra.spawn(move |stop| poll::run(p, every, stop));
    let d = deliverer.clone();
    let (sweep, grace) = (config.sweep, config.sweep_grace);
    infra.spawn(move |stop| sweep_lost(d, sweep, grace, stop));
    Service::bind(infra, router(state)).await
}

/// `order.completed.agiso`: wakes the delivery loop and acks (the order's final transition
/// already scheduled its first delivery in the database).
async fn scheduled(deliverer: &deliver::Deliverer, msg: Received) -> Disposition {
    // The wake-up, in the order's trace (the delivery's own span continues it from the order).
    let span = tracing::info_span!("wake", order_id = msg.event.order_id);
    common::telemetry::set_remote_parent(&span, msg.traceparent.as_deref());
    let _in = span.enter();
    if msg.event.platform == common::domain::Platform::Agiso {
        deliverer.wake();
    }
    Disposition::Ack
}

/// Schedules completed Agiso orders that were never scheduled (completed by an earlier version).
async fn sweep_lost(
    deliverer: Arc<deliver::Deliverer>,
    every: Duration,
    grace: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match common::db::notify::schedule_lost(deliverer.db(), Audience::Agiso, grace, 500).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    orders = n,
                    "scheduled Agiso deliveries of completed orders that were never scheduled"
                );
                deliverer.wake();
            }
            Err(e) => tracing::warn!(error = %e, "sweep for unscheduled Agiso deliveries failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Logs once whether any Agiso shop is enabled; the service stays ready either way.
async fn say_when_idle(app: AppState, _stop: tokio_util::sync::CancellationToken) {
    match app.shops.all().await {
        Ok(shops) if shops.is_empty() => {
            tracing::info!(
                "no enabled Agiso shop: agiso-sync is idle (pushes are refused, nothing is polled or delivered)"
            );
        }
        Ok(shops) => tracing::info!(shops = shops.len(), "Agiso shops enabled"),
        Err(e) => tracing::warn!(error = %e, "cannot read the Agiso shops"),
    }
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    build(config).await?.run_until_stopped().await
}
