//! Our answers to `beginDistill` and `findDistill` (§4): signed JSON, always HTTP 200, the
//! outcome in `code` / `produceStatus`.

use serde::Serialize;
use serde_json::Value;

use super::codes::{ProduceCode, ProduceStatus};
use super::request::{RequestError, parse_order_no};
use super::signing::{SIGN_TYPE_MD5, sign, verify_sign};
use crate::domain::{FailureReason, PlatformOrderNo};
use crate::protocol::form;

/// The `code` a failed order is answered with (`produceStatus` 2). The protocol has codes only
/// for account, product and not-for-sale refusals; every other final failure is answered with
/// JDO_303, the generic refusal [INFERRED: the spec lists no better code].
pub fn failure_code(reason: FailureReason) -> ProduceCode {
    match reason {
        FailureReason::AccountInvalid => ProduceCode::WrongAccount,
        FailureReason::NoProduct => ProduceCode::NoSuchProduct,
        FailureReason::NotForSale => ProduceCode::NotForSale,
        _ => ProduceCode::InvalidParams,
    }
}

/// Our JSON answer to `beginDistill` or `findDistill` (§4): always HTTP 200, outcome in
/// `code`/`produceStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistillAnswer {
    pub code: ProduceCode,
    /// Echo of the request; `None` only when the request's `jdOrderNo` was unreadable. Sent as
    /// a JSON number.
    pub jd_order_no: Option<PlatformOrderNo>,
    /// Our order number; omitted (and unsigned) when empty or not yet assigned.
    pub agent_order_no: Option<String>,
    pub produce_status: ProduceStatus,
    /// Encrypted card array ([`super::cards::encrypt_cards`]) for successful card goods.
    pub product: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DistillAnswerJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_order_no: Option<&'a str>,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jd_order_no: Option<i64>,
    produce_status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a str>,
    sign: String,
    sign_type: &'a str,
    timestamp: &'a str,
}

impl DistillAnswer {
    /// 1 / JDO_200, with the encrypted cards for card goods (`None` for direct recharge).
    pub fn success(
        jd_order_no: PlatformOrderNo,
        agent_order_no: impl Into<String>,
        product: Option<String>,
    ) -> DistillAnswer {
        DistillAnswer {
            code: ProduceCode::Success,
            jd_order_no: Some(jd_order_no),
            agent_order_no: Some(agent_order_no.into()),
            produce_status: ProduceStatus::Success,
            product,
        }
    }

    /// 3 / JDO_201: accepted, result follows by callback and findDistill.
    pub fn in_progress(
        jd_order_no: PlatformOrderNo,
        agent_order_no: impl Into<String>,
    ) -> DistillAnswer {
        DistillAnswer {
            code: ProduceCode::InProgress,
            jd_order_no: Some(jd_order_no),
            agent_order_no: Some(agent_order_no.into()),
            produce_status: ProduceStatus::InProgress,
            product: None,
        }
    }

    /// Any code with its suggested `produceStatus` (e.g. JDO_302 → 2, JDO_500 → 4).
    pub fn with_code(
        jd_order_no: PlatformOrderNo,
        agent_order_no: Option<String>,
        code: ProduceCode,
    ) -> DistillAnswer {
        DistillAnswer {
            code,
            jd_order_no: Some(jd_order_no),
            agent_order_no,
            produce_status: code.suggested_status(),
            product: None,
        }
    }

    /// The answer to a request we refused while parsing it.
    pub fn rejected(error: &RequestError) -> DistillAnswer {
        DistillAnswer {
            code: error.code,
            jd_order_no: error.jd_order_no.clone(),
            agent_order_no: None,
            produce_status: error.produce_status(),
            product: None,
        }
    }

    /// The answer to a `findDistill` we could not parse: the code with produceStatus 4, never 2.
    /// A query that fails to parse says nothing about the order, so it must not refund it.
    pub fn query_rejected(error: &RequestError) -> DistillAnswer {
        DistillAnswer {
            produce_status: ProduceStatus::Exception,
            ..DistillAnswer::rejected(error)
        }
    }

    /// `jdOrderNo` as the JSON number it is sent as (and signed by its decimal text).
    fn jd_order_no_long(&self) -> Option<i64> {
        self.jd_order_no.as_ref().and_then(PlatformOrderNo::as_long)
    }

    fn non_empty(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }

    /// The textual fields that are signed (JSON numbers contribute their decimal text).
    pub fn signed_fields(&self, timestamp: &str) -> Vec<(String, String)> {
        let mut fields = Vec::with_capacity(6);
        if let Some(agent) = Self::non_empty(&self.agent_order_no) {
            fields.push(("agentOrderNo".to_string(), agent.to_string()));
        }
        fields.push(("code".to_string(), self.code.as_str().to_string()));
        if let Some(no) = self.jd_order_no_long() {
            fields.push(("jdOrderNo".to_string(), no.to_string()));
        }
        fields.push((
            "produceStatus".to_string(),
            self.produce_status.code().to_string(),
        ));
        if let Some(product) = Self::non_empty(&self.product) {
            fields.push(("product".to_string(), product.to_string()));
        }
        fields.push(("timestamp".to_string(), timestamp.to_string()));
        fields
    }

    /// The signed JSON body: `jdOrderNo` and `produceStatus` as JSON numbers, `signType` MD5.
    /// `timestamp` is `yyyyMMddHHmmss` (see [`super::beijing_timestamp`]).
    pub fn encode(&self, md5_key: &str, timestamp: &str) -> Vec<u8> {
        let json = DistillAnswerJson {
            agent_order_no: Self::non_empty(&self.agent_order_no),
            code: self.code.as_str(),
            jd_order_no: self.jd_order_no_long(),
            produce_status: self.produce_status.code(),
            product: Self::non_empty(&self.product),
            sign: sign(&self.signed_fields(timestamp), md5_key),
            sign_type: SIGN_TYPE_MD5,
            timestamp,
        };
        // Serializing strings and integers cannot fail.
        serde_json::to_vec(&json).unwrap_or_default()
    }

    /// Reads and verifies an answer (JD simulator, system tests).
    pub fn parse_verified(body: &[u8], md5_key: &str) -> Result<DistillAnswer, AnswerError> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(AnswerError::NotJsonObject);
        };
        let fields: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, v)| json_text(v).map(|t| (k.clone(), t)))
            .collect();
        let received = form::first_value(&fields, "sign").unwrap_or_default();
        if !verify_sign(&fields, md5_key, received) {
            return Err(AnswerError::BadSignature);
        }
        let text = |name: &'static str| {
            form::first_value(&fields, name)
                .filter(|v| !v.is_empty())
                .ok_or(AnswerError::Missing(name))
        };
        let code = ProduceCode::parse(text("code")?).ok_or(AnswerError::Invalid("code"))?;
        let status = text("produceStatus")?
            .parse::<u8>()
            .ok()
            .and_then(ProduceStatus::from_code)
            .ok_or(AnswerError::Invalid("produceStatus"))?;
        let jd_order_no = match form::first_value(&fields, "jdOrderNo") {
            Some(v) => Some(parse_order_no(v).ok_or(AnswerError::Invalid("jdOrderNo"))?),
            None => None,
        };
        Ok(DistillAnswer {
            code,
            jd_order_no,
            agent_order_no: text("agentOrderNo").ok().map(str::to_string),
            produce_status: status,
            product: text("product").ok().map(str::to_string),
        })
    }
}

/// Why a distill answer could not be read (simulator side).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("应答不是 JSON 对象")]
    NotJsonObject,
    #[error("应答签名错误")]
    BadSignature,
    #[error("应答缺少字段 {0}")]
    Missing(&'static str),
    #[error("应答字段 {0} 无效")]
    Invalid(&'static str),
}

/// The textual value of a scalar JSON value as it takes part in signatures: a string as it is, a
/// number by its JSON text (`10001`), a boolean as `true`/`false`; `None` for null, arrays and
/// objects. Public for the JD simulator (`jd-sim`), which verifies answers field by field.
pub fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::JdAesKey;
    use crate::protocol::jd_general::cards::{decrypt_cards, encrypt_cards, tests::a2_card};
    use crate::protocol::jd_general::request::FindDistillRequest;
    use crate::protocol::jd_general::signing::sign_string;
    use crate::protocol::vectors::general::{A2_CIPHER, K, S5_ANSWER_BODY, S6_SIGN};
    use crate::protocol::vectors::pairs;

    fn aes() -> JdAesKey {
        JdAesKey::new(K).expect("key")
    }

    #[test]
    fn failed_orders_answer_a_refusal_code() {
        for r in FailureReason::ALL {
            assert!(failure_code(r).as_str().starts_with("JDO_3"), "{r}");
        }
        assert_eq!(
            failure_code(FailureReason::AccountInvalid).as_str(),
            "JDO_301"
        );
        assert_eq!(failure_code(FailureReason::NoProduct).as_str(), "JDO_302");
        assert_eq!(failure_code(FailureReason::NotForSale).as_str(), "JDO_305");
        assert_eq!(failure_code(FailureReason::OutOfStock).as_str(), "JDO_303");
    }

    #[test]
    fn s5_in_progress_answer() {
        let answer = DistillAnswer::in_progress(PlatformOrderNo::from_long(10002), "SP00001");
        assert_eq!(
            sign_string(&answer.signed_fields("20210208110841"), K),
            format!(
                "agentOrderNoSP00001codeJDO_201jdOrderNo10002produceStatus3timestamp20210208110841{K}"
            )
        );
        let body = answer.encode(K, "20210208110841");
        assert_eq!(
            String::from_utf8(body.clone()).expect("utf8"),
            S5_ANSWER_BODY
        );
        assert_eq!(
            DistillAnswer::parse_verified(&body, K).expect("valid"),
            answer
        );
        assert_eq!(
            DistillAnswer::parse_verified(&body, "wrong").unwrap_err(),
            AnswerError::BadSignature
        );
    }

    #[test]
    fn s6_success_answer_with_product() {
        let product = encrypt_cards(&[a2_card()], &aes());
        assert_eq!(product, A2_CIPHER);
        let answer =
            DistillAnswer::success(PlatformOrderNo::from_long(10002), "SP00001", Some(product));
        assert_eq!(
            sign_string(&answer.signed_fields("20210208110742"), K),
            format!(
                "agentOrderNoSP00001codeJDO_200jdOrderNo10002produceStatus1product{A2_CIPHER}timestamp20210208110742{K}"
            )
        );
        let body = answer.encode(K, "20210208110742");
        let json: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["sign"], S6_SIGN);
        assert_eq!(json["jdOrderNo"], 10002);
        assert_eq!(json["produceStatus"], 1);
        assert_eq!(json["product"], A2_CIPHER);
        assert_eq!(json["signType"], "MD5");
        let back = DistillAnswer::parse_verified(&body, K).expect("valid");
        let cards =
            decrypt_cards(back.product.as_deref().expect("product"), &aes()).expect("cards");
        assert_eq!(cards, vec![a2_card()]);
    }

    #[test]
    fn empty_agent_order_no_is_omitted() {
        let answer = DistillAnswer::with_code(
            PlatformOrderNo::from_long(10002),
            Some(String::new()),
            ProduceCode::SystemError,
        );
        let body = String::from_utf8(answer.encode(K, "20210208110841")).expect("utf8");
        assert!(!body.contains("agentOrderNo"));
        assert!(body.contains(r#""code":"JDO_500""#));
        assert!(body.contains(r#""produceStatus":4"#));
        let expected = sign(
            &pairs(&[
                ("code", "JDO_500"),
                ("jdOrderNo", "10002"),
                ("produceStatus", "4"),
                ("timestamp", "20210208110841"),
            ]),
            K,
        );
        assert!(body.contains(&expected));
    }

    #[test]
    fn a_find_distill_that_fails_parsing_is_never_answered_with_a_refund() {
        // Signed but without timestamp: JDO_303, which a beginDistill pairs with 2.
        let fields = pairs(&[("jdOrderNo", "10001"), ("sign", "x")]);
        let e = FindDistillRequest::parse(&fields).unwrap_err();
        assert_eq!(e.code, ProduceCode::InvalidParams);
        assert_eq!(
            DistillAnswer::rejected(&e).produce_status,
            ProduceStatus::Failed
        );
        let a = DistillAnswer::query_rejected(&e);
        assert_eq!(
            (a.code, a.jd_order_no, a.produce_status),
            (
                ProduceCode::InvalidParams,
                Some(PlatformOrderNo::from_long(10001)),
                ProduceStatus::Exception
            )
        );
    }
}
