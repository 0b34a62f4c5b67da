//! `GET /admin/config`: the shops by platform, secrets masked, with their given-up callbacks.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use common::crypto::MasterKey;
use common::db::Pool;
use common::db::shops::{self, ShopRow};
use common::domain::{Platform, ShopMode};

use crate::web::auth::CurrentUser;
use crate::web::page::{self, Chrome, Nav};
use crate::web::snapshot::Snapshots;
use crate::web::{AppState, WebResult};

use super::queries;
use super::*;

pub struct SecretLine {
    pub label: &'static str,
    pub masked: String,
}

pub struct ShopLine {
    pub id: u64,
    pub name: String,
    pub merchant_label: &'static str,
    pub merchant_id: String,
    pub service: &'static str,
    pub secrets: Vec<SecretLine>,
    pub mode: &'static str,
    pub mode_class: &'static str,
    pub allowlist: String,
    pub overrides: Vec<String>,
    pub enabled: bool,
    pub giving_up: i64,
}

pub struct PlatformGroup {
    pub label: &'static str,
    pub new_href: String,
    pub hint: &'static str,
    pub shops: Vec<ShopLine>,
}

#[derive(Template)]
#[template(path = "config/index.html")]
struct IndexPage {
    chrome: Chrome,
    groups: Vec<PlatformGroup>,
}

/// Orders whose callbacks were given up, per shop, as a snapshot: counting them reads one index
/// entry per given-up order (tens of thousands in a bad week) on every view otherwise. A resend
/// made here drops it; the notifier's changes show within the TTL.
static GIVING_UP: LazyLock<Snapshots<HashMap<u64, i64>>> =
    LazyLock::new(|| Snapshots::new(Duration::from_secs(15)));

async fn count_giving_up(pool: Pool) -> sqlx::Result<HashMap<u64, i64>> {
    queries::giving_up_by_shop(&pool).await
}

/// Drops the per-shop counts of given-up callbacks: the next view counts afresh.
pub fn forget_giving_up(pool: &Pool) {
    GIVING_UP.forget(pool);
}

pub(super) async fn index(State(state): State<AppState>, user: CurrentUser) -> WebResult<Response> {
    let rows = shops::list(&state.db).await?;
    let giving_up = GIVING_UP.get(&state.db, count_giving_up).await?;
    let groups = Platform::ALL
        .into_iter()
        .map(|platform| PlatformGroup {
            label: platform.label_zh(),
            new_href: format!("/admin/config/shops/new?platform={}", platform.as_str()),
            hint: match platform {
                Platform::JdGeneral => "vendorId + MD5 密钥 + AES 密钥（32 个字符）",
                Platform::JdGame => "customerId + 私钥，可覆盖直充 / 卡密回调地址",
                Platform::Agiso => "AppId + AppSecret + AccessToken，服务 alds / aldsJd",
            },
            shops: rows
                .iter()
                .filter(|r| r.platform == platform)
                .map(|r| shop_line(r, platform, &state.key, &giving_up))
                .collect(),
        })
        .collect();
    page::render(&IndexPage {
        chrome: Chrome::new(&user, Nav::Shops),
        groups,
    })
}

fn shop_line(
    r: &ShopRow,
    platform: Platform,
    key: &MasterKey,
    giving_up: &HashMap<u64, i64>,
) -> ShopLine {
    let mode = r.mode;
    let mut overrides = Vec::new();
    if let Some(u) = &r.direct_callback_url {
        overrides.push(format!("直充回调：{u}"));
    }
    if let Some(u) = &r.card_callback_url {
        overrides.push(format!("卡密回调：{u}"));
    }
    if let Some(u) = &r.base_url {
        overrides.push(format!("网关：{u}"));
    }
    ShopLine {
        id: r.id,
        name: r.name.clone(),
        merchant_label: merchant_label(platform),
        merchant_id: r.merchant_id.clone(),
        service: service_label(&r.agiso_service),
        secrets: secrets_of(platform)
            .iter()
            .map(|(which, label)| SecretLine {
                label,
                masked: masked_secret(r, key, *which),
            })
            .collect(),
        mode: mode_label(mode),
        mode_class: match mode {
            ShopMode::Test => "warn",
            ShopMode::Prod => "ok",
        },
        allowlist: r
            .ip_allowlist
            .clone()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "不限".to_owned()),
        overrides,
        enabled: r.enabled,
        giving_up: giving_up.get(&r.id).copied().unwrap_or(0),
    }
}
