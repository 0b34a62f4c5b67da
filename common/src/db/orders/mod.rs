//! Orders and their timeline. Every status change goes through [`transition`], which checks the
//! state machine, changes the row only if it is still in the expected status, and records the
//! `order_events` row in the same transaction.

use crate::domain::{
    FailureReason, NotifyStatus, OrderKind, OrderNo, OrderStatus, Platform, PlatformOrderNo,
    TransitionError,
};

use super::Tx;

mod writer;

pub use writer::OrderWriter;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Moves `order_id` from `from` to `to`. Fails with `Illegal` for a transition the business
/// forbids and with `Stale` when the row is no longer in `from` (someone else moved it).
pub async fn transition(
    tx: &mut Tx,
    order_id: u64,
    from: OrderStatus,
    to: OrderStatus,
    actor: &str,
    note: Option<&str>,
) -> Result<(), OrderError> {
    transition_many(tx, from, to, actor, &[(order_id, note)]).await
}

/// [`transition`] of several orders (distinct ids) at once, each with its own note: one guarded
/// UPDATE and one multi-row insert of their timeline rows. Fails with `Stale` (naming an order
/// that was not in `from`) unless every order moved; the caller then rolls back.
pub async fn transition_many(
    tx: &mut Tx,
    from: OrderStatus,
    to: OrderStatus,
    actor: &str,
    moves: &[(u64, Option<&str>)],
) -> Result<(), OrderError> {
    let moves: Vec<Move> = moves
        .iter()
        .map(|(order_id, note)| Move {
            order_id: *order_id,
            note: *note,
            traceparent: None,
        })
        .collect();
    transition_traced(tx, from, to, actor, &moves).await
}

/// One order's move in [`transition_traced`].
struct Move<'a> {
    order_id: u64,
    note: Option<&'a str>,
    /// Replaces `orders.traceparent` when set: the span that made the move.
    traceparent: Option<&'a str>,
}

/// [`transition_many`], also storing each move's trace context (when it has one) in the same
/// UPDATE.
async fn transition_traced(
    tx: &mut Tx,
    from: OrderStatus,
    to: OrderStatus,
    actor: &str,
    moves: &[Move<'_>],
) -> Result<(), OrderError> {
    from.check_transition(to)?;
    if moves.is_empty() {
        return Ok(());
    }
    // A final status also schedules the first callback / delivery of an order whose platform
    // is still to be told (`notify_status` pending, not yet scheduled): the state change carries
    // its next step, so the notifier and agiso-sync only need waking (their `order.completed`
    // message), with no write per order of their own. The span that moved an order becomes
    // its trace context (`orders.traceparent`), which that next step continues.
    let traced: Vec<(u64, &str)> = moves
        .iter()
        .filter_map(|m| m.traceparent.map(|tp| (m.order_id, tp)))
        .collect();
    let set_trace = if traced.is_empty() {
        String::new()
    } else {
        format!(
            ", traceparent = CASE id {} ELSE traceparent END",
            vec!["WHEN ? THEN ?"; traced.len()].join(" ")
        )
    };
    let sql = format!(
        "UPDATE orders SET status = ?,
             completed_at = IF(?, NOW(3), completed_at),
             notify_next_at = IF(? AND notify_status = 'pending' AND notify_next_at IS NULL,
                                 NOW(3), notify_next_at){set_trace}
         WHERE status = ? AND id IN ({})",
        super::placeholders(moves.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to)
        .bind(to.is_final())
        .bind(to.is_final());
    for (id, tp) in &traced {
        q = q.bind(id).bind(*tp);
    }
    q = q.bind(from);
    for m in moves {
        q = q.bind(m.order_id);
    }
    let done = q.execute(&mut **tx).await?.rows_affected();
    if done != moves.len() as u64 {
        let order_id = if moves.len() == 1 {
            moves[0].order_id
        } else {
            let sql = format!(
                "SELECT id FROM orders WHERE status <> ? AND id IN ({}) ORDER BY id LIMIT 1",
                super::placeholders(moves.len())
            );
            let mut q = sqlx::query_scalar::<_, u64>(sqlx::AssertSqlSafe(sql)).bind(to);
            for m in moves {
                q = q.bind(m.order_id);
            }
            q.fetch_optional(&mut **tx)
                .await?
                .unwrap_or(moves[0].order_id)
        };
        return Err(TransitionError::Stale {
            order_id,
            expected: from,
        }
        .into());
    }
    let sql = format!(
        "INSERT INTO order_events (order_id, from_status, to_status, actor, note) VALUES {}",
        vec!["(?, ?, ?, ?, ?)"; moves.len()].join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for m in moves {
        q = q
            .bind(m.order_id)
            .bind(from)
            .bind(to)
            .bind(actor)
            .bind(m.note);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Appends a timeline row (also used for the order's first event, with `from = None`).
pub async fn record_event(
    tx: &mut Tx,
    order_id: u64,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: &str,
    note: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO order_events (order_id, from_status, to_status, actor, note) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(order_id)
    .bind(from)
    .bind(to)
    .bind(actor)
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderEventRow {
    pub id: u64,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor: String,
    pub note: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

pub async fn events(
    ex: impl sqlx::MySqlExecutor<'_>,
    order_id: u64,
) -> sqlx::Result<Vec<OrderEventRow>> {
    sqlx::query_as(
        "SELECT id, from_status, to_status, actor, note, created_at FROM order_events
         WHERE order_id = ? ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(ex)
    .await
}

/// An order as the services read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: u64,
    pub order_no: OrderNo,
    pub platform: Platform,
    pub shop_id: u64,
    pub platform_order_no: PlatformOrderNo,
    pub order_kind: OrderKind,
    pub product_id: Option<u64>,
    pub sku: String,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub status: OrderStatus,
    pub failure_code: Option<FailureReason>,
    pub failure_reason: Option<String>,
    pub notify_status: NotifyStatus,
    pub notify_url: Option<String>,
    /// 游戏点卡 gift-rights top-up (`type=1`): the rights order id to echo; `None` otherwise.
    #[sqlx(default)]
    pub rights_id: Option<String>,
    /// The order's trace context (W3C `traceparent`), which its next step continues: stored at
    /// intake, replaced by the final transition (see [`Ending`]). Code that handles the order
    /// in a span of its own may set it to that span's context before ending the order.
    #[sqlx(default)]
    pub traceparent: Option<String>,
}

pub const ORDER_COLUMNS: &str = "id, order_no, platform, shop_id, platform_order_no, order_kind, product_id, sku, \
    quantity, total_price_fen, recharge_account, status, failure_code, failure_reason, notify_status, notify_url, rights_id, \
    traceparent";

/// An order to create, as parsed from a platform's request.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub platform: Platform,
    pub shop_id: u64,
    pub platform_order_no: PlatformOrderNo,
    pub order_kind: OrderKind,
    /// `None` only for an order that starts with an operator ([`Start::Manual`]).
    pub product_id: Option<u64>,
    pub sku: String,
    pub quantity: i32,
    pub total_price_fen: i64,
    pub recharge_account: Option<String>,
    pub notify_url: Option<String>,
    pub raw_request: Option<String>,
    /// 游戏点卡 gift-rights top-up (`type=1`), else `None`.
    pub rights: Option<RightsTopUp>,
    /// The trace context of the request that brought the order (captured by its handler, per
    /// order: writers that store many orders at once take it from here).
    pub traceparent: Option<String>,
}

/// The rights of a 游戏点卡 gift-rights top-up, as stored with the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsTopUp {
    /// Echoed as `rightsId` in directQuery and the callback.
    pub rights_id: String,
    /// The received `rights` array, JSON text (for operators).
    pub rights_json: String,
}

impl NewOrder {
    /// Roughly the bytes this order adds to an INSERT statement.
    fn approx_bytes(&self) -> usize {
        200 + self.platform_order_no.as_str().len()
            + self.sku.len()
            + self.recharge_account.as_deref().map_or(0, str::len)
            + self.notify_url.as_deref().map_or(0, str::len)
            + self.raw_request.as_deref().map_or(0, str::len)
            + self
                .rights
                .as_ref()
                .map_or(0, |r| r.rights_id.len() + r.rights_json.len())
            + self.traceparent.as_deref().map_or(0, str::len)
    }
}

/// What [`create`] did.
#[derive(Debug)]
pub enum Created {
    /// A new order (its row, first event and `order.created` outbox row committed together).
    New(OrderRow),
    /// The platform order number was already known: nothing was written.
    Existing(OrderRow),
}

/// How a new order starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// Received, with its `order.created` message for fulfilment.
    Fulfil,
    /// Waiting for an operator from the start (e.g. an Agiso item that maps to no product), with
    /// the reason on its timeline; no message.
    Manual(&'a str),
}

/// Creates the order, its first timeline event and its `order.created.<platform>` outbox
/// message in one transaction. The unique key on (platform, shop, platform order number) makes
/// concurrent repeats safe: exactly one request creates the order, the others get the stored one.
pub async fn create(
    pool: &super::Pool,
    new: &NewOrder,
    actor: &str,
) -> Result<Created, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let created = create_in(&mut tx, new, actor, Start::Fulfil).await?;
    if matches!(created, Created::New(_)) {
        tx.commit().await?;
    }
    Ok(created)
}

/// [`create`] inside the caller's transaction (with whatever else it writes there), starting
/// as `start` says. A repeat finds the stored order with a shared-lock read: it sees a row
/// committed after this transaction's snapshot, and takes the same shared lock the refused
/// insert already holds (an exclusive lock here would deadlock with a concurrent repeat).
pub async fn create_in(
    tx: &mut Tx,
    new: &NewOrder,
    actor: &str,
    start: Start<'_>,
) -> Result<Created, sqlx::Error> {
    use crate::mq::{Event, EventType};
    for _ in 0..3 {
        let order_no = crate::domain::OrderNo::generate(chrono::Utc::now());
        let inserted = sqlx::query(
            "INSERT INTO orders (order_no, platform, shop_id, platform_order_no, order_kind, product_id,
                sku, quantity, total_price_fen, recharge_account, status, notify_status, notify_url, raw_request,
                rights_id, rights, traceparent)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', 'pending', ?, ?, ?, ?, ?)",
        )
        .bind(&order_no)
        .bind(new.platform)
        .bind(new.shop_id)
        .bind(&new.platform_order_no)
        .bind(new.order_kind)
        .bind(new.product_id)
        .bind(&new.sku)
        .bind(new.quantity)
        .bind(new.total_price_fen)
        .bind(&new.recharge_account)
        .bind(&new.notify_url)
        .bind(&new.raw_request)
        .bind(new.rights.as_ref().map(|r| &r.rights_id))
        .bind(new.rights.as_ref().map(|r| &r.rights_json))
        .bind(&new.traceparent)
        .execute(&mut **tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_id(),
            Err(e) if super::is_unique_violation(&e) => {
                let existing: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {ORDER_COLUMNS} FROM orders
                     WHERE platform = ? AND shop_id = ? AND platform_order_no = ? LOCK IN SHARE MODE"
                )))
                .bind(new.platform)
                .bind(new.shop_id)
                .bind(&new.platform_order_no)
                .fetch_optional(&mut **tx)
                .await?;
                if let Some(existing) = existing {
                    return Ok(Created::Existing(existing));
                }
                // The collision was on our own order number: try a fresh one.
                continue;
            }
            Err(e) => return Err(e),
        };
        record_event(tx, id, None, OrderStatus::Received, actor, None).await?;
        let mut row = new_row(id, order_no, new);
        match start {
            Start::Fulfil => {
                crate::mq::outbox::enqueue(
                    tx,
                    &[Event::new(EventType::OrderCreated, id, new.platform)
                        .traced(new.traceparent.clone())],
                )
                .await?;
            }
            Start::Manual(reason) => {
                transition(
                    tx,
                    id,
                    OrderStatus::Received,
                    OrderStatus::AwaitingManual,
                    actor,
                    Some(reason),
                )
                .await
                .map_err(|e| match e {
                    OrderError::Db(e) => e,
                    other => sqlx::Error::Protocol(other.to_string()),
                })?;
                row.status = OrderStatus::AwaitingManual;
            }
        }
        return Ok(Created::New(row));
    }
    Err(sqlx::Error::Protocol(
        "could not allocate a unique order number".into(),
    ))
}

pub async fn find_by_platform_no(
    ex: impl sqlx::MySqlExecutor<'_>,
    platform: Platform,
    shop_id: u64,
    platform_order_no: &PlatformOrderNo,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE platform = ? AND shop_id = ? AND platform_order_no = ?"
    )))
    .bind(platform)
    .bind(shop_id)
    .bind(platform_order_no)
    .fetch_optional(ex)
    .await
}

pub async fn get(ex: impl sqlx::MySqlExecutor<'_>, id: u64) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

fn new_row(id: u64, order_no: OrderNo, new: &NewOrder) -> OrderRow {
    OrderRow {
        id,
        order_no,
        platform: new.platform,
        shop_id: new.shop_id,
        platform_order_no: new.platform_order_no.clone(),
        order_kind: new.order_kind,
        product_id: new.product_id,
        sku: new.sku.clone(),
        quantity: new.quantity,
        total_price_fen: new.total_price_fen,
        recharge_account: new.recharge_account.clone(),
        status: OrderStatus::Received,
        failure_code: None,
        failure_reason: None,
        notify_status: NotifyStatus::Pending,
        notify_url: new.notify_url.clone(),
        rights_id: new.rights.as_ref().map(|r| r.rights_id.clone()),
        traceparent: new.traceparent.clone(),
    }
}

/// An order reaching its final status, and the trace context of the span that ends it. That
/// context goes into the order's `order.completed` message and replaces `orders.traceparent`,
/// so that the callback / delivery continues from it; `None` keeps the stored one.
#[derive(Debug, Clone)]
pub struct Ending {
    pub order_id: u64,
    pub platform: Platform,
    pub traceparent: Option<String>,
}

impl Ending {
    /// Ended by code handling the order in the current span.
    pub fn here(order_id: u64, platform: Platform) -> Ending {
        Ending {
            order_id,
            platform,
            traceparent: crate::telemetry::current_traceparent(),
        }
    }

    /// Ended on behalf of `order`, in the trace context it carries ([`OrderRow::traceparent`]).
    pub fn of(order: &OrderRow) -> Ending {
        Ending {
            order_id: order.id,
            platform: order.platform,
            traceparent: order.traceparent.clone(),
        }
    }

    fn completed(&self) -> crate::mq::Event {
        use crate::mq::{Event, EventType};
        Event::new(EventType::OrderCompleted, self.order_id, self.platform)
            .traced(self.traceparent.clone())
    }
}

/// Ends an order successfully: the guarded transition, and the `order.completed.<platform>`
/// outbox message that tells the platform (notifier / agiso-sync), in the caller's transaction.
pub async fn finish_succeeded(
    tx: &mut Tx,
    end: Ending,
    from: OrderStatus,
    actor: &str,
    note: Option<&str>,
) -> Result<(), OrderError> {
    finish_succeeded_many(tx, from, actor, &[(end, note)]).await
}

/// [`finish_succeeded`] of several orders (distinct ids, all in `from`) at once, each with its
/// note: one guarded UPDATE and one multi-row insert of their `order.completed.<platform>`
/// messages.
pub async fn finish_succeeded_many(
    tx: &mut Tx,
    from: OrderStatus,
    actor: &str,
    done: &[(Ending, Option<&str>)],
) -> Result<(), OrderError> {
    let moves: Vec<Move> = done
        .iter()
        .map(|(end, note)| Move {
            order_id: end.order_id,
            note: *note,
            traceparent: end.traceparent.as_deref(),
        })
        .collect();
    transition_traced(tx, from, OrderStatus::Succeeded, actor, &moves).await?;
    let events: Vec<crate::mq::Event> = done.iter().map(|(end, _)| end.completed()).collect();
    crate::mq::outbox::enqueue(tx, &events).await?;
    Ok(())
}

/// Ends an order as failed with a reason (and the text the platform shows), plus its
/// `order.completed.<platform>` outbox message, in the caller's transaction.
pub async fn finish_failed(
    tx: &mut Tx,
    end: Ending,
    from: OrderStatus,
    reason: FailureReason,
    text: &str,
    actor: &str,
) -> Result<(), OrderError> {
    let moves = [Move {
        order_id: end.order_id,
        note: Some(text),
        traceparent: end.traceparent.as_deref(),
    }];
    transition_traced(tx, from, OrderStatus::Failed, actor, &moves).await?;
    sqlx::query("UPDATE orders SET failure_code = ?, failure_reason = ? WHERE id = ?")
        .bind(reason)
        .bind(text)
        .bind(end.order_id)
        .execute(&mut **tx)
        .await?;
    crate::mq::outbox::enqueue(tx, &[end.completed()]).await?;
    Ok(())
}

/// Reads an order under a row lock.
pub async fn lock(tx: &mut Tx, order_id: u64) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = ? FOR UPDATE"
    )))
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await
}

/// [`lock`] of several orders: those among `ids` that exist, read under row locks, taken in id order (so that
/// transactions locking overlapping sets queue instead of deadlocking).
pub async fn lock_many(tx: &mut Tx, ids: &[u64]) -> sqlx::Result<Vec<OrderRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id IN ({}) ORDER BY id FOR UPDATE",
        super::placeholders(ids.len())
    );
    let mut q = sqlx::query_as::<_, OrderRow>(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(&mut **tx).await
}
