//! Masks what looks like a secret in stored request / response text before it is shown.
//!
//! The stored texts are already secret-free by construction (the gateway drops `sign`, the
//! notifier masks card data); this is the second line of defence: values under key-like names
//! (`key`, `secret`, `sign`, `token`, `password`, card fields) and long key-shaped tokens (hex or
//! Base64, 32 characters or more) are shown as `abcd****wxyz`; values under card-password names
//! show nothing of themselves, under card-number names at most their last 4 characters.

use serde_json::Value;

use crate::web::page;

/// Field names whose values are never shown in full.
fn sensitive_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key",
        "secret",
        "sign",
        "token",
        "password",
        "passwd",
        "pwd",
        "cardpass",
        "card_pass",
        "cardno",
        "card_no",
        "cardnumber",
        "card_number",
        "cardinfo",
        "cardpwd",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// How a value under a sensitive name is masked: card passwords and numbers as cards are,
/// anything else as a secret.
fn mask_named(name: &str, value: &str) -> String {
    let n = name.to_ascii_lowercase();
    if ["pass", "pwd", "cardinfo"].iter().any(|s| n.contains(s)) {
        page::mask_card_password(value)
    } else if n.contains("card") {
        page::mask_card_no(value)
    } else {
        page::mask(value)
    }
}

/// A token that looks like key material: long, only hex / Base64 / URL-safe Base64 characters,
/// and not just digits (long order numbers are digits).
fn key_shaped(token: &str) -> bool {
    token.len() >= 32
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'))
        && !token.bytes().all(|b| b.is_ascii_digit())
}

/// The text for display: JSON pretty-printed with values masked, `k=v&k=v` forms with values
/// masked, anything else with key-shaped tokens masked.
pub fn mask_text(text: &str) -> String {
    let trimmed = text.trim();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut v) = serde_json::from_str::<Value>(trimmed)
    {
        mask_value(&mut v, None);
        return serde_json::to_string_pretty(&v).unwrap_or_default();
    }
    if looks_like_form(trimmed) {
        return trimmed
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => format!("{k}={}", mask_scalar(k, v)),
                None => mask_tokens(pair),
            })
            .collect::<Vec<_>>()
            .join("&");
    }
    mask_tokens(text)
}

fn looks_like_form(s: &str) -> bool {
    !s.is_empty()
        && !s.contains('\n')
        && s.split('&').all(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' '))
        })
}

/// One value under `name`.
fn mask_scalar(name: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    if sensitive_name(name) {
        return mask_named(name, value);
    }
    let t = value.trim();
    if (t.starts_with('{') || t.starts_with('[')) && serde_json::from_str::<Value>(t).is_ok() {
        return mask_text(t);
    }
    mask_tokens(value)
}

/// `under` is the nearest sensitive field name above the value, if any.
fn mask_value(v: &mut Value, under: Option<&str>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let name = if sensitive_name(k) {
                    Some(k.as_str())
                } else {
                    under
                };
                mask_value(child, name);
            }
        }
        Value::Array(items) => {
            for child in items {
                mask_value(child, under);
            }
        }
        Value::String(s) => {
            if let Some(name) = under
                && !s.is_empty()
            {
                *s = mask_named(name, s);
                return;
            }
            // A JSON document inside a string (游戏点卡 `data`): mask inside it.
            let t = s.trim();
            if (t.starts_with('{') || t.starts_with('['))
                && let Ok(mut inner) = serde_json::from_str::<Value>(t)
            {
                mask_value(&mut inner, None);
                *s = inner.to_string();
                return;
            }
            *s = mask_tokens(s);
        }
        Value::Number(n) if under.is_some() => {
            *v = Value::String(mask_named(under.unwrap_or_default(), &n.to_string()));
        }
        _ => {}
    }
}

/// Masks key-shaped runs inside free text.
fn mask_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if key_shaped(token) {
            out.push_str(&page::mask(token));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-') {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_under_key_names_are_masked() {
        let raw = r#"{"vendorId":"1001","jdOrderNo":"900000000012345678","md5Key":"abcdefgh12345678","accessToken":"T0KEN-T0KEN-T0KEN","data":"{\"cardPwd\":\"PW-123456789\",\"buyNum\":2}","amount":100}"#;
        let shown = mask_text(raw);
        assert!(shown.contains("\"1001\""), "{shown}");
        assert!(shown.contains("900000000012345678"), "digits stay: {shown}");
        assert!(!shown.contains("abcdefgh12345678"), "{shown}");
        assert!(shown.contains("abcd****5678"), "{shown}");
        assert!(!shown.contains("T0KEN-T0KEN-T0KEN"), "{shown}");
        assert!(!shown.contains("PW-123456789"), "{shown}");
        assert!(shown.contains("buyNum"), "{shown}");
    }

    #[test]
    fn card_fields_show_no_password_character_and_at_most_four_of_a_number() {
        let raw = r#"{"cardNo":"CARDNO-1234567890","cardPwd":"PASSWD-ABCDEFGHIJ","cards":[{"cardPass":"ZYXWVUTSRQ-998877"}]}"#;
        let shown = mask_text(raw);
        assert!(shown.contains("****7890"), "{shown}");
        assert!(!shown.contains("CARD"), "{shown}");
        for frag in ["PASS", "GHIJ", "ZYXW", "8877"] {
            assert!(!shown.contains(frag), "{frag}: {shown}");
        }
        let shown = mask_text("card_pass=SECRETPW-99887766&cardNo=NO-1122334455");
        assert_eq!(shown, "card_pass=******&cardNo=****4455");
    }

    #[test]
    fn forms_and_free_text() {
        let long = "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8";
        let shown = mask_text(&format!(
            "vendorId=1001&sign=0123456789abcdef0123456789abcdef&note={long}&product=[已隐藏] sha256:ab12"
        ));
        assert!(shown.starts_with("vendorId=1001&sign=0123****cdef&note=q1w2****j7k8"));
        assert!(shown.contains("product=[已隐藏] sha256:ab12"), "{shown}");
        let shown = mask_text(&format!("error: bad key {long} here"));
        assert_eq!(shown, "error: bad key q1w2****j7k8 here");
        assert_eq!(mask_text("短文本 ok"), "短文本 ok");
    }
}
