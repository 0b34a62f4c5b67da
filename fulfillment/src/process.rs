//! Fulfilling one order: lock it, act only if it is still waiting for us, and commit the
//! effect, the status change, its event and the `order.completed` message together.

use common::db::orders::{self, OrderError, OrderRow};
use common::db::products;
use common::domain::{FailureReason, FulfilmentMode, OrderKind, OrderStatus, Platform};

use crate::Fulfiller;
use crate::allocate::{AllocateError, take_cards};
use crate::outcome::{ACTOR, Outcome};

/// Fulfils `order_id` if it is waiting for fulfilment. Retries a transaction the database chose
/// as a deadlock victim.
pub async fn fulfil(ctx: &Fulfiller, order_id: u64) -> anyhow::Result<Outcome> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fulfil_once(ctx, order_id).await {
            Err(e) if attempt < 5 && is_retryable(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// A deadlock victim (1213) or a lock wait timeout (1205): worth another try.
fn is_retryable(e: &anyhow::Error) -> bool {
    let db = e
        .downcast_ref::<sqlx::Error>()
        .or_else(|| match e.downcast_ref::<OrderError>() {
            Some(OrderError::Db(d)) => Some(d),
            _ => None,
        });
    match db {
        Some(sqlx::Error::Database(d)) => d
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| matches!(m.number(), 1213 | 1205)),
        _ => false,
    }
}

async fn fulfil_once(ctx: &Fulfiller, order_id: u64) -> anyhow::Result<Outcome> {
    let mut tx = ctx.db.begin().await?;
    let Some(order) = orders::lock(&mut tx, order_id).await? else {
        tx.commit().await?;
        return Ok(Outcome::UnknownOrder);
    };
    let status = order.status()?;
    // Received: a new order. Waiting states are resumed by the stock watcher or an operator's
    // 重新履约 (which publishes order.refulfil); final and in-progress orders are left alone.
    if !matches!(
        status,
        OrderStatus::Received | OrderStatus::AwaitingStock | OrderStatus::AwaitingManual
    ) {
        tx.commit().await?;
        return Ok(Outcome::AlreadyHandled);
    }
    let platform: Platform = order.platform.parse()?;
    let product = match order.product_id {
        Some(id) => products::get(&mut *tx, id).await?,
        None => None,
    };
    let Some(product) = product else {
        orders::finish_failed(
            &mut tx,
            order.id,
            status,
            platform,
            FailureReason::NoProduct,
            FailureReason::NoProduct.label_zh(),
            ACTOR,
        )
        .await?;
        tx.commit().await?;
        ctx.outbox.notify();
        return Ok(Outcome::Failed);
    };
    // The path comes from what the order is; the product only has to still fit it.
    let outcome = match path(&order, &product) {
        Path::Cards => fulfil_cards(ctx, &mut tx, &order, status, platform, &product).await?,
        Path::Supplier => crate::supplier::start(ctx, &mut tx, &order, status, &product).await?,
        Path::Manual(note) => {
            if status == OrderStatus::AwaitingManual {
                Outcome::AlreadyHandled
            } else {
                if !matches!(
                    (order.kind(), product.mode()),
                    (Some(OrderKind::Direct), Some(FulfilmentMode::DirectManual))
                ) {
                    tracing::warn!(
                        order_id = order.id,
                        order_kind = order.order_kind,
                        product_mode = product.mode,
                        "order and product do not fit; held for an operator"
                    );
                }
                orders::transition(
                    &mut tx,
                    order.id,
                    status,
                    OrderStatus::AwaitingManual,
                    ACTOR,
                    Some(&note),
                )
                .await?;
                Outcome::AwaitingManual
            }
        }
    };
    tx.commit().await?;
    if matches!(outcome, Outcome::Succeeded | Outcome::Failed) {
        ctx.outbox.notify();
    }
    if outcome == Outcome::Succeeded && product.low_stock_threshold.is_some_and(|t| t > 0) {
        ctx.low_stock.mark(product.id);
    }
    Ok(outcome)
}

/// How an order is fulfilled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Path {
    /// A card order of a card product: cards from stock.
    Cards,
    /// A direct order of a `direct_supplier` product.
    Supplier,
    /// An operator acts, for the reason given (the timeline note): a `direct_manual` product, or
    /// an order its product no longer fits (the mode changed since the order arrived), which is
    /// never filled from stock when direct nor through a supplier when a card order.
    Manual(String),
}

/// The order's stored kind decides the path; the product's mode has to fit it.
fn path(order: &OrderRow, product: &products::ProductRow) -> Path {
    match (order.kind(), product.mode()) {
        (Some(OrderKind::Card), Some(FulfilmentMode::Card)) => Path::Cards,
        (Some(OrderKind::Direct), Some(FulfilmentMode::DirectSupplier)) => Path::Supplier,
        (Some(OrderKind::Direct), Some(FulfilmentMode::DirectManual)) => {
            Path::Manual("等待人工充值".into())
        }
        (Some(kind), Some(mode)) => Path::Manual(format!(
            "订单为{}订单，但商品「{}」现为{}模式（下单后改过履约方式），不自动履约，请人工处理",
            kind.label_zh(),
            product.name,
            mode.label_zh()
        )),
        (Some(kind), None) => Path::Manual(format!(
            "商品「{}」的履约方式未知（{}），{}订单不自动履约，请人工处理",
            product.name,
            product.mode,
            kind.label_zh()
        )),
        (None, _) => Path::Manual(format!(
            "订单类型未知（{}），不自动履约，请人工处理",
            order.order_kind
        )),
    }
}

async fn fulfil_cards(
    ctx: &Fulfiller,
    tx: &mut common::db::Tx,
    order: &OrderRow,
    status: OrderStatus,
    platform: Platform,
    product: &products::ProductRow,
) -> anyhow::Result<Outcome> {
    let _ = ctx;
    let waits = product.out_of_stock_policy == "wait";
    let quantity = u32::try_from(order.quantity).unwrap_or(0).max(1);
    // Waiting orders are served in arrival order: a newer order queues behind older ones.
    if waits
        && status == OrderStatus::Received
        && has_older_waiting(tx, product.id, order.id).await?
    {
        return to_waiting(tx, order, status, product).await;
    }
    match take_cards(tx, product.id, order.id, quantity).await {
        Ok(cards) => {
            let note = format!("发出 {} 张卡密", cards.len());
            orders::finish_succeeded(tx, order.id, status, platform, ACTOR, Some(&note)).await?;
            Ok(Outcome::Succeeded)
        }
        Err(AllocateError::OutOfStock) if waits => {
            if status == OrderStatus::AwaitingStock {
                Ok(Outcome::AwaitingStock)
            } else {
                to_waiting(tx, order, status, product).await
            }
        }
        Err(AllocateError::OutOfStock) => {
            let reason = FailureReason::OutOfStock;
            orders::finish_failed(
                tx,
                order.id,
                status,
                platform,
                reason,
                reason.label_zh(),
                ACTOR,
            )
            .await?;
            Ok(Outcome::Failed)
        }
        Err(AllocateError::Db(e)) => Err(e.into()),
    }
}

/// Whether an order older than `order_id` waits for cards of `product_id`.
async fn has_older_waiting(
    tx: &mut common::db::Tx,
    product_id: u64,
    order_id: u64,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE product_id = ? AND status = 'awaiting_stock' AND id < ?",
    )
    .bind(product_id)
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

async fn to_waiting(
    tx: &mut common::db::Tx,
    order: &OrderRow,
    status: OrderStatus,
    product: &products::ProductRow,
) -> anyhow::Result<Outcome> {
    if status == OrderStatus::AwaitingStock {
        return Ok(Outcome::AwaitingStock);
    }
    let mut status = status;
    if status == OrderStatus::AwaitingManual {
        // 重新履约 of an order an operator held: the state machine lets it wait for stock only
        // through processing (awaiting_manual → awaiting_stock directly is not a business path).
        orders::transition(
            tx,
            order.id,
            status,
            OrderStatus::Processing,
            ACTOR,
            Some("重新履约"),
        )
        .await?;
        status = OrderStatus::Processing;
    }
    orders::transition(
        tx,
        order.id,
        status,
        OrderStatus::AwaitingStock,
        ACTOR,
        Some("库存不足，等待补货"),
    )
    .await?;
    sqlx::query("UPDATE orders SET stock_deadline_at = NOW(3) + INTERVAL ? SECOND WHERE id = ?")
        .bind(product.stock_wait_seconds.max(0))
        .bind(order.id)
        .execute(&mut **tx)
        .await?;
    Ok(Outcome::AwaitingStock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(kind: &str) -> OrderRow {
        OrderRow {
            id: 1,
            order_no: "N1".into(),
            platform: "jd_game".into(),
            shop_id: 1,
            platform_order_no: "1".into(),
            order_kind: kind.into(),
            product_id: Some(1),
            sku: "s".into(),
            quantity: 1,
            total_price_fen: 100,
            recharge_account: None,
            status: "received".into(),
            failure_code: None,
            failure_reason: None,
            notify_status: "pending".into(),
            notify_url: None,
            rights_id: None,
        }
    }

    fn product(mode: &str) -> products::ProductRow {
        products::ProductRow {
            id: 1,
            name: "P".into(),
            mode: mode.into(),
            face_value_fen: None,
            price_fen: Some(100),
            low_stock_threshold: None,
            out_of_stock_policy: "fail".into(),
            stock_wait_seconds: 3600,
            enabled: true,
        }
    }

    #[test]
    fn the_order_kind_decides_and_the_product_must_fit() {
        assert_eq!(path(&order("card"), &product("card")), Path::Cards);
        assert_eq!(
            path(&order("direct"), &product("direct_supplier")),
            Path::Supplier
        );
        assert_eq!(
            path(&order("direct"), &product("direct_manual")),
            Path::Manual("等待人工充值".into())
        );
        for (kind, mode) in [
            ("card", "direct_manual"),
            ("card", "direct_supplier"),
            ("direct", "card"),
            ("card", "gift"),
            ("gift", "card"),
        ] {
            let Path::Manual(note) = path(&order(kind), &product(mode)) else {
                panic!("{kind} order of a {mode} product must wait for an operator");
            };
            assert!(note.contains("请人工处理"), "{note}");
        }
    }
}
