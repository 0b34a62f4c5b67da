//! The gateway's order writer: new orders group-committed through the shared batcher.

use super::{Created, NewOrder, ORDER_COLUMNS, OrderRow, create, new_row};
use crate::domain::{OrderNo, Platform, PlatformOrderNo};

/// Writes new orders in groups ([`crate::batch::GroupCommit`]): requests that arrive while a
/// transaction is committing are written together by the next one (multi-row inserts, one
/// commit). Under load this cuts the database's work per order several-fold; alone, a request is
/// written at once, without waiting. Every order still commits with its first event and its
/// outbox row in the same transaction.
#[derive(Clone)]
pub struct OrderWriter {
    queue: crate::batch::GroupCommit<NewOrder, Result<Created, sqlx::Error>>,
}

type Pending = crate::batch::Pending<NewOrder, Result<Created, sqlx::Error>>;

/// At most this many orders per transaction.
const GROUP_MAX: usize = 16;
/// And at most about this many bytes of order data per statement: sqlx does not set
/// TCP_NODELAY, and a statement that spans several TCP segments can stall on Nagle's algorithm
/// against the server's delayed ACK (~200 ms); small statements never do.
const GROUP_MAX_BYTES: usize = 12 * 1024;

impl OrderWriter {
    /// Starts `writers` concurrent group writers on `pool`.
    pub fn start(pool: crate::db::Pool, actor: &'static str, writers: usize) -> OrderWriter {
        let limits = crate::batch::Limits {
            writers,
            queue: GROUP_MAX * 8,
            max_items: GROUP_MAX,
            max_weight: Some((GROUP_MAX_BYTES, NewOrder::approx_bytes)),
        };
        let queue = crate::batch::GroupCommit::start(limits, move |group| {
            let pool = pool.clone();
            async move { write_group(&pool, actor, group).await }
        });
        OrderWriter { queue }
    }

    /// Creates the order or returns the stored one; see [`create`].
    pub async fn create(&self, new: NewOrder) -> Result<Created, sqlx::Error> {
        self.queue.submit(new).await.map_err(|e| match e {
            crate::batch::Unanswered::Stopped => sqlx::Error::PoolClosed,
            crate::batch::Unanswered::Dropped => sqlx::Error::WorkerCrashed,
        })?
    }
}

type OrderKey = (Platform, u64, PlatformOrderNo);

fn key_of(new: &NewOrder) -> OrderKey {
    (new.platform, new.shop_id, new.platform_order_no.clone())
}

async fn write_group(pool: &crate::db::Pool, actor: &'static str, group: Vec<Pending>) {
    if group.len() == 1 {
        let p = group.into_iter().next().expect("one");
        let r = create(pool, &p.item, actor).await;
        p.reply(r);
        return;
    }
    match try_group(pool, actor, &group).await {
        Ok(results) => {
            for (p, r) in group.into_iter().zip(results) {
                p.reply(Ok(r));
            }
        }
        // A concurrent writer (another gateway) took one of the numbers, or an order number
        // collided: write them one by one, which resolves each case exactly.
        Err(e) => {
            if !crate::db::is_unique_violation(&e) {
                tracing::warn!(error = %e, "group order write failed; writing one by one");
            }
            for p in group {
                let r = create(pool, &p.item, actor).await;
                p.reply(r);
            }
        }
    }
}

async fn try_group(
    pool: &crate::db::Pool,
    actor: &str,
    group: &[Pending],
) -> Result<Vec<Created>, sqlx::Error> {
    use std::collections::HashMap;

    use crate::mq::{Event, EventType};

    let mut tx = pool.begin().await?;
    // Orders that already exist (repeats) are answered from the stored row.
    let keys: Vec<OrderKey> = group.iter().map(|p| key_of(&p.item)).collect();
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE (platform, shop_id, platform_order_no) IN ({})",
        vec!["(?, ?, ?)"; keys.len()].join(", ")
    );
    let mut q = sqlx::query_as::<_, OrderRow>(sqlx::AssertSqlSafe(sql));
    for (platform, shop, no) in &keys {
        q = q.bind(*platform).bind(*shop).bind(no);
    }
    let mut existing: HashMap<OrderKey, OrderRow> = q
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|o| ((o.platform, o.shop_id, o.platform_order_no.clone()), o))
        .collect();

    // New orders, once each (a number repeated inside the group is created by its first copy).
    let mut fresh: Vec<(usize, OrderNo)> = Vec::new();
    let mut claimed: HashMap<OrderKey, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if !existing.contains_key(key) && !claimed.contains_key(key) {
            claimed.insert(key.clone(), i);
            fresh.push((i, OrderNo::generate(chrono::Utc::now())));
        }
    }
    let mut created: HashMap<usize, OrderRow> = HashMap::new();
    if !fresh.is_empty() {
        let sql = format!(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, product_id,
                sku, quantity, total_price_fen, recharge_account, status, notify_status, notify_url, raw_request,
                rights_id, rights, traceparent)
             VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', 'pending', ?, ?, ?, ?, ?)"; fresh.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (i, order_no) in &fresh {
            let n = &group[*i].item;
            q = q
                .bind(order_no)
                .bind(n.platform)
                .bind(n.shop_id)
                .bind(&n.platform_order_no)
                .bind(n.order_kind)
                .bind(n.product_id)
                .bind(&n.sku)
                .bind(n.quantity)
                .bind(n.total_price_fen)
                .bind(&n.recharge_account)
                .bind(&n.notify_url)
                .bind(&n.raw_request)
                .bind(n.rights.as_ref().map(|r| &r.rights_id))
                .bind(n.rights.as_ref().map(|r| &r.rights_json))
                .bind(&n.traceparent);
        }
        q.execute(&mut *tx).await?;

        let sql = format!(
            "SELECT order_no, id FROM orders WHERE order_no IN ({})",
            crate::db::placeholders(fresh.len())
        );
        let mut q = sqlx::query_as::<_, (OrderNo, u64)>(sqlx::AssertSqlSafe(sql));
        for (_, no) in &fresh {
            q = q.bind(no);
        }
        let ids: HashMap<OrderNo, u64> = q.fetch_all(&mut *tx).await?.into_iter().collect();

        let mut events = Vec::with_capacity(fresh.len());
        for (i, order_no) in &fresh {
            let n = &group[*i].item;
            let id = *ids.get(order_no).ok_or(sqlx::Error::RowNotFound)?;
            // Each order's message continues its own request's trace, not this writer's.
            events.push(
                Event::new(EventType::OrderCreated, id, n.platform).traced(n.traceparent.clone()),
            );
            created.insert(*i, new_row(id, order_no.clone(), n));
        }
        let sql = format!(
            "INSERT INTO order_events (order_id, from_status, to_status, actor) VALUES {}",
            vec!["(?, NULL, 'received', ?)"; events.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in &events {
            q = q.bind(e.order_id).bind(actor);
        }
        q.execute(&mut *tx).await?;
        crate::mq::outbox::enqueue(&mut tx, &events).await?;
    }
    tx.commit().await?;

    let mut results = Vec::with_capacity(group.len());
    for (i, key) in keys.iter().enumerate() {
        let r = match created.get(&i) {
            Some(row) => Created::New(row.clone()),
            None => match existing.get(key) {
                Some(row) => Created::Existing(row.clone()),
                None => {
                    let first = claimed[key];
                    let row = created
                        .get(&first)
                        .cloned()
                        .ok_or(sqlx::Error::RowNotFound)?;
                    existing.insert(key.clone(), row.clone());
                    Created::Existing(row)
                }
            },
        };
        results.push(r);
    }
    Ok(results)
}
