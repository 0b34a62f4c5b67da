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

use axum::extract::{RawQuery, State};
use axum::response::Response;
use common::domain::CardStatus;

use super::filter::{CardQuery, Filter};
use super::path_segment;
use super::queries;
use super::views::{BatchPanel, ListPage, StockLine, batch_line, line};
use crate::web::auth::Operator;
use crate::web::page::{self, Chrome, Nav, Pager};
use crate::web::select::SelectOption;
use crate::web::{AppState, WebResult};

pub const PER_PAGE: u64 = 50;
/// Batches listed under the cards.
const BATCHES_SHOWN: u64 = 20;

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
