//! Direct charge through upstream suppliers, against fake suppliers that are real HTTP servers
//! speaking docs/SUPPLIER_PROTOCOL.md and verifying our signatures: success with polling,
//! failover on a definite failure, timeout to manual, async and late callbacks, and recovery
//! after a crash between submit and recording (a status query, never a blind resubmit).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::db::Pool;
use common::domain::{OrderStatus, Platform};
use common::testing::fixtures::{Order, Product, Shop, StoredOrder, Supplier};
use system_tests::fake_supplier::{Behaviour, FakeSupplier};
use system_tests::{Proc, Stage, binary, free_port};

/// A logged supplier call: (attempt_no, url, http_status, outcome, request, response).
type Logged = (i32, String, Option<i16>, String, String, Option<String>);

struct Setup {
    stage: Stage,
    shop: u64,
    proc_: Proc,
}

impl Setup {
    async fn start(extra: &[(&str, &str)], before: impl AsyncFnOnce(&Pool)) -> Setup {
        let stage = Stage::new().await;
        let shop = Shop::jd_game("s", "1").insert(&stage.pool).await;
        before(&stage.pool).await;
        let port = free_port();
        let mut env = stage.env();
        env.push((
            "FULFILLMENT_PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ));
        env.push(("SUPPLIER_POLL_MIN_MS".into(), "100".into()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut proc_ = Proc::spawn_path(&binary("fulfillment"), &env, port);
        proc_.wait_ready(Duration::from_secs(30)).await;
        Setup { stage, shop, proc_ }
    }

    fn pool(&self) -> &Pool {
        &self.stage.pool
    }

    /// A new order through the real path (order row + outbox → broker → fulfillment).
    async fn order(&self, product: u64, no: &str) -> (u64, String) {
        let o = Order::new(
            Platform::JdGame,
            self.shop,
            no,
            common::domain::OrderKind::Direct,
            product,
        )
        .total_fen(10000)
        .account(Some("13800138000"))
        .create(self.pool(), "test")
        .await;
        (o.id, o.order_no.into_inner())
    }

    async fn finish(mut self) {
        self.proc_.terminate().await;
        self.stage.cleanup().await;
    }
}

/// A 游戏点卡 direct product `name` charged through suppliers, 100.00 each.
pub(crate) async fn product(pool: &Pool, name: &str) -> u64 {
    Product::direct_supplier(name)
        .face_value(10000)
        .price(Some(10000))
        .sku(Platform::JdGame, &format!("sku-{name}"))
        .insert(pool)
        .await
}

async fn supplier(pool: &Pool, name: &str, fake: &FakeSupplier) -> u64 {
    Supplier::new(name, &fake.url, &fake.merchant, &fake.secret)
        .timeout_ms(2000)
        .insert(pool)
        .await
}

/// A direct order as a crashed or busy process leaves it: `processing`, its row only (the test
/// writes its supplier row itself).
async fn processing_order(pool: &Pool, shop: u64, no: &str, product: u64) -> u64 {
    StoredOrder::new(
        Platform::JdGame,
        shop,
        no,
        common::domain::OrderKind::Direct,
        OrderStatus::Processing,
    )
    .product(product)
    .total_fen(10000)
    .account("acc")
    .insert(pool)
    .await
}

async fn link(pool: &Pool, product: u64, supplier: u64, priority: i32) {
    common::db::suppliers::link_product(
        pool,
        product,
        supplier,
        priority,
        &format!("UP-{supplier}"),
    )
    .await
    .unwrap();
}

async fn status_of(pool: &Pool, order: u64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
        .bind(order)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_status(pool: &Pool, order: u64, want: &str, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let s = status_of(pool, order).await;
        if s == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order} is {s}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (supplier_id, status, poll_count) of an order's supplier rows, in creation order.
async fn supplier_rows(pool: &Pool, order: u64) -> Vec<(u64, String, i32)> {
    sqlx::query_as("SELECT supplier_id, status, poll_count FROM supplier_orders WHERE order_id = ? ORDER BY id")
        .bind(order)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn count(pool: &Pool, sql: &'static str, order: u64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(order)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn success_is_polled_to_the_end_and_every_call_is_logged() {
    let a = FakeSupplier::start("MA", "secret-a-0123456789", Behaviour::Succeed { after: 2 }).await;
    let b = FakeSupplier::start("MB", "secret-b-0123456789", Behaviour::Succeed { after: 0 }).await;
    let ids = Arc::new(Mutex::new((0, 0, 0)));
    let ids2 = ids.clone();
    let (fa, fb) = (a.clone(), b.clone());
    let setup = Setup::start(&[], async move |pool: &Pool| {
        let p = product(pool, "P").await;
        let sa = supplier(pool, "A", &fa).await;
        let sb = supplier(pool, "B", &fb).await;
        link(pool, p, sb, 20).await;
        link(pool, p, sa, 10).await;
        // A product whose only supplier is disabled waits for an operator.
        let q = product(pool, "Q").await;
        link(pool, q, sb, 1).await;
        let sc = supplier(pool, "C", &fb).await;
        common::db::suppliers::set_enabled(pool, sc, false)
            .await
            .unwrap();
        let r = product(pool, "R").await;
        link(pool, r, sc, 1).await;
        *ids2.lock().unwrap() = (p, sa, r);
    })
    .await;
    let (p, sa, r) = *ids.lock().unwrap();
    let pool = setup.pool();

    let (order, order_no) = setup.order(p, "J1").await;
    wait_status(pool, order, "succeeded", Duration::from_secs(20)).await;
    assert_eq!(
        supplier_rows(pool, order).await,
        vec![(sa, "succeeded".into(), 2)]
    );
    assert_eq!(a.recharges(), 1);
    assert!(a.all_signed());
    assert_eq!(a.paths(), ["recharge", "query", "query"]);
    assert!(b.paths().is_empty(), "the second supplier is not asked");
    // What we sent.
    let first = a.received()[0].1.clone();
    assert_eq!(first["orderNo"], order_no.as_str());
    assert_eq!(first["sku"], format!("UP-{sa}").as_str());
    assert_eq!(first["account"], "13800138000");
    assert_eq!(first["quantity"], 1);
    assert_eq!(first["faceValueFen"], 10000);
    assert_eq!(
        first["callbackUrl"],
        setup.proc_.url("/api/supplier/callback").as_str()
    );
    // Every call logged like a callback, without the secret.
    let logged: Vec<Logged> = sqlx::query_as(
        "SELECT attempt_no, url, http_status, outcome, request_body, response_body
         FROM callback_attempts WHERE order_id = ? AND target = 'supplier' ORDER BY id",
    )
    .bind(order)
    .fetch_all(pool)
    .await
    .unwrap();
    let summary: Vec<(i32, String, Option<i16>, String)> = logged
        .iter()
        .map(|l| {
            (
                l.0,
                l.1.rsplit('/').next().unwrap().to_owned(),
                l.2,
                l.3.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "recharge".into(), Some(200), "processing".into()),
            (2, "query".into(), Some(200), "processing".into()),
            (3, "query".into(), Some(200), "success".into()),
        ]
    );
    assert!(logged.iter().all(|l| !l.4.contains("secret-a")));
    assert!(logged[2].5.as_deref().unwrap().contains("SUCCESS"));
    let note: String = sqlx::query_scalar(
        "SELECT note FROM order_events WHERE order_id = ? AND to_status = 'succeeded'",
    )
    .bind(order)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(note.contains("供应商「A」充值成功"), "{note}");
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'succeeded'",
            order
        )
        .await,
        1
    );

    // No enabled supplier: an operator recharges by hand.
    let (manual, _) = setup.order(r, "J2").await;
    wait_status(pool, manual, "awaiting_manual", Duration::from_secs(20)).await;
    let note: String = sqlx::query_scalar(
        "SELECT note FROM order_events WHERE order_id = ? AND to_status = 'awaiting_manual'",
    )
    .bind(manual)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(note, "等待人工充值（未配置可用的供应商）");
    assert!(supplier_rows(pool, manual).await.is_empty());
    setup.finish().await;
}

#[tokio::test]
async fn definite_failure_fails_over_by_priority_and_all_failing_fails_the_order() {
    let c = FakeSupplier::start("MC", "secret-c", Behaviour::Succeed { after: 0 }).await;
    let a = FakeSupplier::start("MA", "secret-a", Behaviour::NoBalance).await;
    let b = FakeSupplier::start("MB", "secret-b", Behaviour::Succeed { after: 1 }).await;
    let d = FakeSupplier::start("MD", "secret-d", Behaviour::NoBalance).await;
    let ids = Arc::new(Mutex::new((0, 0, 0, 0, 0)));
    let ids2 = ids.clone();
    let (fa, fb, fc, fd) = (a.clone(), b.clone(), c.clone(), d.clone());
    let setup = Setup::start(&[], async move |pool: &Pool| {
        let p = product(pool, "P").await;
        let sc = supplier(pool, "C", &fc).await;
        let sa = supplier(pool, "A", &fa).await;
        let sb = supplier(pool, "B", &fb).await;
        let sd = supplier(pool, "D", &fd).await;
        common::db::suppliers::set_enabled(pool, sc, false)
            .await
            .unwrap();
        link(pool, p, sc, 0).await; // disabled: never tried
        link(pool, p, sb, 2).await;
        link(pool, p, sa, 1).await;
        let q = product(pool, "Q").await;
        link(pool, q, sa, 1).await;
        link(pool, q, sd, 2).await;
        *ids2.lock().unwrap() = (p, q, sa, sb, sd);
    })
    .await;
    let (p, q, sa, sb, sd) = *ids.lock().unwrap();
    let pool = setup.pool();

    let (order, order_no) = setup.order(p, "J1").await;
    wait_status(pool, order, "succeeded", Duration::from_secs(20)).await;
    assert_eq!(
        supplier_rows(pool, order).await,
        vec![(sa, "failed".into(), 0), (sb, "succeeded".into(), 1)]
    );
    assert!(c.paths().is_empty(), "a disabled supplier is never asked");
    assert_eq!(a.paths(), ["recharge"]);
    assert_eq!(b.paths(), ["recharge", "query"]);
    assert_eq!(b.recharges(), 1);
    assert!(a.all_signed() && b.all_signed());
    assert_eq!(b.received()[0].1["orderNo"], order_no.as_str());
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT note FROM order_events WHERE order_id = ? AND from_status = 'processing' ORDER BY id",
    )
    .bind(order)
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(notes[0].contains("改由供应商「B」充值"), "{notes:?}");
    assert!(notes[0].contains("余额不足"), "{notes:?}");

    // Every supplier refuses for balance: the order fails with that reason, once.
    let (failed, _) = setup.order(q, "J2").await;
    wait_status(pool, failed, "failed", Duration::from_secs(20)).await;
    let (code, reason): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT failure_code, failure_reason FROM orders WHERE id = ?")
            .bind(failed)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(code.as_deref(), Some("supplier_balance"));
    assert_eq!(reason.as_deref(), Some("账户余额不足"));
    assert_eq!(
        supplier_rows(pool, failed).await,
        vec![(sa, "failed".into(), 0), (sd, "failed".into(), 0)]
    );
    // The completion message was written with the failure (relayed or still pending).
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'failed'",
            failed
        )
        .await,
        1
    );
    setup.finish().await;
}

#[tokio::test]
async fn timeout_goes_to_manual_and_a_late_callback_settles_it() {
    let a = FakeSupplier::start("MA", "secret-a", Behaviour::Hang).await;
    let b = FakeSupplier::start("MB", "secret-b", Behaviour::Succeed { after: 0 }).await;
    let ids = Arc::new(Mutex::new((0, 0)));
    let ids2 = ids.clone();
    let (fa, fb) = (a.clone(), b.clone());
    let setup = Setup::start(
        &[("SUPPLIER_DEADLINE_SECS", "2")],
        async move |pool: &Pool| {
            let p = product(pool, "P").await;
            let sa = supplier(pool, "A", &fa).await;
            let sb = supplier(pool, "B", &fb).await;
            link(pool, p, sa, 1).await;
            link(pool, p, sb, 2).await;
            *ids2.lock().unwrap() = (p, sa);
        },
    )
    .await;
    let (p, sa) = *ids.lock().unwrap();
    let pool = setup.pool();

    let (order, order_no) = setup.order(p, "J1").await;
    wait_status(pool, order, "awaiting_manual", Duration::from_secs(20)).await;
    let rows = supplier_rows(pool, order).await;
    assert_eq!(rows.len(), 1, "a timeout is not a failover: {rows:?}");
    assert_eq!((rows[0].0, rows[0].1.as_str()), (sa, "unknown"));
    assert!(rows[0].2 >= 3, "polled with backoff: {rows:?}");
    assert!(b.paths().is_empty());
    assert_eq!(a.recharges(), 1);
    assert!(a.all_signed());
    let note: String = sqlx::query_scalar(
        "SELECT note FROM order_events WHERE order_id = ? AND to_status = 'awaiting_manual'",
    )
    .bind(order)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(note.contains("未返回最终结果"), "{note}");
    // Polling stopped.
    let polls = a.paths().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(a.paths().len(), polls);

    // A forged callback (wrong secret) is refused and changes nothing.
    let (status, body) = a
        .callback(&order_no, "SUCCESS", None, "not-the-secret")
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("SIGN_INVALID")));
    assert_eq!(status_of(pool, order).await, "awaiting_manual");

    // The supplier's late callback: it did recharge, so the order succeeds (no manual recharge).
    let (status, body) = a.callback(&order_no, "SUCCESS", None, "secret-a").await;
    assert_eq!((status, body["code"].as_str()), (200, Some("OK")));
    assert_eq!(status_of(pool, order).await, "succeeded");
    // Repeated callback: answered OK, nothing changes twice.
    let (status, _) = a.callback(&order_no, "SUCCESS", None, "secret-a").await;
    assert_eq!(status, 200);
    assert_eq!(
        count(
            pool,
            "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'succeeded'",
            order
        )
        .await,
        1
    );
    assert_eq!(supplier_rows(pool, order).await[0].1, "succeeded");
    setup.finish().await;
}

#[tokio::test]
async fn async_callback_completes_a_processing_order() {
    let a = FakeSupplier::start("MA", "secret-a", Behaviour::Hang).await;
    let ids = Arc::new(Mutex::new(0));
    let ids2 = ids.clone();
    let fa = a.clone();
    // Slow polling: only the callback can finish the order within the test.
    let setup = Setup::start(
        &[("SUPPLIER_POLL_MIN_MS", "60000")],
        async move |pool: &Pool| {
            let p = product(pool, "P").await;
            let sa = supplier(pool, "A", &fa).await;
            link(pool, p, sa, 1).await;
            *ids2.lock().unwrap() = p;
        },
    )
    .await;
    let p = *ids.lock().unwrap();
    let pool = setup.pool();
    let (order, order_no) = setup.order(p, "J1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while supplier_rows(pool, order).await.first().map(|r| r.2) != Some(1) {
        assert!(tokio::time::Instant::now() < deadline, "never submitted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of(pool, order).await, "processing");
    let (status, body) = a.callback(&order_no, "SUCCESS", None, "secret-a").await;
    assert_eq!((status, body["code"].as_str()), (200, Some("OK")));
    assert_eq!(status_of(pool, order).await, "succeeded");
    assert_eq!(a.paths(), ["recharge"]);
    let no: Option<String> =
        sqlx::query_scalar("SELECT supplier_order_no FROM supplier_orders WHERE order_id = ?")
            .bind(order)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(no, Some(format!("S-{order_no}")));
    // A callback for an order we do not know is refused.
    let (status, _) = a
        .callback(
            "NO-SUCH-ORDER",
            "SUCCESS",
            Some(&setup.proc_.url("/api/supplier/callback")),
            "secret-a",
        )
        .await;
    assert_eq!(status, 401);
    setup.finish().await;
}

#[tokio::test]
async fn crash_between_submit_and_recording_leads_to_a_query_not_a_resubmit() {
    let a = FakeSupplier::start("MA", "secret-a", Behaviour::Succeed { after: 1 }).await;
    let b = FakeSupplier::start("MB", "secret-b", Behaviour::Succeed { after: 0 }).await;
    // Two orders left as a crashed process leaves them: processing, their row claimed
    // (`submitted`) but no answer recorded. A has the first (the submit got through) and not
    // the second (the process died before sending).
    a.seed("N1", "SUCCESS");
    let ids = Arc::new(Mutex::new((0, 0, 0)));
    let ids2 = ids.clone();
    let (fa, fb) = (a.clone(), b.clone());
    let setup = Setup::start(&[], async move |pool: &Pool| {
        let p = product(pool, "P").await;
        let sa = supplier(pool, "A", &fa).await;
        let sb = supplier(pool, "B", &fb).await;
        link(pool, p, sa, 1).await;
        link(pool, p, sb, 2).await;
        let shop: u64 = sqlx::query_scalar("SELECT id FROM shops LIMIT 1").fetch_one(pool).await.unwrap();
        let mut orders = Vec::new();
        for no in ["N1", "N2"] {
            let id = processing_order(pool, shop, no, p).await;
            sqlx::query(
                "INSERT INTO supplier_orders (order_id, supplier_id, status, next_poll_at, deadline_at)
                 VALUES (?, ?, 'submitted', NOW(3), NOW(3) + INTERVAL 600 SECOND)",
            )
            .bind(id)
            .bind(sa)
            .execute(pool)
            .await
            .unwrap();
            orders.push(id);
        }
        *ids2.lock().unwrap() = (orders[0], orders[1], sa);
    })
    .await;
    let (n1, n2, sa) = *ids.lock().unwrap();
    let pool = setup.pool();
    wait_status(pool, n1, "succeeded", Duration::from_secs(20)).await;
    wait_status(pool, n2, "succeeded", Duration::from_secs(20)).await;
    let calls: Vec<(String, String)> = a
        .received()
        .iter()
        .map(|l| (l.0.clone(), l.1["orderNo"].as_str().unwrap().to_owned()))
        .collect();
    // N1: asked, found done — never submitted again. N2: asked, unknown, so submitted to the
    // same supplier (idempotent on the order number), then polled to success.
    let of = |no: &str| {
        calls
            .iter()
            .filter(|c| c.1 == no)
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("N1"), ["query"]);
    assert_eq!(of("N2"), ["query", "recharge", "query"]);
    assert!(
        b.paths().is_empty(),
        "never a blind resubmit to another supplier"
    );
    assert_eq!(
        supplier_rows(pool, n1).await,
        vec![(sa, "succeeded".into(), 0)]
    );
    setup.finish().await;
}

/// An operator's manual result and the supplier submit never race: the submit re-checks the
/// order under its row lock. Here an operator holds the order (as the admin's 手动失败 does,
/// `orders::lock`) while the poller claims the order's due row; the poller must wait for that
/// lock rather than submit from a stale read, and once the operator has failed the order (JD
/// refunds), nothing is ever sent to the supplier.
#[tokio::test]
async fn an_order_finished_by_an_operator_before_submit_is_never_submitted() {
    let a = FakeSupplier::start("MA", "secret-a", Behaviour::Succeed { after: 0 }).await;
    let ids = Arc::new(Mutex::new(0));
    let ids2 = ids.clone();
    let fa = a.clone();
    let setup = Setup::start(&[], async move |pool: &Pool| {
        let p = product(pool, "P").await;
        let sa = supplier(pool, "A", &fa).await;
        link(pool, p, sa, 1).await;
        let shop: u64 = sqlx::query_scalar("SELECT id FROM shops LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
        // Queued for the supplier (processing, its row pending) but not due yet.
        let id = processing_order(pool, shop, "K1", p).await;
        sqlx::query(
            "INSERT INTO supplier_orders (order_id, supplier_id, status, next_poll_at, deadline_at)
             VALUES (?, ?, 'pending', NOW(3) + INTERVAL 1 HOUR, NOW(3) + INTERVAL 600 SECOND)",
        )
        .bind(id)
        .bind(sa)
        .execute(pool)
        .await
        .unwrap();
        *ids2.lock().unwrap() = id;
    })
    .await;
    let order = *ids.lock().unwrap();
    let pool = setup.pool();

    // The operator's transaction takes the order's lock.
    let mut operator = pool.begin().await.unwrap();
    let locked = common::db::orders::lock(&mut operator, order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(locked.status, OrderStatus::Processing);
    // The row falls due; the poller claims it.
    sqlx::query("UPDATE supplier_orders SET next_poll_at = NOW(3) WHERE order_id = ?")
        .bind(order)
        .execute(pool)
        .await
        .unwrap();
    // Either the poller now waits for the order's lock (statement of this database's
    // connections, visible to the same user), or it sent the recharge from a stale read.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID()
               AND INFO LIKE '%FROM orders WHERE id = ? FOR UPDATE%'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 || a.paths().iter().any(|p| p == "recharge") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poller neither waited for the order nor submitted it"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // 手动失败: the order fails (JD will refund).
    common::db::orders::finish_failed(
        &mut operator,
        common::db::orders::Ending::here(order, Platform::JdGame),
        common::domain::OrderStatus::Processing,
        common::domain::FailureReason::UpstreamFailed,
        "人工处理：充值失败",
        "operator:test",
    )
    .await
    .unwrap();
    operator.commit().await.unwrap();

    // The poller finds the order settled and closes the row without calling the supplier.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while supplier_rows(pool, order).await[0].1 == "submitted"
        || supplier_rows(pool, order).await[0].1 == "pending"
    {
        assert!(tokio::time::Instant::now() < deadline, "row still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(supplier_rows(pool, order).await[0].1, "unknown");
    assert_eq!(status_of(pool, order).await, "failed");
    assert!(
        !a.paths().iter().any(|p| p == "recharge"),
        "a failed (refunded) order was submitted: {:?}",
        a.paths()
    );
    assert_eq!(a.recharges(), 0);
    setup.finish().await;
}
