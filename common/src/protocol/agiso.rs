//! 阿奇索开放平台 (Agiso open platform): signing of API calls, verification of pushes, the token
//! exchange signature, and the response envelope. The rules below are Agiso's published
//! open-platform document, pinned by the tests.
//!
//! Signature (§2): `md5(AppSecret + k1v1k2v2… + AppSecret)` over every sent parameter except
//! `sign` (including `timestamp`), names in byte order (case-sensitive), lowercase hex; Agiso
//! treats the hex case-insensitively and so do we.

use serde_json::{Map, Value};

use super::form;
use crate::crypto;

/// Gateway of every API call: `https://gw-api.agiso.com/{service}/{path}`.
pub const GATEWAY_BASE: &str = "https://gw-api.agiso.com";
/// Required header `ApiVersion: 1`.
pub const API_VERSION_HEADER: (&str, &str) = ("ApiVersion", "1");

/// The URL of an API endpoint, e.g. `api_url("aldsJd", "GameCard/CardSend")`.
pub fn api_url(service: &str, path: &str) -> String {
    format!(
        "{GATEWAY_BASE}/{}/{}",
        service.trim_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The `Authorization` header value for a merchant's access token.
pub fn bearer(access_token: &str) -> String {
    format!("Bearer {access_token}")
}

// ---------------------------------------------------------------------------------------------
// Signature

/// The exact string hashed: secret + sorted `k1v1k2v2…` + secret. `sign` itself is skipped.
/// Empty values are signed like any other: whatever is sent must be signed, and vice versa.
pub fn sign_string<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], app_secret: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != "sign")
        .collect();
    // Ordinal (byte) order; upper case sorts before lower case, as Agiso's FAQ insists.
    pairs.sort_unstable();
    let mut out = String::from(app_secret);
    for (k, v) in pairs {
        out.push_str(k);
        out.push_str(v);
    }
    out.push_str(app_secret);
    out
}

/// Lowercase MD5 signature.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], app_secret: &str) -> String {
    crypto::md5_hex(sign_string(params, app_secret).as_bytes())
}

/// The form to POST: the business parameters plus `timestamp` (Unix seconds; Agiso accepts
/// ±10 min skew) and `sign`. A `timestamp` or `sign` among `params` is replaced.
pub fn signed_form<K: AsRef<str>, V: AsRef<str>>(
    params: &[(K, V)],
    app_secret: &str,
    timestamp_secs: i64,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_ref() != "timestamp" && k.as_ref() != "sign")
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
        .collect();
    out.push(("timestamp".to_string(), timestamp_secs.to_string()));
    let signature = sign(&out, app_secret);
    out.push(("sign".to_string(), signature));
    out
}

/// Verifies a push: `md5(secret + "json" + json + "timestamp" + timestamp + secret)`, over the
/// form-decoded `json` exactly as received (never re-serialized) and the query's `timestamp`.
/// `aopic` and `fromPlatform` are not signed.
pub fn verify_push(json: &str, timestamp: &str, sign: &str, app_secret: &str) -> bool {
    let expected = self::sign(&[("json", json), ("timestamp", timestamp)], app_secret);
    crypto::signature_matches(&expected, sign)
}

/// Signature of the authorization-code exchange: the §2 algorithm over `{appId, code}`.
pub fn token_exchange_sign(app_id: &str, code: &str, app_secret: &str) -> String {
    sign(&[("appId", app_id), ("code", code)], app_secret)
}

/// `GET https://{service}.agiso.com/auth/token?code=…&appId=…&sign=…`.
pub fn token_exchange_url(service: &str, app_id: &str, code: &str, app_secret: &str) -> String {
    let query = form::encode_form(&[
        ("code", code),
        ("appId", app_id),
        ("sign", &token_exchange_sign(app_id, code, app_secret)),
    ]);
    format!(
        "https://{}.agiso.com/auth/token?{query}",
        service.trim_matches('/')
    )
}

// ---------------------------------------------------------------------------------------------
// Push notifications (§7)

/// Why a push could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("推送缺少参数 {0}")]
    Missing(&'static str),
    #[error("推送参数 {0} 无效")]
    Invalid(&'static str),
}

/// A push as received: `fromPlatform`, `timestamp`, `aopic`, `sign` in the query string and the
/// message in the form field `json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgisoPush {
    /// E.g. `TbAlds`, `AldsJd`.
    pub from_platform: Option<String>,
    /// Message type, per service. Not signed: a routing hint only.
    pub aopic: Option<i64>,
    pub timestamp: String,
    pub sign: String,
    /// The message JSON text exactly as received.
    pub json: String,
}

impl AgisoPush {
    /// Reads a push from its decoded query string and form body (each parameter is looked up in
    /// its documented place first, then in the other).
    pub fn parse(
        query: &[(String, String)],
        body: &[(String, String)],
    ) -> Result<AgisoPush, PushError> {
        let get = |name: &str, primary: &[(String, String)], secondary: &[(String, String)]| {
            form::first_value(primary, name)
                .or_else(|| form::first_value(secondary, name))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let aopic = match get("aopic", query, body) {
            Some(text) => Some(
                text.trim()
                    .parse()
                    .map_err(|_| PushError::Invalid("aopic"))?,
            ),
            None => None,
        };
        Ok(AgisoPush {
            from_platform: get("fromPlatform", query, body),
            aopic,
            timestamp: get("timestamp", query, body).ok_or(PushError::Missing("timestamp"))?,
            sign: get("sign", query, body).ok_or(PushError::Missing("sign"))?,
            json: get("json", body, query).ok_or(PushError::Missing("json"))?,
        })
    }

    pub fn verify(&self, app_secret: &str) -> bool {
        verify_push(&self.json, &self.timestamp, &self.sign, app_secret)
    }
}

// ---------------------------------------------------------------------------------------------
// Response envelope (§1.1) and error codes (§6)

/// `Error_Code` of the envelope, with Agiso's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i64);

impl ErrorCode {
    pub const SUCCESS: ErrorCode = ErrorCode(0);
    pub const INVALID_ACCESS_TOKEN: ErrorCode = ErrorCode(1);
    pub const RATE_LIMITED: ErrorCode = ErrorCode(2);
    pub const SIGNATURE_FAILED: ErrorCode = ErrorCode(4);
    pub const PARAMETER_ERROR: ErrorCode = ErrorCode(5);
    pub const PARTIAL_FAILURE: ErrorCode = ErrorCode(6);
    pub const TOTAL_FAILURE: ErrorCode = ErrorCode(7);
    pub const TRADE_NOT_FOUND: ErrorCode = ErrorCode(9);
    pub const TIMEOUT: ErrorCode = ErrorCode(13);
    pub const BALANCE_INSUFFICIENT: ErrorCode = ErrorCode(16);
    pub const NO_API_PERMISSION: ErrorCode = ErrorCode(28);

    /// Meaning from Agiso's error table (Chinese, for operators).
    pub fn meaning_zh(self) -> &'static str {
        match self.0 {
            0 => "成功",
            1 => "无效的AccessToken",
            2 => "接口调用频率超限",
            3 => "业务异常",
            4 => "签名验证失败",
            5 => "参数错误",
            6 => "部分失败",
            7 => "全部失败",
            8 => "授权失败",
            9 => "交易不存在",
            10 => "淘宝API错误",
            11 | 114 => "无数据",
            12 => "旺旺消息已发送过",
            13 => "超时",
            14 => "生成旺旺消息失败",
            15 => "商品不存在",
            16 => "预存款余额不足",
            17 => "应用已停用",
            18 => "业务站点未授权",
            19 => "退款失败",
            20 => "单笔退款金额超限",
            21 => "退款总额超限",
            22 => "退款次数超限",
            23 => "闲鱼API错误",
            24 => "更新订单状态失败",
            25 => "消息发送次数超限",
            26 => "拼多多API错误",
            27 => "京东API错误",
            28 => "无API接口权限",
            30 => "快手API错误",
            31 => "有赞API错误",
            32 => "微盟API错误",
            33 => "微店API错误",
            34 => "拒绝退款失败",
            35 => "微信小店API错误",
            _ => "未知错误码",
        }
    }

    /// Transient by nature: rate limit (2) and timeout (13).
    pub fn is_retryable(self) -> bool {
        matches!(self.0, 2 | 13)
    }
}

/// Why a response body is not an Agiso envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("阿奇索应答不是 JSON 对象")]
    NotJsonObject,
    #[error("阿奇索应答缺少 IsSuccess")]
    MissingIsSuccess,
}

/// The common response envelope. Older endpoints write `IsSuccess/Data/Error_Code/…`, newer ones
/// `isSuccess/data/error_Code/…`: keys are matched ignoring case and underscores.
#[derive(Debug, Clone, PartialEq)]
pub struct AgisoEnvelope {
    pub is_success: bool,
    /// The payload; `Null` when absent.
    pub data: Value,
    /// 0 when absent.
    pub error_code: i64,
    pub error_msg: String,
    pub allow_retry: Option<bool>,
    pub request_id: Option<String>,
}

fn normalized_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

fn lenient_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl AgisoEnvelope {
    pub fn parse(body: &[u8]) -> Result<AgisoEnvelope, EnvelopeError> {
        let Ok(Value::Object(raw)) = serde_json::from_slice::<Value>(body) else {
            return Err(EnvelopeError::NotJsonObject);
        };
        let mut fields: Map<String, Value> = Map::new();
        for (key, value) in raw {
            fields.entry(normalized_key(&key)).or_insert(value);
        }
        let is_success = fields
            .get("issuccess")
            .and_then(lenient_bool)
            .ok_or(EnvelopeError::MissingIsSuccess)?;
        let text = |k: &str| match fields.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(AgisoEnvelope {
            is_success,
            data: fields.get("data").cloned().unwrap_or(Value::Null),
            error_code: fields.get("errorcode").and_then(lenient_int).unwrap_or(0),
            error_msg: text("errormsg").unwrap_or_default(),
            allow_retry: fields.get("allowretry").and_then(lenient_bool),
            request_id: text("requestid").filter(|r| !r.is_empty()),
        })
    }

    /// The error code of a failed call.
    pub fn error(&self) -> Option<ErrorCode> {
        (!self.is_success).then_some(ErrorCode(self.error_code))
    }

    /// Whether a failed call may be repeated: Agiso says so (`AllowRetry`), or the code is
    /// transient (2 rate limit, 13 timeout). A successful call is never "retryable".
    pub fn is_retryable(&self) -> bool {
        !self.is_success
            && (self.allow_retry == Some(true) || ErrorCode(self.error_code).is_retryable())
    }

    /// Operator-facing description of a failure.
    pub fn failure_reason_zh(&self) -> String {
        let code = ErrorCode(self.error_code);
        format!(
            "阿奇索错误 {}（{}）：{}",
            code.0,
            code.meaning_zh(),
            self.error_msg
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vectors::agiso::{
        DEMO_SECRET, EXAMPLE_A_SIGN, EXAMPLE_B_SIGN, EXAMPLE_C_SIGN, PUSH_JSON, PUSH_SECRET,
        PUSH_SIGN, PUSH_TIMESTAMP, TOKEN_EXCHANGE_SIGN,
    };
    use crate::protocol::vectors::pairs;

    #[test]
    fn example_a_order_pull() {
        let params = [
            ("modifyTimeStart", "2016-07-13 10:44:30"),
            ("pageNo", "1"),
            ("pageSize", "20"),
            ("timestamp", "1468476350"),
        ];
        assert_eq!(
            sign_string(&params, DEMO_SECRET),
            "demoSecret0123456789abcdefABCDEFmodifyTimeStart2016-07-13 10:44:30pageNo1pageSize20timestamp1468476350demoSecret0123456789abcdefABCDEF"
        );
        assert_eq!(sign(&params, DEMO_SECRET), EXAMPLE_A_SIGN);
        let form_fields = signed_form(&params[..3], DEMO_SECRET, 1468476350);
        assert_eq!(
            form::first_value(&form_fields, "timestamp"),
            Some("1468476350")
        );
        assert_eq!(
            form::first_value(&form_fields, "sign"),
            Some(EXAMPLE_A_SIGN)
        );
        // The form body carries the space of the date URL-encoded; the sign covers the raw value.
        assert!(
            form::encode_form(&form_fields).contains("modifyTimeStart=2016-07-13+10%3A44%3A30")
        );
    }

    #[test]
    fn example_b_card_send_with_chinese() {
        let params = [
            ("tid", "1234567890123"),
            ("cardJson", r#"[{"cardno":"卡号1","cardpass":"卡密1"}]"#),
            ("timestamp", "1700000000"),
        ];
        let s = sign_string(&params, DEMO_SECRET);
        assert_eq!(s.len(), 150);
        assert_eq!(
            s,
            r#"demoSecret0123456789abcdefABCDEFcardJson[{"cardno":"卡号1","cardpass":"卡密1"}]tid1234567890123timestamp1700000000demoSecret0123456789abcdefABCDEF"#
        );
        assert_eq!(sign(&params, DEMO_SECRET), EXAMPLE_B_SIGN);
        let f = signed_form(&params[..2], DEMO_SECRET, 1_700_000_000);
        assert_eq!(form::first_value(&f, "sign"), Some(EXAMPLE_B_SIGN));
    }

    #[test]
    fn example_c_auto_delivery() {
        let params = [("tids", "3130073692357778"), ("ignoreOnOff", "true")];
        let f = signed_form(&params, DEMO_SECRET, 1_700_000_000);
        assert_eq!(
            sign_string(&f, DEMO_SECRET),
            "demoSecret0123456789abcdefABCDEFignoreOnOfftruetids3130073692357778timestamp1700000000demoSecret0123456789abcdefABCDEF"
        );
        assert_eq!(
            f,
            pairs(&[
                ("tids", "3130073692357778"),
                ("ignoreOnOff", "true"),
                ("timestamp", "1700000000"),
                ("sign", EXAMPLE_C_SIGN),
            ])
        );
        // A stale timestamp/sign among the inputs is replaced, not duplicated.
        let again = signed_form(&f, DEMO_SECRET, 1_700_000_000);
        assert_eq!(again, f);
    }

    #[test]
    fn example_d_official_push_vector() {
        let secret = PUSH_SECRET;
        let json = PUSH_JSON;
        assert_eq!(
            sign_string(&[("json", json), ("timestamp", PUSH_TIMESTAMP)], secret),
            format!("{secret}json{json}timestamp{PUSH_TIMESTAMP}{secret}")
        );
        assert!(verify_push(json, PUSH_TIMESTAMP, PUSH_SIGN, secret));
        assert!(verify_push(
            json,
            PUSH_TIMESTAMP,
            &PUSH_SIGN.to_uppercase(),
            secret
        ));
        assert!(!verify_push(
            json,
            PUSH_TIMESTAMP,
            "f8aa165fc951f266667e0605d78b93ae",
            secret
        ));
        assert!(!verify_push(json, "11222212122", PUSH_SIGN, secret));
        assert!(!verify_push(
            &json.replace("3.00", "4.00"),
            PUSH_TIMESTAMP,
            PUSH_SIGN,
            secret
        ));
        assert!(!verify_push(json, PUSH_TIMESTAMP, PUSH_SIGN, DEMO_SECRET));
        assert!(!verify_push(json, PUSH_TIMESTAMP, "", secret));
    }

    #[test]
    fn push_from_query_and_form() {
        let secret = PUSH_SECRET;
        let json = PUSH_JSON;
        let query = form::parse_form(
            format!("fromPlatform=AldsJd&timestamp={PUSH_TIMESTAMP}&aopic=16&sign={PUSH_SIGN}")
                .as_bytes(),
        );
        let body = form::parse_form(form::encode_form(&[("json", json)]).as_bytes());
        let push = AgisoPush::parse(&query, &body).expect("push");
        assert_eq!(push.from_platform.as_deref(), Some("AldsJd"));
        assert_eq!(push.aopic, Some(16));
        assert_eq!(push.json, json);
        assert!(push.verify(secret));
        assert!(!push.verify(DEMO_SECRET));
        // `+` in the body is a space: a date inside the JSON must come back with its space.
        let body = form::parse_form(b"json=%7B%22Created%22%3A%222020-01-01+15%3A00%3A00%22%7D");
        let created = r#"{"Created":"2020-01-01 15:00:00"}"#;
        let s = sign(&[("json", created), ("timestamp", "1")], secret);
        let query = pairs(&[("timestamp", "1"), ("sign", &s)]);
        let push = AgisoPush::parse(&query, &body).expect("push");
        assert_eq!(push.json, created);
        assert!(push.verify(secret));
        assert_eq!(
            AgisoPush::parse(&query, &[]),
            Err(PushError::Missing("json"))
        );
        assert_eq!(
            AgisoPush::parse(&[], &body),
            Err(PushError::Missing("timestamp"))
        );
        let bad_aopic = pairs(&[("timestamp", "1"), ("sign", &s), ("aopic", "x")]);
        assert_eq!(
            AgisoPush::parse(&bad_aopic, &body),
            Err(PushError::Invalid("aopic"))
        );
    }

    #[test]
    fn token_exchange() {
        let s = token_exchange_sign("1234567", "f33138910d14106fc91b015c9fe16def", DEMO_SECRET);
        assert_eq!(s, TOKEN_EXCHANGE_SIGN);
        assert_eq!(
            sign_string(
                &[
                    ("appId", "1234567"),
                    ("code", "f33138910d14106fc91b015c9fe16def")
                ],
                DEMO_SECRET
            ),
            format!("{DEMO_SECRET}appId1234567codef33138910d14106fc91b015c9fe16def{DEMO_SECRET}")
        );
        assert_eq!(
            token_exchange_url(
                "aldsJd",
                "1234567",
                "f33138910d14106fc91b015c9fe16def",
                DEMO_SECRET
            ),
            format!(
                "https://aldsJd.agiso.com/auth/token?code=f33138910d14106fc91b015c9fe16def&appId=1234567&sign={TOKEN_EXCHANGE_SIGN}"
            )
        );
    }

    #[test]
    fn byte_order_sorting() {
        let params = [
            ("foo", "1"),
            ("bar", "2"),
            ("foo_bar", "3"),
            ("foobar", "4"),
        ];
        assert_eq!(sign_string(&params, ""), "bar2foo1foo_bar3foobar4");
        // Upper case sorts before lower case (no case folding).
        assert_eq!(
            sign_string(&[("b", "1"), ("A", "2"), ("a", "3")], "S"),
            "SA2a3b1S"
        );
        // Empty values are signed like any other sent parameter; `sign` never is.
        assert_eq!(sign_string(&[("x", ""), ("sign", "zzz")], "S"), "SxS");
    }

    #[test]
    fn urls_and_headers() {
        assert_eq!(
            api_url("aldsJd", "GameCard/CardSend"),
            "https://gw-api.agiso.com/aldsJd/GameCard/CardSend"
        );
        assert_eq!(
            api_url("/alds/", "/Trade/TradeInfo"),
            "https://gw-api.agiso.com/alds/Trade/TradeInfo"
        );
        assert_eq!(bearer("TbAlds123"), "Bearer TbAlds123");
        assert_eq!(API_VERSION_HEADER, ("ApiVersion", "1"));
    }

    #[test]
    fn envelope_pascal_case() {
        let env = AgisoEnvelope::parse(
            br#"{"IsSuccess":false,"Data":null,"Error_Code":13,"Error_Msg":"\u8d85\u65f6","AllowRetry":null,"RequestId":"20201027142251106"}"#,
        )
        .expect("envelope");
        assert!(!env.is_success);
        assert_eq!(env.error_code, 13);
        assert_eq!(env.error_msg, "超时");
        assert_eq!(env.allow_retry, None);
        assert_eq!(env.request_id.as_deref(), Some("20201027142251106"));
        assert_eq!(env.error(), Some(ErrorCode::TIMEOUT));
        assert!(env.is_retryable());
        assert_eq!(env.failure_reason_zh(), "阿奇索错误 13（超时）：超时");
    }

    #[test]
    fn envelope_camel_case_and_lenient_types() {
        let env = AgisoEnvelope::parse(
            br#"{"isSuccess":true,"data":{"orderId":"1","itemInfoList":[]},"error_Code":0,"error_Msg":"","allowRetry":false,"requestId":""}"#,
        )
        .expect("envelope");
        assert!(env.is_success);
        assert_eq!(env.data["orderId"], "1");
        assert_eq!(env.error(), None);
        assert!(!env.is_retryable());
        assert_eq!(env.request_id, None);

        let env = AgisoEnvelope::parse(br#"{"issuccess":"false","error_code":"5","error_msg":"tid required","AllowRetry":"true"}"#)
            .expect("envelope");
        assert!(!env.is_success);
        assert_eq!(env.error_code, 5);
        assert_eq!(env.data, Value::Null);
        assert!(env.is_retryable(), "AllowRetry=true wins");

        let env = AgisoEnvelope::parse(br#"{"IsSuccess":false,"Error_Code":2,"AllowRetry":false}"#)
            .expect("envelope");
        assert!(env.is_retryable(), "rate limit is transient");
        let env = AgisoEnvelope::parse(br#"{"IsSuccess":false,"Error_Code":4,"Error_Msg":"sign"}"#)
            .expect("envelope");
        assert!(!env.is_retryable());
        assert_eq!(env.error(), Some(ErrorCode::SIGNATURE_FAILED));
        let env = AgisoEnvelope::parse(br#"{"IsSuccess":true,"Data":12.5}"#).expect("envelope");
        assert_eq!(env.error_code, 0);
        assert_eq!(env.data, serde_json::json!(12.5));
    }

    #[test]
    fn envelope_errors() {
        assert_eq!(
            AgisoEnvelope::parse(b"<html>"),
            Err(EnvelopeError::NotJsonObject)
        );
        assert_eq!(AgisoEnvelope::parse(b""), Err(EnvelopeError::NotJsonObject));
        assert_eq!(
            AgisoEnvelope::parse(b"[]"),
            Err(EnvelopeError::NotJsonObject)
        );
        assert_eq!(
            AgisoEnvelope::parse(br#"{"Data":1}"#),
            Err(EnvelopeError::MissingIsSuccess)
        );
        assert_eq!(
            AgisoEnvelope::parse(br#"{"IsSuccess":"maybe"}"#),
            Err(EnvelopeError::MissingIsSuccess)
        );
    }

    #[test]
    fn error_code_table() {
        let expected = [
            (0, "成功"),
            (1, "无效的AccessToken"),
            (2, "接口调用频率超限"),
            (4, "签名验证失败"),
            (9, "交易不存在"),
            (13, "超时"),
            (16, "预存款余额不足"),
            (27, "京东API错误"),
            (28, "无API接口权限"),
            (35, "微信小店API错误"),
            (114, "无数据"),
            (29, "未知错误码"),
        ];
        for (code, meaning) in expected {
            assert_eq!(ErrorCode(code).meaning_zh(), meaning, "{code}");
        }
        for code in 0..=40 {
            if ![29, 36, 37, 38, 39, 40].contains(&code) {
                assert_ne!(ErrorCode(code).meaning_zh(), "未知错误码", "{code}");
            }
        }
        let retryable: Vec<i64> = (0..=200).filter(|c| ErrorCode(*c).is_retryable()).collect();
        assert_eq!(retryable, vec![2, 13]);
    }
}
