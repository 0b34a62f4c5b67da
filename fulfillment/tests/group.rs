//! One path for one order or a group: a group of card orders, fulfilled in one transaction,
//! ends exactly as the same orders fulfilled one by one in arrival order (statuses, cards,
//! timeline rows, outbox rows), against real MariaDB.

use std::collections::BTreeMap;
use std::time::Duration;

use common::db::Pool;
use common::domain::{FulfilmentMode, OrderKind, OrderStatus, Platform, StockPolicy};
use common::mq::Event;
use common::mq::outbox::OutboxSignal;
use common::testing::fixtures::{self, Product, Shop, StoredOrder};
use common::testing::{TestDb, master_key};
use fulfillment::Fulfiller;
use fulfillment::outcome::Outcome;
use fulfillment::process::{Job, fulfil, fulfil_group};
use fulfillment::stock::{Alerts, LowStockQueue};
use fulfillment::supplier::Suppliers;

fn fulfiller(pool: &Pool) -> Fulfiller {
    Fulfiller {
        db: pool.clone(),
        outbox: OutboxSignal::default(),
        alerts: Alerts::new(None),
        low_stock: LowStockQueue::default(),
        suppliers: Suppliers::new(
            Duration::from_secs(600),
            Duration::from_secs(2),
            None,
            master_key(),
            10,
        ),
    }
}

async fn product(
    pool: &Pool,
    name: &str,
    mode: FulfilmentMode,
    policy: StockPolicy,
    cards: usize,
) -> u64 {
    let id = Product::new(name, mode)
        .face_value(100)
        .price(Some(100))
        .sku(Platform::JdGame, &format!("sku-{name}"))
        .when_out_of_stock(policy, 3600)
        .insert(pool)
        .await;
    if cards > 0 {
        let r =
            fixtures::import_cards(pool, id, name, &fixtures::numbered_cards(name, cards)).await;
        assert_eq!(r.new, cards);
    }
    id
}

/// An order row as it stands in `status`, without timeline or outbox rows: the snapshots
/// compare exactly what fulfilment writes.
async fn order(
    pool: &Pool,
    shop: u64,
    no: &str,
    kind: OrderKind,
    product: u64,
    q: i32,
    status: OrderStatus,
) -> u64 {
    StoredOrder::new(Platform::JdGame, shop, no, kind, status)
        .product(product)
        .quantity(q)
        .account("acc")
        .insert(pool)
        .await
}

/// The same orders and stock on a fresh database; returns the ids of the orders to fulfil.
async fn scenario(pool: &Pool) -> Vec<u64> {
    let shop = Shop::jd_game("s", "1").insert(pool).await;
    let plain = product(pool, "E", FulfilmentMode::Card, StockPolicy::Fail, 3).await;
    let failing = product(pool, "F", FulfilmentMode::Card, StockPolicy::Fail, 2).await;
    let waiting = product(pool, "W", FulfilmentMode::Card, StockPolicy::Wait, 2).await;
    let queued = product(pool, "Q", FulfilmentMode::Card, StockPolicy::Wait, 1).await;
    let manual = product(
        pool,
        "M",
        FulfilmentMode::DirectManual,
        StockPolicy::Fail,
        0,
    )
    .await;
    // Already waiting for Q before this group: the new Q order queues behind it.
    order(
        pool,
        shop,
        "Q0",
        OrderKind::Card,
        queued,
        2,
        OrderStatus::AwaitingStock,
    )
    .await;
    let mut ids = Vec::new();
    for (no, kind, p, q) in [
        ("E1", OrderKind::Card, plain, 2),
        ("F1", OrderKind::Card, failing, 3),
        ("F2", OrderKind::Card, failing, 1),
        ("W1", OrderKind::Card, waiting, 1),
        ("W2", OrderKind::Card, waiting, 2),
        ("W3", OrderKind::Card, waiting, 1),
        ("Q1", OrderKind::Card, queued, 1),
        ("M1", OrderKind::Direct, manual, 1),
        ("X1", OrderKind::Direct, plain, 1),
    ] {
        ids.push(order(pool, shop, no, kind, p, q, OrderStatus::Received).await);
    }
    ids
}

type OrderState = (
    String,
    Option<String>,
    // Whether the platform's first callback / delivery is scheduled.
    bool,
    Vec<u64>,
    Vec<(Option<String>, String, String, Option<String>)>,
);

/// Everything fulfilment writes, by platform order number.
async fn snapshot(pool: &Pool) -> (BTreeMap<String, OrderState>, Vec<(String, String)>) {
    let rows: Vec<(u64, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, platform_order_no, status, failure_code,
                CAST(notify_next_at IS NOT NULL AS SIGNED) FROM orders ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut orders = BTreeMap::new();
    let mut nos = BTreeMap::new();
    for (id, no, status, failure, scheduled) in rows {
        let cards: Vec<u64> =
            sqlx::query_scalar("SELECT id FROM cards WHERE order_id = ? ORDER BY id")
                .bind(id)
                .fetch_all(pool)
                .await
                .unwrap();
        let events = sqlx::query_as(
            "SELECT from_status, to_status, actor, note FROM order_events WHERE order_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
        nos.insert(id, no.clone());
        orders.insert(no, (status, failure, scheduled != 0, cards, events));
    }
    let mut outbox: Vec<(String, String)> =
        sqlx::query_as::<_, (String, String)>("SELECT routing_key, payload FROM outbox")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(key, payload)| {
                let e = Event::parse(payload.as_bytes()).unwrap();
                (key, nos[&e.order_id].clone())
            })
            .collect();
    outbox.sort();
    (orders, outbox)
}

#[tokio::test]
async fn a_group_ends_as_its_orders_one_by_one() {
    let (db_group, group_pool) = TestDb::migrated().await;
    let (db_single, single_pool) = TestDb::migrated().await;
    let group_ids = scenario(&group_pool).await;
    let single_ids = scenario(&single_pool).await;
    assert_eq!(group_ids, single_ids);

    let grouped = fulfil_group(&fulfiller(&group_pool), &jobs(&group_ids))
        .await
        .unwrap();
    let ctx = fulfiller(&single_pool);
    let mut single = Vec::new();
    for id in &single_ids {
        single.push(fulfil(&ctx, *id).await.unwrap());
    }
    let grouped: Vec<Outcome> = group_ids.iter().map(|id| grouped[id]).collect();
    assert_eq!(grouped, single);
    use Outcome::*;
    assert_eq!(
        single,
        [
            Succeeded,      // E1: plain
            Failed,         // F1: 3 wanted, 2 in stock
            Succeeded,      // F2: the smaller order after it still gets its card
            Succeeded,      // W1
            AwaitingStock,  // W2: 2 wanted, 1 left
            AwaitingStock,  // W3: queues behind W2 though a card is left
            AwaitingStock,  // Q1: queues behind the older Q0
            AwaitingManual, // M1: direct_manual
            AwaitingManual, // X1: a direct order of a card product
        ]
    );
    let (group_state, group_outbox) = snapshot(&group_pool).await;
    let (single_state, single_outbox) = snapshot(&single_pool).await;
    assert_eq!(group_state, single_state);
    assert_eq!(group_outbox, single_outbox);
    assert_eq!(group_state["E1"].3.len(), 2);
    // A final status schedules the platform's first callback in the same statement; waiting
    // orders are not scheduled.
    let scheduled: Vec<(&str, bool)> = group_state
        .iter()
        .map(|(no, state)| (no.as_str(), state.2))
        .collect();
    assert_eq!(
        scheduled,
        [
            ("E1", true),
            ("F1", true),
            ("F2", true),
            ("M1", false),
            ("Q0", false),
            ("Q1", false),
            ("W1", true),
            ("W2", false),
            ("W3", false),
            ("X1", false),
        ]
    );
    assert_eq!(
        group_state["E1"].4,
        vec![(
            Some("received".into()),
            "succeeded".into(),
            "fulfillment".into(),
            Some("发出 2 张卡密".into())
        )]
    );
    assert_eq!(group_outbox.len(), 4, "{group_outbox:?}");

    // Repeated messages: the waiting orders try again (W3 now gets the card left), the others
    // are left alone; the same either way.
    let again = fulfil_group(&fulfiller(&group_pool), &jobs(&group_ids))
        .await
        .unwrap();
    let mut single_again = Vec::new();
    for id in &single_ids {
        single_again.push(fulfil(&ctx, *id).await.unwrap());
    }
    let again: Vec<Outcome> = group_ids.iter().map(|id| again[id]).collect();
    assert_eq!(again, single_again);
    assert_eq!(again[5], Succeeded);
    assert_eq!(snapshot(&group_pool).await, snapshot(&single_pool).await);

    group_pool.close().await;
    single_pool.close().await;
    db_group.drop_database().await;
    db_single.drop_database().await;
}

fn jobs(ids: &[u64]) -> Vec<Job> {
    ids.iter().map(|id| Job::here(*id)).collect()
}
