//! Calls to Agiso's gateway (§1, §2): a signed form, `Authorization: Bearer <token>`,
//! `ApiVersion: 1`, and one rate limiter per AppId shared by polling, delivery and operator
//! calls, so this process stays under the configured quota (Agiso allows 20 calls/s per app).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::protocol::agiso::{self, API_VERSION_HEADER};
use common::protocol::agiso_order::Call;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::ExposeSecret;

use crate::shops::AgisoShop;

/// Agiso answers are small; anything larger is refused.
const MAX_ANSWER: usize = 1024 * 1024;

/// The answer to one call, as logged.
#[derive(Debug, Clone)]
pub struct Answer {
    pub url: String,
    /// The form sent, cards and secrets masked (for `callback_attempts`).
    pub request_masked: String,
    /// `None` when no HTTP answer came (connection, timeout, oversized body).
    pub status: Option<u16>,
    pub body: Vec<u8>,
    pub transport_error: Option<String>,
    pub duration: Duration,
}

impl Answer {
    /// The status to judge the answer by: a transport failure reads as 0 (never 200).
    pub fn status_or_zero(&self) -> u16 {
        self.status.unwrap_or(0)
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Client {
    pub fn new(calls_per_sec: NonZeroU32, timeout: Duration) -> anyhow::Result<Client> {
        Ok(Client {
            http: common::http_client::client(timeout)?,
            limiter: Arc::new(RateLimiter::keyed(Quota::per_second(calls_per_sec))),
        })
    }

    /// Waits for this AppId's turn; returns how long it waited.
    async fn turn(&self, app_id: &str) -> Duration {
        let start = Instant::now();
        self.limiter.until_key_ready(&app_id.to_owned()).await;
        let waited = start.elapsed();
        if waited >= Duration::from_millis(1) {
            crate::metrics::LIMITER_WAITS
                .with_label_values(&[app_id])
                .inc();
        }
        waited
    }

    /// Makes `call` for `shop`, signed with its AppSecret and authorized with its token.
    pub async fn call(&self, shop: &AgisoShop, call: &Call) -> Answer {
        self.turn(&shop.app_id).await;
        let url = format!(
            "{}/{}{}",
            shop.gateway.trim_end_matches('/'),
            call.service_path,
            call.path
        );
        let form = agiso::signed_form(
            &call.params,
            shop.app_secret.expose_secret(),
            chrono::Utc::now().timestamp(),
        );
        let request_masked = masked(&form);
        let start = Instant::now();
        let mut request = self
            .http
            .post(&url)
            .header(API_VERSION_HEADER.0, API_VERSION_HEADER.1)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(common::protocol::form::encode_form(&form));
        if let Some(token) = &shop.access_token {
            request = request.header(
                reqwest::header::AUTHORIZATION,
                agiso::bearer(token.expose_secret()),
            );
        }
        let (status, body, transport_error) = match request.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match common::http_client::read_bounded(resp, MAX_ANSWER).await {
                    Ok(body) => (Some(status), body, None),
                    Err(e) => (None, Vec::new(), Some(e)),
                }
            }
            Err(e) => (None, Vec::new(), Some(transport_text(&e))),
        };
        let duration = start.elapsed();
        let code = match (&status, &transport_error) {
            (Some(200), None) => agiso::AgisoEnvelope::parse(&body)
                .map(|e| e.error_code.to_string())
                .unwrap_or_else(|_| "unreadable".into()),
            (Some(s), _) => format!("http_{s}"),
            _ => "transport".into(),
        };
        crate::metrics::CALLS
            .with_label_values(&[call.path, code.as_str()])
            .inc();
        Answer {
            url,
            request_masked,
            status,
            body,
            transport_error,
            duration,
        }
    }
}

fn transport_text(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "阿奇索请求超时".into()
    } else if e.is_connect() {
        "无法连接阿奇索".into()
    } else {
        "阿奇索请求失败".into()
    }
}

/// The form as logged: card content replaced by its size, the signature kept (not a secret).
fn masked(form: &[(String, String)]) -> String {
    let shown: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| match k.as_str() {
            "cardJson" | "content" => (
                k.clone(),
                format!("[卡密已隐藏，{} 字符]", v.chars().count()),
            ),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    common::protocol::form::encode_form(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_never_reach_the_log() {
        let form = vec![
            ("tid".to_owned(), "1".to_owned()),
            (
                "cardJson".to_owned(),
                r#"[{"cardno":"SECRETNO","cardpass":"SECRETPW"}]"#.to_owned(),
            ),
            ("content".to_owned(), "[{\"c\":\"SECRETNO\"}]".to_owned()),
        ];
        let shown = masked(&form);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("tid=1"), "{shown}");
    }
}
