//! Prometheus metrics: one process-wide registry, rendered as text on `/metrics`.

use std::sync::{LazyLock, Mutex};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

/// Every metric registered here: (name, help, type), announced on `/metrics` even before its
/// first sample (a labelled metric has none until a label value is used), so a dashboard or an
/// alert rule can be checked against what a service exports.
static DESCRIBED: LazyLock<Mutex<Vec<Described>>> = LazyLock::new(Mutex::default);

/// A registered metric's name, help and type.
type Described = (String, String, &'static str);

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C, kind: &'static str) -> C {
    for d in c.desc() {
        if let Ok(mut described) = DESCRIBED.lock() {
            described.push((d.fq_name.clone(), d.help.clone(), kind));
        }
    }
    // Registration only fails for a duplicate name, which would be a programming error caught
    // by the first test that renders /metrics.
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

/// A counter vector registered in the shared registry.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter"),
        "counter",
    )
}

/// A latency histogram vector (seconds) registered in the shared registry.
pub fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let buckets = vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    register(
        HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .expect("valid histogram"),
        "histogram",
    )
}

pub fn gauge(name: &str, help: &str) -> IntGauge {
    register(IntGauge::new(name, help).expect("valid gauge"), "gauge")
}

/// A gauge vector registered in the shared registry.
pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge"),
        "gauge",
    )
}

pub static HTTP_REQUESTS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "http_request_duration_seconds",
        "HTTP request latency by matched route and status",
        &["method", "route", "status"],
    )
});

pub static OUTBOX_PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "outbox_published_total",
        "Outbox messages published with a broker confirm",
        &["routing_key"],
    )
});

pub static OUTBOX_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "outbox_publish_failures_total",
        "Outbox publish attempts that failed (kept for a later retry)",
        &["reason"],
    )
});

pub static MQ_CONSUMED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "mq_messages_consumed_total",
        "Messages consumed, by queue and outcome",
        &["queue", "outcome"],
    )
});

/// Callback attempts that decided an order's callback, by target (`jd_general`, `jd_game`,
/// `agiso`) and outcome (`delivered`, `retry`, `giving_up`): one per `callback_attempts` row
/// recorded by [`crate::db::notify::record_attempts`] (the notifier's and agiso-sync's
/// deliveries), counted once its transaction committed.
pub static CALLBACK_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "callback_attempts_total",
        "Callback attempts recorded, by target and outcome",
        &["target", "outcome"],
    )
});

/// The series of [`CALLBACK_ATTEMPTS`] for `targets` and every outcome, at zero (services call
/// it at start for the targets they call back).
pub fn init_callback_attempts(targets: &[crate::domain::CallbackTarget]) {
    for target in targets {
        use crate::domain::AttemptOutcome::{Delivered, GivingUp, Retry};
        // The outcomes of a platform callback (the others are suppliers' answers).
        for outcome in [Delivered, Retry, GivingUp] {
            CALLBACK_ATTEMPTS.with_label_values(&[target.as_str(), outcome.as_str()]);
        }
    }
}

/// The registry rendered in the Prometheus text format.
pub fn render() -> String {
    // Touch the shared metrics so they appear even before first use.
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&OUTBOX_PUBLISHED);
    LazyLock::force(&OUTBOX_FAILURES);
    LazyLock::force(&MQ_CONSUMED);
    LazyLock::force(&CALLBACK_ATTEMPTS);
    let families = REGISTRY.gather();
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&families, &mut buf);
    let mut text = String::from_utf8(buf).unwrap_or_default();
    // The registered metrics without a sample yet: their metadata only (valid in the format).
    if let Ok(described) = DESCRIBED.lock() {
        for (name, help, kind) in described.iter() {
            if !families.iter().any(|f| f.name() == name) {
                let help = help.replace('\\', "\\\\").replace('\n', "\\n");
                text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            }
        }
    }
    text
}

/// Sets the given label combinations of a counter to zero: their series exist from the start,
/// so `rate()` and `increase()` see the first event (a series born at 1 counts as no increase).
pub fn init_counter(counter: &IntCounterVec, label_sets: &[&[&str]]) {
    for labels in label_sets {
        counter.with_label_values(labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_announced_before_its_first_sample_and_once_after() {
        let counter = counter_vec("test_announced_total", "announced before use", &["kind"]);
        let before = render();
        assert!(
            before.contains("# HELP test_announced_total announced before use\n# TYPE test_announced_total counter\n"),
            "{before}"
        );
        assert!(!before.contains("test_announced_total{"), "{before}");
        counter.with_label_values(&["x"]).inc();
        let after = render();
        assert_eq!(
            after.matches("# TYPE test_announced_total counter").count(),
            1,
            "{after}"
        );
        assert!(
            after.contains("test_announced_total{kind=\"x\"} 1"),
            "{after}"
        );
    }

    #[test]
    fn initialised_series_start_at_zero() {
        init_callback_attempts(&[crate::domain::CallbackTarget::Agiso]);
        let page = render();
        for outcome in ["delivered", "retry", "giving_up"] {
            assert!(
                page.contains(&format!(
                    "callback_attempts_total{{outcome=\"{outcome}\",target=\"agiso\"}} 0"
                )),
                "{page}"
            );
        }
        assert!(!page.contains("outcome=\"error\""), "{page}");
    }
}
