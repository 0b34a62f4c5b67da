//! The `jd-sim` binary as a merchant uses it for 联调: against the real gateway, fulfillment and
//! notifier, for all seven JD interfaces, and as the callback listener the notifier's real
//! callbacks arrive at. Its exit codes and printed output are checked.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::db::Pool;
use common::domain::{OrderKind, Platform};
use common::testing::fixtures::Product;
use system_tests::fake_jd::{
    AES_KEY, CUSTOMER, GAME_KEY, MD5_KEY, Seed, VENDOR, card_product, final_order, game_shop_at,
    general_shop, notifier, order_id, wait_status,
};
use system_tests::{Proc, Stage, binary, free_port};

struct Run {
    code: i32,
    out: String,
}

/// Runs `jd-sim` with `args` and no environment (every value on the command line).
fn jd_sim(args: &[&str]) -> Run {
    let out = Command::new(binary("jd-sim"))
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("run jd-sim");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    };
    assert!(
        !run.out.contains(MD5_KEY) && !run.out.contains(AES_KEY) && !run.out.contains(GAME_KEY),
        "a key printed in full:\n{}",
        run.out
    );
    run
}

fn valid(run: Run) -> String {
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out.contains("结果 (result): ✓ 有效 (valid)"),
        "{}",
        run.out
    );
    run.out
}

fn general(gw: &str, command: &str, md5_key: &str, rest: &[&str]) -> Run {
    let mut args = vec![
        "general",
        command,
        "--url",
        gw,
        "--vendor-id",
        VENDOR,
        "--md5-key",
        md5_key,
        "--aes-key",
        AES_KEY,
    ];
    args.extend_from_slice(rest);
    jd_sim(&args)
}

fn game(gw: &str, command: &str, key: &str, rest: &[&str]) -> Run {
    let mut args = vec![
        "game",
        command,
        "--url",
        gw,
        "--customer-id",
        CUSTOMER,
        "--private-key",
        key,
    ];
    args.extend_from_slice(rest);
    jd_sim(&args)
}

/// The card numbers sold to the order JD knows as `platform_no`.
async fn sold_card_numbers(pool: &Pool, platform_no: &str) -> Vec<String> {
    let id = order_id(pool, platform_no).await;
    let mut numbers: Vec<String> =
        common::db::cards::issued_to_order(pool, &common::testing::master_key(), id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.card_no)
            .collect();
    numbers.sort();
    numbers
}

/// `jd-sim listen` on a free port, its output in a file.
struct Listening {
    child: std::process::Child,
    url: String,
    log_path: std::path::PathBuf,
}

impl Listening {
    /// Starts `jd-sim listen --port <free> <args>` and waits until it accepts connections.
    async fn start(args: &[&str]) -> Listening {
        let port = free_port();
        let log_path = std::env::temp_dir().join(format!("jd-sim-listen-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(binary("jd-sim"))
            .args(["listen", "--port", &port.to_string()])
            .args(args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start jd-sim listen");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "jd-sim listen did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Listening {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log_path,
        }
    }

    /// Waits for it to exit on its own (`--exit-after`): its status and everything it printed.
    async fn finish(mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "jd-sim listen did not exit:\n{}",
                    std::fs::read_to_string(&self.log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let out = std::fs::read_to_string(&self.log_path).unwrap();
        let _ = std::fs::remove_file(&self.log_path);
        (status, out)
    }
}

/// A test that fails before [`Listening::finish`] leaves no `jd-sim listen` running.
impl Drop for Listening {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn jd_sim_drives_all_seven_interfaces_and_checks_the_real_callbacks() {
    let stage = Stage::new().await;
    let pool = &stage.pool;

    // jd-sim listening as JD: the 通用交易 order's notifyUrl and the game shop's callback URLs.
    let listener = Listening::start(&[
        "--md5-key",
        MD5_KEY,
        "--aes-key",
        AES_KEY,
        "--vendor-id",
        VENDOR,
        "--private-key",
        GAME_KEY,
        "--customer-id",
        CUSTOMER,
        "--exit-after",
        "2",
    ])
    .await;
    let listen_url = listener.url.clone();

    general_shop(pool, "general").await;
    game_shop_at(pool, &listen_url).await;
    // Cards C-<name>-<i> / P-<name>-<i> at 10.00 each.
    card_product(pool, "g", 5, Platform::JdGeneral).await;
    card_product(pool, "k", 5, Platform::JdGame).await;
    Product::direct_manual("d")
        .price(Some(1000))
        .sku(Platform::JdGame, "sku-d")
        .insert(pool)
        .await;

    let mut gateway = Proc::spawn("gateway", &stage.env());
    gateway.wait_ready(Duration::from_secs(30)).await;
    let mut fulfillment = Proc::spawn("fulfillment", &stage.env());
    fulfillment.wait_ready(Duration::from_secs(30)).await;
    let _notifier = notifier(&stage, &[]).await;
    let gw = gateway.url("");
    let notify_url = format!("{listen_url}/vtp");

    // 通用交易 beginDistill: accepted asynchronously (3 / JDO_201), answer signature verified.
    let out = valid(general(
        &gw,
        "begin",
        MD5_KEY,
        &[
            "--ware-no",
            "sku-g",
            "--quantity",
            "2",
            "--total-price",
            "2000",
            "--jd-order-no",
            "7100001",
            "--notify-url",
            &notify_url,
        ],
    ));
    assert!(
        out.contains("签名串 (signing string, key masked): jdOrderNo7100001notifyUrl"),
        "{out}"
    );
    assert!(out.contains("✓ 应答签名正确"), "{out}");
    assert!(out.contains("生产中 (in progress): JDO_201"), "{out}");

    // findDistill until produced: the decrypted cards are the ones sold to the order.
    let out = valid(general(
        &gw,
        "find",
        MD5_KEY,
        &[
            "--jd-order-no",
            "7100001",
            "--quantity",
            "2",
            "--wait",
            "60",
        ],
    ));
    assert!(out.contains("生产成功 (produced): JDO_200"), "{out}");
    assert!(
        out.contains("卡密数量等于 quantity (card count = quantity = 2)"),
        "{out}"
    );
    let sold = sold_card_numbers(pool, "7100001").await;
    assert_eq!(sold.len(), 2);
    for card in &sold {
        let password = card.replacen("C-", "P-", 1);
        assert!(
            out.contains(&format!(
                "cardNumber={card} password={password} expiryDate=2099-12-31"
            )),
            "{card} missing from:\n{out}"
        );
    }

    // A wrong MD5 key: the gateway refuses (JDO_304) and jd-sim says plainly what is wrong.
    let wrong = general(
        &gw,
        "find",
        "wrong-md5-key-0000000000000000",
        &["--jd-order-no", "7100001"],
    );
    assert_eq!(wrong.code, 1, "{}", wrong.out);
    assert!(
        wrong
            .out
            .contains("✗ 应答签名错误 (answer signature mismatch): expected "),
        "{}",
        wrong.out
    );
    assert!(wrong.out.contains("JDO_304"), "{}", wrong.out);
    assert!(wrong.out.contains("✗ 发现"), "{}", wrong.out);

    // 游戏点卡 preCheck and directCharge / directQuery (a manual top-up stays in progress).
    let out = valid(game(
        &gw,
        "pre-check",
        GAME_KEY,
        &[
            "--sku-id",
            "sku-d",
            "--total-price",
            "10.00",
            "--account",
            "13800000000",
        ],
    ));
    assert!(out.contains("可售 (sellable): status 0"), "{out}");
    let out = valid(game(
        &gw,
        "direct-charge",
        GAME_KEY,
        &[
            "--order-id",
            "7100002",
            "--sku-id",
            "sku-d",
            "--total-price",
            "10.00",
            "--account",
            "13800000000",
        ],
    ));
    assert!(out.contains("retCode 100"), "{out}");
    assert!(out.contains("\"gameAccount\":\"13800000000\""), "{out}");
    let out = valid(game(
        &gw,
        "direct-query",
        GAME_KEY,
        &["--order-id", "7100002"],
    ));
    assert!(out.contains("orderStatus 1 充值中"), "{out}");
    // The same as JSON.
    let run = jd_sim(&[
        "--json",
        "game",
        "direct-query",
        "--url",
        &gw,
        "--customer-id",
        CUSTOMER,
        "--private-key",
        GAME_KEY,
        "--order-id",
        "7100002",
    ]);
    assert_eq!(run.code, 0, "{}", run.out);
    let json: serde_json::Value = serde_json::from_str(&run.out).expect("one JSON document");
    assert_eq!(json["report"]["valid"], true, "{json}");
    assert_eq!(json["httpStatus"], 200);
    assert_eq!(json["data"]["orderStatus"], 1, "{json}");
    assert_eq!(json["request"]["data"]["orderId"], "7100002", "{json}");

    // cardOrder, then cardQuery until the cards are there.
    let out = valid(game(
        &gw,
        "card-order",
        GAME_KEY,
        &[
            "--order-id",
            "7100003",
            "--sku-id",
            "sku-k",
            "--quantity",
            "2",
            "--total-price",
            "20.00",
        ],
    ));
    assert!(out.contains("已接单"), "{out}");
    let out = valid(game(
        &gw,
        "card-query",
        GAME_KEY,
        &["--order-id", "7100003", "--quantity", "2", "--wait", "60"],
    ));
    assert!(
        out.contains("卡密数量等于购买数量 (card count = buyNum = 2)"),
        "{out}"
    );
    let game_sold = sold_card_numbers(pool, "7100003").await;
    assert_eq!(game_sold.len(), 2);
    for card in &game_sold {
        assert!(
            out.contains(&format!("cardno={card} ")),
            "{card} missing from:\n{out}"
        );
    }

    // A wrong private key: the gateway answers 106 and jd-sim reports the refusal.
    let wrong = game(
        &gw,
        "card-query",
        "another-private-key",
        &["--order-id", "7100003"],
    );
    assert_eq!(wrong.code, 1, "{}", wrong.out);
    assert!(
        wrong
            .out
            .contains("✗ 商户拒绝 (merchant refused): retCode 106"),
        "{}",
        wrong.out
    );

    // Usage errors exit 2.
    assert_eq!(game(&gw, "direct-query", GAME_KEY, &[]).code, 2);
    assert_eq!(jd_sim(&["general", "begin"]).code, 2);

    // The listener got the notifier's two callbacks, verified and decoded them, answered
    // success (the notifier recorded both delivered), and stopped after the second.
    let (status, out) = listener.finish(Duration::from_secs(60)).await;
    assert!(status.success(), "{status}\n{out}");
    assert!(!out.contains(MD5_KEY) && !out.contains(GAME_KEY), "{out}");
    assert!(out.contains("POST /vtp/produce/result"), "{out}");
    assert!(out.contains("POST /api/cardApi.action"), "{out}");
    assert_eq!(
        out.matches("✓ 回调签名正确 (callback signature ok)")
            .count(),
        2,
        "{out}"
    );
    assert!(out.contains("jdOrderNo 7100001"), "{out}");
    assert!(
        out.contains("卡密数量等于 quantity (card count = quantity = 2)"),
        "{out}"
    );
    assert!(
        out.contains("orderId 7100003: orderStatus 0 充值成功"),
        "{out}"
    );
    for card in sold.iter().chain(&game_sold) {
        assert!(
            out.contains(&format!("\"{card}\"")),
            "{card} missing from:\n{out}"
        );
    }
    assert!(
        out.contains(r#"应答 (answered): HTTP 200 {"code":"0","message":"成功"}"#),
        "{out}"
    );
    assert!(
        out.contains(r#"应答 (answered): HTTP 200 {"retCode":"100","retMessage":"接收成功"}"#),
        "{out}"
    );
    assert!(
        out.contains("共收到 2 个回调 (callbacks received)；全部有效 (all valid)"),
        "{out}"
    );
    for no in ["7100001", "7100003"] {
        wait_status(
            pool,
            order_id(pool, no).await,
            "delivered",
            Duration::from_secs(10),
        )
        .await;
    }
    stage.cleanup().await;
}

/// A listener with a different MD5 key than the shop's: it reports the callback's signature plainly,
/// answers JD's code 10 (the notifier records the misconfiguration and keeps the order scheduled),
/// and exits 1.
#[tokio::test]
async fn jd_sim_listen_reports_a_callback_signed_with_another_key() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    let listener = Listening::start(&[
        "--md5-key",
        "another-md5-key-000000000000",
        "--aes-key",
        AES_KEY,
        "--exit-after",
        "1",
    ])
    .await;
    let shop = general_shop(pool, "general").await;
    let product = card_product(pool, "w", 2, Platform::JdGeneral).await;
    let (id, _) = final_order(
        pool,
        Seed {
            platform: Platform::JdGeneral,
            shop,
            platform_no: "7200001",
            kind: OrderKind::Card,
            product: Some(product),
            quantity: 1,
            failure: None,
            notify_url: Some(format!("{}/vtp", listener.url)),
        },
    )
    .await;
    let _notifier = notifier(&stage, &[]).await;

    let (status, out) = listener.finish(Duration::from_secs(60)).await;
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("✗ 回调签名错误 (callback signature mismatch): expected "),
        "{out}"
    );
    assert!(
        out.contains(r#"应答 (answered): HTTP 200 {"code":"10","message":"签名验证错误"}"#),
        "{out}"
    );
    assert!(out.contains("有问题 (some had problems)"), "{out}");
    assert!(!out.contains("another-md5-key-000000000000"), "{out}");
    // The notifier recorded JD's code 10 (a configuration problem: retried, with an alert).
    let deadline = Instant::now() + Duration::from_secs(20);
    let (outcome, body, error) = loop {
        let first: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT outcome, response_body, error FROM callback_attempts
             WHERE order_id = ? AND attempt_no = 1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap();
        if let Some(first) = first {
            break first;
        }
        assert!(Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(outcome, "retry");
    assert!(body.unwrap_or_default().contains(r#""code":"10""#));
    assert!(error.unwrap_or_default().contains("京东返回 10"));
    stage.cleanup().await;
}
