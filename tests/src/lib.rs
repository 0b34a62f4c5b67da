//! System-test harness: runs the real service binaries as processes against real MariaDB and
//! RabbitMQ, each test on its own database and queue prefix.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use common::testing::free_port;
pub use common::testing::queues::{drain_queue, wait_queue_empty};
use common::testing::{Sandbox, service_vars};

pub mod back_office;
pub mod drill;
pub mod fake_agiso;
pub mod fake_jd;
pub mod fake_supplier;
pub mod infra;
pub mod jd_client;

/// The five service binaries.
pub const SERVICES: [&str; 5] = ["gateway", "fulfillment", "notifier", "agiso-sync", "admin"];

/// The directory the service binaries are taken from, chosen once for every system test,
/// benchmark and drill: `VG_BIN_DIR` when set, else the running executable's profile directory
/// (`target/debug` for a test in `target/debug/deps`, `target/release` for `bench-e2e` or
/// `drills` in `target/release`).
pub fn bin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("VG_BIN_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let exe = std::env::current_exe().expect("executable path");
        let dir = exe.parent().expect("executable directory");
        // target/debug/deps/system-xxxx -> target/debug; target/release/drills -> target/release
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir.parent().expect("profile directory").to_path_buf()
        } else {
            dir.to_path_buf()
        }
    })
    .clone()
}

/// `<bin_dir>/<name>`: `cargo build --workspace --bins` (scripts/test.sh does) for the tests,
/// `cargo build --release … --bins` for benchmarks and drills.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the service binaries of this profile first (`cargo build \
         --workspace --bins`, or with --release for benchmarks and drills), or set VG_BIN_DIR",
        path.display()
    );
    path
}

/// Starts `replicas` processes of the service `name` (from [`bin_dir`]) with `env`, each on
/// ports of its own, and waits until every one is ready. The one way system tests, benchmarks
/// and drills start services.
pub async fn start_replicas(name: &str, replicas: usize, env: &[(String, String)]) -> Vec<Proc> {
    let mut procs = Vec::with_capacity(replicas);
    for _ in 0..replicas {
        let mut p = Proc::spawn(name, env);
        p.wait_ready(Duration::from_secs(60)).await;
        procs.push(p);
    }
    procs
}

/// A test environment for service processes: the shared [`Sandbox`] (a migrated database and a
/// queue prefix of its own).
pub struct Stage(Sandbox);

impl std::ops::Deref for Stage {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

impl Stage {
    pub async fn new() -> Stage {
        Stage(Sandbox::new().await)
    }

    /// Environment variables for a service process of this stage (its listen addresses are
    /// set by [`Proc`]).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut vars = service_vars(&self.db.url, &self.prefix);
        vars.push(("RUST_LOG".into(), "warn".into()));
        vars
    }

    pub async fn cleanup(self) {
        self.0.cleanup().await;
    }
}

/// A service process, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    /// The internal listener (`METRICS_ADDR`).
    pub metrics_port: u16,
    /// How to start it again on other ports (only for [`Proc::spawn`], whose ports nobody else
    /// knows yet): a port picked free can be taken by another socket before the service binds it.
    respawn: Option<(PathBuf, Vec<(String, String)>)>,
    /// How it was started, for [`Proc::restart`] on the same ports.
    path: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Where its stderr goes (`None`: the test's own).
    log: Option<PathBuf>,
}

/// Starts `path` with `args` and exactly `env` plus its listen addresses; stderr to `log` (append)
/// or inherited. The child and its metrics port.
fn launch(
    path: &std::path::Path,
    args: &[String],
    env: &[(String, String)],
    port: u16,
    metrics_port: u16,
    log: Option<&std::path::Path>,
) -> (Child, u16) {
    let stderr = match log {
        Some(file) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .unwrap_or_else(|e| panic!("open {}: {e}", file.display())),
        ),
        None => Stdio::inherit(),
    };
    let child = Command::new(path)
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", path.display()));
    (child, metrics_port)
}

impl Proc {
    pub fn spawn(name: &str, env: &[(String, String)]) -> Proc {
        let path = binary(name);
        let mut p = Proc::spawn_path(&path, env, free_port());
        p.respawn = Some((path, env.to_vec()));
        p
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The service's `/metrics`, on its internal listener.
    pub fn metrics_url(&self) -> String {
        self.internal_url("/metrics")
    }

    /// A path on the internal listener (`/metrics`, the detailed probes).
    pub fn internal_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.metrics_port, path)
    }

    /// Waits until `/readyz` answers 200 (or panics after `timeout`).
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut restarts = 0;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Exit code 1 is a start failure, such as a port taken between picking and
                // binding it: start again on fresh ports (a few times) when nobody knows these.
                if status.code() == Some(1)
                    && restarts < 3
                    && let Some((path, env)) = self.respawn.clone()
                {
                    restarts += 1;
                    eprintln!("service exited early with {status}; starting it on other ports");
                    let (port, log) = (free_port(), self.log.clone());
                    let child = launch(&path, &[], &env, port, free_port(), log.as_deref());
                    *self = Proc::started(child, &path, &[], &env, port, log);
                    self.respawn = Some((path, env));
                    continue;
                }
                panic!("service exited early with {status}");
            }
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status().as_u16() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "service not ready within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits (without blocking the test's runtime, which may be serving the
    /// fake JD or supplier that the stopping service still talks to) for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        // `kill` returns at once; only the wait for the exit must not block.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.wait_exit(Duration::from_secs(60)).await
    }

    /// Waits for the process to exit on its own (polling, so the runtime keeps running).
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for service") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "service did not exit within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Proc {
    /// Starts a binary at `path` listening on `port`.
    pub fn spawn_path(path: &std::path::Path, env: &[(String, String)], port: u16) -> Proc {
        Proc::spawn_with_args(path, &[], env, port)
    }

    /// Starts a binary at `path` with `args` and exactly `env` (plus its listen addresses),
    /// listening on `port`; it is not started again if it fails.
    pub fn spawn_with_args(
        path: &std::path::Path,
        args: &[String],
        env: &[(String, String)],
        port: u16,
    ) -> Proc {
        let child = launch(path, args, env, port, free_port(), None);
        Proc::started(child, path, args, env, port, None)
    }

    fn started(
        child: (Child, u16),
        path: &std::path::Path,
        args: &[String],
        env: &[(String, String)],
        port: u16,
        log: Option<PathBuf>,
    ) -> Proc {
        Proc {
            child: child.0,
            port,
            metrics_port: child.1,
            respawn: None,
            path: path.to_path_buf(),
            args: args.to_vec(),
            env: env.to_vec(),
            log,
        }
    }

    /// [`Proc::spawn`] with the service's stderr (its log) appended to `log` instead of the
    /// test's, also after [`Proc::restart`].
    pub fn spawn_logged(name: &str, env: &[(String, String)], log: &std::path::Path) -> Proc {
        let path = binary(name);
        let port = free_port();
        let child = launch(&path, &[], env, port, free_port(), Some(log));
        let mut p = Proc::started(child, &path, &[], env, port, Some(log.to_path_buf()));
        p.respawn = Some((path, env.to_vec()));
        p
    }

    /// Starts the process again as it was started, on the same ports (after [`Proc::kill`] or
    /// [`Proc::sigkill`]): clients that know its address find it again.
    pub fn restart(&mut self) {
        self.kill();
        let (child, _) = launch(
            &self.path,
            &self.args,
            &self.env,
            self.port,
            self.metrics_port,
            self.log.as_deref(),
        );
        self.child = child;
        // Its ports are known to others now: never moved.
        self.respawn = None;
    }

    /// SIGKILL, no shutdown: the crash a drill simulates (same as [`Proc::kill`]).
    pub fn sigkill(&mut self) {
        self.kill();
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Serves `app` on `listener` from a thread and runtime of its own, as a real outside party
/// would: a test that blocks its own runtime (a synchronous command, a slow assertion) never
/// freezes the fake JD or supplier that the services under test are talking to.
pub fn serve_apart(listener: std::net::TcpListener, app: axum::Router) {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    std::thread::Builder::new()
        .name("fake-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fake server runtime");
            rt.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("fake server listener");
                axum::serve(listener, app).await.expect("fake server");
            });
        })
        .expect("fake server thread");
}

/// Shared pieces of the benchmark programs.
pub mod bench {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    /// A value in kB from /proc/<pid>/status (VmRSS, VmHWM).
    pub fn status_kib(pid: u32, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    pub fn rss_kib(pid: u32) -> u64 {
        status_kib(pid, "VmRSS")
    }

    /// Latency samples in microseconds.
    #[derive(Default)]
    pub struct Latencies(Vec<u32>);

    impl Latencies {
        pub fn record(&mut self, d: Duration) {
            self.0.push(d.as_micros().min(u128::from(u32::MAX)) as u32);
        }
        pub fn merge(&mut self, other: Latencies) {
            self.0.extend(other.0);
        }
        pub fn len(&self) -> usize {
            self.0.len()
        }
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// The percentile in milliseconds.
        pub fn percentile(&mut self, p: f64) -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            self.0.sort_unstable();
            let idx = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
            f64::from(self.0[idx]) / 1000.0
        }
    }

    /// A plain text table.
    pub struct Table {
        rows: Vec<Vec<String>>,
    }

    impl Table {
        pub fn new(header: &[&str]) -> Table {
            Table {
                rows: vec![header.iter().map(|s| s.to_string()).collect()],
            }
        }
        pub fn row(&mut self, cells: &[String]) {
            self.rows.push(cells.to_vec());
        }
        pub fn print(&self) {
            let cols = self.rows[0].len();
            let widths: Vec<usize> = (0..cols)
                .map(|c| {
                    self.rows
                        .iter()
                        .map(|r| r[c].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for (i, r) in self.rows.iter().enumerate() {
                let line: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(cell, w)| format!("{cell:<w$}"))
                    .collect();
                println!("| {} |", line.join(" | "));
                if i == 0 {
                    let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                    println!("|-{}-|", sep.join("-|-"));
                }
            }
        }
    }

    /// Peak resident memory of `pid` (KiB).
    pub fn hwm_kib(pid: u32) -> u64 {
        status_kib(pid, "VmHWM")
    }

    /// What [`run_load`] measured.
    pub struct LoadResult {
        pub ok: u64,
        pub errors: u64,
        pub elapsed: Duration,
        pub latencies: Latencies,
    }

    /// `concurrency` workers call `request` back to back for `duration`.
    pub async fn run_load<F, Fut>(concurrency: usize, duration: Duration, request: F) -> LoadResult
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = Option<()>> + Send,
    {
        let start = Instant::now();
        let deadline = start + duration;
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let request = request.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Latencies::default();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match request().await {
                        Some(()) => lat.record(t.elapsed()),
                        None => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let mut all = Latencies::default();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await.unwrap();
            all.merge(lat);
            errors += e;
        }
        LoadResult {
            ok: all.len() as u64,
            errors,
            elapsed: start.elapsed(),
            latencies: all,
        }
    }

    /// A release service under load test: started beside the benchmark binary on its own
    /// database and queue prefix, ready and settled; its idle RSS and base URL.
    pub struct Started {
        pub proc: crate::Proc,
        pub base: String,
        pub idle_rss_kib: u64,
    }

    /// Prefixes of the service settings passed on from the benchmark's environment.
    const SERVICE_SETTINGS: [&str; 6] = [
        "GATEWAY_",
        "FULFILLMENT_",
        "NOTIFY_",
        "OUTBOX_",
        "AGISO_",
        "RUST_LOG",
    ];

    /// Starts the release binary `name` (sibling of the benchmark) on `db_url` / `prefix`, with
    /// `extra` variables and the service settings of the benchmark's environment; the database
    /// pool size from `BENCH_DB_CONNECTIONS` (default 24).
    pub async fn start_service(
        name: &str,
        db_url: &str,
        prefix: &str,
        extra: &[(&str, &str)],
    ) -> Started {
        let env = service_env(db_url, prefix, extra);
        start_env(name, 1, &env).await.pop().expect("one replica")
    }

    /// A benchmark service's environment: the database, broker, key and prefix, `extra`, and
    /// the service settings of the benchmark's own environment.
    pub fn service_env(
        db_url: &str,
        prefix: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut env = vec![
            ("DATABASE_URL".to_string(), db_url.to_string()),
            ("AMQP_URL".to_string(), common::testing::amqp_url()),
            (
                "MASTER_KEY".to_string(),
                common::testing::TEST_MASTER_KEY.to_string(),
            ),
            ("MQ_PREFIX".to_string(), prefix.to_string()),
            ("RUST_LOG".to_string(), "warn".to_string()),
            (
                "DB_MAX_CONNECTIONS".to_string(),
                std::env::var("BENCH_DB_CONNECTIONS").unwrap_or_else(|_| "24".into()),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // The services' own settings in the benchmark's environment reach them, so a setting
        // can be measured without a rebuild (`NOTIFY_CONCURRENCY=64 bench-e2e …`).
        env.extend(
            std::env::vars()
                .filter(|(k, _)| SERVICE_SETTINGS.iter().any(|prefix| k.starts_with(prefix))),
        );
        env
    }

    /// [`crate::start_replicas`] with `env`, settled a second for their idle RSS.
    async fn start_env(name: &str, replicas: usize, env: &[(String, String)]) -> Vec<Started> {
        let procs = crate::start_replicas(name, replicas, env).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        procs
            .into_iter()
            .map(|proc| Started {
                base: format!("http://127.0.0.1:{}", proc.port),
                idle_rss_kib: rss_kib(proc.child.id()),
                proc,
            })
            .collect()
    }

    /// A client for many concurrent connections to one host.
    pub fn load_client() -> reqwest::Client {
        reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .expect("HTTP client")
    }

    /// The benchmark's `--name value` arguments, each a whole number: `defaults` names every
    /// accepted one with its default; anything else stops the program.
    pub fn numeric_args(defaults: &[(&str, u64)]) -> HashMap<String, u64> {
        numeric_and_list_args(defaults, &[]).0
    }

    /// [`numeric_args`] that also takes comma-separated lists of whole numbers (`--rates
    /// 100,500`) for the names in `lists`, each with its default list.
    pub fn numeric_and_list_args(
        numbers: &[(&str, u64)],
        lists: &[(&str, &[u64])],
    ) -> (HashMap<String, u64>, HashMap<String, Vec<u64>>) {
        let mut values: HashMap<String, u64> = numbers
            .iter()
            .map(|(name, v)| (name.to_string(), *v))
            .collect();
        let mut list_values: HashMap<String, Vec<u64>> = lists
            .iter()
            .map(|(name, v)| (name.to_string(), v.to_vec()))
            .collect();
        let given: Vec<String> = std::env::args().skip(1).collect();
        for pair in given.chunks(2) {
            let name = pair[0].as_str();
            let text = pair.get(1).map(String::as_str).unwrap_or_default();
            let list: Option<Vec<u64>> = text
                .split(',')
                .map(|v| v.trim().parse::<u64>().ok())
                .collect();
            if let (Some(v), Ok(n)) = (values.get_mut(name), text.parse::<u64>()) {
                *v = n;
            } else if let (Some(v), Some(list)) = (list_values.get_mut(name), list) {
                *v = list;
            } else {
                panic!("unknown argument or value: {}", pair.join(" "));
            }
        }
        (values, list_values)
    }

    /// [`start_service`] `replicas` times: processes of one service on the same database and
    /// queue prefix, each on ports of its own.
    pub async fn start_replicas(
        name: &str,
        replicas: usize,
        db_url: &str,
        prefix: &str,
        extra: &[(&str, &str)],
    ) -> Vec<Started> {
        start_env(name, replicas, &service_env(db_url, prefix, extra)).await
    }

    /// Clock ticks per second of the times in `/proc/<pid>/stat` (`getconf CLK_TCK`, else 100).
    pub fn clock_ticks() -> u64 {
        static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *TICKS.get_or_init(|| {
            std::process::Command::new("getconf")
                .arg("CLK_TCK")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.trim().parse().ok())
                .filter(|t| *t > 0)
                .unwrap_or(100)
        })
    }

    /// CPU time `pid` has used (utime + stime), in clock ticks; 0 when it is gone.
    pub fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The command name (field 2) may hold spaces and parentheses: count from its closing
        // parenthesis, after which come the state (field 3), …, utime (14) and stime (15).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        field(11).unwrap_or(0) + field(12).unwrap_or(0)
    }

    pub use crate::infra::pids_named;

    /// The CPU a set of processes used since [`CpuMeter::start`], in cores.
    pub struct CpuMeter {
        pids: Vec<u32>,
        ticks: u64,
        at: Instant,
    }

    impl CpuMeter {
        pub fn start(pids: &[u32]) -> CpuMeter {
            CpuMeter {
                pids: pids.to_vec(),
                ticks: pids.iter().map(|p| cpu_ticks(*p)).sum(),
                at: Instant::now(),
            }
        }

        /// Cores used since the start: Δ(utime + stime) / ticks per second / wall seconds (a
        /// process that exited meanwhile counts as 0).
        pub fn cores(&self) -> f64 {
            let now: u64 = self.pids.iter().map(|p| cpu_ticks(*p)).sum();
            let secs = now.saturating_sub(self.ticks) as f64 / clock_ticks() as f64;
            secs / self.at.elapsed().as_secs_f64().max(1e-9)
        }
    }

    /// Counters of the database server's `SHOW GLOBAL STATUS` (`Questions`, `Com_commit`,
    /// `Innodb_os_log_fsyncs`, …) by name; server-wide, so every client's statements count.
    /// A non-numeric value, or a name the server lacks, is absent from the map.
    pub async fn global_status(pool: &common::db::Pool) -> HashMap<String, u64> {
        let rows: Vec<(String, String)> = sqlx::query_as("SHOW GLOBAL STATUS")
            .fetch_all(pool)
            .await
            .expect("SHOW GLOBAL STATUS");
        rows.into_iter()
            .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
            .collect()
    }
}
