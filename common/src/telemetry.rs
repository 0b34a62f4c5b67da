//! Logs (human or JSON), OpenTelemetry traces (OTLP over HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set), and W3C trace-context propagation through HTTP and
//! AMQP headers so that one order is one trace across the services.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{CommonConfig, LogFormat};

/// Flushes and shuts the trace exporter down when dropped.
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

/// Installs the global subscriber. Safe to call more than once (later calls only keep the
/// first subscriber), which lets tests start several services in one process.
pub fn init(config: &CommonConfig) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn,hyper=warn"))
    };
    let fmt_layer = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter())
            .boxed(),
    };

    let provider = config.otel_endpoint.as_deref().and_then(|endpoint| {
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("OpenTelemetry exporter disabled: {e}");
                return None;
            }
        };
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(config.service)
            .build();
        Some(
            SdkTracerProvider::builder()
                .with_resource(resource)
                .with_batch_exporter(exporter)
                .build(),
        )
    });

    let otel_layer = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(config.service))
            .with_filter(filter())
    });

    let _ = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    TelemetryGuard { provider }
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
}
