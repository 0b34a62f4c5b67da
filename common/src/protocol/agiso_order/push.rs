//! Push freshness (§7.2) and what a push is about (§7.4).

use crate::domain::agiso::Service;

// ---------------------------------------------------------------------------------------------
// Push freshness (§7.2)

/// How far a push's `timestamp` may be from our clock before the push is refused as stale.
pub const PUSH_MAX_SKEW_MS: i64 = 10 * 60 * 1000;

/// A push `timestamp` in unix milliseconds. Agiso documents no unit for it (§7.2, §8 item 3:
/// the doc's example has 11 digits, its sign tool inserts milliseconds) [INFERRED]: a value of
/// 10^11 or more is read as milliseconds (seconds reach 10^11 only in the year 5138), anything
/// smaller as seconds. `None` for anything but 1–15 digits.
pub fn push_time_ms(timestamp: &str) -> Option<i64> {
    let t = timestamp.trim();
    if t.is_empty() || t.len() > 15 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = t.parse().ok()?;
    if n >= 100_000_000_000 {
        Some(n)
    } else {
        n.checked_mul(1000)
    }
}

/// Whether a push stamped `timestamp` is too far from `now_ms` to be believed (or unreadable).
pub fn push_is_stale(timestamp: &str, now_ms: i64) -> bool {
    push_time_ms(timestamp).is_none_or(|t| (t - now_ms).abs() > PUSH_MAX_SKEW_MS)
}

// ---------------------------------------------------------------------------------------------
// Topics (§7.4)

/// What a push is about, by (service, aopic). `aopic` is not signed (§7.2): it only routes, and
/// the payload is read and checked as the topic's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Taobao buyer paid, full trade with `Orders[]` (aopic 2).
    TaobaoPaid,
    /// Taobao buyer paid, lean (aopic 2097152): the lines come from `Trade/TradeInfo`.
    TaobaoPaidLean,
    /// Taobao refund created (256): the buyer asked for the money back.
    TaobaoRefundCreated,
    /// Taobao refund succeeded (65536): the money went back.
    TaobaoRefundSucceeded,
    /// JD order paid (aopic 1, `JdTradePay`): the lines come from `Order/Detail`.
    JdPaid,
    /// JD 游戏点卡 order paid (aopic 8).
    JdGameCardPaid,
    /// JD 通用交易 order paid (aopic 16).
    JdVtpPaid,
    /// Anything else: stored, nothing to do (auto-send reports, ratings, memos …).
    Other,
}

impl Topic {
    pub fn of(service: Service, aopic: i64) -> Topic {
        match (service, aopic) {
            (Service::Alds, 2) => Topic::TaobaoPaid,
            (Service::Alds, 2_097_152) => Topic::TaobaoPaidLean,
            (Service::Alds, 256) => Topic::TaobaoRefundCreated,
            (Service::Alds, 65_536) => Topic::TaobaoRefundSucceeded,
            (Service::AldsJd, 1) => Topic::JdPaid,
            (Service::AldsJd, 8) => Topic::JdGameCardPaid,
            (Service::AldsJd, 16) => Topic::JdVtpPaid,
            _ => Topic::Other,
        }
    }

    /// The metric / log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::TaobaoPaid => "taobao_paid",
            Topic::TaobaoPaidLean => "taobao_paid_lean",
            Topic::TaobaoRefundCreated => "taobao_refund_created",
            Topic::TaobaoRefundSucceeded => "taobao_refund_succeeded",
            Topic::JdPaid => "jd_paid",
            Topic::JdGameCardPaid => "jd_game_card_paid",
            Topic::JdVtpPaid => "jd_vtp_paid",
            Topic::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_time_reads_seconds_or_milliseconds_by_magnitude() {
        assert_eq!(push_time_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(push_time_ms("1700000000123"), Some(1_700_000_000_123));
        // The doc's 11-digit example is seconds (year 2325): stale either way.
        assert_eq!(push_time_ms("11222212121"), Some(11_222_212_121_000));
        assert_eq!(push_time_ms(""), None);
        assert_eq!(push_time_ms("17e8"), None);
        let now = 1_700_000_000_000;
        assert!(!push_is_stale("1700000000", now));
        assert!(!push_is_stale("1700000599", now));
        assert!(push_is_stale("1700000601", now));
        assert!(push_is_stale("1699999399", now));
        assert!(!push_is_stale("1700000300000", now));
        assert!(push_is_stale("1700000700000", now));
        assert!(push_is_stale("11222212121", now));
        assert!(push_is_stale("garbage", now));
    }

    #[test]
    fn topics_route_by_service_and_aopic() {
        assert_eq!(Topic::of(Service::Alds, 2), Topic::TaobaoPaid);
        assert_eq!(Topic::of(Service::Alds, 2_097_152), Topic::TaobaoPaidLean);
        assert_eq!(
            Topic::of(Service::Alds, 65_536),
            Topic::TaobaoRefundSucceeded
        );
        assert_eq!(Topic::of(Service::AldsJd, 2), Topic::Other);
        assert_eq!(Topic::of(Service::AldsJd, 8), Topic::JdGameCardPaid);
        assert_eq!(Topic::of(Service::AldsJd, 16), Topic::JdVtpPaid);
        assert_eq!(Service::of_from_platform("TbAlds"), Some(Service::Alds));
        assert_eq!(Service::of_from_platform("AldsJd"), Some(Service::AldsJd));
        assert_eq!(Service::of_from_platform("PddAlds"), None);
    }
}
