//! The provisioning commands of the `admin` binary, run as devops would run them.

use std::io::Write;
use std::process::{Command, Stdio};

use system_tests::{Stage, binary};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn admin(stage: &Stage, args: &[&str], stdin: Option<&str>) -> Run {
    run_admin(stage, args, stdin, &[])
}

/// `admin` with extra environment variables (and no input).
fn admin_env(stage: &Stage, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_admin(stage, args, None, env)
}

fn run_admin(stage: &Stage, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(binary("admin"))
        .args(args)
        .env_clear()
        .envs(stage.env())
        .envs(env.iter().copied())
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run admin");
    if let Some(input) = stdin {
        // A command that refuses its arguments exits without reading its input.
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(r: Run) -> String {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    r.stdout
}

const MD5_KEY: &str = "md5-key-0123456789abcdefSECRET01";
const AES_KEY: &str = common::protocol::vectors::general::K;
const GAME_KEY: &str = "0123456789abcdef0123456789abcdefGAME";
const AGISO_SECRET: &str = "demoSecret0123456789abcdefAGISO";
const AGISO_TOKEN: &str = "TbAldsTOKEN-abcdef";

#[tokio::test]
async fn provisioning_commands() {
    let stage = Stage::new().await;
    let s = &stage;
    assert!(ok(admin(s, &["migrate"], None)).contains("迁移"));
    assert!(
        ok(admin(s, &["migrate"], None)).contains("迁移"),
        "idempotent"
    );

    // Users: password from stdin, argon2id at rest, duplicates refused.
    let out = ok(admin(
        s,
        &["create-user", "--username", "alice", "--role", "admin"],
        Some("s3cret-pass\n"),
    ));
    assert!(out.contains("alice"));
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE username = 'alice'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains("s3cret-pass"));
    let dup = admin(
        s,
        &["create-user", "--username", "alice", "--role", "viewer"],
        Some("another-pass\n"),
    );
    assert_eq!(dup.code, 1, "{}", dup.stderr);
    let short = admin(
        s,
        &["create-user", "--username", "bob", "--role", "viewer"],
        Some("short\n"),
    );
    assert_eq!(short.code, 1);

    // Shops of the three platforms.
    ok(admin(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "jd-general",
            "--name",
            "通用店",
            "--vendor-id",
            "1201",
            "--mode",
            "test",
        ],
        // Secrets come one per line on stdin, never as flags.
        Some(&format!("{MD5_KEY}\n{AES_KEY}\n")),
    ));
    ok(admin(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "jd-game",
            "--name",
            "点卡店",
            "--customer-id",
            "10817",
            "--direct-callback-url",
            "http://127.0.0.1:9/gameApi.action",
        ],
        Some(&format!("{GAME_KEY}\n")),
    ));
    // …or from the environment.
    ok(admin_env(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "agiso",
            "--name",
            "阿奇索店",
            "--service",
            "aldsJd",
            "--app-id",
            "1234567",
        ],
        &[
            ("SHOP_APP_SECRET", AGISO_SECRET),
            ("SHOP_ACCESS_TOKEN", AGISO_TOKEN),
        ],
    ));
    // A secret passed as a flag is refused by the parser: it would show in `ps`.
    let flag = admin(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "jd-game",
            "--name",
            "z",
            "--customer-id",
            "6",
            "--private-key",
            GAME_KEY,
        ],
        None,
    );
    assert_eq!(flag.code, 2, "{}", flag.stderr);
    assert!(!flag.stderr.contains(GAME_KEY), "{}", flag.stderr);
    let bad_aes = admin(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "jd-general",
            "--name",
            "x",
            "--vendor-id",
            "1",
        ],
        Some("k\nshort\n"),
    );
    assert_eq!(bad_aes.code, 1);
    assert!(bad_aes.stderr.contains("32"), "{}", bad_aes.stderr);
    let missing = admin(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "jd-game",
            "--name",
            "y",
            "--customer-id",
            "5",
        ],
        None,
    );
    assert!(
        missing.code == 1 && missing.stderr.contains("SHOP_PRIVATE_KEY"),
        "{}",
        missing.stderr
    );
    let dup = admin(
        s,
        &[
            "shop",
            "add",
            "--platform",
            "jd-general",
            "--name",
            "通用店2",
            "--vendor-id",
            "1201",
        ],
        Some(&format!("a\n{AES_KEY}\n")),
    );
    assert_eq!(dup.code, 1, "same vendorId twice");

    let list = ok(admin(s, &["shop", "list", "--json"], None));
    let shops: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(shops.as_array().unwrap().len(), 3);
    assert_eq!(shops[0]["merchant_id"], "1201");
    assert_eq!(shops[0]["mode"], "test");
    assert_eq!(shops[2]["agiso_service"], "aldsJd");
    let human = ok(admin(s, &["shop", "list"], None));
    for secret in [MD5_KEY, AES_KEY, GAME_KEY, AGISO_SECRET, AGISO_TOKEN] {
        assert!(
            !list.contains(secret) && !human.contains(secret),
            "secret printed"
        );
    }
    // Secrets are encrypted at rest and decrypt with MASTER_KEY.
    let row = common::db::shops::find_by_merchant(
        &s.pool,
        common::domain::Platform::JdGeneral,
        "1201",
        "",
    )
    .await
    .unwrap()
    .unwrap();
    let enc = row.md5_key_enc.clone().unwrap();
    assert!(!String::from_utf8_lossy(&enc).contains(MD5_KEY));
    let key = common::testing::master_key();
    assert_eq!(
        row.secret(&key, common::db::shops::ShopSecret::Md5Key)
            .unwrap()
            .as_deref(),
        Some(MD5_KEY)
    );
    assert_eq!(
        row.secret(&key, common::db::shops::ShopSecret::AesKey)
            .unwrap()
            .as_deref(),
        Some(AES_KEY)
    );

    // Products with SKU mappings.
    ok(admin(
        s,
        &[
            "product",
            "add",
            "--name",
            "话费卡50",
            "--mode",
            "card",
            "--sku",
            "jd-general:45001",
            "--sku",
            "jd-game:10022039398",
            "--face-value-fen",
            "5000",
            "--price-fen",
            "4900",
            "--low-stock",
            "3",
        ],
        None,
    ));
    ok(admin(
        s,
        &[
            "product",
            "add",
            "--name",
            "直充Q币",
            "--mode",
            "direct-manual",
            "--sku",
            "jd-game:200",
            "--price-fen",
            "1000",
        ],
        None,
    ));
    // A price is required, and must be above zero: no price is never "any price".
    for price in [None, Some("0"), Some("-5")] {
        let mut args = vec![
            "product",
            "add",
            "--name",
            "无价",
            "--mode",
            "card",
            "--sku",
            "jd-game:201",
        ];
        if let Some(p) = price {
            args.extend(["--price-fen", p]);
        }
        let refused = admin(s, &args, None);
        assert_ne!(refused.code, 0, "{price:?}");
    }
    let dup_sku = admin(
        s,
        &[
            "product",
            "add",
            "--name",
            "other",
            "--mode",
            "card",
            "--sku",
            "jd-general:45001",
            "--price-fen",
            "100",
        ],
        None,
    );
    assert_eq!(dup_sku.code, 1, "a SKU maps to one product");
    let bad_sku = admin(
        s,
        &[
            "product",
            "add",
            "--name",
            "other",
            "--mode",
            "card",
            "--sku",
            "45001",
            "--price-fen",
            "100",
        ],
        None,
    );
    assert_eq!(bad_sku.code, 1);
    let products: serde_json::Value =
        serde_json::from_str(&ok(admin(s, &["product", "list", "--json"], None))).unwrap();
    assert_eq!(products[0]["skus"], "jd_general:45001,jd_game:10022039398");
    assert_eq!(products[1]["mode"], "direct_manual");

    // Cards: new / duplicate (in file and against stock) / invalid.
    let file = std::env::temp_dir().join(format!("{}.csv", common::testing::unique("cards")));
    std::fs::write(
        &file,
        "卡号,卡密,有效期\nCARD0001,PWD-0001,2099-12-31\nCARD0002,PWD-0002\nCARD0001,PWD-0001,2099-12-31\nbroken-line\nCARD0003 PWD-0003\nCARD0004,PWD-0004,2001-01-01\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = ok(admin(
        s,
        &[
            "cards",
            "import",
            "--product",
            "话费卡50",
            "--file",
            path,
            "--batch",
            "B1",
        ],
        None,
    ));
    assert!(out.contains("new 3, duplicate 1, invalid 2"), "{out}");
    let out = ok(admin(
        s,
        &["cards", "import", "--product", "话费卡50", "--file", path],
        None,
    ));
    assert!(out.contains("new 0, duplicate 4, invalid 2"), "{out}");
    // A card is in stock once across products: the same file into another card product finds
    // every card a duplicate and names the product that holds them.
    ok(admin(
        s,
        &[
            "product",
            "add",
            "--name",
            "话费卡100",
            "--mode",
            "card",
            "--sku",
            "jd-general:45100",
            "--price-fen",
            "10000",
        ],
        None,
    ));
    let out = ok(admin(
        s,
        &["cards", "import", "--product", "话费卡100", "--file", path],
        None,
    ));
    assert!(out.contains("new 0, duplicate 4, invalid 2"), "{out}");
    assert!(
        out.contains("3 张已在其他商品「话费卡50」的库存中"),
        "{out}"
    );
    let not_card = admin(
        s,
        &["cards", "import", "--product", "直充Q币", "--file", path],
        None,
    );
    assert_eq!(not_card.code, 1);
    let _ = std::fs::remove_file(&file);

    let stock: serde_json::Value =
        serde_json::from_str(&ok(admin(s, &["cards", "stock", "--json"], None))).unwrap();
    assert_eq!(stock[0]["product_name"], "话费卡50");
    assert_eq!(stock[0]["available"], 3);
    assert_eq!(stock[0]["sold"], 0);
    assert!(ok(admin(s, &["cards", "stock"], None)).contains("话费卡50"));

    // Cards are encrypted at rest.
    let rows: Vec<(u64, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT product_id, fingerprint, card_pass_enc FROM cards")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
    let mut plain: Vec<String> = rows
        .iter()
        .map(|(product, fp, b)| {
            common::db::cards::open(
                &key,
                common::crypto::SealedColumn::CardPassword,
                *product,
                fp,
                b,
            )
            .unwrap()
        })
        .collect();
    let blobs: Vec<Vec<u8>> = rows.into_iter().map(|(_, _, b)| b).collect();
    plain.sort();
    assert_eq!(plain, ["PWD-0001", "PWD-0002", "PWD-0003"]);
    assert!(
        blobs
            .iter()
            .all(|b| !String::from_utf8_lossy(b).contains("PWD-"))
    );

    // Every write is audited.
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE username = 'cli'")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1 + 3 + 3 + 3, "user, shops, products, imports");

    // Suppliers for direct-charge products.
    ok(admin(
        s,
        &[
            "product",
            "add",
            "--name",
            "供应商直充",
            "--mode",
            "direct-supplier",
            "--sku",
            "jd-game:300",
            "--price-fen",
            "1000",
        ],
        None,
    ));
    const SUPPLIER_SECRET: &str = "supplier-secret-XYZ";
    ok(admin(
        s,
        &[
            "supplier",
            "add",
            "--name",
            "上游A",
            "--base-url",
            "http://127.0.0.1:9/api",
            "--merchant-id",
            "M1",
        ],
        Some(&format!("{SUPPLIER_SECRET}\n")),
    ));
    let dup = admin_env(
        s,
        &[
            "supplier",
            "add",
            "--name",
            "上游A",
            "--base-url",
            "http://x",
            "--merchant-id",
            "M",
        ],
        &[("SUPPLIER_SECRET", "s")],
    );
    assert_eq!(dup.code, 1);
    let bad_url = admin_env(
        s,
        &[
            "supplier",
            "add",
            "--name",
            "B",
            "--base-url",
            "ftp://x",
            "--merchant-id",
            "M",
        ],
        &[("SUPPLIER_SECRET", "s")],
    );
    assert_eq!(bad_url.code, 1);
    // The secret is never a flag (it would show in `ps` and the shell history), and without the
    // variable or an input line nothing is created.
    let supplier_b = [
        "supplier",
        "add",
        "--name",
        "B",
        "--base-url",
        "http://x",
        "--merchant-id",
        "M",
    ];
    let flag = admin(s, &[&supplier_b[..], &["--secret", "s"]].concat(), None);
    assert_eq!(flag.code, 2, "{}", flag.stderr);
    let missing = admin(s, &supplier_b, Some(""));
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("SUPPLIER_SECRET"),
        "{}",
        missing.stderr
    );
    let list = ok(admin(s, &["supplier", "list", "--json"], None));
    assert!(!list.contains(SUPPLIER_SECRET));
    let suppliers: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(suppliers[0]["name"], "上游A");
    ok(admin(
        s,
        &[
            "product",
            "link-supplier",
            "--product",
            "供应商直充",
            "--supplier",
            "上游A",
            "--priority",
            "10",
            "--supplier-sku",
            "UP-300",
        ],
        None,
    ));
    let not_supplier_mode = admin(
        s,
        &[
            "product",
            "link-supplier",
            "--product",
            "话费卡50",
            "--supplier",
            "上游A",
            "--supplier-sku",
            "X",
        ],
        None,
    );
    assert_eq!(not_supplier_mode.code, 1);
    let link: (i32, String) =
        sqlx::query_as("SELECT priority, supplier_sku FROM product_suppliers")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(link, (10, "UP-300".to_string()));
    let (id, enc): (u64, Vec<u8>) = sqlx::query_as("SELECT id, secret_enc FROM suppliers")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    let slot = common::crypto::Slot::new(
        common::crypto::SealedColumn::SupplierSecret,
        common::crypto::RowKey::Id(id),
    );
    assert_eq!(key.open_string(slot, &enc).unwrap(), SUPPLIER_SECRET);
    stage.cleanup().await;
}

/// A retention below JD's 180-day query window stops every service at start: one line naming the
/// variable (not its value), exit code 2.
#[tokio::test]
async fn order_retention_below_180_days_is_refused_at_start() {
    let stage = Stage::new().await;
    for service in ["admin", "gateway"] {
        let mut child = Command::new(binary(service))
            .env_clear()
            .envs(stage.env())
            .env("RETENTION_ORDER_DAYS", "179")
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("METRICS_ADDR", "127.0.0.1:0")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run service");
        // A service that accepted the value would keep running: stop it and fail.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{service} started with RETENTION_ORDER_DAYS=179");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{service}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{service}: {stderr}");
        assert!(
            stderr.contains("RETENTION_ORDER_DAYS") && stderr.contains("at least 180 days"),
            "{service}: {stderr}"
        );
        assert!(!stderr.contains("179"), "the value is not echoed: {stderr}");
    }
    stage.cleanup().await;
}

/// The descendant of `pid` running `name`, if any.
fn descendant_named(pid: u32, name: &str) -> Option<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if comm.trim() == name {
                return Some(child);
            }
            if let Some(found) = descendant_named(child, name) {
                return Some(found);
            }
        }
    }
    None
}

/// Whether the terminal of process `pid` has echo switched off.
fn echo_off(pid: u32) -> bool {
    let Ok(tty) = std::fs::read_link(format!("/proc/{pid}/fd/0")) else {
        return false;
    };
    Command::new("stty")
        .arg("-F")
        .arg(&tty)
        .arg("-a")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("-echo "))
}

/// At a terminal, `create-user` asks twice on the terminal and never echoes what is typed. The
/// terminal is a pseudo-terminal from `script` (util-linux); each line is typed only once the
/// prompt is shown and the admin switched echo off.
#[tokio::test]
async fn create_user_at_a_terminal_does_not_echo_the_password() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let stage = Stage::new().await;
    let command = format!(
        "{} create-user --username ttyuser --role admin",
        binary("admin").display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .envs(stage.env())
        .env("PATH", "/usr/bin:/bin")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text =
        |seen: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let mut stdin = child.stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    for prompt in ["的密码（输入时不显示）：", "请再次输入密码："] {
        loop {
            let ready = text(&seen).contains(prompt)
                && descendant_named(child.id(), "admin").is_some_and(echo_off);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no prompt {prompt}: {}",
                text(&seen)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stdin.write_all(b"tty-secret-pw\r").unwrap();
        stdin.flush().unwrap();
    }
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("create-user did not finish: {}", text(&seen));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stdin);
    reader.join().unwrap();
    let out = text(&seen);
    assert!(out.contains("已创建用户"), "{out}");
    assert!(
        !out.contains("tty-secret-pw"),
        "the password was echoed: {out}"
    );
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE username = 'ttyuser'")
            .fetch_one(&stage.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    stage.cleanup().await;
}

/// Runs a service binary that is expected to refuse to start; returns (exit code, stderr).
async fn refused_start(name: &str, stage: &Stage, run_migrations: &str) -> (i32, String) {
    let mut child = Command::new(binary(name))
        .env_clear()
        .envs(stage.env())
        .env("RUN_MIGRATIONS", run_migrations)
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the service");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} kept running against a schema it does not match");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

/// After an upgrade, an older binary (a rolled-back image) finds migrations it does not know:
/// the services and the CLI refuse to start, with or without RUN_MIGRATIONS, and say why; a
/// service that will not migrate refuses a schema missing its own migrations.
#[tokio::test]
async fn a_schema_the_binary_does_not_know_is_refused() {
    let stage = Stage::new().await;
    // A migration from a newer release.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (29991231000000, 'from a newer release', NOW(), 1, x'00', 0)",
    )
    .execute(&stage.pool)
    .await
    .unwrap();
    let r = admin(&stage, &["migrate"], None);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("数据库结构比本程序新") && r.stderr.contains("29991231000000"),
        "{}",
        r.stderr
    );
    for run_migrations in ["true", "false"] {
        let (code, stderr) = refused_start("gateway", &stage, run_migrations).await;
        assert_eq!(code, 1, "RUN_MIGRATIONS={run_migrations}: {stderr}");
        assert!(
            stderr.contains("数据库结构比本程序新") && stderr.contains("29991231000000"),
            "RUN_MIGRATIONS={run_migrations}: {stderr}"
        );
    }
    // Nothing was changed: the newer migration is still recorded.
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 29991231000000")
            .fetch_one(&stage.pool)
            .await
            .unwrap();
    assert_eq!(n, 1);

    // The other way round: this binary's newest migration not applied, and RUN_MIGRATIONS=false.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 29991231000000")
        .execute(&stage.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations ORDER BY version DESC LIMIT 1")
        .execute(&stage.pool)
        .await
        .unwrap();
    let (code, stderr) = refused_start("fulfillment", &stage, "false").await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("数据库结构比本程序旧") && stderr.contains("admin migrate"),
        "{stderr}"
    );
    stage.cleanup().await;
}
