//! The one JD (京东) client of the system tests, benchmarks and drills: the signed requests JD
//! sends (通用交易 beginDistill / findDistill, the five 游戏点卡 calls), built and signed by the
//! `jd_sim` library, and the POST of such a form to a gateway.

use axum::body::Bytes;
use serde_json::Value;

pub use jd_sim::game::GameCall;
pub use jd_sim::general::{BEGIN_PATH, BeginInput, FIND_PATH};

/// A signed beginDistill form (`signType` and `sign` appended), signed with `md5_key`.
pub fn begin_distill(input: &BeginInput<'_>, md5_key: &str) -> Vec<(String, String)> {
    jd_sim::general::sign(&jd_sim::general::begin_fields(input), md5_key).form
}

/// A signed findDistill form: `jdOrderNo`, `vendorId` when given, `timestamp`.
pub fn find_distill(
    jd_order_no: u64,
    vendor_id: Option<&str>,
    timestamp: &str,
    md5_key: &str,
) -> Vec<(String, String)> {
    jd_sim::general::sign(
        &jd_sim::general::find_fields(jd_order_no, vendor_id, timestamp),
        md5_key,
    )
    .form
}

/// A signed 游戏点卡 form: `customerId`, `data` (Base64 of the UTF-8 JSON `data`), `timestamp`,
/// `sign` (with the shop's private key).
pub fn game(
    customer_id: &str,
    data: &Value,
    timestamp: &str,
    private_key: &str,
) -> Vec<(String, String)> {
    let fields = jd_sim::game::fields(customer_id, &data.to_string(), timestamp);
    jd_sim::game::sign(&fields, private_key).form
}

/// The 游戏点卡 call named `name` (`preCheck`, `directCharge`, …).
pub fn game_call(name: &str) -> GameCall {
    GameCall::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("no 游戏点卡 call {name}"))
}

/// The POST of `form` to the interface `path` of the gateway at `base`, as JD sends it
/// (`application/x-www-form-urlencoded`); headers or a timeout may be added before [`send`].
pub fn request(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    form: &[(String, String)],
) -> reqwest::RequestBuilder {
    client
        .post(jd_sim::interface_url(base, path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::protocol::form::encode_form(form))
}

/// Sends a [`request`]: the answer's HTTP status and body.
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Result<(u16, Bytes)> {
    let r = request.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.bytes().await?))
}

/// POSTs `form` to the interface `path` of the gateway at `base`: (HTTP status, body).
pub async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    form: &[(String, String)],
) -> reqwest::Result<(u16, Bytes)> {
    send(request(client, base, path, form)).await
}
