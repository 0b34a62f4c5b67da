//! `agiso-sync`: Agiso push receiver and backstop poller; delivers completed Agiso orders back through Agiso.
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

use axum::Router;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::service::{Infra, Service, ServiceConfig};

pub mod client;
pub mod metrics;
pub mod shops;

pub const SERVICE: &str = "agiso-sync";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonConfig::from_env(env, SERVICE, ports::AGISO_SYNC)?,
        })
    }
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// Connects, migrates, declares the topology and binds the HTTP listener.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let infra = Infra::start(config.common).await?;
    Service::bind(infra, Router::new()).await
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    build(config).await?.run_until_stopped().await
}
