//! Suppliers' results pushed to us: `POST /api/supplier/callback`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use serde_json::{Map, Value};

use super::protocol::{self, Report};
use super::{Applied, CALLBACK_PATH, Source, apply};
use crate::Fulfiller;
use common::db::suppliers;

/// The callback route: `POST /api/supplier/callback`.
pub fn router(ctx: Arc<Fulfiller>) -> Router {
    Router::new()
        .route(CALLBACK_PATH, post(callback))
        .with_state(ctx)
}

fn answer(status: StatusCode, code: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "code": code }))).into_response()
}

/// A supplier reports a status: verify the signature with that supplier's secret, then record
/// it like a polled answer (idempotent: a repeated or late callback changes nothing twice).
async fn callback(State(ctx): State<Arc<Fulfiller>>, body: axum::body::Bytes) -> Response {
    let Ok(msg) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return answer(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    };
    let text = |k: &str| msg.get(k).and_then(Value::as_str).unwrap_or_default();
    let (order_no, merchant_id) = (text("orderNo"), text("merchantId"));
    if order_no.is_empty() || merchant_id.is_empty() {
        return answer(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    match handle_callback(&ctx, &msg, order_no, merchant_id, &body).await {
        Ok(Some(applied)) => {
            tracing::info!(order_no, ?applied, "supplier callback recorded");
            answer(StatusCode::OK, "OK")
        }
        Ok(None) => {
            tracing::warn!(
                order_no,
                merchant_id,
                "supplier callback refused: unknown order or bad signature"
            );
            answer(StatusCode::UNAUTHORIZED, "SIGN_INVALID")
        }
        Err(e) => {
            tracing::warn!(order_no, error = %format!("{e:#}"), "supplier callback failed; the supplier will retry");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "ERROR")
        }
    }
}

async fn handle_callback(
    ctx: &Fulfiller,
    msg: &Map<String, Value>,
    order_no: &str,
    merchant_id: &str,
    raw: &[u8],
) -> anyhow::Result<Option<Applied>> {
    // The rows of this order at suppliers that know us by this merchant id; the signature
    // tells which one sent it.
    let candidates: Vec<(u64, u64)> = sqlx::query_as(
        "SELECT so.id, so.supplier_id FROM orders o
         JOIN supplier_orders so ON so.order_id = o.id
         JOIN suppliers s ON s.id = so.supplier_id
         WHERE o.order_no = ? AND s.merchant_id = ? ORDER BY so.id",
    )
    .bind(order_no)
    .bind(merchant_id)
    .fetch_all(&ctx.db)
    .await?;
    for (so_id, supplier_id) in candidates {
        let Some(supplier) = suppliers::get(&ctx.db, supplier_id).await? else {
            continue;
        };
        let secret = supplier.secret(&ctx.suppliers.master_key)?;
        if protocol::verify(msg, &secret) {
            let report = Report::from_body(msg);
            let raw = String::from_utf8_lossy(raw);
            return Ok(Some(
                apply(ctx, so_id, &report, Some(&raw), Source::Callback).await?,
            ));
        }
    }
    Ok(None)
}
