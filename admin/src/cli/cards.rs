//! `admin cards import|stock`.

use clap::Subcommand;
use common::config::{self, Env};
use common::db::{cards, products};
use common::domain::FulfilmentMode;

use super::listing::{Column, Line, print_list};
use super::{CliError, audit_cli, fail, open};

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

const STOCK_COLUMNS: &[Column] = &[
    Column::left("ID", 5),
    Column::left("商品", 24),
    Column::right("可用", 8),
    Column::right("已售", 8),
    Column::right("作废", 8),
    Column::right("过期", 8),
];

pub(super) async fn run(
    env: &Env,
    command: CardsCommand,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    match command {
        CardsCommand::Import {
            product,
            file,
            batch,
        } => {
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
        CardsCommand::Stock { json } => {
            let pool = open(env).await?;
            let rows = cards::stock(&pool).await?;
            print_list(
                out,
                json,
                &rows,
                STOCK_COLUMNS,
                |r| r,
                |r| {
                    let low = r
                        .low_stock_threshold
                        .is_some_and(|t| r.available < i64::from(t));
                    Line {
                        cells: vec![
                            r.product_id.to_string(),
                            r.product_name.clone(),
                            r.available.to_string(),
                            r.sold.to_string(),
                            r.void.to_string(),
                            r.expired.to_string(),
                        ],
                        note: if low { "  库存不足" } else { "" },
                    }
                },
            )
        }
    }
}
