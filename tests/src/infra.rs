//! Restarting the machine's RabbitMQ and MariaDB, for the broker-restart test and the fault
//! drills. Both need root: as root the commands run directly, otherwise through `sudo -n`
//! (never prompting: scripts/test.sh asks for sudo once at its start and keeps it authorised);
//! they fail, saying so, without it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::amqp_url;

/// True when this process runs as root (the owner of `/proc/self` is the effective user).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` as root: directly when root, else through `sudo -n`.
pub fn as_root(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", program]);
        c
    }
}

fn how() -> &'static str {
    if is_root() {
        "as root"
    } else {
        "through `sudo -n` (not root)"
    }
}

/// Runs `program args` as root on a blocking thread (stopping or starting a server takes
/// seconds, and the caller's runtime may be serving a fake JD or supplier); panics with a clear
/// message when it cannot or when the command fails.
pub async fn run_as_root(program: &'static str, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || run_as_root_blocking(program, &args))
        .await
        .expect("command thread");
}

fn run_as_root_blocking(program: &str, args: &[String]) {
    let out = as_root(program).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{program} {}` {} ({e}): restarting the local RabbitMQ or MariaDB needs \
             {program}, run as root or with sudo rights (scripts/test.sh installs it and asks \
             for sudo)",
            args.join(" "),
            how()
        )
    });
    assert!(
        out.status.success(),
        "`{program} {}` {} failed ({}): restarting the local RabbitMQ or MariaDB must run next \
         to it as root, or as a user with sudo rights.\nstdout: {}\nstderr: {}",
        args.join(" "),
        how(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rabbitmqctl <args>` as root (it needs the broker's Erlang cookie).
pub async fn rabbitmqctl(args: &[&str]) {
    run_as_root("rabbitmqctl", args).await;
}

/// Starts the broker's application again when dropped, so a failing test never leaves the
/// shared broker stopped.
pub struct BrokerGuard;

impl Drop for BrokerGuard {
    fn drop(&mut self) {
        for args in [&["start_app"][..], &["await_startup", "--timeout", "60"]] {
            let _ = as_root("rabbitmqctl")
                .args(args)
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// Waits until the broker accepts AMQP connections.
pub async fn wait_amqp(within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        match lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await
        {
            Ok(conn) => {
                let _ = conn.close(200, "up".into()).await;
                return;
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "RabbitMQ does not accept AMQP within {within:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops the broker's application, waits `down`, starts it again and waits until it accepts
/// AMQP connections.
pub async fn restart_rabbitmq(down: Duration) {
    rabbitmqctl(&["await_startup", "--timeout", "60"]).await;
    let guard = BrokerGuard;
    rabbitmqctl(&["stop_app"]).await;
    tokio::time::sleep(down).await;
    rabbitmqctl(&["start_app"]).await;
    rabbitmqctl(&["await_startup", "--timeout", "60"]).await;
    wait_amqp(Duration::from_secs(60)).await;
    drop(guard);
}

/// The MariaDB server binary of this machine.
fn mariadbd() -> &'static str {
    ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
        .into_iter()
        .find(|b| Path::new(b).exists())
        .unwrap_or("/usr/sbin/mariadbd")
}

/// True on a machine run by systemd (then MariaDB is its `mariadb` unit).
fn systemd() -> bool {
    Path::new("/run/systemd/system").exists()
}

/// Restarts the local MariaDB: on a systemd machine `systemctl stop mariadb`, else SIGTERM to
/// `mariadbd` (a clean shutdown) and a wait for it to exit; then, after `down`, starts it the way
/// this machine does (`systemctl start mariadb`, else `start-stop-daemon` as scripts/test.sh
/// does) and waits until it answers `SELECT 1` at `db_url`.
pub async fn restart_mariadb(db_url: &str, down: Duration) {
    if systemd() {
        run_as_root("systemctl", &["stop", "mariadb"]).await;
    } else {
        // Only the server behind `db_url`, never every mariadbd of the host (a container's
        // server on the same host is not ours to stop).
        let pids = vec![server_pid(db_url).await];
        for pid in &pids {
            run_as_root("kill", &["-TERM", &pid.to_string()]).await;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while pids
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}")).exists())
        {
            assert!(
                Instant::now() < deadline,
                "mariadbd did not stop within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(down).await;
    start_mariadb().await;
    wait_db(db_url, Duration::from_secs(120)).await;
}

/// The process id of the MariaDB server behind `db_url`: its `@@pid_file`, read on this host,
/// naming a local `mariadbd` / `mysqld` process. Panics when the server is not a local process
/// (a container, another host): the drill never stops a server it cannot identify.
async fn server_pid(db_url: &str) -> u32 {
    use sqlx::Connection;
    let mut conn = sqlx::MySqlConnection::connect(db_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the database to find its server: {e}"));
    let pid_file: String = sqlx::query_scalar("SELECT @@pid_file")
        .fetch_one(&mut conn)
        .await
        .expect("SELECT @@pid_file");
    let _ = conn.close().await;
    // The file is the server user's (mode 0660): read through sudo when not root.
    let text = std::fs::read_to_string(&pid_file).ok().or_else(|| {
        let out = as_root("cat").arg(&pid_file).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    let pid = text
        .and_then(|t| t.trim().parse::<u32>().ok())
        .unwrap_or_else(|| {
            panic!("the database server's pid file {pid_file} is not readable here: not a local server, not restarted")
        });
    assert!(
        pids_named(&["mariadbd", "mysqld"]).contains(&pid),
        "pid {pid} from {pid_file} is not a local mariadbd/mysqld process: not restarted"
    );
    pid
}

/// Starts MariaDB (again); a no-op when it runs.
pub async fn start_mariadb() {
    if systemd() {
        run_as_root("systemctl", &["start", "mariadb"]).await;
    } else {
        run_as_root(
            "start-stop-daemon",
            &[
                "--start",
                "--oknodo",
                "--background",
                "--exec",
                mariadbd(),
                "--",
                "--user=mysql",
            ],
        )
        .await;
    }
}

/// Starts MariaDB again when dropped while panicking, so a failing drill never leaves it
/// stopped.
pub struct DatabaseGuard;

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let _ = if systemd() {
            as_root("systemctl").args(["start", "mariadb"]).status()
        } else {
            as_root("start-stop-daemon")
                .args(["--start", "--oknodo", "--background", "--exec", mariadbd()])
                .args(["--", "--user=mysql"])
                .status()
        };
    }
}

/// Waits until the server at `db_url` answers `SELECT 1`.
pub async fn wait_db(db_url: &str, within: Duration) {
    use sqlx::Connection;
    let deadline = Instant::now() + within;
    loop {
        match sqlx::MySqlConnection::connect(db_url).await {
            Ok(mut c) => {
                if sqlx::query("SELECT 1").execute(&mut c).await.is_ok() {
                    let _ = c.close().await;
                    return;
                }
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "MariaDB does not answer within {within:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The processes whose command name (`/proc/<pid>/comm`) is one of `names` (`mariadbd`,
/// `mysqld`, `beam.smp`, …).
pub fn pids_named(names: &[&str]) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| names.contains(&comm.trim()))
        })
        .collect()
}
