//! The delivered cards (`product` plaintext, §3): JD's V1.2 card array, AES-256-ECB encrypted
//! (`crypto::jd_aes`) and signed in encrypted form.

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, JdAesKey};

/// JD's limit on `cardNumber` and `password`, in characters.
pub const CARD_FIELD_MAX_CHARS: usize = 127;
/// What JD wants in a card field that has no value.
pub const CARD_FIELD_NONE: &str = "-";

/// One delivered card in JD's V1.2 array format. Use [`CARD_FIELD_NONE`] (`"-"`) for a field the
/// card does not have; empty values are sent as `"-"` anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardItem {
    pub card_number: String,
    pub password: String,
    /// `yyyy-MM-dd`, or `"-"`.
    pub expiry_date: String,
    /// Allowed redemptions (核销次数); JD's default is 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_times: Option<u32>,
}

impl CardItem {
    /// Whether JD accepts the item: card number and password at most 127 characters.
    pub fn within_jd_limits(&self) -> bool {
        self.card_number.chars().count() <= CARD_FIELD_MAX_CHARS
            && self.password.chars().count() <= CARD_FIELD_MAX_CHARS
    }
}

fn or_none_placeholder(value: &str) -> &str {
    if value.is_empty() {
        CARD_FIELD_NONE
    } else {
        value
    }
}

/// The compact JSON array that is encrypted into `product`.
pub fn cards_json(cards: &[CardItem]) -> String {
    let normalised: Vec<CardItem> = cards
        .iter()
        .map(|c| CardItem {
            card_number: or_none_placeholder(&c.card_number).to_string(),
            password: or_none_placeholder(&c.password).to_string(),
            expiry_date: or_none_placeholder(&c.expiry_date).to_string(),
            limit_times: c.limit_times,
        })
        .collect();
    // Serializing plain strings and integers cannot fail.
    serde_json::to_string(&normalised).unwrap_or_else(|_| "[]".to_string())
}

/// The `product` value: AES-encrypted card array, single-line Base64. AES-ECB is deterministic, so
/// the same cards always give the same `product` (idempotent answers).
pub fn encrypt_cards(cards: &[CardItem], aes_key: &JdAesKey) -> String {
    aes_key.encrypt_b64(cards_json(cards).as_bytes())
}

/// Issued cards in JD's card-array format (`-` where a field is absent).
pub fn card_items_from(cards: &[crate::domain::card_import::CardLine]) -> Vec<CardItem> {
    cards
        .iter()
        .map(|c| CardItem {
            card_number: c.card_no.clone(),
            password: c.password.clone(),
            expiry_date: c
                .expires_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| CARD_FIELD_NONE.to_owned()),
            limit_times: None,
        })
        .collect()
}

/// Why a `product` value could not be read back into cards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("product 解密失败: {0}")]
    Crypto(#[from] CryptoError),
    #[error("product 解密后不是卡密 JSON 数组")]
    NotCardArray,
}

/// Inverse of [`encrypt_cards`] (tests, JD simulator).
pub fn decrypt_cards(product: &str, aes_key: &JdAesKey) -> Result<Vec<CardItem>, ProductError> {
    let plain = aes_key.decrypt_b64(product)?;
    serde_json::from_slice(&plain).map_err(|_| ProductError::NotCardArray)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::protocol::vectors::general::{A1_CIPHER, A3_CIPHER, K};

    fn aes() -> JdAesKey {
        JdAesKey::new(K).expect("key")
    }

    /// The card of vector A2.
    pub(in crate::protocol::jd_general) fn a2_card() -> CardItem {
        CardItem {
            card_number: "CARD0001".into(),
            password: "PWD-0001".into(),
            expiry_date: "2099-12-31".into(),
            limit_times: Some(1),
        }
    }

    #[test]
    fn cards_format() {
        let cards = vec![
            a2_card(),
            CardItem {
                card_number: String::new(),
                password: "P2".into(),
                expiry_date: String::new(),
                limit_times: None,
            },
        ];
        assert_eq!(
            cards_json(&cards),
            r#"[{"cardNumber":"CARD0001","password":"PWD-0001","expiryDate":"2099-12-31","limitTimes":1},{"cardNumber":"-","password":"P2","expiryDate":"-"}]"#
        );
        let back = decrypt_cards(&encrypt_cards(&cards, &aes()), &aes()).expect("cards");
        assert_eq!(back[1].card_number, "-");
        assert_eq!(back[1].limit_times, None);
        // A1 (doc's key order) decrypts into cards as well.
        let a1 = decrypt_cards(A1_CIPHER, &aes()).expect("cards");
        assert_eq!(a1.len(), 2);
        assert_eq!(a1[0].card_number, "123456");
        assert_eq!(a1[0].password, "654321");
        assert_eq!(a1[0].expiry_date, "2016-10-10");
        // The legacy underscore format is not a card array.
        assert_eq!(
            decrypt_cards(A3_CIPHER, &aes()).unwrap_err(),
            ProductError::NotCardArray
        );
        assert!(a2_card().within_jd_limits());
        let long = CardItem {
            card_number: "x".repeat(128),
            ..a2_card()
        };
        assert!(!long.within_jd_limits());
    }
}
