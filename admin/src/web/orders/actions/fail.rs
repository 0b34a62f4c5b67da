//! `POST /admin/orders/{id}/fail`: 手动失败.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use common::db::orders;
use common::domain::FailureReason;

use super::*;
use crate::web::auth::Operator;
use crate::web::form::FormFields;
use crate::web::orders::order_url;
use crate::web::page::{redirect_error, redirect_ok};
use crate::web::{AppState, WebResult};

/// `POST /admin/orders/{id}/fail`: ends the order failed with a reason (and optional note),
/// like the services do; the platform is told (and refunds).
pub async fn fail(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let form = FormFields::parse(&body);
    let Locked {
        mut tx,
        order,
        status,
        platform,
        once,
    } = match start(&state, &raw_id, "order.fail", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if status.is_final() {
        return Ok(final_refusal(&back, status));
    }
    if let Some(r) = supplier_refusal(&mut tx, &back, &order, status).await? {
        return Ok(r);
    }
    let Ok(reason) = form.get("reason").parse::<FailureReason>() else {
        return Ok(redirect_error(&back, "请选择失败原因。"));
    };
    let note = form.text("note", NOTE_MAX_CHARS);
    // The text the platform may show (游戏点卡) and operators see: the reason, then the note.
    let text: String = if note.is_empty() {
        reason.label_zh().to_owned()
    } else {
        format!("{}：{note}", reason.label_zh())
    }
    .chars()
    .take(255)
    .collect();
    orders::finish_failed(
        &mut tx,
        orders::Ending::here(order.id, platform),
        status,
        reason,
        &text,
        &user.actor(),
    )
    .await
    .map_err(order_error)?;
    user.audit(
        &mut *tx,
        "order.fail",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(
            &format!("手动失败：{}（{}）", text, reason.as_str()),
            &once,
        )),
    )
    .await?;
    tx.commit().await?;
    state.outbox.notify();
    tracing::info!(user = %user.username, order_id = order.id, reason = reason.as_str(), "order failed by hand");
    Ok(redirect_ok(&back, "订单已手动失败，失败结果将通知平台。"))
}
