//! `GET /admin/orders`: 50 orders per page, newest first, with a capped total.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::filter::{Filter, OrderQuery};
use super::queries;
use super::views::{ListPage, line};
use crate::web::auth::CurrentUser;
use crate::web::page::{self, Chrome, Nav, Pager};
use crate::web::select::SelectOption;
use crate::web::{AppState, WebResult};

pub const PER_PAGE: u64 = 50;

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw): RawQuery,
) -> WebResult<Response> {
    let query = OrderQuery::parse(raw.as_deref());
    let f = query.filter();
    let total = page::count_capped(&state.db, "orders", &f.w).await?;
    let qs = f.query_string();
    let base = if qs.is_empty() {
        "/admin/orders".to_owned()
    } else {
        format!("/admin/orders?{qs}")
    };
    let pager = Pager::new(query.page(), PER_PAGE, total, base);
    let rows = queries::list_page(&state.db, &f.w, pager.per_page, pager.offset()).await?;
    let lines = rows.into_iter().map(line).collect();
    let (shops, products) = choices(&state, &f).await?;
    let export_href = if qs.is_empty() {
        "/admin/orders/export.csv".to_owned()
    } else {
        format!("/admin/orders/export.csv?{qs}")
    };
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::Orders),
        q: query.q.chars().take(128).collect(),
        from: f.from.clone(),
        to: f.to.clone(),
        notes: f.notes.clone(),
        platforms: f.platform_options(),
        shops,
        statuses: f.status_options(),
        notifies: f.notify_options(),
        products,
        lines,
        total: pager.total_label(),
        links: pager.links(),
        export_href,
        filtered: !f.kept.is_empty(),
    })
}

/// The shop and product selects (small tables).
async fn choices(
    state: &AppState,
    f: &Filter,
) -> WebResult<(Vec<SelectOption>, Vec<SelectOption>)> {
    let shops = queries::shop_choices(&state.db).await?;
    let products = queries::product_choices(&state.db).await?;
    Ok((
        shops
            .into_iter()
            .map(|(id, name, platform)| SelectOption {
                value: id.to_string(),
                label: format!("{name}（{}）", platform.label_zh()),
                selected: f.shop == Some(id),
            })
            .collect(),
        products
            .into_iter()
            .map(|(id, name)| SelectOption {
                value: id.to_string(),
                label: name,
                selected: f.product == Some(id),
            })
            .collect(),
    ))
}
