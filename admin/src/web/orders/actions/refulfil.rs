//! `POST /admin/orders/{id}/refulfil`: 重新履约.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use common::db::orders;
use common::domain::OrderStatus;
use common::mq::{Event, EventType};

use super::*;
use crate::web::auth::Operator;
use crate::web::form::FormFields;
use crate::web::orders::order_url;
use crate::web::orders::plan::{ProductKind, refulfil_plan};
use crate::web::orders::queries::{self, live_supplier_orders};
use crate::web::page::{redirect_error, redirect_ok};
use crate::web::{AppState, WebResult};

/// `POST /admin/orders/{id}/refulfil`: puts a waiting or stuck order back where fulfilment
/// picks it up and enqueues `order.refulfil.<platform>` in the same transaction; fulfilment
/// handles it like a new order (and ignores it if the order moved on meanwhile).
pub async fn refulfil(
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
    } = match start(&state, &raw_id, "order.refulfil", &form).await? {
        Start::Go(locked) => *locked,
        Start::Answer(r) => return Ok(r),
    };
    let back = order_url(order.id);
    if status.is_final() {
        return Ok(final_refusal(&back, status));
    }
    let product = match order.product_id {
        Some(pid) => common::db::products::get(&mut *tx, pid).await?,
        None => None,
    };
    let kind = match &product {
        None => ProductKind::Missing,
        Some(p) => ProductKind::Mode(p.mode),
    };
    let live = live_supplier_orders(&mut *tx, order.id).await? > 0;
    let hops = match refulfil_plan(status, kind, live) {
        Ok(h) => h,
        Err(why) => return Ok(redirect_error(&back, format!("{why}未做任何更改。"))),
    };
    let actor = user.actor();
    let mut at = status;
    for to in &hops {
        orders::transition(&mut tx, order.id, at, *to, &actor, Some("重新履约"))
            .await
            .map_err(order_error)?;
        at = *to;
    }
    if hops.is_empty() {
        // Fulfilment acts on this status as it is: the timeline still shows who asked.
        orders::record_event(
            &mut tx,
            order.id,
            Some(status),
            status,
            &actor,
            Some("重新履约：重新提交履约"),
        )
        .await?;
    } else if let (Some(OrderStatus::AwaitingStock), Some(p)) = (hops.last(), &product) {
        // Waiting for stock gives up at the product's deadline, as fulfilment sets it.
        queries::set_stock_deadline(&mut tx, order.id, p.stock_wait_seconds.max(0)).await?;
    }
    common::mq::outbox::enqueue(
        &mut tx,
        &[Event::new(EventType::OrderRefulfil, order.id, platform).traced_here()],
    )
    .await?;
    user.audit(
        &mut *tx,
        "order.refulfil",
        Some(("order", order.id.to_string())),
        Some(detail_with_once(
            &format!("重新履约（原状态 {}）", status.label_zh()),
            &once,
        )),
    )
    .await?;
    tx.commit().await?;
    state.outbox.notify();
    tracing::info!(user = %user.username, order_id = order.id, "order handed back to fulfilment");
    Ok(redirect_ok(
        &back,
        "已重新提交履约，履约服务将重新处理该订单。",
    ))
}
