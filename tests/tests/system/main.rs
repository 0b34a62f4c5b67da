//! System tests: the real binaries and libraries against real MariaDB and RabbitMQ.

mod agiso;
mod cli;
mod deploy;
mod foundation;
mod fulfillment;
mod gauges;
mod harness;
mod jd_sim;
mod metrics;
mod notifier;
mod scenarios;
mod supplier;
mod trace;
