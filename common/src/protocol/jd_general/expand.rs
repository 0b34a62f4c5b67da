//! `expand` (§7.4): beginDistill's optional encrypted extra attributes.

use serde_json::Value;

use crate::crypto::{CryptoError, JdAesKey};

/// Why `expand` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("expand 解密失败: {0}")]
    Crypto(#[from] CryptoError),
    #[error("expand 解密后不是 JSON 对象")]
    NotJsonObject,
}

/// Decrypts `beginDistill`'s `expand` into its JSON object (§7.4). JD says the ciphertext is
/// URL-encoded for transport; if `%XX` escapes survive form decoding we decode once more
/// [INFERRED, untested against JD]. `expand` is optional and non-critical: callers should log a
/// failure rather than refuse the order.
pub fn decrypt_expand(
    expand: &str,
    aes_key: &JdAesKey,
) -> Result<serde_json::Map<String, Value>, ExpandError> {
    let text = if expand.contains('%') {
        percent_decode(expand)
    } else {
        expand.to_string()
    };
    let plain = aes_key.decrypt_b64(&text)?;
    match serde_json::from_slice::<Value>(&plain) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ExpandError::NotJsonObject),
    }
}

/// `%XX` decoding that, unlike form decoding, keeps `+` (a Base64 character).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (
            bytes[i],
            hex_pair.and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vectors::general::{A3_CIPHER, K};

    fn aes() -> JdAesKey {
        JdAesKey::new(K).expect("key")
    }

    #[test]
    fn expand_decrypts_plain_or_percent_encoded() {
        let plain = r#"{"system":"2","mobile":"","orderPaymentAmount":5000}"#;
        let cipher = aes().encrypt_b64(plain.as_bytes());
        let map = decrypt_expand(&cipher, &aes()).expect("expand");
        assert_eq!(map["orderPaymentAmount"], 5000);
        let escaped = cipher
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(decrypt_expand(&escaped, &aes()).expect("expand"), map);
        assert!(decrypt_expand(A3_CIPHER, &aes()).is_err());
        assert!(decrypt_expand("%%%zz", &aes()).is_err());
    }
}
