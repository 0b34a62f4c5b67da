//! Money in fen (分, 1/100 yuan) as an integer. Never a float: JD game-card prices arrive in yuan
//! as decimal text and are converted exactly, digit by digit.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount in fen. `Fen(980)` is ¥9.80.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

/// Why a yuan amount could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is empty")]
    Empty,
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is not a plain decimal number")]
    NotDecimal,
    #[error("amount has fractions of a fen (more than 2 significant decimals)")]
    FractionOfFen,
    #[error("amount is too large")]
    Overflow,
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Exact yuan → fen: `"9.80"` → 980, `"150"` → 15000, `"0.5"` → 50, `"1.230"` → 123.
    /// Trailing zeros beyond two decimals are accepted; a real third decimal (`"1.234"`) is an
    /// error, as are signs, exponents, empty or non-digit text and values beyond `i64`.
    /// Surrounding whitespace is ignored.
    pub fn from_yuan_str(s: &str) -> Result<Fen, MoneyError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
            return Err(MoneyError::NotDecimal);
        }
        let frac = frac_part.unwrap_or("");
        let (cents, rest) = frac.split_at(frac.len().min(2));
        if rest.bytes().any(|b| b != b'0') {
            return Err(MoneyError::FractionOfFen);
        }
        let mut fen: i64 = 0;
        for b in int_part.bytes() {
            fen = fen
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        let mut cent_digits = cents.bytes().map(|b| i64::from(b - b'0'));
        let tens = cent_digits.next().unwrap_or(0);
        let units = cent_digits.next().unwrap_or(0);
        fen.checked_mul(100)
            .and_then(|v| v.checked_add(tens * 10 + units))
            .map(Fen)
            .ok_or(MoneyError::Overflow)
    }

    /// Yuan with exactly two decimals: `Fen(980)` → `"9.80"`, `Fen(-50)` → `"-0.50"`.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Fen> {
        self.0.checked_mul(factor).map(Fen)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_yuan_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_conversions() {
        let cases = [
            ("9.80", 980),
            ("9.8", 980),
            ("150", 15000),
            ("140.25", 14025),
            ("0.5", 50),
            ("1.230", 123),
            ("1.2300000", 123),
            ("0", 0),
            ("0.00", 0),
            ("0.01", 1),
            (" 12.34\n", 1234),
            ("007.10", 710),
            ("92233720368547758.07", i64::MAX),
        ];
        for (text, fen) in cases {
            assert_eq!(Fen::from_yuan_str(text), Ok(Fen(fen)), "{text:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_exact_amount() {
        assert_eq!(Fen::from_yuan_str("1.234"), Err(MoneyError::FractionOfFen));
        assert_eq!(Fen::from_yuan_str("0.001"), Err(MoneyError::FractionOfFen));
        assert_eq!(Fen::from_yuan_str("-1.00"), Err(MoneyError::Negative));
        assert_eq!(Fen::from_yuan_str("-0"), Err(MoneyError::Negative));
        assert_eq!(Fen::from_yuan_str(""), Err(MoneyError::Empty));
        assert_eq!(Fen::from_yuan_str("   "), Err(MoneyError::Empty));
        for bad in [
            "abc", "1,00", "1.2.3", ".5", "5.", "+5", "1e2", "1 0", "NaN", "１２", "0x10",
        ] {
            assert_eq!(
                Fen::from_yuan_str(bad),
                Err(MoneyError::NotDecimal),
                "{bad:?}"
            );
        }
        assert_eq!(
            Fen::from_yuan_str("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Fen::from_yuan_str("99999999999999999999"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn yuan_text() {
        assert_eq!(Fen(980).to_yuan_string(), "9.80");
        assert_eq!(Fen(15000).to_yuan_string(), "150.00");
        assert_eq!(Fen(5).to_yuan_string(), "0.05");
        assert_eq!(Fen(0).to_yuan_string(), "0.00");
        assert_eq!(Fen(-50).to_yuan_string(), "-0.50");
        assert_eq!(Fen(i64::MIN).to_yuan_string(), "-92233720368547758.08");
        assert_eq!(Fen(14025).to_string(), "140.25");
    }

    #[test]
    fn serde_is_transparent_and_arithmetic_checked() {
        assert_eq!(serde_json::to_string(&Fen(980)).expect("json"), "980");
        assert_eq!(
            serde_json::from_str::<Fen>("15000").expect("json"),
            Fen(15000)
        );
        assert_eq!(Fen(1).checked_add(Fen(2)), Some(Fen(3)));
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(5).checked_sub(Fen(7)), Some(Fen(-2)));
        assert_eq!(Fen(980).checked_mul(3), Some(Fen(2940)));
        assert!(Fen(1) < Fen(2));
    }
}
