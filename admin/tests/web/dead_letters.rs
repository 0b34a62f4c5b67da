//! 死信队列 through the real broker: a message rejected by a consumer of the test's queues is
//! dead-lettered, collected by the admin into `dead_letters` and listed (pending first, payload,
//! source queue, reason); replay puts the same event back through the outbox onto the orders
//! exchange once; discard marks it once; payloads that are not order events cannot be replayed;
//! viewers are refused and change nothing.

use std::time::Duration;

use common::domain::Platform;
use common::mq::{Event, EventType, QueueName, Topology};
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions, BasicRejectOptions};

use crate::App;
use crate::config::follow;

async fn channel() -> (lapin::Connection, lapin::Channel) {
    let conn = lapin::Connection::connect(
        &common::testing::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("amqp");
    let ch = conn.create_channel().await.expect("channel");
    (conn, ch)
}

/// Publishes `payload` onto the orders exchange (it lands in `fulfillment.orders`, which has no
/// consumer here), takes it as a consumer would and rejects it without requeue: the broker
/// dead-letters it.
async fn poison(app: &App, payload: &[u8], message_id: &str) {
    let topo = Topology::new(app.prefix.clone());
    let (conn, ch) = channel().await;
    ch.basic_publish(
        topo.exchange().into(),
        "order.created.jd_game".into(),
        BasicPublishOptions::default(),
        payload,
        BasicProperties::default()
            .with_message_id(message_id.to_owned().into())
            .with_delivery_mode(2),
    )
    .await
    .expect("publish")
    .await
    .expect("published");
    let queue = topo.queue(QueueName::FulfillmentOrders);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(m) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .expect("basic.get")
        {
            assert_eq!(m.delivery.data, payload);
            m.delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await
                .expect("reject");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message never queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = conn.close(200, "done".into()).await;
}

/// The next message on `fulfillment.orders` within `wait`, if any.
async fn next_order_message(app: &App, wait: Duration) -> Option<(Option<String>, Vec<u8>)> {
    let queue = Topology::new(app.prefix.clone()).queue(QueueName::FulfillmentOrders);
    let (conn, ch) = channel().await;
    let deadline = tokio::time::Instant::now() + wait;
    let got = loop {
        if let Some(m) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            break Some((
                m.delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string()),
                m.delivery.data.clone(),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = conn.close(200, "done".into()).await;
    got
}

async fn wait_rows(app: &App, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.count("SELECT COUNT(*) FROM dead_letters").await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the collector did not store the dead letters"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn id_of(app: &App, message_id: &str) -> u64 {
    sqlx::query_scalar("SELECT id FROM dead_letters WHERE message_id = ?")
        .bind(message_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn status_of(app: &App, id: u64) -> String {
    sqlx::query_scalar("SELECT status FROM dead_letters WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn dead_letters_are_collected_replayed_and_discarded() {
    let app = App::start().await;
    let event = Event::new(EventType::OrderCreated, 4242, Platform::JdGame);
    let event_id = event.event_id.to_string();
    poison(&app, event.to_json().as_bytes(), &event_id).await;
    let garbage: &[u8] = &[0xff, 0xfe, 0x00, b'A', b'B'];
    poison(&app, garbage, "garbage-1").await;
    wait_rows(&app, 2).await;
    let ev = id_of(&app, &event_id).await;
    let junk = id_of(&app, "garbage-1").await;
    let (queue, reason, routing): (Option<String>, Option<String>, String) =
        sqlx::query_as("SELECT source_queue, reason, routing_key FROM dead_letters WHERE id = ?")
            .bind(ev)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let source = format!("{}fulfillment.orders", app.prefix);
    assert_eq!(queue.as_deref(), Some(source.as_str()));
    assert_eq!(reason.as_deref(), Some("rejected"));
    assert_eq!(routing, "order.created.jd_game");

    // The page: both pending, the event readable, the binary payload as hex.
    let viewer = app.login("viewer").await;
    let page = viewer.get("/admin/dead-letters").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&source));
    assert!(page.body.contains("被消费者拒绝（rejected）"));
    assert!(page.body.contains(&event_id));
    assert!(
        page.body.contains("fffe004142"),
        "hex of the binary payload"
    );
    assert!(page.body.contains("href=\"/admin/orders/4242\""));
    assert!(!page.body.contains("/replay"), "viewers get no buttons");
    let detail = viewer.get(&format!("/admin/dead-letters/{junk}")).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("不能重放"));
    assert_eq!(viewer.get("/admin/dead-letters/999999").await.status, 404);
    assert_eq!(
        viewer
            .get("/admin/dead-letters?status=weird&page=x")
            .await
            .status,
        200
    );

    // Viewers: 403 and nothing changes.
    for path in [
        format!("/admin/dead-letters/{ev}/replay"),
        format!("/admin/dead-letters/{ev}/discard"),
    ] {
        assert_eq!(viewer.post(&path, &[]).await.status, 403, "{path}");
    }
    assert_eq!(status_of(&app, ev).await, "pending");

    let operator = app.login("operator").await;
    let page = operator.get("/admin/dead-letters").await;
    assert!(
        page.body
            .contains(&format!("/admin/dead-letters/{ev}/replay"))
    );
    assert!(
        !page
            .body
            .contains(&format!("/admin/dead-letters/{junk}/replay")),
        "only events can be replayed"
    );
    // Not an event: refused, still pending.
    let a = operator
        .post(&format!("/admin/dead-letters/{junk}/replay"), &[])
        .await;
    assert!(follow(&operator, &a).await.contains("不是可识别的订单事件"));
    assert_eq!(status_of(&app, junk).await, "pending");

    // Replay: the same event back on the orders exchange, once.
    let replay =
        format!("/admin/dead-letters/{ev}/replay?back=%2Fadmin%2Fdead-letters%3Fstatus%3Dpending");
    let a = operator.post(&replay, &[]).await;
    assert_eq!(
        a.location.as_deref(),
        Some("/admin/dead-letters?status=pending")
    );
    assert!(follow(&operator, &a).await.contains("已重放"));
    assert_eq!(status_of(&app, ev).await, "replayed");
    let (mid, data) = next_order_message(&app, Duration::from_secs(15))
        .await
        .expect("the replayed event is published");
    assert_eq!(mid.as_deref(), Some(event_id.as_str()));
    assert_eq!(Event::parse(&data).unwrap(), event);
    let a = operator.post(&replay, &[]).await;
    assert!(follow(&operator, &a).await.contains("已处理"));
    assert!(
        next_order_message(&app, Duration::from_millis(800))
            .await
            .is_none(),
        "a second replay publishes nothing"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'dead_letter.replay'")
            .await,
        1
    );
    // A replayed letter cannot be discarded.
    operator
        .post(&format!("/admin/dead-letters/{ev}/discard"), &[])
        .await;
    assert_eq!(status_of(&app, ev).await, "replayed");

    // Discard, twice: once.
    for _ in 0..2 {
        let a = operator
            .post(&format!("/admin/dead-letters/{junk}/discard"), &[])
            .await;
        assert_eq!(a.status, 303);
    }
    assert_eq!(status_of(&app, junk).await, "discarded");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'dead_letter.discard' AND username = 'operator'"
        )
        .await,
        1
    );
    let handled: Option<String> =
        sqlx::query_scalar("SELECT handled_by FROM dead_letters WHERE id = ?")
            .bind(junk)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(handled.as_deref(), Some("operator"));

    // Tabs: pending is empty now; the handled ones are listed with who handled them.
    let p = viewer.get("/admin/dead-letters?status=pending").await;
    assert!(p.body.contains("没有死信"));
    let p = viewer.get("/admin/dead-letters?status=discarded").await;
    assert!(p.body.contains("已丢弃") && p.body.contains("operator"));
    assert_eq!(
        operator
            .post("/admin/dead-letters/999999/discard", &[])
            .await
            .status,
        404
    );

    // The replayed event dies again: its row comes back as pending (same message id).
    poison(&app, event.to_json().as_bytes(), &event_id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while status_of(&app, ev).await != "pending" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not collected again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM dead_letters").await, 2);
    let all = viewer.get("/admin/dead-letters").await.body;
    let pending_at = all.find(&format!("/admin/dead-letters/{ev}\"")).unwrap();
    let discarded_at = all.find(&format!("/admin/dead-letters/{junk}\"")).unwrap();
    assert!(pending_at < discarded_at, "pending first");
    app.stop().await;
}
