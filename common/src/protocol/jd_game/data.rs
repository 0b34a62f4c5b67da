//! `data`: Base64 of a JSON object. Inbound UTF-8 (GBK tolerated), our answers UTF-8, our
//! callbacks **GBK** (§2.2); and the lenient reading of the decoded object ([`DataFields`]).

use std::borrow::Cow;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde_json::{Map, Value};

use super::codes::GameError;
use crate::domain::PlatformOrderNo;
use crate::domain::money::Fen;

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Undoes form decoding damage: a `+` sent unescaped arrives as a space.
pub(super) fn restore_plus(raw: &str) -> String {
    raw.replace(' ', "+")
}

/// Decodes a received `data` value to JSON text: spaces back to `+`, other whitespace removed,
/// missing padding tolerated, strict UTF-8 first and GBK as fallback (JD sends UTF-8; GBK is a
/// safety net, and is what JD's own callbacks use).
pub fn decode_data(raw: &str) -> Result<String, GameError> {
    let compact: String = restore_plus(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = lenient_base64()
        .decode(compact.as_bytes())
        .map_err(|_| GameError::DataNotBase64)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(not_utf8) => encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(not_utf8.as_bytes())
            .map(Cow::into_owned)
            .ok_or(GameError::DataNotText),
    }
}

/// Base64 of UTF-8 JSON, for the `data` of our answers (these payloads are ASCII anyway).
pub fn encode_answer_data(json: &str) -> String {
    STANDARD.encode(json.as_bytes())
}

/// Base64 of the **GBK** bytes of JSON, for callbacks (§2.2: "for historical reasons"). Characters
/// GBK cannot represent become `&#NNNN;` references; card data is ASCII, only reasons are affected.
pub fn encode_callback_data(json: &str) -> String {
    let (gbk, _, _) = encoding_rs::GBK.encode(json);
    STANDARD.encode(gbk)
}

/// `{id, name}` options such as `gameAccountType`, `chargeType`, `gameArea`, `gameServer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdName {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// The decoded JSON object of `data`, read leniently: keys trimmed (JD's own example has
/// `"orderId "`), numbers accepted as JSON strings or numbers, object-valued fields accepted as
/// objects or as JSON-encoded strings.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFields {
    map: Map<String, Value>,
}

impl DataFields {
    pub fn parse(json_text: &str) -> Result<DataFields, GameError> {
        let Ok(Value::Object(raw)) = serde_json::from_str::<Value>(json_text) else {
            return Err(GameError::DataNotJson);
        };
        let mut map = Map::new();
        for (key, value) in raw {
            let key = key.trim().to_string();
            // The first occurrence wins if trimming makes two keys equal.
            map.entry(key).or_insert(value);
        }
        Ok(DataFields { map })
    }

    /// The raw JSON value of a field.
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Text of a scalar field: strings as they are, numbers by their JSON text. Empty strings
    /// and `null` count as absent.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn required_text(&self, key: &'static str) -> Result<String, GameError> {
        self.text(key).ok_or(GameError::MissingField(key))
    }

    /// A `Long` field: digits only (after trimming), fitting `i64`.
    pub fn long(&self, key: &'static str) -> Result<Option<i64>, GameError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GameError::InvalidField {
                field: key,
                why: "应为非负整数".to_string(),
            });
        }
        text.parse().map(Some).map_err(|_| GameError::InvalidField {
            field: key,
            why: "数值过大".to_string(),
        })
    }

    pub fn required_long(&self, key: &'static str) -> Result<i64, GameError> {
        self.long(key)?.ok_or(GameError::MissingField(key))
    }

    /// JD's order number (`orderId`, a `Long`), parsed once here.
    pub fn required_order_no(&self, key: &'static str) -> Result<PlatformOrderNo, GameError> {
        let no = self.required_long(key)?;
        u64::try_from(no)
            .map(PlatformOrderNo::from_long)
            .map_err(|_| GameError::InvalidField {
                field: key,
                why: "应为非负整数".to_string(),
            })
    }

    /// A quantity: an integer of at least 1.
    pub fn required_count(&self, key: &'static str) -> Result<u32, GameError> {
        u32::try_from(self.required_long(key)?)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| GameError::InvalidField {
                field: key,
                why: "应为不小于 1 的整数".to_string(),
            })
    }

    /// A yuan amount converted exactly to fen. A JSON number is converted from its text: without
    /// serde_json's `arbitrary_precision` feature a number is held as `f64`, and
    /// `Number::to_string` prints the shortest text that round-trips (`140.25`, `9.8`, `150`), which
    /// is exact for the prices JD sends (at most 2 decimals); it never goes through float arithmetic.
    pub fn yuan(&self, key: &'static str) -> Result<Option<Fen>, GameError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        Fen::from_yuan_str(&text)
            .map(Some)
            .map_err(|e| GameError::InvalidField {
                field: key,
                why: format!("金额无效（{e}）"),
            })
    }

    pub fn required_yuan(&self, key: &'static str) -> Result<Fen, GameError> {
        self.yuan(key)?.ok_or(GameError::MissingField(key))
    }

    /// An object field given as an object or as a JSON-encoded string of one.
    pub fn object(&self, key: &str) -> Option<Map<String, Value>> {
        match self.map.get(key)? {
            Value::Object(map) => Some(map.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            },
            _ => None,
        }
    }

    /// An array field given as an array or as a JSON-encoded string of one.
    pub fn array(&self, key: &str) -> Option<Vec<Value>> {
        match self.map.get(key)? {
            Value::Array(items) => Some(items.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    /// An `{id, name}` option field.
    pub fn id_name(&self, key: &str) -> Option<IdName> {
        let map = self.object(key)?;
        let text = |k: &str| match map.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Some(IdName {
            id: text("id"),
            name: text("name"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jd_game::params::GameParams;
    use crate::protocol::jd_game::request::DirectChargeRequest;
    use crate::protocol::jd_game::signing::sign;
    use crate::protocol::vectors::game::{
        CUSTOMER_ID, K, V2_DATA, V2_JSON, V2_TIMESTAMP, V3_DATA, V3_DATA_UTF8, V3_JSON,
    };
    use crate::protocol::vectors::pairs;

    #[test]
    fn gbk_data_is_decoded_by_fallback_and_utf8_first() {
        // V3's GBK bytes are not UTF-8: the fallback reads them.
        assert_eq!(decode_data(V3_DATA).expect("gbk"), V3_JSON);
        // The UTF-8 variant reads as UTF-8 (not GBK mojibake).
        assert_eq!(decode_data(V3_DATA_UTF8).expect("utf8"), V3_JSON);
        // A GBK-encoded inbound request reads as well.
        let (gbk, _, _) = encoding_rs::GBK.encode(V2_JSON);
        let data = STANDARD.encode(&gbk);
        assert_ne!(data, V2_DATA);
        let mut p = pairs(&[
            ("customerId", CUSTOMER_ID),
            ("data", &data),
            ("timestamp", V2_TIMESTAMP),
        ]);
        let s = sign(&p, K);
        p.push(("sign".into(), s));
        let req = DirectChargeRequest::from_params(&GameParams::parse(&p).expect("params"))
            .expect("request");
        assert_eq!(req.game_account, "测试账号01");
        // Bytes that are neither UTF-8 nor GBK are refused.
        assert_eq!(
            decode_data(&STANDARD.encode([0x7b, 0xff, 0xff, 0x7d])),
            Err(GameError::DataNotText)
        );
    }
}
