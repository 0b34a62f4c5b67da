//! The deployment as shipped: docker-compose.yml with .env.example. Compose refuses to start
//! until the key and the passwords are set, and the environment it resolves for each service is
//! one the real binaries start with (migrated by the `migrate` service's command, then ready).
//!
//! Needs `docker-compose` (1.29, as Debian ships it) or `docker compose` (v2) for `config` only:
//! no Docker daemon. Without either, the tests print a notice and pass (scripts/test.sh installs
//! docker-compose where apt exists).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::crypto::at_rest::MasterKey;
use common::testing::{TestDb, amqp_url, server_url, unique};
use system_tests::{Proc, SERVICES, binary, free_port};

/// The variables compose must refuse to run without (`${VAR:?...}`), and the generator each
/// message names.
const REQUIRED: [(&str, &str); 4] = [
    ("MASTER_KEY", "openssl rand -base64 32"),
    ("MYSQL_ROOT_PASSWORD", "openssl rand -hex 24"),
    ("MYSQL_PASSWORD", "openssl rand -hex 24"),
    ("RABBITMQ_PASSWORD", "openssl rand -hex 24"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `docker-compose` or `docker compose`, whichever answers; `None` (with a notice) when neither.
fn compose_command() -> Option<Vec<String>> {
    for cmd in [vec!["docker-compose"], vec!["docker", "compose"]] {
        let ok = Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Some(cmd.into_iter().map(str::to_owned).collect());
        }
    }
    eprintln!(
        "NOTICE: neither docker-compose nor `docker compose` is installed: the compose checks \
         are skipped (scripts/test.sh installs docker-compose where apt exists)"
    );
    None
}

/// `.env.example` as shipped, with `set` replacing (or adding) some of its lines.
fn env_file(set: &[(&str, String)]) -> tempfile_path::TempPath {
    let example = std::fs::read_to_string(repo_root().join(".env.example")).expect(".env.example");
    let mut lines: Vec<String> = example
        .lines()
        .filter(|l| {
            !set.iter()
                .any(|(k, _)| l.trim_start().starts_with(&format!("{k}=")))
        })
        .map(str::to_owned)
        .collect();
    lines.extend(set.iter().map(|(k, v)| format!("{k}={v}")));
    tempfile_path::TempPath::write(&(lines.join("\n") + "\n"))
}

/// A file removed when dropped.
mod tempfile_path {
    use std::path::PathBuf;

    pub struct TempPath(pub PathBuf);

    impl TempPath {
        pub fn write(content: &str) -> TempPath {
            let path = std::env::temp_dir().join(format!("{}.env", common::testing::unique("vgt")));
            std::fs::write(&path, content).expect("write env file");
            TempPath(path)
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Runs `<compose> -f docker-compose.yml --env-file FILE [extra] config [-q]` with nothing of this
/// process's environment (which compose would prefer to the file): (success, stdout, stderr).
fn compose_config(
    compose: &[String],
    env_file: &Path,
    extra: &[&str],
    quiet: bool,
) -> (bool, String, String) {
    let root = repo_root();
    let mut cmd = Command::new(&compose[0]);
    cmd.args(&compose[1..])
        .arg("-f")
        .arg(root.join("docker-compose.yml"))
        .arg("--env-file")
        .arg(env_file)
        .args(extra)
        .arg("config");
    if quiet {
        cmd.arg("-q");
    }
    let out = cmd
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run compose");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn compose_refuses_the_example_env_until_the_key_and_passwords_are_set() {
    let Some(compose) = compose_command() else {
        return;
    };
    // Compose may report one missing variable at a time (1.29 does): set each one it names
    // until it accepts the file, and check that exactly the four were asked for.
    let mut set: Vec<(&str, String)> = Vec::new();
    let mut asked = BTreeSet::new();
    for _ in 0..=REQUIRED.len() {
        let file = env_file(&set);
        let (ok, _, stderr) = compose_config(&compose, &file.0, &[], true);
        if ok {
            break;
        }
        // The message of the refusal comes last (1.29 prints the unresolved templates first).
        let (var, hint) = REQUIRED
            .iter()
            .filter_map(|(var, hint)| {
                stderr
                    .rfind(&format!("{var} 未设置"))
                    .map(|at| (at, *var, *hint))
            })
            .max()
            .map(|(_, var, hint)| (var, hint))
            .unwrap_or_else(|| {
                panic!("compose failed without naming a required variable: {stderr}")
            });
        assert!(
            stderr.contains(hint),
            "{var}: the message says how: {stderr}"
        );
        assert!(asked.insert(var), "{var} asked for twice: {stderr}");
        set.push((var, "0123456789abcdef".to_owned()));
    }
    let expected: BTreeSet<&str> = REQUIRED.iter().map(|(v, _)| *v).collect();
    assert_eq!(asked, expected);
    // With all four, the file is valid, with and without the proxy profile.
    let file = env_file(&set);
    for extra in [
        &[][..],
        &["--profile", "proxy"][..],
        &["--profile", "observability"][..],
    ] {
        let (ok, _, stderr) = compose_config(&compose, &file.0, extra, true);
        assert!(ok, "{extra:?}: {stderr}");
    }
}

fn yaml_str(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::Null => String::new(),
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// A service's resolved `environment` and `command`.
fn service(config: &serde_yaml::Value, name: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let svc = &config["services"][name];
    let env = svc["environment"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{name}: environment is not a mapping"))
        .iter()
        .map(|(k, v)| (yaml_str(k), yaml_str(v)))
        .collect();
    let command = svc["command"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{name}: command"))
        .iter()
        .map(yaml_str)
        .collect();
    (env, command)
}

/// `user:password@host:port` of a `scheme://user:password@host:port/...` URL.
fn authority(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").expect("scheme").1;
    let auth = rest.split('/').next().unwrap_or_default();
    let (cred, host) = auth.rsplit_once('@').expect("credentials in the test URL");
    let (user, password) = cred.split_once(':').expect("user:password");
    (user.to_owned(), password.to_owned(), host.to_owned())
}

/// The compose environment of a service, with the containers' host names replaced by the test
/// servers' addresses.
fn localize(
    mut env: BTreeMap<String, String>,
    db_host: &str,
    mq_host: &str,
) -> Vec<(String, String)> {
    for (var, container, host) in [
        ("DATABASE_URL", "@db:3306/", db_host),
        ("AMQP_URL", "@rabbitmq:5672/", mq_host),
    ] {
        let url = env.get(var).unwrap_or_else(|| panic!("{var} resolved"));
        assert!(url.contains(container), "{var} points at the container");
        let url = url.replace(container, &format!("@{host}/"));
        env.insert(var.to_owned(), url);
    }
    env.into_iter()
        .chain([("PATH".to_owned(), std::env::var("PATH").unwrap_or_default())])
        .collect()
}

#[tokio::test]
async fn compose_environment_migrates_and_starts_every_service() {
    let Some(compose) = compose_command() else {
        return;
    };
    let db = TestDb::create().await;
    let prefix = unique("t") + ".";
    let (db_user, db_password, db_host) = authority(&server_url());
    let (mq_user, mq_password, mq_host) = authority(&amqp_url());
    let file = env_file(&[
        ("MASTER_KEY", MasterKey::generate_base64()),
        ("MYSQL_ROOT_PASSWORD", "0123456789abcdef".to_owned()),
        ("MYSQL_USER", db_user),
        ("MYSQL_PASSWORD", db_password),
        ("MYSQL_DATABASE", db.name.clone()),
        ("RABBITMQ_USER", mq_user),
        ("RABBITMQ_PASSWORD", mq_password),
        ("MQ_PREFIX", prefix.clone()),
        ("RUST_LOG", "warn".to_owned()),
    ]);
    let (ok, stdout, stderr) = compose_config(&compose, &file.0, &[], false);
    assert!(ok, "{stderr}");
    let config: serde_yaml::Value = serde_yaml::from_str(&stdout).expect("compose config YAML");

    // What the file promises besides the environment.
    for name in ["db", "rabbitmq", "migrate"].into_iter().chain(SERVICES) {
        let logging = &config["services"][name]["logging"];
        assert_eq!(yaml_str(&logging["driver"]), "json-file", "{name}");
        assert!(
            !yaml_str(&logging["options"]["max-size"]).is_empty(),
            "{name}"
        );
        assert!(
            !yaml_str(&logging["options"]["max-file"]).is_empty(),
            "{name}"
        );
    }
    assert_eq!(
        yaml_str(&config["services"]["db"]["image"]),
        "mariadb:10.11"
    );
    assert_eq!(
        yaml_str(&config["services"]["gateway"]["build"]["args"]["VERSION"]),
        env!("CARGO_PKG_VERSION"),
        "the image's default version label is the workspace version"
    );

    // The one-shot migration, as compose runs it before the services.
    let (env, command) = service(&config, "migrate");
    let env = localize(env, &db_host, &mq_host);
    let out = Command::new(binary(&command[0]))
        .args(&command[1..])
        .env_clear()
        .envs(env)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut procs = Vec::new();
    for name in SERVICES {
        let (env, command) = service(&config, name);
        assert_eq!(env.get("RUN_MIGRATIONS").map(String::as_str), Some("false"));
        let env = localize(env, &db_host, &mq_host);
        let p = Proc::spawn_with_args(&binary(&command[0]), &command[1..], &env, free_port());
        procs.push((name, p));
    }
    let client = reqwest::Client::new();
    for (name, p) in procs.iter_mut() {
        p.wait_ready(Duration::from_secs(60)).await;
        let health: serde_json::Value = client
            .get(p.internal_url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["service"], *name);
        assert_eq!(health["version"], common::version(), "{name}");
    }
    for (name, mut p) in procs {
        let status = p.terminate().await;
        assert!(status.success(), "{name} exited with {status}");
    }
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
}

/// The host side of a published port as `config` prints it: `127.0.0.1:9099:9090/tcp`
/// (docker-compose 1.29) or a mapping with `host_ip` (compose v2): the host address.
fn published_host_ip(port: &serde_yaml::Value) -> String {
    match port {
        serde_yaml::Value::Mapping(_) => yaml_str(&port["host_ip"]),
        other => {
            let text = yaml_str(other);
            let parts: Vec<&str> = text.split(':').collect();
            if parts.len() == 3 {
                parts[0].to_owned()
            } else {
                String::new()
            }
        }
    }
}

#[test]
fn the_observability_profile_is_local_and_mounts_the_repository_files() {
    let Some(compose) = compose_command() else {
        return;
    };
    let file = env_file(
        &REQUIRED
            .iter()
            .map(|(var, _)| (*var, "0123456789abcdef".to_owned()))
            .collect::<Vec<_>>(),
    );
    let (ok, stdout, stderr) =
        compose_config(&compose, &file.0, &["--profile", "observability"], false);
    assert!(ok, "{stderr}");
    let config: serde_yaml::Value = serde_yaml::from_str(&stdout).expect("compose config YAML");
    let root = repo_root();
    for name in ["otel-collector", "jaeger", "prometheus", "grafana"] {
        let svc = &config["services"][name];
        assert!(svc.is_mapping(), "{name} is in the profile");
        let ports = svc["ports"].as_sequence().expect("published ports");
        for port in ports {
            assert_eq!(
                published_host_ip(port),
                "127.0.0.1",
                "{name}: published on the loopback only: {port:?}"
            );
        }
        // Every file or directory mounted from the checkout exists in it.
        for volume in svc["volumes"].as_sequence().into_iter().flatten() {
            let source = match volume {
                serde_yaml::Value::Mapping(_) => yaml_str(&volume["source"]),
                other => yaml_str(other)
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            // `config` resolves the checkout's relative paths; named volumes stay names.
            if source.starts_with('/') {
                assert!(
                    source.starts_with(root.to_str().expect("UTF-8 path")),
                    "{name}: {source} is a file of the repository"
                );
                assert!(Path::new(&source).exists(), "{name}: {source} exists");
            }
        }
    }
    // Prometheus loads the shipped configuration and its rules; Grafana the shipped dashboard.
    let volumes = |name: &str| format!("{:?}", config["services"][name]["volumes"]);
    assert!(volumes("prometheus").contains("deploy/prometheus.yml"));
    assert!(volumes("prometheus").contains("deploy/alerts.yml"));
    assert!(volumes("grafana").contains("deploy/grafana/dashboards"));
    // Grafana: anonymous viewers, no login to guard.
    let env = &config["services"]["grafana"]["environment"];
    assert_eq!(yaml_str(&env["GF_AUTH_ANONYMOUS_ORG_ROLE"]), "Viewer");
    assert_eq!(yaml_str(&env["GF_AUTH_DISABLE_LOGIN_FORM"]), "true");
    assert_eq!(yaml_str(&env["GF_AUTH_BASIC_ENABLED"]), "false");
}
