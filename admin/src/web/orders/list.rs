//! `GET /admin/orders`: 50 orders per page, newest first, with a capped total.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::NaiveDateTime;

use super::filter::{Filter, OrderQuery};
use super::{notify_label, platform_label, status_class, status_label};
use crate::web::auth::CurrentUser;
use crate::web::page::{self, Chrome, Nav, PageLink, Pager};
use crate::web::select::SelectOption;
use crate::web::{AppState, WebResult};

pub const PER_PAGE: u64 = 50;

#[derive(sqlx::FromRow)]
struct Row {
    id: u64,
    order_no: String,
    platform_order_no: String,
    platform: String,
    shop_name: Option<String>,
    product_name: Option<String>,
    sku: String,
    quantity: i32,
    total_price_fen: i64,
    recharge_account: Option<String>,
    status: String,
    notify_status: String,
    created_at: NaiveDateTime,
}

struct Line {
    id: u64,
    order_no: String,
    platform_order_no: String,
    platform: String,
    shop: String,
    product: String,
    quantity: i32,
    amount: String,
    account: String,
    status: String,
    status_class: &'static str,
    notify: String,
    notify_class: &'static str,
    created: String,
}

#[derive(Template)]
#[template(path = "orders/list.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    from: String,
    to: String,
    notes: Vec<String>,
    platforms: Vec<SelectOption>,
    shops: Vec<SelectOption>,
    statuses: Vec<SelectOption>,
    notifies: Vec<SelectOption>,
    products: Vec<SelectOption>,
    lines: Vec<Line>,
    total: String,
    links: Vec<PageLink>,
    export_href: String,
    filtered: bool,
}

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
    // Ids first from the filter's index (covering, cheap even deep into the pages), then the
    // 50 rows with their shop and product names.
    let sql = format!(
        "SELECT o.id, o.order_no, o.platform_order_no, o.platform, s.name AS shop_name,
                p.name AS product_name, o.sku, o.quantity, o.total_price_fen, o.recharge_account,
                o.status, o.notify_status, o.created_at
         FROM (SELECT id FROM orders{} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}) t
         JOIN orders o ON o.id = t.id
         LEFT JOIN shops s ON s.id = o.shop_id
         LEFT JOIN products p ON p.id = o.product_id
         ORDER BY o.created_at DESC, o.id DESC",
        f.w.sql(),
        pager.per_page,
        pager.offset()
    );
    let rows: Vec<Row> =
        f.w.bind_as(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&state.db)
            .await?;
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

fn line(r: Row) -> Line {
    Line {
        id: r.id,
        order_no: r.order_no,
        platform_order_no: r.platform_order_no,
        platform: platform_label(&r.platform),
        shop: r.shop_name.unwrap_or_else(|| "（已删除）".into()),
        product: r.product_name.unwrap_or(r.sku),
        quantity: r.quantity,
        amount: page::yuan(r.total_price_fen),
        account: r.recharge_account.unwrap_or_default(),
        status: status_label(&r.status),
        status_class: status_class(&r.status),
        notify: notify_label(&r.notify_status),
        notify_class: status_class(&r.notify_status),
        created: page::beijing(r.created_at),
    }
}

/// The shop and product selects (small tables).
async fn choices(
    state: &AppState,
    f: &Filter,
) -> WebResult<(Vec<SelectOption>, Vec<SelectOption>)> {
    let shops: Vec<(u64, String, String)> =
        sqlx::query_as("SELECT id, name, platform FROM shops ORDER BY platform, name")
            .fetch_all(&state.db)
            .await?;
    let products: Vec<(u64, String)> =
        sqlx::query_as("SELECT id, name FROM products ORDER BY name")
            .fetch_all(&state.db)
            .await?;
    Ok((
        shops
            .into_iter()
            .map(|(id, name, platform)| SelectOption {
                value: id.to_string(),
                label: format!("{name}（{}）", platform_label(&platform)),
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
