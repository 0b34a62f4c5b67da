//! agiso-sync's metrics, in the shared registry (`common::metrics`). Deliveries are counted
//! with the notifier's callbacks: `callback_attempts_total{target="agiso"}`.

use std::sync::LazyLock;

use common::metrics::counter_vec;
use prometheus::IntCounterVec;

/// Pushes received, by topic and verdict (`accepted`, `duplicate`, `bad_sign`, `stale`, …).
pub static PUSHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "agiso_pushes_total",
        "Agiso pushes received, by topic and verdict",
        &["topic", "verdict"],
    )
});

/// Orders created from Agiso events, by service and source (`push`, `poll`).
pub static ORDERS_CREATED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "agiso_orders_created_total",
        "Orders created from Agiso pushes and polls",
        &["service", "source"],
    )
});

/// Calls to Agiso, by endpoint and answer code (`0`, `2`, `http_502`, `transport`, …).
pub static CALLS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "agiso_calls_total",
        "Calls to the Agiso gateway, by endpoint and answer code",
        &["endpoint", "code"],
    )
});

/// Calls that waited for the per-AppId rate limiter.
pub static LIMITER_WAITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "agiso_limiter_waits_total",
        "Agiso calls that waited for the per-AppId rate limiter",
        &["app_id"],
    )
});

/// Registers this service's metrics (announced on `/metrics` before their first sample) and
/// sets its callback series to zero.
pub fn init() {
    LazyLock::force(&PUSHES);
    LazyLock::force(&ORDERS_CREATED);
    LazyLock::force(&CALLS);
    LazyLock::force(&LIMITER_WAITS);
    common::metrics::init_callback_attempts(&[common::domain::CallbackTarget::Agiso]);
}
