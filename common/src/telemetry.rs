//! Logs (human or JSON), OpenTelemetry traces, and W3C trace-context propagation through HTTP
//! and AMQP headers so that one order is one trace across the services.
//!
//! A tracer provider is always installed (sampler `AlwaysOn`): every span has a trace id and a
//! span id, `traceparent` propagates, and log lines inside a span carry `trace_id`, whether or
//! not anything exports. Spans are exported (OTLP over HTTP, batched) only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set; without it a finished span is simply dropped.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{CommonConfig, LogFormat};

/// Flushes and shuts the tracer provider (and its exporter, if any) down when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// The spans traced, whatever `RUST_LOG` says about log lines: an order's trace (and the
/// `traceparent` it hands on) must not depend on the log level.
const TRACE_FILTER: &str = "info,sqlx=warn,lapin=warn,hyper=warn,h2=warn,tower=warn,reqwest=warn";

/// Installs the global subscriber. Safe to call more than once (later calls only keep the
/// first subscriber), which lets tests start several services in one process.
pub fn init(config: &CommonConfig) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let log_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn,hyper=warn"));
    let provider = tracer_provider(config.service, config.otel_endpoint.as_deref());
    let _ = subscriber(
        config.service,
        config.log_format,
        config.otel_endpoint.is_some(),
        &provider,
        log_filter,
        std::io::stderr,
    )
    .try_init();
    TelemetryGuard {
        provider: Some(provider),
    }
}

/// What [`init`] installs: the spans of [`TRACE_FILTER`] traced by `provider`, and the log
/// lines that `log_filter` lets through written to `writer` in `format`, with their trace id.
fn subscriber<W>(
    service: &'static str,
    format: LogFormat,
    exporting: bool,
    provider: &SdkTracerProvider,
    log_filter: EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        // Without an exporter nobody reads these: keep the per-span work to the ids.
        .with_tracked_inactivity(exporting)
        .with_threads(exporting)
        .with_location(exporting)
        .with_filter(EnvFilter::new(TRACE_FILTER));
    tracing_subscriber::registry()
        .with(otel_layer)
        .with(log_layer(format, writer).with_filter(log_filter))
}

/// The tracer provider: always sampling, with a batch OTLP/HTTP exporter when `endpoint` is
/// set (the batch processor honours `OTEL_BSP_SCHEDULE_DELAY` and the other `OTEL_BSP_*`
/// variables) and none otherwise.
fn tracer_provider(service: &'static str, endpoint: Option<&str>) -> SdkTracerProvider {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    let builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(Sampler::AlwaysOn);
    let Some(endpoint) = endpoint else {
        return builder.build();
    };
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
    {
        Ok(exporter) => builder.with_batch_exporter(exporter).build(),
        Err(e) => {
            eprintln!("OpenTelemetry exporter disabled: {e}");
            builder.build()
        }
    }
}

/// The log lines, in `format`, with the trace id ([`WithTraceId`]), written to `writer`. Plain
/// text, no colour codes: the lines go to files and log collectors.
fn log_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer)
        .event_format(WithTraceId::new(format));
    match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .boxed(),
    }
}

/// The trace id (32 hex digits) of the span the current task is in, if it is traced.
pub fn current_trace_id() -> Option<String> {
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The log line format: the text or JSON formatter of `tracing_subscriber`, plus the trace id
/// of the current span (`trace_id=<32 hex>` at the end of a text line, a `"trace_id"` field of
/// a JSON line) when there is one.
pub struct WithTraceId {
    format: LogFormat,
    text: tracing_subscriber::fmt::format::Format,
    json: tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
}

impl WithTraceId {
    pub fn new(format: LogFormat) -> Self {
        Self {
            format,
            text: tracing_subscriber::fmt::format().with_target(true),
            json: tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true),
        }
    }
}

impl<S, N> FormatEvent<S, N> for WithTraceId
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some(trace_id) = current_trace_id() else {
            return match self.format {
                LogFormat::Text => self.text.format_event(ctx, writer, event),
                LogFormat::Json => self.json.format_event(ctx, writer, event),
            };
        };
        // Formatted into a buffer, then the trace id goes in before the line's end.
        let mut line = String::with_capacity(256);
        match self.format {
            LogFormat::Text => self.text.format_event(ctx, Writer::new(&mut line), event)?,
            LogFormat::Json => self.json.format_event(ctx, Writer::new(&mut line), event)?,
        }
        let body = line.trim_end_matches('\n');
        match self.format {
            LogFormat::Text => writeln!(writer, "{body} trace_id={trace_id}"),
            LogFormat::Json => match body.strip_suffix('}') {
                Some(open) => writeln!(writer, "{open},\"trace_id\":\"{trace_id}\"}}"),
                None => writeln!(writer, "{body}"),
            },
        }
    }
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a HashMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C `traceparent` of the current span, if it is being traced.
pub fn current_traceparent() -> Option<String> {
    let mut map = HashMap::new();
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut MapInjector(&mut map));
    map.remove("traceparent")
}

/// Makes `span` a child of the remote trace named by `traceparent` (from HTTP or AMQP headers).
pub fn set_remote_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(tp) = traceparent else { return };
    let map = HashMap::from([("traceparent".to_owned(), tp.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&MapExtractor(&map));
    let _ = span.set_parent(cx);
}

/// Adds `traceparent` to outgoing HTTP headers.
pub fn inject_http(headers: &mut reqwest::header::HeaderMap) {
    if let Some(tp) = current_traceparent()
        && let Ok(v) = reqwest::header::HeaderValue::from_str(&tp)
    {
        headers.insert("traceparent", v);
    }
}

/// The `traceparent` of incoming HTTP headers.
pub fn extract_http(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Adds `traceparent` to AMQP message headers.
pub fn inject_amqp(headers: &mut lapin::types::FieldTable, traceparent: Option<&str>) {
    if let Some(tp) = traceparent {
        headers.insert(
            "traceparent".into(),
            lapin::types::AMQPValue::LongString(tp.into()),
        );
    }
}

/// The `traceparent` of AMQP message headers.
pub fn extract_amqp(headers: Option<&lapin::types::FieldTable>) -> Option<String> {
    let value = headers?.inner().get("traceparent")?;
    match value {
        lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
        lapin::types::AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqp_headers_round_trip() {
        let mut t = lapin::types::FieldTable::default();
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        inject_amqp(&mut t, Some(tp));
        assert_eq!(extract_amqp(Some(&t)).as_deref(), Some(tp));
        assert_eq!(extract_amqp(None), None);
    }

    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// With no exporter, spans still have ids: a span continuing a remote parent has its trace
    /// id, `current_traceparent` names it (for the outbox and outgoing headers), and the log
    /// lines inside it carry it, in both formats; lines outside any span carry none.
    #[test]
    fn spans_without_exporter_carry_the_trace_into_logs_and_traceparent() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let remote = format!("00-{trace}-00f067aa0ba902b7-01");
        for format in [LogFormat::Text, LogFormat::Json] {
            let out = Captured::default();
            let provider = tracer_provider("test", None);
            let writer = out.clone();
            // The services' subscriber, with log lines at `warn` only: what is traced does not
            // depend on what is logged.
            let subscriber = subscriber(
                "test",
                format,
                false,
                &provider,
                EnvFilter::new("warn"),
                move || writer.clone(),
            );
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!("outside");
                assert_eq!(current_trace_id(), None);
                let span = tracing::warn_span!("order", order_id = 7);
                set_remote_parent(&span, Some(&remote));
                let _in = span.enter();
                // A span below the log level is still traced, and so are the lines inside it.
                let step = tracing::info_span!("step");
                let _step = step.enter();
                tracing::info!("not logged at warn");
                tracing::warn!(attempt = 1, "inside");
                assert_eq!(current_trace_id().as_deref(), Some(trace));
                let tp = current_traceparent().expect("a traceparent without an exporter");
                assert!(tp.starts_with(&format!("00-{trace}-")), "{tp}");
                assert_ne!(tp, remote, "the span has its own span id");
            });
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            assert!(!lines[0].contains("trace_id"), "{text}");
            match format {
                LogFormat::Text => {
                    assert!(lines[1].contains("inside"), "{text}");
                    assert!(lines[1].ends_with(&format!(" trace_id={trace}")), "{text}");
                }
                LogFormat::Json => {
                    let outside: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
                    assert_eq!(outside["message"], "outside");
                    let inside: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
                    assert_eq!(inside["message"], "inside");
                    assert_eq!(inside["attempt"], 1);
                    assert_eq!(inside["span"]["order_id"], 7);
                    assert_eq!(inside["trace_id"], trace);
                }
            }
        }
    }

    /// A `traceparent` an outside caller sends is not ours to trust: garbage, an oversized value
    /// or an all-zero trace id is ignored (a new trace starts), never a panic, and what we store
    /// is always our own span's 55-character context.
    #[test]
    fn a_bad_remote_traceparent_starts_a_new_trace() {
        let provider = tracer_provider("test", None);
        let subscriber = subscriber(
            "test",
            LogFormat::Text,
            false,
            &provider,
            EnvFilter::new("warn"),
            std::io::sink,
        );
        let zero = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
        let huge = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(8192));
        tracing::subscriber::with_default(subscriber, || {
            for bad in ["garbage", "", zero.as_str(), huge.as_str(), "00-xyz-abc-01"] {
                let span = tracing::warn_span!("request");
                set_remote_parent(&span, Some(bad));
                let _in = span.enter();
                let tp = current_traceparent().expect("a traceparent of our own");
                assert_eq!(tp.len(), 55, "{tp}");
                assert!(!tp.contains(&"0".repeat(32)), "{tp}");
            }
        });
    }
}
