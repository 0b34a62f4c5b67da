//! `GET /admin/orders/{id}`: everything about one order, cards masked; and
//! `POST /admin/orders/{id}/reveal`: the same page with the cards in full, once, audited.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDateTime;
use common::domain::{FailureReason, NotifyStatus, OrderKind, Platform, SupplierOrderStatus};

use super::masking::mask_text;
use super::plan::refulfil_plan;
use super::queries::{self, OrderFull};
use super::views::*;
use super::{outcome_class, supplier_class};
use crate::web::auth::{CurrentUser, Operator};
use crate::web::form::path_id;
use crate::web::page::{self, Chrome, Nav};
use crate::web::select::SelectOption;
use crate::web::token::random_hex;
use crate::web::{AppState, WebError, WebResult};

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let page = build(&state, &user, id, false).await?;
    page::render(&page)
}

/// Shows the cards in full, once, and leaves a `card.reveal` audit row. Rendered directly in
/// the POST response (never a redirect to a cacheable page); `page::render` sends `no-store`.
pub async fn reveal(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let mut page = build(&state, &user, id, true).await?;
    if page.cards.is_empty() {
        page.revealed = false;
        if page.cards_error.is_empty() {
            page.notice = "该订单没有已发放的卡密。".into();
        }
    } else {
        user.audit(
            &state.db,
            "card.reveal",
            Some(("order", id.to_string())),
            Some(format!(
                "查看订单 {} 的 {} 张完整卡密",
                page.order_no,
                page.cards.len()
            )),
        )
        .await?;
        tracing::info!(user = %user.username, order_id = id, cards = page.cards.len(), "cards revealed");
        page.notice = "以下为完整卡密，本次查看已记录审计日志；刷新或离开本页后重新隐藏。".into();
    }
    page::render(&page)
}

async fn build(
    state: &AppState,
    user: &CurrentUser,
    id: u64,
    reveal: bool,
) -> WebResult<DetailPage> {
    let o = queries::order_full(&state.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let events = common::db::orders::events(&state.db, id).await?;
    let (cards, cards_error) = match common::db::cards::issued_to_order(&state.db, &state.key, id)
        .await
    {
        Ok(cards) => (cards, String::new()),
        Err(e) => {
            tracing::error!(order_id = id, error = %format!("{e:#}"), "cards of an order cannot be read");
            (
                Vec::new(),
                "该订单的卡密无法读取或解密（请检查 MASTER_KEY）。".to_owned(),
            )
        }
    };
    let suppliers = queries::supplier_orders(&state.db, id).await?;
    let jd_attempts = common::db::notify::attempts(&state.db, id).await?;
    let other_attempts = queries::other_attempts(&state.db, id).await?;
    let agiso = if o.platform == Platform::Agiso {
        super::agiso::section(&state.db, id, state.agiso.is_some()).await?
    } else {
        None
    };

    let live_supplier = suppliers
        .iter()
        .any(|s| s.status != SupplierOrderStatus::Failed);
    let chrome = Chrome::new(user, Nav::Orders);
    let actions = chrome
        .can_operate()
        .then(|| actions_for(&o, live_supplier, !cards.is_empty()));

    let mut attempts: Vec<(NaiveDateTime, AttemptLine)> = jd_attempts
        .into_iter()
        .map(|a| {
            (
                a.created_at,
                AttemptLine {
                    at: page::beijing(a.created_at),
                    target: o.platform.label_zh().to_owned(),
                    attempt_no: a.attempt_no,
                    url: a.url,
                    http_status: a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    outcome_class: outcome_class(a.outcome),
                    outcome: outcome_label(a.outcome),
                    duration: format!("{} ms", a.duration_ms),
                    error: a.error.unwrap_or_default(),
                    next: page::beijing_opt(a.next_attempt_at),
                    request: a.request_body.as_deref().map(mask_text).unwrap_or_default(),
                    response: a
                        .response_body
                        .as_deref()
                        .map(mask_text)
                        .unwrap_or_default(),
                },
            )
        })
        .collect();
    attempts.extend(other_attempts.into_iter().map(|a| {
        (
            a.created_at,
            AttemptLine {
                at: page::beijing(a.created_at),
                target: a.target.label_zh().to_owned(),
                attempt_no: a.attempt_no,
                url: a.url,
                http_status: a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                outcome_class: outcome_class(a.outcome),
                outcome: outcome_label(a.outcome),
                duration: format!("{} ms", a.duration_ms),
                error: a.error.unwrap_or_default(),
                next: page::beijing_opt(a.next_attempt_at),
                request: a.request_body.as_deref().map(mask_text).unwrap_or_default(),
                response: a
                    .response_body
                    .as_deref()
                    .map(mask_text)
                    .unwrap_or_default(),
            },
        )
    }));
    attempts.sort_by_key(|(t, _)| *t);

    let cards = cards
        .into_iter()
        .enumerate()
        .map(|(i, c)| CardLine {
            no: i + 1,
            card_no: if reveal {
                c.card_no.clone()
            } else {
                page::mask_card_no(&c.card_no)
            },
            // Masked, nothing of the password shows: the audited reveal is the only way to it.
            password: if reveal {
                c.password.clone()
            } else {
                page::mask_card_password(&c.password)
            },
            expires: c
                .expires_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "长期有效".into()),
        })
        .collect();

    Ok(DetailPage {
        chrome,
        id,
        order_no: o.order_no.clone(),
        status: o.status.label_zh().to_owned(),
        status_class: o.status.as_str(),
        notify: o.notify_status.label_zh().to_owned(),
        notify_class: o.notify_status.as_str(),
        fields: fields(&o),
        raw_request: o.raw_request.as_deref().map(mask_text).unwrap_or_default(),
        events: events
            .into_iter()
            .map(|e| EventLine {
                at: page::beijing(e.created_at),
                from: e
                    .from_status
                    .map(|s| s.label_zh().to_owned())
                    .unwrap_or_default(),
                to_class: e.to_status.as_str(),
                to: e.to_status.label_zh().to_owned(),
                actor: actor_label(&e.actor),
                note: e.note.unwrap_or_default(),
            })
            .collect(),
        cards,
        cards_error,
        revealed: reveal,
        notice: String::new(),
        suppliers: suppliers
            .into_iter()
            .map(|s| SupplierLine {
                supplier: s
                    .supplier_name
                    .unwrap_or_else(|| format!("#{}", s.supplier_id)),
                supplier_order_no: s.supplier_order_no.unwrap_or_default(),
                status_class: supplier_class(s.status),
                status: s.status.label_zh().to_owned(),
                polls: s.poll_count,
                next_poll: page::beijing_opt(s.next_poll_at),
                deadline: page::beijing_opt(s.deadline_at),
                last_response: s
                    .last_response
                    .as_deref()
                    .map(mask_text)
                    .unwrap_or_default(),
                created: page::beijing(s.created_at),
                updated: page::beijing(s.updated_at),
            })
            .collect(),
        attempts: attempts.into_iter().map(|(_, a)| a).collect(),
        actions,
        agiso,
    })
}

fn actions_for(o: &OrderFull, live_supplier: bool, has_cards: bool) -> Actions {
    let status = o.status;
    let open = !status.is_final();
    let is_final = status.is_final();
    let jd = matches!(o.platform, Platform::JdGeneral | Platform::JdGame);
    let resend_why_not = if !is_final {
        String::new()
    } else if !jd {
        "阿奇索订单由阿奇索同步服务发货，不通过京东回调。".into()
    } else if o.notify_status == NotifyStatus::NotRequired {
        "该订单无需回调通知。".into()
    } else {
        String::new()
    };
    let (refulfil, refulfil_why_not) = match refulfil_plan(status, o.product_kind(), live_supplier)
    {
        Ok(_) => (true, String::new()),
        // A final order simply has no 重新履约 (no explanation needed).
        Err(_) if status.is_final() => (false, String::new()),
        Err(why) => (false, why.to_owned()),
    };
    Actions {
        once: random_hex(16),
        succeed: open,
        card_order: o.order_kind == OrderKind::Card,
        quantity: o.quantity,
        fail: open,
        reasons: FailureReason::ALL
            .into_iter()
            .map(|r| SelectOption {
                value: r.as_str().into(),
                label: format!("{}（{}）", r.label_zh(), r.as_str()),
                selected: r == FailureReason::Manual,
            })
            .collect(),
        resend: is_final && jd && o.notify_status != NotifyStatus::NotRequired,
        resend_why_not,
        refulfil,
        refulfil_why_not,
        reveal: has_cards,
        supplier_warning: open && live_supplier,
    }
}
