//! 卡密库存: stock per product, the card list (filters, capped totals, masked cards only), the
//! import batches, the import itself (upload → preview → commit), voiding one card or a whole
//! batch's available cards, and the audited CSV export of a batch's unsold cards — the one place
//! cards leave the system in clear text (they are then `exported`, no longer sold, unless the
//! operator keeps them available). Every page here is for operators (admin and operator roles):
//! even masked, stock is nobody else's business.
//!
//! Card numbers and passwords are decrypted only to be masked (`page::mask_card_no`: at most the
//! last 4 characters; `page::mask_card_password`: nothing) for a page, or for the export. The import preview keeps the parsed cards server-side, encrypted, in
//! `card_import_drafts` (see [`import`]); nothing in a form or page carries a clear card.

mod actions;
mod filter;
mod import;
mod list;
mod queries;
mod stock;
mod views;

use axum::Router;
use axum::routing::{get, post};
use common::domain::CardStatus;

use super::AppState;
use crate::web::form::FormFields;

pub use stock::{cached_stock, forget_stock, warm_stock};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/cards", get(list::show))
        .route("/admin/cards/import", get(import::form))
        .route("/admin/cards/import/preview", post(import::preview))
        .route("/admin/cards/import/commit", post(import::commit))
        .route("/admin/cards/{id}/void", post(actions::void_card))
        .route(
            "/admin/cards/batches/{batch}/void",
            post(actions::void_batch),
        )
        .route("/admin/cards/batches/{batch}/export", post(actions::export))
}

/// A card status as a badge class.
fn status_class(s: CardStatus) -> &'static str {
    match s {
        CardStatus::Available => "available",
        CardStatus::Sold => "succeeded",
        CardStatus::Void => "void",
        CardStatus::Exported => "warn",
    }
}

/// Where to go back to after an action: the list URL the form was on, or the list.
fn back_to(fields: &FormFields) -> String {
    match fields.field("back") {
        Some(b)
            if (b == "/admin/cards" || b.starts_with("/admin/cards?"))
                && !b.contains(['\r', '\n', '\\']) =>
        {
            b.to_owned()
        }
        _ => "/admin/cards".to_owned(),
    }
}

/// A value as one URL path segment (batch ids in action URLs).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The list filtered to one batch.
fn batch_url(batch: &str) -> String {
    format!(
        "/admin/cards?{}",
        super::page::query_string(&[("batch", batch)])
    )
}

/// Batch ids are at most 64 characters (the column); anything longer cannot exist.
fn plausible_batch(batch: &str) -> bool {
    !batch.is_empty() && batch.chars().count() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(CardStatus::Sold.label_zh(), "已售");
        assert_eq!(CardStatus::Exported.label_zh(), "已导出");
        assert_eq!(status_class(CardStatus::Sold), "succeeded");
        assert_eq!(status_class(CardStatus::Exported), "warn");
        assert_eq!(path_segment("B2026-01_a.b"), "B2026-01_a.b");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(path_segment("批"), "%E6%89%B9");
        let f = FormFields::parse(b"back=%2Fadmin%2Fcards%3Fstatus%3Dvoid&x=1");
        assert_eq!(back_to(&f), "/admin/cards?status=void");
        let f = FormFields::parse(b"back=https%3A%2F%2Fevil.example%2F");
        assert_eq!(back_to(&f), "/admin/cards");
        let f = FormFields::parse(b"back=%2Fadmin%2Fcardsx");
        assert_eq!(back_to(&f), "/admin/cards");
        assert_eq!(batch_url("B 1"), "/admin/cards?batch=B+1");
        assert!(plausible_batch("B1"));
        assert!(!plausible_batch(&"x".repeat(65)));
    }
}
