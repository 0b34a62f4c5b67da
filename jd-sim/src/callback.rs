//! The result callbacks a merchant sends to JD, checked as JD checks them, and the answer JD
//! gives back: 通用交易 `…/produce/result` (jd-general.md §6, codes §7.3) and 游戏点卡
//! `gameApi.action` / `cardApi.action` (jd-game.md §6).

use base64::Engine;
use common::crypto::JdAesKey;
use common::protocol::form;
use common::protocol::jd_game::{
    self as game_proto, GameCallback, GameOrderStatus, GameParams, RetCode,
};
use common::protocol::jd_general::{
    self as general_proto, CALLBACK_PATH, ProduceResultCallback, ProduceStatus,
    callback_code_label_zh,
};
use serde_json::{Value, json};

use crate::report::Report;
use crate::wire::{excerpt, is_timestamp};

/// How `listen` answers a callback that passed every check (one that did not is answered with
/// the error code JD would give).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnswerMode {
    /// JD's success answer: 通用交易 `{"code":"0"}`, 游戏点卡 `{"retCode":"100"}`.
    Success,
    /// A refusal the merchant must retry: 通用交易 code 500, 游戏点卡 retCode 999.
    Fail,
    /// HTTP 500 with a non-JSON body, as a JD outage looks.
    Error,
}

/// The answer `listen` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub http_status: u16,
    pub body: String,
}

/// Which callback a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    /// 通用交易 produce result: `notifyUrl + /produce/result` (or the self-test
    /// `/vtp/produce/notify`).
    General,
    /// 游戏点卡 direct-charge result: `…/gameApi.action`.
    GameDirect,
    /// 游戏点卡 card result: `…/cardApi.action`.
    GameCard,
}

impl CallbackKind {
    pub fn of_path(path: &str) -> Option<CallbackKind> {
        let path = path.trim_end_matches('/');
        if path.ends_with(CALLBACK_PATH) || path.ends_with("/produce/notify") {
            Some(CallbackKind::General)
        } else if path.ends_with("/gameApi.action") {
            Some(CallbackKind::GameDirect)
        } else if path.ends_with("/cardApi.action") {
            Some(CallbackKind::GameCard)
        } else {
            None
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CallbackKind::General => "通用交易生产结果回调 (produce result)",
            CallbackKind::GameDirect => "游戏点卡直充回调 (gameApi.action)",
            CallbackKind::GameCard => "游戏点卡卡密回调 (cardApi.action)",
        }
    }
}

/// The keys `listen` checks callbacks with; a callback whose key is missing is reported, not
/// trusted.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub md5_key: Option<String>,
    pub aes_key: Option<JdAesKey>,
    pub vendor_id: Option<String>,
    pub private_key: Option<String>,
    pub customer_id: Option<String>,
}

/// One checked callback: what it said (decoded: cards decrypted, data decoded), the checks and
/// the answer given.
#[derive(Debug, Clone)]
pub struct Checked {
    pub kind: Option<CallbackKind>,
    pub fields: Vec<(String, String)>,
    pub decoded: Value,
    pub report: Report,
    pub reply: Reply,
}

impl Checked {
    /// The printed form: path, fields, decoded content, checks, answer.
    pub fn render(&self, path: &str) -> String {
        let mut out = format!(
            "== 收到回调 (callback received) POST {path} — {}\n",
            self.kind
                .map(CallbackKind::label)
                .unwrap_or("未知路径 (unknown path)")
        );
        out.push_str("表单 (form):\n");
        for (k, v) in &self.fields {
            out.push_str(&format!("  {k} = {v}\n"));
        }
        if !self.decoded.is_null() {
            out.push_str("解码 (decoded):\n");
            let pretty = serde_json::to_string_pretty(&self.decoded).unwrap_or_default();
            for line in pretty.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out.push_str(&self.report.render());
        out.push_str(&format!(
            "应答 (answered): HTTP {} {}\n",
            self.reply.http_status, self.reply.body
        ));
        out
    }

    pub fn to_json(&self, path: &str) -> Value {
        json!({
            "path": path,
            "kind": self.kind.map(CallbackKind::label),
            "form": self.fields.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "decoded": self.decoded,
            "report": self.report.to_json(),
            "answer": {"httpStatus": self.reply.http_status, "body": self.reply.body},
        })
    }
}

/// Checks one callback posted to `path` and decides JD's answer.
pub fn check(path: &str, body: &[u8], keys: &Keys, mode: AnswerMode) -> Checked {
    let fields = form::parse_form(body);
    let kind = CallbackKind::of_path(path);
    let mut r = Report::default();
    let (decoded, refusal) = match kind {
        Some(CallbackKind::General) => check_general(&fields, keys, &mut r),
        Some(kind) => check_game(kind, &fields, keys, &mut r),
        None => {
            r.problem(
                "不是京东的回调路径（应以 /produce/result、/gameApi.action 或 /cardApi.action 结尾）",
                "not a JD callback path",
                path.to_string(),
            );
            (Value::Null, Some(Refusal::Unknown))
        }
    };
    if fields.is_empty() {
        r.note(format!("请求体 (body): {}", excerpt(body)));
    }
    let reply = reply(kind, refusal, mode);
    Checked {
        kind,
        fields,
        decoded,
        report: r,
        reply,
    }
}

/// Why JD refuses a callback, as the code it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Signature,
    Params,
    Quantity,
    Merchant,
    Unknown,
}

fn reply(kind: Option<CallbackKind>, refusal: Option<Refusal>, mode: AnswerMode) -> Reply {
    let general = |code: &str| Reply {
        http_status: 200,
        body: json!({"code": code, "message": callback_code_label_zh(code)}).to_string(),
    };
    let game = |code: RetCode, message: &str| Reply {
        http_status: 200,
        body: json!({"retCode": code.code().to_string(), "retMessage": message}).to_string(),
    };
    match (kind, refusal, mode) {
        (None, ..) => Reply {
            http_status: 404,
            body: "not found".to_string(),
        },
        (Some(CallbackKind::General), Some(refusal), _) => general(match refusal {
            Refusal::Signature => "10",
            Refusal::Quantity => "12",
            Refusal::Merchant => "19",
            Refusal::Params | Refusal::Unknown => "2",
        }),
        (Some(_), Some(Refusal::Signature), _) => {
            game(RetCode::SignFailed, RetCode::SignFailed.message_zh())
        }
        (Some(_), Some(_), _) => game(RetCode::InvalidParams, RetCode::InvalidParams.message_zh()),
        (Some(_), None, AnswerMode::Error) => Reply {
            http_status: 500,
            body: "系统繁忙".to_string(),
        },
        (Some(CallbackKind::General), None, AnswerMode::Success) => general("0"),
        (Some(CallbackKind::General), None, AnswerMode::Fail) => general("500"),
        (Some(_), None, AnswerMode::Success) => game(RetCode::Success, "接收成功"),
        (Some(_), None, AnswerMode::Fail) => {
            game(RetCode::SystemError, RetCode::SystemError.message_zh())
        }
    }
}

fn first_refusal(current: &mut Option<Refusal>, next: Refusal) {
    current.get_or_insert(next);
}

fn check_general(
    fields: &[(String, String)],
    keys: &Keys,
    r: &mut Report,
) -> (Value, Option<Refusal>) {
    let mut refusal = None;
    let mut decoded = serde_json::Map::new();
    for (k, v) in fields {
        decoded.insert(k.clone(), Value::String(v.clone()));
    }
    let received = form::first_value(fields, "sign").unwrap_or_default();
    match keys.md5_key.as_deref() {
        None => {
            r.problem(
                "未提供 --md5-key，无法验签",
                "no --md5-key: signature not verified",
                "",
            );
            first_refusal(&mut refusal, Refusal::Signature);
        }
        Some(key) => {
            let expected = general_proto::sign(fields, key);
            if received.is_empty() {
                r.problem("回调缺少 sign", "callback has no sign", "");
                first_refusal(&mut refusal, Refusal::Signature);
            } else if expected.eq_ignore_ascii_case(received) {
                r.ok("回调签名正确 (callback signature ok)");
            } else {
                r.problem(
                    "回调签名错误",
                    "callback signature mismatch",
                    format!("expected {expected} got {received}"),
                );
                first_refusal(&mut refusal, Refusal::Signature);
            }
        }
    }
    match form::first_value(fields, "timestamp") {
        Some(t) if is_timestamp(t) => {}
        other => {
            r.problem(
                "timestamp 缺失或不是 yyyyMMddHHmmss",
                "timestamp missing or not yyyyMMddHHmmss",
                other.unwrap_or_default().to_string(),
            );
            first_refusal(&mut refusal, Refusal::Params);
        }
    }
    let callback = match ProduceResultCallback::parse(fields) {
        Ok(c) => c,
        Err(e) => {
            r.problem("回调字段错误", "invalid callback field", e.reason);
            first_refusal(&mut refusal, Refusal::Params);
            return (Value::Object(decoded), refusal);
        }
    };
    if let Some(vendor) = keys.vendor_id.as_deref()
        && vendor.trim() != callback.vendor_id.to_string()
    {
        r.problem(
            "vendorId 与 --vendor-id 不符",
            "vendorId differs from --vendor-id",
            format!("expected {vendor} got {}", callback.vendor_id),
        );
        first_refusal(&mut refusal, Refusal::Merchant);
    }
    match callback.produce_status {
        ProduceStatus::Success => r.ok(format!(
            "jdOrderNo {} agentOrderNo {}: produceStatus 1 生产成功 (produced)",
            callback.jd_order_no, callback.agent_order_no
        )),
        ProduceStatus::Failed => r.ok(format!(
            "jdOrderNo {} agentOrderNo {}: produceStatus 2 生产失败，京东将退款 (failed, JD refunds)",
            callback.jd_order_no, callback.agent_order_no
        )),
        other => {
            r.problem(
                "回调的 produceStatus 只能是 1 或 2",
                "a callback's produceStatus must be 1 or 2",
                other.code().to_string(),
            );
            first_refusal(&mut refusal, Refusal::Params);
        }
    }
    match (callback.produce_status, callback.product.as_deref()) {
        (ProduceStatus::Success, Some(product)) => match keys.aes_key.as_ref() {
            None => r.problem(
                "未提供 --aes-key，无法解密 product",
                "no --aes-key: product not decrypted",
                "",
            ),
            Some(aes) => match general_proto::decrypt_cards(product, aes) {
                Ok(cards) => {
                    r.ok(format!(
                        "product 已用 AES-256-ECB 解密 (product decrypted): {} 张卡密 (cards)",
                        cards.len()
                    ));
                    let before = r.is_valid();
                    crate::general::check_cards(r, &cards, Some(callback.quantity));
                    if before && !r.is_valid() {
                        first_refusal(&mut refusal, Refusal::Quantity);
                    }
                    decoded.insert(
                        "product".to_string(),
                        serde_json::to_value(&cards).unwrap_or(Value::Null),
                    );
                }
                Err(e) => {
                    r.problem("product 无法解密", "cannot decrypt product", e.to_string());
                    first_refusal(&mut refusal, Refusal::Params);
                }
            },
        },
        (ProduceStatus::Success, None) => r.note(
            "成功回调没有 product：仅直充商品可以这样 (no product: only direct-recharge goods may omit it)",
        ),
        (_, Some(_)) => r.note("失败回调带了 product，京东不读取 (product on a failure is ignored)"),
        _ => {}
    }
    (Value::Object(decoded), refusal)
}

fn check_game(
    kind: CallbackKind,
    fields: &[(String, String)],
    keys: &Keys,
    r: &mut Report,
) -> (Value, Option<Refusal>) {
    let mut refusal = None;
    let params = match GameParams::parse(fields) {
        Ok(p) => p,
        Err(e) => {
            r.problem("回调参数错误", "invalid callback parameters", e.to_string());
            let why = if e.ret_code() == RetCode::SignFailed {
                Refusal::Signature
            } else {
                Refusal::Params
            };
            return (Value::Null, Some(why));
        }
    };
    match keys.private_key.as_deref() {
        None => {
            r.problem(
                "未提供 --private-key，无法验签",
                "no --private-key: signature not verified",
                "",
            );
            first_refusal(&mut refusal, Refusal::Signature);
        }
        Some(key) if params.verify_signature(key) => r.ok("回调签名正确 (callback signature ok)"),
        Some(key) => {
            let unsigned: Vec<(String, String)> = params
                .params
                .iter()
                .filter(|(k, _)| k != "sign")
                .cloned()
                .collect();
            r.problem(
                "回调签名错误",
                "callback signature mismatch",
                format!(
                    "expected {} got {}",
                    game_proto::sign(&unsigned, key),
                    params.sign
                ),
            );
            first_refusal(&mut refusal, Refusal::Signature);
        }
    }
    if let Some(customer) = keys.customer_id.as_deref()
        && customer.trim() != params.customer_id
    {
        r.problem(
            "customerId 与 --customer-id 不符",
            "customerId differs from --customer-id",
            format!("expected {customer} got {}", params.customer_id),
        );
        first_refusal(&mut refusal, Refusal::Params);
    }
    if !is_timestamp(params.timestamp.trim()) {
        r.problem(
            "timestamp 不是 yyyyMMddHHmmss",
            "timestamp is not yyyyMMddHHmmss",
            params.timestamp.clone(),
        );
        first_refusal(&mut refusal, Refusal::Params);
    }
    // §2.2: callback data is Base64 of GBK bytes. Non-ASCII bytes that are valid UTF-8 are the
    // classic mistake (JD would show mojibake to the buyer).
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(params.data.trim())
        && !bytes.is_ascii()
        && std::str::from_utf8(&bytes).is_ok()
    {
        r.problem(
            "data 是 UTF-8 编码，京东要求 GBK",
            "data is UTF-8, JD expects GBK",
            "",
        );
        first_refusal(&mut refusal, Refusal::Params);
    }
    let decoded: Value = game_proto::decode_data(&params.data)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let callback = match GameCallback::from_params(&params) {
        Ok(c) => c,
        Err(e) => {
            r.problem("回调 data 错误", "invalid callback data", e.to_string());
            first_refusal(&mut refusal, Refusal::Params);
            return (decoded, refusal);
        }
    };
    let order = callback.order_id.to_string();
    match callback.order_status {
        GameOrderStatus::Success => {
            r.ok(format!("orderId {order}: orderStatus 0 充值成功 (succeeded)"));
            match kind {
                CallbackKind::GameCard if callback.cardinfos.is_empty() => {
                    r.problem(
                        "卡密订单成功回调缺少 cardinfos",
                        "card success callback without cardinfos",
                        "",
                    );
                    first_refusal(&mut refusal, Refusal::Params);
                }
                CallbackKind::GameCard => {
                    let before = r.is_valid();
                    crate::game::check_card_limits(r, &callback.cardinfos);
                    r.note(format!(
                        "{} 张卡密 (cards)；回调不带购买数量，数量请与下单时的 buyNum 核对 (compare with the order's buyNum)",
                        callback.cardinfos.len()
                    ));
                    if before && !r.is_valid() {
                        first_refusal(&mut refusal, Refusal::Params);
                    }
                }
                _ if !callback.cardinfos.is_empty() => r.problem(
                    "直充回调带了 cardinfos（卡密应回调 cardApi.action）",
                    "direct callback with cardinfos (cards go to cardApi.action)",
                    "",
                ),
                _ => {}
            }
        }
        GameOrderStatus::Processing => r.note(format!(
            "orderId {order}: orderStatus 1 充值中，回调没有意义 (in progress: a pointless callback)"
        )),
        GameOrderStatus::Failed => {
            r.ok(format!(
                "orderId {order}: orderStatus 2 充值失败 (failed)；京东会再查询确认后退款 (JD queries again, then refunds)"
            ));
            match (&callback.failed_code, callback.failed_reason.as_deref()) {
                (Some(code), Some(reason)) => {
                    r.ok(format!("failedCode {} failedReason「{reason}」", code.code()));
                    if reason.chars().count() > 100 {
                        r.problem(
                            "failedReason 超过 100 个字符",
                            "failedReason longer than 100 characters",
                            "",
                        );
                    }
                }
                _ => {
                    r.problem(
                        "失败回调必须带 failedCode 和 failedReason",
                        "a failure callback needs failedCode and failedReason",
                        "",
                    );
                    first_refusal(&mut refusal, Refusal::Params);
                }
            }
        }
    }
    (decoded, refusal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::domain::PlatformOrderNo;
    use common::protocol::jd_game::CardInfo;
    use common::protocol::vectors::game::{
        CUSTOMER_ID, K as GAME_K, V3_FORM_BODY, V4_CARD, V4_DATA, V4_SIGN, V4_TIMESTAMP,
    };
    use common::protocol::vectors::general::{A2_CIPHER, K, S7_SIGN};

    fn keys() -> Keys {
        Keys {
            md5_key: Some(K.to_string()),
            aes_key: Some(JdAesKey::new(K).unwrap()),
            vendor_id: Some("1201".into()),
            private_key: Some(GAME_K.to_string()),
            customer_id: Some(CUSTOMER_ID.into()),
        }
    }

    fn s7(quantity: u32) -> ProduceResultCallback {
        ProduceResultCallback {
            vendor_id: 1201,
            jd_order_no: PlatformOrderNo::from_long(10002),
            agent_order_no: "SP00001".into(),
            produce_status: ProduceStatus::Success,
            quantity,
            product: Some(A2_CIPHER.into()),
        }
    }

    #[test]
    fn s7_general_callback_is_verified_and_decrypted() {
        let body = s7(1).to_form_body(K, "20210208112401");
        assert!(body.contains(S7_SIGN));
        let c = check(
            "/vtp/produce/result",
            body.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(c.report.is_valid(), "{}", c.report.render());
        assert_eq!(c.kind, Some(CallbackKind::General));
        assert_eq!(c.decoded["product"][0]["cardNumber"], "CARD0001");
        assert_eq!(c.reply.http_status, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&c.reply.body).unwrap(),
            json!({"code": "0", "message": "成功"})
        );
        let text = c.render("/vtp/produce/result");
        assert!(text.contains("回调签名正确") && text.contains("\"cardNumber\": \"CARD0001\""));

        let fail = check(
            "/vtp/produce/result",
            body.as_bytes(),
            &keys(),
            AnswerMode::Fail,
        );
        assert!(fail.reply.body.contains("\"500\""));
        let error = check(
            "/vtp/produce/result",
            body.as_bytes(),
            &keys(),
            AnswerMode::Error,
        );
        assert_eq!(error.reply.http_status, 500);
    }

    #[test]
    fn general_callback_problems_get_jds_codes() {
        // Wrong key: code 10.
        let body = s7(1).to_form_body("12345678901234567890123456789013", "20210208112401");
        let c = check(
            "/x/produce/result",
            body.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(
            c.report
                .render()
                .contains("✗ 回调签名错误 (callback signature mismatch): expected ")
        );
        assert!(c.reply.body.contains("\"10\""));
        // Quantity 2 with one card: code 12.
        let body = s7(2).to_form_body(K, "20210208112401");
        let c = check(
            "/x/produce/result",
            body.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(c.report.render().contains("卡密数量与 quantity 不符"));
        assert!(c.reply.body.contains("\"12\""), "{}", c.reply.body);
        // No key given: not trusted.
        let c = check(
            "/x/produce/result",
            s7(1).to_form_body(K, "20210208112401").as_bytes(),
            &Keys::default(),
            AnswerMode::Success,
        );
        assert!(c.report.render().contains("未提供 --md5-key"));
        // Unknown path: 404.
        let c = check("/elsewhere", b"a=1", &keys(), AnswerMode::Success);
        assert_eq!(c.reply.http_status, 404);
        assert!(!c.report.is_valid());
    }

    #[test]
    fn v4_game_card_callback_is_verified_and_decoded() {
        let body = form::encode_form(&[
            ("customerId", CUSTOMER_ID),
            ("data", V4_DATA),
            ("timestamp", V4_TIMESTAMP),
            ("sign", V4_SIGN),
        ]);
        let c = check(
            "/api/cardApi.action",
            body.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(c.report.is_valid(), "{}", c.report.render());
        assert_eq!(c.decoded["cardinfos"][0]["cardno"], V4_CARD.0);
        assert_eq!(
            serde_json::from_str::<Value>(&c.reply.body).unwrap(),
            json!({"retCode": "100", "retMessage": "接收成功"})
        );
        // The same card result on the direct path is wrong.
        let c = check(
            "/api/gameApi.action",
            body.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(c.report.render().contains("直充回调带了 cardinfos"));
    }

    #[test]
    fn v3_gbk_failure_callback_passes_and_utf8_is_caught() {
        let c = check(
            "/api/gameApi.action",
            V3_FORM_BODY.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(c.report.is_valid(), "{}", c.report.render());
        assert_eq!(c.decoded["failedReason"], "账户余额不足");

        // The same JSON as UTF-8 (correctly signed) is refused with 104.
        let utf8 = common::protocol::vectors::game::V3_DATA_UTF8;
        let mut params = vec![
            ("customerId".to_string(), CUSTOMER_ID.to_string()),
            ("data".to_string(), utf8.to_string()),
            ("timestamp".to_string(), "20240101120500".to_string()),
        ];
        let sign = game_proto::sign(&params, GAME_K);
        params.push(("sign".into(), sign));
        let c = check(
            "/api/gameApi.action",
            form::encode_form(&params).as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(
            c.report
                .render()
                .contains("data 是 UTF-8 编码，京东要求 GBK")
        );
        assert!(c.reply.body.contains("\"104\""));

        // A wrong private key: 106.
        let cb = GameCallback::success(
            PlatformOrderNo::from_long(1),
            vec![CardInfo {
                cardno: "A-1".into(),
                cardpass: "B-1".into(),
                expiretime: None,
            }],
        );
        let body = cb.to_form_body(CUSTOMER_ID, "another-key", "20240101120500");
        let c = check(
            "/api/cardApi.action",
            body.as_bytes(),
            &keys(),
            AnswerMode::Success,
        );
        assert!(c.report.render().contains("✗ 回调签名错误"));
        assert!(c.reply.body.contains("\"106\""));
    }
}
