//! `fulfillment`: consumes new orders and fulfils each exactly once — cards from the encrypted
//! inventory, or a direct recharge by an operator (or, with the supplier adapter, upstream) —
//! then emits `order.completed.<platform>` through the outbox.
//!
//! Any number of fulfillment processes may run: every effect happens in a transaction that
//! locks the order and re-checks its status, and cards are taken with `SKIP LOCKED` and a
//! conditional update, so a message delivered twice (or to two processes) changes nothing twice.
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod allocate;
pub mod group;
pub mod handler;
pub mod outcome;
pub mod process;
pub mod stock;
pub mod supplier;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::mq::QueueName;
use common::mq::consumer::{self, ConsumerSpec};
use common::service::{Infra, Service, ServiceConfig};

pub const SERVICE: &str = "fulfillment";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// Channels consuming `fulfillment.orders`.
    pub workers: usize,
    /// Unacked messages (and so orders in flight) per worker.
    pub prefetch: u16,
    /// How often waiting orders are retried against new stock and their deadlines checked.
    pub stock_poll: Duration,
    /// DingTalk / WeCom robot URL for low-stock alerts (optional).
    pub alert_webhook: Option<String>,
    /// `SUPPLIER_DEADLINE_SECS`: how long an order may stay with upstream suppliers before it
    /// goes to `awaiting_manual`.
    pub supplier_deadline: Duration,
    /// `SUPPLIER_POLL_MIN_MS`: first status-poll delay; doubles per poll, capped at 60 s.
    pub supplier_poll_min: Duration,
    /// `FULFILLMENT_PUBLIC_URL`: this service as suppliers reach it; when set, submissions
    /// carry `callbackUrl = <it>/api/supplier/callback` (optional).
    pub public_url: Option<String>,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let alert_webhook = env.optional_url("ALERT_WEBHOOK_URL")?;
        let public_url = env.optional_url("FULFILLMENT_PUBLIC_URL")?;
        Ok(Self {
            common: CommonConfig::from_env(env, SERVICE, ports::FULFILLMENT)?,
            workers: env.parse_or("FULFILLMENT_WORKERS", 4usize, "a number of workers")?,
            prefetch: env.parse_or("FULFILLMENT_PREFETCH", 16u16, "a number of messages")?,
            stock_poll: env.millis_or("FULFILLMENT_STOCK_POLL_MS", 2000)?,
            alert_webhook,
            supplier_deadline: Duration::from_secs(env.parse_or(
                "SUPPLIER_DEADLINE_SECS",
                600u64,
                "a number of seconds",
            )?),
            supplier_poll_min: env.millis_or("SUPPLIER_POLL_MIN_MS", 2000)?,
            public_url,
        })
    }
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// What the fulfilment functions share.
pub struct Fulfiller {
    pub db: common::db::Pool,
    pub outbox: common::mq::outbox::OutboxSignal,
    pub alerts: stock::Alerts,
    /// Products that sold cards since the last low-stock check.
    pub low_stock: stock::LowStockQueue,
    /// The upstream supplier adapter (`direct_supplier` products).
    pub suppliers: supplier::Suppliers,
}

/// Connects, migrates, declares the topology, starts the consumers and the stock watcher.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let mut infra = Infra::start(config.common.clone()).await?;
    let ctx = Arc::new(Fulfiller {
        db: infra.db.clone(),
        outbox: infra.outbox.clone(),
        alerts: stock::Alerts::new(config.alert_webhook.clone()),
        low_stock: stock::LowStockQueue::default(),
        suppliers: supplier::Suppliers::new(
            config.supplier_deadline,
            config.supplier_poll_min,
            config.public_url.as_deref(),
            config.common.master_key.clone(),
            config.common.db_max_connections,
        ),
    });
    let spec = ConsumerSpec {
        queue: QueueName::FulfillmentOrders,
        prefetch: config.prefetch,
        workers: config.workers,
    };
    let grouped = group::GroupFulfiller::start(ctx.clone(), config.workers.clamp(1, 4));
    let (mq, c) = (infra.mq.clone(), ctx.clone());
    infra.spawn(move |stop| {
        consumer::run(mq, spec, stop, move |msg| {
            let c = c.clone();
            let g = grouped.clone();
            async move { handler::handle(&c, &g, msg).await }
        })
    });
    let (c, every) = (ctx.clone(), config.stock_poll);
    infra.spawn(move |stop| stock::run_waiter(c, every, stop));
    let c = ctx.clone();
    infra.spawn(move |stop| stock::run_low_stock(c, std::time::Duration::from_millis(500), stop));
    let c = ctx.clone();
    infra.spawn(move |stop| supplier::poller::run(c, stop));
    Service::bind(infra, Router::new().merge(supplier::callback::router(ctx))).await
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    build(config).await?.run_until_stopped().await
}
