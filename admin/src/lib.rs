//! `admin`: the Chinese back office over the shared database, and the provisioning commands
//! devops script (`admin migrate`, `admin shop add`, ...).
//!
//! The web site lives in [`web`]: server-rendered askama pages under `/admin/`, sessions in the
//! database, CSRF tokens on every form, roles checked by extractors, an audit row for every
//! write. Order actions go through the same outbox path as the services.
//!
//! `main.rs` is a shim; tests start the real service in-process through [`build`].

pub mod cli;
pub mod dead_letters;
pub mod gauges;
pub mod password;
pub mod shop_form;
pub mod web;

use std::time::Duration;

use common::config::{CommonConfig, ConfigError, Env, ports};
use common::mq::QueueName;
use common::mq::consumer::{self, ConsumerSpec};
use common::service::{Infra, Service, ServiceConfig};

pub const SERVICE: &str = "admin";

/// How often old rows are pruned (also once at start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Whether the session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over https (`X-Forwarded-Proto: https` from the proxy).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `ADMIN_SESSION_HOURS`: a session ends this long after its last use.
    pub session_ttl: Duration,
    /// `ADMIN_SESSION_MAX_HOURS`: a session ends this long after the login, however active.
    pub session_max: Duration,
    /// `ADMIN_COOKIE_SECURE`: auto | true | false.
    pub cookie_secure: CookieSecure,
    /// `ADMIN_LOGIN_MAX_FAILURES`: wrong passwords in a row before the account is locked.
    pub login_max_failures: i32,
    /// `ADMIN_LOCKOUT_MINUTES`.
    pub lockout: Duration,
    /// `ADMIN_LOGIN_RATE_PER_MINUTE`: login attempts per client IP per minute.
    pub login_rate_per_minute: u32,
    /// `ADMIN_TRUST_FORWARDED_FOR` (take the client IP from `X-Forwarded-For`, behind a proxy)
    /// with the shared `TRUSTED_PROXIES`.
    pub client_ip: common::client_ip::ClientIp,
    /// `ADMIN_BOOTSTRAP_USER` / `ADMIN_BOOTSTRAP_PASSWORD`: the first admin, created at start when
    /// there is no user at all.
    pub bootstrap: Option<(String, secrecy::SecretString)>,
    /// `PUBLIC_BASE_URL`: where JD and Agiso reach the gateway / agiso-sync (URL generator);
    /// operators may override it on the page (stored in `settings`).
    pub public_base_url: Option<String>,
    /// `ADMIN_MAX_UPLOAD_MB`: the largest card file or paste accepted.
    pub max_upload_bytes: usize,
    /// `AGISO_SYNC_URL`: where the back office reaches agiso-sync's operator endpoints; without
    /// it the 阿奇索 buttons are shown disabled.
    pub agiso_sync_url: Option<String>,
    /// `AGISO_OPERATOR_TOKEN`: the bearer token of those endpoints.
    pub agiso_operator_token: Option<secrecy::SecretString>,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let cookie_secure = match env.raw("ADMIN_COOKIE_SECURE").map(str::to_ascii_lowercase) {
            None => CookieSecure::Auto,
            Some(v) if v == "auto" => CookieSecure::Auto,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => CookieSecure::Always,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => CookieSecure::Never,
            Some(_) => {
                return Err(ConfigError {
                    var: "ADMIN_COOKIE_SECURE".into(),
                    problem: "is malformed: expected auto, true or false".into(),
                });
            }
        };
        let bootstrap = match env.optional_str("ADMIN_BOOTSTRAP_PASSWORD") {
            None => None,
            Some(p) if p.chars().count() < password::MIN_PASSWORD_CHARS => {
                return Err(ConfigError {
                    var: "ADMIN_BOOTSTRAP_PASSWORD".into(),
                    problem: format!(
                        "is too short: at least {} characters",
                        password::MIN_PASSWORD_CHARS
                    ),
                });
            }
            Some(p) => Some((
                env.optional_str("ADMIN_BOOTSTRAP_USER")
                    .unwrap_or_else(|| "admin".into()),
                secrecy::SecretString::from(p),
            )),
        };
        let public_base_url = env
            .optional_url("PUBLIC_BASE_URL")?
            .map(|u| u.trim_end_matches('/').to_owned());
        let agiso_sync_url = env
            .optional_url("AGISO_SYNC_URL")?
            .map(|u| u.trim_end_matches('/').to_owned());
        let agiso_operator_token = env
            .optional_str("AGISO_OPERATOR_TOKEN")
            .map(secrecy::SecretString::from);
        let hours: u64 = env.parse_or("ADMIN_SESSION_HOURS", 12, "a number of hours")?;
        let lockout_min: u64 = env.parse_or("ADMIN_LOCKOUT_MINUTES", 15, "a number of minutes")?;
        let upload_mb: usize = env.parse_or("ADMIN_MAX_UPLOAD_MB", 32, "a number of MB")?;
        let common = CommonConfig::from_env(env, SERVICE, ports::ADMIN)?;
        Ok(Self {
            session_ttl: Duration::from_secs(hours.max(1) * 3600),
            session_max: Duration::from_secs(
                env.parse_or("ADMIN_SESSION_MAX_HOURS", 24u64, "a number of hours")?
                    .max(1)
                    * 3600,
            ),
            cookie_secure,
            login_max_failures: env
                .parse_or("ADMIN_LOGIN_MAX_FAILURES", 5i32, "a number")?
                .max(1),
            lockout: Duration::from_secs(lockout_min.max(1) * 60),
            login_rate_per_minute: env
                .parse_or("ADMIN_LOGIN_RATE_PER_MINUTE", 10u32, "a number")?
                .max(1),
            client_ip: common::client_ip::ClientIp {
                trust_forwarded_for: env.bool_or("ADMIN_TRUST_FORWARDED_FOR", false)?,
                trusted_proxies: common.trusted_proxies.clone(),
            },
            common,
            bootstrap,
            public_base_url,
            max_upload_bytes: upload_mb.max(1) * 1024 * 1024,
            agiso_sync_url,
            agiso_operator_token,
        })
    }
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// Connects, migrates, declares the topology, creates the bootstrap admin if asked, starts the
/// dead-letter collector and the operational gauges (`gauges`) and binds the HTTP listener.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let mut infra = Infra::start(config.common.clone()).await?;
    if let Some((user, pass)) = &config.bootstrap {
        web::auth::bootstrap_admin(&infra.db, user, pass).await?;
    }
    web::auth::log_if_no_user(&infra.db).await;
    let spec = ConsumerSpec {
        queue: QueueName::DeadLetters,
        prefetch: 32,
        workers: 1,
    };
    let (mq, pool) = (infra.mq.clone(), infra.db.clone());
    infra.spawn(move |stop| {
        consumer::run_raw(mq, spec, stop, move |msg| {
            let pool = pool.clone();
            async move { dead_letters::collect(&pool, msg).await }
        })
    });
    // Pruning by the retention settings runs here, in the operator's process, not on the
    // services' hot paths; replicas take turns on a named lock (common::db::retention).
    let (pool, retention) = (infra.db.clone(), config.common.retention);
    infra.spawn(move |stop| common::db::retention::run(pool, retention, RETENTION_EVERY, stop));
    let (pool, mq) = (infra.db.clone(), infra.mq.clone());
    infra.spawn(move |stop| gauges::run(pool, mq, stop));
    let state = web::AppState::new(&infra, config);
    // The costly aggregates are computed at start, not in an operator's first page view.
    web::dashboard::warm(&infra.db);
    web::cards::warm_stock(&infra.db);
    Service::bind(infra, web::router(state)).await
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
        assert_eq!(c.session_ttl, Duration::from_secs(12 * 3600));
        assert_eq!(c.session_max, Duration::from_secs(24 * 3600));
        assert_eq!(c.cookie_secure, CookieSecure::Auto);
        assert_eq!(c.login_max_failures, 5);
        assert!(c.bootstrap.is_none());
        assert!(c.agiso_sync_url.is_none() && c.agiso_operator_token.is_none());
        let c = Config::from_env(&env(&[
            ("ADMIN_BOOTSTRAP_PASSWORD", "long enough pw"),
            ("PUBLIC_BASE_URL", "https://vg.example.com/"),
            ("ADMIN_COOKIE_SECURE", "true"),
            ("AGISO_SYNC_URL", "http://agiso-sync:8083/"),
            ("AGISO_OPERATOR_TOKEN", "t0ken"),
        ]))
        .expect("set");
        assert_eq!(c.bootstrap.as_ref().map(|b| b.0.as_str()), Some("admin"));
        assert_eq!(c.public_base_url.as_deref(), Some("https://vg.example.com"));
        assert_eq!(c.cookie_secure, CookieSecure::Always);
        assert_eq!(c.agiso_sync_url.as_deref(), Some("http://agiso-sync:8083"));
        assert!(c.agiso_operator_token.is_some());
        for (var, value) in [
            ("AGISO_SYNC_URL", "agiso-sync:8083"),
            ("ADMIN_BOOTSTRAP_PASSWORD", "short"),
            ("PUBLIC_BASE_URL", "vg.example.com"),
            ("ADMIN_COOKIE_SECURE", "sometimes"),
            ("ADMIN_SESSION_HOURS", "x"),
        ] {
            let e = Config::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(e.var, var);
        }
    }
}
