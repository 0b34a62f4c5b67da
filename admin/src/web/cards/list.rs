//! `GET /admin/cards` (operators only): stock per product, the filtered card list (50 per
//! page, newest first, capped total, cards masked: no character of a password, at most the last
//! 4 of a number), the chosen batch's panel and the latest import batches.
//!
//! Every list form is an index range read in id order, at most `offset + 50` entries per status:
//! no filter walks the primary key backwards; otherwise the index is named (`FORCE INDEX`: the
//! optimizer otherwise sometimes took `ix_cards_pick`, whose `expires_at` column breaks the id
//! order and costs a sort of all the product's cards): `ix_cards_batch` (batch_id, status, +id)
//! when a batch is chosen, else `ix_cards_product_list` (product_id, status, id) for a product,
//! else `ix_cards_status_list` (status, id). A product or batch without a status reads its index
//! once per status (a UNION of four ordered, limited reads) and merges them.

use crate::web::select::SelectOption;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::NaiveDate;
use common::crypto::at_rest::{MasterKey, SealedColumn};
use common::domain::CardStatus;

use super::filter::{CardQuery, Filter};
use super::queries::{self, BatchRow, CardRow};
use super::{batch_url, path_segment, status_class, status_label};
use crate::web::auth::Operator;
use crate::web::page::{self, Chrome, Nav, PageLink, Pager};
use crate::web::{AppState, WebResult};

pub const PER_PAGE: u64 = 50;
/// Batches listed under the cards.
const BATCHES_SHOWN: u64 = 20;

struct Line {
    id: u64,
    product: String,
    product_href: String,
    batch: String,
    batch_href: String,
    card_no: String,
    password: String,
    expires: String,
    expired: bool,
    status: &'static str,
    status_class: &'static str,
    /// Link and number of the order a sold card went to ("" when none).
    order_href: String,
    order_no: String,
    created: String,
    sold: String,
    can_void: bool,
}

/// The card number, decrypted only to be masked.
fn masked_card_no(key: &MasterKey, r: &CardRow) -> String {
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

fn line(key: &MasterKey, r: CardRow, today: NaiveDate) -> Line {
    let no_expiry = common::domain::card_import::no_expiry();
    let available = r.status == CardStatus::Available.as_str();
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
        status: status_label(&r.status),
        status_class: status_class(&r.status),
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

struct BatchLine {
    id: String,
    href: String,
    action_base: String,
    product: String,
    source: String,
    imported_by: String,
    total_lines: i32,
    inserted: i32,
    duplicates: i32,
    invalid: i32,
    created: String,
}

/// The chosen batch: its import record and its cards by status now.
struct BatchPanel {
    id: String,
    action_base: String,
    record: Option<BatchLine>,
    available: String,
    sold: String,
    void: String,
    exported: String,
    has_available: bool,
}

#[derive(Template)]
#[template(path = "cards/list.html")]
struct ListPage {
    chrome: Chrome,
    stock: Vec<StockLine>,
    stock_at: String,
    products: Vec<SelectOption>,
    statuses: Vec<SelectOption>,
    batch: String,
    notes: Vec<String>,
    lines: Vec<Line>,
    total: String,
    links: Vec<PageLink>,
    back: String,
    filtered: bool,
    panel: Option<BatchPanel>,
    batches: Vec<BatchLine>,
    import_href: String,
}

fn batch_line(b: BatchRow) -> BatchLine {
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

pub async fn show(
    State(state): State<AppState>,
    Operator(user): Operator,
    RawQuery(raw): RawQuery,
) -> WebResult<Response> {
    let query = CardQuery::parse(raw.as_deref());
    let f = Filter::from(&query);
    let w = f.where_all();
    let total = page::count_capped(&state.db, f.table(), &w).await?;
    let qs = f.query_string();
    let back = if qs.is_empty() {
        "/admin/cards".to_owned()
    } else {
        format!("/admin/cards?{qs}")
    };
    let pager = Pager::new(query.page.parse().ok(), PER_PAGE, total, back.clone());
    let ids = queries::page_ids(&state.db, &f, pager.per_page, pager.offset()).await?;
    let rows = queries::card_rows(&state.db, &ids).await?;
    let today = page::beijing_today();
    let lines = rows
        .into_iter()
        .map(|r| line(&state.key, r, today))
        .collect();

    let snap = super::cached_stock(&state.db).await?;
    let stock = snap
        .rows
        .iter()
        .map(|r| StockLine {
            product: r.product_name.clone(),
            href: format!("/admin/cards?product={}", r.product_id),
            available: page::thousands(r.available.max(0) as u64),
            sold: page::thousands(r.sold.max(0) as u64),
            void: page::thousands(r.void.max(0) as u64),
            exported: page::thousands(r.exported.max(0) as u64),
            expired: page::thousands(r.expired.max(0) as u64),
            threshold: r
                .low_stock_threshold
                .map(|t| t.to_string())
                .unwrap_or_else(|| "—".into()),
            low: r
                .low_stock_threshold
                .is_some_and(|t| r.available < i64::from(t)),
            selected: f.product == Some(r.product_id),
        })
        .collect();

    let products = queries::card_products(&state.db)
        .await?
        .into_iter()
        .map(|(id, name, _)| SelectOption {
            value: id.to_string(),
            label: name,
            selected: f.product == Some(id),
        })
        .collect();
    let statuses = CardStatus::ALL
        .iter()
        .map(|s| SelectOption {
            value: s.as_str().into(),
            label: s.label_zh().into(),
            selected: f.status == Some(*s),
        })
        .collect();

    let panel = match &f.batch {
        Some(b) => Some(batch_panel(&state, b).await?),
        None => None,
    };
    let batches = queries::recent_batches(&state.db, f.product, BATCHES_SHOWN).await?;
    let import_href = match f.product {
        Some(p) => format!("/admin/cards/import?product={p}"),
        None => "/admin/cards/import".into(),
    };
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::Cards),
        stock,
        stock_at: page::beijing(snap.computed_at),
        products,
        statuses,
        batch: f.batch.clone().unwrap_or_default(),
        notes: f.notes.clone(),
        lines,
        total: pager.total_label(),
        links: pager.links(),
        back: if pager.page > 1 {
            format!(
                "{back}{}page={}",
                if back.contains('?') { '&' } else { '?' },
                pager.page
            )
        } else {
            back
        },
        filtered: !f.is_empty(),
        panel,
        batches: batches.into_iter().map(batch_line).collect(),
        import_href,
    })
}

async fn batch_panel(state: &AppState, batch: &str) -> WebResult<BatchPanel> {
    let record = queries::batch(&state.db, batch).await?;
    let counts = queries::batch_status_counts(&state.db, batch).await?;
    let n = |s: &str| {
        counts
            .iter()
            .find(|(st, _)| st == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    Ok(BatchPanel {
        id: batch.to_owned(),
        action_base: format!("/admin/cards/batches/{}", path_segment(batch)),
        record: record.map(batch_line),
        available: page::thousands(n(CardStatus::Available.as_str()).max(0) as u64),
        sold: page::thousands(n(CardStatus::Sold.as_str()).max(0) as u64),
        void: page::thousands(n(CardStatus::Void.as_str()).max(0) as u64),
        exported: page::thousands(n(CardStatus::Exported.as_str()).max(0) as u64),
        has_available: n(CardStatus::Available.as_str()) > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_lenient() {
        let f = Filter::from(&CardQuery::parse(Some(
            "product=x&status=gone&batch=B1&page=2&other=1",
        )));
        assert_eq!(f.product, None);
        assert_eq!(f.status, None);
        assert_eq!(f.batch.as_deref(), Some("B1"));
        assert_eq!(f.notes.len(), 2);
        assert_eq!(f.query_string(), "batch=B1");
        let f = Filter::from(&CardQuery::parse(Some("product=7&status=void")));
        assert_eq!((f.product, f.status), (Some(7), Some(CardStatus::Void)));
        assert_eq!(f.where_all().sql(), " WHERE product_id = ? AND status = ?");
    }
}
