//! Encryption of secrets and card data at rest with the `MASTER_KEY` (AES-256-GCM), keyed card
//! fingerprints for de-duplication (HMAC-SHA256), and masking of secrets for display.
//!
//! Blob layout: `version (1 byte, = 2) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! The version byte lets a later key or algorithm rotation tell old blobs from new ones.
//!
//! Every value is sealed for one place: its column and the key of its row ([`Slot`]) are the
//! AES-GCM associated data, so a value copied by a database writer into another row or another
//! column no longer opens (the read fails, it never yields the other row's secret). Version 1
//! blobs (no associated data, written before this binding) are only read by the one-time
//! re-sealing in `db::sealed`, never by the services.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CryptoError;

const BLOB_VERSION: u8 = 2;
/// Blobs sealed without associated data, before values were bound to their row and column.
pub(crate) const LEGACY_BLOB_VERSION: u8 = 1;
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

    /// Seals a value for `slot` with a fresh random 96-bit nonce.
    pub fn seal(&self, slot: Slot<'_>, plaintext: &[u8]) -> Vec<u8> {
        self.encrypt(BLOB_VERSION, &slot.associated_data(), plaintext)
    }

    pub fn seal_str(&self, slot: Slot<'_>, plaintext: &str) -> Vec<u8> {
        self.seal(slot, plaintext.as_bytes())
    }

    /// Opens a blob sealed for `slot`; a blob sealed for another row or column, or changed in
    /// any way, is refused.
    pub fn open(&self, slot: Slot<'_>, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.decrypt(BLOB_VERSION, &slot.associated_data(), blob)
    }

    pub fn open_string(&self, slot: Slot<'_>, blob: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(slot, blob)?).map_err(|_| CryptoError::NotUtf8)
    }

    /// Opens a version 1 blob (sealed with no associated data): only the re-sealing of old
    /// values uses it.
    pub(crate) fn open_legacy(&self, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.decrypt(LEGACY_BLOB_VERSION, &[], blob)
    }

    /// A version 1 blob, as values were sealed before they were bound to their place: for the
    /// tests of the re-sealing only.
    #[cfg(any(test, feature = "testing"))]
    pub fn seal_legacy_for_tests(&self, plaintext: &[u8]) -> Vec<u8> {
        self.encrypt(LEGACY_BLOB_VERSION, &[], plaintext)
    }

    fn encrypt(&self, version: u8, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = rand::random::<[u8; NONCE_LEN]>();
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        let sealed = match self.cipher().encrypt(&nonce_bytes.into(), payload) {
            Ok(sealed) => sealed,
            // Only possible for plaintexts beyond GCM's 64 GiB limit, far above anything we
            // store; an empty blob then fails to decrypt instead of panicking here.
            Err(_) => return Vec::new(),
        };
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        blob.push(version);
        blob.extend_from_slice(&nonce_bytes);
        blob.extend_from_slice(&sealed);
        blob
    }

    fn decrypt(&self, expected: u8, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = blob.split_first().ok_or(CryptoError::BlobTooShort)?;
        if version != expected {
            return Err(CryptoError::UnsupportedVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::BlobTooShort);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::BlobTooShort)?;
        self.cipher()
            .decrypt(&nonce.into(), Payload { msg: sealed, aad })
            .map_err(|_| CryptoError::AuthenticationFailed)
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

/// A column that holds sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    CardNo,
    CardPassword,
    ShopMd5Key,
    ShopAesKey,
    ShopPrivateKey,
    ShopAppSecret,
    ShopAccessToken,
    SupplierSecret,
    ImportDraftPart,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 9] = [
        SealedColumn::CardNo,
        SealedColumn::CardPassword,
        SealedColumn::ShopMd5Key,
        SealedColumn::ShopAesKey,
        SealedColumn::ShopPrivateKey,
        SealedColumn::ShopAppSecret,
        SealedColumn::ShopAccessToken,
        SealedColumn::SupplierSecret,
        SealedColumn::ImportDraftPart,
    ];

    pub const fn table(self) -> &'static str {
        match self {
            SealedColumn::CardNo | SealedColumn::CardPassword => "cards",
            SealedColumn::ShopMd5Key
            | SealedColumn::ShopAesKey
            | SealedColumn::ShopPrivateKey
            | SealedColumn::ShopAppSecret
            | SealedColumn::ShopAccessToken => "shops",
            SealedColumn::SupplierSecret => "suppliers",
            SealedColumn::ImportDraftPart => "card_import_draft_parts",
        }
    }

    pub const fn column(self) -> &'static str {
        match self {
            SealedColumn::CardNo => "card_no_enc",
            SealedColumn::CardPassword => "card_pass_enc",
            SealedColumn::ShopMd5Key => "md5_key_enc",
            SealedColumn::ShopAesKey => "aes_key_enc",
            SealedColumn::ShopPrivateKey => "private_key_enc",
            SealedColumn::ShopAppSecret => "app_secret_enc",
            SealedColumn::ShopAccessToken => "access_token_enc",
            SealedColumn::SupplierSecret => "secret_enc",
            SealedColumn::ImportDraftPart => "cards_enc",
        }
    }
}

/// The identity of the row a sealed value belongs to: what never changes for that row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKey<'a> {
    /// The row's `id` (shops, suppliers).
    Id(u64),
    /// A card: its product and its fingerprint (unique across all cards), both fixed when the
    /// row is inserted and known before.
    Card {
        product_id: u64,
        fingerprint: &'a [u8],
    },
    /// A part of a card import draft.
    DraftPart { draft_id: &'a str, seq: i32 },
}

/// Where a sealed value is stored: its column and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    pub column: SealedColumn,
    pub row: RowKey<'a>,
}

impl<'a> Slot<'a> {
    pub const fn new(column: SealedColumn, row: RowKey<'a>) -> Slot<'a> {
        Slot { column, row }
    }

    /// `vg-sealed|<table>.<column>|<row>`: no table or column name holds a `|`, and each row
    /// form has its own prefix, so two slots never share associated data.
    fn associated_data(&self) -> Vec<u8> {
        let mut aad = format!(
            "vg-sealed|{}.{}|",
            self.column.table(),
            self.column.column()
        )
        .into_bytes();
        match self.row {
            RowKey::Id(id) => aad.extend_from_slice(format!("id={id}").as_bytes()),
            RowKey::Card {
                product_id,
                fingerprint,
            } => {
                aad.extend_from_slice(format!("product={product_id};fp=").as_bytes());
                aad.extend_from_slice(hex::encode(fingerprint).as_bytes());
            }
            RowKey::DraftPart { draft_id, seq } => {
                aad.extend_from_slice(format!("draft={draft_id};seq={seq}").as_bytes())
            }
        }
        aad
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

    const SHOP_1: Slot<'static> = Slot::new(SealedColumn::ShopMd5Key, RowKey::Id(1));

    #[test]
    fn round_trip() {
        let k = key();
        let blob = k.seal(SHOP_1, b"card secret 0001");
        assert_eq!(blob[0], 2);
        assert_eq!(blob.len(), 1 + 12 + 16 + 16);
        assert_eq!(k.open(SHOP_1, &blob).expect("open"), b"card secret 0001");
        let blob = k.seal_str(SHOP_1, "卡密");
        assert_eq!(k.open_string(SHOP_1, &blob).expect("open"), "卡密");
        let empty = k.seal(SHOP_1, b"");
        assert_eq!(k.open(SHOP_1, &empty).expect("open"), b"");
    }

    #[test]
    fn nonces_are_distinct() {
        let k = key();
        let a = k.seal(SHOP_1, b"same");
        let b = k.seal(SHOP_1, b"same");
        assert_ne!(a[1..13], b[1..13]);
        assert_ne!(a, b);
    }

    #[test]
    fn tampering_is_detected() {
        let k = key();
        let blob = k.seal(SHOP_1, b"payload");
        for i in 1..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                k.open(SHOP_1, &bad).unwrap_err(),
                CryptoError::AuthenticationFailed,
                "byte {i}"
            );
        }
        let mut bad_version = blob.clone();
        bad_version[0] = 3;
        assert_eq!(
            k.open(SHOP_1, &bad_version).unwrap_err(),
            CryptoError::UnsupportedVersion(3)
        );
        assert_eq!(
            k.open(SHOP_1, &blob[..20]).unwrap_err(),
            CryptoError::BlobTooShort
        );
        assert_eq!(k.open(SHOP_1, &[]).unwrap_err(), CryptoError::BlobTooShort);
        let other = MasterKey::from_bytes([8u8; 32]);
        assert_eq!(
            other.open(SHOP_1, &blob).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    #[test]
    fn a_value_opens_only_in_its_own_row_and_column() {
        let k = key();
        let fp_a = [0xaa; 32];
        let fp_b = [0xbb; 32];
        let card = |product_id, fingerprint| RowKey::Card {
            product_id,
            fingerprint,
        };
        let card_no_a = Slot::new(SealedColumn::CardNo, card(1, &fp_a));
        let blob = k.seal(card_no_a, b"CARD-A");
        assert_eq!(k.open(card_no_a, &blob).unwrap(), b"CARD-A");
        let elsewhere = [
            // The same column of another row.
            Slot::new(SealedColumn::CardNo, card(1, &fp_b)),
            // The same card moved to another product.
            Slot::new(SealedColumn::CardNo, card(2, &fp_a)),
            // Another column of the same row.
            Slot::new(SealedColumn::CardPassword, card(1, &fp_a)),
            Slot::new(SealedColumn::ShopMd5Key, RowKey::Id(1)),
            Slot::new(SealedColumn::ShopAesKey, RowKey::Id(1)),
        ];
        for slot in elsewhere {
            assert_eq!(
                k.open(slot, &blob).unwrap_err(),
                CryptoError::AuthenticationFailed,
                "{slot:?}"
            );
        }
        let shop = k.seal(SHOP_1, b"md5 key of shop 1");
        for slot in [
            Slot::new(SealedColumn::ShopMd5Key, RowKey::Id(2)),
            Slot::new(SealedColumn::ShopAesKey, RowKey::Id(1)),
            Slot::new(SealedColumn::SupplierSecret, RowKey::Id(1)),
        ] {
            assert!(k.open(slot, &shop).is_err(), "{slot:?}");
        }
        let part = Slot::new(
            SealedColumn::ImportDraftPart,
            RowKey::DraftPart {
                draft_id: "d1",
                seq: 0,
            },
        );
        let blob = k.seal(part, b"lines");
        let next = Slot::new(
            SealedColumn::ImportDraftPart,
            RowKey::DraftPart {
                draft_id: "d1",
                seq: 1,
            },
        );
        assert!(k.open(next, &blob).is_err());
        assert_eq!(k.open(part, &blob).unwrap(), b"lines");
    }

    #[test]
    fn legacy_blobs_open_only_through_the_resealing_path() {
        let k = key();
        let legacy = k.seal_legacy_for_tests(b"old secret");
        assert_eq!(legacy[0], 1);
        assert_eq!(
            k.open(SHOP_1, &legacy).unwrap_err(),
            CryptoError::UnsupportedVersion(1)
        );
        assert_eq!(k.open_legacy(&legacy).unwrap(), b"old secret");
        // A current blob is not a legacy one.
        let current = k.seal(SHOP_1, b"new");
        assert_eq!(
            k.open_legacy(&current).unwrap_err(),
            CryptoError::UnsupportedVersion(2)
        );
    }

    #[test]
    fn associated_data_names_table_column_and_row() {
        assert_eq!(
            SHOP_1.associated_data(),
            b"vg-sealed|shops.md5_key_enc|id=1".to_vec()
        );
        let fp = [0x01, 0xab];
        assert_eq!(
            Slot::new(
                SealedColumn::CardPassword,
                RowKey::Card {
                    product_id: 12,
                    fingerprint: &fp
                }
            )
            .associated_data(),
            b"vg-sealed|cards.card_pass_enc|product=12;fp=01ab".to_vec()
        );
    }

    #[test]
    fn non_utf8_plaintext_is_reported() {
        let k = key();
        let blob = k.seal(SHOP_1, &[0xff, 0xfe]);
        assert_eq!(
            k.open_string(SHOP_1, &blob).unwrap_err(),
            CryptoError::NotUtf8
        );
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
