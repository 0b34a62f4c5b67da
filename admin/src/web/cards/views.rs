//! The 卡密库存 page's types: the stock lines, the masked card lines, the chosen batch's panel
//! and the import batches.

use askama::Template;
use chrono::NaiveDate;
use common::crypto::at_rest::{MasterKey, SealedColumn};
use common::domain::CardStatus;

use super::queries::{BatchRow, CardRow};
use super::{batch_url, path_segment, status_class};
use crate::web::page::{self, Chrome, PageLink};
use crate::web::select::SelectOption;

pub(super) struct Line {
    pub(super) id: u64,
    pub(super) product: String,
    pub(super) product_href: String,
    pub(super) batch: String,
    pub(super) batch_href: String,
    pub(super) card_no: String,
    pub(super) password: String,
    pub(super) expires: String,
    pub(super) expired: bool,
    pub(super) status: &'static str,
    pub(super) status_class: &'static str,
    /// Link and number of the order a sold card went to ("" when none).
    pub(super) order_href: String,
    pub(super) order_no: String,
    pub(super) created: String,
    pub(super) sold: String,
    pub(super) can_void: bool,
}

/// The card number, decrypted only to be masked.
pub(super) fn masked_card_no(key: &MasterKey, r: &CardRow) -> String {
    common::db::cards::open(
        key,
        SealedColumn::CardNo,
        r.product_id,
        &r.fingerprint,
        &r.card_no_enc,
    )
    .map(|s| page::mask_card_no(&s))
    .unwrap_or_else(|_| "（无法解密）".into())
}

pub(super) fn line(key: &MasterKey, r: CardRow, today: NaiveDate) -> Line {
    let no_expiry = common::domain::card_import::no_expiry();
    let available = r.status == CardStatus::Available;
    let expired = available && r.expires_at < today;
    let card_no = masked_card_no(key, &r);
    Line {
        id: r.id,
        product: r
            .product_name
            .unwrap_or_else(|| format!("#{}", r.product_id)),
        product_href: format!("/admin/cards?product={}", r.product_id),
        batch_href: batch_url(&r.batch_id),
        batch: r.batch_id,
        card_no,
        // The password is never decrypted for the list: nothing of it is shown.
        password: page::mask_card_password(""),
        expires: if r.expires_at == no_expiry {
            "长期有效".into()
        } else {
            r.expires_at.to_string()
        },
        expired,
        status: r.status.label_zh(),
        status_class: status_class(r.status),
        order_href: r
            .order_id
            .map(|id| format!("/admin/orders/{id}"))
            .unwrap_or_default(),
        order_no: match (r.order_id, r.order_no) {
            (Some(_), Some(no)) => no,
            (Some(id), None) => format!("#{id}"),
            _ => String::new(),
        },
        created: page::beijing(r.created_at),
        sold: page::beijing_opt(r.sold_at),
        can_void: available,
    }
}

pub struct StockLine {
    pub product: String,
    pub href: String,
    pub available: String,
    pub sold: String,
    pub void: String,
    pub exported: String,
    pub expired: String,
    pub threshold: String,
    pub low: bool,
    pub selected: bool,
}

pub(super) struct BatchLine {
    pub(super) id: String,
    pub(super) href: String,
    pub(super) action_base: String,
    pub(super) product: String,
    pub(super) source: String,
    pub(super) imported_by: String,
    pub(super) total_lines: i32,
    pub(super) inserted: i32,
    pub(super) duplicates: i32,
    pub(super) invalid: i32,
    pub(super) created: String,
}

/// The chosen batch: its import record and its cards by status now.
pub(super) struct BatchPanel {
    pub(super) id: String,
    pub(super) action_base: String,
    pub(super) record: Option<BatchLine>,
    pub(super) available: String,
    pub(super) sold: String,
    pub(super) void: String,
    pub(super) exported: String,
    pub(super) has_available: bool,
}

#[derive(Template)]
#[template(path = "cards/list.html")]
pub(super) struct ListPage {
    pub(super) chrome: Chrome,
    pub(super) stock: Vec<StockLine>,
    pub(super) stock_at: String,
    pub(super) products: Vec<SelectOption>,
    pub(super) statuses: Vec<SelectOption>,
    pub(super) batch: String,
    pub(super) notes: Vec<String>,
    pub(super) lines: Vec<Line>,
    pub(super) total: String,
    pub(super) links: Vec<PageLink>,
    pub(super) back: String,
    pub(super) filtered: bool,
    pub(super) panel: Option<BatchPanel>,
    pub(super) batches: Vec<BatchLine>,
    pub(super) import_href: String,
}

pub(super) fn batch_line(b: BatchRow) -> BatchLine {
    BatchLine {
        href: batch_url(&b.id),
        action_base: format!("/admin/cards/batches/{}", path_segment(&b.id)),
        id: b.id,
        product: b
            .product_name
            .unwrap_or_else(|| format!("#{}", b.product_id)),
        source: b.source,
        imported_by: b.imported_by,
        total_lines: b.total_lines,
        inserted: b.inserted,
        duplicates: b.duplicates,
        invalid: b.invalid,
        created: page::beijing(b.created_at),
    }
}
