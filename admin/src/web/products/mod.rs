//! 商品管理: the product list, creating and editing a product (name, fulfilment mode, face value
//! and price in yuan, low-stock threshold, out-of-stock policy and wait, enabled), its platform
//! SKU mappings and its direct-charge suppliers with their priority.
//!
//! Reading is for every user; every write is admin-only, audited in the transaction of the
//! change. The gateway caches products and SKU lookups for `GATEWAY_CACHE_TTL_MS` (default 3 s):
//! the pages say that a change applies within that time.

mod form;
mod links;
mod queries;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use common::db::products::{self, ProductError, ProductFields, ProductRow};
use common::domain::{Fen, FulfilmentMode, Platform, StockPolicy};

use self::form::{POLICIES, ProductForm, changes, policy_label};
use super::auth::{AdminUser, CurrentUser};
use super::page::{self, Chrome, Nav, redirect_ok};
use super::{AppState, WebError, WebResult};
use crate::web::form::{FormFields, path_id};
use crate::web::page::platform_label;
use crate::web::select::SelectOption;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/products", get(list).post(create))
        .route("/admin/products/new", get(new_form))
        .route("/admin/products/{id}", get(edit).post(update))
        .route("/admin/products/{id}/enabled", post(links::set_enabled))
        .route("/admin/products/{id}/skus", post(links::add_sku))
        .route(
            "/admin/products/{id}/skus/{sku_id}/delete",
            post(links::remove_sku),
        )
        .route("/admin/products/{id}/suppliers", post(links::link_supplier))
        .route(
            "/admin/products/{id}/suppliers/{supplier_id}/delete",
            post(links::unlink_supplier),
        )
}

/// The note on every product page.
const CACHE_NOTE: &str = "网关会缓存商品设置和 SKU 映射，修改保存后最多 GATEWAY_CACHE_TTL_MS（默认 3 秒）生效，无需重启。";

fn product_url(id: u64) -> String {
    format!("/admin/products/{id}")
}

fn yuan_opt(f: Option<i64>) -> String {
    f.map(|f| Fen(f).to_yuan_string())
        .unwrap_or_else(|| "—".into())
}

fn mode_options(selected: &str) -> Vec<SelectOption> {
    SelectOption::from_pairs(
        FulfilmentMode::ALL
            .iter()
            .map(|m| (m.as_str(), m.label_zh())),
        |v| v == selected,
    )
}

fn policy_options(selected: &str) -> Vec<SelectOption> {
    SelectOption::from_pairs(POLICIES.iter().copied(), |v| v == selected)
}

// ---------------------------------------------------------------------------------------------
// List

struct ListLine {
    id: u64,
    name: String,
    mode: &'static str,
    face_value: String,
    price: String,
    stock: String,
    low: bool,
    threshold: String,
    policy: String,
    skus: Vec<String>,
    suppliers: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "products/list.html")]
struct ListPage {
    chrome: Chrome,
    lines: Vec<ListLine>,
    cache_note: &'static str,
}

/// `GET /admin/products`.
async fn list(State(state): State<AppState>, user: CurrentUser) -> WebResult<Response> {
    let rows = products::overview(&state.db).await?;
    let snap = super::cards::cached_stock(&state.db).await?;
    let lines = rows
        .into_iter()
        .map(|p| {
            let stock = snap.rows.iter().find(|s| s.product_id == p.id);
            ListLine {
                id: p.id,
                mode: p.mode.label_zh(),
                face_value: yuan_opt(p.face_value_fen),
                price: p
                    .price_fen
                    .map(|f| Fen(f).to_yuan_string())
                    .unwrap_or_else(|| "未设置（不接单）".into()),
                stock: stock
                    .map(|s| page::thousands(s.available.max(0) as u64))
                    .unwrap_or_else(|| "—".into()),
                low: stock.is_some_and(|s| {
                    p.low_stock_threshold
                        .is_some_and(|t| s.available < i64::from(t))
                }),
                threshold: p
                    .low_stock_threshold
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "—".into()),
                policy: match p.out_of_stock_policy {
                    StockPolicy::Wait => format!("等待补货 {} 秒", p.stock_wait_seconds),
                    StockPolicy::Fail => policy_label(StockPolicy::Fail).into(),
                },
                skus: p
                    .skus
                    .unwrap_or_default()
                    .split('\t')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.split_once(':') {
                        Some((platform, sku)) => format!("{}：{sku}", platform_label(platform)),
                        None => s.to_owned(),
                    })
                    .collect(),
                suppliers: if p.mode == FulfilmentMode::DirectSupplier || p.suppliers > 0 {
                    p.suppliers.to_string()
                } else {
                    "—".into()
                },
                enabled: p.enabled,
                name: p.name,
            }
        })
        .collect();
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::Products),
        lines,
        cache_note: CACHE_NOTE,
    })
}

// ---------------------------------------------------------------------------------------------
// Create

#[derive(Template)]
#[template(path = "products/new.html")]
struct NewPage {
    chrome: Chrome,
    form: ProductForm,
    modes: Vec<SelectOption>,
    policies: Vec<SelectOption>,
    error: Option<String>,
    cache_note: &'static str,
}

fn new_page(user: &CurrentUser, form: ProductForm, error: Option<String>) -> WebResult<Response> {
    let bad = error.is_some();
    let mut resp = page::render(&NewPage {
        chrome: Chrome::new(user, Nav::Products),
        modes: mode_options(&form.mode),
        policies: policy_options(&form.policy),
        form,
        error,
        cache_note: CACHE_NOTE,
    })?;
    if bad {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// `GET /admin/products/new`.
async fn new_form(AdminUser(user): AdminUser) -> WebResult<Response> {
    new_page(&user, ProductForm::blank(), None)
}

/// `POST /admin/products`.
async fn create(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    body: Bytes,
) -> WebResult<Response> {
    let form = ProductForm::from_fields(&FormFields::parse(&body));
    let fields = match form.check() {
        Ok(f) => f,
        Err(msg) => return new_page(&user, form, Some(msg)),
    };
    let mut tx = state.db.begin().await?;
    let id = match products::create(&mut *tx, &fields).await {
        Ok(id) => id,
        Err(ProductError::Db(e)) if common::db::is_unique_violation(&e) => {
            let msg = format!("商品名称「{}」已存在，请换一个名称。", fields.name);
            return new_page(&user, form, Some(msg));
        }
        Err(ProductError::Db(e)) => return Err(e.into()),
        Err(e) => return new_page(&user, form, e.message_zh()),
    };
    user.audit(
        &mut *tx,
        "product.create",
        Some(("product", id.to_string())),
        Some(describe(&fields)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, product_id = id, "product created");
    Ok(redirect_ok(
        &product_url(id),
        format!(
            "已创建商品「{}」。请继续添加平台 SKU 映射{}。",
            fields.name,
            if fields.mode == FulfilmentMode::DirectSupplier {
                "和供应商"
            } else {
                ""
            }
        ),
    ))
}

/// A product's settings in one line (audit rows).
fn describe(f: &ProductFields) -> String {
    format!(
        "名称 {}，{}，面值 {}，单价 {}，低库存预警 {}，{}（{} 秒），{}",
        f.name,
        f.mode.label_zh(),
        yuan_opt(f.face_value_fen),
        yuan_opt(f.price_fen),
        f.low_stock_threshold
            .map(|t| t.to_string())
            .unwrap_or_else(|| "—".into()),
        policy_label(f.out_of_stock_policy),
        f.stock_wait_seconds,
        if f.enabled { "启用" } else { "停用" }
    )
}

// ---------------------------------------------------------------------------------------------
// Edit

struct SkuLine {
    id: u64,
    platform: String,
    sku: String,
}

struct SupplierLine {
    id: u64,
    name: String,
    enabled: bool,
    priority: i32,
    sku: String,
}

#[derive(Template)]
#[template(path = "products/edit.html")]
struct EditPage {
    chrome: Chrome,
    id: u64,
    name: String,
    enabled: bool,
    form: ProductForm,
    modes: Vec<SelectOption>,
    policies: Vec<SelectOption>,
    error: Option<String>,
    skus: Vec<SkuLine>,
    platforms: Vec<SelectOption>,
    suppliers: Vec<SupplierLine>,
    supplier_choices: Vec<SelectOption>,
    supplier_mode: bool,
    card_mode: bool,
    stock: String,
    cache_note: &'static str,
}

async fn load(state: &AppState, id: u64) -> WebResult<ProductRow> {
    products::get(&state.db, id)
        .await?
        .ok_or(WebError::NotFound)
}

async fn edit_page(
    state: &AppState,
    user: &CurrentUser,
    p: &ProductRow,
    form: ProductForm,
    error: Option<String>,
) -> WebResult<Response> {
    let skus = products::skus(&state.db, p.id)
        .await?
        .into_iter()
        .map(|s| SkuLine {
            id: s.id,
            platform: s.platform.label_zh().to_owned(),
            sku: s.sku,
        })
        .collect();
    let linked = common::db::suppliers::links_of_product(&state.db, p.id).await?;
    let all = queries::supplier_choices(&state.db).await?;
    let supplier_choices = all
        .into_iter()
        .filter(|(id, _, _)| !linked.iter().any(|l| l.supplier_id == *id))
        .map(|(id, name, enabled)| SelectOption {
            value: id.to_string(),
            label: if enabled {
                name
            } else {
                format!("{name}（已停用）")
            },
            selected: false,
        })
        .collect();
    let card_mode = p.mode == FulfilmentMode::Card;
    let stock = if card_mode {
        let snap = super::cards::cached_stock(&state.db).await?;
        snap.rows
            .iter()
            .find(|s| s.product_id == p.id)
            .map(|s| page::thousands(s.available.max(0) as u64))
            .unwrap_or_else(|| "0".into())
    } else {
        String::new()
    };
    let bad = error.is_some();
    let mut resp = page::render(&EditPage {
        chrome: Chrome::new(user, Nav::Products),
        id: p.id,
        name: p.name.clone(),
        enabled: p.enabled,
        modes: mode_options(&form.mode),
        policies: policy_options(&form.policy),
        form,
        error,
        skus,
        platforms: Platform::ALL
            .iter()
            .map(|pl| SelectOption {
                value: pl.as_str().into(),
                label: pl.label_zh().into(),
                selected: false,
            })
            .collect(),
        suppliers: linked
            .into_iter()
            .map(|l| SupplierLine {
                id: l.supplier_id,
                name: l.name,
                enabled: l.enabled,
                priority: l.priority,
                sku: l.supplier_sku,
            })
            .collect(),
        supplier_choices,
        supplier_mode: p.mode == FulfilmentMode::DirectSupplier,
        card_mode,
        stock,
        cache_note: CACHE_NOTE,
    })?;
    if bad {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// `GET /admin/products/{id}`.
async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw): Path<String>,
) -> WebResult<Response> {
    let p = load(&state, path_id(&raw)?).await?;
    edit_page(&state, &user, &p, ProductForm::of(&p), None).await
}

/// `POST /admin/products/{id}`: saves the settings (not SKUs or suppliers).
async fn update(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(raw): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&raw)?;
    let form = ProductForm::from_fields(&FormFields::parse(&body));
    let mut tx = state.db.begin().await?;
    let current = queries::lock_product(&mut tx, id).await?;
    let current = current.ok_or(WebError::NotFound)?;
    let fields = match form.check() {
        Ok(f) => f,
        Err(msg) => {
            tx.rollback().await?;
            return edit_page(&state, &user, &current, form, Some(msg)).await;
        }
    };
    let old = ProductFields::of(&current);
    let summary = changes(&old, &fields);
    if summary.is_empty() {
        tx.rollback().await?;
        return Ok(redirect_ok(&product_url(id), "没有修改。"));
    }
    match products::update(&mut tx, id, &fields).await {
        Ok(_) => {}
        Err(ProductError::Db(e)) if common::db::is_unique_violation(&e) => {
            tx.rollback().await?;
            let msg = format!(
                "商品名称「{}」已被其他商品使用，请换一个名称。",
                fields.name
            );
            return edit_page(&state, &user, &current, form, Some(msg)).await;
        }
        Err(ProductError::Db(e)) => return Err(e.into()),
        Err(e) => {
            tx.rollback().await?;
            return edit_page(&state, &user, &current, form, e.message_zh()).await;
        }
    }
    user.audit(
        &mut *tx,
        "product.update",
        Some(("product", id.to_string())),
        Some(summary),
    )
    .await?;
    tx.commit().await?;
    super::cards::forget_stock(&state.db);
    tracing::info!(user = %user.username, product_id = id, "product updated");
    Ok(redirect_ok(
        &product_url(id),
        "已保存，网关最多 GATEWAY_CACHE_TTL_MS（默认 3 秒）后按新设置接单。",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(path_id("x").is_err());
        assert_eq!(path_id("12").unwrap(), 12);
        assert_eq!(platform_label("jd_game"), "京东游戏点卡");
        assert_eq!(yuan_opt(Some(980)), "9.80");
        assert_eq!(yuan_opt(None), "—");
        assert_eq!(
            mode_options("direct_manual")
                .iter()
                .filter(|o| o.selected)
                .count(),
            1
        );
    }
}
