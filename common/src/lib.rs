//! Shared building blocks of every service: configuration, telemetry, database access, messaging
//! (topology, publisher, consumer, outbox relay), domain types, pure protocol codecs and crypto.

pub mod batch;
pub mod cache;
pub mod client_ip;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod http;
pub mod http_client;
pub mod metrics;
pub mod mq;
pub mod protocol;
pub mod retry;
pub mod serve;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod version;

pub use version::version;
