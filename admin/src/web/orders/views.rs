//! The order pages' types and formatting: the list's lines, the order page's fields, timeline,
//! cards, supplier orders, callback attempts and actions.

use askama::Template;
use common::domain::{AttemptOutcome, FulfilmentMode};

use super::queries::{self, OrderFull};
use crate::web::page::{self, Chrome, PageLink};
use crate::web::select::SelectOption;

// The order list.

pub(super) struct Line {
    pub(super) id: u64,
    pub(super) order_no: String,
    pub(super) platform_order_no: String,
    pub(super) platform: String,
    pub(super) shop: String,
    pub(super) product: String,
    pub(super) quantity: i32,
    pub(super) amount: String,
    pub(super) account: String,
    pub(super) status: String,
    pub(super) status_class: &'static str,
    pub(super) notify: String,
    pub(super) notify_class: &'static str,
    pub(super) created: String,
}

#[derive(Template)]
#[template(path = "orders/list.html")]
pub(super) struct ListPage {
    pub(super) chrome: Chrome,
    pub(super) q: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) notes: Vec<String>,
    pub(super) platforms: Vec<SelectOption>,
    pub(super) shops: Vec<SelectOption>,
    pub(super) statuses: Vec<SelectOption>,
    pub(super) notifies: Vec<SelectOption>,
    pub(super) products: Vec<SelectOption>,
    pub(super) lines: Vec<Line>,
    pub(super) total: String,
    pub(super) links: Vec<PageLink>,
    pub(super) export_href: String,
    pub(super) filtered: bool,
}

pub(super) fn line(r: queries::ListRow) -> Line {
    Line {
        id: r.id,
        order_no: r.order_no,
        platform_order_no: r.platform_order_no,
        platform: r.platform.label_zh().to_owned(),
        shop: r.shop_name.unwrap_or_else(|| "（已删除）".into()),
        product: r.product_name.unwrap_or(r.sku),
        quantity: r.quantity,
        amount: page::yuan(r.total_price_fen),
        account: r.recharge_account.unwrap_or_default(),
        status: r.status.label_zh().to_owned(),
        status_class: r.status.as_str(),
        notify: r.notify_status.label_zh().to_owned(),
        notify_class: r.notify_status.as_str(),
        created: page::beijing(r.created_at),
    }
}

// The order page.

pub(super) struct Field {
    pub(super) label: &'static str,
    pub(super) value: String,
    pub(super) mono: bool,
}

pub(super) struct EventLine {
    pub(super) at: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) to_class: &'static str,
    pub(super) actor: String,
    pub(super) note: String,
}

pub(super) struct CardLine {
    pub(super) no: usize,
    pub(super) card_no: String,
    pub(super) password: String,
    pub(super) expires: String,
}

pub(super) struct SupplierLine {
    pub(super) supplier: String,
    pub(super) supplier_order_no: String,
    pub(super) status: String,
    pub(super) status_class: &'static str,
    pub(super) polls: i32,
    pub(super) next_poll: String,
    pub(super) deadline: String,
    pub(super) last_response: String,
    pub(super) created: String,
    pub(super) updated: String,
}

pub(super) struct AttemptLine {
    pub(super) at: String,
    pub(super) target: String,
    pub(super) attempt_no: i32,
    pub(super) url: String,
    pub(super) http_status: String,
    pub(super) outcome: String,
    pub(super) outcome_class: &'static str,
    pub(super) duration: String,
    pub(super) error: String,
    pub(super) next: String,
    pub(super) request: String,
    pub(super) response: String,
}

/// One stored push or poll of an Agiso order.
pub(super) struct AgisoEventLine {
    pub(super) at: String,
    pub(super) topic: String,
    pub(super) aopic: i64,
    pub(super) source: &'static str,
    pub(super) state: &'static str,
    pub(super) note: String,
    /// The start of the payload as received, masked.
    pub(super) payload: String,
}

/// The 阿奇索 section of an Agiso order.
pub(super) struct AgisoSection {
    pub(super) service: &'static str,
    pub(super) tid: String,
    pub(super) order_type: &'static str,
    pub(super) step: &'static str,
    pub(super) events: Vec<AgisoEventLine>,
    /// `AGISO_SYNC_URL` is set: the buttons work.
    pub(super) configured: bool,
    pub(super) not_configured: &'static str,
}

/// The actions an operator may take on this order now (viewers get none).
pub(super) struct Actions {
    /// One-time submission id: a double-submitted form is recognised and changes nothing.
    pub(super) once: String,
    pub(super) succeed: bool,
    pub(super) card_order: bool,
    pub(super) quantity: i32,
    pub(super) fail: bool,
    pub(super) reasons: Vec<SelectOption>,
    pub(super) resend: bool,
    pub(super) resend_why_not: String,
    pub(super) refulfil: bool,
    pub(super) refulfil_why_not: String,
    pub(super) reveal: bool,
    /// A supplier may still be recharging this order: check with it before ending the order.
    pub(super) supplier_warning: bool,
}

#[derive(Template)]
#[template(path = "orders/detail.html")]
pub(super) struct DetailPage {
    pub(super) chrome: Chrome,
    pub(super) id: u64,
    pub(super) order_no: String,
    pub(super) status: String,
    pub(super) status_class: &'static str,
    pub(super) notify: String,
    pub(super) notify_class: &'static str,
    pub(super) fields: Vec<Field>,
    pub(super) raw_request: String,
    pub(super) events: Vec<EventLine>,
    pub(super) cards: Vec<CardLine>,
    pub(super) cards_error: String,
    pub(super) revealed: bool,
    pub(super) notice: String,
    pub(super) suppliers: Vec<SupplierLine>,
    pub(super) attempts: Vec<AttemptLine>,
    pub(super) actions: Option<Actions>,
    pub(super) agiso: Option<AgisoSection>,
}

pub(super) fn fields(o: &OrderFull) -> Vec<Field> {
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
    let failure = match (o.failure_code, &o.failure_reason) {
        (None, None) => String::new(),
        (code, text) => {
            let label = code
                .map(|r| format!("{}（{}）", r.label_zh(), r.as_str()))
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
                .map(FulfilmentMode::label_zh)
                .unwrap_or("未知方式")
        ),
        (None, Some(pid)) => format!("#{pid}（已删除）"),
        _ => "（无）".into(),
    };
    let mut out = vec![
        m("订单号", o.order_no.clone()),
        m("平台单号", o.platform_order_no.clone()),
        f("平台", o.platform.label_zh().to_owned()),
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
        f("类型", o.order_kind.label_zh().to_owned()),
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

pub(super) fn actor_label(actor: &str) -> String {
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

/// This page's words for an attempt's outcome (a supplier's answers show as stored).
pub(super) fn outcome_label(outcome: AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Delivered => "成功".into(),
        AttemptOutcome::Retry => "待重试".into(),
        AttemptOutcome::GivingUp => "已放弃".into(),
        AttemptOutcome::Error => "错误".into(),
        other => other.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::domain::{CallbackTarget, SupplierOrderStatus};

    #[test]
    fn labels() {
        assert_eq!(actor_label("operator:alice"), "操作员 alice");
        assert_eq!(actor_label("fulfillment"), "履约服务");
        assert_eq!(outcome_label(AttemptOutcome::Retry), "待重试");
        assert_eq!(outcome_label(AttemptOutcome::NotFound), "not_found");
        assert_eq!(CallbackTarget::JdGame.label_zh(), "京东游戏点卡");
        assert_eq!(SupplierOrderStatus::Unknown.label_zh(), "结果未知");
    }
}
