//! Fulfilling card orders in groups: orders whose messages arrive together are fulfilled in one
//! transaction (one locking read of the orders, one card pick per product, multi-row updates and
//! inserts, one commit). Under load this cuts the database's work per order several-fold. Every
//! order keeps the single-order guarantees: it is locked and its status re-checked, its cards
//! are taken with `SKIP LOCKED` and a conditional update whose row count is checked, and its
//! transition, event and `order.completed` message commit together. Anything that is not a plain
//! "received card order with stock" (waiting policies, direct charge, out of stock, repeats) is
//! handed to [`crate::process::fulfil`] one by one.

use std::collections::HashMap;
use std::sync::Arc;

use common::db::orders::OrderRow;
use common::db::products::ProductRow;
use common::domain::{FulfilmentMode, OrderKind, OrderStatus, Platform};
use common::mq::{Event, EventType};
use tokio::sync::{mpsc, oneshot};

use crate::Fulfiller;
use crate::outcome::{ACTOR, Outcome};
use crate::process::fulfil;

const GROUP_MAX: usize = 16;

type Reply = oneshot::Sender<anyhow::Result<Outcome>>;

#[derive(Clone)]
pub struct GroupFulfiller {
    queue: mpsc::Sender<(u64, Reply)>,
}

impl GroupFulfiller {
    pub fn start(ctx: Arc<Fulfiller>, writers: usize) -> GroupFulfiller {
        let (tx, rx) = mpsc::channel::<(u64, Reply)>(GROUP_MAX * 16);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let (ctx, rx) = (ctx.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let mut group = Vec::new();
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(p) => group.push(p),
                            None => return,
                        }
                        while group.len() < GROUP_MAX {
                            match rx.try_recv() {
                                Ok(p) => group.push(p),
                                Err(_) => break,
                            }
                        }
                    }
                    run_group(&ctx, group).await;
                }
            });
        }
        GroupFulfiller { queue: tx }
    }

    /// Fulfils `order_id` (possibly together with others) and tells what happened to it.
    pub async fn fulfil(&self, order_id: u64) -> anyhow::Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((order_id, reply))
            .await
            .map_err(|_| anyhow::anyhow!("group fulfiller stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("group fulfiller dropped the order"))?
    }
}

async fn run_group(ctx: &Fulfiller, group: Vec<(u64, Reply)>) {
    let ids: Vec<u64> = group.iter().map(|(id, _)| *id).collect();
    let handled = if ids.len() > 1 {
        match try_group(ctx, &ids).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "group fulfilment failed; fulfilling one by one");
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    if handled.values().any(|o| *o == Outcome::Succeeded) {
        ctx.outbox.notify();
    }
    for (id, reply) in group {
        let result = match handled.get(&id) {
            Some(outcome) => Ok(*outcome),
            None => fulfil(ctx, id).await,
        };
        let _ = reply.send(result);
    }
}

/// Fulfils the plain card orders of `ids` in one transaction; returns what it decided for each
/// order it handled (the others are left for the one-by-one path).
async fn try_group(ctx: &Fulfiller, ids: &[u64]) -> anyhow::Result<HashMap<u64, Outcome>> {
    OrderStatus::Received.check_transition(OrderStatus::Succeeded)?;
    let mut tx = ctx.db.begin().await?;
    let sql = format!(
        "SELECT {} FROM orders WHERE id IN ({}) ORDER BY id FOR UPDATE",
        common::db::orders::ORDER_COLUMNS,
        common::db::placeholders(ids.len())
    );
    let mut q = sqlx::query_as::<_, OrderRow>(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id);
    }
    let orders = q.fetch_all(&mut *tx).await?;
    let mut handled = HashMap::new();
    let product_ids: Vec<u64> = {
        let mut v: Vec<u64> = orders.iter().filter_map(|o| o.product_id).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let products: HashMap<u64, ProductRow> = if product_ids.is_empty() {
        HashMap::new()
    } else {
        let sql = format!(
            "SELECT id, name, mode, face_value_fen, price_fen, low_stock_threshold, out_of_stock_policy,
                stock_wait_seconds, enabled FROM products WHERE id IN ({})",
            common::db::placeholders(product_ids.len())
        );
        let mut q = sqlx::query_as::<_, ProductRow>(sqlx::AssertSqlSafe(sql));
        for id in &product_ids {
            q = q.bind(id);
        }
        q.fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    // Plain card orders per product, in arrival order.
    let mut by_product: HashMap<u64, Vec<&OrderRow>> = HashMap::new();
    for o in &orders {
        let Ok(status) = o.status() else { continue };
        if status != OrderStatus::Received {
            if status.is_final() || status == OrderStatus::Processing {
                handled.insert(o.id, Outcome::AlreadyHandled);
            }
            continue;
        }
        let Some(p) = o.product_id.and_then(|id| products.get(&id)) else {
            continue;
        };
        if o.kind() == Some(OrderKind::Card)
            && p.mode() == Some(FulfilmentMode::Card)
            && p.out_of_stock_policy != "wait"
            && o.quantity > 0
        {
            by_product.entry(p.id).or_default().push(o);
        }
    }
    // Pick cards per product; orders that the picked cards cannot cover go one by one.
    let today = common::domain::beijing_today();
    let mut assignments: Vec<(u64, u64)> = Vec::new(); // (card id, order id)
    let mut served: Vec<&OrderRow> = Vec::new();
    for (product_id, list) in &by_product {
        let need: i64 = list.iter().map(|o| i64::from(o.quantity)).sum();
        let cards = common::db::cards::pick_available(&mut tx, *product_id, need, today).await?;
        let mut next = cards.iter();
        for o in list {
            let q = o.quantity as usize;
            if next.len() < q {
                break;
            }
            for _ in 0..q {
                if let Some(card) = next.next() {
                    assignments.push((*card, o.id));
                }
            }
            served.push(o);
        }
    }
    if served.is_empty() {
        tx.commit().await?;
        return Ok(handled);
    }
    let sql = format!(
        "UPDATE cards SET status = 'sold', sold_at = NOW(3), order_id = CASE id {} END
         WHERE status = 'available' AND id IN ({})",
        "WHEN ? THEN ? ".repeat(assignments.len()),
        common::db::placeholders(assignments.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (card, order) in &assignments {
        q = q.bind(card).bind(order);
    }
    for (card, _) in &assignments {
        q = q.bind(card);
    }
    let changed = q.execute(&mut *tx).await?.rows_affected();
    anyhow::ensure!(
        changed == assignments.len() as u64,
        "took {changed} of {} locked cards",
        assignments.len()
    );

    let sql = format!(
        "UPDATE orders SET status = 'succeeded', completed_at = NOW(3) WHERE status = 'received' AND id IN ({})",
        common::db::placeholders(served.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for o in &served {
        q = q.bind(o.id);
    }
    let changed = q.execute(&mut *tx).await?.rows_affected();
    anyhow::ensure!(
        changed == served.len() as u64,
        "moved {changed} of {} locked orders",
        served.len()
    );

    let sql = format!(
        "INSERT INTO order_events (order_id, from_status, to_status, actor, note) VALUES {}",
        vec!["(?, 'received', 'succeeded', ?, ?)"; served.len()].join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for o in &served {
        q = q
            .bind(o.id)
            .bind(ACTOR)
            .bind(format!("发出 {} 张卡密", o.quantity));
    }
    q.execute(&mut *tx).await?;

    let events: Vec<Event> = served
        .iter()
        .map(|o| {
            let platform: Platform = o.platform.parse()?;
            Ok(Event::new(EventType::OrderCompleted, o.id, platform))
        })
        .collect::<anyhow::Result<_>>()?;
    common::mq::outbox::enqueue_many(&mut tx, &events).await?;
    tx.commit().await?;

    for o in &served {
        handled.insert(o.id, Outcome::Succeeded);
        if let Some(p) = o.product_id.and_then(|id| products.get(&id))
            && p.low_stock_threshold.is_some_and(|t| t > 0)
        {
            ctx.low_stock.mark(p.id);
        }
    }
    Ok(handled)
}
