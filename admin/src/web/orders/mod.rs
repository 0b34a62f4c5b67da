//! 订单管理: the order list (one search box, filters, capped totals), the CSV export, the order
//! page (fields, timeline, cards masked, supplier orders, callback attempts), the audited card
//! reveal, and the operator actions (手动成功, 手动失败, 重发回调, 重新履约). Actions commit the
//! change, its timeline event, its outbox message and its audit row in one transaction, through
//! the same `common::db::orders` functions the services use.

mod actions;
mod detail;
mod export;
mod filter;
mod list;
mod masking;
mod plan;
mod queries;
mod views;

use axum::Router;
use axum::routing::{get, post};
use common::domain::{NotifyStatus, OrderStatus};

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/orders", get(list::show))
        .route("/admin/orders/export.csv", get(export::csv))
        .route("/admin/orders/{id}", get(detail::show))
        .route("/admin/orders/{id}/reveal", post(detail::reveal))
        .route("/admin/orders/{id}/succeed", post(actions::succeed))
        .route("/admin/orders/{id}/fail", post(actions::fail))
        .route("/admin/orders/{id}/resend", post(actions::resend))
        .route("/admin/orders/{id}/refulfil", post(actions::refulfil))
}

fn order_url(id: u64) -> String {
    format!("/admin/orders/{id}")
}

fn status_label(s: &str) -> String {
    s.parse::<OrderStatus>()
        .map(|st| st.label_zh().to_owned())
        .unwrap_or_else(|_| s.to_owned())
}

fn notify_label(s: &str) -> String {
    s.parse::<NotifyStatus>()
        .map(|st| st.label_zh().to_owned())
        .unwrap_or_else(|_| s.to_owned())
}

/// A stored status as a CSS class: only known values (the badge colours), never raw data.
fn status_class(s: &str) -> &'static str {
    if let Ok(st) = s.parse::<OrderStatus>() {
        return st.as_str();
    }
    if let Ok(st) = s.parse::<NotifyStatus>() {
        return st.as_str();
    }
    match s {
        "retry" => "retry",
        "error" => "error",
        "unknown" => "warn",
        "submitted" => "pending",
        _ => "",
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "card" => "卡密",
        "direct" => "直充",
        _ => "未知",
    }
}

/// Fen as yuan without thousands separators (CSV cells that spreadsheets read as numbers).
fn plain_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::form::path_id;
    use crate::web::page::platform_label;

    #[test]
    fn labels_and_classes() {
        assert_eq!(platform_label("jd_game"), "京东游戏点卡");
        assert_eq!(platform_label("odd"), "odd");
        assert_eq!(status_label("awaiting_manual"), "待人工处理");
        assert_eq!(notify_label("giving_up"), "已放弃");
        assert_eq!(status_class("failed"), "failed");
        assert_eq!(status_class("delivered"), "delivered");
        assert_eq!(status_class("\"><script>"), "");
        assert_eq!(plain_yuan(123456), "1234.56");
        assert_eq!(plain_yuan(5), "0.05");
        assert!(path_id("12x").is_err());
        assert_eq!(path_id("12").unwrap(), 12);
    }
}
