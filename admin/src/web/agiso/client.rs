//! The HTTP client of agiso-sync's operator endpoints (`AGISO_SYNC_URL`, bearer
//! `AGISO_OPERATOR_TOKEN`): JSON in, `{"ok": true, …}` or `{"ok": false, "error": "<中文>"}` out.
//! A leaf: it names no other module of the site.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::Config;

/// The longest wait for agiso-sync (a pull pages through every shop's trades).
const TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read.
const MAX_ANSWER: usize = 1024 * 1024;

/// Shown instead of working buttons when the back office cannot reach agiso-sync.
pub const NOT_CONFIGURED: &str = "未配置 AGISO_SYNC_URL";

pub struct AgisoSync {
    http: reqwest::Client,
    base: String,
    token: Option<SecretString>,
}

impl AgisoSync {
    /// The client, when `AGISO_SYNC_URL` is set.
    pub fn from_config(config: &Config) -> Option<AgisoSync> {
        let base = config.agiso_sync_url.clone()?;
        match common::http_client::client(TIMEOUT) {
            Ok(http) => Some(AgisoSync {
                http,
                base,
                token: config.agiso_operator_token.clone(),
            }),
            Err(e) => {
                tracing::error!(error = %e, "agiso-sync client cannot be built");
                None
            }
        }
    }

    /// POSTs `body` to `path` (`/api/agiso/…`); the answer when it says `ok`, its Chinese error
    /// (or why there is no usable answer) otherwise.
    pub async fn call(&self, path: &str, body: &Value) -> Result<Value, String> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose_secret());
        }
        let resp = req.send().await.map_err(|e| {
            tracing::warn!(error = %e, path, "agiso-sync unreachable");
            "无法连接阿奇索同步服务（AGISO_SYNC_URL）".to_owned()
        })?;
        let status = resp.status().as_u16();
        let bytes = common::http_client::read_bounded(resp, MAX_ANSWER)
            .await
            .map_err(|_| "阿奇索同步服务的应答无法读取".to_owned())?;
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("阿奇索同步服务的应答无法识别（HTTP {status}）"))?;
        if answer.get("ok") == Some(&Value::Bool(true)) {
            Ok(answer)
        } else {
            Err(answer
                .get("error")
                .and_then(Value::as_str)
                .map(|e| e.chars().take(200).collect())
                .unwrap_or_else(|| format!("阿奇索同步服务返回错误（HTTP {status}）")))
        }
    }
}
