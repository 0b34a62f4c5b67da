//! `gateway`: JD intake. The seven JD endpoints verify, persist, enqueue and answer; the gateway
//! never fulfils.
//!
//! Handlers are thin, the same four steps on both platforms: authenticate ([`auth`]: the shop by
//! `vendorId` / `customerId`, allow-list, signature, timestamp) → parse (the protocol codec,
//! `common::protocol`) → one service function of [`intake`] returning a typed outcome → encode
//! (the codec). Every failure is answered with the protocol's own error (HTTP 200), a structured
//! log line and a metric. No SQL in a handler: the shared repositories (`common::db`) and
//! [`queries`].
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod auth;
pub mod directory;
pub mod intake;
pub mod jd_game;
pub mod jd_general;
pub mod queries;
pub mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::service::{Infra, Service, ServiceConfig};

pub const SERVICE: &str = "gateway";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// How long decrypted shop keys and product mappings are cached: an edit in the admin takes
    /// effect within this time without a restart.
    pub cache_ttl: Duration,
    /// Reject requests whose `timestamp` is further than this from our clock (off when zero,
    /// as the JD specs advise).
    pub timestamp_window: Duration,
    /// Take the client address for IP allow-lists from `X-Forwarded-For` (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Concurrent group writers of new orders.
    pub order_writers: usize,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonConfig::from_env(env, SERVICE, ports::GATEWAY)?,
            cache_ttl: env.millis_or("GATEWAY_CACHE_TTL_MS", 3000)?,
            timestamp_window: Duration::from_secs(env.parse_or(
                "GATEWAY_TIMESTAMP_WINDOW_SECS",
                0u64,
                "a number of seconds (0 = off)",
            )?),
            trust_forwarded_for: env.bool_or("GATEWAY_TRUST_FORWARDED_FOR", false)?,
            order_writers: env.parse_or("GATEWAY_ORDER_WRITERS", 2usize, "a number of writers")?,
        })
    }
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// Everything a handler needs.
pub struct Gateway {
    pub infra_db: common::db::Pool,
    pub master_key: common::crypto::MasterKey,
    pub directory: directory::Directory,
    pub outbox: common::mq::outbox::OutboxSignal,
    /// Group-commits new orders (see [`common::db::orders::OrderWriter`]).
    pub orders: common::db::orders::OrderWriter,
    pub timestamp_window: Duration,
    /// How the client address for IP allow-lists is found.
    pub client_ip: common::client_ip::ClientIp,
}

pub type AppState = Arc<Gateway>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/jd/general/beginDistill",
            post(jd_general::begin_distill),
        )
        .route(
            "/api/jd/general/findDistill",
            post(jd_general::find_distill),
        )
        .route("/api/jd/game/preCheck", post(jd_game::pre_check))
        .route("/api/jd/game/directCharge", post(jd_game::direct_charge))
        .route("/api/jd/game/directQuery", post(jd_game::direct_query))
        .route("/api/jd/game/cardOrder", post(jd_game::card_order))
        .route("/api/jd/game/cardQuery", post(jd_game::card_query))
        .with_state(state)
}

/// Connects, migrates, declares the topology and binds the HTTP listener.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let infra = Infra::start(config.common.clone()).await?;
    // Announced on /metrics before the first request.
    std::sync::LazyLock::force(&request::REQUESTS);
    let state = Arc::new(Gateway {
        infra_db: infra.db.clone(),
        master_key: config.common.master_key.clone(),
        directory: directory::Directory::new(
            infra.db.clone(),
            config.common.master_key.clone(),
            config.cache_ttl,
        ),
        outbox: infra.outbox.clone(),
        orders: common::db::orders::OrderWriter::start(
            infra.db.clone(),
            "gateway",
            config.order_writers,
        ),
        timestamp_window: config.timestamp_window,
        client_ip: common::client_ip::ClientIp {
            trust_forwarded_for: config.trust_forwarded_for,
            trusted_proxies: config.common.trusted_proxies.clone(),
        },
    });
    Service::bind(infra, router(state)).await
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    build(config).await?.run_until_stopped().await
}
