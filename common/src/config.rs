//! Configuration from environment variables (and `.env`), validated at start.
//!
//! A missing or malformed value stops the service with one clear line naming the variable and
//! never echoing a secret. Every variable is documented in `.env.example`.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::at_rest::MasterKey;

/// Why the configuration was refused: the variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {} {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// A snapshot of the environment the service reads its configuration from.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: show only the names.
        let mut names: Vec<_> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl Env {
    /// The process environment, after loading `.env` from the working directory if present.
    /// Variables already set in the environment win over `.env`.
    pub fn load() -> Self {
        let _ = dotenvy::dotenv();
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_owned(), value.into());
    }

    /// The raw value; empty strings count as unset.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn missing(name: &str) -> ConfigError {
        ConfigError {
            var: name.to_owned(),
            problem: "is missing (set it in the environment or in .env)".to_owned(),
        }
    }

    fn malformed(name: &str, expected: &str) -> ConfigError {
        ConfigError {
            var: name.to_owned(),
            problem: format!("is malformed: expected {expected}"),
        }
    }

    pub fn required_str(&self, name: &str) -> Result<String, ConfigError> {
        self.raw(name)
            .map(str::to_owned)
            .ok_or_else(|| Self::missing(name))
    }

    pub fn optional_str(&self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    /// An optional `http(s)://` address ([`crate::domain::http_url`]), as given.
    pub fn optional_url(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.raw(name).map(crate::domain::http_url) {
            None => Ok(None),
            Some(Ok(u)) => Ok(Some(u.to_owned())),
            Some(Err(problem)) => Err(ConfigError {
                var: name.to_owned(),
                problem: problem.to_string(),
            }),
        }
    }

    /// A value parsed with `FromStr`, or the default when unset.
    pub fn parse_or<T: FromStr>(
        &self,
        name: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| Self::malformed(name, expected)),
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(_) => Err(Self::malformed(name, "true or false")),
        }
    }

    /// Milliseconds as a duration.
    pub fn millis_or(&self, name: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse_or(name, default_ms, "a whole number of milliseconds")
            .map(Duration::from_millis)
    }

    /// A secret: never printed by Debug or Display.
    pub fn required_secret(&self, name: &str) -> Result<SecretString, ConfigError> {
        self.required_str(name).map(SecretString::from)
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "human" | "pretty" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(()),
        }
    }
}

/// What every service reads: the shared database, the broker, the master key, the HTTP address.
#[derive(Clone)]
pub struct CommonConfig {
    pub service: &'static str,
    pub database_url: SecretString,
    pub amqp_url: SecretString,
    pub master_key: MasterKey,
    pub mq_prefix: String,
    pub http_addr: SocketAddr,
    /// The internal listener of `/metrics` and the detailed probes (`METRICS_ADDR`, default
    /// loopback on the service's port + 1000): never the public port.
    pub metrics_addr: SocketAddr,
    /// `TRUSTED_PROXIES`: the reverse proxies (IPs / CIDRs) whose `X-Forwarded-For` is believed
    /// and whose hops are skipped when a service trusts that header; empty = only a peer on a
    /// loopback or private address is a proxy ([`crate::client_ip`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Slow-client limits of every listener (`HTTP_HEADER_TIMEOUT_MS`, `HTTP_BODY_TIMEOUT_MS`).
    pub http_limits: crate::serve::Limits,
    pub log_format: LogFormat,
    pub otel_endpoint: Option<String>,
    pub db_max_connections: u32,
    pub outbox_batch: u32,
    pub outbox_poll: Duration,
    /// How long a relay's claim on a batch lasts before another relay may publish it again.
    pub outbox_lease: Duration,
    /// Apply migrations at start (the compose file runs them once in a one-shot step instead).
    pub run_migrations: bool,
    /// Test failpoint (`OUTBOX_FAILPOINT=abort-after-publish`): the relay aborts the process
    /// after the broker confirmed a batch and before the rows are deleted.
    pub outbox_abort_after_publish: bool,
    /// How long old rows are kept (`RETENTION_LOG_DAYS`, `RETENTION_ORDER_DAYS`); the admin
    /// service prunes by it ([`crate::db::retention`]).
    pub retention: Retention,
}

/// Retention of old rows. Read by every service (a wrong value stops any of them at start) and
/// applied by the admin service's pruning task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `RETENTION_LOG_DAYS` (default 90; 0 = keep forever): log rows not tied to an order (stock
    /// alerts, handled dead letters). Callback attempts follow it too, but never before
    /// [`Retention::ORDER_FLOOR_DAYS`] and only once their order is finished and that old.
    pub log_days: u32,
    /// `RETENTION_ORDER_DAYS` (default 0 = keep orders forever; otherwise at least
    /// [`Retention::ORDER_FLOOR_DAYS`]): finished orders with their events, callback attempts
    /// and supplier orders.
    pub order_days: u32,
}

impl Retention {
    /// JD may still query an order (and expects its cards and callbacks) for 180 days: nothing
    /// tied to an order younger than this is ever deleted.
    pub const ORDER_FLOOR_DAYS: u32 = 180;

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let log_days = env.parse_or("RETENTION_LOG_DAYS", 90u32, "a whole number of days")?;
        let order_days = env.parse_or("RETENTION_ORDER_DAYS", 0u32, "a whole number of days")?;
        if order_days != 0 && order_days < Self::ORDER_FLOOR_DAYS {
            return Err(ConfigError {
                var: "RETENTION_ORDER_DAYS".to_owned(),
                problem: format!(
                    "is too small: at least {} days (JD may query an order for that long), or 0 \
                     to keep orders forever",
                    Self::ORDER_FLOOR_DAYS
                ),
            });
        }
        Ok(Self {
            log_days,
            order_days,
        })
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            log_days: 90,
            order_days: 0,
        }
    }
}

impl fmt::Debug for CommonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonConfig")
            .field("service", &self.service)
            .field("database_url", &"[redacted]")
            .field("amqp_url", &"[redacted]")
            .field("master_key", &"[redacted]")
            .field("mq_prefix", &self.mq_prefix)
            .field("http_addr", &self.http_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("log_format", &self.log_format)
            .field("otel_endpoint", &self.otel_endpoint)
            .field("db_max_connections", &self.db_max_connections)
            .finish()
    }
}

/// Default HTTP ports of the five services.
pub mod ports {
    pub const GATEWAY: u16 = 8080;
    pub const FULFILLMENT: u16 = 8081;
    pub const NOTIFIER: u16 = 8082;
    pub const AGISO_SYNC: u16 = 8070;
    pub const ADMIN: u16 = 8090;

    /// The default port of a service's internal metrics listener: its HTTP port + 1000 (9080,
    /// 9081, 9082, 9070, 9090); 0 stays 0.
    pub fn metrics(http_port: u16) -> u16 {
        if http_port == 0 {
            0
        } else {
            http_port.saturating_add(1000)
        }
    }
}

impl CommonConfig {
    pub fn from_env(
        env: &Env,
        service: &'static str,
        default_port: u16,
    ) -> Result<Self, ConfigError> {
        let database_url = database_url(env)?;
        let amqp_url = env.required_secret("AMQP_URL")?;
        validate_amqp_url(amqp_url.expose_secret())?;
        let master_key = master_key(env)?;
        let mq_prefix = env.optional_str("MQ_PREFIX").unwrap_or_default();
        if !mq_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(Env::malformed(
                "MQ_PREFIX",
                "letters, digits, '.', '-' or '_'",
            ));
        }
        let http_addr = match env.raw("HTTP_ADDR") {
            None => SocketAddr::from(([0, 0, 0, 0], default_port)),
            Some(v) => parse_listen_addr(v).ok_or_else(|| {
                Env::malformed(
                    "HTTP_ADDR",
                    "host:port such as 0.0.0.0:8080, or a port number",
                )
            })?,
        };
        let metrics_addr = match env.raw("METRICS_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], ports::metrics(default_port))),
            Some(v) => parse_listen_addr(v).ok_or_else(|| {
                Env::malformed(
                    "METRICS_ADDR",
                    "host:port such as 127.0.0.1:9080, or a port number",
                )
            })?,
        };
        let otel_endpoint = env.optional_url("OTEL_EXPORTER_OTLP_ENDPOINT")?;
        Ok(Self {
            service,
            database_url,
            amqp_url,
            master_key,
            mq_prefix,
            http_addr,
            metrics_addr,
            trusted_proxies: crate::client_ip::parse_networks(
                env.raw("TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|_| {
                Env::malformed(
                    "TRUSTED_PROXIES",
                    "IP addresses or CIDR networks separated by commas",
                )
            })?,
            http_limits: crate::serve::Limits {
                header_timeout: positive_millis(env, "HTTP_HEADER_TIMEOUT_MS", 10_000)?,
                body_timeout: positive_millis(env, "HTTP_BODY_TIMEOUT_MS", 60_000)?,
                ..Default::default()
            },
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Text, "text or json")?,
            otel_endpoint,
            db_max_connections: env.parse_or(
                "DB_MAX_CONNECTIONS",
                10u32,
                "a number of connections",
            )?,
            outbox_batch: env.parse_or("OUTBOX_BATCH", 200u32, "a number of messages")?,
            outbox_poll: env.millis_or("OUTBOX_POLL_MS", 500)?,
            outbox_lease: env.millis_or("OUTBOX_LEASE_MS", 30_000)?,
            run_migrations: env.bool_or("RUN_MIGRATIONS", true)?,
            outbox_abort_after_publish: match env.raw("OUTBOX_FAILPOINT") {
                None => false,
                Some("abort-after-publish") => true,
                Some(_) => {
                    return Err(Env::malformed(
                        "OUTBOX_FAILPOINT",
                        "abort-after-publish or unset",
                    ));
                }
            },
            retention: Retention::from_env(env)?,
        })
    }
}

/// Milliseconds that must not be 0.
fn positive_millis(env: &Env, name: &str, default_ms: u64) -> Result<Duration, ConfigError> {
    let d = env.millis_or(name, default_ms)?;
    if d.is_zero() {
        return Err(Env::malformed(name, "a positive number of milliseconds"));
    }
    Ok(d)
}

/// `DATABASE_URL`, validated.
pub fn database_url(env: &Env) -> Result<SecretString, ConfigError> {
    let url = env.required_secret("DATABASE_URL")?;
    validate_database_url(url.expose_secret())?;
    Ok(url)
}

/// The key the example `.env` of earlier versions shipped (base64 of these bytes): public, so
/// never accepted.
const PUBLIC_EXAMPLE_KEY: &[u8; 32] = b"DEV-ONLY-not-secret-CHANGE-ME-32";

/// `MASTER_KEY`, validated: 32 bytes in base64, neither the public example key nor all zeros.
pub fn master_key(env: &Env) -> Result<MasterKey, ConfigError> {
    let text = env.required_str("MASTER_KEY")?;
    let malformed = || {
        Env::malformed(
            "MASTER_KEY",
            "32 random bytes in standard base64 (openssl rand -base64 32)",
        )
    };
    let key = MasterKey::from_base64(&text).map_err(|_| malformed())?;
    let bytes = STANDARD.decode(text.trim()).map_err(|_| malformed())?;
    if bytes.as_slice() == PUBLIC_EXAMPLE_KEY || bytes.iter().all(|b| *b == 0) {
        return Err(ConfigError {
            var: "MASTER_KEY".to_owned(),
            problem: "is a well-known example value, not a secret: generate a new key \
                      (openssl rand -base64 32)"
                .to_owned(),
        });
    }
    Ok(key)
}

fn parse_listen_addr(v: &str) -> Option<SocketAddr> {
    if let Ok(port) = v.parse::<u16>() {
        return Some(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    v.parse().ok()
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    let expected = "mysql://user:password@host:3306/database";
    if !(url.starts_with("mysql://") || url.starts_with("mariadb://")) {
        return Err(Env::malformed("DATABASE_URL", expected));
    }
    sqlx::mysql::MySqlConnectOptions::from_str(url)
        .map(|_| ())
        .map_err(|_| Env::malformed("DATABASE_URL", expected))
}

fn validate_amqp_url(url: &str) -> Result<(), ConfigError> {
    let expected = "amqp://user:password@host:5672/%2f";
    if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
        return Err(Env::malformed("AMQP_URL", expected));
    }
    url.parse::<lapin::uri::AMQPUri>()
        .map(|_| ())
        .map_err(|_| Env::malformed("AMQP_URL", expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut e = Env::from_pairs([
            ("DATABASE_URL", "mysql://root:s3cret@127.0.0.1:3306/vg"),
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ("MASTER_KEY", KEY),
        ]);
        for (k, v) in extra {
            e.set(k, *v);
        }
        e
    }

    #[test]
    fn defaults() {
        let c = CommonConfig::from_env(&env(&[]), "gateway", ports::GATEWAY).unwrap();
        assert_eq!(c.http_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.metrics_addr, "127.0.0.1:9080".parse().unwrap());
        let c = CommonConfig::from_env(&env(&[]), "admin", ports::ADMIN).unwrap();
        assert_eq!(c.metrics_addr, "127.0.0.1:9090".parse().unwrap());
        let c = CommonConfig::from_env(&env(&[("METRICS_ADDR", "0.0.0.0:9999")]), "x", 1).unwrap();
        assert_eq!(c.metrics_addr, "0.0.0.0:9999".parse().unwrap());
        assert_eq!(c.mq_prefix, "");
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.run_migrations);
    }

    #[test]
    fn missing_database_url_names_the_variable() {
        let mut e = env(&[]);
        e.set("DATABASE_URL", "");
        let err = CommonConfig::from_env(&e, "gateway", 1).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        assert!(err.to_string().contains("DATABASE_URL is missing"));
    }

    #[test]
    fn malformed_values_are_refused_without_echoing_them() {
        for (var, value) in [
            ("DATABASE_URL", "postgres://u:topsecret@h/db"),
            ("AMQP_URL", "http://topsecret"),
            ("MASTER_KEY", "topsecret"),
            ("HTTP_ADDR", "nowhere"),
            ("METRICS_ADDR", "nowhere"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, nowhere"),
            ("LOG_FORMAT", "xml"),
            ("MQ_PREFIX", "a b"),
        ] {
            let err = CommonConfig::from_env(&env(&[(var, value)]), "gateway", 1).unwrap_err();
            assert_eq!(err.var, var);
            assert!(!err.to_string().contains("topsecret"), "{err}");
            assert!(err.to_string().contains("malformed"), "{err}");
        }
    }

    #[test]
    fn the_public_example_key_and_an_all_zero_key_are_refused() {
        for key in [
            "REVWLU9OTFktbm90LXNlY3JldC1DSEFOR0UtTUUtMzI=",
            " REVWLU9OTFktbm90LXNlY3JldC1DSEFOR0UtTUUtMzI=\n",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let err =
                CommonConfig::from_env(&env(&[("MASTER_KEY", key)]), "gateway", 1).unwrap_err();
            assert_eq!(err.var, "MASTER_KEY");
            let line = err.to_string();
            assert!(
                line.contains("MASTER_KEY is a well-known example value"),
                "{line}"
            );
            assert!(line.contains("openssl rand -base64 32"), "{line}");
            assert!(!line.contains(key.trim()), "{line}");
            assert!(master_key(&env(&[("MASTER_KEY", key)])).is_err());
        }
        // Any other 32 bytes are a key.
        assert!(master_key(&env(&[])).is_ok());
        let one = base64::engine::general_purpose::STANDARD
            .encode([0u8; 31].iter().chain(&[1u8]).copied().collect::<Vec<_>>());
        assert!(master_key(&env(&[("MASTER_KEY", one.as_str())])).is_ok());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let c = CommonConfig::from_env(&env(&[]), "gateway", 1).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains(KEY), "{dbg}");
        let e = format!("{:?}", env(&[]));
        assert!(!e.contains("s3cret"));
    }

    #[test]
    fn retention_defaults_and_floor() {
        let c = CommonConfig::from_env(&env(&[]), "admin", 1).unwrap();
        assert_eq!(c.retention, Retention::default());
        assert_eq!((c.retention.log_days, c.retention.order_days), (90, 0));
        let c = CommonConfig::from_env(
            &env(&[
                ("RETENTION_LOG_DAYS", "30"),
                ("RETENTION_ORDER_DAYS", "180"),
            ]),
            "admin",
            1,
        )
        .unwrap();
        assert_eq!((c.retention.log_days, c.retention.order_days), (30, 180));
        for days in ["1", "90", "179"] {
            let err = CommonConfig::from_env(&env(&[("RETENTION_ORDER_DAYS", days)]), "admin", 1)
                .unwrap_err();
            assert_eq!(err.var, "RETENTION_ORDER_DAYS");
            assert!(err.to_string().contains("at least 180 days"), "{err}");
        }
        for (var, value) in [("RETENTION_ORDER_DAYS", "-1"), ("RETENTION_LOG_DAYS", "x")] {
            let err = CommonConfig::from_env(&env(&[(var, value)]), "admin", 1).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().contains("malformed"), "{err}");
        }
    }

    #[test]
    fn http_addr_accepts_a_bare_port() {
        let c = CommonConfig::from_env(&env(&[("HTTP_ADDR", "9000")]), "x", 1).unwrap();
        assert_eq!(c.http_addr.port(), 9000);
    }
}
