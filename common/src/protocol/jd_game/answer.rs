//! Our answers to JD (§5): the `{retCode, retMessage, data}` envelope, always HTTP 200, the
//! `data` builders, and the code a failed order is answered with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codes::{GameError, RetCode};
use super::data::encode_answer_data;
use crate::domain::FailureReason;

/// The `retCode` / `failedCode` a failed order is answered and called back with. Always a code
/// without JD's retry flag: a query answered with a retry code is polled for 180 days instead of
/// refunded, so out-of-stock (110 is a retry code) maps to 123 [INFERRED].
pub fn failure_code(reason: FailureReason) -> RetCode {
    match reason {
        FailureReason::AccountInvalid => RetCode::WrongRechargeAccount,
        FailureReason::NoProduct => RetCode::NoSuchProduct,
        FailureReason::NotForSale => RetCode::NotForSale,
        FailureReason::PriceMismatch => RetCode::PriceMismatch,
        FailureReason::SupplierBalance => RetCode::InsufficientBalance,
        FailureReason::OutOfStock | FailureReason::UpstreamFailed | FailureReason::Manual => {
            RetCode::BrandOrderFailed
        }
    }
}

/// `orderStatus` (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameOrderStatus {
    /// 0 充值成功
    Success,
    /// 1 充值中
    Processing,
    /// 2 充值失败 (callbacks; queries answer a non-retry retCode instead)
    Failed,
}

impl GameOrderStatus {
    pub fn code(self) -> u8 {
        match self {
            GameOrderStatus::Success => 0,
            GameOrderStatus::Processing => 1,
            GameOrderStatus::Failed => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<GameOrderStatus> {
        match code {
            0 => Some(GameOrderStatus::Success),
            1 => Some(GameOrderStatus::Processing),
            2 => Some(GameOrderStatus::Failed),
            _ => None,
        }
    }
}

/// One card, in plain text inside the Base64 JSON (no encryption on this platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInfo {
    pub cardno: String,
    pub cardpass: String,
    /// `yyyy-MM-dd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiretime: Option<String>,
}

impl CardInfo {
    /// JD's limits: `cardno` ≤ 200 bytes of letters, digits, `-`, `_`; `cardpass` ≤ 5000 bytes of
    /// printable ASCII.
    pub fn within_jd_limits(&self) -> bool {
        let cardno_ok = !self.cardno.is_empty()
            && self.cardno.len() <= 200
            && self
                .cardno
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let cardpass_ok = !self.cardpass.is_empty()
            && self.cardpass.len() <= 5000
            && self.cardpass.bytes().all(|b| b.is_ascii_graphic());
        cardno_ok && cardpass_ok
    }
}

/// Issued cards in 游戏点卡's `cardinfos` format.
pub fn card_infos_from(cards: &[crate::domain::card_import::CardLine]) -> Vec<CardInfo> {
    cards
        .iter()
        .map(|c| CardInfo {
            cardno: c.card_no.clone(),
            cardpass: c.password.clone(),
            expiretime: c.expires_on.map(|d| d.format("%Y-%m-%d").to_string()),
        })
        .collect()
}

pub(super) fn json_string<T: Serialize>(value: &T) -> String {
    // Our own structures of strings and integers always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

/// preCheck answer data: `{"status":"0"}` (sellable) or `{"status":"1"}`. JD's example sends
/// the status as a string.
pub fn precheck_data(sellable: bool) -> String {
    encode_answer_data(if sellable {
        r#"{"status":"0"}"#
    } else {
        r#"{"status":"1"}"#
    })
}

/// directQuery / cardQuery answer data without cards: `{"orderStatus":0}` or `{"orderStatus":1}`.
pub fn order_status_data(status: GameOrderStatus) -> String {
    encode_answer_data(&format!(r#"{{"orderStatus":{}}}"#, status.code()))
}

/// directQuery answer data (§5.3): [`order_status_data`], plus `"type":1,"rightsId":…` for a
/// gift-rights top-up.
pub fn direct_status_data(status: GameOrderStatus, rights_id: Option<&str>) -> String {
    match rights_id {
        None => order_status_data(status),
        Some(id) => encode_answer_data(&json_string(&serde_json::json!({
            "orderStatus": status.code(),
            "type": 1,
            "rightsId": id,
        }))),
    }
}

#[derive(Serialize)]
struct CardQueryData<'a> {
    #[serde(rename = "orderStatus")]
    order_status: &'a str,
    cardinfos: &'a [CardInfo],
}

/// cardQuery success data: `{"orderStatus":"0","cardinfos":[…]}` (status as a string, as in
/// JD's §5.5 example). All N cards must be present.
pub fn card_query_success_data(cards: &[CardInfo]) -> String {
    encode_answer_data(&json_string(&CardQueryData {
        order_status: "0",
        cardinfos: cards,
    }))
}

#[derive(Serialize)]
struct CardOrderData<'a> {
    cardinfos: &'a [CardInfo],
}

/// Synchronous cardOrder data: `{"cardinfos":[…]}`.
pub fn card_order_data(cards: &[CardInfo]) -> String {
    encode_answer_data(&json_string(&CardOrderData { cardinfos: cards }))
}

/// Our answer envelope: always HTTP 200 JSON, outcome in `retCode` (a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameAnswer {
    pub ret_code: RetCode,
    pub ret_message: String,
    /// Base64 data from one of the data builders; omitted when `None` or empty.
    pub data: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GameAnswerJson<'a> {
    ret_code: String,
    ret_message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

impl GameAnswer {
    /// `100` with a message such as "成功" / "查询成功" / "充值成功" and optional data.
    pub fn success(message: &str, data: Option<String>) -> GameAnswer {
        GameAnswer {
            ret_code: RetCode::Success,
            ret_message: message.to_string(),
            data,
        }
    }

    /// A code with JD's default message.
    pub fn error(code: RetCode) -> GameAnswer {
        GameAnswer::error_with_message(code, code.message_zh())
    }

    /// A code with our own message (shown to the buyer on failure pages).
    pub fn error_with_message(code: RetCode, message: &str) -> GameAnswer {
        GameAnswer {
            ret_code: code,
            ret_message: message.to_string(),
            data: None,
        }
    }

    /// The answer to a refused request: 106 with its default text, 104 with what is wrong.
    pub fn from_error(error: &GameError) -> GameAnswer {
        let code = error.ret_code();
        match code {
            RetCode::InvalidParams => {
                GameAnswer::error_with_message(code, &format!("{}：{error}", code.message_zh()))
            }
            _ => GameAnswer::error(code),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        json_string(&GameAnswerJson {
            ret_code: self.ret_code.code().to_string(),
            ret_message: &self.ret_message,
            data: self.data.as_deref().filter(|d| !d.is_empty()),
        })
        .into_bytes()
    }

    /// Reads an answer (JD simulator, system tests); `retCode` may be a string or a number.
    pub fn parse(body: &[u8]) -> Option<GameAnswer> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let ret_code = match map.get("retCode")? {
            Value::String(s) => RetCode::parse(s)?,
            Value::Number(n) => RetCode::from_code(u16::try_from(n.as_u64()?).ok()?)?,
            _ => return None,
        };
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
        Some(GameAnswer {
            ret_code,
            ret_message: text("retMessage").unwrap_or_default(),
            data: text("data").filter(|d| !d.is_empty()),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::protocol::jd_game::data::decode_data;
    use crate::protocol::vectors::game::{
        V4_CARD, V5_CARD_QUERY_SUCCESS, V5_ORDER_STATUS_PROCESSING, V5_ORDER_STATUS_SUCCESS,
        V5_PRECHECK_SELLABLE,
    };

    /// The card of vector V4.
    pub(in crate::protocol::jd_game) fn v4_card() -> CardInfo {
        let (cardno, cardpass, expiretime) = V4_CARD;
        CardInfo {
            cardno: cardno.into(),
            cardpass: cardpass.into(),
            expiretime: Some(expiretime.into()),
        }
    }

    #[test]
    fn failed_orders_answer_a_final_code() {
        for r in FailureReason::ALL {
            // Never one of JD's retry codes (105, 106, 108, 110, 999, 1000).
            assert!(
                ![105, 106, 108, 110, 999, 1000].contains(&failure_code(r).code()),
                "{r}"
            );
            assert!(!failure_code(r).is_retry(), "{r}");
        }
        let codes: Vec<u16> = FailureReason::ALL
            .into_iter()
            .map(|r| failure_code(r).code())
            .collect();
        assert_eq!(codes, vec![116, 107, 109, 123, 111, 112, 123, 123]);
    }

    #[test]
    fn v5_answer_data() {
        assert_eq!(precheck_data(true), V5_PRECHECK_SELLABLE);
        assert_eq!(
            decode_data(&precheck_data(false)).expect("data"),
            r#"{"status":"1"}"#
        );
        assert_eq!(
            order_status_data(GameOrderStatus::Success),
            V5_ORDER_STATUS_SUCCESS
        );
        assert_eq!(
            order_status_data(GameOrderStatus::Processing),
            V5_ORDER_STATUS_PROCESSING
        );
        assert_eq!(card_query_success_data(&[v4_card()]), V5_CARD_QUERY_SUCCESS);
        let no_expiry = CardInfo {
            expiretime: None,
            ..v4_card()
        };
        assert_eq!(
            decode_data(&card_order_data(&[no_expiry])).expect("data"),
            r#"{"cardinfos":[{"cardno":"DXFD-XCV-000000814","cardpass":"193-4343-32322814"}]}"#
        );
    }

    #[test]
    fn answer_envelope() {
        let ok = GameAnswer::success(
            "查询成功",
            Some(order_status_data(GameOrderStatus::Success)),
        );
        assert_eq!(
            String::from_utf8(ok.encode()).expect("utf8"),
            format!(
                r#"{{"retCode":"100","retMessage":"查询成功","data":"{V5_ORDER_STATUS_SUCCESS}"}}"#
            )
        );
        assert_eq!(GameAnswer::parse(&ok.encode()), Some(ok));
        assert_eq!(
            String::from_utf8(GameAnswer::success("成功", None).encode()).expect("utf8"),
            r#"{"retCode":"100","retMessage":"成功"}"#
        );
        assert_eq!(
            String::from_utf8(GameAnswer::success("成功", Some(String::new())).encode())
                .expect("utf8"),
            r#"{"retCode":"100","retMessage":"成功"}"#
        );
        assert_eq!(
            String::from_utf8(GameAnswer::error(RetCode::InsufficientBalance).encode())
                .expect("utf8"),
            r#"{"retCode":"112","retMessage":"账号余额不足"}"#
        );
        assert_eq!(
            String::from_utf8(GameAnswer::from_error(&GameError::BadSignature).encode())
                .expect("utf8"),
            r#"{"retCode":"106","retMessage":"签名验证失败"}"#
        );
        let invalid = GameAnswer::from_error(&GameError::MissingField("orderId"));
        assert_eq!(invalid.ret_code, RetCode::InvalidParams);
        assert_eq!(invalid.ret_message, "传入的参数有误：缺少字段 orderId");
        assert_eq!(
            GameAnswer::parse(br#"{"retCode":104,"retMessage":"x"}"#).map(|a| a.ret_code),
            Some(RetCode::InvalidParams)
        );
    }

    #[test]
    fn card_limits() {
        assert!(v4_card().within_jd_limits());
        assert!(
            !CardInfo {
                cardno: "卡号".into(),
                ..v4_card()
            }
            .within_jd_limits()
        );
        assert!(
            !CardInfo {
                cardno: "a".repeat(201),
                ..v4_card()
            }
            .within_jd_limits()
        );
        assert!(
            !CardInfo {
                cardpass: String::new(),
                ..v4_card()
            }
            .within_jd_limits()
        );
    }
}
