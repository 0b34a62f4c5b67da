//! The retry schedule: delays between attempts, parsed from `NOTIFY_SCHEDULE`
//! (`15s,15s,30s,3m,…`), as the shared retry policy (`common::retry::Backoff`) with ±20 %
//! jitter.

use common::retry::Backoff;

/// ≈ 24 h in 16 attempts (ARCHITECTURE §5).
pub const DEFAULT_SCHEDULE: &str = "15s,15s,30s,3m,10m,20m,30m,30m,30m,1h,3h,3h,3h,6h,6h";

/// Parses a comma-separated list of durations into the schedule; `None` if any item is
/// malformed or it is empty. The delay after attempt n is the n-th item, ±20 %; after the last,
/// the callback gives up.
pub fn parse_schedule(text: &str) -> Option<Backoff> {
    Backoff::parse_listed(text, JITTER)
}

/// Each scheduled delay varies by ±this fraction, so many callbacks do not retry in step.
pub const JITTER: f64 = 0.2;

#[cfg(test)]
mod tests {
    use super::*;
    use common::retry::parse_duration;
    use std::time::Duration;

    #[test]
    fn parses_durations_and_lists() {
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("15s"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration(" 3m "), Some(Duration::from_secs(180)));
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21_600)));
        for bad in ["", "15", "s", "1.5s", "-1s", "10d", "1 s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let default = parse_schedule(DEFAULT_SCHEDULE).expect("default parses");
        assert_eq!(default.retries(), Some(15));
        let total: Duration = DEFAULT_SCHEDULE
            .split(',')
            .map(|d| parse_duration(d).unwrap())
            .sum();
        assert!(total > Duration::from_secs(23 * 3600) && total < Duration::from_secs(25 * 3600));
        assert_eq!(parse_schedule(""), None);
        assert_eq!(parse_schedule("1s,,2s"), None);
    }

    #[test]
    fn jitter_and_end_of_schedule() {
        let s = parse_schedule("10s,100s").unwrap();
        for _ in 0..200 {
            let d = s.delay(1).expect("step 1");
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
            let d = s.delay(2).expect("step 2");
            assert!(
                d >= Duration::from_secs(80) && d <= Duration::from_secs(120),
                "{d:?}"
            );
        }
        assert_eq!(s.delay(3), None);
        assert_eq!(s.delay(0), None);
    }
}
