//! Cryptography used by the protocols and by storage: MD5 signing digests, JD's AES-256-ECB field
//! encryption (`jd_aes`) and our own AES-256-GCM encryption of secrets and cards at rest (`at_rest`).
//!
//! Error messages never contain key material or plaintext.

pub mod at_rest;
pub mod jd_aes;

use md5::{Digest, Md5};

pub use at_rest::{
    MasterKey, RowKey, SealedColumn, Slot, mask_card_no, mask_card_password, mask_secret,
};
pub use jd_aes::JdAesKey;

/// Why a cryptographic operation failed. Messages say what is wrong, never which value was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("JD AES key must be exactly 32 bytes, got {0} bytes")]
    JdKeyLength(usize),
    #[error("master key is not valid standard base64")]
    MasterKeyNotBase64,
    #[error("master key must decode to exactly 32 bytes, got {0} bytes")]
    MasterKeyLength(usize),
    #[error("ciphertext is not valid base64")]
    CiphertextNotBase64,
    #[error("ciphertext is empty or not a whole number of AES blocks")]
    CiphertextLength,
    #[error("decryption failed: wrong key or corrupted ciphertext (bad padding)")]
    BadPadding,
    #[error("encrypted blob is too short to be valid")]
    BlobTooShort,
    #[error("unsupported encrypted blob version {0}")]
    UnsupportedVersion(u8),
    #[error("decryption failed: wrong master key or the data was tampered with")]
    AuthenticationFailed,
    #[error("decrypted data is not valid UTF-8")]
    NotUtf8,
}

/// Lowercase hex MD5 of `data`, the digest every JD and Agiso signature uses.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Compares a signature we computed (lowercase hex) with one we received, ignoring ASCII case
/// (JD and Agiso both allow either case). The comparison time does not depend on where the
/// strings differ, so a caller cannot learn a valid signature byte by byte.
pub fn signature_matches(expected: &str, received: &str) -> bool {
    let (a, b) = (expected.trim().as_bytes(), received.trim().as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    });
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vectors::general::S1_SIGN;

    #[test]
    fn md5_hex_is_lowercase_and_correct() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn signature_match_ignores_case_only() {
        // The JD 通用交易 S1 sign, as an example of an MD5 signature.
        assert!(signature_matches(S1_SIGN, &S1_SIGN.to_uppercase()));
        assert!(!signature_matches(
            S1_SIGN,
            "10c1c32a49e2a520ef59ca97cefc73f8"
        ));
        assert!(!signature_matches(&S1_SIGN[..8], S1_SIGN));
        assert!(!signature_matches("", ""));
    }

    #[test]
    fn errors_do_not_echo_values() {
        let msg = CryptoError::JdKeyLength(5).to_string();
        assert_eq!(msg, "JD AES key must be exactly 32 bytes, got 5 bytes");
    }
}
