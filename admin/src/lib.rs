//! `admin`: the Chinese back office over the shared database, and the provisioning commands
//! devops script (`admin migrate`, `admin shop add`, ...).
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod cli;
pub mod password;

use axum::Router;
use common::config::{CommonConfig, ConfigError, Env, ports};
use common::service::{Infra, Service, ServiceConfig};

pub const SERVICE: &str = "admin";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonConfig::from_env(env, SERVICE, ports::ADMIN)?,
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
