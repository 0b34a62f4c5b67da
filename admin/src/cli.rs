//! Provisioning from the command line: devops script these, and the system tests use them.
//! Every command prints a clear result; list commands take `--json`.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::config::{self, Env};
use common::crypto::at_rest::MasterKey;
use common::db::{self, Pool, audit, cards, products, shops, suppliers, users};
use common::domain::Role;
use common::domain::{FulfilmentMode, Platform, ShopMode};

use crate::shop_form::{self, ShopForm};

#[derive(Debug, Parser)]
#[command(
    name = "admin",
    version = common::version(),
    about = "后台管理服务与运维命令 (back office and provisioning)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the back-office web service (the default).
    Serve,
    /// Apply the database migrations (with MASTER_KEY set, also re-seal stored secrets and
    /// cards written by versions before they were bound to their row).
    Migrate {
        /// Look for values sealed the old way even if an earlier run found none (e.g. written
        /// by an older binary during an upgrade); needs MASTER_KEY.
        #[arg(long)]
        reseal: bool,
    },
    /// Create a back-office user; the password is asked without echo at a terminal, else read as
    /// one line of standard input (never a flag).
    CreateUser {
        #[arg(long)]
        username: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: Role,
    },
    /// Shops (JD 通用交易, JD 游戏点卡, Agiso).
    #[command(subcommand)]
    Shop(ShopCommand),
    /// Products and their platform SKUs.
    #[command(subcommand)]
    Product(ProductCommand),
    /// Card inventory.
    #[command(subcommand)]
    Cards(CardsCommand),
    /// Upstream suppliers for direct-charge products (docs/SUPPLIER_PROTOCOL.md).
    #[command(subcommand)]
    Supplier(SupplierCommand),
}

#[derive(Debug, Subcommand)]
pub enum SupplierCommand {
    /// Add a supplier; the shared secret is read from SUPPLIER_SECRET, else asked without echo
    /// at a terminal, else read as one line of standard input (never a flag), and stored
    /// encrypted.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        merchant_id: String,
        #[arg(long)]
        timeout_ms: Option<i32>,
    },
    /// List suppliers (secrets are never printed).
    List {
        #[arg(long)]
        json: bool,
    },
}

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

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Add a product with its platform SKUs.
    Add {
        #[arg(long)]
        name: String,
        /// card | direct-manual | direct-supplier
        #[arg(long)]
        mode: FulfilmentMode,
        /// PLATFORM:SKU, repeatable (e.g. jd-general:45001).
        #[arg(long = "sku", required = true)]
        skus: Vec<String>,
        #[arg(long)]
        face_value_fen: Option<i64>,
        /// Unit price in fen (above zero): the gateway checks every order's total against it.
        #[arg(long)]
        price_fen: i64,
        /// Low-stock alert threshold.
        #[arg(long = "low-stock")]
        low_stock: Option<i32>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Let a direct-supplier product use a supplier (lower priority is tried first).
    LinkSupplier {
        #[arg(long)]
        product: String,
        #[arg(long)]
        supplier: String,
        #[arg(long, default_value_t = 100)]
        priority: i32,
        /// The supplier's own product code.
        #[arg(long)]
        supplier_sku: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CardsCommand {
    /// Import cards from a TXT/CSV file: `卡号,卡密[,有效期]` per line.
    Import {
        #[arg(long)]
        product: String,
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long)]
        batch: Option<String>,
    },
    /// Stock per card product.
    Stock {
        #[arg(long)]
        json: bool,
    },
}

/// Runs a provisioning command; exit code 0 on success, 1 on failure, 2 on bad configuration.
pub fn run(command: Command) -> ExitCode {
    let env = Env::load();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("admin: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match execute(&env, command, &mut std::io::stdout()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(CliError::Config(e)) => {
                eprintln!("admin: {e}");
                ExitCode::from(2)
            }
            Err(CliError::Failed(e)) => {
                eprintln!("错误: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

#[derive(Debug)]
pub enum CliError {
    Config(config::ConfigError),
    Failed(anyhow::Error),
}

impl From<config::ConfigError> for CliError {
    fn from(e: config::ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Failed(e)
    }
}

impl From<sqlx::Error> for CliError {
    fn from(e: sqlx::Error) -> Self {
        CliError::Failed(e.into())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Failed(e.into())
    }
}

fn fail(msg: impl Into<String>) -> CliError {
    CliError::Failed(anyhow::anyhow!(msg.into()))
}

async fn open(env: &Env) -> Result<Pool, CliError> {
    Ok(connect_migrated(env, false).await?.0)
}

/// Connects and migrates. Commands that touch no secret work without MASTER_KEY; when it is set
/// it must be valid, and the migrations then also re-seal values stored before they were bound
/// to their row (`force_reseal` needs it).
async fn connect_migrated(
    env: &Env,
    force_reseal: bool,
) -> Result<(Pool, db::sealed::Resealed), CliError> {
    let key = match env.optional_str("MASTER_KEY") {
        Some(_) => Some(config::master_key(env)?),
        None if force_reseal => Some(config::master_key(env)?),
        None => None,
    };
    let url = config::database_url(env)?;
    let pool = db::connect(&url, 2, Duration::from_secs(20)).await?;
    db::schema::check(&pool, true).await?;
    let resealed = db::migrate(&pool, key.as_ref(), force_reseal).await?;
    Ok((pool, resealed))
}

async fn audit_cli(
    pool: &Pool,
    action: &str,
    target_type: &str,
    target_id: String,
    detail: Option<String>,
) -> sqlx::Result<()> {
    audit::record(
        pool,
        audit::AuditEntry {
            user_id: None,
            username: "cli",
            action,
            target_type: Some(target_type),
            target_id: Some(target_id),
            detail,
            ip: None,
        },
    )
    .await
}

/// Executes one command, writing its result to `out`.
pub async fn execute(
    env: &Env,
    command: Command,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    match command {
        Command::Serve => Err(fail("serve is not a provisioning command")),
        Command::Migrate { reseal } => {
            let (_, r) = connect_migrated(env, reseal).await?;
            writeln!(out, "数据库迁移已完成 (migrations applied)")?;
            if r.resealed > 0 || r.drafts_dropped > 0 {
                writeln!(
                    out,
                    "已将 {} 个旧格式密文重新加密并绑定所在行；删除了 {} 个旧格式的卡密导入预览（请重新预览）",
                    r.resealed, r.drafts_dropped
                )?;
            }
            if r.unreadable > 0 {
                writeln!(
                    out,
                    "警告：{} 个旧格式密文无法用当前 MASTER_KEY 解密，保持原样；请确认 MASTER_KEY 是否正确",
                    r.unreadable
                )?;
            }
            Ok(())
        }
        Command::CreateUser { username, role } => {
            let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                let first =
                    read_hidden(&format!("请输入用户 {username} 的密码（输入时不显示）："))?;
                let again = read_hidden("请再次输入密码：")?;
                if first != again {
                    return Err(fail("两次输入的密码不一致，未创建用户"));
                }
                first
            } else {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            };
            create_user(env, &username, role, &password, out).await
        }
        Command::Shop(ShopCommand::Add(add)) => {
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
        Command::Shop(ShopCommand::List { json }) => {
            let pool = open(env).await?;
            let rows = shops::list(&pool).await?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id, "platform": s.platform, "name": s.name,
                            "merchant_id": s.merchant_id, "agiso_service": s.agiso_service,
                            "mode": s.mode, "enabled": s.enabled,
                        })
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(anyhow::Error::from)?
                )?;
            } else {
                writeln!(
                    out,
                    "{:<5} {:<12} {:<24} {:<20} {:<6} 状态",
                    "ID", "平台", "名称", "商户号", "模式"
                )?;
                for s in rows {
                    let merchant = if s.agiso_service.is_empty() {
                        s.merchant_id.clone()
                    } else {
                        format!("{}/{}", s.merchant_id, s.agiso_service)
                    };
                    writeln!(
                        out,
                        "{:<5} {:<12} {:<24} {:<20} {:<6} {}",
                        s.id,
                        s.platform.as_str(),
                        s.name,
                        merchant,
                        s.mode.as_str(),
                        if s.enabled { "启用" } else { "停用" }
                    )?;
                }
            }
            Ok(())
        }
        Command::Product(ProductCommand::Add {
            name,
            mode,
            skus,
            face_value_fen,
            price_fen,
            low_stock,
        }) => {
            let mut parsed = Vec::new();
            for s in &skus {
                let (platform, sku) = s.split_once(':').ok_or_else(|| {
                    fail(format!(
                        "SKU 格式应为 平台:SKU，例如 jd-general:45001（收到 {s}）"
                    ))
                })?;
                let platform: Platform = platform
                    .parse()
                    .map_err(|_| fail(format!("未知平台 {platform}")))?;
                let sku =
                    common::domain::Sku::parse(sku).map_err(|e| fail(format!("SKU 无效: {e}")))?;
                parsed.push((platform, sku.into_inner()));
            }
            if face_value_fen.is_some_and(|f| f < 0) {
                return Err(fail("面值不能为负数"));
            }
            if price_fen <= 0 {
                return Err(fail(
                    "单价（--price-fen，单位分）必须大于 0：网关按单价核对每笔订单的金额",
                ));
            }
            let pool = open(env).await?;
            let new = products::NewProduct {
                name: name.clone(),
                mode,
                face_value_fen,
                price_fen: Some(price_fen),
                low_stock_threshold: low_stock,
                skus: parsed,
            };
            let id = products::insert(&pool, &new).await.map_err(|e| match e {
                products::ProductError::Db(e) if db::is_unique_violation(&e) => {
                    fail("商品名称或 SKU 已存在")
                }
                products::ProductError::Db(e) => e.into(),
                other => fail(other.message_zh().unwrap_or_default()),
            })?;
            audit_cli(
                &pool,
                "product.create",
                "product",
                id.to_string(),
                Some(format!("{name} {skus:?}")),
            )
            .await?;
            writeln!(
                out,
                "已创建商品 #{id} {name}（{}），SKU: {}",
                mode.label_zh(),
                skus.join(", ")
            )?;
            Ok(())
        }
        Command::Product(ProductCommand::List { json }) => {
            let pool = open(env).await?;
            let rows = products::list(&pool).await?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)?
                )?;
            } else {
                writeln!(
                    out,
                    "{:<5} {:<24} {:<16} {:<10} SKU",
                    "ID", "名称", "模式", "面值(分)"
                )?;
                for p in rows {
                    writeln!(
                        out,
                        "{:<5} {:<24} {:<16} {:<10} {}",
                        p.id,
                        p.name,
                        p.mode.as_str(),
                        p.face_value_fen
                            .map(|f| f.to_string())
                            .unwrap_or_else(|| "-".into()),
                        p.skus.unwrap_or_default()
                    )?;
                }
            }
            Ok(())
        }
        Command::Cards(CardsCommand::Import {
            product,
            file,
            batch,
        }) => {
            let key = config::master_key(env)?;
            let text = std::fs::read(&file)
                .map_err(|e| fail(format!("无法读取文件 {}: {e}", file.display())))?;
            let text = String::from_utf8(text).map_err(|_| fail("文件不是 UTF-8 编码"))?;
            let pool = open(env).await?;
            let p = products::find_by_name(&pool, &product)
                .await?
                .ok_or_else(|| fail(format!("商品不存在: {product}")))?;
            if p.mode != FulfilmentMode::Card {
                return Err(fail(format!("商品 {product} 不是卡密商品")));
            }
            let batch = batch.unwrap_or_else(|| {
                chrono::Utc::now()
                    .with_timezone(&common::domain::types::beijing())
                    .format("B%Y%m%d%H%M%S")
                    .to_string()
            });
            let report = cards::import(&pool, &key, p.id, &batch, &text, true).await?;
            audit_cli(
                &pool,
                "cards.import",
                "product",
                p.id.to_string(),
                Some(format!(
                    "batch={batch} new={} duplicate={} invalid={}",
                    report.new, report.duplicate, report.invalid
                )),
            )
            .await?;
            writeln!(
                out,
                "导入完成 批次 {batch}: 新增 {} 张, 重复 {} 张, 无效 {} 行 (new {}, duplicate {}, invalid {})",
                report.new,
                report.duplicate,
                report.invalid,
                report.new,
                report.duplicate,
                report.invalid
            )?;
            for (name, n) in &report.held_elsewhere {
                writeln!(
                    out,
                    "  {n} 张已在其他商品「{name}」的库存中，未导入（同一张卡密只能售出一次）"
                )?;
            }
            for bad in report.invalid_lines.iter().take(20) {
                writeln!(out, "  第 {} 行: {}", bad.line_no, bad.reason)?;
            }
            Ok(())
        }
        Command::Supplier(SupplierCommand::Add {
            name,
            base_url,
            merchant_id,
            timeout_ms,
        }) => {
            let key = config::master_key(env)?;
            let base_url =
                check_url(Some(&base_url))?.ok_or_else(|| fail("--base-url 不能为空"))?;
            if name.trim().is_empty() || merchant_id.trim().is_empty() {
                return Err(fail("--name、--merchant-id 不能为空"));
            }
            let stdin = std::io::stdin();
            let secret = SecretInput {
                env,
                input: &mut stdin.lock(),
                terminal: std::io::IsTerminal::is_terminal(&std::io::stdin()),
            }
            .read("SUPPLIER_SECRET", "供应商密钥")?;
            if timeout_ms.is_some_and(|t| t <= 0) {
                return Err(fail("--timeout-ms 应为正整数"));
            }
            let pool = open(env).await?;
            let new = suppliers::NewSupplier {
                name: name.trim().to_owned(),
                base_url,
                merchant_id: merchant_id.trim().to_owned(),
                secret,
                timeout_ms,
            };
            let id = suppliers::insert(&pool, &key, &new).await.map_err(|e| {
                if db::is_unique_violation(&e) {
                    fail("供应商名称已存在")
                } else {
                    e.into()
                }
            })?;
            audit_cli(
                &pool,
                "supplier.create",
                "supplier",
                id.to_string(),
                Some(new.name.clone()),
            )
            .await?;
            writeln!(out, "已创建供应商 #{id} {}（{}）", new.name, new.base_url)?;
            Ok(())
        }
        Command::Supplier(SupplierCommand::List { json }) => {
            let pool = open(env).await?;
            let rows = suppliers::list(&pool).await?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id, "name": s.name, "base_url": s.base_url,
                            "merchant_id": s.merchant_id, "timeout_ms": s.timeout_ms, "enabled": s.enabled,
                        })
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(anyhow::Error::from)?
                )?;
            } else {
                writeln!(
                    out,
                    "{:<5} {:<20} {:<40} {:<16} 状态",
                    "ID", "名称", "地址", "商户号"
                )?;
                for s in rows {
                    writeln!(
                        out,
                        "{:<5} {:<20} {:<40} {:<16} {}",
                        s.id,
                        s.name,
                        s.base_url,
                        s.merchant_id,
                        if s.enabled { "启用" } else { "停用" }
                    )?;
                }
            }
            Ok(())
        }
        Command::Product(ProductCommand::LinkSupplier {
            product,
            supplier,
            priority,
            supplier_sku,
        }) => {
            let pool = open(env).await?;
            let p = products::find_by_name(&pool, &product)
                .await?
                .ok_or_else(|| fail(format!("商品不存在: {product}")))?;
            if p.mode != FulfilmentMode::DirectSupplier {
                return Err(fail(format!("商品 {product} 不是供应商直充商品")));
            }
            let s = suppliers::find_by_name(&pool, &supplier)
                .await?
                .ok_or_else(|| fail(format!("供应商不存在: {supplier}")))?;
            let sku = common::domain::Sku::parse(&supplier_sku)
                .map_err(|e| fail(format!("供应商 SKU 无效: {e}")))?;
            suppliers::link_product(&pool, p.id, s.id, priority, sku.as_str()).await?;
            audit_cli(
                &pool,
                "product.link_supplier",
                "product",
                p.id.to_string(),
                Some(format!(
                    "supplier={} priority={priority} sku={}",
                    s.name, sku
                )),
            )
            .await?;
            writeln!(
                out,
                "商品 {product} 已关联供应商 {}（优先级 {priority}，供应商 SKU {sku}）",
                s.name
            )?;
            Ok(())
        }
        Command::Cards(CardsCommand::Stock { json }) => {
            let pool = open(env).await?;
            let rows = cards::stock(&pool).await?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)?
                )?;
            } else {
                writeln!(
                    out,
                    "{:<5} {:<24} {:>8} {:>8} {:>8} {:>8}",
                    "ID", "商品", "可用", "已售", "作废", "过期"
                )?;
                for r in rows {
                    let low = r
                        .low_stock_threshold
                        .is_some_and(|t| r.available < i64::from(t));
                    writeln!(
                        out,
                        "{:<5} {:<24} {:>8} {:>8} {:>8} {:>8}{}",
                        r.product_id,
                        r.product_name,
                        r.available,
                        r.sold,
                        r.void,
                        r.expired,
                        if low { "  库存不足" } else { "" }
                    )?;
                }
            }
            Ok(())
        }
    }
}

/// Creates a back-office user with an argon2id hash of `password`.
pub async fn create_user(
    env: &Env,
    username: &str,
    role: Role,
    password: &str,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    let username = username.trim();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(fail("用户名应为 1-64 个字符"));
    }
    if password.chars().count() < crate::password::MIN_PASSWORD_CHARS {
        return Err(fail(format!(
            "密码至少 {} 个字符（从标准输入读取）",
            crate::password::MIN_PASSWORD_CHARS
        )));
    }
    let pool = open(env).await?;
    let hash = crate::password::hash(password)?;
    let id = users::insert(&pool, username, &hash, role)
        .await
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                fail(format!("用户 {username} 已存在"))
            } else {
                e.into()
            }
        })?;
    audit_cli(
        &pool,
        "user.create",
        "user",
        id.to_string(),
        Some(format!("{username} role={}", role.as_str())),
    )
    .await?;
    writeln!(out, "已创建用户 #{id} {username}（角色 {}）", role.as_str())?;
    Ok(())
}

fn require<'a>(v: &'a Option<String>, flag: &str, platform: &str) -> Result<&'a str, CliError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail(format!("{platform} 店铺需要 --{flag}")))
}

/// One line typed at the terminal without echo, after `prompt` (both on the terminal itself, so
/// a redirected stdout or stderr never holds the secret nor misses the question).
fn read_hidden(prompt: &str) -> Result<String, CliError> {
    rpassword::prompt_password(prompt).map_err(|e| fail(format!("无法从终端读取输入（{e}）")))
}

/// Where `shop add` and `supplier add` read secrets: an environment variable, else the next line
/// of the input (asked without echo when it is a terminal).
pub struct SecretInput<'a> {
    pub env: &'a Env,
    pub input: &'a mut dyn BufRead,
    /// The input is a terminal: ask there and read without echo instead of reading `input`.
    pub terminal: bool,
}

impl SecretInput<'_> {
    fn read(&mut self, var: &str, label: &str) -> Result<String, CliError> {
        if let Some(v) = self.env.raw(var) {
            return Ok(v.to_owned());
        }
        let line = if self.terminal {
            read_hidden(&format!(
                "请输入{label}（输入时不显示；也可设置环境变量 {var}）："
            ))?
        } else {
            let mut line = String::new();
            self.input.read_line(&mut line)?;
            line
        };
        let v = line.trim();
        if v.is_empty() {
            return Err(fail(format!(
                "缺少{label}：请在标准输入逐行提供，或设置环境变量 {var}（密钥不能作为命令行参数）"
            )));
        }
        Ok(v.to_owned())
    }
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

fn check_url(url: Option<&str>) -> Result<Option<String>, CliError> {
    match url.map(common::domain::http_url) {
        None | Some(Err(common::domain::UrlProblem::Empty)) => Ok(None),
        Some(Ok(u)) => Ok(Some(u.to_owned())),
        Some(Err(problem)) => Err(fail(problem.zh("URL"))),
    }
}
