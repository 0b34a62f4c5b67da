//! JD 游戏点卡 codec: outer parameters (`GameParams::parse` from a form or a JSON body, signature),
//! `data` decoding (Base64 + UTF-8/GBK), `DataFields`, every typed request's `from_params`, our
//! answer envelope, result callbacks and JD's callback answers.
//!
//! Invariants: no panic; parameters re-signed with the key verify; our answer envelope and our
//! callbacks read back equal (callbacks: for ASCII content, as GBK only covers part of Unicode);
//! any text survives `encode_answer_data` → `decode_data`; yuan amounts survive fen → yuan text.
#![no_main]

use common::domain::Fen;
use common::protocol::form::{encode_form, parse_form};
use common::protocol::jd_game::{
    CallbackAnswer, CallbackVerdict, CardOrderRequest, CardQueryRequest, DataFields,
    DirectChargeRequest, DirectQueryRequest, FAILED_REASON_MAX_CHARS, GameAnswer, GameCallback,
    GameError, GameParams, PreCheckRequest, RetCode, decode_data, encode_answer_data,
    encode_callback_data, pairs_from_json_body, sign,
};
use libfuzzer_sys::fuzz_target;

// The unit tests' key, so seeds built from them verify.
const KEY: &str = "0123456789abcdef0123456789abcdef";
const TS: &str = "20261202010203";
const KEYS: [&str; 12] = [
    "orderId",
    "skuId",
    "buyNum",
    "totalPrice",
    "type",
    "orderStatus",
    "failedCode",
    "cardinfos",
    "features",
    "gameAccountType",
    "rights",
    "sourceType",
];

fn answer_round_trip(answer: &GameAnswer) {
    let back = GameAnswer::parse(&answer.encode()).expect("our answer reads back");
    let mut expected = answer.clone();
    expected.data = expected.data.filter(|d| !d.is_empty());
    assert_eq!(back, expected);
}

fn check_fields(d: &DataFields) {
    for key in KEYS {
        let _ = d.raw(key);
        let _ = d.text(key);
        let _ = d.long(key);
        let _ = d.required_count(key);
        let _ = d.object(key);
        let _ = d.array(key);
        let _ = d.id_name(key);
        if let Ok(Some(fen)) = d.yuan(key) {
            assert!(fen.0 >= 0);
            assert_eq!(
                Fen::from_yuan_str(&fen.to_yuan_string()),
                Ok(fen),
                "yuan round trip"
            );
        }
    }
}

fn check_params(pairs: &[(String, String)]) {
    let params = match GameParams::parse(pairs) {
        Ok(p) => p,
        Err(e) => {
            assert!(matches!(
                e.ret_code(),
                RetCode::InvalidParams | RetCode::SignFailed
            ));
            answer_round_trip(&GameAnswer::from_error(&e));
            return;
        }
    };
    assert!(params.customer_id.bytes().all(|b| b.is_ascii_digit()));
    let _ = params.verify_signature(KEY);

    // The same parameters (with `data` restored, as verified) signed with the key verify, and
    // not with another key.
    let mut resigned: Vec<(String, String)> = params
        .params
        .iter()
        .filter(|(k, _)| k != "sign")
        .cloned()
        .collect();
    let signature = sign(&resigned, KEY);
    resigned.push(("sign".into(), signature));
    let wire = parse_form(encode_form(&resigned).as_bytes());
    let again = GameParams::parse(&wire).expect("re-signed parameters parse");
    assert!(
        again.verify_signature(KEY),
        "re-signed parameters do not verify"
    );
    assert!(!again.verify_signature("another-key"));

    if let Ok(d) = params.data_fields() {
        check_fields(&d);
    }
    let results: [Result<(), GameError>; 5] = [
        PreCheckRequest::from_params(&params).map(|r| assert!(r.buy_num >= 1)),
        DirectChargeRequest::from_params(&params).map(|r| {
            assert!(r.buy_num >= 1 && r.order_id.as_long().is_some() && r.total_price.0 >= 0);
        }),
        DirectQueryRequest::from_params(&params).map(|r| assert!(r.order_id.as_long().is_some())),
        CardOrderRequest::from_params(&params).map(|r| assert!(r.buy_num >= 1)),
        CardQueryRequest::from_params(&params).map(|r| assert!(r.order_id.as_long().is_some())),
    ];
    for result in results {
        if let Err(e) = result {
            answer_round_trip(&GameAnswer::from_error(&e));
        }
    }

    if let Ok(callback) = GameCallback::from_params(&params) {
        let body = callback.to_form_body(&params.customer_id, KEY, &params.timestamp);
        let wire = parse_form(body.as_bytes());
        let back_params = GameParams::parse(&wire).expect("our callback's parameters parse");
        assert!(
            back_params.verify_signature(KEY),
            "our callback does not verify"
        );
        let back = GameCallback::from_params(&back_params).expect("our callback reads back");
        assert_eq!(back.order_id, callback.order_id);
        assert_eq!(back.order_status, callback.order_status);
        assert_eq!(back.failed_code, callback.failed_code);
        assert_eq!(back.cardinfos.len(), callback.cardinfos.len());
        let short_reason = callback
            .failed_reason
            .as_deref()
            .is_none_or(|r| r.chars().count() <= FAILED_REASON_MAX_CHARS);
        if callback.to_json().is_ascii() && short_reason {
            assert_eq!(back, callback);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // Outer parameters, as a form and as a JSON body.
    check_params(&parse_form(data));
    if let Some(pairs) = pairs_from_json_body(data) {
        check_params(&pairs);
    }

    // The bytes as the decoded `data` JSON of a signed request.
    let pairs = vec![
        ("customerId".to_string(), "10001".to_string()),
        ("data".to_string(), encode_answer_data(&text)),
        ("timestamp".to_string(), TS.to_string()),
    ];
    let signature = sign(&pairs, KEY);
    let mut pairs = pairs;
    pairs.push(("sign".to_string(), signature));
    check_params(&pairs);

    // `data` decoding.
    let _ = decode_data(&text);
    assert_eq!(
        decode_data(&encode_answer_data(&text)).as_deref(),
        Ok(&*text)
    );
    if text.is_ascii() {
        assert_eq!(
            decode_data(&encode_callback_data(&text)).as_deref(),
            Ok(&*text)
        );
    }
    if let Ok(d) = DataFields::parse(&text) {
        check_fields(&d);
    }

    // Answers: ours read back; JD's callback answers.
    if let Some(answer) = GameAnswer::parse(data) {
        answer_round_trip(&answer);
        assert_eq!(
            RetCode::from_code(answer.ret_code.code()),
            Some(answer.ret_code)
        );
        let _ = answer.ret_code.message_zh();
        let _ = answer.ret_code.is_retry();
    }
    match CallbackAnswer::parse(data) {
        CallbackVerdict::Delivered => {
            assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok());
        }
        CallbackVerdict::Retry { ret_code, .. } => assert_ne!(ret_code.as_deref(), Some("100")),
    }
    if let Some(code) = RetCode::parse(&text) {
        assert_eq!(RetCode::from_code(code.code()), Some(code));
    }
});
