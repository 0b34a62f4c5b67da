//! The retry schedule: delays between attempts, parsed from `NOTIFY_SCHEDULE`
//! (`15s,15s,30s,3m,…`), with ±20 % jitter.

use std::time::Duration;

use rand::Rng;

/// ≈ 24 h in 16 attempts (ARCHITECTURE §5).
pub const DEFAULT_SCHEDULE: &str = "15s,15s,30s,3m,10m,20m,30m,30m,30m,1h,3h,3h,3h,6h,6h";

/// Parses one duration: a whole number with a unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    Some(d)
}

/// Parses a comma-separated list of durations; `None` if any item is malformed or it is empty.
pub fn parse_schedule(text: &str) -> Option<Vec<Duration>> {
    let items: Option<Vec<Duration>> = text.split(',').map(parse_duration).collect();
    items.filter(|v| !v.is_empty())
}

/// The delay after attempt `attempt_no` (1-based) failed, jittered by ±20 %; `None` when the
/// schedule is used up (give up).
pub fn next_delay(schedule: &[Duration], attempt_no: i32) -> Option<Duration> {
    let index = usize::try_from(attempt_no).ok()?.checked_sub(1)?;
    let base = *schedule.get(index)?;
    let factor: f64 = rand::rng().random_range(0.8..=1.2);
    Some(base.mul_f64(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(default.len(), 15);
        let total: Duration = default.iter().sum();
        assert!(total > Duration::from_secs(23 * 3600) && total < Duration::from_secs(25 * 3600));
        assert_eq!(parse_schedule(""), None);
        assert_eq!(parse_schedule("1s,,2s"), None);
    }

    #[test]
    fn jitter_and_end_of_schedule() {
        let s = vec![Duration::from_secs(10), Duration::from_secs(100)];
        for _ in 0..200 {
            let d = next_delay(&s, 1).expect("step 1");
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
            let d = next_delay(&s, 2).expect("step 2");
            assert!(
                d >= Duration::from_secs(80) && d <= Duration::from_secs(120),
                "{d:?}"
            );
        }
        assert_eq!(next_delay(&s, 3), None);
        assert_eq!(next_delay(&s, 0), None);
    }
}
