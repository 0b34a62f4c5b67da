//! Provisioning from the command line: devops script these, and the system tests use them.
//! Every command prints a clear result; list commands take `--json` and print through the one
//! list printer ([`listing::print_list`]).
//!
//! One file per subcommand group: `migrate`, `user` (`create-user`), `shop`, `product`,
//! `supplier`, `cards`; this module parses the command line, connects, and dispatches.

mod cards;
mod listing;
mod migrate;
mod product;
mod shop;
mod supplier;
mod user;

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use common::config::{self, Env};
use common::db::{self, Pool, audit};
use common::domain::Role;

pub use cards::CardsCommand;
pub use product::ProductCommand;
pub use shop::{ShopAdd, ShopCommand};
pub use supplier::SupplierCommand;
pub use user::create_user;

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
        Command::Migrate { reseal } => migrate::run(env, reseal, out).await,
        Command::CreateUser { username, role } => user::run(env, &username, role, out).await,
        Command::Shop(c) => shop::run(env, c, out).await,
        Command::Product(c) => product::run(env, c, out).await,
        Command::Cards(c) => cards::run(env, c, out).await,
        Command::Supplier(c) => supplier::run(env, c, out).await,
    }
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
