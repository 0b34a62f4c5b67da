//! JD 游戏点卡平台 (game point-card platform), merchant side. JD posts a form
//! `customerId, data, timestamp, sign[, version]` where `data` is Base64 of a JSON object; we
//! answer `{"retCode","retMessage","data"}`; results go back by callback with `data` as Base64 of
//! **GBK** JSON. The rules below are JD's published interface document for this platform, pinned
//! by the tests.
//!
//! Signature (§3): `md5(k1=v1&k2=v2&…&<privateKey>)` over every parameter except `sign`, empty
//! ones dropped, names in byte order, raw (not URL-encoded) values, lowercase hex.
//!
//! One file per concern: [`codes`] (`retCode`, refusals), [`signing`], [`data`] (Base64, GBK and
//! the lenient JSON reading), [`params`] (the outer signed parameters), [`request`] (the five
//! calls JD makes), [`answer`] (our envelope and its `data`, and the code a failed order is
//! answered with), [`callback`] (result callbacks and JD's answer to them).

pub mod answer;
pub mod callback;
pub mod codes;
pub mod data;
pub mod params;
pub mod request;
pub mod signing;

pub use answer::{
    CardInfo, GameAnswer, GameOrderStatus, card_infos_from, card_order_data,
    card_query_success_data, direct_status_data, failure_code, order_status_data, precheck_data,
};
pub use callback::{
    CARD_CALLBACK_URL_PROD, CARD_CALLBACK_URL_TEST, CallbackAnswer, CallbackVerdict,
    DIRECT_CALLBACK_URL_PROD, DIRECT_CALLBACK_URL_TEST, FAILED_REASON_MAX_CHARS, GameCallback,
    GameOrderKind, callback_url,
};
pub use codes::{GameError, RetCode};
pub use data::{DataFields, IdName, decode_data, encode_answer_data, encode_callback_data};
pub use params::{GameParams, MAX_CUSTOMER_ID_LEN, pairs_from_json_body};
pub use request::{
    CardOrderRequest, CardQueryRequest, DirectChargeRequest, DirectQueryRequest, PreCheckRequest,
};
pub use signing::{sign, sign_string, verify_sign};
