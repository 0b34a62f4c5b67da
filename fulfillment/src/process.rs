//! Fulfilling orders, one or a group of them (a group of one is a group) along one path: one
//! transaction locks the orders, acts only on those still waiting for us, and commits each
//! effect with its status change, its event and its `order.completed` message. Card orders of
//! one product are filled together: one card pick, one conditional update of the cards, one
//! guarded transition of the orders that got them; the others fail or wait for stock by the
//! product's policy.

use std::collections::{BTreeMap, HashMap};

use common::db::orders::{self, Ending, OrderError, OrderRow};
use common::db::products::{self, ProductRow};
use common::domain::{FailureReason, FulfilmentMode, OrderKind, OrderStatus, StockPolicy};
use common::retry::Backoff;

use crate::Fulfiller;
use crate::allocate::{mark_sold, pick_cards};
use crate::outcome::{ACTOR, Outcome};

/// An order to fulfil and the trace context of the span handling it (its message's): the
/// order's final step continues that trace, whichever task writes it.
#[derive(Debug, Clone)]
pub struct Job {
    pub order_id: u64,
    pub traceparent: Option<String>,
}

impl Job {
    /// `order_id`, handled in the current span.
    pub fn here(order_id: u64) -> Job {
        Job {
            order_id,
            traceparent: common::telemetry::current_traceparent(),
        }
    }
}

/// Fulfils `order_id` (handled in the current span) if it is waiting for fulfilment; see
/// [`fulfil_job`].
pub async fn fulfil(ctx: &Fulfiller, order_id: u64) -> anyhow::Result<Outcome> {
    fulfil_job(ctx, Job::here(order_id)).await
}

/// Fulfils the job's order if it is waiting for fulfilment: a group of one. Retries a
/// transaction the database chose as a deadlock victim.
pub async fn fulfil_job(ctx: &Fulfiller, job: Job) -> anyhow::Result<Outcome> {
    let order_id = job.order_id;
    let jobs = [job];
    // Up to four more tries, 10, 20, 30 and 40 ms apart.
    let ms = std::time::Duration::from_millis;
    let backoff = Backoff::listed(vec![ms(10), ms(20), ms(30), ms(40)]);
    let mut failures = 0;
    loop {
        match fulfil_group(ctx, &jobs).await {
            Err(e) if is_retryable(&e) => {
                failures += 1;
                match backoff.delay(failures) {
                    Some(d) => tokio::time::sleep(d).await,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
            Ok(outcomes) => {
                return Ok(outcomes
                    .get(&order_id)
                    .copied()
                    .unwrap_or(Outcome::UnknownOrder));
            }
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

/// Fulfils those of the orders of `jobs` that wait for fulfilment, in one transaction, once
/// (no retry: [`fulfil_job`] retries a group of one). Tells what happened to each id. Each
/// order ends in its job's trace context.
pub async fn fulfil_group(ctx: &Fulfiller, jobs: &[Job]) -> anyhow::Result<HashMap<u64, Outcome>> {
    let ids: Vec<u64> = jobs.iter().map(|j| j.order_id).collect();
    let ids = &ids[..];
    let mut tx = ctx.db.begin().await?;
    let mut locked = orders::lock_many(&mut tx, ids).await?;
    for order in &mut locked {
        if let Some(job) = jobs.iter().find(|j| j.order_id == order.id)
            && job.traceparent.is_some()
        {
            order.traceparent = job.traceparent.clone();
        }
    }
    let mut outcomes: HashMap<u64, Outcome> =
        ids.iter().map(|id| (*id, Outcome::UnknownOrder)).collect();
    let product_ids: Vec<u64> = {
        let mut v: Vec<u64> = locked.iter().filter_map(|o| o.product_id).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let products: HashMap<u64, ProductRow> = products::get_many(&mut *tx, &product_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    // Card orders per product (in id order, i.e. arrival order), filled together below.
    let mut card_orders: BTreeMap<u64, Vec<CardOrder>> = BTreeMap::new();
    for order in &locked {
        let status = order.status;
        // Received: a new order. Waiting states are resumed by the stock watcher or an
        // operator's 重新履约 (which publishes order.refulfil); final and in-progress orders are
        // left alone.
        if !matches!(
            status,
            OrderStatus::Received | OrderStatus::AwaitingStock | OrderStatus::AwaitingManual
        ) {
            outcomes.insert(order.id, Outcome::AlreadyHandled);
            continue;
        }
        let Some(product) = order.product_id.and_then(|id| products.get(&id)) else {
            orders::finish_failed(
                &mut tx,
                Ending::of(order),
                status,
                FailureReason::NoProduct,
                FailureReason::NoProduct.label_zh(),
                ACTOR,
            )
            .await?;
            outcomes.insert(order.id, Outcome::Failed);
            continue;
        };
        // The path comes from what the order is; the product only has to still fit it.
        let outcome = match path(order, product) {
            Path::Cards => {
                card_orders
                    .entry(product.id)
                    .or_default()
                    .push(CardOrder { order, status });
                continue;
            }
            Path::Supplier => crate::supplier::start(ctx, &mut tx, order, status, product).await?,
            Path::Manual(note) => to_manual(&mut tx, order, status, product, &note).await?,
        };
        outcomes.insert(order.id, outcome);
    }
    // Cards are decided per product; the orders that got them are written together.
    let mut sold: Vec<(u64, u64)> = Vec::new(); // (card id, order id)
    let mut served: Vec<&CardOrder> = Vec::new();
    for (product_id, list) in &card_orders {
        let decided =
            fulfil_cards(&mut tx, &products[product_id], list, &mut sold, &mut served).await?;
        outcomes.extend(decided);
    }
    mark_sold(&mut tx, &sold).await?;
    finish_served(&mut tx, &served).await?;
    outcomes.extend(served.iter().map(|c| (c.order.id, Outcome::Succeeded)));
    tx.commit().await?;
    if outcomes
        .values()
        .any(|o| matches!(o, Outcome::Succeeded | Outcome::Failed))
    {
        ctx.outbox.notify();
    }
    for (product_id, list) in &card_orders {
        if products[product_id]
            .low_stock_threshold
            .is_some_and(|t| t > 0)
            && list
                .iter()
                .any(|c| outcomes.get(&c.order.id) == Some(&Outcome::Succeeded))
        {
            ctx.low_stock.mark(*product_id);
        }
    }
    Ok(outcomes)
}

/// An operator acts: the order goes to `awaiting_manual` with `note` on its timeline.
async fn to_manual(
    tx: &mut common::db::Tx,
    order: &OrderRow,
    status: OrderStatus,
    product: &ProductRow,
    note: &str,
) -> anyhow::Result<Outcome> {
    if status == OrderStatus::AwaitingManual {
        return Ok(Outcome::AlreadyHandled);
    }
    if !matches!(
        (order.order_kind, product.mode),
        (OrderKind::Direct, FulfilmentMode::DirectManual)
    ) {
        tracing::warn!(
            order_id = order.id,
            order_kind = order.order_kind.as_str(),
            product_mode = product.mode.as_str(),
            "order and product do not fit; held for an operator"
        );
    }
    orders::transition(
        tx,
        order.id,
        status,
        OrderStatus::AwaitingManual,
        ACTOR,
        Some(note),
    )
    .await?;
    Ok(Outcome::AwaitingManual)
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
fn path(order: &OrderRow, product: &ProductRow) -> Path {
    let kind = order.order_kind;
    match (kind, product.mode) {
        (OrderKind::Card, FulfilmentMode::Card) => Path::Cards,
        (OrderKind::Direct, FulfilmentMode::DirectSupplier) => Path::Supplier,
        (OrderKind::Direct, FulfilmentMode::DirectManual) => Path::Manual("等待人工充值".into()),
        (kind, mode) => Path::Manual(format!(
            "订单为{}订单，但商品「{}」现为{}模式（下单后改过履约方式），不自动履约，请人工处理",
            kind.label_zh(),
            product.name,
            mode.label_zh()
        )),
    }
}

/// A locked card order waiting for its cards.
struct CardOrder<'a> {
    order: &'a OrderRow,
    status: OrderStatus,
}

impl CardOrder<'_> {
    fn quantity(&self) -> u32 {
        u32::try_from(self.order.quantity).unwrap_or(0).max(1)
    }
}

/// Fills the card orders `list` of `product` (locked, in id order) from stock as if one by one
/// in that order: each takes its quantity of cards from one pick for all of them; an order the
/// cards do not cover fails (`fail` policy; a later, smaller order may still be covered) or waits
/// for stock (`wait` policy; every later new order then queues behind it). A new order of a
/// `wait` product also queues behind any older order already waiting.
///
/// Writes the failures and waits and returns their outcomes; the orders covered are added to
/// `served` and their cards to `sold`, for the caller to write for all products at once
/// ([`mark_sold`], [`finish_served`]).
async fn fulfil_cards<'a>(
    tx: &mut common::db::Tx,
    product: &ProductRow,
    list: &'a [CardOrder<'a>],
    sold: &mut Vec<(u64, u64)>,
    served: &mut Vec<&'a CardOrder<'a>>,
) -> anyhow::Result<Vec<(u64, Outcome)>> {
    let waits = product.out_of_stock_policy == StockPolicy::Wait;
    // Waiting orders are served in arrival order: a newer order queues behind older ones.
    let oldest_waiting = match list
        .iter()
        .filter(|c| c.status == OrderStatus::Received)
        .map(|c| c.order.id)
        .max()
    {
        Some(newest) if waits => oldest_waiting(tx, product.id, newest, list).await?,
        _ => None,
    };
    let queued = |c: &CardOrder| {
        waits && c.status == OrderStatus::Received && oldest_waiting.is_some_and(|w| w < c.order.id)
    };
    let need: i64 = list
        .iter()
        .filter(|c| !queued(c))
        .map(|c| i64::from(c.quantity()))
        .sum();
    let cards = if need > 0 {
        pick_cards(tx, product.id, need).await?
    } else {
        Vec::new()
    };
    let mut cards = cards.into_iter();
    let mut outcomes = Vec::with_capacity(list.len());
    // An order of this group now waits for stock: newer new orders queue behind it.
    let mut behind_waiting = false;
    for c in list {
        if waits && c.status == OrderStatus::Received && (behind_waiting || queued(c)) {
            outcomes.push((
                c.order.id,
                to_waiting(tx, c.order, c.status, product).await?,
            ));
            behind_waiting = true;
            continue;
        }
        let quantity = c.quantity() as usize;
        if cards.len() >= quantity {
            sold.extend(cards.by_ref().take(quantity).map(|card| (card, c.order.id)));
            served.push(c);
        } else if waits {
            outcomes.push((
                c.order.id,
                to_waiting(tx, c.order, c.status, product).await?,
            ));
            behind_waiting = true;
        } else {
            let reason = FailureReason::OutOfStock;
            orders::finish_failed(
                tx,
                Ending::of(c.order),
                c.status,
                reason,
                reason.label_zh(),
                ACTOR,
            )
            .await?;
            outcomes.push((c.order.id, Outcome::Failed));
        }
    }
    Ok(outcomes)
}

/// Ends the card orders `served` successfully (their cards marked sold by the caller): one
/// [`orders::finish_succeeded_many`] per status they come from, note 发出 N 张卡密.
async fn finish_served(tx: &mut common::db::Tx, served: &[&CardOrder<'_>]) -> anyhow::Result<()> {
    for from in [
        OrderStatus::Received,
        OrderStatus::AwaitingStock,
        OrderStatus::AwaitingManual,
    ] {
        let moved: Vec<&&CardOrder> = served.iter().filter(|c| c.status == from).collect();
        if moved.is_empty() {
            continue;
        }
        let notes: Vec<String> = moved
            .iter()
            .map(|c| format!("发出 {} 张卡密", c.quantity()))
            .collect();
        let done: Vec<(Ending, Option<&str>)> = moved
            .iter()
            .zip(&notes)
            .map(|(c, note)| (Ending::of(c.order), Some(note.as_str())))
            .collect();
        orders::finish_succeeded_many(tx, from, ACTOR, &done).await?;
    }
    Ok(())
}

/// The oldest order waiting for cards of `product_id`, older than `newest` and not one of
/// `list` (whose waiting orders [`fulfil_cards`] accounts for itself).
async fn oldest_waiting(
    tx: &mut common::db::Tx,
    product_id: u64,
    newest: u64,
    list: &[CardOrder<'_>],
) -> sqlx::Result<Option<u64>> {
    let sql = format!(
        "SELECT MIN(id) FROM orders WHERE product_id = ? AND status = 'awaiting_stock' AND id < ?
           AND id NOT IN ({})",
        common::db::placeholders(list.len())
    );
    let mut q = sqlx::query_scalar::<_, Option<u64>>(sqlx::AssertSqlSafe(sql))
        .bind(product_id)
        .bind(newest);
    for c in list {
        q = q.bind(c.order.id);
    }
    q.fetch_one(&mut **tx).await
}

async fn to_waiting(
    tx: &mut common::db::Tx,
    order: &OrderRow,
    status: OrderStatus,
    product: &ProductRow,
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
    use common::domain::Platform;

    fn order(kind: OrderKind) -> OrderRow {
        OrderRow {
            id: 1,
            order_no: common::domain::OrderNo::unchecked("N1"),
            platform: Platform::JdGame,
            shop_id: 1,
            platform_order_no: common::domain::PlatformOrderNo::unchecked("1"),
            order_kind: kind,
            product_id: Some(1),
            sku: "s".into(),
            quantity: 1,
            total_price_fen: 100,
            recharge_account: None,
            status: OrderStatus::Received,
            failure_code: None,
            failure_reason: None,
            notify_status: common::domain::NotifyStatus::Pending,
            notify_url: None,
            rights_id: None,
            traceparent: None,
        }
    }

    fn product(mode: FulfilmentMode) -> ProductRow {
        ProductRow {
            id: 1,
            name: "P".into(),
            mode,
            face_value_fen: None,
            price_fen: Some(100),
            low_stock_threshold: None,
            out_of_stock_policy: StockPolicy::Fail,
            stock_wait_seconds: 3600,
            enabled: true,
        }
    }

    #[test]
    fn the_order_kind_decides_and_the_product_must_fit() {
        use FulfilmentMode::{DirectManual, DirectSupplier};
        use OrderKind::{Card, Direct};
        assert_eq!(
            path(&order(Card), &product(FulfilmentMode::Card)),
            Path::Cards
        );
        assert_eq!(
            path(&order(Direct), &product(DirectSupplier)),
            Path::Supplier
        );
        assert_eq!(
            path(&order(Direct), &product(DirectManual)),
            Path::Manual("等待人工充值".into())
        );
        // An unknown stored order kind or product mode no longer reaches here: reading the
        // row fails.
        for (kind, mode) in [
            (Card, DirectManual),
            (Card, DirectSupplier),
            (Direct, FulfilmentMode::Card),
        ] {
            let Path::Manual(note) = path(&order(kind), &product(mode)) else {
                panic!("{kind} order of a {mode} product must wait for an operator");
            };
            assert!(note.contains("请人工处理"), "{note}");
        }
    }
}
