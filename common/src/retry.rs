//! The one retry policy: how long to wait after the n-th consecutive failure, and when to give
//! up. Every retry in the system is an instance of it — reconnecting to the database and the
//! broker, a consumer's channel, a deadlocked fulfilment, polling a supplier, JD's callback
//! schedule — so each differs only in its numbers, written where it is configured.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// Parses one configured duration: a whole number with a unit `ms`, `s`, `m` or `h`.
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

/// Delays between attempts: doubling from a first delay up to a cap, or an explicit list; with
/// optional proportional jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    steps: Steps,
    /// ±this fraction of each delay, drawn at random (0 = none).
    jitter: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Steps {
    /// `first × 2^(n-1)`, capped at `max`; never gives up.
    Doubling { first: Duration, max: Duration },
    /// The n-th delay of the list; gives up after the last.
    Listed(Vec<Duration>),
}

impl Backoff {
    /// `first`, `2 × first`, `4 × first`, … up to `max` (at least `first`), without end.
    pub fn doubling(first: Duration, max: Duration) -> Backoff {
        Backoff {
            steps: Steps::Doubling {
                first,
                max: max.max(first),
            },
            jitter: 0.0,
        }
    }

    /// Exactly these delays, then give up.
    pub fn listed(delays: Vec<Duration>) -> Backoff {
        Backoff {
            steps: Steps::Listed(delays),
            jitter: 0.0,
        }
    }

    /// A listed policy from its configured text, `15s,15s,30s,3m,…` (see [`parse_duration`]),
    /// with ±`jitter`; `None` if any item is malformed or the list is empty.
    pub fn parse_listed(text: &str, jitter: f64) -> Option<Backoff> {
        let items: Option<Vec<Duration>> = text.split(',').map(parse_duration).collect();
        items
            .filter(|v| !v.is_empty())
            .map(|v| Backoff::listed(v).with_jitter(jitter))
    }

    /// Each delay varied at random by ±`fraction` (clamped to 0..=1), so retries of many
    /// items spread out.
    pub fn with_jitter(self, fraction: f64) -> Backoff {
        Backoff {
            jitter: fraction.clamp(0.0, 1.0),
            ..self
        }
    }

    /// How many attempts a listed policy allows after the first (`None`: without end).
    pub fn retries(&self) -> Option<usize> {
        match &self.steps {
            Steps::Doubling { .. } => None,
            Steps::Listed(d) => Some(d.len()),
        }
    }

    /// The wait after the `failures`-th consecutive failure (1-based), or `None` to give up.
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        let n = failures.checked_sub(1)?;
        let base = match &self.steps {
            Steps::Doubling { first, max } => first.saturating_mul(1u32 << n.min(20)).min(*max),
            Steps::Listed(d) => *d.get(usize::try_from(n).ok()?)?,
        };
        if self.jitter == 0.0 {
            return Some(base);
        }
        let factor: f64 = rand::rng().random_range(1.0 - self.jitter..=1.0 + self.jitter);
        Some(base.mul_f64(factor))
    }

    /// Runs `attempt` until it succeeds, waiting by this policy between failures, as long as
    /// the next attempt would start within `wait`; then returns the last error. Each failure
    /// is logged as a warning naming `what`.
    pub async fn retry_for<T, E, F, Fut>(
        &self,
        wait: Duration,
        what: &str,
        mut attempt: F,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let deadline = tokio::time::Instant::now() + wait;
        let mut failures = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    failures += 1;
                    match self.delay(failures) {
                        Some(d) if tokio::time::Instant::now() + d < deadline => {
                            tracing::warn!(error = %e, "{what} not reachable yet, retrying");
                            tokio::time::sleep(d).await;
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }
}

/// Reaching the database or the broker at start: 200 ms, doubling up to 3 s.
pub fn reconnect() -> Backoff {
    Backoff::doubling(Duration::from_millis(200), Duration::from_secs(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubling_caps_and_never_ends() {
        let b = Backoff::doubling(200 * MS, 3000 * MS);
        let got: Vec<_> = (1..=6).map(|n| b.delay(n).unwrap()).collect();
        assert_eq!(
            got,
            [
                200 * MS,
                400 * MS,
                800 * MS,
                1600 * MS,
                3000 * MS,
                3000 * MS
            ]
        );
        assert_eq!(b.delay(1_000_000), Some(3000 * MS));
        assert_eq!(b.delay(0), None);
        assert_eq!(b.retries(), None);
        // A cap below the first delay is the first delay.
        assert_eq!(Backoff::doubling(5 * MS, MS).delay(3), Some(5 * MS));
    }

    #[test]
    fn listed_gives_up_after_its_last_delay() {
        let b = Backoff::listed(vec![10 * MS, 100 * MS]);
        assert_eq!(
            (b.delay(1), b.delay(2), b.delay(3)),
            (Some(10 * MS), Some(100 * MS), None)
        );
        assert_eq!(b.retries(), Some(2));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let b = Backoff::listed(vec![Duration::from_secs(10)]).with_jitter(0.2);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = b.delay(1).unwrap();
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 1, "jittered");
    }

    #[tokio::test]
    async fn retry_for_stops_at_success_or_the_deadline() {
        let b = Backoff::doubling(10 * MS, 20 * MS);
        let mut calls = 0;
        let r: Result<u32, String> = b
            .retry_for(Duration::from_secs(5), "thing", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(format!("try {n}"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(3));
        let started = std::time::Instant::now();
        let r: Result<(), String> = b
            .retry_for(100 * MS, "thing", || async { Err("down".to_owned()) })
            .await;
        assert_eq!(r, Err("down".to_owned()));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
