//! `admin shop add|list`: shops, their secrets read from `SHOP_*` variables or standard input.

use clap::{Args, Subcommand};
use common::config::{self, Env};
use common::crypto::at_rest::MasterKey;
use common::db::{self, Pool, shops};
use common::domain::{Platform, ShopMode};

use super::listing::{Column, Line, print_list};
use super::{CliError, SecretInput, audit_cli, fail, open};
use crate::shop_form::{self, ShopForm};

#[derive(Debug, Subcommand)]
pub enum ShopCommand {
    /// Add a shop.
    Add(Box<ShopAdd>),
    /// List shops (secrets are never printed).
    List {
        #[arg(long)]
        json: bool,
    },
}

/// The shop's secrets are never flags (they would show in `ps` and the shell history): each is
/// read from its environment variable ([`SecretInput`]) or else as one line of standard input, in
/// this order: 通用交易 MD5 key, AES key; 游戏点卡 private key; 阿奇索 AppSecret, AccessToken.
#[derive(Debug, Args)]
pub struct ShopAdd {
    /// jd-general | jd-game | agiso
    #[arg(long)]
    pub platform: Platform,
    #[arg(long)]
    pub name: String,
    /// JD 通用交易 vendorId.
    #[arg(long)]
    pub vendor_id: Option<String>,
    /// test | prod
    #[arg(long)]
    pub mode: Option<ShopMode>,
    /// JD 游戏点卡 customerId.
    #[arg(long)]
    pub customer_id: Option<String>,
    #[arg(long)]
    pub direct_callback_url: Option<String>,
    #[arg(long)]
    pub card_callback_url: Option<String>,
    /// Agiso service: alds | aldsJd
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long)]
    pub app_id: Option<String>,
    #[arg(long)]
    pub base_url: Option<String>,
}

const COLUMNS: &[Column] = &[
    Column::left("ID", 5),
    Column::left("平台", 12),
    Column::left("名称", 24),
    Column::left("商户号", 20),
    Column::left("模式", 6),
    Column::left("状态", 0),
];

pub(super) async fn run(
    env: &Env,
    command: ShopCommand,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    match command {
        ShopCommand::Add(add) => {
            let key = config::master_key(env)?;
            let pool = open(env).await?;
            let stdin = std::io::stdin();
            let mut secrets = SecretInput {
                env,
                input: &mut stdin.lock(),
                terminal: std::io::IsTerminal::is_terminal(&std::io::stdin()),
            };
            shop_add(&pool, &key, add, &mut secrets, out).await
        }
        ShopCommand::List { json } => {
            let pool = open(env).await?;
            let rows = shops::list(&pool).await?;
            print_list(
                out,
                json,
                &rows,
                COLUMNS,
                |s| {
                    serde_json::json!({
                        "id": s.id, "platform": s.platform, "name": s.name,
                        "merchant_id": s.merchant_id, "agiso_service": s.agiso_service,
                        "mode": s.mode, "enabled": s.enabled,
                    })
                },
                |s| {
                    let merchant = if s.agiso_service.is_empty() {
                        s.merchant_id.clone()
                    } else {
                        format!("{}/{}", s.merchant_id, s.agiso_service)
                    };
                    Line::new(vec![
                        s.id.to_string(),
                        s.platform.to_string(),
                        s.name.clone(),
                        merchant,
                        s.mode.to_string(),
                        if s.enabled { "启用" } else { "停用" }.to_owned(),
                    ])
                },
            )
        }
    }
}

fn require<'a>(v: &'a Option<String>, flag: &str, platform: &str) -> Result<&'a str, CliError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail(format!("{platform} 店铺需要 --{flag}")))
}

async fn shop_add(
    pool: &Pool,
    key: &MasterKey,
    a: Box<ShopAdd>,
    secrets: &mut SecretInput<'_>,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    // The flags and secrets fill the back office's shop form, and the form's one validation
    // decides (the same rules, the same messages as 系统配置).
    let mut form = ShopForm {
        name: a.name.clone(),
        mode: a.mode.unwrap_or(ShopMode::Prod).as_str().to_owned(),
        enabled: "1".to_owned(),
        ..Default::default()
    };
    match a.platform {
        Platform::JdGeneral => {
            form.merchant_id = require(&a.vendor_id, "vendor-id", "京东通用交易")?.to_owned();
            form.md5_key = secrets.read("SHOP_MD5_KEY", "MD5 密钥")?;
            form.aes_key = secrets.read("SHOP_AES_KEY", "AES 密钥")?;
        }
        Platform::JdGame => {
            form.merchant_id = require(&a.customer_id, "customer-id", "京东游戏点卡")?.to_owned();
            form.private_key = secrets.read("SHOP_PRIVATE_KEY", "私钥")?;
            form.direct_callback_url = a.direct_callback_url.clone().unwrap_or_default();
            form.card_callback_url = a.card_callback_url.clone().unwrap_or_default();
        }
        Platform::Agiso => {
            form.agiso_service = require(&a.service, "service", "阿奇索")?.to_owned();
            form.merchant_id = require(&a.app_id, "app-id", "阿奇索")?.to_owned();
            form.app_secret = secrets.read("SHOP_APP_SECRET", "AppSecret")?;
            form.access_token = secrets.read("SHOP_ACCESS_TOKEN", "AccessToken")?;
            form.base_url = a.base_url.clone().unwrap_or_default();
        }
    }
    let valid = shop_form::validate(a.platform, &form, true).map_err(|e| fail(e.join("；")))?;
    let new = valid.to_new(a.platform);
    let name = new.name.clone();
    let id = shops::insert(pool, key, &new).await.map_err(|e| {
        if db::is_unique_violation(&e) {
            fail("店铺名称或商户号已存在")
        } else {
            e.into()
        }
    })?;
    audit_cli(
        pool,
        "shop.create",
        "shop",
        id.to_string(),
        Some(format!("{} {}", a.platform, name)),
    )
    .await?;
    writeln!(
        out,
        "已创建店铺 #{id} {name}（{}，商户号 {}）",
        a.platform.label_zh(),
        new.merchant_id
    )?;
    Ok(())
}
