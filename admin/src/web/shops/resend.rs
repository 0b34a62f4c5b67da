//! Resending every callback a shop's orders gave up on (operators).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::web::auth::Operator;
use crate::web::page::{self, Chrome, Nav};
use crate::web::{AppState, WebResult};

use super::*;

#[derive(Template)]
#[template(path = "config/resend.html")]
struct ResendPage {
    chrome: Chrome,
    shop_id: u64,
    shop_name: String,
    giving_up: i64,
}

/// The offer shown after a shop's keys were saved (and from the list): how many callbacks gave
/// up, and the button that resends them.
pub(super) async fn offer_resend(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (row, _) = load(&state, &id).await?;
    let giving_up = common::db::notify::count_giving_up_of_shop(&state.db, row.id).await?;
    page::render(&ResendPage {
        chrome: Chrome::new(&user, Nav::Shops),
        shop_id: row.id,
        shop_name: row.name,
        giving_up,
    })
}

pub(super) async fn resend_giving_up(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (row, _) = load(&state, &id).await?;
    let mut tx = state.db.begin().await?;
    let n = common::db::notify::resend_giving_up_of_shop(&mut *tx, row.id).await?;
    if n == 0 {
        tx.rollback().await?;
        return Ok(page::redirect_ok(
            "/admin/config",
            format!("店铺「{}」没有已放弃回调的订单，无需重发。", row.name),
        ));
    }
    user.audit(
        &mut *tx,
        "shop.resend_giving_up",
        Some(("shop", row.id.to_string())),
        Some(format!("{}：重新安排 {n} 个订单的回调", row.name)),
    )
    .await?;
    tx.commit().await?;
    forget_giving_up(&state.db);
    tracing::info!(shop = row.id, orders = n, user = %user.username, "giving-up callbacks rescheduled");
    Ok(page::redirect_ok(
        "/admin/config",
        format!("已重新安排店铺「{}」{n} 个订单的回调。", row.name),
    ))
}
