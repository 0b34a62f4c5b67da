//! Newtypes parsed once at the edge: an invalid value cannot be represented past it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct ParseError {
    pub what: &'static str,
    pub why: &'static str,
}

fn err(what: &'static str, why: &'static str) -> ParseError {
    ParseError { what, why }
}

/// The platform an order or shop belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    JdGeneral,
    JdGame,
    Agiso,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::JdGeneral, Platform::JdGame, Platform::Agiso];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::JdGeneral => "jd_general",
            Platform::JdGame => "jd_game",
            Platform::Agiso => "agiso",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Platform::JdGeneral => "京东通用交易",
            Platform::JdGame => "京东游戏点卡",
            Platform::Agiso => "阿奇索",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = ParseError;
    /// Accepts the stored form (`jd_general`) and the command-line form (`jd-general`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().replace('-', "_").to_ascii_lowercase();
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == norm)
            .ok_or(err("platform", "expected jd_general, jd_game or agiso"))
    }
}

/// A back-office user's role, from least to most allowed (`admin_users.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees everything but secrets; changes nothing.
    Viewer,
    /// Also handles orders and stock.
    Operator,
    /// Also shops, keys, users and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Viewer => "只读",
            Role::Operator => "操作员",
            Role::Admin => "管理员",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(err("role", "expected admin, operator or viewer"))
    }
}

/// How a product is fulfilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentMode {
    /// Cards from our encrypted inventory.
    Card,
    /// An operator recharges by hand.
    DirectManual,
    /// An upstream supplier recharges.
    DirectSupplier,
}

impl FulfilmentMode {
    pub const ALL: [FulfilmentMode; 3] = [
        FulfilmentMode::Card,
        FulfilmentMode::DirectManual,
        FulfilmentMode::DirectSupplier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FulfilmentMode::Card => "card",
            FulfilmentMode::DirectManual => "direct_manual",
            FulfilmentMode::DirectSupplier => "direct_supplier",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            FulfilmentMode::Card => "卡密",
            FulfilmentMode::DirectManual => "人工直充",
            FulfilmentMode::DirectSupplier => "供应商直充",
        }
    }
}

impl fmt::Display for FulfilmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FulfilmentMode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().replace('-', "_").to_ascii_lowercase();
        FulfilmentMode::ALL
            .into_iter()
            .find(|m| m.as_str() == norm)
            .ok_or(err(
                "fulfilment mode",
                "expected card, direct_manual or direct_supplier",
            ))
    }
}

/// What a card product does when an order finds too few cards (`products.out_of_stock_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockPolicy {
    /// The order fails at once (the platform refunds).
    Fail,
    /// The order waits for a restock, up to the product's waiting time.
    Wait,
}

impl StockPolicy {
    pub const ALL: [StockPolicy; 2] = [StockPolicy::Fail, StockPolicy::Wait];

    pub fn as_str(self) -> &'static str {
        match self {
            StockPolicy::Fail => "fail",
            StockPolicy::Wait => "wait",
        }
    }
}

impl fmt::Display for StockPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StockPolicy {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(StockPolicy::Fail),
            "wait" => Ok(StockPolicy::Wait),
            _ => Err(err("out-of-stock policy", "expected fail or wait")),
        }
    }
}

/// What an order is (`orders.order_kind`), fixed when it arrives: it decides the fulfilment path,
/// whatever its product's mode becomes later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// Cards from our inventory.
    Card,
    /// A recharge to the buyer's account (by an operator or a supplier).
    Direct,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Card => "card",
            OrderKind::Direct => "direct",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrderKind::Card => "卡密",
            OrderKind::Direct => "直充",
        }
    }

    /// The kind of order a product of `mode` takes.
    pub fn of_mode(mode: FulfilmentMode) -> OrderKind {
        match mode {
            FulfilmentMode::Card => OrderKind::Card,
            FulfilmentMode::DirectManual | FulfilmentMode::DirectSupplier => OrderKind::Direct,
        }
    }
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "card" => Ok(OrderKind::Card),
            "direct" => Ok(OrderKind::Direct),
            _ => Err(err("order kind", "expected card or direct")),
        }
    }
}

/// Test shops call JD's self-test endpoints; production shops call the real ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopMode {
    Test,
    Prod,
}

impl ShopMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ShopMode::Test => "test",
            ShopMode::Prod => "prod",
        }
    }
}

impl FromStr for ShopMode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "test" => Ok(ShopMode::Test),
            "prod" | "production" => Ok(ShopMode::Prod),
            _ => Err(err("mode", "expected test or prod")),
        }
    }
}

impl fmt::Display for ShopMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }

            /// A value as stored (or as a test fixture writes it), not checked again: requests
            /// are checked once, by `parse`, before they are stored.
            pub fn unchecked(s: impl Into<String>) -> Self {
                Self(s.into())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A platform's order number (JD `jdOrderNo` / `orderId`, Agiso `Tid`): 1–32 ASCII digits.
    PlatformOrderNo
);

impl PlatformOrderNo {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(err("order number", "empty"));
        }
        if s.len() > 32 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("order number", "must be 1-32 digits"));
        }
        Ok(Self(s.to_owned()))
    }

    /// A JD `Long` order number (`jdOrderNo`, `orderId`; never negative), in its canonical
    /// decimal form.
    pub fn from_long(no: u64) -> Self {
        Self(no.to_string())
    }

    /// The number as JD's `Long`, for the fields JD sends and expects as JSON numbers; `None`
    /// when it does not fit one.
    pub fn as_long(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// A JD order number read back from its text (a stored order): [`Self::parse`], and it must
    /// fit JD's `Long`.
    pub fn parse_jd(s: &str) -> Option<Self> {
        Self::parse(s).ok().filter(|no| no.as_long().is_some())
    }
}

string_newtype!(
    /// Our own order number, returned to JD as `agentOrderNo`.
    OrderNo
);

impl OrderNo {
    /// A new number: Beijing time to the millisecond plus a 6-digit sequence, 23 characters,
    /// sortable by creation time. The sequence is a process-wide counter starting at a random
    /// value, so one process never repeats a number within a millisecond; across replicas the
    /// unique key on `orders.order_no` catches the rare collision and the insert is retried.
    pub fn generate(now: chrono::DateTime<chrono::Utc>) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: std::sync::LazyLock<AtomicU32> = std::sync::LazyLock::new(|| {
            use rand::Rng;
            AtomicU32::new(rand::rng().random_range(0..1_000_000))
        });
        let bj = now.with_timezone(&crate::domain::types::beijing());
        let seq = SEQ.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        Self(format!("{}{:06}", bj.format("%Y%m%d%H%M%S%3f"), seq))
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err("agentOrderNo", "must be 1-32 letters or digits"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// A platform SKU or merchant product code (`wareNo`, `skuId`, `outId`).
    Sku
);

impl Sku {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
            return Err(err("sku", "must be 1-64 printable characters"));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// The account a direct-charge order recharges (phone, QQ, game account).
    RechargeAccount
);

impl RechargeAccount {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control) {
            return Err(err(
                "recharge account",
                "must be 1-128 printable characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// UTC+8, the time zone of every JD timestamp and of the operators.
pub fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The Beijing calendar date at `now`: the day card expiry dates and operators count in (the
/// database session runs in UTC, whose date lags Beijing's from 16:00 to 24:00 UTC).
pub fn beijing_date(now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    now.with_timezone(&beijing()).date_naive()
}

/// Today in Beijing.
pub fn beijing_today() -> chrono::NaiveDate {
    beijing_date(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_date_is_ahead_of_utc_from_16_to_24() {
        use chrono::TimeZone;
        let at = |h| chrono::Utc.with_ymd_and_hms(2026, 12, 1, h, 30, 0).unwrap();
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        assert_eq!(beijing_date(at(15)), day(1));
        assert_eq!(beijing_date(at(16)), day(2));
        assert_eq!(beijing_date(at(23)), day(2));
    }

    #[test]
    fn platform_parses_both_spellings() {
        assert_eq!(
            "jd-general".parse::<Platform>().unwrap(),
            Platform::JdGeneral
        );
        assert_eq!("jd_game".parse::<Platform>().unwrap(), Platform::JdGame);
        assert_eq!("agiso".parse::<Platform>().unwrap(), Platform::Agiso);
        assert!("taobao".parse::<Platform>().is_err());
    }

    #[test]
    fn order_numbers() {
        assert_eq!(PlatformOrderNo::parse(" 10001 ").unwrap().as_str(), "10001");
        assert!(PlatformOrderNo::parse("10a01").is_err());
        assert!(PlatformOrderNo::parse("").is_err());
        assert!(PlatformOrderNo::parse(&"1".repeat(33)).is_err());
        assert_eq!(PlatformOrderNo::from_long(10001).as_str(), "10001");
        assert_eq!(PlatformOrderNo::from_long(10001).as_long(), Some(10001));
        assert_eq!(
            PlatformOrderNo::parse(&"9".repeat(20)).unwrap().as_long(),
            None
        );
        let now = chrono::Utc::now();
        let a = OrderNo::generate(now);
        assert_eq!(a.as_str().len(), 23);
        assert!(OrderNo::parse(a.as_str()).is_ok());
        let many: std::collections::HashSet<_> =
            (0..10_000).map(|_| OrderNo::generate(now)).collect();
        assert_eq!(many.len(), 10_000, "no repeats within one millisecond");
    }

    #[test]
    fn order_no_uses_beijing_time() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-01T16:30:00.123Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let n = OrderNo::generate(t);
        assert!(n.as_str().starts_with("20240102003000123"), "{n}");
    }

    #[test]
    fn skus_and_accounts() {
        assert!(Sku::parse("45001").is_ok());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("a\nb").is_err());
        assert!(RechargeAccount::parse("13333333333").is_ok());
        assert!(RechargeAccount::parse("  ").is_err());
    }
}
