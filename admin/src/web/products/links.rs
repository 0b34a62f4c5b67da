//! A product's switches and links: 启用/停用, platform SKU mappings (`product_skus`, one
//! product per platform SKU), and direct-charge suppliers with their priority and SKU
//! (`product_suppliers`). Each write is admin-only and audited in its transaction; repeating a
//! submit changes nothing the second time (and leaves no second audit row).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use common::db::{products, suppliers};
use common::domain::{Platform, Sku};

use super::queries;
use super::{load, product_url};
use crate::web::auth::AdminUser;
use crate::web::form::FormFields;
use crate::web::form::path_id;
use crate::web::page::platform_label;
use crate::web::page::{redirect_error, redirect_ok};
use crate::web::{AppState, WebError, WebResult};

/// Priorities accepted (lower is tried first).
const MAX_PRIORITY: i64 = 9_999;

/// `POST /admin/products/{id}/enabled` (`enabled` = 1 | 0).
pub async fn set_enabled(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(raw): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&raw)?;
    let p = load(&state, id).await?;
    let back = product_url(id);
    let enabled = match FormFields::parse(&body).field("enabled") {
        Some("1") => true,
        Some("0") => false,
        _ => return Ok(redirect_error(&back, "请求无效：缺少启用状态。")),
    };
    let word = if enabled { "启用" } else { "停用" };
    let mut tx = state.db.begin().await?;
    match products::set_enabled(&mut tx, id, enabled).await {
        Ok(true) => {}
        Ok(false) => {
            tx.rollback().await?;
            return Ok(redirect_ok(&back, format!("商品已是{word}状态。")));
        }
        Err(products::ProductError::Db(e)) => return Err(e.into()),
        Err(e) => {
            tx.rollback().await?;
            return Ok(redirect_error(&back, e.message_zh().unwrap_or_default()));
        }
    }
    user.audit(
        &mut *tx,
        if enabled {
            "product.enable"
        } else {
            "product.disable"
        },
        Some(("product", id.to_string())),
        Some(format!("{word}商品「{}」", p.name)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, product_id = id, enabled, "product switched");
    Ok(redirect_ok(
        &back,
        if enabled {
            "商品已启用，网关最多 GATEWAY_CACHE_TTL_MS（默认 3 秒）后开始接单。".to_owned()
        } else {
            "商品已停用：网关最多 GATEWAY_CACHE_TTL_MS（默认 3 秒）后拒绝该商品的新订单。"
                .to_owned()
        },
    ))
}

/// `POST /admin/products/{id}/skus` (`platform`, `sku`).
pub async fn add_sku(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(raw): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&raw)?;
    let p = load(&state, id).await?;
    let back = product_url(id);
    let fields = FormFields::parse(&body);
    let Ok(platform) = fields.get("platform").parse::<Platform>() else {
        return Ok(redirect_error(&back, "请选择平台。"));
    };
    let Ok(sku) = Sku::parse(fields.get("sku")) else {
        return Ok(redirect_error(
            &back,
            "SKU 不能为空，最多 64 个字符，且不能包含换行等控制字符。",
        ));
    };
    let sku = sku.as_str().to_owned();
    let mut tx = state.db.begin().await?;
    let refusal = |owner: Option<(u64, String)>| -> Option<Response> {
        match owner {
            Some((owner, _)) if owner == id => Some(redirect_ok(
                &back,
                format!("{} SKU「{sku}」已在本商品中。", platform.label_zh()),
            )),
            Some((_, name)) => Some(redirect_error(
                &back,
                format!(
                    "{} SKU「{sku}」已对应商品「{name}」：一个平台 SKU 只能对应一个商品，请先在该商品中删除。",
                    platform.label_zh()
                ),
            )),
            None => None,
        }
    };
    if let Some(r) = refusal(products::sku_owner(&mut *tx, platform, &sku).await?) {
        return Ok(r);
    }
    let sku_id = match products::add_sku(&mut *tx, id, platform, &sku).await {
        Ok(sku_id) => sku_id,
        // Added concurrently since the check.
        Err(e) if common::db::is_unique_violation(&e) => {
            tx.rollback().await?;
            let owner = products::sku_owner(&state.db, platform, &sku).await?;
            return Ok(refusal(owner)
                .unwrap_or_else(|| redirect_error(&back, format!("SKU「{sku}」已被使用。"))));
        }
        Err(e) => return Err(e.into()),
    };
    user.audit(
        &mut *tx,
        "product.sku_add",
        Some(("product", id.to_string())),
        Some(format!(
            "{}：{} {sku}（映射 #{sku_id}）",
            p.name,
            platform.as_str()
        )),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, product_id = id, platform = %platform, "product SKU added");
    Ok(redirect_ok(
        &back,
        format!("已添加 {} SKU「{sku}」。", platform.label_zh()),
    ))
}

/// `POST /admin/products/{id}/skus/{sku_id}/delete`.
pub async fn remove_sku(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path((raw, raw_sku)): Path<(String, String)>,
) -> WebResult<Response> {
    let id = path_id(&raw)?;
    let sku_id: u64 = raw_sku.parse().map_err(|_| WebError::NotFound)?;
    let p = load(&state, id).await?;
    let back = product_url(id);
    let mut tx = state.db.begin().await?;
    let row = queries::lock_sku(&mut tx, id, sku_id).await?;
    let Some((platform, sku)) = row else {
        return Ok(redirect_ok(&back, "该 SKU 映射不存在或已删除。"));
    };
    products::remove_sku(&mut *tx, id, sku_id).await?;
    user.audit(
        &mut *tx,
        "product.sku_remove",
        Some(("product", id.to_string())),
        Some(format!("{}：{platform} {sku}", p.name)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, product_id = id, "product SKU removed");
    Ok(redirect_ok(
        &back,
        format!(
            "已删除 {} SKU「{sku}」，网关最多 GATEWAY_CACHE_TTL_MS（默认 3 秒）后不再接受它。",
            platform_label(&platform)
        ),
    ))
}

/// `POST /admin/products/{id}/suppliers` (`supplier`, `priority`, `supplier_sku`): links a
/// supplier, or changes an existing link's priority and SKU.
pub async fn link_supplier(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(raw): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id = path_id(&raw)?;
    let p = load(&state, id).await?;
    let back = product_url(id);
    let fields = FormFields::parse(&body);
    let get = |k: &str| fields.get(k).trim();
    let Ok(supplier_id) = get("supplier").parse::<u64>() else {
        return Ok(redirect_error(&back, "请选择供应商。"));
    };
    let priority = match get("priority") {
        "" => 100,
        v => match v.parse::<i64>() {
            Ok(n) if (0..=MAX_PRIORITY).contains(&n) => n as i32,
            _ => {
                return Ok(redirect_error(
                    &back,
                    format!("优先级必须是 0 到 {MAX_PRIORITY} 之间的整数（数字小的先试）。"),
                ));
            }
        },
    };
    let Ok(sku) = Sku::parse(get("supplier_sku")) else {
        return Ok(redirect_error(
            &back,
            "请填写供应商 SKU（最多 64 个字符，不能包含换行等控制字符）。",
        ));
    };
    let Some(supplier) = suppliers::get(&state.db, supplier_id).await? else {
        return Ok(redirect_error(&back, "供应商不存在。"));
    };
    let mut tx = state.db.begin().await?;
    let before = suppliers::link(&mut *tx, id, supplier_id).await?;
    if before
        .as_ref()
        .is_some_and(|b| b.priority == priority && b.supplier_sku == sku.as_str())
    {
        tx.rollback().await?;
        return Ok(redirect_ok(&back, "没有修改。"));
    }
    suppliers::link_product(&mut *tx, id, supplier_id, priority, sku.as_str()).await?;
    let detail = match &before {
        None => format!(
            "{}：关联供应商 {}，优先级 {priority}，供应商 SKU {sku}",
            p.name, supplier.name
        ),
        Some(b) => format!(
            "{}：供应商 {} 优先级 {} → {priority}，供应商 SKU {} → {sku}",
            p.name, supplier.name, b.priority, b.supplier_sku
        ),
    };
    user.audit(
        &mut *tx,
        "product.link_supplier",
        Some(("product", id.to_string())),
        Some(detail),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, product_id = id, supplier_id, "product supplier linked");
    Ok(redirect_ok(
        &back,
        if before.is_some() {
            format!("已更新供应商「{}」的优先级和 SKU。", supplier.name)
        } else {
            format!("已关联供应商「{}」。", supplier.name)
        },
    ))
}

/// `POST /admin/products/{id}/suppliers/{supplier_id}/delete`.
pub async fn unlink_supplier(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path((raw, raw_supplier)): Path<(String, String)>,
) -> WebResult<Response> {
    let id = path_id(&raw)?;
    let supplier_id: u64 = raw_supplier.parse().map_err(|_| WebError::NotFound)?;
    let p = load(&state, id).await?;
    let back = product_url(id);
    let name = suppliers::get(&state.db, supplier_id)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| format!("#{supplier_id}"));
    let mut tx = state.db.begin().await?;
    if !suppliers::unlink_product(&mut *tx, id, supplier_id).await? {
        tx.rollback().await?;
        return Ok(redirect_ok(&back, "该供应商已不再关联本商品。"));
    }
    user.audit(
        &mut *tx,
        "product.unlink_supplier",
        Some(("product", id.to_string())),
        Some(format!("{}：取消关联供应商 {name}", p.name)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, product_id = id, supplier_id, "product supplier unlinked");
    Ok(redirect_ok(&back, format!("已取消关联供应商「{name}」。")))
}
