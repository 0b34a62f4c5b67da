//! `admin supplier add|list`: the shared secret from `SUPPLIER_SECRET` or standard input.

use clap::Subcommand;
use common::config::{self, Env};
use common::db::{self, suppliers};

use super::listing::{Column, Line, print_list};
use super::{CliError, SecretInput, audit_cli, fail, open};

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

const COLUMNS: &[Column] = &[
    Column::left("ID", 5),
    Column::left("名称", 20),
    Column::left("地址", 40),
    Column::left("商户号", 16),
    Column::left("状态", 0),
];

pub(super) async fn run(
    env: &Env,
    command: SupplierCommand,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    match command {
        SupplierCommand::Add {
            name,
            base_url,
            merchant_id,
            timeout_ms,
        } => {
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
        SupplierCommand::List { json } => {
            let pool = open(env).await?;
            let rows = suppliers::list(&pool).await?;
            print_list(
                out,
                json,
                &rows,
                COLUMNS,
                |s| {
                    serde_json::json!({
                        "id": s.id, "name": s.name, "base_url": s.base_url,
                        "merchant_id": s.merchant_id, "timeout_ms": s.timeout_ms, "enabled": s.enabled,
                    })
                },
                |s| {
                    Line::new(vec![
                        s.id.to_string(),
                        s.name.clone(),
                        s.base_url.clone(),
                        s.merchant_id.clone(),
                        if s.enabled { "启用" } else { "停用" }.to_owned(),
                    ])
                },
            )
        }
    }
}

fn check_url(url: Option<&str>) -> Result<Option<String>, CliError> {
    match url.map(common::domain::http_url) {
        None | Some(Err(common::domain::UrlProblem::Empty)) => Ok(None),
        Some(Ok(u)) => Ok(Some(u.to_owned())),
        Some(Err(problem)) => Err(fail(problem.zh("URL"))),
    }
}
