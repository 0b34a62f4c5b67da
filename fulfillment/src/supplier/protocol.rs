//! The generic supplier protocol (docs/SUPPLIER_PROTOCOL.md): signed JSON messages, the
//! canonical string they are signed over, and how an answer is read.

use common::domain::AttemptOutcome;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The canonical string of a message: every top-level member except `sign` and except
/// members whose value is `null`, sorted by name (byte order), as `name=value` joined by `&`.
/// Strings are taken verbatim (no escaping), numbers and booleans as their JSON text. Nested
/// objects and arrays are not allowed in signed messages.
pub fn canonical(body: &Map<String, Value>) -> Result<String, String> {
    let mut members: Vec<(&String, &Value)> = body
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_null())
        .collect();
    members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        match v {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            _ => return Err(format!("member {k} is not a string, number or boolean")),
        }
    }
    Ok(out)
}

/// Lowercase hex HMAC-SHA256 of the canonical string under the supplier's secret.
pub fn sign(body: &Map<String, Value>, secret: &str) -> Result<String, String> {
    let text = canonical(body)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .map_err(|_| "bad HMAC key".to_string())?;
    mac.update(text.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Adds `sign` to the message.
pub fn signed(mut body: Map<String, Value>, secret: &str) -> Result<Map<String, Value>, String> {
    let s = sign(&body, secret)?;
    body.insert("sign".into(), Value::String(s));
    Ok(body)
}

/// Whether the message carries a valid `sign` for `secret` (constant-time comparison).
pub fn verify(body: &Map<String, Value>, secret: &str) -> bool {
    let Some(given) = body.get("sign").and_then(Value::as_str) else {
        return false;
    };
    let Ok(given) = hex::decode(given.to_ascii_lowercase()) else {
        return false;
    };
    let Ok(text) = canonical(body) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(text.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// What a supplier said about one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `SUCCESS`: recharged. Final.
    Success { supplier_order_no: Option<String> },
    /// `FAILED`: definitely not recharged, and never will be for this order number. Final.
    Failed {
        failure: String,
        reason: Option<String>,
    },
    /// `ACCEPTED` / `PROCESSING`: working on it.
    Pending { supplier_order_no: Option<String> },
    /// `NOT_FOUND` (status query only): the supplier never received this order number.
    NotFound,
    /// No usable answer (transport error, HTTP error, unreadable body, unknown code): we do
    /// not know whether the supplier has the order.
    Unknown(String),
}

/// Failure code for insufficient balance at the supplier.
pub const INSUFFICIENT_BALANCE: &str = "INSUFFICIENT_BALANCE";

impl Report {
    /// Reads a status body (`code`, `supplierOrderNo`, `failure`, `reason`).
    pub fn from_body(body: &Map<String, Value>) -> Report {
        let text = |k: &str| {
            body.get(k)
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
        };
        match body.get("code").and_then(Value::as_str) {
            Some("SUCCESS") => Report::Success {
                supplier_order_no: text("supplierOrderNo"),
            },
            Some("FAILED") => Report::Failed {
                failure: text("failure").unwrap_or_else(|| "OTHER".into()),
                reason: text("reason"),
            },
            Some("ACCEPTED") | Some("PROCESSING") => Report::Pending {
                supplier_order_no: text("supplierOrderNo"),
            },
            Some("NOT_FOUND") => Report::NotFound,
            Some(other) => Report::Unknown(format!("unknown code {other:?}")),
            None => Report::Unknown("answer has no code".into()),
        }
    }

    /// The `callback_attempts.outcome` of a call that got this answer.
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            Report::Success { .. } => AttemptOutcome::Success,
            Report::Failed { .. } => AttemptOutcome::Failed,
            Report::Pending { .. } => AttemptOutcome::Processing,
            Report::NotFound => AttemptOutcome::NotFound,
            Report::Unknown(_) => AttemptOutcome::Error,
        }
    }

    pub fn supplier_order_no(&self) -> Option<&str> {
        match self {
            Report::Success { supplier_order_no } | Report::Pending { supplier_order_no } => {
                supplier_order_no.as_deref()
            }
            _ => None,
        }
    }
}

/// The failure code shown to operators, in Chinese.
pub fn failure_label_zh(failure: &str) -> &'static str {
    match failure {
        INSUFFICIENT_BALANCE => "供应商余额不足",
        "ACCOUNT_INVALID" => "充值账号错误",
        "PRODUCT_UNAVAILABLE" => "供应商商品不可用",
        "SIGN_INVALID" => "签名错误",
        _ => "供应商充值失败",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Map<String, Value> {
        serde_json::from_str(
            r#"{"merchantId":"M10001","orderNo":"20261125103000123000001","sku":"CM-100",
                "account":"13800138000","quantity":1,"faceValueFen":10000,
                "callbackUrl":"https://vg.example.com/api/supplier/callback",
                "timestamp":1764037800}"#,
        )
        .unwrap()
    }

    /// The worked example of docs/SUPPLIER_PROTOCOL.md (computed independently with
    /// `openssl dgst -sha256 -hmac test-secret-123`).
    #[test]
    fn documented_test_vector() {
        let body = example();
        assert_eq!(
            canonical(&body).unwrap(),
            "account=13800138000&callbackUrl=https://vg.example.com/api/supplier/callback\
             &faceValueFen=10000&merchantId=M10001&orderNo=20261125103000123000001&quantity=1\
             &sku=CM-100&timestamp=1764037800"
        );
        assert_eq!(
            sign(&body, "test-secret-123").unwrap(),
            "37c93421957ad4bae3c57bbddd2c12b6748ffd1ad1dac6aa4a4567cf04eb461b"
        );
    }

    #[test]
    fn verify_round_trip_and_tamper() {
        let body = signed(example(), "test-secret-123").unwrap();
        assert!(verify(&body, "test-secret-123"));
        assert!(!verify(&body, "other-secret"));
        let mut bad = body.clone();
        bad.insert("faceValueFen".into(), Value::from(20000));
        assert!(!verify(&bad, "test-secret-123"));
        // Null members are not signed; `sign` itself is ignored; uppercase hex is accepted.
        let mut extra = body.clone();
        extra.insert("reason".into(), Value::Null);
        assert!(verify(&extra, "test-secret-123"));
        let upper = body["sign"].as_str().unwrap().to_ascii_uppercase();
        extra.insert("sign".into(), Value::String(upper));
        assert!(verify(&extra, "test-secret-123"));
        let mut unsigned = body;
        unsigned.remove("sign");
        assert!(!verify(&unsigned, "test-secret-123"));
    }

    #[test]
    fn nested_values_are_refused() {
        let mut body = example();
        body.insert("x".into(), serde_json::json!({"a": 1}));
        assert!(canonical(&body).is_err());
        assert!(!verify(&body, "k"));
    }

    #[test]
    fn reports() {
        let r = |s: &str| Report::from_body(&serde_json::from_str(s).unwrap());
        assert_eq!(
            r(r#"{"code":"SUCCESS","supplierOrderNo":"S1"}"#),
            Report::Success {
                supplier_order_no: Some("S1".into())
            }
        );
        assert_eq!(
            r(r#"{"code":"FAILED","failure":"INSUFFICIENT_BALANCE","reason":"余额不足"}"#),
            Report::Failed {
                failure: INSUFFICIENT_BALANCE.into(),
                reason: Some("余额不足".into())
            }
        );
        assert_eq!(
            r(r#"{"code":"FAILED"}"#),
            Report::Failed {
                failure: "OTHER".into(),
                reason: None
            }
        );
        assert!(matches!(
            r(r#"{"code":"ACCEPTED"}"#),
            Report::Pending { .. }
        ));
        assert!(matches!(
            r(r#"{"code":"PROCESSING"}"#),
            Report::Pending { .. }
        ));
        assert_eq!(r(r#"{"code":"NOT_FOUND"}"#), Report::NotFound);
        assert!(matches!(r(r#"{"code":"WAT"}"#), Report::Unknown(_)));
        assert!(matches!(r(r#"{}"#), Report::Unknown(_)));
    }
}
