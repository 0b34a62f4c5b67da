//! Result callbacks to JD (§6): where they go, the GBK `data` and the signed form, and JD's
//! answer to them.

use serde::Serialize;
use serde_json::Value;

use super::answer::{CardInfo, GameOrderStatus, json_string};
use super::codes::{GameError, RetCode};
use super::data::encode_callback_data;
use super::params::GameParams;
use super::signing::sign;
use crate::domain::PlatformOrderNo;
use crate::protocol::form;

/// Direct-charge result callback, production.
pub const DIRECT_CALLBACK_URL_PROD: &str = "https://card.jd.com/api/gameApi.action";
/// Direct-charge result callback, JD's pre-release (test) environment.
pub const DIRECT_CALLBACK_URL_TEST: &str = "https://card-pre.jd.com/api/gameApi.action";
/// Card-order result callback, production.
pub const CARD_CALLBACK_URL_PROD: &str = "https://card.jd.com/api/cardApi.action";
/// Card-order result callback, test. Not documented by JD: inferred by analogy with the
/// direct-charge test host [INFERRED, unverified].
pub const CARD_CALLBACK_URL_TEST: &str = "https://card-pre.jd.com/api/cardApi.action";
/// `failedReason` limit: 100 characters ≈ 30 Chinese characters; we cut at 30 characters.
pub const FAILED_REASON_MAX_CHARS: usize = 30;

/// Which kind of game-card order a callback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameOrderKind {
    /// 直充 (direct top-up): callback to `gameApi.action`.
    Direct,
    /// 卡密 (card): callback to `cardApi.action`.
    Card,
}

/// JD's callback URL for an order kind, test or production.
pub fn callback_url(kind: GameOrderKind, test: bool) -> &'static str {
    match (kind, test) {
        (GameOrderKind::Direct, false) => DIRECT_CALLBACK_URL_PROD,
        (GameOrderKind::Direct, true) => DIRECT_CALLBACK_URL_TEST,
        (GameOrderKind::Card, false) => CARD_CALLBACK_URL_PROD,
        (GameOrderKind::Card, true) => CARD_CALLBACK_URL_TEST,
    }
}

/// A result callback for a direct or card order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameCallback {
    /// Sent as a JSON string, as in JD's example.
    pub order_id: PlatformOrderNo,
    pub order_status: GameOrderStatus,
    /// Required when failed: a §4.1 code shown to the buyer.
    pub failed_code: Option<RetCode>,
    /// Required when failed; cut to 30 characters.
    pub failed_reason: Option<String>,
    /// Card orders on success: all N cards.
    pub cardinfos: Vec<CardInfo>,
    /// Gift-rights top-ups (`type=1`): the rights order id, sent with `"type":1`.
    pub rights_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GameCallbackJson<'a> {
    order_id: String,
    order_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_reason: Option<String>,
    #[serde(skip_serializing_if = "<[CardInfo]>::is_empty")]
    cardinfos: &'a [CardInfo],
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rights_id: Option<&'a str>,
}

impl GameCallback {
    /// Success; `cards` empty for direct top-ups.
    pub fn success(order_id: PlatformOrderNo, cards: Vec<CardInfo>) -> GameCallback {
        GameCallback {
            order_id,
            order_status: GameOrderStatus::Success,
            failed_code: None,
            failed_reason: None,
            cardinfos: cards,
            rights_id: None,
        }
    }

    /// Echo a gift-rights top-up's `rightsId` (with `"type":1`), as §6 requires.
    pub fn with_rights_id(mut self, rights_id: Option<String>) -> GameCallback {
        self.rights_id = rights_id;
        self
    }

    /// Final failure with the code and reason shown to the buyer.
    pub fn failed(order_id: PlatformOrderNo, code: RetCode, reason: &str) -> GameCallback {
        GameCallback {
            order_id,
            order_status: GameOrderStatus::Failed,
            failed_code: Some(code),
            failed_reason: Some(reason.to_string()),
            cardinfos: Vec::new(),
            rights_id: None,
        }
    }

    /// The JSON text (before GBK encoding). `orderId` and `orderStatus` are strings as in JD's
    /// example; `failedCode` is a number.
    pub fn to_json(&self) -> String {
        json_string(&GameCallbackJson {
            order_id: self.order_id.to_string(),
            order_status: self.order_status.code().to_string(),
            failed_code: self.failed_code.map(RetCode::code),
            failed_reason: self
                .failed_reason
                .as_deref()
                .map(|r| r.chars().take(FAILED_REASON_MAX_CHARS).collect()),
            cardinfos: &self.cardinfos,
            kind: self.rights_id.as_ref().map(|_| 1),
            rights_id: self.rights_id.as_deref(),
        })
    }

    /// `data`: Base64 of the GBK bytes of [`GameCallback::to_json`].
    pub fn data(&self) -> String {
        encode_callback_data(&self.to_json())
    }

    /// The signed form `customerId, data, timestamp, sign` (in that order). Each retry needs a
    /// fresh timestamp.
    pub fn to_form(
        &self,
        customer_id: &str,
        private_key: &str,
        timestamp: &str,
    ) -> Vec<(String, String)> {
        let mut params = vec![
            ("customerId".to_string(), customer_id.to_string()),
            ("data".to_string(), self.data()),
            ("timestamp".to_string(), timestamp.to_string()),
        ];
        let signature = sign(&params, private_key);
        params.push(("sign".to_string(), signature));
        params
    }

    /// The urlencoded body of [`GameCallback::to_form`].
    pub fn to_form_body(&self, customer_id: &str, private_key: &str, timestamp: &str) -> String {
        form::encode_form(&self.to_form(customer_id, private_key, timestamp))
    }

    /// Reads a callback as JD would (fake JD in system tests); verify the signature separately.
    pub fn from_params(params: &GameParams) -> Result<GameCallback, GameError> {
        let d = params.data_fields()?;
        let order_status = d
            .required_long("orderStatus")
            .ok()
            .and_then(|s| u8::try_from(s).ok())
            .and_then(GameOrderStatus::from_code)
            .ok_or_else(|| GameError::InvalidField {
                field: "orderStatus",
                why: "应为 0、1 或 2".to_string(),
            })?;
        let failed_code = match d.long("failedCode")? {
            Some(code) => Some(
                u16::try_from(code)
                    .ok()
                    .and_then(RetCode::from_code)
                    .ok_or_else(|| GameError::InvalidField {
                        field: "failedCode",
                        why: "不是已知的返回码".to_string(),
                    })?,
            ),
            None => None,
        };
        let cardinfos = match d.array("cardinfos") {
            Some(items) => serde_json::from_value(Value::Array(items)).map_err(|_| {
                GameError::InvalidField {
                    field: "cardinfos",
                    why: "卡密格式错误".to_string(),
                }
            })?,
            None => Vec::new(),
        };
        Ok(GameCallback {
            order_id: d.required_order_no("orderId")?,
            order_status,
            failed_code,
            failed_reason: d.text("failedReason"),
            cardinfos,
            rights_id: d.text("rightsId"),
        })
    }
}

/// What the notifier should do after JD answered a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// `retCode == "100"`.
    Delivered,
    /// Anything else; the notifier's schedule decides how long to keep trying (JD also polls).
    Retry {
        ret_code: Option<String>,
        reason: String,
    },
}

/// JD's answer to a callback: `{"retCode":"100","retMessage":"接收成功"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackAnswer;

impl CallbackAnswer {
    pub fn parse(body: &[u8]) -> CallbackVerdict {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            let text = String::from_utf8_lossy(body);
            let excerpt: String = text.chars().take(200).collect();
            return CallbackVerdict::Retry {
                ret_code: None,
                reason: format!("京东回调应答无法解析: {excerpt}"),
            };
        };
        let ret_code = match map.get("retCode") {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let message = map
            .get("retMessage")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match ret_code.as_deref() {
            Some("100") => CallbackVerdict::Delivered,
            Some(code) => {
                let meaning = RetCode::parse(code)
                    .map(RetCode::message_zh)
                    .unwrap_or("未知返回码");
                CallbackVerdict::Retry {
                    reason: format!("京东返回 retCode={code}（{meaning}）：{message}"),
                    ret_code: ret_code.clone(),
                }
            }
            None => CallbackVerdict::Retry {
                ret_code: None,
                reason: format!("京东回调应答缺少 retCode：{message}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::protocol::jd_game::answer::tests::v4_card;
    use crate::protocol::jd_game::data::decode_data;
    use crate::protocol::jd_game::signing::verify_sign;
    use crate::protocol::vectors::game::{
        CUSTOMER_ID, K, V3_DATA, V3_DATA_UTF8, V3_FORM_BODY, V3_JSON, V3_REASON_GBK, V3_SIGN,
        V3_TIMESTAMP, V4_DATA, V4_JSON, V4_SIGN, V4_TIMESTAMP, V6_BRAND_DATA, V6_CALLBACK_BODY,
        V6_CALLBACK_DATA,
    };
    use crate::protocol::vectors::pairs;

    #[test]
    fn v3_failure_callback_in_gbk() {
        let callback = GameCallback::failed(
            PlatformOrderNo::from_long(301189718928),
            RetCode::InsufficientBalance,
            "账户余额不足",
        );
        assert_eq!(callback.to_json(), V3_JSON);
        assert_eq!(callback.data(), V3_DATA);
        assert_ne!(callback.data(), V3_DATA_UTF8);
        let raw = STANDARD.decode(V3_DATA).expect("b64");
        assert!(raw.windows(12).any(|w| w == V3_REASON_GBK));
        let form_fields = callback.to_form(CUSTOMER_ID, K, V3_TIMESTAMP);
        assert_eq!(
            form_fields,
            pairs(&[
                ("customerId", CUSTOMER_ID),
                ("data", V3_DATA),
                ("timestamp", V3_TIMESTAMP),
                ("sign", V3_SIGN),
            ])
        );
        assert_eq!(
            callback.to_form_body(CUSTOMER_ID, K, V3_TIMESTAMP),
            V3_FORM_BODY
        );
    }

    #[test]
    fn callback_round_trips_through_fake_jd() {
        let callback = GameCallback::failed(
            PlatformOrderNo::from_long(301189718928),
            RetCode::InsufficientBalance,
            "账户余额不足",
        );
        let body = callback.to_form_body(CUSTOMER_ID, K, V3_TIMESTAMP);
        let params = GameParams::parse(&form::parse_form(body.as_bytes())).expect("params");
        assert!(params.verify_signature(K));
        assert_eq!(
            GameCallback::from_params(&params).expect("callback"),
            callback
        );
    }

    #[test]
    fn v4_card_success_callback() {
        let callback =
            GameCallback::success(PlatformOrderNo::from_long(301189718929), vec![v4_card()]);
        assert_eq!(callback.to_json(), V4_JSON);
        assert_eq!(callback.data(), V4_DATA);
        let f = callback.to_form(CUSTOMER_ID, K, V4_TIMESTAMP);
        assert_eq!(form::first_value(&f, "sign"), Some(V4_SIGN));
        assert!(verify_sign(&f, K));
        let params = GameParams::parse(&f).expect("params");
        assert_eq!(
            GameCallback::from_params(&params).expect("callback"),
            callback
        );
        // A direct top-up success carries no cardinfos.
        assert_eq!(
            GameCallback::success(PlatformOrderNo::from_long(301189718928), vec![]).to_json(),
            r#"{"orderId":"301189718928","orderStatus":"0"}"#
        );
    }

    #[test]
    fn failed_reason_is_cut_to_30_characters() {
        let reason = "充".repeat(40);
        let json = GameCallback::failed(
            PlatformOrderNo::from_long(1),
            RetCode::BrandOrderFailed,
            &reason,
        )
        .to_json();
        let v: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(
            v["failedReason"].as_str().map(|s| s.chars().count()),
            Some(30)
        );
        assert_eq!(v["failedCode"], 123);
    }

    #[test]
    fn v6_jd_doc_samples_decode() {
        assert_eq!(
            decode_data(V6_CALLBACK_DATA).expect("data"),
            r#"{"orderId":"301189718928","orderStatus":"0"}"#
        );
        assert_eq!(
            decode_data(V6_BRAND_DATA).expect("data"),
            r#"{"brandId":"52438"}"#
        );
        // Missing padding is tolerated.
        assert_eq!(
            decode_data(V6_BRAND_DATA.trim_end_matches('=')).expect("data"),
            r#"{"brandId":"52438"}"#
        );
        // JD's sample callback body, exactly as documented.
        let body = V6_CALLBACK_BODY;
        let params = GameParams::parse(&form::parse_form(body.as_bytes())).expect("params");
        assert_eq!(params.customer_id, "14156143");
        let callback = GameCallback::from_params(&params).expect("callback");
        assert_eq!(
            callback,
            GameCallback::success(PlatformOrderNo::from_long(301189718928), vec![])
        );
    }

    #[test]
    fn plus_signs_turned_into_spaces_are_restored() {
        let signed = GameCallback::failed(
            PlatformOrderNo::from_long(301189718928),
            RetCode::InsufficientBalance,
            "账户余额不足",
        )
        .to_form(CUSTOMER_ID, K, V3_TIMESTAMP);
        assert!(V3_DATA.contains('+'));
        // A sender that forgot to escape `+`: form decoding turns it into a space.
        let body = format!(
            "customerId=10817&data={}&timestamp=20240101120500&sign={}",
            V3_DATA.replace('=', "%3D"),
            form::first_value(&signed, "sign").unwrap_or_default()
        );
        let decoded = form::parse_form(body.as_bytes());
        assert!(form::first_value(&decoded, "data").is_some_and(|d| d.contains(' ')));
        let params = GameParams::parse(&decoded).expect("params");
        assert_eq!(params.data, V3_DATA);
        assert!(params.verify_signature(K));
        assert_eq!(
            decode_data(&V3_DATA.replace('+', " ")).expect("data"),
            V3_JSON
        );
    }

    #[test]
    fn callback_answers() {
        assert_eq!(
            CallbackAnswer::parse(r#"{"retCode":"100","retMessage":"接收成功"}"#.as_bytes()),
            CallbackVerdict::Delivered
        );
        assert_eq!(
            CallbackAnswer::parse(br#"{"retCode":100}"#),
            CallbackVerdict::Delivered
        );
        match CallbackAnswer::parse(r#"{"retCode":"104","retMessage":"传入的参数有误"}"#.as_bytes())
        {
            CallbackVerdict::Retry { ret_code, reason } => {
                assert_eq!(ret_code.as_deref(), Some("104"));
                assert!(
                    reason.contains("104") && reason.contains("传入的参数有误"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        for body in [&b"<html>"[..], b"", br#"{"retMessage":"x"}"#, b"\xff"] {
            assert!(matches!(
                CallbackAnswer::parse(body),
                CallbackVerdict::Retry { .. }
            ));
        }
    }

    #[test]
    fn callback_urls() {
        assert_eq!(
            callback_url(GameOrderKind::Direct, false),
            "https://card.jd.com/api/gameApi.action"
        );
        assert_eq!(
            callback_url(GameOrderKind::Direct, true),
            "https://card-pre.jd.com/api/gameApi.action"
        );
        assert_eq!(
            callback_url(GameOrderKind::Card, false),
            "https://card.jd.com/api/cardApi.action"
        );
        assert_eq!(
            callback_url(GameOrderKind::Card, true),
            "https://card-pre.jd.com/api/cardApi.action"
        );
    }
}
