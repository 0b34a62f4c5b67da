//! The HTTP endpoints every service has and the request metrics middleware. The public port
//! answers `/healthz` and `/readyz` with a bare status (nothing about the service's insides);
//! the internal listener (`METRICS_ADDR`, loopback by default) serves `/metrics` and the same
//! probes in detail (service name and version, database, broker).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::db::Pool;
use crate::metrics::HTTP_REQUESTS;
use crate::mq::Mq;

#[derive(Clone)]
pub struct Probes {
    pub service: &'static str,
    pub db: Pool,
    pub mq: Arc<Mq>,
}

/// The probes of the public port: status only.
pub fn health_router(probes: Probes) -> Router {
    Router::new()
        .route("/healthz", get(public_healthz))
        .route("/readyz", get(public_readyz))
        .with_state(probes)
}

/// The internal listener's routes: `/metrics` and the detailed probes.
pub fn internal_router(probes: Probes) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(probes)
}

async fn public_healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn public_readyz(State(p): State<Probes>) -> Response {
    let status = readyz(State(p)).await.status();
    let word = if status == StatusCode::OK {
        "ok"
    } else {
        "unavailable"
    };
    (status, Json(serde_json::json!({"status": word}))).into_response()
}

async fn healthz(State(p): State<Probes>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "service": p.service,
        "version": crate::version(),
    }))
}

/// 200 when the database answers (with our schema: the outbox every service writes) and the
/// broker connection is up, 503 otherwise.
async fn readyz(State(p): State<Probes>) -> Response {
    let db_ok = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1 FROM outbox LIMIT 1").execute(&p.db),
    )
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    let mq_ok = p.mq.is_connected().await;
    let status = if db_ok && mq_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "service": p.service,
        "database": if db_ok { "ok" } else { "unreachable" },
        "broker": if mq_ok { "ok" } else { "unreachable" },
    });
    (status, Json(body)).into_response()
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics::render(),
    )
}

/// One span per request, continuing the caller's W3C trace (`traceparent`), and latency by
/// method, matched route (never the raw path: no ids in labels) and status.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("http", method = %method, route = %route);
    crate::telemetry::set_remote_parent(
        &span,
        crate::telemetry::extract_http(req.headers()).as_deref(),
    );
    let resp = next.run(req).instrument(span).await;
    HTTP_REQUESTS
        .with_label_values(&[method.as_str(), route.as_str(), resp.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// The caller's address: the socket peer, or behind trusted proxies the right-most
/// `X-Forwarded-For` hop that is not one of them ([`crate::client_ip`]).
pub fn client_ip(
    peer: std::net::SocketAddr,
    headers: &axum::http::HeaderMap,
    how: &crate::client_ip::ClientIp,
) -> Option<std::net::IpAddr> {
    how.of(peer.ip(), headers)
}
