//! Foundation guarantees: schema, topology, outbox crash safety, guarded transitions, service
//! start-up, readiness and configuration errors.

use std::process::{Command, Stdio};
use std::time::Duration;

use common::db::orders::{self, OrderError};
use common::domain::{OrderStatus, Platform, TransitionError};
use common::mq::publisher::{Outgoing, PublishError, Publisher};
use common::mq::{Event, EventType, Mq, QueueName, Topology};
use common::testing::fixtures::{Shop, StoredOrder};
use common::testing::{TEST_MASTER_KEY, TestDb, amqp_url, unique};
use system_tests::{Proc, SERVICES, Stage, binary, drain_queue};

fn secret(s: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(s.to_owned())
}

const TABLES: [&str; 25] = [
    "admin_users",
    "agiso_events",
    "agiso_orders",
    "agiso_poll_marks",
    "audit_log",
    "callback_attempts",
    "card_batches",
    "card_import_draft_parts",
    "card_import_drafts",
    "cards",
    "dead_letters",
    "login_rate",
    "order_events",
    "orders",
    "outbox",
    "product_skus",
    "product_suppliers",
    "products",
    "service_heartbeats",
    "sessions",
    "settings",
    "shops",
    "stock_alerts",
    "supplier_orders",
    "suppliers",
];

#[tokio::test]
async fn migrations_apply_twice_on_a_fresh_database() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let key = common::testing::master_key();
    common::db::migrate(&pool, Some(&key), false)
        .await
        .expect("first run");
    common::db::migrate(&pool, Some(&key), false)
        .await
        .expect("second run is a no-op");
    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables
         WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    tables.sort();
    assert_eq!(tables, TABLES);
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(applied as usize, common::db::MIGRATOR.iter().count());
    pool.close().await;
    db.drop_database().await;
}

/// Values stored before they were bound to their row and column (version 1 blobs) are re-sealed
/// by the migration, once; afterwards a value moved to another row or column no longer opens.
#[tokio::test]
async fn migration_reseals_old_values_for_their_row_and_column() {
    use common::crypto::{RowKey, SealedColumn, Slot};
    use common::db::shops::{self, ShopSecret};
    let db = TestDb::create().await;
    let pool = db.pool().await;
    // Schema only: without the key nothing is re-sealed. The rows below are written raw on
    // purpose: they hold values in the old format, which no writer produces any more.
    common::db::migrate(&pool, None, false).await.unwrap();
    let key = common::testing::master_key();
    let legacy = |v: &str| key.seal_legacy_for_tests(v.as_bytes());
    sqlx::query(
        "INSERT INTO shops (id, platform, name, merchant_id, md5_key_enc, aes_key_enc)
         VALUES (1, 'jd_general', '甲', 'm1', ?, ?), (2, 'jd_general', '乙', 'm2', ?, NULL)",
    )
    .bind(legacy("md5-of-shop-1"))
    .bind(legacy("aes-of-shop-1-0123456789abcdef01"))
    .bind(legacy("md5-of-shop-2"))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO suppliers (id, name, base_url, merchant_id, secret_enc)
         VALUES (7, '上游', 'http://127.0.0.1:1', 'm', ?)",
    )
    .bind(legacy("supplier-secret"))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO products (id, name, mode) VALUES (1, '卡', 'card')")
        .execute(&pool)
        .await
        .unwrap();
    let cards = [("NO-1", "PW-1", [1u8; 32]), ("NO-2", "PW-2", [2u8; 32])];
    for (no, pw, fp) in &cards {
        sqlx::query(
            "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint)
             VALUES (1, 'b', ?, ?, ?)",
        )
        .bind(legacy(no))
        .bind(legacy(pw))
        .bind(fp.as_slice())
        .execute(&pool)
        .await
        .unwrap();
    }
    let draft = "d".repeat(32);
    sqlx::query(
        "INSERT INTO card_import_drafts (id, user_id, product_id, source, total_lines, new_cards,
            dup_in_file, dup_in_stock, invalid, expires_at)
         VALUES (?, 1, 1, '粘贴', 2, 2, 0, 0, 0, NOW(3) + INTERVAL 1 HOUR)",
    )
    .bind(&draft)
    .execute(&pool)
    .await
    .unwrap();
    for seq in [0, 1] {
        sqlx::query(
            "INSERT INTO card_import_draft_parts (draft_id, seq, cards_enc) VALUES (?, ?, ?)",
        )
        .bind(&draft)
        .bind(seq)
        .bind(legacy(&format!("part {seq}")))
        .execute(&pool)
        .await
        .unwrap();
    }
    // A value that was never readable with this key stays as it is.
    let foreign = common::crypto::MasterKey::from_bytes([9; 32]).seal_legacy_for_tests(b"x");
    sqlx::query("UPDATE shops SET private_key_enc = ? WHERE id = 2")
        .bind(&foreign)
        .execute(&pool)
        .await
        .unwrap();

    // Old values are not read by the services' code.
    let shop1 = shops::get(&pool, 1).await.unwrap().unwrap();
    assert!(shop1.secret(&key, ShopSecret::Md5Key).is_err());

    // Started with another key: nothing opens, so nothing is touched or marked done (the
    // import draft, sealed the old way, is dropped whatever the key).
    let wrong = common::crypto::MasterKey::from_bytes([5; 32]);
    let r = common::db::migrate(&pool, Some(&wrong), false)
        .await
        .unwrap();
    assert_eq!(
        (r.resealed, r.unreadable, r.drafts_dropped),
        (0, 9, 1),
        "{r:?}"
    );
    assert!(shop1.md5_key_enc.as_ref().unwrap()[0] == 1);
    let still_old = shops::get(&pool, 1).await.unwrap().unwrap();
    assert_eq!(still_old.md5_key_enc, shop1.md5_key_enc);

    let r = common::db::migrate(&pool, Some(&key), false).await.unwrap();
    // Shop 1's two keys, shop 2's MD5 key, the supplier, two cards' number and password.
    assert_eq!(
        (r.resealed, r.unreadable, r.drafts_dropped),
        (8, 1, 0),
        "{r:?}"
    );
    let shop1 = shops::get(&pool, 1).await.unwrap().unwrap();
    let shop2 = shops::get(&pool, 2).await.unwrap().unwrap();
    assert_eq!(
        shop1.secret(&key, ShopSecret::Md5Key).unwrap().as_deref(),
        Some("md5-of-shop-1")
    );
    assert_eq!(
        shop1.secret(&key, ShopSecret::AesKey).unwrap().as_deref(),
        Some("aes-of-shop-1-0123456789abcdef01")
    );
    assert_eq!(
        shop2.secret(&key, ShopSecret::Md5Key).unwrap().as_deref(),
        Some("md5-of-shop-2")
    );
    assert_eq!(shop2.secret(&key, ShopSecret::AesKey).unwrap(), None);
    assert_eq!(shop2.private_key_enc.as_deref(), Some(foreign.as_slice()));
    let supplier = common::db::suppliers::get(&pool, 7).await.unwrap().unwrap();
    assert_eq!(supplier.secret(&key).unwrap(), "supplier-secret");
    let stored: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT fingerprint, card_no_enc, card_pass_enc FROM cards ORDER BY fingerprint",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for ((fp, no, pw), (want_no, want_pw, _)) in stored.iter().zip(&cards) {
        let open = |c, b| common::db::cards::open(&key, c, 1, fp, b).unwrap();
        assert_eq!(open(SealedColumn::CardNo, no), *want_no);
        assert_eq!(open(SealedColumn::CardPassword, pw), *want_pw);
    }
    // A pending import draft sealed the old way is dropped (the operator previews again).
    let drafts: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM card_import_drafts)
              + (SELECT COUNT(*) FROM card_import_draft_parts)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(drafts, 0);

    // Moved to another row, product or column, a re-sealed value no longer opens.
    let (fp1, _, pw1) = &stored[0];
    let fp2 = &stored[1].0;
    let open = |c, product, fp: &[u8], b: &[u8]| common::db::cards::open(&key, c, product, fp, b);
    assert!(open(SealedColumn::CardPassword, 1, fp2, pw1).is_err());
    assert!(open(SealedColumn::CardPassword, 2, fp1, pw1).is_err());
    assert!(open(SealedColumn::CardNo, 1, fp1, pw1).is_err());
    assert!(open(SealedColumn::CardPassword, 1, fp1, pw1).is_ok());
    let md5_1 = shop1.md5_key_enc.clone().unwrap();
    assert!(
        key.open(Slot::new(SealedColumn::ShopMd5Key, RowKey::Id(2)), &md5_1)
            .is_err()
    );
    assert!(
        key.open(Slot::new(SealedColumn::ShopAesKey, RowKey::Id(1)), &md5_1)
            .is_err()
    );

    // An unreadable value keeps the work unfinished: the next start looks again. Once the
    // operator has replaced it, the re-sealing is marked done.
    let marked = "SELECT COUNT(*) FROM settings WHERE name = 'at_rest_sealed_v2'";
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool);
    assert_eq!(count(marked).await.unwrap(), 0);
    let r = common::db::migrate(&pool, Some(&key), false).await.unwrap();
    assert_eq!((r.resealed, r.unreadable), (0, 1));
    assert_eq!(count(marked).await.unwrap(), 0);
    sqlx::query("UPDATE shops SET private_key_enc = NULL WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    let r = common::db::migrate(&pool, Some(&key), false).await.unwrap();
    assert_eq!((r.resealed, r.unreadable), (0, 0));
    assert_eq!(count(marked).await.unwrap(), 1);

    // Done once: a later start does not scan again; `admin migrate --reseal` (force) does.
    sqlx::query("UPDATE suppliers SET secret_enc = ? WHERE id = 7")
        .bind(legacy("late-secret"))
        .execute(&pool)
        .await
        .unwrap();
    common::db::migrate(&pool, Some(&key), false).await.unwrap();
    let supplier = common::db::suppliers::get(&pool, 7).await.unwrap().unwrap();
    assert!(supplier.secret(&key).is_err());
    common::db::migrate(&pool, Some(&key), true).await.unwrap();
    let supplier = common::db::suppliers::get(&pool, 7).await.unwrap().unwrap();
    assert_eq!(supplier.secret(&key).unwrap(), "late-secret");
    pool.close().await;
    db.drop_database().await;
}

/// The domain enums map to their text columns through a real server: written as text, read
/// back as the enum, and an unknown stored value is a decode error naming the type.
#[tokio::test]
async fn domain_enums_round_trip_as_text_and_unknown_values_are_errors() {
    use common::domain::OrderKind;
    let db = TestDb::create().await;
    let pool = db.pool().await;
    let (text, status): (String, OrderStatus) =
        sqlx::query_as("SELECT CAST(? AS CHAR), CAST(? AS CHAR)")
            .bind(OrderKind::Card)
            .bind("awaiting_manual")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(text, "card");
    assert_eq!(status, OrderStatus::AwaitingManual);
    let bad: Result<(OrderStatus,), _> = sqlx::query_as("SELECT 'no_such_status'")
        .fetch_one(&pool)
        .await;
    let err = bad
        .expect_err("an unknown value must not decode")
        .to_string();
    assert!(err.contains("OrderStatus"), "{err}");
    pool.close().await;
    db.drop_database().await;
}

/// The row types hold the enums and newtypes: an order reads back typed (numbers, kind, status,
/// failure), the supporting tables' closed sets round-trip, and a row holding a value this
/// version does not know fails the read instead of reaching code that would guess.
#[tokio::test]
async fn rows_read_typed_and_an_unknown_stored_value_fails_the_read() {
    use common::domain::{
        AttemptOutcome, CallbackTarget, DeadLetterStatus, DraftStatus, FailureReason, NotifyStatus,
        OrderKind, OrderNo, PlatformOrderNo, StockPolicy, SupplierOrderStatus,
    };
    let (db, pool) = TestDb::migrated().await;
    let id = insert_order(&pool, OrderStatus::Failed).await;
    sqlx::query("UPDATE orders SET failure_code = ? WHERE id = ?")
        .bind(FailureReason::OutOfStock)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let order = orders::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(order.platform, Platform::JdGeneral);
    assert_eq!(order.order_kind, OrderKind::Card);
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(order.failure_code, Some(FailureReason::OutOfStock));
    assert_eq!(order.notify_status, NotifyStatus::Pending);
    assert_eq!(
        order.platform_order_no,
        PlatformOrderNo::parse("10001").unwrap()
    );
    let found = orders::find_by_platform_no(
        &pool,
        Platform::JdGeneral,
        order.shop_id,
        &order.platform_order_no,
    )
    .await
    .unwrap()
    .expect("found by its platform number");
    assert_eq!(found.id, id);
    let no: OrderNo = sqlx::query_scalar("SELECT order_no FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(no, order.order_no);

    let read: (String, String, String, String, String, String) =
        sqlx::query_as("SELECT CAST(? AS CHAR), CAST(? AS CHAR), CAST(? AS CHAR), CAST(? AS CHAR), CAST(? AS CHAR), CAST(? AS CHAR)")
            .bind(StockPolicy::Wait)
            .bind(SupplierOrderStatus::Submitted)
            .bind(CallbackTarget::Supplier)
            .bind(AttemptOutcome::NotFound)
            .bind(DeadLetterStatus::Discarded)
            .bind(DraftStatus::Committed)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        read,
        (
            "wait".into(),
            "submitted".into(),
            "supplier".into(),
            "not_found".into(),
            "discarded".into(),
            "committed".into()
        )
    );

    sqlx::query("UPDATE orders SET order_kind = 'gift' WHERE id = ?")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let err = orders::get(&pool, id)
        .await
        .expect_err("an unknown order kind must not be read");
    assert!(err.to_string().contains("OrderKind"), "{err}");
    pool.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn topology_is_declared_twice_and_routes_by_platform() {
    let prefix = unique("t") + ".";
    let topo = Topology::new(prefix.clone());
    let first = Mq::connect(
        secret(&amqp_url()),
        "test-1",
        topo.clone(),
        Duration::from_secs(10),
    )
    .await
    .expect("first declaration");
    let second = Mq::connect(
        secret(&amqp_url()),
        "test-2",
        topo.clone(),
        Duration::from_secs(10),
    )
    .await
    .expect("second declaration with the same arguments");
    // Declaring again on a live connection is also fine.
    let ch = second.channel().await.unwrap();
    topo.declare(&ch).await.expect("third declaration");

    let publisher = Publisher::new(first.clone());
    let events = [
        Event::new(EventType::OrderCreated, 1, Platform::JdGeneral),
        Event::new(EventType::OrderCompleted, 2, Platform::JdGame),
        Event::new(EventType::OrderCompleted, 3, Platform::Agiso),
    ];
    let msgs: Vec<Outgoing> = events
        .iter()
        .map(|e| Outgoing {
            message_id: e.event_id.to_string(),
            routing_key: e.routing_key(),
            payload: e.to_json().into_bytes(),
            traceparent: None,
        })
        .collect();
    let results = publisher.publish_batch(&msgs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    for (queue, event) in [
        (QueueName::FulfillmentOrders, &events[0]),
        (QueueName::NotifierCallbacks, &events[1]),
        (QueueName::AgisoDeliveries, &events[2]),
    ] {
        let got = drain_queue(&topo.queue(queue), 2, Duration::from_secs(3)).await;
        assert_eq!(got.len(), 1, "{queue:?}");
        assert_eq!(
            got[0].0.as_deref(),
            Some(event.event_id.to_string().as_str())
        );
        assert_eq!(&Event::parse(&got[0].1).unwrap(), event);
    }

    // `mandatory`: a message no queue takes is an error, not a silent loss.
    let lost = Outgoing {
        message_id: "x".into(),
        routing_key: "order.unknown.jd_general".into(),
        payload: b"{}".to_vec(),
        traceparent: None,
    };
    let r = publisher.publish_batch(&[lost]).await;
    assert!(matches!(r[0], Err(PublishError::Unroutable(_))), "{r:?}");

    first.close().await;
    second.close().await;
    common::testing::delete_topology(&prefix).await;
}

/// The relay is killed after the broker confirmed and before the outbox row was deleted: the
/// message is in the queue, and the restarted relay publishes it again with the same message id.
#[tokio::test]
async fn outbox_relay_killed_between_publish_and_delete_still_delivers() {
    let stage = Stage::new().await;
    let event = Event::new(EventType::OrderCreated, 77, Platform::JdGeneral);
    let mut tx = stage.pool.begin().await.unwrap();
    common::mq::outbox::enqueue(&mut tx, std::slice::from_ref(&event))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut env = stage.env();
    env.push(("OUTBOX_FAILPOINT".into(), "abort-after-publish".into()));
    let mut crashing = Proc::spawn("gateway", &env);
    let status = crashing.wait_exit(Duration::from_secs(30)).await;
    assert!(!status.success(), "the failpoint aborts the process");

    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&stage.pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the row survives the crash");

    let queue = Topology::new(stage.prefix.clone()).queue(QueueName::FulfillmentOrders);
    let first = drain_queue(&queue, 5, Duration::from_secs(2)).await;
    assert_eq!(first.len(), 1, "published before the crash");

    // The crashed relay's claim expires after its lease (shortened here), then the row is
    // published again.
    let mut env = stage.env();
    env.push(("OUTBOX_LEASE_MS".into(), "1000".into()));
    let mut relay = Proc::spawn("gateway", &env);
    relay.wait_ready(Duration::from_secs(30)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&stage.pool)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = drain_queue(&queue, 5, Duration::from_secs(2)).await;
    assert_eq!(second.len(), 1, "published once more after the restart");
    let id = event.event_id.to_string();
    assert_eq!(first[0].0.as_deref(), Some(id.as_str()));
    assert_eq!(
        second[0].0.as_deref(),
        Some(id.as_str()),
        "a re-delivery carries the same message id"
    );
    assert_eq!(first[0].1, second[0].1);
    relay.terminate().await;
    stage.cleanup().await;
}

/// An order row in `status`, without history: the transitions under test write the timeline.
async fn insert_order(pool: &common::db::Pool, status: OrderStatus) -> u64 {
    let shop = Shop::jd_general(&unique("shop"), &unique(""))
        .insert(pool)
        .await;
    StoredOrder::new(
        Platform::JdGeneral,
        shop,
        "10001",
        common::domain::OrderKind::Card,
        status,
    )
    .order_no(&unique("N"))
    .sku("45001")
    .total_fen(10000)
    .insert(pool)
    .await
}

#[tokio::test]
async fn transitions_are_guarded_and_recorded() {
    let (db, pool) = TestDb::migrated().await;
    let id = insert_order(&pool, OrderStatus::Received).await;

    let mut tx = pool.begin().await.unwrap();
    orders::transition(
        &mut tx,
        id,
        OrderStatus::Received,
        OrderStatus::Processing,
        "test",
        Some("start"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Illegal by the state machine: nothing changes.
    let mut tx = pool.begin().await.unwrap();
    let err = orders::transition(
        &mut tx,
        id,
        OrderStatus::Processing,
        OrderStatus::Received,
        "test",
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, OrderError::Transition(TransitionError::Illegal { .. })),
        "{err:?}"
    );
    // Legal but stale: the row is no longer in the expected status.
    let err = orders::transition(
        &mut tx,
        id,
        OrderStatus::Received,
        OrderStatus::Failed,
        "test",
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, OrderError::Transition(TransitionError::Stale { .. })),
        "{err:?}"
    );
    orders::transition(
        &mut tx,
        id,
        OrderStatus::Processing,
        OrderStatus::Succeeded,
        "test",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let err = orders::transition(
        &mut tx,
        id,
        OrderStatus::Succeeded,
        OrderStatus::Failed,
        "test",
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        OrderError::Transition(TransitionError::Illegal { .. })
    ));
    tx.rollback().await.unwrap();

    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "succeeded");
    let completed: Option<chrono::NaiveDateTime> =
        sqlx::query_scalar("SELECT completed_at FROM orders WHERE id = ?")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(completed.is_some());
    let events = orders::events(&pool, id).await.unwrap();
    let path: Vec<_> = events
        .iter()
        .map(|e| (e.from_status, e.to_status))
        .collect();
    assert_eq!(
        path,
        vec![
            (Some(OrderStatus::Received), OrderStatus::Processing),
            (Some(OrderStatus::Processing), OrderStatus::Succeeded)
        ]
    );
    assert_eq!(events[0].note.as_deref(), Some("start"));
    pool.close().await;
    db.drop_database().await;
}

/// A service that cannot listen (its port taken) exits 1 and leaves no heartbeat row behind:
/// the dashboard never shows an instance that never ran.
#[tokio::test]
async fn a_service_that_cannot_listen_leaves_no_heartbeat() {
    let db = TestDb::create().await;
    let prefix = unique("t") + ".";
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(binary("notifier"))
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("AMQP_URL", amqp_url())
        .env("MASTER_KEY", TEST_MASTER_KEY)
        .env("MQ_PREFIX", &prefix)
        .env("RUST_LOG", "warn")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot listen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = db.pool().await;
    let beats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_heartbeats")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(beats, 0, "the failed start removed its heartbeat");
    drop(taken);
    pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
}

/// All five binaries start together on a fresh database (racing on the migrations), report
/// ready, serve health and metrics, and stop cleanly on SIGTERM.
#[tokio::test]
async fn every_binary_starts_ready_and_stops_on_sigterm() {
    let db = TestDb::create().await;
    let prefix = unique("t") + ".";
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("AMQP_URL".into(), amqp_url()),
        ("MASTER_KEY".into(), TEST_MASTER_KEY.into()),
        ("MQ_PREFIX".into(), prefix.clone()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    let mut procs: Vec<(&str, Proc)> = SERVICES
        .iter()
        .map(|s| (*s, Proc::spawn(s, &env)))
        .collect();
    let client = reqwest::Client::new();
    for (name, p) in procs.iter_mut() {
        p.wait_ready(Duration::from_secs(60)).await;
        // The public port: bare probes, no /metrics.
        let health: serde_json::Value = client
            .get(p.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health, serde_json::json!({"status": "ok"}), "{name}");
        let ready: serde_json::Value = client
            .get(p.url("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready, serde_json::json!({"status": "ok"}), "{name}");
        let r = client.get(p.url("/metrics")).send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            404,
            "{name}: no /metrics on the public port"
        );
        // The internal listener: the details and /metrics.
        let health: serde_json::Value = client
            .get(p.internal_url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["service"], *name);
        assert_eq!(
            health["version"],
            common::version(),
            "{name}: the version on the internal /healthz"
        );
        let metrics = client
            .get(p.metrics_url())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("http_request_duration_seconds"),
            "{name}: {metrics}"
        );
        assert!(metrics.contains("route=\"/readyz\""), "{name}");
    }
    let pool = db.pool().await;
    // The first beat is written by a background task started with the service: ready does not
    // wait for it, so give it a moment.
    let mut beats = 0i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        beats = sqlx::query_scalar("SELECT COUNT(DISTINCT service) FROM service_heartbeats")
            .fetch_one(&pool)
            .await
            .unwrap();
        if beats == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(beats, 5, "every service records a heartbeat");
    let versions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT version FROM service_heartbeats")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        versions,
        [common::version()],
        "the dashboard shows the same version"
    );
    for (name, mut p) in procs {
        let status = p.terminate().await;
        assert!(status.success(), "{name} exited with {status}");
    }
    let beats: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_heartbeats")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(beats, 0, "a clean stop removes the heartbeat");
    pool.close().await;
    common::testing::delete_topology(&prefix).await;
    db.drop_database().await;
}

#[tokio::test]
async fn readyz_reports_an_unreachable_database() {
    let stage = Stage::new().await;
    let mut p = Proc::spawn("notifier", &stage.env());
    p.wait_ready(Duration::from_secs(30)).await;
    // Drop the database from under the running service.
    let name = stage.db.name.clone();
    let mut conn =
        <sqlx::MySqlConnection as sqlx::Connection>::connect(&common::testing::server_url())
            .await
            .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE `{name}`")))
        .execute(&mut conn)
        .await
        .unwrap();
    let r = reqwest::get(p.internal_url("/readyz")).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    assert_eq!(body["broker"], "ok");
    // The public port says only that it is not ready.
    let r = reqwest::get(p.url("/readyz")).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "unavailable"}));
    p.terminate().await;
    stage.cleanup().await;
}

fn run_with_env(name: &str, env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(binary(name))
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_binary_refuses_a_missing_or_malformed_database_url_or_master_key() {
    let good_db = "mysql://u:pw@127.0.0.1:3306/db";
    let amqp = "amqp://guest:guest@127.0.0.1:5672/%2f";
    // The example key of earlier .env.example files, and a key of zeros: valid base64 of 32
    // bytes, refused all the same.
    let public_key = "REVWLU9OTFktbm90LXNlY3JldC1DSEFOR0UtTUUtMzI=";
    let zero_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for name in SERVICES {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[("AMQP_URL", amqp), ("MASTER_KEY", TEST_MASTER_KEY)],
                "DATABASE_URL is missing",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://u:hunter2@h/db"),
                    ("AMQP_URL", amqp),
                    ("MASTER_KEY", TEST_MASTER_KEY),
                ],
                "DATABASE_URL is malformed",
            ),
            (
                &[("DATABASE_URL", good_db), ("AMQP_URL", amqp)],
                "MASTER_KEY is missing",
            ),
            (
                &[
                    ("DATABASE_URL", good_db),
                    ("AMQP_URL", amqp),
                    ("MASTER_KEY", "hunter2"),
                ],
                "MASTER_KEY is malformed",
            ),
            (
                &[
                    ("DATABASE_URL", good_db),
                    ("AMQP_URL", amqp),
                    ("MASTER_KEY", public_key),
                ],
                "MASTER_KEY is a well-known example value",
            ),
            (
                &[
                    ("DATABASE_URL", good_db),
                    ("AMQP_URL", amqp),
                    ("MASTER_KEY", zero_key),
                ],
                "MASTER_KEY is a well-known example value",
            ),
        ];
        for (env, expected) in cases {
            let (code, stderr) = run_with_env(name, env);
            assert_eq!(code, 2, "{name}: {stderr}");
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "{name}: one clear line: {stderr}"
            );
            assert!(stderr.contains(expected), "{name}: {stderr}");
            assert!(
                !stderr.contains("hunter2") && !stderr.contains(public_key),
                "{name} echoed a secret: {stderr}"
            );
        }
    }
}

/// A client that never finishes its headers, or its body, is cut off by the listener's limits,
/// and a connection left hanging does not keep the service from stopping on SIGTERM.
#[tokio::test]
async fn slow_clients_are_cut_off_and_do_not_hold_the_stop() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let stage = Stage::new().await;
    let mut env = stage.env();
    env.push(("HTTP_HEADER_TIMEOUT_MS".into(), "1000".into()));
    env.push(("HTTP_BODY_TIMEOUT_MS".into(), "1000".into()));
    let mut p = Proc::spawn("gateway", &env);
    p.wait_ready(Duration::from_secs(30)).await;
    let addr = ("127.0.0.1", p.port);

    // Headers never finished: the server closes the connection after the header timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /api/jd/game/preCheck HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "a connection stalled in its headers is closed"
    );
    assert!(
        // The 1 s limit, not the 10 s default (with room for a busy machine).
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // Body never finished: the request ends after the body timeout (answered or closed).
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /api/jd/game/preCheck HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ncustomerId=1",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    let ended = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buf)).await;
    assert!(ended.is_ok(), "a request stalled in its body ends");
    assert!(
        // The 1 s limit, not the 10 s default (with room for a busy machine).
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // Connections open at SIGTERM (one silent, one stalled in its headers), on a gateway whose
    // header timeout would not close them in time: it still stops promptly.
    let status = p.terminate().await;
    assert!(status.success(), "{status}");
    let mut env = stage.env();
    env.push(("HTTP_HEADER_TIMEOUT_MS".into(), "120000".into()));
    let mut p = Proc::spawn("gateway", &env);
    p.wait_ready(Duration::from_secs(30)).await;
    let addr = ("127.0.0.1", p.port);
    let silent = TcpStream::connect(addr).await.unwrap();
    let mut hanging = TcpStream::connect(addr).await.unwrap();
    hanging
        .write_all(b"POST /api/jd/game/preCheck HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(60), p.terminate())
        .await
        .expect("the gateway stops within 60 s of SIGTERM");
    assert!(status.success(), "{status}");
    // Connections that never finish a request are dropped at the end of the shutdown drain
    // (20 s), well within the 30 s a stop may take (compose waits 40 s before SIGKILL).
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    drop((silent, hanging));
    stage.cleanup().await;
}
