//! Reading JD's requests: a bounded body, parameters from the form body (falling back to the
//! query string, and for 游戏点卡 to a JSON body), the caller's address, and the shared
//! answer/metrics helpers.

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use common::protocol::form;
use prometheus::IntCounterVec;

/// Larger bodies are refused with the protocol's own error.
pub const BODY_LIMIT: usize = 64 * 1024;

/// JD requests answered, by endpoint, outcome and the protocol's own answer code: 通用交易's
/// `code` (`JDO_200`…) with its `produceStatus` (`1`…`4`), 游戏点卡's `retCode` (`100`…) with an
/// empty `produce_status`. Both are fixed sets (the codecs' enums), so the series stay bounded.
/// Latency is `http_request_duration_seconds` (every service's middleware).
pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    common::metrics::counter_vec(
        "gateway_requests_total",
        "JD requests answered, by endpoint, outcome and protocol answer code",
        &["endpoint", "outcome", "code", "produce_status"],
    )
});

/// The protocol answer of one request, as labelled in [`REQUESTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerCode<'a> {
    pub code: &'a str,
    pub produce_status: &'a str,
}

/// Why a request's parameters could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Unreadable,
}

impl BodyError {
    pub fn reason_zh(self) -> &'static str {
        match self {
            BodyError::TooLarge => "请求体超过 64 KiB",
            BodyError::Unreadable => "请求体无法读取",
        }
    }
}

/// The request's raw body, at most [`BODY_LIMIT`] bytes.
pub async fn read_body(body: Body) -> Result<axum::body::Bytes, BodyError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable
        }
    })
}

/// Parameters as JD sends them: a form body; the query string when the body has none; for
/// 游戏点卡 also a JSON object body (accepted defensively, as the spec advises).
pub fn params(uri: &Uri, body: &[u8], allow_json: bool) -> Vec<(String, String)> {
    let trimmed = body.trim_ascii();
    if allow_json
        && trimmed.first() == Some(&b'{')
        && let Some(pairs) = common::protocol::jd_game::pairs_from_json_body(trimmed)
    {
        return pairs;
    }
    let from_body = form::parse_form(body);
    if !from_body.is_empty() {
        return from_body;
    }
    uri.query()
        .map(|q| form::parse_form(q.as_bytes()))
        .unwrap_or_default()
}

pub use common::http::client_ip;

/// A JSON answer, always HTTP 200 (the outcome is in the protocol's own fields).
pub fn json_answer(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        )],
        body,
    )
        .into_response()
}

/// Counts and logs one answered request. Never logs keys, signatures or card data.
pub fn record(endpoint: &'static str, outcome: &'static str, answer: AnswerCode<'_>, detail: &str) {
    REQUESTS
        .with_label_values(&[endpoint, outcome, answer.code, answer.produce_status])
        .inc();
    match outcome {
        "accepted" | "repeat" | "answered" => {
            tracing::info!(endpoint, outcome, "{detail}")
        }
        "error" => tracing::error!(endpoint, outcome, "{detail}"),
        _ => tracing::warn!(endpoint, outcome, "{detail}"),
    }
}
