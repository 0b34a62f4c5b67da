//! JD 通用交易平台 (VTP), merchant side: JD calls `beginDistill` and `findDistill` with signed
//! forms; we answer signed JSON; for asynchronous orders we call back `…/produce/result`.
//! The rules below are JD's published interface document for this platform, pinned by the tests.
//!
//! Signature (§2): every field except `sign`/`signType`, empty values dropped (`"0"` kept), keys in
//! byte order, `key1value1key2value2…` + MD5 key, lowercase MD5 hex; verification ignores case.
//! Card data (`product`) is AES-256-ECB encrypted (`crypto::jd_aes`) and signed in encrypted form.
//!
//! One file per concern: [`signing`] (the MD5 signature), [`codes`] (`code` / `produceStatus`),
//! [`request`] (beginDistill / findDistill as JD sends them), [`expand`] (its encrypted extra
//! attributes), [`cards`] (the encrypted card array), [`answer`] (our signed JSON answers, and
//! the code a failed order is answered with), [`callback`] (the produce-result callback and JD's
//! answer to it).

pub mod answer;
pub mod callback;
pub mod cards;
pub mod codes;
pub mod expand;
pub mod request;
pub mod signing;

pub use answer::{AnswerError, DistillAnswer, failure_code};
pub use callback::{
    CALLBACK_PATH, CallbackAnswer, CallbackVerdict, ProduceResultCallback, SELF_TEST_CALLBACK_URL,
    callback_code_label_zh, callback_url,
};
pub use cards::{
    CARD_FIELD_MAX_CHARS, CARD_FIELD_NONE, CardItem, ProductError, card_items_from, cards_json,
    decrypt_cards, encrypt_cards,
};
pub use codes::{ProduceCode, ProduceStatus};
pub use expand::{ExpandError, decrypt_expand};
pub use request::{
    BeginDistillRequest, FindDistillRequest, RequestError, peek_jd_order_no, peek_vendor_id,
};
pub use signing::{SIGN_TYPE_MD5, sign, sign_form, sign_string, verify_sign, verify_signed_fields};
