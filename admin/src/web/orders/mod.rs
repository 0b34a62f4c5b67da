//! 订单管理: the order list (one search box, filters, capped totals), the CSV export, the order
//! page (fields, timeline, cards masked, supplier orders, callback attempts), the audited card
//! reveal, and the operator actions (手动成功, 手动失败, 重发回调, 重新履约). Actions commit the
//! change, its timeline event, its outbox message and its audit row in one transaction, through
//! the same `common::db::orders` functions the services use.

mod actions;
mod agiso;
mod detail;
mod export;
mod filter;
mod list;
pub(crate) mod masking;
mod plan;
mod queries;
mod views;

use axum::Router;
use axum::routing::{get, post};
use common::domain::{AttemptOutcome, SupplierOrderStatus};

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

// An order's status and notify status are their own badge classes (`as_str`).

/// The badge class of a callback attempt's outcome.
fn outcome_class(o: AttemptOutcome) -> &'static str {
    match o {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::Retry => "retry",
        AttemptOutcome::GivingUp => "giving_up",
        AttemptOutcome::Error => "error",
        AttemptOutcome::Failed => "failed",
        AttemptOutcome::Processing => "processing",
        AttemptOutcome::Success | AttemptOutcome::NotFound => "",
    }
}

/// The badge class of a supplier order's status.
fn supplier_class(s: SupplierOrderStatus) -> &'static str {
    match s {
        SupplierOrderStatus::Pending | SupplierOrderStatus::Submitted => "pending",
        SupplierOrderStatus::Succeeded => "succeeded",
        SupplierOrderStatus::Failed => "failed",
        SupplierOrderStatus::Unknown => "warn",
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

    #[test]
    fn labels_and_classes() {
        assert_eq!(outcome_class(AttemptOutcome::Failed), "failed");
        assert_eq!(outcome_class(AttemptOutcome::Delivered), "delivered");
        assert_eq!(outcome_class(AttemptOutcome::NotFound), "");
        assert_eq!(supplier_class(SupplierOrderStatus::Unknown), "warn");
        assert_eq!(supplier_class(SupplierOrderStatus::Submitted), "pending");
        assert_eq!(plain_yuan(123456), "1234.56");
        assert_eq!(plain_yuan(5), "0.05");
        assert!(path_id("12x").is_err());
        assert_eq!(path_id("12").unwrap(), 12);
    }
}
