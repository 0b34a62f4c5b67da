//! `POST /api/agiso/push`: Agiso's push (§7). Find the shop whose AppSecret verifies the
//! signature, refuse a stale push, store the event (once) and create what it pays for, then
//! answer as §7.3 describes: HTTP 200 with an empty body once the message is durably stored,
//! `验签失败` (non-200) when the signature does not verify [INFERRED: Agiso documents only the
//! samples' empty body and `验签失败`]. Any other refusal is non-200 with a short Chinese reason,
//! so Agiso may send it again; nothing is stored for a refused push.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::protocol::agiso::AgisoPush;
use common::protocol::agiso_order::{self as codec, Service, Topic};
use common::protocol::form;
use secrecy::ExposeSecret;

use crate::AppState;
use crate::intake::Accepted;
use crate::writer::Incoming;

/// A push body larger than this is refused (Agiso's messages are a few KiB).
pub const BODY_LIMIT: usize = 256 * 1024;

fn refuse(status: StatusCode, text: &'static str, topic: &str, verdict: &str) -> Response {
    crate::metrics::PUSHES
        .with_label_values(&[topic, verdict])
        .inc();
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

pub async fn receive(State(app): State<AppState>, uri: Uri, body: Body) -> Response {
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        tracing::warn!(
            event = "agiso_push_refused",
            reason = "body",
            "Agiso push body too large or unreadable"
        );
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "消息过大",
            "unknown",
            "too_large",
        );
    };
    let query = form::parse_form(uri.query().unwrap_or_default().as_bytes());
    let fields = form::parse_form(&body);
    let push = match AgisoPush::parse(&query, &fields) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(event = "agiso_push_refused", reason = %e, "Agiso push malformed");
            return refuse(StatusCode::BAD_REQUEST, "参数错误", "unknown", "malformed");
        }
    };
    let Some(service) = push
        .from_platform
        .as_deref()
        .and_then(Service::of_from_platform)
    else {
        tracing::warn!(
            event = "agiso_push_refused",
            from_platform = push.from_platform.as_deref().unwrap_or(""),
            "Agiso push from a service we do not connect"
        );
        return refuse(
            StatusCode::BAD_REQUEST,
            "不支持的平台",
            "unknown",
            "unknown_service",
        );
    };
    let aopic = push.aopic.unwrap_or(0);
    let topic = Topic::of(service, aopic);
    let shops = match app.shops.all().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(event = "agiso_push_failed", error = %e, "cannot read the Agiso shops");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "稍后重试",
                topic.as_str(),
                "error",
            );
        }
    };
    // The push names no AppId: the shop is the one of this service whose secret verifies it.
    let Some(shop) = shops
        .iter()
        .find(|s| s.service == service && push.verify(s.app_secret.expose_secret()))
    else {
        tracing::warn!(
            event = "agiso_push_refused",
            reason = "sign",
            aopic,
            "Agiso push signature does not verify"
        );
        return refuse(
            StatusCode::FORBIDDEN,
            "验签失败",
            topic.as_str(),
            "bad_sign",
        );
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    if codec::push_is_stale(&push.timestamp, now_ms) {
        tracing::warn!(
            event = "agiso_push_refused",
            reason = "stale",
            shop_id = shop.id,
            timestamp = %push.timestamp,
            "Agiso push timestamp more than 10 minutes off"
        );
        return refuse(StatusCode::FORBIDDEN, "时间戳无效", topic.as_str(), "stale");
    }
    let incoming = Incoming {
        shop: shop.clone(),
        aopic,
        json: push.json,
        traceparent: common::telemetry::current_traceparent(),
    };
    match app.pushes.accept(incoming).await {
        Ok(accepted) => {
            let verdict = match accepted {
                Accepted::Stored { .. } => "accepted",
                Accepted::Duplicate => "duplicate",
            };
            crate::metrics::PUSHES
                .with_label_values(&[topic.as_str(), verdict])
                .inc();
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::error!(event = "agiso_push_failed", shop_id = shop.id, error = %e, "Agiso push not stored");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "稍后重试",
                topic.as_str(),
                "error",
            )
        }
    }
}
