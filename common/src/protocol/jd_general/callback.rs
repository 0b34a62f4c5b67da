//! The produce-result callback to JD (§6) and JD's answer to it (codes §7.3).

use serde_json::Value;

use super::answer::json_text;
use super::codes::ProduceStatus;
use super::request::{FieldReader, RequestError};
use super::signing::sign;
use crate::domain::PlatformOrderNo;
use crate::protocol::form;

/// Appended to the request's `notifyUrl` to get the production callback URL.
pub const CALLBACK_PATH: &str = "/produce/result";
/// JD's self-test platform (自测平台) callback URL. Never call the production URL while testing.
pub const SELF_TEST_CALLBACK_URL: &str = "https://tsp.shop.jd.com/vtp/produce/notify";

/// The production callback URL for a request's `notifyUrl`: `/produce/result` appended unless it
/// is already there, without doubling slashes.
pub fn callback_url(notify_url: &str) -> String {
    let base = notify_url.trim().trim_end_matches('/');
    if base.ends_with(CALLBACK_PATH) {
        base.to_string()
    } else {
        format!("{base}{CALLBACK_PATH}")
    }
}

/// The final result of an asynchronous order, posted as a form to [`callback_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResultCallback {
    pub vendor_id: i64,
    pub jd_order_no: PlatformOrderNo,
    /// The same agentOrderNo we answered earlier.
    pub agent_order_no: String,
    /// 1 or 2.
    pub produce_status: ProduceStatus,
    pub quantity: u32,
    /// Encrypted cards on success for card goods; `None` for failures and direct recharge.
    pub product: Option<String>,
}

impl ProduceResultCallback {
    /// The signed form fields. Every retry needs a fresh `timestamp` (and so a fresh sign).
    /// `signType` is not sent: it is not in JD's callback table or example (and would be
    /// ignored by the signature anyway).
    pub fn to_form(&self, md5_key: &str, timestamp: &str) -> Vec<(String, String)> {
        let mut fields = vec![
            ("vendorId".to_string(), self.vendor_id.to_string()),
            ("jdOrderNo".to_string(), self.jd_order_no.to_string()),
            ("agentOrderNo".to_string(), self.agent_order_no.clone()),
            (
                "produceStatus".to_string(),
                self.produce_status.code().to_string(),
            ),
            ("quantity".to_string(), self.quantity.to_string()),
        ];
        if let Some(product) = self.product.as_deref().filter(|p| !p.is_empty()) {
            fields.push(("product".to_string(), product.to_string()));
        }
        fields.push(("timestamp".to_string(), timestamp.to_string()));
        let signature = sign(&fields, md5_key);
        fields.push(("sign".to_string(), signature));
        fields
    }

    /// The urlencoded body of [`ProduceResultCallback::to_form`].
    pub fn to_form_body(&self, md5_key: &str, timestamp: &str) -> String {
        form::encode_form(&self.to_form(md5_key, timestamp))
    }

    /// Reads a callback as JD would (fake JD in system tests). Does not verify the signature:
    /// use [`super::signing::verify_signed_fields`] on the same pairs.
    pub fn parse(fields: &[(String, String)]) -> Result<ProduceResultCallback, RequestError> {
        let r = FieldReader::new(fields)?;
        let produce_status = r
            .required_long("produceStatus")
            .ok()
            .and_then(|s| u8::try_from(s).ok())
            .and_then(ProduceStatus::from_code)
            .ok_or_else(|| {
                RequestError::invalid("参数 produceStatus 无效".to_string(), r.echo())
            })?;
        let quantity = u32::try_from(r.required_long("quantity")?)
            .map_err(|_| RequestError::invalid("参数 quantity 无效".to_string(), r.echo()))?;
        Ok(ProduceResultCallback {
            vendor_id: r.required_long("vendorId")?,
            jd_order_no: r.jd_order_no.clone(),
            agent_order_no: r.required("agentOrderNo")?.to_string(),
            produce_status,
            quantity,
            product: r.optional("product").map(str::to_string),
        })
    }
}

/// What the notifier should do after JD answered a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// `code == "0"`: JD has the result.
    Delivered,
    /// Retrying cannot help (`13`: the order is already final at JD): stop and alert.
    Stop { code: String, reason: String },
    /// A configuration problem on our side (`10` signature, `11` IP not registered, `19` unknown
    /// merchant): keep retrying on the schedule (the operator may fix the key or register the IP
    /// meanwhile) and alert.
    Misconfigured { code: String, reason: String },
    /// Anything else, including 500 and unreadable bodies: retry later.
    Retry { reason: String },
}

/// JD's JSON answer to a callback: `{"code":"0","message":"成功"}` (§6, codes §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub code: String,
    pub message: String,
}

impl CallbackAnswer {
    /// Reads JD's answer; `code` may be a JSON string or number.
    pub fn read(body: &[u8]) -> Option<CallbackAnswer> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let code = map.get("code").and_then(json_text)?.trim().to_string();
        let message = map.get("message").and_then(json_text).unwrap_or_default();
        Some(CallbackAnswer { code, message })
    }

    /// Reads JD's answer and decides what to do next.
    pub fn parse(body: &[u8]) -> CallbackVerdict {
        match CallbackAnswer::read(body) {
            Some(answer) => answer.verdict(),
            None => CallbackVerdict::Retry {
                reason: format!("京东回调应答无法解析: {}", excerpt(body)),
            },
        }
    }

    pub fn verdict(&self) -> CallbackVerdict {
        let meaning = callback_code_label_zh(&self.code);
        let detail = if self.message.is_empty() {
            String::new()
        } else {
            format!("（京东: {}）", self.message)
        };
        let reason = |why: &str| format!("京东返回 {} {meaning}，{why}{detail}", self.code);
        let misconfigured = |why: &str| CallbackVerdict::Misconfigured {
            code: self.code.clone(),
            reason: reason(why),
        };
        match self.code.as_str() {
            "0" => CallbackVerdict::Delivered,
            "13" => CallbackVerdict::Stop {
                code: self.code.clone(),
                reason: reason("订单在京东侧已是终态，停止回调，请人工核对"),
            },
            "10" => misconfigured("签名验证失败，请检查店铺 MD5 密钥配置"),
            "11" => misconfigured("回调来源 IP 未在京东登记，请登记出口 IP"),
            "19" => misconfigured("京东不认识该商家，请检查 vendorId 配置"),
            _ => CallbackVerdict::Retry {
                reason: format!("京东返回 {} {meaning}，稍后重试{detail}", self.code),
            },
        }
    }
}

/// Meaning of JD's callback answer codes (§7.3).
pub fn callback_code_label_zh(code: &str) -> &'static str {
    match code {
        "0" => "成功",
        "2" => "参数校验错误",
        "3" => "订单不存在",
        "10" => "签名验证错误",
        "11" => "IP无权限",
        "12" => "数量错误",
        "13" => "订单状态错误",
        "19" => "商家不存在",
        "500" => "系统异常",
        _ => "未知错误码",
    }
}

/// The start of an unreadable body for a log line / reason text.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jd_general::signing::{sign_string, verify_signed_fields};
    use crate::protocol::vectors::general::{A2_CIPHER, K, S7_SIGN};
    use crate::protocol::vectors::pairs;

    #[test]
    fn s7_callback_form() {
        let callback = ProduceResultCallback {
            vendor_id: 1201,
            jd_order_no: PlatformOrderNo::from_long(10002),
            agent_order_no: "SP00001".into(),
            produce_status: ProduceStatus::Success,
            quantity: 1,
            product: Some(A2_CIPHER.into()),
        };
        let form_fields = callback.to_form(K, "20210208112401");
        assert_eq!(
            sign_string(&form_fields, K),
            format!(
                "agentOrderNoSP00001jdOrderNo10002produceStatus1product{A2_CIPHER}quantity1timestamp20210208112401vendorId1201{K}"
            )
        );
        assert_eq!(
            form_fields,
            pairs(&[
                ("vendorId", "1201"),
                ("jdOrderNo", "10002"),
                ("agentOrderNo", "SP00001"),
                ("produceStatus", "1"),
                ("quantity", "1"),
                ("product", A2_CIPHER),
                ("timestamp", "20210208112401"),
                ("sign", S7_SIGN),
            ])
        );
        let body = callback.to_form_body(K, "20210208112401");
        let decoded = form::parse_form(body.as_bytes());
        assert_eq!(decoded, form_fields, "Base64 + / = survive form encoding");
        assert!(verify_signed_fields(&decoded, K));
        assert_eq!(
            ProduceResultCallback::parse(&decoded).expect("valid"),
            callback
        );
    }

    #[test]
    fn failed_callback_has_no_product() {
        let callback = ProduceResultCallback {
            vendor_id: 1201,
            jd_order_no: PlatformOrderNo::from_long(10002),
            agent_order_no: "SP00001".into(),
            produce_status: ProduceStatus::Failed,
            quantity: 1,
            product: None,
        };
        let f = callback.to_form(K, "20210208112401");
        assert!(form::first_value(&f, "product").is_none());
        assert_eq!(form::first_value(&f, "produceStatus"), Some("2"));
        assert!(verify_signed_fields(&f, K));
    }

    #[test]
    fn callback_urls() {
        assert_eq!(
            callback_url("https://vtpnotify.jd.com/vtp"),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url("https://vtpnotify.jd.com/vtp/"),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url("https://vtpnotify.jd.com/vtp/produce/result"),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url(" https://vtpnotify.jd.com/vtp/produce/result/ "),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url("http://vtp.jd.com/notify"),
            "http://vtp.jd.com/notify/produce/result"
        );
        assert_eq!(
            SELF_TEST_CALLBACK_URL,
            "https://tsp.shop.jd.com/vtp/produce/notify"
        );
    }

    #[test]
    fn callback_answers() {
        assert_eq!(
            CallbackAnswer::parse(r#"{"code":"0","message":"成功"}"#.as_bytes()),
            CallbackVerdict::Delivered
        );
        assert_eq!(
            CallbackAnswer::parse(br#"{"code":0}"#),
            CallbackVerdict::Delivered
        );
        // Only 13 stops; 10, 11 and 19 are configuration problems: retried, with an alert.
        for code in ["10", "11", "19"] {
            let body = format!(r#"{{"code":"{code}","message":"x"}}"#);
            match CallbackAnswer::parse(body.as_bytes()) {
                CallbackVerdict::Misconfigured { code: c, reason } => {
                    assert_eq!(c, code);
                    assert!(reason.contains(code) && reason.contains("京东"), "{reason}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        match CallbackAnswer::parse(r#"{"code":"13","message":"订单状态错误"}"#.as_bytes()) {
            CallbackVerdict::Stop { reason, .. } => assert!(reason.contains("终态")),
            other => panic!("{other:?}"),
        }
        for body in [
            r#"{"code":"500","message":"系统异常"}"#.as_bytes(),
            br#"{"code":"2"}"#,
            br#"{"code":"3"}"#,
            br#"{"code":"12"}"#,
            br#"{"code":"77"}"#,
            br#"{"message":"no code"}"#,
            b"<html>502 Bad Gateway</html>",
            b"",
            b"[1,2]",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(CallbackAnswer::parse(body), CallbackVerdict::Retry { .. }),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        match CallbackAnswer::parse(b"<html>502</html>") {
            CallbackVerdict::Retry { reason } => assert!(reason.contains("<html>502</html>")),
            other => panic!("{other:?}"),
        }
    }
}
