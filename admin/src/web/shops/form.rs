//! Creating and editing a shop (admins, audited): the form page and its two submits.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use common::crypto::MasterKey;
use common::db::shops::{self, ShopRow};
use common::domain::Platform;

use crate::shop_form::{self, ShopForm, ValidShop};
use crate::web::auth::AdminUser;
use crate::web::form::parse_form;
use crate::web::page::{self, Chrome, Nav};
use crate::web::{AppState, WebError, WebResult};

use super::queries;
use super::*;

pub struct CurrentSecret {
    pub label: &'static str,
    pub masked: String,
}

#[derive(Template)]
#[template(path = "config/shop_form.html")]
struct FormPage {
    chrome: Chrome,
    title: String,
    action: String,
    platform: &'static str,
    platform_label: &'static str,
    creating: bool,
    /// The non-secret values to show again (secret fields always render empty).
    f: ShopForm,
    errors: Vec<String>,
    /// Edit: the stored secrets, masked.
    current: Vec<CurrentSecret>,
}

impl FormPage {
    fn current_of(&self, label: &str) -> String {
        self.current
            .iter()
            .find(|c| c.label == label)
            .map(|c| c.masked.clone())
            .unwrap_or_default()
    }

    fn is_mode(&self, m: &str) -> bool {
        self.f.mode == m
    }

    fn is_service(&self, s: &str) -> bool {
        self.f.agiso_service == s
    }
}

/// The form's values with every secret field emptied: secrets never go back to the browser.
fn without_secrets(f: &ShopForm) -> ShopForm {
    ShopForm {
        md5_key: String::new(),
        aes_key: String::new(),
        private_key: String::new(),
        app_secret: String::new(),
        access_token: String::new(),
        ..f.clone()
    }
}

/// `?platform=jd_general` of the new-shop form and its submission.
fn platform_of_query(q: Vec<(String, String)>) -> WebResult<Platform> {
    q.into_iter()
        .find(|(k, _)| k == "platform")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| WebError::bad("请选择平台：京东通用交易、京东游戏点卡或阿奇索。"))
}

fn render_form(page: FormPage, status: StatusCode) -> WebResult<Response> {
    let mut resp = page::render(&page)?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub(super) async fn new_form(
    AdminUser(user): AdminUser,
    Query(q): Query<Vec<(String, String)>>,
) -> WebResult<Response> {
    let platform = platform_of_query(q)?;
    render_form(
        FormPage {
            chrome: Chrome::new(&user, Nav::Shops),
            title: format!("新增{}店铺", platform.label_zh()),
            action: format!("/admin/config/shops?platform={}", platform.as_str()),
            platform: platform.as_str(),
            platform_label: platform.label_zh(),
            creating: true,
            f: ShopForm {
                mode: "prod".into(),
                enabled: "1".into(),
                agiso_service: if platform == Platform::Agiso {
                    "aldsJd".into()
                } else {
                    String::new()
                },
                ..Default::default()
            },
            errors: Vec::new(),
            current: Vec::new(),
        },
        StatusCode::OK,
    )
}

fn current_secrets(row: &ShopRow, platform: Platform, key: &MasterKey) -> Vec<CurrentSecret> {
    secrets_of(platform)
        .iter()
        .map(|(which, label)| CurrentSecret {
            label,
            masked: masked_secret(row, key, *which),
        })
        .collect()
}

fn form_of(row: &ShopRow) -> ShopForm {
    ShopForm {
        name: row.name.clone(),
        merchant_id: row.merchant_id.clone(),
        agiso_service: row.agiso_service.clone(),
        mode: row.mode.as_str().to_owned(),
        direct_callback_url: row.direct_callback_url.clone().unwrap_or_default(),
        card_callback_url: row.card_callback_url.clone().unwrap_or_default(),
        base_url: row.base_url.clone().unwrap_or_default(),
        ip_allowlist: row.ip_allowlist.clone().unwrap_or_default(),
        enabled: if row.enabled {
            "1".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (row, platform) = load(&state, &id).await?;
    render_form(
        FormPage {
            chrome: Chrome::new(&user, Nav::Shops),
            title: format!("编辑店铺：{}", row.name),
            action: format!("/admin/config/shops/{}", row.id),
            platform: platform.as_str(),
            platform_label: platform.label_zh(),
            creating: false,
            f: form_of(&row),
            errors: Vec::new(),
            current: current_secrets(&row, platform, &state.key),
        },
        StatusCode::OK,
    )
}

fn duplicate_message() -> String {
    "店铺名称或商户号已被其他店铺使用（同一平台的商户号与服务只能对应一个店铺）".to_owned()
}

/// A short description of a shop for the audit log (never a secret).
fn audit_summary(platform: Platform, v: &ValidShop) -> String {
    let mut s = format!(
        "{} {}，{} {}",
        platform.label_zh(),
        v.name,
        merchant_label(platform),
        v.merchant_id
    );
    if !v.agiso_service.is_empty() {
        s.push_str(&format!("（{}）", v.agiso_service));
    }
    if let Some(m) = v.mode {
        s.push_str(&format!("，{}模式", mode_label(m)));
    }
    s.push_str(&format!(
        "，IP 白名单：{}",
        v.ip_allowlist.as_deref().unwrap_or("不限")
    ));
    s.push_str(if v.enabled { "，启用" } else { "，停用" });
    s
}

pub(super) async fn create(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> WebResult<Response> {
    let platform = platform_of_query(q)?;
    let f: ShopForm = parse_form(&body);
    let again = |errors: Vec<String>| {
        render_form(
            FormPage {
                chrome: Chrome::new(&user, Nav::Shops),
                title: format!("新增{}店铺", platform.label_zh()),
                action: format!("/admin/config/shops?platform={}", platform.as_str()),
                platform: platform.as_str(),
                platform_label: platform.label_zh(),
                creating: true,
                f: without_secrets(&f),
                errors,
                current: Vec::new(),
            },
            StatusCode::BAD_REQUEST,
        )
    };
    let v = match shop_form::validate(platform, &f, true) {
        Ok(v) => v,
        Err(errors) => return again(errors),
    };
    let mut tx = state.db.begin().await?;
    let id = match shops::insert(&mut *tx, &state.key, &v.to_new(platform)).await {
        Ok(id) => id,
        Err(e) if common::db::is_unique_violation(&e) => {
            return again(vec![duplicate_message()]);
        }
        Err(e) => return Err(e.into()),
    };
    if !v.enabled {
        queries::disable(&mut tx, id).await?;
    }
    user.audit(
        &mut *tx,
        "shop.create",
        Some(("shop", id.to_string())),
        Some(audit_summary(platform, &v)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(shop = id, platform = %platform, user = %user.username, "shop created");
    Ok(page::redirect_ok(
        "/admin/config",
        format!("已创建店铺「{}」（#{id}）", v.name),
    ))
}

pub(super) async fn update(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let (row, platform) = load(&state, &id).await?;
    let f: ShopForm = parse_form(&body);
    let again = |errors: Vec<String>| {
        render_form(
            FormPage {
                chrome: Chrome::new(&user, Nav::Shops),
                title: format!("编辑店铺：{}", row.name),
                action: format!("/admin/config/shops/{}", row.id),
                platform: platform.as_str(),
                platform_label: platform.label_zh(),
                creating: false,
                f: without_secrets(&f),
                errors,
                current: current_secrets(&row, platform, &state.key),
            },
            StatusCode::BAD_REQUEST,
        )
    };
    let v = match shop_form::validate(platform, &f, false) {
        Ok(v) => v,
        Err(errors) => return again(errors),
    };
    let mut changed = changes(&row, &v);
    let replaced = v.replaced_secrets();
    if !replaced.is_empty() {
        changed.push(format!("更换 {}", replaced.join("、")));
    }
    if changed.is_empty() {
        return Ok(page::redirect_ok("/admin/config", "没有修改。"));
    }
    let mut tx = state.db.begin().await?;
    match shops::update(&mut *tx, &state.key, row.id, &v).await {
        Ok(true) => {}
        Ok(false) => return Err(WebError::NotFound),
        Err(e) if common::db::is_unique_violation(&e) => {
            return again(vec![duplicate_message()]);
        }
        Err(e) => return Err(e.into()),
    }
    user.audit(
        &mut *tx,
        "shop.update",
        Some(("shop", row.id.to_string())),
        Some(format!("{}：{}", row.name, changed.join("；"))),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(shop = row.id, user = %user.username, "shop updated");
    let saved = format!("已保存店铺「{}」", v.name);
    // A key or merchant id fixed: the callbacks JD refused for it can go out again.
    if fixes_callbacks(&row, &v)
        && common::db::notify::count_giving_up_of_shop(&state.db, row.id).await? > 0
    {
        return Ok(page::redirect_ok(
            &format!("/admin/config/shops/{}/resend-giving-up", row.id),
            saved,
        ));
    }
    Ok(page::redirect_ok("/admin/config", saved))
}

/// Whether an edit may fix what made JD refuse the shop's callbacks (signature 10, unknown
/// merchant 19): a replaced secret or a changed merchant id.
fn fixes_callbacks(row: &ShopRow, v: &ValidShop) -> bool {
    !v.replaced_secrets().is_empty() || row.merchant_id != v.merchant_id
}

/// What an edit changes, in words (non-secret fields with old → new; secrets by name only).
fn changes(row: &ShopRow, v: &ValidShop) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |label: &str, old: &str, new: &str| {
        if old != new {
            let show = |s: &str| {
                if s.is_empty() {
                    "（空）".to_owned()
                } else {
                    s.to_owned()
                }
            };
            out.push(format!("{label} {} → {}", show(old), show(new)));
        }
    };
    diff("名称", &row.name, &v.name);
    diff("商户号", &row.merchant_id, &v.merchant_id);
    diff("阿奇索服务", &row.agiso_service, &v.agiso_service);
    diff(
        "模式",
        mode_label(row.mode),
        v.mode.map(mode_label).unwrap_or_default(),
    );
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    diff(
        "直充回调",
        &opt(&row.direct_callback_url),
        &opt(&v.direct_callback_url),
    );
    diff(
        "卡密回调",
        &opt(&row.card_callback_url),
        &opt(&v.card_callback_url),
    );
    diff("网关地址", &opt(&row.base_url), &opt(&v.base_url));
    diff("IP 白名单", &opt(&row.ip_allowlist), &opt(&v.ip_allowlist));
    diff(
        "状态",
        if row.enabled { "启用" } else { "停用" },
        if v.enabled { "启用" } else { "停用" },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_never_carry_secrets_back() {
        let f = ShopForm {
            name: "店".into(),
            md5_key: "m".into(),
            aes_key: "a".into(),
            private_key: "p".into(),
            app_secret: "s".into(),
            access_token: "t".into(),
            ip_allowlist: "1.2.3.4".into(),
            ..Default::default()
        };
        let g = without_secrets(&f);
        assert_eq!(g.name, "店");
        assert_eq!(g.ip_allowlist, "1.2.3.4");
        for s in [
            g.md5_key,
            g.aes_key,
            g.private_key,
            g.app_secret,
            g.access_token,
        ] {
            assert!(s.is_empty());
        }
    }

    #[test]
    fn bodies_and_ids() {
        let f: ShopForm = parse_form(&Bytes::from_static(b"name=a+b&enabled=1&_csrf=x"));
        assert_eq!((f.name.as_str(), f.enabled.as_str()), ("a b", "1"));
        let f: ShopForm = parse_form(&Bytes::from_static(b"\xff\xfe=%%"));
        assert!(f.name.is_empty());
        assert!(path_id("x1").is_err());
        assert_eq!(path_id("7").unwrap(), 7);
    }
}
