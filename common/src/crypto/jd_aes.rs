//! JD 通用交易 field encryption: AES-256-ECB, PKCS#7 padding, standard Base64
//! (Java's `AES/ECB/PKCS5Padding`). The key is the raw bytes of JD's 32-character key string:
//! not hex-decoded, not hashed, not padded (jd-general.md §3, verified against JD's example).

use std::fmt;

use aes::Aes256;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::CryptoError;

type Aes256EcbEnc = ecb::Encryptor<Aes256>;
type Aes256EcbDec = ecb::Decryptor<Aes256>;

/// A JD AES key: exactly 32 bytes. Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct JdAesKey {
    key: [u8; 32],
}

impl JdAesKey {
    /// Takes the key string as configured. Any length other than 32 bytes is rejected rather than
    /// NUL-padded or truncated as some third-party code does: a wrong key must fail loudly.
    pub fn new(key: &str) -> Result<JdAesKey, CryptoError> {
        let key: [u8; 32] = key
            .as_bytes()
            .try_into()
            .map_err(|_| CryptoError::JdKeyLength(key.len()))?;
        Ok(JdAesKey { key })
    }

    /// Encrypts and returns single-line standard Base64 (no line breaks: we sign exactly what we send).
    pub fn encrypt_b64(&self, plaintext: &[u8]) -> String {
        let ciphertext = Aes256EcbEnc::new(&self.key.into()).encrypt_padded_vec::<Pkcs7>(plaintext);
        STANDARD.encode(ciphertext)
    }

    /// Decrypts Base64 ciphertext. Whitespace (JD's examples wrap Base64 at 76 characters) is
    /// removed first.
    pub fn decrypt_b64(&self, b64: &str) -> Result<Vec<u8>, CryptoError> {
        let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let ciphertext = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| CryptoError::CiphertextNotBase64)?;
        if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
            return Err(CryptoError::CiphertextLength);
        }
        Aes256EcbDec::new(&self.key.into())
            .decrypt_padded_vec::<Pkcs7>(&ciphertext)
            .map_err(|_| CryptoError::BadPadding)
    }
}

impl fmt::Debug for JdAesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JdAesKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::vectors::general::{
        A1_CIPHER, A1_PLAIN, A2_CIPHER, A2_PLAIN, A3_CIPHER, A3_PLAIN, K,
    };

    fn key() -> JdAesKey {
        JdAesKey::new(K).expect("32-byte key")
    }

    #[test]
    fn a1_ciphertext_is_byte_identical_to_jd_doc() {
        assert_eq!(A1_PLAIN.len(), 141);
        let out = key().encrypt_b64(A1_PLAIN.as_bytes());
        assert_eq!(out, A1_CIPHER);
        let raw = STANDARD.decode(&out).expect("base64");
        assert_eq!(raw.len(), 144);
        assert_eq!(
            key().decrypt_b64(A1_CIPHER).expect("decrypt"),
            A1_PLAIN.as_bytes()
        );
    }

    #[test]
    fn a1_decrypts_with_76_column_line_breaks() {
        let wrapped = format!(
            "{}\n{}\r\n{}",
            &A1_CIPHER[..76],
            &A1_CIPHER[76..152],
            &A1_CIPHER[152..]
        );
        assert_eq!(
            key().decrypt_b64(&wrapped).expect("decrypt"),
            A1_PLAIN.as_bytes()
        );
    }

    #[test]
    fn a2_round_trips() {
        assert_eq!(key().encrypt_b64(A2_PLAIN.as_bytes()), A2_CIPHER);
        assert_eq!(
            key().decrypt_b64(A2_CIPHER).expect("decrypt"),
            A2_PLAIN.as_bytes()
        );
        // ECB: both plaintexts start with the same 16 bytes, so the first blocks are equal.
        assert_eq!(&A1_CIPHER[..20], &A2_CIPHER[..20]);
    }

    #[test]
    fn a3_legacy_product_decrypts() {
        let plain = key().decrypt_b64(A3_CIPHER).expect("decrypt");
        assert_eq!(plain, A3_PLAIN.as_bytes());
    }

    #[test]
    fn keys_of_wrong_length_are_rejected() {
        assert_eq!(
            JdAesKey::new("1234567890123456789012345678901").unwrap_err(),
            CryptoError::JdKeyLength(31)
        );
        assert_eq!(
            JdAesKey::new("123456789012345678901234567890123").unwrap_err(),
            CryptoError::JdKeyLength(33)
        );
        assert_eq!(JdAesKey::new("").unwrap_err(), CryptoError::JdKeyLength(0));
        // 16 chars that are 32 bytes of hex would be a different (wrong) reading of the key.
        assert!(JdAesKey::new("0123456789abcdef").is_err());
    }

    #[test]
    fn bad_ciphertexts_are_errors_not_panics() {
        let k = key();
        assert_eq!(
            k.decrypt_b64("not base64!!").unwrap_err(),
            CryptoError::CiphertextNotBase64
        );
        assert_eq!(
            k.decrypt_b64("").unwrap_err(),
            CryptoError::CiphertextLength
        );
        assert_eq!(
            k.decrypt_b64("QUJD").unwrap_err(),
            CryptoError::CiphertextLength
        );
        let other = JdAesKey::new("abcdefghijabcdefghijabcdefghij12").expect("key");
        assert!(
            other.decrypt_b64(A1_CIPHER).is_err()
                || other.decrypt_b64(A1_CIPHER).ok() != Some(A1_PLAIN.as_bytes().to_vec())
        );
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let shown = format!("{:?}", key());
        assert!(!shown.contains("1234"));
        assert!(shown.contains("redacted"));
    }
}
