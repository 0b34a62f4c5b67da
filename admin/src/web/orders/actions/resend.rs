//! `POST /admin/orders/{id}/resend`: 重发回调.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use common::domain::{NotifyStatus, Platform};

use super::*;
use crate::web::auth::Operator;
use crate::web::form::FormFields;
use crate::web::orders::order_url;
use crate::web::orders::queries;
use crate::web::page::{redirect_error, redirect_ok};
use crate::web::{AppState, WebError, WebResult};

/// `POST /admin/orders/{id}/resend`: a fresh callback schedule for a final JD order.
pub async fn resend(
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
    } = match start(&state, &raw_id, "order.resend", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if !status.is_final() {
        return Ok(redirect_error(
            &back,
            "订单尚未结束，没有可回调的结果，未做任何更改。",
        ));
    }
    if !matches!(platform, Platform::JdGeneral | Platform::JdGame) {
        return Ok(redirect_error(
            &back,
            "阿奇索订单由阿奇索同步服务发货，不通过京东回调，未做任何更改。",
        ));
    }
    if order.notify_status == NotifyStatus::NotRequired {
        return Ok(redirect_error(&back, "该订单无需回调通知，未做任何更改。"));
    }
    let (attempts, next_set) = queries::notify_progress(&mut tx, order.id).await?;
    if order.notify_status == NotifyStatus::Pending && attempts == 0 && next_set {
        return Ok(redirect_ok(
            &back,
            "回调已在发送队列中，无需重发，本次未做任何更改。",
        ));
    }
    if !common::db::notify::resend_order(&mut *tx, order.id).await? {
        return Err(WebError::bad("订单状态已变化，请刷新页面后重试。"));
    }
    user.audit(
        &mut *tx,
        "order.resend",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(
            &format!(
                "重发回调（订单{}，原回调状态 {}，已尝试 {attempts} 次）",
                status.label_zh(),
                order.notify_status.label_zh()
            ),
            &once,
        )),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, order_id = order.id, "callback resend scheduled");
    Ok(redirect_ok(
        &back,
        "已安排重发回调，回调服务将立即重新通知平台。",
    ))
}
