//! `GET /admin/orders/{id}`: everything about one order, cards masked; and
//! `POST /admin/orders/{id}/reveal`: the same page with the cards in full, once, audited.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDateTime;
use common::domain::{FailureReason, FulfilmentMode, OrderStatus, Platform};
use rand::RngCore;

use super::masking::mask_text;
use super::plan::refulfil_plan;
use super::queries::{self, OrderFull};
use super::{kind_label, notify_label, order_id, platform_label, status_class, status_label};
use crate::web::auth::{CurrentUser, Operator};
use crate::web::page::{self, Chrome, Nav};
use crate::web::select::SelectOption;
use crate::web::{AppState, WebError, WebResult};

struct Field {
    label: &'static str,
    value: String,
    mono: bool,
}

struct EventLine {
    at: String,
    from: String,
    to: String,
    to_class: &'static str,
    actor: String,
    note: String,
}

struct CardLine {
    no: usize,
    card_no: String,
    password: String,
    expires: String,
}

struct SupplierLine {
    supplier: String,
    supplier_order_no: String,
    status: String,
    status_class: &'static str,
    polls: i32,
    next_poll: String,
    deadline: String,
    last_response: String,
    created: String,
    updated: String,
}

struct AttemptLine {
    at: String,
    target: String,
    attempt_no: i32,
    url: String,
    http_status: String,
    outcome: String,
    outcome_class: &'static str,
    duration: String,
    error: String,
    next: String,
    request: String,
    response: String,
}

/// The actions an operator may take on this order now (viewers get none).
struct Actions {
    /// One-time submission id: a double-submitted form is recognised and changes nothing.
    once: String,
    succeed: bool,
    card_order: bool,
    quantity: i32,
    fail: bool,
    reasons: Vec<SelectOption>,
    resend: bool,
    resend_why_not: String,
    refulfil: bool,
    refulfil_why_not: String,
    reveal: bool,
    /// A supplier may still be recharging this order: check with it before ending the order.
    supplier_warning: bool,
}

#[derive(Template)]
#[template(path = "orders/detail.html")]
struct DetailPage {
    chrome: Chrome,
    id: u64,
    order_no: String,
    status: String,
    status_class: &'static str,
    notify: String,
    notify_class: &'static str,
    fields: Vec<Field>,
    raw_request: String,
    events: Vec<EventLine>,
    cards: Vec<CardLine>,
    cards_error: String,
    revealed: bool,
    notice: String,
    suppliers: Vec<SupplierLine>,
    attempts: Vec<AttemptLine>,
    actions: Option<Actions>,
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = order_id(&id)?;
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
    let id = order_id(&id)?;
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

    let status = o.status.parse::<OrderStatus>().ok();
    let platform = o.platform.parse::<Platform>().ok();
    let live_supplier = suppliers.iter().any(|s| s.status != "failed");
    let chrome = Chrome::new(user, Nav::Orders);
    let actions = chrome
        .can_operate()
        .then(|| actions_for(&o, status, platform, live_supplier, !cards.is_empty()));

    let mut attempts: Vec<(NaiveDateTime, AttemptLine)> = jd_attempts
        .into_iter()
        .map(|a| {
            (
                a.created_at,
                AttemptLine {
                    at: page::beijing(a.created_at),
                    target: platform_label(&o.platform),
                    attempt_no: a.attempt_no,
                    url: a.url,
                    http_status: a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    outcome_class: status_class(&a.outcome),
                    outcome: outcome_label(&a.outcome),
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
                target: target_label(&a.target),
                attempt_no: a.attempt_no,
                url: a.url,
                http_status: a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                outcome_class: status_class(&a.outcome),
                outcome: outcome_label(&a.outcome),
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
        status: status_label(&o.status),
        status_class: status_class(&o.status),
        notify: notify_label(&o.notify_status),
        notify_class: status_class(&o.notify_status),
        fields: fields(&o),
        raw_request: o.raw_request.as_deref().map(mask_text).unwrap_or_default(),
        events: events
            .into_iter()
            .map(|e| EventLine {
                at: page::beijing(e.created_at),
                from: e
                    .from_status
                    .as_deref()
                    .map(status_label)
                    .unwrap_or_default(),
                to_class: status_class(&e.to_status),
                to: status_label(&e.to_status),
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
                status_class: status_class(&s.status),
                status: supplier_status_label(&s.status),
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
    })
}

fn actions_for(
    o: &OrderFull,
    status: Option<OrderStatus>,
    platform: Option<Platform>,
    live_supplier: bool,
    has_cards: bool,
) -> Actions {
    let mut once = [0u8; 16];
    rand::rng().fill_bytes(&mut once);
    let open = status.is_some_and(|s| !s.is_final());
    let is_final = status.is_some_and(OrderStatus::is_final);
    let jd = matches!(platform, Some(Platform::JdGeneral | Platform::JdGame));
    let resend_why_not = if !is_final {
        String::new()
    } else if !jd {
        "阿奇索订单由阿奇索同步服务发货，不通过京东回调。".into()
    } else if o.notify_status == "not_required" {
        "该订单无需回调通知。".into()
    } else {
        String::new()
    };
    let (refulfil, refulfil_why_not) = match status {
        Some(st) => match refulfil_plan(st, o.product_kind(), live_supplier) {
            Ok(_) => (true, String::new()),
            // A final order simply has no 重新履约 (no explanation needed).
            Err(_) if st.is_final() => (false, String::new()),
            Err(why) => (false, why.to_owned()),
        },
        None => (false, String::new()),
    };
    Actions {
        once: hex::encode(once),
        succeed: open,
        card_order: o.order_kind == "card",
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
        resend: is_final && jd && o.notify_status != "not_required",
        resend_why_not,
        refulfil,
        refulfil_why_not,
        reveal: has_cards,
        supplier_warning: open && live_supplier,
    }
}

fn fields(o: &OrderFull) -> Vec<Field> {
    let f = |label, value: String| Field {
        label,
        value,
        mono: false,
    };
    let m = |label, value: String| Field {
        label,
        value,
        mono: true,
    };
    let failure = match (&o.failure_code, &o.failure_reason) {
        (None, None) => String::new(),
        (code, text) => {
            let label = code
                .as_deref()
                .and_then(|c| c.parse::<FailureReason>().ok())
                .map(|r| format!("{}（{}）", r.label_zh(), r.as_str()))
                .or_else(|| code.clone())
                .unwrap_or_default();
            match text {
                Some(t) if !t.is_empty() => format!("{label}：{t}"),
                _ => label,
            }
        }
    };
    let product = match (&o.product_name, o.product_id) {
        (Some(name), Some(pid)) => format!(
            "{name}（#{pid}，{}）",
            o.product_mode
                .as_deref()
                .and_then(|m| m.parse::<FulfilmentMode>().ok())
                .map(FulfilmentMode::label_zh)
                .unwrap_or("未知方式")
        ),
        (None, Some(pid)) => format!("#{pid}（已删除）"),
        _ => "（无）".into(),
    };
    let mut out = vec![
        m("订单号", o.order_no.clone()),
        m("平台单号", o.platform_order_no.clone()),
        f("平台", platform_label(&o.platform)),
        f(
            "店铺",
            format!(
                "{}（#{}）",
                o.shop_name.clone().unwrap_or_else(|| "已删除".into()),
                o.shop_id
            ),
        ),
        f("商品", product),
        m("SKU", o.sku.clone()),
        f("类型", kind_label(&o.order_kind).to_owned()),
        f("数量", o.quantity.to_string()),
        f("金额(元)", page::yuan(o.total_price_fen)),
        m("充值账号", o.recharge_account.clone().unwrap_or_default()),
        f("失败原因", failure),
        f("回调次数", o.notify_attempts.to_string()),
        f("下次回调", page::beijing_opt(o.notify_next_at)),
        f("回调说明", o.notify_reason.clone().unwrap_or_default()),
        m("回调地址", o.notify_url.clone().unwrap_or_default()),
        f("等待补货截止", page::beijing_opt(o.stock_deadline_at)),
        f("创建时间", page::beijing(o.created_at)),
        f("更新时间", page::beijing(o.updated_at)),
        f("完成时间", page::beijing_opt(o.completed_at)),
    ];
    for field in &mut out {
        if field.value.is_empty() {
            field.value = "—".into();
            field.mono = false;
        }
    }
    out
}

fn actor_label(actor: &str) -> String {
    match actor {
        "gateway" => "网关".into(),
        "fulfillment" => "履约服务".into(),
        "notifier" => "回调服务".into(),
        "agiso-sync" => "阿奇索同步".into(),
        other => match other.strip_prefix("operator:") {
            Some(name) => format!("操作员 {name}"),
            None => other.to_owned(),
        },
    }
}

fn outcome_label(outcome: &str) -> String {
    match outcome {
        "delivered" => "成功".into(),
        "retry" => "待重试".into(),
        "giving_up" => "已放弃".into(),
        "error" => "错误".into(),
        other => other.to_owned(),
    }
}

fn target_label(target: &str) -> String {
    match target {
        "agiso" => "阿奇索".into(),
        "supplier" => "供应商".into(),
        other => platform_label(other),
    }
}

fn supplier_status_label(s: &str) -> String {
    match s {
        "pending" => "待提交".into(),
        "submitted" => "已提交".into(),
        "succeeded" => "成功".into(),
        "failed" => "失败".into(),
        "unknown" => "结果未知".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(actor_label("operator:alice"), "操作员 alice");
        assert_eq!(actor_label("fulfillment"), "履约服务");
        assert_eq!(outcome_label("retry"), "待重试");
        assert_eq!(target_label("jd_game"), "京东游戏点卡");
        assert_eq!(supplier_status_label("unknown"), "结果未知");
    }
}
