//! One path for everything Agiso tells us, whether pushed or found by the backstop poll: store
//! the event once, and in the same transaction create the orders it pays for (with their
//! timeline and outbox rows) or apply the refund it reports. A repeat of a stored event changes
//! nothing; an order already created from another event is found, not created again.

use common::db::agiso::{self as repo, EventState, NewEvent, Source};
use common::db::orders::{self, Created, NewOrder, Start};
use common::db::{Pool, Tx, products};
use common::domain::{FailureReason, NotifyStatus, OrderKind, OrderStatus, Platform};
use common::protocol::agiso_order::{self as codec, AgisoOrder, PayloadError, Refund, Topic};

use crate::shops::AgisoShop;

/// The actor written on the timeline.
pub const ACTOR: &str = "agiso-sync";

/// The reason an Agiso item that maps to no product waits for an operator.
pub const UNMAPPED: &str = "未关联商品";

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored now; `created` orders were created from it.
    Stored { event_id: u64, created: usize },
    /// The same event was stored before: nothing was written.
    Duplicate,
}

/// The event's payload, read by its topic.
enum Payload {
    Order(AgisoOrder),
    /// The lines must be read through the detail endpoint.
    Lean(String),
    Refund {
        refund: Refund,
        succeeded: bool,
    },
    /// Stored for the record: another topic, or a payload of a known topic that cannot be read.
    Other {
        tid: String,
        problem: Option<PayloadError>,
    },
}

fn read(topic: Topic, json: &str) -> Payload {
    let parsed = match topic {
        Topic::TaobaoPaid => codec::taobao_trade(json).map(Payload::Order),
        Topic::JdGameCardPaid => codec::jd_game_card(json).map(Payload::Order),
        Topic::JdVtpPaid => codec::jd_vtp(json).map(Payload::Order),
        Topic::TaobaoPaidLean | Topic::JdPaid => {
            codec::lean_tid(json).map(|t| Payload::Lean(t.into_inner()))
        }
        Topic::TaobaoRefundCreated | Topic::TaobaoRefundSucceeded => codec::taobao_refund(json)
            .map(|refund| Payload::Refund {
                refund,
                succeeded: topic == Topic::TaobaoRefundSucceeded,
            }),
        Topic::Other => Ok(Payload::Other {
            tid: other_tid(json),
            problem: None,
        }),
    };
    parsed.unwrap_or_else(|problem| Payload::Other {
        tid: other_tid(json),
        problem: Some(problem),
    })
}

/// The order an event names, for storing it; a payload that names none is keyed by its hash.
fn other_tid(json: &str) -> String {
    codec::lean_tid(json)
        .map(|t| t.into_inner())
        .unwrap_or_else(|_| format!("md5:{}", &common::crypto::md5_hex(json.as_bytes())[..24]))
}

/// Stores and handles one event (pushed, or polled with the topic of the equivalent push) in a
/// transaction of its own. `traceparent`: the trace context of the span that received it (the
/// push request's), which the orders it creates continue.
pub async fn accept(
    pool: &Pool,
    shop: &AgisoShop,
    source: Source,
    aopic: i64,
    json: &str,
    traceparent: Option<&str>,
) -> anyhow::Result<Accepted> {
    let mut tx = pool.begin().await?;
    let accepted = accept_in(&mut tx, shop, source, aopic, json, traceparent).await?;
    if matches!(accepted, Accepted::Stored { .. }) {
        tx.commit().await?;
        count_created(shop, source, &accepted);
    }
    Ok(accepted)
}

/// Counts the orders an accepted event created, once its transaction committed.
pub fn count_created(shop: &AgisoShop, source: Source, accepted: &Accepted) {
    if let Accepted::Stored { created, .. } = accepted
        && *created > 0
    {
        crate::metrics::ORDERS_CREATED
            .with_label_values(&[shop.service.as_str(), source.as_str()])
            .inc_by(*created as u64);
    }
}

/// [`accept`] inside the caller's transaction (the push receiver writes pushes that arrive
/// together in one). The event row is written first, with the state its handling will leave:
/// a repeat stops there.
pub async fn accept_in(
    tx: &mut Tx,
    shop: &AgisoShop,
    source: Source,
    aopic: i64,
    json: &str,
    traceparent: Option<&str>,
) -> anyhow::Result<Accepted> {
    let topic = Topic::of(shop.service, aopic);
    let payload = read(topic, json);
    let (tid, sub_key) = match &payload {
        Payload::Order(o) => (o.tid.as_str().to_owned(), String::new()),
        Payload::Lean(tid) => (tid.clone(), String::new()),
        // One row per refund (a refund asked, closed and asked again is three events), named
        // by the sub-order it concerns so a later order of that line can find it.
        Payload::Refund { refund, .. } => (refund.tid.as_str().to_owned(), refund_key(refund)),
        // An unreadable payload of a paid topic must not take the key the readable order
        // (from the poll or a detail read) will need.
        Payload::Other {
            tid,
            problem: Some(_),
        } => (tid.clone(), "unreadable".to_owned()),
        Payload::Other { tid, .. } => (tid.clone(), String::new()),
    };
    let (state, note) = match &payload {
        Payload::Order(order) if order.is_closed() => (
            EventState::Ignored,
            Some("交易已关闭，不创建订单".to_owned()),
        ),
        Payload::Order(order) => (
            EventState::Done,
            Some(format!("按 {} 个子订单建单", order.lines.len())),
        ),
        Payload::Lean(_) => (EventState::Pending, Some("待读取订单详情".to_owned())),
        Payload::Refund { .. } => (EventState::Done, None),
        Payload::Other { problem, .. } => (
            EventState::Ignored,
            problem.as_ref().map(|p| format!("消息无法读取：{p}")),
        ),
    };
    let Some(event_id) = repo::insert_event(
        tx,
        &NewEvent {
            shop_id: shop.id,
            service: shop.service,
            tid: &tid,
            aopic,
            sub_key: &sub_key,
            topic: topic.as_str(),
            source,
            payload: json,
            state,
            note: note.as_deref(),
        },
    )
    .await?
    else {
        return Ok(Accepted::Duplicate);
    };
    let created = match payload {
        Payload::Order(order) if !order.is_closed() => {
            create_orders(tx, shop, &order, json, traceparent).await?
        }
        Payload::Refund { refund, succeeded } => {
            let note = apply_refund(tx, shop, &refund, succeeded).await?;
            repo::finish_event(&mut **tx, event_id, EventState::Done, Some(&note)).await?;
            0
        }
        _ => 0,
    };
    Ok(Accepted::Stored { event_id, created })
}

/// `orders.raw_request` is a `TEXT` column (65,535 bytes): the message is kept up to this many.
const RAW_MAX_BYTES: usize = 60_000;

/// `text` cut to at most `max` bytes on a character boundary.
fn cut_bytes(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// `agiso_events.sub_key` of a refund: `<Oid>:<RefundId>` (`:<RefundId>` for the whole trade).
fn refund_key(refund: &Refund) -> String {
    let oid = refund.oid.as_ref().map_or("", |o| o.as_str());
    let id = refund.refund_id.as_deref().unwrap_or_default();
    format!("{oid}:{id}").chars().take(64).collect()
}

/// Why a line must not be fulfilled automatically because of a refund stored before it: a
/// refund push can arrive before the order exists (a lean paid push still waiting for its
/// detail, a paid push lost and found by the poll).
async fn refund_before(
    tx: &mut Tx,
    shop: &AgisoShop,
    tid: &str,
    oid: &str,
) -> anyhow::Result<Option<&'static str>> {
    let topics = repo::refund_topics(&mut **tx, shop.service, tid, oid).await?;
    Ok(
        if topics
            .iter()
            .any(|t| t == Topic::TaobaoRefundSucceeded.as_str())
        {
            Some("买家已退款（退款消息先于订单到达），请人工核查，勿发货")
        } else if topics
            .iter()
            .any(|t| t == Topic::TaobaoRefundCreated.as_str())
        {
            Some("买家申请退款（退款消息先于订单到达），暂停发货")
        } else {
            None
        },
    )
}

/// Creates the orders of a paid Agiso order (one per line) in `tx`, with their Agiso side and
/// the trace context `traceparent`; returns how many were new. A line that maps to no product becomes an order waiting for an
/// operator ([`UNMAPPED`]): a paid order is never dropped.
pub async fn create_orders(
    tx: &mut Tx,
    shop: &AgisoShop,
    order: &AgisoOrder,
    raw: &str,
    traceparent: Option<&str>,
) -> anyhow::Result<usize> {
    let mut created = 0;
    for line in &order.lines {
        let mut product = None;
        for key in &line.sku_keys {
            if let Some(p) = products::find_by_sku(&mut **tx, Platform::Agiso, key).await? {
                product = Some((key.clone(), p));
                break;
            }
        }
        let (sku, product_id, kind, start) = match &product {
            Some((key, p)) => (
                key.clone(),
                Some(p.id),
                OrderKind::of_mode(p.mode),
                Start::Fulfil,
            ),
            None => (
                line.sku_keys.first().cloned().unwrap_or_default(),
                None,
                // [INFERRED] an unmapped Taobao line is most likely cards; the operator decides.
                match order.order_type {
                    codec::OrderType::JdGameRecharge | codec::OrderType::JdVtp => OrderKind::Direct,
                    _ => OrderKind::Card,
                },
                Start::Manual(UNMAPPED),
            ),
        };
        let refunded = refund_before(tx, shop, order.tid.as_str(), line.line_no.as_str()).await?;
        let start = match (refunded, start) {
            (Some(reason), Start::Fulfil) => Start::Manual(reason),
            (_, start) => start,
        };
        let new = NewOrder {
            platform: Platform::Agiso,
            shop_id: shop.id,
            platform_order_no: line.line_no.clone(),
            order_kind: kind,
            product_id,
            sku: sku.chars().take(64).collect(),
            quantity: line.quantity,
            total_price_fen: line.amount.map_or(0, |a| a.0),
            // The column holds 128 characters; an account longer than that is not a real one.
            recharge_account: order
                .account
                .as_ref()
                .map(|a| a.chars().take(128).collect()),
            notify_url: None,
            raw_request: Some(cut_bytes(raw, RAW_MAX_BYTES)),
            rights: None,
            traceparent: traceparent.map(str::to_owned),
        };
        if let Created::New(row) = orders::create_in(tx, &new, ACTOR, start).await? {
            repo::insert_order(
                tx,
                row.id,
                shop.service,
                order.tid.as_str(),
                order.order_type,
            )
            .await?;
            created += 1;
        }
    }
    Ok(created)
}

/// A Taobao refund for orders of ours. Refund succeeded: an order not yet fulfilled is failed
/// and nothing is delivered for it (no card leaves stock). Refund asked: an order not yet
/// fulfilled waits for an operator. An order already fulfilled (or being fulfilled by a
/// supplier) keeps its state; the refund goes on its timeline for the operator.
async fn apply_refund(
    tx: &mut Tx,
    shop: &AgisoShop,
    refund: &Refund,
    succeeded: bool,
) -> anyhow::Result<String> {
    let ids: Vec<u64> = repo::orders_of_tid(&mut **tx, shop.service, refund.tid.as_str())
        .await?
        .into_iter()
        .map(|o| o.order_id)
        .collect();
    let mut cancelled = 0;
    let mut held = 0;
    let mut flagged = 0;
    for order in orders::lock_many(tx, &ids).await? {
        if refund
            .oid
            .as_ref()
            .is_some_and(|oid| *oid != order.platform_order_no)
        {
            continue;
        }
        let waiting = matches!(
            order.status,
            OrderStatus::Received | OrderStatus::AwaitingStock | OrderStatus::AwaitingManual
        );
        if waiting && succeeded {
            orders::finish_failed(
                tx,
                orders::Ending::of(&order),
                order.status,
                FailureReason::Manual,
                "买家已退款，订单取消",
                ACTOR,
            )
            .await?;
            common::db::notify::set_status(tx, order.id, NotifyStatus::NotRequired).await?;
            cancelled += 1;
        } else if waiting && order.status != OrderStatus::AwaitingManual {
            orders::transition(
                tx,
                order.id,
                order.status,
                OrderStatus::AwaitingManual,
                ACTOR,
                Some("买家申请退款，暂停发货"),
            )
            .await?;
            held += 1;
        } else if waiting {
            // Already with an operator (e.g. unmapped): the refund goes on its timeline, so
            // whoever resumes it sees it.
            orders::record_event(
                tx,
                order.id,
                Some(order.status),
                order.status,
                ACTOR,
                Some("【退款】买家申请退款，请人工核查后再处理"),
            )
            .await?;
            held += 1;
        } else if order.status != OrderStatus::Failed {
            let note = if succeeded {
                "【退款】买家已退款，但订单已处理，请人工核查"
            } else {
                "【退款】买家申请退款，但订单已处理，请人工核查"
            };
            // Not delivered yet: nothing is sent to Agiso any more; the operator decides.
            common::db::notify::stop(tx, order.id, "买家退款，未向阿奇索发货，请人工核查").await?;
            orders::record_event(
                tx,
                order.id,
                Some(order.status),
                order.status,
                ACTOR,
                Some(note),
            )
            .await?;
            tracing::warn!(
                event = "agiso_refund_after_fulfilment",
                order_id = order.id,
                "Agiso refund for an order already handled"
            );
            flagged += 1;
        }
    }
    Ok(format!(
        "退款：取消 {cancelled} 笔，暂停 {held} 笔，已处理待核查 {flagged} 笔"
    ))
}

/// Cancels the orders of an Agiso order the platform cancelled (JD `TRADE_CANCELED`), as a
/// refund does: those not yet fulfilled are failed and nothing is delivered for them.
pub async fn cancel_unfulfilled(
    pool: &Pool,
    shop: &AgisoShop,
    tid: &str,
) -> anyhow::Result<String> {
    let refund = Refund {
        tid: common::domain::PlatformOrderNo::parse(tid)?,
        oid: None,
        refund_id: None,
    };
    let mut tx = pool.begin().await?;
    let note = apply_refund(&mut tx, shop, &refund, true).await?;
    tx.commit().await?;
    Ok(format!("平台已取消订单；{note}"))
}
