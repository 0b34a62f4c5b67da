//! The I/O of each command: send the signed request, print request, answer and checks; serve
//! the callback endpoints. Building and checking are the library's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::crypto::JdAesKey;
use common::protocol::form;
use jd_sim::callback::{self, Keys};
use jd_sim::game::{self, GameCall, GameInput};
use jd_sim::general::{self, BeginInput};
use jd_sim::report::Report;
use jd_sim::{Signed, generated_order_no, interface_url, now_timestamp};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::args::{BeginArgs, FindArgs, GameArgs, GeneralShop, ListenArgs};

/// Why a command could not run.
pub enum Failure {
    /// Exit code 2.
    Usage(String),
    /// Exit code 1 (e.g. the gateway cannot be reached).
    Other(String),
}

/// `Ok(valid)`: whether everything checked was valid.
pub type Outcome = Result<bool, Failure>;

/// The longest answer read.
const MAX_ANSWER: usize = 1024 * 1024;
/// Interval of `--wait` polling.
const POLL: Duration = Duration::from_millis(500);

fn aes_key(text: &str) -> Result<JdAesKey, Failure> {
    JdAesKey::new(text).map_err(|_| {
        Failure::Usage(format!(
            "--aes-key 必须正好 32 个字符 (the AES key must be exactly 32 characters), got {}",
            text.chars().count()
        ))
    })
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

async fn post(url: &str, form_fields: &[(String, String)]) -> Result<Answer, Failure> {
    let client = common::http_client::client(Duration::from_secs(15))
        .map_err(|e| Failure::Other(e.to_string()))?;
    let resp = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form::encode_form(form_fields))
        .send()
        .await
        .map_err(|e| Failure::Other(format!("请求失败 (request failed) {url}: {e}")))?;
    let status = resp.status().as_u16();
    let body = common::http_client::read_bounded(resp, MAX_ANSWER)
        .await
        .map_err(|e| Failure::Other(format!("读取应答失败 (reading the answer failed): {e}")))?;
    Ok(Answer { status, body })
}

/// [`post`]; when it fails, the request is still shown (text mode), so the merchant sees what
/// could not be delivered.
async fn post_or_show(
    url: &str,
    signed: &Signed,
    json_out: bool,
    platform: &str,
) -> Result<Answer, Failure> {
    let result = post(url, &signed.form).await;
    if result.is_err() && !json_out {
        print_request(platform, url, signed, None);
    }
    result
}

fn print_request(title: &str, url: &str, signed: &Signed, data_json: Option<&str>) {
    println!("== {title} → {url}");
    println!(
        "签名串 (signing string, key masked): {}",
        signed.sign_string
    );
    if let Some(data) = data_json {
        println!("data（Base64 前的 JSON）(data before Base64): {data}");
    }
    println!("请求表单 (request form):");
    for (k, v) in &signed.form {
        println!("  {k} = {v}");
    }
}

fn print_answer(answer: &Answer, json_answer: Option<&Value>) {
    println!("HTTP {}", answer.status);
    println!("应答 (answer):");
    match json_answer {
        Some(v) => {
            for line in serde_json::to_string_pretty(v).unwrap_or_default().lines() {
                println!("  {line}");
            }
        }
        None => println!("  {}", jd_sim::wire::excerpt(&answer.body)),
    }
}

fn form_json(signed: &Signed) -> Value {
    json!(
        signed
            .form
            .iter()
            .map(|(k, v)| json!([k, v]))
            .collect::<Vec<_>>()
    )
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn print_report(report: &Report) {
    print!("{}", report.render());
}

/// `general begin`.
pub async fn general_begin(a: BeginArgs, json_out: bool) -> Outcome {
    let aes = aes_key(&a.shop.aes_key)?;
    let jd_order_no = a.jd_order_no.unwrap_or_else(generated_order_no);
    let timestamp = now_timestamp();
    let account = a.account.as_deref();
    let fields = general::begin_fields(&BeginInput {
        jd_order_no,
        vendor_id: &a.shop.vendor_id,
        ware_no: &a.ware_no,
        quantity: a.quantity,
        total_price_fen: a.total_price,
        notify_url: &a.notify_url,
        produce_account: account,
        pay_time: &timestamp,
        timestamp: &timestamp,
    });
    let expect = general::Expect {
        jd_order_no,
        quantity: Some(a.quantity),
        card_goods: !a.direct,
    };
    let (url, signed, answer, checked) = general_once(
        &a.shop,
        general::BEGIN_PATH,
        &fields,
        &expect,
        &aes,
        json_out,
    )
    .await?;
    general_print("beginDistill", &url, &signed, &answer, &checked, json_out);
    Ok(checked.report.is_valid())
}

/// `general find`, polling while in progress when `--wait` is given (only the last answer is
/// printed in full).
pub async fn general_find(a: FindArgs, json_out: bool) -> Outcome {
    let aes = aes_key(&a.shop.aes_key)?;
    let expect = general::Expect {
        jd_order_no: a.jd_order_no,
        quantity: a.quantity,
        card_goods: !a.direct,
    };
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    loop {
        let fields = general::find_fields(a.jd_order_no, Some(&a.shop.vendor_id), &now_timestamp());
        let (url, signed, answer, checked) = general_once(
            &a.shop,
            general::FIND_PATH,
            &fields,
            &expect,
            &aes,
            json_out,
        )
        .await?;
        if checked.in_progress() && checked.report.is_valid() && Instant::now() < deadline {
            if !json_out {
                println!("· 生产中，0.5 秒后再查 (in progress, asking again)");
            }
            tokio::time::sleep(POLL).await;
            continue;
        }
        general_print("findDistill", &url, &signed, &answer, &checked, json_out);
        return Ok(checked.report.is_valid());
    }
}

/// Signs, sends and checks one 通用交易 request.
async fn general_once(
    shop: &GeneralShop,
    path: &str,
    fields: &[(String, String)],
    expect: &general::Expect,
    aes: &JdAesKey,
    json_out: bool,
) -> Result<(String, Signed, Answer, general::Checked), Failure> {
    let signed = general::sign(fields, &shop.md5_key);
    let url = interface_url(&shop.url, path);
    let answer = post_or_show(&url, &signed, json_out, "京东通用交易").await?;
    let checked = general::check_answer(answer.status, &answer.body, expect, &shop.md5_key, aes);
    Ok((url, signed, answer, checked))
}

fn general_print(
    name: &str,
    url: &str,
    signed: &Signed,
    answer: &Answer,
    checked: &general::Checked,
    json_out: bool,
) {
    if json_out {
        print_json(&json!({
            "request": {"url": url, "signString": signed.sign_string, "form": form_json(signed)},
            "httpStatus": answer.status,
            "answer": checked.answer,
            "cards": checked.cards,
            "report": checked.report.to_json(),
        }));
        return;
    }
    print_request(&format!("京东通用交易 {name}"), url, signed, None);
    print_answer(answer, checked.answer.as_ref());
    if !checked.cards.is_empty() {
        println!("卡密（已解密）(cards, decrypted):");
        print!("{}", general::render_cards(&checked.cards));
    }
    print_report(&checked.report);
}

/// `game <call>`, polling a query while in progress when `--wait` is given.
pub async fn game(call: GameCall, a: GameArgs, json_out: bool) -> Outcome {
    let is_order = !call.is_query();
    let order_id = match (a.order_id, call) {
        (Some(id), _) => id,
        (None, GameCall::DirectQuery | GameCall::CardQuery) => {
            return Err(Failure::Usage(format!("{} 需要 --order-id", call.name())));
        }
        (None, _) => generated_order_no(),
    };
    let sku = a.sku_id.as_deref().unwrap_or_default();
    let price = a.total_price.as_deref().unwrap_or_default();
    if is_order && (sku.is_empty() || price.is_empty()) {
        return Err(Failure::Usage(format!(
            "{} 需要 --sku-id 和 --total-price（元）",
            call.name()
        )));
    }
    if call == GameCall::DirectCharge && a.account.as_deref().unwrap_or_default().is_empty() {
        return Err(Failure::Usage(
            "directCharge 需要 --account（充值账号）".to_string(),
        ));
    }
    let quantity = if is_order {
        Some(a.quantity.unwrap_or(1))
    } else {
        a.quantity
    };
    let input = GameInput {
        call,
        order_id,
        sku_id: sku,
        quantity: quantity.unwrap_or(1),
        total_price: price,
        account: a.account.as_deref(),
        brand_id: &a.brand_id,
        pin: "jd-sim",
        user_ip: "127.0.0.1",
    };
    let data_json = game::data_json(&input);
    let expect = game::Expect { quantity };
    let url = interface_url(&a.url, &call.path());
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    loop {
        let fields = game::fields(&a.customer_id, &data_json, &now_timestamp());
        let signed = game::sign(&fields, &a.private_key);
        let answer = post_or_show(&url, &signed, json_out, "京东游戏点卡").await?;
        let checked = game::check_answer(call, answer.status, &answer.body, &expect);
        if checked.in_progress && checked.report.is_valid() && Instant::now() < deadline {
            if !json_out {
                println!("· 充值中，0.5 秒后再查 (in progress, asking again)");
            }
            tokio::time::sleep(POLL).await;
            continue;
        }
        if json_out {
            print_json(&json!({
                "request": game::request_json(&url, &signed, &data_json),
                "httpStatus": answer.status,
                "answer": checked.answer,
                "data": checked.data,
                "cards": checked.cards,
                "report": checked.report.to_json(),
            }));
        } else {
            let title = format!("京东游戏点卡 {} {}", call.name(), call.label_zh());
            print_request(&title, &url, &signed, Some(&data_json));
            print_answer(&answer, checked.answer.as_ref());
            if let Some(data) = &checked.data {
                println!("data（已解码）(data, decoded):");
                for line in serde_json::to_string_pretty(data)
                    .unwrap_or_default()
                    .lines()
                {
                    println!("  {line}");
                }
            }
            if !checked.cards.is_empty() {
                println!("卡密 (cards):");
                print!("{}", game::render_cards(&checked.cards));
            }
            print_report(&checked.report);
        }
        return Ok(checked.report.is_valid());
    }
}

struct Listener {
    keys: Keys,
    mode: callback::AnswerMode,
    json: bool,
    received: AtomicU32,
    exit_after: Option<u32>,
    all_valid: AtomicBool,
    done: Notify,
}

async fn on_callback(State(l): State<Arc<Listener>>, uri: Uri, body: Bytes) -> Response {
    // JD accepts GET too (jd-game.md §2.2): then the parameters are the query string.
    let body: Vec<u8> = if body.is_empty() {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    } else {
        body.to_vec()
    };
    let path = uri.path().to_string();
    let checked = callback::check(&path, &body, &l.keys, l.mode);
    if l.json {
        println!("{}", checked.to_json(&path));
    } else {
        print!("{}", checked.render(&path));
    }
    if !checked.report.is_valid() {
        l.all_valid.store(false, Ordering::SeqCst);
    }
    let n = l.received.fetch_add(1, Ordering::SeqCst) + 1;
    if l.exit_after.is_some_and(|max| n >= max) {
        l.done.notify_one();
    }
    let status = StatusCode::from_u16(checked.reply.http_status).unwrap_or(StatusCode::OK);
    let content_type = if checked.reply.body.starts_with('{') {
        "application/json;charset=UTF-8"
    } else {
        "text/plain;charset=UTF-8"
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        checked.reply.body,
    )
        .into_response()
}

/// `listen`: serves the callback endpoints until Ctrl-C or `--exit-after` callbacks.
pub async fn listen(a: ListenArgs, json_out: bool) -> Outcome {
    let aes = match a.aes_key.as_deref() {
        Some(k) => Some(aes_key(k)?),
        None => None,
    };
    let addr: SocketAddr = format!("{}:{}", a.bind, a.port)
        .parse()
        .map_err(|_| Failure::Usage(format!("--bind {} 不是 IP 地址", a.bind)))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Other(format!("无法监听 (cannot listen on) {addr}: {e}")))?;
    let state = Arc::new(Listener {
        keys: Keys {
            md5_key: a.md5_key,
            aes_key: aes,
            vendor_id: a.vendor_id,
            private_key: a.private_key,
            customer_id: a.customer_id,
        },
        mode: a.answer,
        json: json_out,
        received: AtomicU32::new(0),
        exit_after: a.exit_after,
        all_valid: AtomicBool::new(true),
        done: Notify::new(),
    });
    if !json_out {
        let base = format!("http://{addr}");
        println!("jd-sim listen: 监听 (listening on) {base}");
        println!("  通用交易 notifyUrl: {base}/vtp （回调到 {base}/vtp/produce/result）");
        println!("  游戏点卡直充回调地址 (direct callback URL): {base}/api/gameApi.action");
        println!("  游戏点卡卡密回调地址 (card callback URL): {base}/api/cardApi.action");
        if let Some(n) = a.exit_after {
            println!("  收到 {n} 个回调后退出 (exits after {n} callbacks)");
        }
        for (missing, what) in [
            (state.keys.md5_key.is_none(), "--md5-key（通用交易验签）"),
            (
                state.keys.aes_key.is_none(),
                "--aes-key（通用交易解密卡密）",
            ),
            (
                state.keys.private_key.is_none(),
                "--private-key（游戏点卡验签）",
            ),
        ] {
            if missing {
                println!("  · 未提供 {what}：这类回调将报告为无法验证");
            }
        }
    }
    let app = axum::Router::new()
        .fallback(on_callback)
        .with_state(state.clone());
    let stop = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = stop.done.notified() => {}
            }
        })
        .await
        .map_err(|e| Failure::Other(format!("监听出错 (listener failed): {e}")))?;
    let received = state.received.load(Ordering::SeqCst);
    let valid = state.all_valid.load(Ordering::SeqCst);
    if !json_out {
        println!(
            "共收到 {received} 个回调 (callbacks received)；{}",
            if valid {
                "全部有效 (all valid)"
            } else {
                "有问题 (some had problems)"
            }
        );
    }
    Ok(valid)
}
