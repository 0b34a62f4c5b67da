//! `admin product add|list|link-supplier`.

use clap::Subcommand;
use common::config::Env;
use common::db::{self, products, suppliers};
use common::domain::{FulfilmentMode, Platform};

use super::listing::{Column, Line, print_list};
use super::{CliError, audit_cli, fail, open};

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

const COLUMNS: &[Column] = &[
    Column::left("ID", 5),
    Column::left("名称", 24),
    Column::left("模式", 16),
    Column::left("面值(分)", 10),
    Column::left("SKU", 0),
];

pub(super) async fn run(
    env: &Env,
    command: ProductCommand,
    out: &mut dyn std::io::Write,
) -> Result<(), CliError> {
    match command {
        ProductCommand::Add {
            name,
            mode,
            skus,
            face_value_fen,
            price_fen,
            low_stock,
        } => {
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
        ProductCommand::List { json } => {
            let pool = open(env).await?;
            let rows = products::list(&pool).await?;
            print_list(
                out,
                json,
                &rows,
                COLUMNS,
                |p| p,
                |p| {
                    Line::new(vec![
                        p.id.to_string(),
                        p.name.clone(),
                        p.mode.to_string(),
                        p.face_value_fen
                            .map(|f| f.to_string())
                            .unwrap_or_else(|| "-".into()),
                        p.skus.clone().unwrap_or_default(),
                    ])
                },
            )
        }
        ProductCommand::LinkSupplier {
            product,
            supplier,
            priority,
            supplier_sku,
        } => {
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
    }
}
