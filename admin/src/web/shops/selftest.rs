//! The self-test of one shop (`GET /admin/config/shops/{id}/test`, admins: it uses the shop's
//! secrets server-side, and shows none of them).
//!
//! - JD shops: sample requests built exactly as the spec says and signed with the stored key by
//!   the same codec the gateway verifies with; the page shows the signing string with the key
//!   masked, the sign, and a ready-to-copy form body for 联调.
//! - Agiso shops: a balance query (`open/Bankroll/QueryDeposit`, which needs only the AppSecret's
//!   signature) against the shop's gateway, with a short timeout. The token is never sent or
//!   logged.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use common::crypto::JdAesKey;
use common::db::shops::{ShopRow, ShopSecret};
use common::domain::{Platform, ShopMode};
use common::protocol::{agiso, form, jd_game, jd_general};

use super::{load, merchant_label, mode_label};
use crate::web::auth::AdminUser;
use crate::web::page::{self, Chrome, Nav};
use crate::web::{AppState, WebResult};

/// How long the Agiso balance query may take.
pub const AGISO_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an Agiso answer read by the self-test (a balance answer is a few hundred bytes).
const MAX_AGISO_ANSWER: usize = 256 * 1024;
/// One client for every self-test call (its connections are reused).
static AGISO_CLIENT: std::sync::LazyLock<anyhow::Result<reqwest::Client>> =
    std::sync::LazyLock::new(|| common::http_client::client(AGISO_TIMEOUT));

/// One line of the key checks.
pub struct Check {
    pub label: String,
    pub ok: bool,
    pub text: String,
}

/// A signed sample request.
pub struct Sample {
    pub title: String,
    pub note: String,
    /// Where to POST it (empty when no public base URL is set).
    pub url: String,
    pub sign_string: String,
    pub sign: String,
    pub body: String,
}

/// The Agiso balance query.
pub struct AgisoCall {
    pub url: String,
    pub sign_string: String,
    pub ok: bool,
    pub text: String,
    pub raw: String,
}

#[derive(Template)]
#[template(path = "config/selftest.html")]
struct SelfTestPage {
    chrome: Chrome,
    shop_id: u64,
    shop_name: String,
    platform_label: &'static str,
    merchant: String,
    mode: &'static str,
    base_missing: bool,
    checks: Vec<Check>,
    samples: Vec<Sample>,
    agiso: Option<AgisoCall>,
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (row, platform) = load(&state, &id).await?;
    let base = crate::web::urls::public_base_url(&state).await?;
    let mut checks = Vec::new();
    let mut samples = Vec::new();
    let mut agiso_call = None;
    let secret = |which: ShopSecret, label: &str, checks: &mut Vec<Check>| match row
        .secret(&state.key, which)
    {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            checks.push(Check {
                label: label.to_owned(),
                ok: false,
                text: "未设置，请在编辑页填写".to_owned(),
            });
            None
        }
        Err(_) => {
            checks.push(Check {
                label: label.to_owned(),
                ok: false,
                text: "无法解密（MASTER_KEY 与保存时不同？），请重新填写".to_owned(),
            });
            None
        }
    };
    let now = chrono::Utc::now();
    match platform {
        Platform::JdGeneral => {
            let md5 = secret(ShopSecret::Md5Key, "MD5 密钥", &mut checks);
            let aes = secret(ShopSecret::AesKey, "AES 密钥", &mut checks);
            if let Some(k) = &md5 {
                checks.push(Check {
                    label: "MD5 密钥".into(),
                    ok: true,
                    text: format!("{}（{} 个字符）", page::mask(k), k.chars().count()),
                });
            }
            if let Some(k) = &aes {
                checks.push(aes_check(k));
            }
            if let Some(k) = &md5 {
                let sku = sample_sku(&state, platform).await?;
                samples = jd_general_samples(&row, k, &sku, &now, base.as_deref());
            }
        }
        Platform::JdGame => {
            if let Some(k) = secret(ShopSecret::PrivateKey, "私钥", &mut checks) {
                checks.push(Check {
                    label: "私钥".into(),
                    ok: true,
                    text: format!("{}（{} 个字符）", page::mask(&k), k.chars().count()),
                });
                let test = row.mode == ShopMode::Test;
                checks.push(Check {
                    label: "直充回调地址".into(),
                    ok: true,
                    text: row.direct_callback_url.clone().unwrap_or_else(|| {
                        jd_game::callback_url(jd_game::GameOrderKind::Direct, test).to_owned()
                    }),
                });
                checks.push(Check {
                    label: "卡密回调地址".into(),
                    ok: true,
                    text: row.card_callback_url.clone().unwrap_or_else(|| {
                        jd_game::callback_url(jd_game::GameOrderKind::Card, test).to_owned()
                    }),
                });
                let sku = sample_sku(&state, platform).await?;
                samples = jd_game_samples(&row, &k, &sku, &now, base.as_deref());
            }
        }
        Platform::Agiso => {
            let app_secret = secret(ShopSecret::AppSecret, "AppSecret", &mut checks);
            if let Some(t) = secret(ShopSecret::AccessToken, "AccessToken", &mut checks) {
                checks.push(Check {
                    label: "AccessToken".into(),
                    ok: true,
                    text: format!("{}（余额查询不需要令牌，未发送）", page::mask(&t)),
                });
            }
            if let Some(s) = &app_secret {
                let gateway = row
                    .base_url
                    .clone()
                    .unwrap_or_else(|| agiso::GATEWAY_BASE.to_owned());
                tracing::info!(shop = row.id, user = %user.username, "agiso balance self-test");
                agiso_call = Some(agiso_balance(&gateway, s, now.timestamp()).await);
            }
        }
    }
    page::render(&SelfTestPage {
        chrome: Chrome::new(&user, Nav::Shops),
        shop_id: row.id,
        shop_name: row.name.clone(),
        platform_label: platform.label_zh(),
        merchant: if row.agiso_service.is_empty() {
            format!("{} {}", merchant_label(platform), row.merchant_id)
        } else {
            format!(
                "{} {}（{}）",
                merchant_label(platform),
                row.merchant_id,
                row.agiso_service
            )
        },
        mode: mode_label(row.mode),
        base_missing: base.is_none() && platform != Platform::Agiso,
        checks,
        samples,
        agiso: agiso_call,
    })
}

fn aes_check(k: &str) -> Check {
    match JdAesKey::new(k) {
        Ok(key) => {
            // A sample card encrypted as JD will receive it (AES-256-ECB, PKCS7, Base64).
            let sample = jd_general::cards_json(&[jd_general::CardItem {
                card_number: "TEST-0001".into(),
                password: "TEST-PASS".into(),
                expiry_date: "-".into(),
                limit_times: None,
            }]);
            let enc = key.encrypt_b64(sample.as_bytes());
            Check {
                label: "AES 密钥".into(),
                ok: true,
                text: format!(
                    "{}（32 个字符，正确）；示例卡密 {sample} 加密为 {enc}",
                    page::mask(k)
                ),
            }
        }
        Err(_) => Check {
            label: "AES 密钥".into(),
            ok: false,
            text: format!(
                "{}：长度为 {} 个字节，必须正好 32 个字符",
                page::mask(k),
                k.len()
            ),
        },
    }
}

/// A SKU of the platform for the samples (any product's), or a placeholder.
async fn sample_sku(state: &AppState, platform: Platform) -> WebResult<String> {
    let sku = super::queries::first_sku(&state.db, platform).await?;
    Ok(sku.unwrap_or_else(|| "45001".to_owned()))
}

fn endpoint(base: Option<&str>, path: &str) -> String {
    base.map(|b| format!("{b}{path}")).unwrap_or_default()
}

/// `beginDistill` (a card order) and `findDistill` as JD sends them (§4, §5 of the spec).
pub fn jd_general_samples(
    row: &ShopRow,
    md5_key: &str,
    sku: &str,
    now: &chrono::DateTime<chrono::Utc>,
    base: Option<&str>,
) -> Vec<Sample> {
    let ts = common::protocol::beijing_timestamp(*now);
    let jd_order_no = format!("9{}", now.timestamp());
    let begin: Vec<(&str, String)> = vec![
        ("jdOrderNo", jd_order_no.clone()),
        ("payTime", ts.clone()),
        ("notifyUrl", "https://vtpnotify.jd.com/vtp".into()),
        ("quantity", "1".into()),
        ("wareNo", sku.to_owned()),
        ("totalPrice", "100".into()),
        ("vendorId", row.merchant_id.clone()),
        ("timestamp", ts.clone()),
    ];
    let find: Vec<(&str, String)> = vec![
        ("jdOrderNo", jd_order_no),
        ("vendorId", row.merchant_id.clone()),
        ("timestamp", ts),
    ];
    let one = |title: &str, note: &str, path: &str, fields: &[(&str, String)]| Sample {
        title: title.to_owned(),
        note: note.to_owned(),
        url: endpoint(base, path),
        sign_string: format!(
            "{}{}",
            jd_general::sign_string(fields, ""),
            page::mask(md5_key)
        ),
        sign: jd_general::sign(fields, md5_key),
        body: form::encode_form(&jd_general::sign_form(fields, md5_key)),
    };
    vec![
        one(
            "beginDistill（提交充值 / 提取卡密）",
            "注意：提交到生产网关会创建一笔真实订单，仅用于联调。",
            "/api/jd/general/beginDistill",
            &begin,
        ),
        one(
            "findDistill（生产反查）",
            "只查询，不创建订单；订单不存在时网关回答 JDO_500。",
            "/api/jd/general/findDistill",
            &find,
        ),
    ]
}

/// `directCharge` and `cardQuery` as JD sends them (§2.1, §3 of the spec).
pub fn jd_game_samples(
    row: &ShopRow,
    private_key: &str,
    sku: &str,
    now: &chrono::DateTime<chrono::Utc>,
    base: Option<&str>,
) -> Vec<Sample> {
    let ts = common::protocol::beijing_timestamp(*now);
    let order_id = format!("9{}", now.timestamp());
    let data = |json: String| jd_game::encode_answer_data(&json);
    let charge = serde_json::json!({
        "orderId": order_id,
        "buyNum": "1",
        "skuId": sku,
        "brandId": "1000000",
        "totalPrice": "1.00",
        "gameAccount": "13800000000",
    })
    .to_string();
    let query = serde_json::json!({ "orderId": order_id }).to_string();
    let one = |title: &str, note: &str, path: &str, json: String| {
        let params: Vec<(&str, String)> = vec![
            ("customerId", row.merchant_id.clone()),
            ("data", data(json.clone())),
            ("timestamp", ts.clone()),
        ];
        let sign = jd_game::sign(&params, private_key);
        let mut sent = params.clone();
        sent.push(("sign", sign.clone()));
        Sample {
            title: title.to_owned(),
            note: format!("{note} data 解码后：{json}"),
            url: endpoint(base, path),
            sign_string: format!(
                "{}{}",
                jd_game::sign_string(&params, ""),
                page::mask(private_key)
            ),
            sign,
            body: form::encode_form(&sent),
        }
    };
    vec![
        one(
            "directCharge（直充接单）",
            "注意：提交到生产网关会创建一笔真实订单，仅用于联调。",
            "/api/jd/game/directCharge",
            charge,
        ),
        one(
            "cardQuery（卡密订单查询）",
            "只查询；订单不存在时网关回答 101。",
            "/api/jd/game/cardQuery",
            query,
        ),
    ]
}

/// `POST {gateway}/open/Bankroll/QueryDeposit` signed with the AppSecret (spec §4.6).
pub async fn agiso_balance(gateway: &str, app_secret: &str, timestamp: i64) -> AgisoCall {
    let url = format!(
        "{}/open/Bankroll/QueryDeposit",
        gateway.trim_end_matches('/')
    );
    let params = agiso::signed_form::<&str, &str>(&[], app_secret, timestamp);
    let unsigned: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "sign")
        .cloned()
        .collect();
    let m = page::mask(app_secret);
    let sign_string = format!("{m}{}{m}", agiso::sign_string(&unsigned, ""));
    let fail = |text: String, raw: String| AgisoCall {
        url: url.clone(),
        sign_string: sign_string.clone(),
        ok: false,
        text,
        raw,
    };
    let client = match &*AGISO_CLIENT {
        Ok(c) => c,
        Err(_) => return fail("无法创建 HTTP 客户端".into(), String::new()),
    };
    let resp = client
        .post(&url)
        .header(agiso::API_VERSION_HEADER.0, agiso::API_VERSION_HEADER.1)
        .form(&params)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return fail(
                format!(
                    "请求超时（{} 秒内没有应答），请检查网关地址和网络",
                    AGISO_TIMEOUT.as_secs()
                ),
                String::new(),
            );
        }
        Err(e) if e.is_connect() => {
            return fail(
                "无法连接阿奇索网关，请检查网关地址和网络".into(),
                String::new(),
            );
        }
        Err(_) => return fail("请求阿奇索网关失败".into(), String::new()),
    };
    let status = resp.status();
    let body = match common::http_client::read_bounded(resp, MAX_AGISO_ANSWER).await {
        Ok(body) => body,
        Err(e) => return fail(format!("读取阿奇索网关应答失败：{e}"), String::new()),
    };
    let raw: String = String::from_utf8_lossy(&body).chars().take(2000).collect();
    if !status.is_success() {
        return fail(format!("阿奇索网关返回 HTTP {}", status.as_u16()), raw);
    }
    match agiso::AgisoEnvelope::parse(&body) {
        Ok(env) if env.is_success => {
            let balance = match &env.data {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            AgisoCall {
                url: url.clone(),
                sign_string: sign_string.clone(),
                ok: true,
                text: format!("签名校验通过，开放平台余额：{balance} 元"),
                raw,
            }
        }
        Ok(env) => fail(env.failure_reason_zh(), raw),
        Err(e) => fail(format!("应答无法识别：{e}"), raw),
    }
}
