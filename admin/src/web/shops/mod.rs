//! 系统配置: the shops of the three platforms (京东通用交易, 京东游戏点卡, 阿奇索) with their keys,
//! mode, IP allow-list and callback / gateway overrides; create and edit (admins, audited), the
//! per-shop self-test, and the resend of every callback a shop's orders gave up on (operators).
//!
//! Secrets are typed once, stored AES-256-GCM encrypted under MASTER_KEY (`common::db::shops`),
//! shown only masked (`abcd****wxyz`) and never sent back to the browser: an edit form's secret
//! fields are empty, and an empty secret field keeps the stored one.

mod form;
mod list;
mod queries;
mod resend;
mod selftest;

pub use list::forget_giving_up;

use axum::Router;
use axum::routing::{get, post};
use common::crypto::MasterKey;
use common::db::shops::{self, ShopRow, ShopSecret};
use common::domain::{Platform, ShopMode};

use super::page::{self};
use super::{AppState, WebError, WebResult};
use crate::web::form::path_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/config", get(list::index))
        .route("/admin/config/shops", post(form::create))
        .route("/admin/config/shops/new", get(form::new_form))
        .route("/admin/config/shops/{id}", post(form::update))
        .route("/admin/config/shops/{id}/edit", get(form::edit_form))
        .route("/admin/config/shops/{id}/test", get(selftest::show))
        .route(
            "/admin/config/shops/{id}/resend-giving-up",
            get(resend::offer_resend).post(resend::resend_giving_up),
        )
}

fn mode_label(mode: ShopMode) -> &'static str {
    match mode {
        ShopMode::Test => "测试",
        ShopMode::Prod => "生产",
    }
}

fn merchant_label(platform: Platform) -> &'static str {
    match platform {
        Platform::JdGeneral => "vendorId",
        Platform::JdGame => "customerId",
        Platform::Agiso => "AppId",
    }
}

fn service_label(service: &str) -> &'static str {
    match service {
        "alds" => "alds（淘宝）",
        "aldsJd" => "aldsJd（京东）",
        _ => "",
    }
}

/// The secrets a platform's shops hold, with their labels.
fn secrets_of(platform: Platform) -> &'static [(ShopSecret, &'static str)] {
    match platform {
        Platform::JdGeneral => &[
            (ShopSecret::Md5Key, "MD5 密钥"),
            (ShopSecret::AesKey, "AES 密钥"),
        ],
        Platform::JdGame => &[(ShopSecret::PrivateKey, "私钥")],
        Platform::Agiso => &[
            (ShopSecret::AppSecret, "AppSecret"),
            (ShopSecret::AccessToken, "AccessToken"),
        ],
    }
}

/// A stored secret for display: masked, or why it cannot be shown.
fn masked_secret(row: &ShopRow, key: &MasterKey, which: ShopSecret) -> String {
    match row.secret(key, which) {
        Ok(Some(s)) => page::mask(&s),
        Ok(None) => "（未设置）".to_owned(),
        Err(_) => "（无法解密：MASTER_KEY 不匹配？）".to_owned(),
    }
}

async fn load(state: &AppState, raw_id: &str) -> WebResult<(ShopRow, Platform)> {
    let id = path_id(raw_id)?;
    let row = shops::get(&state.db, id).await?.ok_or(WebError::NotFound)?;
    let platform = row.platform;
    Ok((row, platform))
}
