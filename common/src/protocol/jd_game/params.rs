//! The outer parameters of every JD → merchant call (§2): `customerId, data, timestamp, sign
//! [, version]`, from a form or (defensively) a JSON body.

use serde_json::Value;

use super::codes::GameError;
use super::data::{DataFields, decode_data, restore_plus};
use super::signing::verify_sign;
use crate::protocol::form;

/// The outer parameters of every JD → merchant call. Parse, look up the shop by `customer_id`,
/// [`GameParams::verify_signature`], then read the typed request from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameParams {
    /// Identifies the shop (merchant number issued by JD).
    pub customer_id: String,
    /// `data` with spaces restored to `+`.
    pub data: String,
    pub timestamp: String,
    pub sign: String,
    pub version: Option<String>,
    /// All received parameters (with `data` restored), for signature verification.
    pub params: Vec<(String, String)>,
}

/// The longest `customerId` we accept (JD's are a few digits; `shops.merchant_id` holds 64).
pub const MAX_CUSTOMER_ID_LEN: usize = 32;

impl GameParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<GameParams, GameError> {
        if let Some(name) = form::duplicated_name(pairs) {
            return Err(GameError::DuplicateParam(name));
        }
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| {
                let v = if k == "data" {
                    restore_plus(v)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        let get = |name: &str| form::first_value(&params, name).filter(|v| !v.trim().is_empty());
        let customer_id = get("customerId")
            .ok_or(GameError::MissingParam("customerId"))?
            .trim();
        // Digits, and no longer than the column holding it: bounded before any lookup or cache.
        if customer_id.len() > MAX_CUSTOMER_ID_LEN
            || !customer_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(GameError::InvalidParam("customerId"));
        }
        Ok(GameParams {
            customer_id: customer_id.to_string(),
            data: get("data")
                .ok_or(GameError::MissingParam("data"))?
                .to_string(),
            timestamp: get("timestamp")
                .ok_or(GameError::MissingParam("timestamp"))?
                .to_string(),
            sign: get("sign").ok_or(GameError::MissingSign)?.to_string(),
            version: get("version").map(str::to_string),
            params: params.clone(),
        })
    }

    pub fn verify_signature(&self, private_key: &str) -> bool {
        verify_sign(&self.params, private_key)
    }

    /// The decoded `data` object.
    pub fn data_fields(&self) -> Result<DataFields, GameError> {
        DataFields::parse(&decode_data(&self.data)?)
    }
}

/// Flat parameters from a JSON body (JD documents a form; accepted defensively [INFERRED]).
pub fn pairs_from_json_body(body: &[u8]) -> Option<Vec<(String, String)>> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let pairs = map
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect();
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jd_game::codes::RetCode;
    use crate::protocol::vectors::game::{CUSTOMER_ID, K, V2_DATA, V2_SIGN, V2_TIMESTAMP, V3_DATA};
    use crate::protocol::vectors::pairs;

    #[test]
    fn outer_parameter_errors() {
        let full = || {
            pairs(&[
                ("customerId", CUSTOMER_ID),
                ("data", V2_DATA),
                ("timestamp", V2_TIMESTAMP),
                ("sign", V2_SIGN),
            ])
        };
        let without = |name: &str| -> Vec<(String, String)> {
            full().into_iter().filter(|(k, _)| k != name).collect()
        };
        assert_eq!(
            GameParams::parse(&without("customerId")),
            Err(GameError::MissingParam("customerId"))
        );
        assert_eq!(
            GameParams::parse(&without("data")),
            Err(GameError::MissingParam("data"))
        );
        assert_eq!(
            GameParams::parse(&without("timestamp")),
            Err(GameError::MissingParam("timestamp"))
        );
        let err = GameParams::parse(&without("sign")).unwrap_err();
        assert_eq!(err, GameError::MissingSign);
        assert_eq!(err.ret_code(), RetCode::SignFailed);
        assert!(!verify_sign(&without("sign"), K));
        let mut dup = full();
        dup.push(("data".into(), "x".into()));
        assert_eq!(
            GameParams::parse(&dup),
            Err(GameError::DuplicateParam("data".into()))
        );
        let mut bad_customer = full();
        bad_customer[0].1 = "abc".into();
        assert_eq!(
            GameParams::parse(&bad_customer),
            Err(GameError::InvalidParam("customerId"))
        );
        // A customerId too long for any shop: refused before any lookup.
        bad_customer[0].1 = "1".repeat(MAX_CUSTOMER_ID_LEN + 1);
        assert_eq!(
            GameParams::parse(&bad_customer),
            Err(GameError::InvalidParam("customerId"))
        );
        // Wrong and uppercase signatures.
        let mut wrong = full();
        wrong[3].1 = "a95df4666fc57aceefd2b5c5dc99fd16".into();
        assert!(
            !GameParams::parse(&wrong)
                .expect("params")
                .verify_signature(K)
        );
        let mut upper = full();
        upper[3].1 = upper[3].1.to_uppercase();
        assert!(
            GameParams::parse(&upper)
                .expect("params")
                .verify_signature(K)
        );
        // A tampered data value fails verification.
        let mut tampered = full();
        tampered[1].1 = V3_DATA.into();
        assert!(
            !GameParams::parse(&tampered)
                .expect("params")
                .verify_signature(K)
        );
        // JSON bodies are accepted defensively.
        let from_json = pairs_from_json_body(
            format!(r#"{{"customerId":10817,"data":"{V2_DATA}","timestamp":"20240101120000","sign":"{V2_SIGN}"}}"#).as_bytes(),
        )
        .expect("json body");
        assert!(
            GameParams::parse(&from_json)
                .expect("params")
                .verify_signature(K)
        );
        assert_eq!(pairs_from_json_body(b"not json"), None);
    }
}
