//! 接口地址生成器: every URL to register with JD and Agiso, built from the public base URL
//! (`PUBLIC_BASE_URL`, overridable here by an admin and then stored in `settings`), each with a
//! copy button, and the shops configured per platform.
//!
//! JD identifies the shop by `vendorId` / `customerId` in each request, so the URLs are the same
//! for every shop of a platform. The JD paths are served by the gateway, the Agiso push path by
//! agiso-sync: behind one public address, the reverse proxy of the compose `proxy` profile
//! (`deploy/Caddyfile`) routes `/api/jd/*` and `/api/agiso/*` to them (a test checks it).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use common::domain::Platform;
use serde::Deserialize;

use crate::shop_form::parse_url;
use crate::web::auth::{AdminUser, CurrentUser};
use crate::web::form::parse_form;
use crate::web::page::{self, Chrome, Nav};
use crate::web::{AppState, WebResult};

/// The `settings` row of the page's override.
pub const SETTING: &str = "public_base_url";

/// The Agiso push path. agiso-sync has no push route yet; this is the path it is to serve.
pub const AGISO_PUSH_PATH: &str = "/api/agiso/push";

mod queries;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/urls", get(show))
        .route("/admin/urls/base", post(set_base))
}

async fn stored(state: &AppState) -> sqlx::Result<Option<String>> {
    queries::setting(&state.db, SETTING)
        .await
        .map(|v| v.filter(|v| !v.trim().is_empty()))
}

/// The public base URL in effect (no trailing `/`): the page's override, else `PUBLIC_BASE_URL`.
pub async fn public_base_url(state: &AppState) -> WebResult<Option<String>> {
    Ok(stored(state)
        .await?
        .or_else(|| state.config.public_base_url.clone()))
}

/// One URL to register.
pub struct Endpoint {
    pub name: &'static str,
    pub purpose: &'static str,
    pub url: String,
}

pub struct Section {
    pub label: &'static str,
    pub where_: &'static str,
    pub endpoints: Vec<Endpoint>,
    pub note: &'static str,
    pub shops: Vec<ShopBrief>,
}

pub struct ShopBrief {
    pub name: String,
    pub merchant: String,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "urls/index.html")]
struct UrlsPage {
    chrome: Chrome,
    base: Option<String>,
    source: &'static str,
    env_base: String,
    override_base: String,
    sections: Vec<Section>,
}

/// `(platform, name, purpose, path)` of every URL, in the order they are registered.
pub const ENDPOINTS: [(Platform, &str, &str, &str); 8] = [
    (
        Platform::JdGeneral,
        "beginDistill",
        "提交充值 / 提取卡密请求地址",
        "/api/jd/general/beginDistill",
    ),
    (
        Platform::JdGeneral,
        "findDistill",
        "反查充值 / 提取接口地址",
        "/api/jd/general/findDistill",
    ),
    (
        Platform::JdGame,
        "preCheck",
        "提单校验（可选，直充商品）",
        "/api/jd/game/preCheck",
    ),
    (
        Platform::JdGame,
        "directCharge",
        "直充接单",
        "/api/jd/game/directCharge",
    ),
    (
        Platform::JdGame,
        "directQuery",
        "直充订单查询",
        "/api/jd/game/directQuery",
    ),
    (
        Platform::JdGame,
        "cardOrder",
        "卡密接单",
        "/api/jd/game/cardOrder",
    ),
    (
        Platform::JdGame,
        "cardQuery",
        "卡密订单查询",
        "/api/jd/game/cardQuery",
    ),
    (
        Platform::Agiso,
        "push",
        "消息推送地址（开放平台控制台 → 应用设置）",
        AGISO_PUSH_PATH,
    ),
];

async fn show(State(state): State<AppState>, user: CurrentUser) -> WebResult<Response> {
    let over = stored(&state).await?;
    let env_base = state.config.public_base_url.clone();
    let (base, source) = match (&over, &env_base) {
        (Some(b), _) => (Some(b.clone()), "后台设置（覆盖环境变量）"),
        (None, Some(b)) => (Some(b.clone()), "环境变量 PUBLIC_BASE_URL"),
        (None, None) => (None, "未设置"),
    };
    let shops = queries::shops(&state.db).await?;
    let sections = Platform::ALL
        .into_iter()
        .map(|platform| Section {
            label: platform.label_zh(),
            where_: match platform {
                Platform::JdGeneral => "交给京东业务对接人员登记（每个接口一个地址）",
                Platform::JdGame => "在京麦后台 接口管理（jm-card-pro.pf.jd.com/interfaceManage）填写",
                Platform::Agiso => "在阿奇索开放平台 应用设置 中填写推送地址",
            },
            endpoints: ENDPOINTS
                .iter()
                .filter(|(p, ..)| *p == platform)
                .map(|(_, name, purpose, path)| Endpoint {
                    name,
                    purpose,
                    url: base
                        .as_deref()
                        .map(|b| format!("{b}{path}"))
                        .unwrap_or_else(|| path.to_string()),
                })
                .collect(),
            note: match platform {
                Platform::Agiso => {
                    "阿奇索推送由 agiso-sync 服务接收：在阿奇索开放平台把推送地址设为此地址；同一应用的所有店铺共用，按签名所用的 AppSecret 区分店铺。"
                }
                _ => "由 gateway 服务接收；同一平台的所有店铺共用这些地址，京东按请求中的商户号区分店铺。",
            },
            shops: shops
                .iter()
                .filter(|s| s.1 == platform.as_str())
                .map(|(_, _, name, merchant, service, enabled)| ShopBrief {
                    name: name.clone(),
                    merchant: if service.is_empty() {
                        merchant.clone()
                    } else {
                        format!("{merchant}（{service}）")
                    },
                    enabled: *enabled,
                })
                .collect(),
        })
        .collect();
    page::render(&UrlsPage {
        chrome: Chrome::new(&user, Nav::Urls),
        base,
        source,
        env_base: env_base.unwrap_or_default(),
        override_base: over.unwrap_or_default(),
        sections,
    })
}

#[derive(Deserialize, Default)]
struct BaseForm {
    #[serde(default)]
    base_url: String,
}

/// A base URL as typed → stored form (`https://host[/prefix]`, no trailing `/`), or why not.
pub fn parse_base(text: &str) -> Result<Option<String>, String> {
    let Some(u) = parse_url("公网地址", text)? else {
        return Ok(None);
    };
    let parsed = reqwest::Url::parse(&u).map_err(|_| "公网地址不是有效的网址".to_owned())?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("公网地址不能带 ? 或 # 部分，只填写协议、域名（和路径前缀）".to_owned());
    }
    Ok(Some(u))
}

async fn set_base(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    body: Bytes,
) -> WebResult<Response> {
    let f: BaseForm = parse_form(&body);
    let new = match parse_base(&f.base_url) {
        Ok(n) => n,
        Err(e) => return Ok(page::redirect_error("/admin/urls", e)),
    };
    let mut tx = state.db.begin().await?;
    let old = queries::lock_setting(&mut tx, SETTING).await?;
    let old = old.filter(|v| !v.trim().is_empty());
    if old == new {
        tx.rollback().await?;
        return Ok(page::redirect_ok("/admin/urls", "没有修改。"));
    }
    queries::set_setting(&mut tx, SETTING, new.as_deref()).await?;
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "（使用环境变量）".into());
    user.audit(
        &mut *tx,
        "setting.public_base_url",
        Some(("setting", SETTING.to_owned())),
        Some(format!("{} → {}", show(&old), show(&new))),
    )
    .await?;
    tx.commit().await?;
    Ok(page::redirect_ok(
        "/admin/urls",
        match new {
            Some(v) => format!("公网地址已设置为 {v}"),
            None => "已清除后台设置，改用环境变量 PUBLIC_BASE_URL。".to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(parse_base("  ").unwrap(), None);
        assert_eq!(
            parse_base("https://vg.example.com/").unwrap().as_deref(),
            Some("https://vg.example.com")
        );
        assert_eq!(
            parse_base("http://10.0.0.1:8080/vg").unwrap().as_deref(),
            Some("http://10.0.0.1:8080/vg")
        );
        for bad in [
            "vg.example.com",
            "ftp://vg.example.com",
            "https://vg.example.com/?a=1",
            "https://u:p@vg.example.com",
        ] {
            assert!(parse_base(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ENDPOINTS.iter().filter(|e| e.0 == Platform::JdGame).count(),
            5
        );
    }

    /// The upstream deploy/Caddyfile sends `path` to: the first `handle <matcher> {` block that
    /// matches (`/x/*` and `/x*` are prefixes, anything else exact) and holds a `reverse_proxy`.
    fn proxied_to<'a>(caddyfile: &'a str, path: &str) -> Option<&'a str> {
        let mut lines = caddyfile.lines().map(str::trim);
        while let Some(line) = lines.next() {
            let Some(matcher) = line
                .strip_prefix("handle ")
                .and_then(|m| m.strip_suffix(" {"))
            else {
                continue;
            };
            let matches = match matcher.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == matcher,
            };
            if matches {
                let body = lines.next().unwrap_or_default();
                return body.strip_prefix("reverse_proxy ");
            }
        }
        None
    }

    #[test]
    fn the_shipped_proxy_routes_every_url_of_this_page_and_nothing_internal() {
        let caddyfile =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/Caddyfile"))
                .expect("deploy/Caddyfile");
        for (platform, name, _, path) in ENDPOINTS {
            let service = match platform {
                Platform::Agiso => "agiso-sync:8070",
                Platform::JdGeneral | Platform::JdGame => "gateway:8080",
            };
            assert_eq!(proxied_to(&caddyfile, path), Some(service), "{name} {path}");
        }
        for (path, service) in [
            ("/api/supplier/callback", "fulfillment:8081"),
            ("/admin/", "admin:8090"),
            ("/admin/urls", "admin:8090"),
            ("/admin/static/app.css", "admin:8090"),
        ] {
            assert_eq!(proxied_to(&caddyfile, path), Some(service), "{path}");
        }
        for path in [
            "/metrics",
            "/healthz",
            "/readyz",
            "/",
            "/api/other",
            "/adminx",
        ] {
            assert_eq!(proxied_to(&caddyfile, path), None, "{path}");
        }
    }
}
