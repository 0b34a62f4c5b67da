//! The one way to call out over HTTP (JD callbacks, suppliers, Agiso, alert webhooks): a client
//! with a whole-request timeout and a shorter connect timeout that never follows a redirect (an
//! outgoing call goes where it was configured to, or nowhere), and answers read up to a bound.

use std::time::Duration;

/// The longest wait for a connection, whatever the request's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client builder with the shared rules; callers add what is theirs (pool sizes) and build.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        .redirect(reqwest::redirect::Policy::none())
}

/// A client with the shared rules.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    builder(timeout)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot create the HTTP client: {e}"))
}

/// The answer's body, refused beyond `max` bytes (read chunk by chunk, never more than that).
/// The error is a short Chinese text for the operator's log of the call.
pub async fn read_bounded(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("应答超过 {} KiB", max.div_ceil(1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
