//! Encryption of secrets and card data at rest with the `MASTER_KEY` (AES-256-GCM), keyed card
//! fingerprints for de-duplication (HMAC-SHA256), and masking of secrets for display.
//!
//! Blob layout: `version (1 byte, = 1) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! The version byte lets a later key or algorithm rotation tell old blobs from new ones.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CryptoError;

const BLOB_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Label of the fingerprint sub-key, so the fingerprint key is never the encryption key.
const FINGERPRINT_LABEL: &[u8] = b"card-fingerprint-v1";

/// The 32-byte master key. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    fingerprint_key: [u8; 32],
}

impl MasterKey {
    /// Reads the key from standard Base64 (surrounding whitespace is ignored). The error says
    /// what is wrong without echoing the value.
    pub fn from_base64(s: &str) -> Result<MasterKey, CryptoError> {
        let bytes = STANDARD
            .decode(s.trim().as_bytes())
            .map_err(|_| CryptoError::MasterKeyNotBase64)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MasterKeyLength(bytes.len()))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// Builds a key from raw bytes (tests and key generation).
    pub fn from_bytes(key: [u8; 32]) -> MasterKey {
        let fingerprint_key = hmac_sha256(&key, FINGERPRINT_LABEL);
        MasterKey {
            key,
            fingerprint_key,
        }
    }

    /// A fresh random key, as Base64, for `.env` generation.
    pub fn generate_base64() -> String {
        STANDARD.encode(rand::random::<[u8; 32]>())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.key))
    }

    /// Encrypts with a fresh random 96-bit nonce per call.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = rand::random::<[u8; NONCE_LEN]>();
        let sealed = match self.cipher().encrypt(&nonce_bytes.into(), plaintext) {
            Ok(sealed) => sealed,
            // Only possible for plaintexts beyond GCM's 64 GiB limit, far above anything we
            // store; an empty blob then fails to decrypt instead of panicking here.
            Err(_) => return Vec::new(),
        };
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&nonce_bytes);
        blob.extend_from_slice(&sealed);
        blob
    }

    /// Decrypts a blob made by [`MasterKey::encrypt`]; any change to it is detected.
    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = blob.split_first().ok_or(CryptoError::BlobTooShort)?;
        if version != BLOB_VERSION {
            return Err(CryptoError::UnsupportedVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::BlobTooShort);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::BlobTooShort)?;
        self.cipher()
            .decrypt(&nonce.into(), sealed)
            .map_err(|_| CryptoError::AuthenticationFailed)
    }

    pub fn encrypt_str(&self, plaintext: &str) -> Vec<u8> {
        self.encrypt(plaintext.as_bytes())
    }

    pub fn decrypt_string(&self, blob: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(blob)?).map_err(|_| CryptoError::NotUtf8)
    }

    /// Deterministic keyed fingerprint (HMAC-SHA256 under a sub-key derived from the master key),
    /// used to detect duplicate cards without storing or comparing plaintext.
    pub fn fingerprint(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.fingerprint_key, data)
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails; the fallback keeps it panic-free.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Masks a secret for display: first 4 + `****` + last 4 characters, or just `****` when the
/// value has 8 characters or fewer (showing 8 of them would reveal it all).
pub fn mask_secret(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 8 {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// What a masked card password shows: no character of it, and not its length.
pub const MASKED_CARD_PASSWORD: &str = "******";

/// Masks a card number for display: `****` and at most its last 4 characters, only when it
/// has more than 8 (a short number shows nothing).
pub fn mask_card_no(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 8 {
        return "****".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("****{tail}")
}

/// Masks a card password for display: nothing of it is shown, whatever its length.
pub fn mask_card_password(_s: &str) -> String {
    MASKED_CARD_PASSWORD.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes([7u8; 32])
    }

    #[test]
    fn from_base64_accepts_exactly_32_bytes() {
        let b64 = STANDARD.encode([1u8; 32]);
        assert!(MasterKey::from_base64(&b64).is_ok());
        assert!(MasterKey::from_base64(&format!("  {b64}\n")).is_ok());
        assert_eq!(
            MasterKey::from_base64(&STANDARD.encode([1u8; 31])).unwrap_err(),
            CryptoError::MasterKeyLength(31)
        );
        assert_eq!(
            MasterKey::from_base64(&STANDARD.encode([1u8; 33])).unwrap_err(),
            CryptoError::MasterKeyLength(33)
        );
        let err = MasterKey::from_base64("secret-value-not-base64!").unwrap_err();
        assert_eq!(err, CryptoError::MasterKeyNotBase64);
        assert!(!err.to_string().contains("secret-value"));
        assert!(MasterKey::from_base64(&MasterKey::generate_base64()).is_ok());
    }

    #[test]
    fn round_trip() {
        let k = key();
        let blob = k.encrypt(b"card secret 0001");
        assert_eq!(blob[0], 1);
        assert_eq!(blob.len(), 1 + 12 + 16 + 16);
        assert_eq!(k.decrypt(&blob).expect("decrypt"), b"card secret 0001");
        let blob = k.encrypt_str("卡密");
        assert_eq!(k.decrypt_string(&blob).expect("decrypt"), "卡密");
        let empty = k.encrypt(b"");
        assert_eq!(k.decrypt(&empty).expect("decrypt"), b"");
    }

    #[test]
    fn nonces_are_distinct() {
        let k = key();
        let a = k.encrypt(b"same");
        let b = k.encrypt(b"same");
        assert_ne!(a[1..13], b[1..13]);
        assert_ne!(a, b);
    }

    #[test]
    fn tampering_is_detected() {
        let k = key();
        let blob = k.encrypt(b"payload");
        for i in 1..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                k.decrypt(&bad).unwrap_err(),
                CryptoError::AuthenticationFailed,
                "byte {i}"
            );
        }
        let mut bad_version = blob.clone();
        bad_version[0] = 2;
        assert_eq!(
            k.decrypt(&bad_version).unwrap_err(),
            CryptoError::UnsupportedVersion(2)
        );
        assert_eq!(
            k.decrypt(&blob[..20]).unwrap_err(),
            CryptoError::BlobTooShort
        );
        assert_eq!(k.decrypt(&[]).unwrap_err(), CryptoError::BlobTooShort);
        let other = MasterKey::from_bytes([8u8; 32]);
        assert_eq!(
            other.decrypt(&blob).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    #[test]
    fn non_utf8_plaintext_is_reported() {
        let k = key();
        let blob = k.encrypt(&[0xff, 0xfe]);
        assert_eq!(k.decrypt_string(&blob).unwrap_err(), CryptoError::NotUtf8);
    }

    #[test]
    fn fingerprint_is_deterministic_and_key_separated() {
        let k = key();
        let f1 = k.fingerprint(b"CARD0001");
        assert_eq!(f1, k.fingerprint(b"CARD0001"));
        assert_ne!(f1, k.fingerprint(b"CARD0002"));
        assert_ne!(
            f1,
            MasterKey::from_bytes([8u8; 32]).fingerprint(b"CARD0001")
        );
        // The fingerprint key is derived, not the master key itself.
        assert_ne!(f1, hmac_sha256(&[7u8; 32], b"CARD0001"));
        assert_eq!(
            f1,
            hmac_sha256(&hmac_sha256(&[7u8; 32], FINGERPRINT_LABEL), b"CARD0001")
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let shown = format!("{:?}", MasterKey::from_bytes([0x41; 32]));
        assert_eq!(shown, "MasterKey(<redacted>)");
    }

    #[test]
    fn masking() {
        assert_eq!(mask_secret("abcdefghijklmnopqrstuvwxyz"), "abcd****wxyz");
        assert_eq!(mask_secret("123456789"), "1234****6789");
        assert_eq!(mask_secret("12345678"), "****");
        assert_eq!(mask_secret(""), "****");
        assert_eq!(mask_secret("京东密钥一二三四五六"), "京东密钥****三四五六");
    }

    #[test]
    fn card_masking_shows_no_password_and_at_most_four_number_characters() {
        assert_eq!(mask_card_no("1234567890123456"), "****3456");
        assert_eq!(mask_card_no("123456789"), "****6789");
        assert_eq!(mask_card_no("12345678"), "****");
        assert_eq!(mask_card_no(""), "****");
        assert_eq!(mask_card_no("卡号一二三四五六七八"), "****五六七八");
        for pw in ["PW-123456789", "x", "", "密码一二三四五六七八九十"] {
            assert_eq!(mask_card_password(pw), "******");
        }
    }
}
