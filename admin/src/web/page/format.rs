//! Display formatting: thousands, yuan, Beijing time, masks.

use chrono::NaiveDateTime;

/// `1234567` → `"1,234,567"`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Fen → `"12.34"` (yuan).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", thousands(a / 100), a % 100)
}

/// A stored (UTC) time in Beijing time, `2026-11-25 15:04:05`.
pub fn beijing(t: NaiveDateTime) -> String {
    t.and_utc()
        .with_timezone(&common::domain::beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn beijing_opt(t: Option<NaiveDateTime>) -> String {
    t.map(beijing).unwrap_or_default()
}

/// A stored platform as its Chinese name (an unknown value as stored).
pub fn platform_label(s: &str) -> String {
    s.parse::<common::domain::Platform>()
        .map(|p| p.label_zh().to_owned())
        .unwrap_or_else(|_| s.to_owned())
}

/// Today's date in Beijing, `2026-11-25`.
pub use common::domain::beijing_today;

/// A secret (shop keys, tokens) for display: `abcd****wxyz`. Never for cards: they use
/// [`mask_card_no`] and [`mask_card_password`].
pub fn mask(s: &str) -> String {
    common::crypto::at_rest::mask_secret(s)
}

/// A card number for display: at most its last 4 characters.
pub fn mask_card_no(s: &str) -> String {
    common::crypto::at_rest::mask_card_no(s)
}

/// A card password for display: no character of it.
pub fn mask_card_password(s: &str) -> String {
    common::crypto::at_rest::mask_card_password(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::page::beijing_day_start;

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(yuan(123456), "1,234.56");
        assert_eq!(yuan(-5), "-0.05");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(16, 30, 0)
            .unwrap();
        assert_eq!(beijing(t), "2026-11-25 00:30:00");
        assert_eq!(
            beijing_day_start("2026-11-25").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
                .unwrap()
                .and_hms_opt(16, 0, 0)
                .unwrap()
        );
        assert!(beijing_day_start("25/11/2026").is_none());
    }
}
