//! How every service starts, runs and stops: config → telemetry → database (migrations) →
//! broker (topology) → outbox relay + heartbeat → HTTP server; graceful shutdown on SIGTERM or
//! Ctrl-C, after which background tasks finish their in-flight work.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{CommonConfig, ConfigError, Env};
use crate::db::{self, Pool};
use crate::http::{Probes, health_router, internal_router, track_metrics};
use crate::mq::outbox::{OutboxRelay, OutboxSignal};
use crate::mq::publisher::Publisher;
use crate::mq::{Mq, Topology};

/// How long a starting service waits for MySQL and RabbitMQ.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// A service's configuration exposes the shared part.
pub trait ServiceConfig: Send + 'static {
    fn common(&self) -> &CommonConfig;
}

impl ServiceConfig for CommonConfig {
    fn common(&self) -> &CommonConfig {
        self
    }
}

/// The shared infrastructure of a running service.
pub struct Infra {
    pub config: CommonConfig,
    pub db: Pool,
    pub mq: Arc<Mq>,
    pub outbox: OutboxSignal,
    pub stop: CancellationToken,
    pub instance_id: String,
    tasks: JoinSet<()>,
}

impl Infra {
    pub async fn start(config: CommonConfig) -> anyhow::Result<Infra> {
        let db = db::connect(
            &config.database_url,
            config.db_max_connections,
            STARTUP_WAIT,
        )
        .await?;
        // A schema newer than this binary (an older image after an upgrade), or older than it
        // when it will not migrate: refuse to start (`db::schema`).
        db::schema::check(&db, config.run_migrations).await?;
        if config.run_migrations {
            db::migrate(&db, Some(&config.master_key), false).await?;
        }
        let mq = Mq::connect(
            config.amqp_url.clone(),
            config.service,
            Topology::new(config.mq_prefix.clone()),
            STARTUP_WAIT,
        )
        .await?;
        let instance_id = uuid::Uuid::new_v4().to_string();
        let mut infra = Infra {
            db,
            mq,
            outbox: OutboxSignal::default(),
            stop: CancellationToken::new(),
            instance_id,
            tasks: JoinSet::new(),
            config,
        };
        let relay = OutboxRelay::new(
            infra.db.clone(),
            Publisher::new(infra.mq.clone()),
            infra.config.outbox_batch,
            infra.config.outbox_poll,
            infra.outbox.clone(),
        )
        .with_lease(infra.config.outbox_lease)
        .with_abort_after_publish(infra.config.outbox_abort_after_publish);
        infra.spawn(|stop| relay.run(stop));
        let (pool, id, service) = (
            infra.db.clone(),
            infra.instance_id.clone(),
            infra.config.service,
        );
        infra.spawn(move |stop| {
            db::heartbeat::run(pool, id, service, Duration::from_secs(10), stop)
        });
        Ok(infra)
    }

    /// Runs a background task that must stop when the service stops.
    pub fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.stop.clone()));
    }

    /// Stops the background tasks and waits (up to 30 s) for their in-flight work (the
    /// heartbeat removes its row), then closes the broker and the database.
    async fn stop(mut self) {
        self.stop.cancel();
        tracing::info!(service = self.config.service, "stopping background tasks");
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(30), drain)
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop within 30 s");
        }
        self.mq.close().await;
        self.db.close().await;
    }

    pub fn probes(&self) -> Probes {
        Probes {
            service: self.config.service,
            db: self.db.clone(),
            mq: self.mq.clone(),
        }
    }
}

/// A bound, ready-to-run service: its routes plus the health endpoints on the public listener,
/// `/metrics` and the detailed probes on the internal one.
pub struct Service {
    listener: TcpListener,
    router: Router,
    metrics_listener: TcpListener,
    infra: Infra,
}

async fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

impl Service {
    /// Binds `config.http_addr` and `config.metrics_addr` (port 0 picks a free port, as tests
    /// do).
    /// A service that cannot listen stops what [`Infra::start`] started (its heartbeat row
    /// included) before returning the error.
    pub async fn bind(infra: Infra, routes: Router) -> anyhow::Result<Service> {
        let listeners = async {
            Ok::<_, anyhow::Error>((
                listen(infra.config.http_addr).await?,
                listen(infra.config.metrics_addr).await?,
            ))
        }
        .await;
        let (listener, metrics_listener) = match listeners {
            Ok(l) => l,
            Err(e) => {
                infra.stop().await;
                return Err(e);
            }
        };
        let router = routes
            .merge(health_router(infra.probes()))
            .layer(axum::middleware::from_fn(track_metrics));
        Ok(Service {
            listener,
            router,
            metrics_listener,
            infra,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// The internal listener's address (`/metrics`).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener.local_addr().expect("bound listener")
    }

    /// A token that stops the service when cancelled (tests use it instead of a signal).
    pub fn stop_token(&self) -> CancellationToken {
        self.infra.stop.clone()
    }

    /// Serves until SIGTERM, Ctrl-C or the stop token (slow clients limited by
    /// [`crate::serve`]); then stops background tasks and waits (up to 30 s) for their in-flight
    /// work.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Service {
            listener,
            router,
            metrics_listener,
            infra,
        } = self;
        let stop = infra.stop.clone();
        tracing::info!(
            service = infra.config.service,
            addr = %listener.local_addr()?,
            metrics = %metrics_listener.local_addr()?,
            "listening"
        );
        let internal = tokio::spawn(crate::serve::serve(
            metrics_listener,
            internal_router(infra.probes()),
            infra.config.http_limits,
            stop.clone(),
        ));
        let signal_stop = stop.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            signal_stop.cancel();
        });
        crate::serve::serve(listener, router, infra.config.http_limits, stop.clone()).await;
        stop.cancel();
        let _ = internal.await;
        let service = infra.config.service;
        infra.stop().await;
        tracing::info!(service, "stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The body of every service's `main`: load and validate the config (one clear line and exit
/// code 2 when it is wrong), start telemetry, run the service, exit 1 on a start failure.
pub fn run_main<C, L, R, Fut>(service: &'static str, load: L, run: R) -> ExitCode
where
    C: ServiceConfig,
    L: FnOnce(&Env) -> Result<C, ConfigError>,
    R: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = match load(&Env::load()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{service}: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{service}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = crate::telemetry::init(config.common());
        match run(config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "{service} stopped with an error");
                eprintln!("{service}: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
