//! One order is one trace across the services. A local OTLP/HTTP receiver (a real HTTP server
//! decoding the exporters' protobuf `ExportTraceServiceRequest`s) collects the spans of the real
//! `gateway`, `fulfillment` and `notifier` binaries while one signed JD order goes through them
//! (JD's request carrying a `traceparent` of its own); without an exporter, the order's trace
//! context is still stored and handed on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use common::domain::Platform;
use common::protocol::jd_general::{DistillAnswer, ProduceCode};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use system_tests::fake_jd::{self, Jd, MD5_KEY, VENDOR};
use system_tests::jd_client::{self, BeginInput};
use system_tests::{Proc, Stage};

/// JD's own trace: the gateway's request span continues it.
const JD_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const JD_SPAN: &str = "b7ad6b7169203331";

#[derive(Clone, Debug)]
struct Seen {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
}

#[derive(Default)]
struct Collector {
    spans: Mutex<Vec<Seen>>,
}

impl Collector {
    fn start() -> (Arc<Collector>, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let c = Arc::new(Collector::default());
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(receive))
            .with_state(c.clone());
        system_tests::serve_apart(listener, app);
        (c, url)
    }

    fn of_trace(&self, trace_id: &str) -> Vec<Seen> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }
}

async fn receive(State(c): State<Arc<Collector>>, body: Bytes) -> axum::response::Response {
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let mut seen = Vec::new();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                seen.push(Seen {
                    service: service.clone(),
                    name: s.name,
                    trace_id: hex::encode(s.trace_id),
                    span_id: hex::encode(s.span_id),
                    parent: hex::encode(s.parent_span_id),
                });
            }
        }
    }
    c.spans.lock().unwrap().extend(seen);
    (
        [("content-type", "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

/// The (trace id, span id) of a `traceparent`.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {traceparent}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// A 通用交易 card product with stock and the shop, provisioned for one order.
async fn provision(pool: &common::db::Pool) {
    fake_jd::general_shop(pool, "trace").await;
    fake_jd::card_product(pool, "trace", 10, Platform::JdGeneral).await;
}

/// Sends a signed `beginDistill` for one card of `sku-trace`, with JD's `traceparent` in
/// `trace`; the gateway must accept it.
async fn begin_distill(gateway: &Proc, order_no: &str, notify_url: &str, trace: &str) {
    let fields = jd_client::begin_distill(
        &BeginInput {
            jd_order_no: order_no.parse().expect("a numeric JD order number"),
            vendor_id: VENDOR,
            ware_no: "sku-trace",
            quantity: 1,
            total_price_fen: 1000,
            notify_url,
            produce_account: None,
            pay_time: "20240101120000",
            timestamp: "20240101120000",
        },
        MD5_KEY,
    );
    let client = reqwest::Client::new();
    let request = jd_client::request(&client, &gateway.url(""), jd_client::BEGIN_PATH, &fields)
        .header("traceparent", format!("00-{trace}-{JD_SPAN}-01"));
    let (_, body) = jd_client::send(request).await.unwrap();
    let answer = DistillAnswer::parse_verified(&body, MD5_KEY).expect("a signed answer");
    assert_eq!(answer.code, ProduceCode::InProgress, "accepted");
}

async fn order_trace(pool: &common::db::Pool, order_no: &str) -> (u64, String, Option<String>) {
    sqlx::query_as(
        "SELECT id, status, traceparent FROM orders WHERE platform = 'jd_general' AND platform_order_no = ?",
    )
    .bind(order_no)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// JD's request → gateway → (outbox, AMQP) → fulfillment → (orders.traceparent) → notifier →
/// JD's callback: every service's spans are in JD's trace, and each hop's span is the child of
/// a span of the hop before it.
#[tokio::test]
async fn one_order_is_one_trace_across_the_services() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    provision(pool).await;
    let jd = Jd::start(0, "0").await;
    let (collector, otlp) = Collector::start();
    let mut env = stage.env();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), otlp));
    env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()));
    env.push(("NOTIFY_POLL_MS".into(), "50".into()));
    let mut procs = Vec::new();
    for name in ["gateway", "fulfillment", "notifier"] {
        let mut p = Proc::spawn(name, &env);
        p.wait_ready(Duration::from_secs(30)).await;
        procs.push(p);
    }

    begin_distill(&procs[0], "880001", &format!("{}/vtp", jd.url), JD_TRACE).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let hit = loop {
        if let Some(h) = jd.hits().into_iter().find(|h| !h.failed) {
            break h;
        }
        assert!(tokio::time::Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(hit.get("jdOrderNo"), Some("880001"));
    let callback_tp = hit
        .traceparent
        .clone()
        .expect("the callback carries traceparent");
    let (callback_trace, callback_span) = ids(&callback_tp);
    assert_eq!(
        callback_trace, JD_TRACE,
        "the callback continues JD's trace"
    );

    // The spans arrive in batches (100 ms); wait until every hop has shown up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans = collector.of_trace(JD_TRACE);
        let has = |service: &str, name: &str| {
            spans.iter().any(|s| s.service == service && s.name == name)
        };
        if has("gateway", "http")
            && has("fulfillment", "fulfil")
            && has("notifier", "wake")
            && has("notifier", "callback")
        {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spans of JD's trace: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ids_of = |service: &str| -> Vec<String> {
        spans
            .iter()
            .filter(|s| s.service == service)
            .map(|s| s.span_id.clone())
            .collect()
    };
    let one = |service: &str, name: &str| -> Seen {
        let found: Vec<&Seen> = spans
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "one {service} {name} span: {spans:#?}");
        found[0].clone()
    };
    let request = one("gateway", "http");
    assert_eq!(request.parent, JD_SPAN, "the request span continues JD's");
    let fulfil = one("fulfillment", "fulfil");
    assert!(
        ids_of("gateway").contains(&fulfil.parent),
        "fulfilment's span is a child of a gateway span: {spans:#?}"
    );
    let callback = one("notifier", "callback");
    assert!(
        ids_of("fulfillment").contains(&callback.parent),
        "the callback's span is a child of a fulfilment span: {spans:#?}"
    );
    // The order.completed message carries the same context as the order row.
    let wake = one("notifier", "wake");
    assert_eq!(wake.parent, callback.parent, "{spans:#?}");
    assert_eq!(
        callback_span, callback.span_id,
        "JD's callback names the notifier's callback span"
    );

    // The order row holds the context of the span that completed it.
    let (_, status, stored) = order_trace(pool, "880001").await;
    assert_eq!(status, "succeeded");
    let (stored_trace, stored_span) = ids(&stored.expect("orders.traceparent"));
    assert_eq!(stored_trace, JD_TRACE);
    assert_eq!(stored_span, callback.parent);

    for p in &mut procs {
        p.terminate().await;
    }
    stage.cleanup().await;
}

/// An Agiso push → agiso-sync → fulfillment → agiso-sync's delivery: the push request's span,
/// fulfilment's span and the delivery's span are one trace, each the child of the one before.
#[tokio::test]
async fn an_agiso_order_is_one_trace_from_push_to_delivery() {
    use super::agiso::{agiso_env, agiso_shop, product, taobao_push, taobao_trade, wait_notify};
    use common::domain::FulfilmentMode;
    use system_tests::fake_agiso::{APP_SECRET, FakeAgiso};

    let stage = Stage::new().await;
    let pool = &stage.pool;
    let fake = FakeAgiso::start().await;
    agiso_shop(pool, &fake, "alds").await;
    product(pool, "tb", FulfilmentMode::Card, "TB-TRACE", 2).await;
    let (collector, otlp) = Collector::start();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let mut agiso = Proc::spawn("agiso-sync", &agiso_env(&stage, &otel));
    agiso.wait_ready(Duration::from_secs(30)).await;
    let mut env = stage.env();
    env.extend(otel.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut fulfillment = Proc::spawn("fulfillment", &env);
    fulfillment.wait_ready(Duration::from_secs(30)).await;

    let trade = taobao_trade(
        4130073692357778123,
        4130073692357778124,
        "TB-TRACE",
        1,
        "9.99",
    );
    let (status, _) = taobao_push(&trade)
        .send(
            &reqwest::Client::new(),
            &agiso.url("/api/agiso/push"),
            APP_SECRET,
        )
        .await;
    assert_eq!(status, 200);
    let id = wait_notify(
        pool,
        "4130073692357778124",
        "delivered",
        Duration::from_secs(30),
    )
    .await;
    let order = common::db::orders::get(pool, id).await.unwrap().unwrap();
    let (trace, completed_by) = ids(&order.traceparent.expect("orders.traceparent"));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans = collector.of_trace(&trace);
        let has = |service: &str, name: &str| {
            spans.iter().any(|s| s.service == service && s.name == name)
        };
        if has("agiso-sync", "http")
            && has("fulfillment", "fulfil")
            && has("agiso-sync", "wake")
            && has("agiso-sync", "agiso_delivery")
        {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spans of the order's trace {trace}: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let find = |service: &str, name: &str| -> Seen {
        spans
            .iter()
            .find(|s| s.service == service && s.name == name)
            .cloned()
            .unwrap()
    };
    let push = find("agiso-sync", "http");
    assert_eq!(
        push.parent, "",
        "the push request starts the trace: {spans:#?}"
    );
    let fulfil = find("fulfillment", "fulfil");
    assert_eq!(fulfil.parent, push.span_id, "{spans:#?}");
    assert_eq!(
        completed_by, fulfil.span_id,
        "fulfilment's span completed the order"
    );
    let delivery = find("agiso-sync", "agiso_delivery");
    assert_eq!(delivery.parent, fulfil.span_id, "{spans:#?}");
    let wake = find("agiso-sync", "wake");
    assert_eq!(wake.parent, fulfil.span_id, "the message continues it too");

    fulfillment.terminate().await;
    agiso.terminate().await;
    stage.cleanup().await;
}

/// With no exporter configured, spans still have ids, and the context is kept per order even
/// where many orders are written together: orders sent at once (each request in a trace of its
/// own) are stored, by the gateway's group writer, each with its own request's context, and are
/// completed by fulfilment — reached through each order's outbox row and message header, and
/// fulfilled in groups — each in its own trace, in a span of fulfilment's.
#[tokio::test]
async fn each_order_keeps_its_own_trace_without_an_exporter() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    provision(pool).await;
    let env = stage.env();
    assert!(env.iter().all(|(k, _)| !k.starts_with("OTEL_")));
    let mut gateway = Proc::spawn("gateway", &env);
    gateway.wait_ready(Duration::from_secs(30)).await;

    let orders: Vec<(String, String)> = (0..8u64)
        .map(|i| (format!("88100{i}"), format!("{:032x}", 0xabc0_0000 + i)))
        .collect();
    let sends = orders
        .iter()
        .map(|(no, trace)| begin_distill(&gateway, no, "http://127.0.0.1:9/vtp", trace));
    futures_util::future::join_all(sends).await;
    let mut at_intake = Vec::new();
    for (no, trace) in &orders {
        let (_, status, tp) = order_trace(pool, no).await;
        assert_eq!(status, "received", "no fulfilment running yet");
        let (stored_trace, span) = ids(&tp.expect("orders.traceparent at intake"));
        assert_eq!(
            &stored_trace, trace,
            "order {no} holds its own request's trace"
        );
        assert_ne!(span, JD_SPAN, "the gateway's own span");
        at_intake.push(span);
    }

    let mut fulfillment = Proc::spawn("fulfillment", &env);
    fulfillment.wait_ready(Duration::from_secs(30)).await;
    for ((no, trace), intake_span) in orders.iter().zip(&at_intake) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let completed = loop {
            let (_, status, tp) = order_trace(pool, no).await;
            if status == "succeeded" {
                break tp.expect("orders.traceparent at completion");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {no} still {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (stored_trace, span) = ids(&completed);
        assert_eq!(
            &stored_trace, trace,
            "fulfilment continued order {no}'s trace"
        );
        assert_ne!(&span, intake_span, "completed in a span of fulfilment's");
    }

    fulfillment.terminate().await;
    gateway.terminate().await;
    stage.cleanup().await;
}
