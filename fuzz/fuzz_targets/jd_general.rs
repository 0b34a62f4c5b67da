//! JD 通用交易 codec: beginDistill / findDistill requests (form → typed request + signature),
//! the produce-result callback form, our signed JSON answers, JD's callback answers, `expand`
//! and `product` decryption.
//!
//! Invariants: no panic; a request re-signed with the key parses to the same request and
//! verifies; every answer we encode (for a parsed request or a refusal) reads back equal and
//! verified; a callback we build reads back equal and verified; a JSON object re-signed with
//! the key never fails the signature check; cards survive encrypt → decrypt.
#![no_main]

use common::crypto::JdAesKey;
use common::protocol::form::{encode_form, first_value, parse_form};
use common::protocol::jd_general::{
    AnswerError, BeginDistillRequest, CALLBACK_PATH, CallbackAnswer, CallbackVerdict, CardItem,
    DistillAnswer, FindDistillRequest, ProduceCode, ProduceResultCallback, callback_url,
    cards_json, decrypt_cards, decrypt_expand, encrypt_cards, peek_vendor_id, sign, sign_form,
    verify_sign, verify_signed_fields,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

// The spec vectors' key (jd-general.md), so seeds from the unit tests verify.
const MD5_KEY: &str = "12345678901234567890123456789012";
const AES_KEY: &str = "12345678901234567890123456789012";
const TS: &str = "20261202010203";

/// What `parse_verified` gives back for an answer: empty texts are omitted on the wire.
fn normalised(a: &DistillAnswer) -> DistillAnswer {
    let mut a = a.clone();
    a.agent_order_no = a.agent_order_no.filter(|s| !s.is_empty());
    a.product = a.product.filter(|s| !s.is_empty());
    a
}

fn answer_round_trip(answer: &DistillAnswer, timestamp: &str) {
    let body = answer.encode(MD5_KEY, timestamp);
    let back = DistillAnswer::parse_verified(&body, MD5_KEY).expect("our answer reads back");
    assert_eq!(back, normalised(answer));
    assert_eq!(
        DistillAnswer::parse_verified(&body, "another-key"),
        Err(AnswerError::BadSignature)
    );
}

fn resigned(fields: &[(String, String)]) -> Vec<(String, String)> {
    let form = sign_form(fields, MD5_KEY);
    let back = parse_form(encode_form(&form).as_bytes());
    assert_eq!(back, form, "form round trip");
    back
}

fn cards_round_trip(fields: &[(String, String)], aes: &JdAesKey) {
    let cards: Vec<CardItem> = fields
        .iter()
        .enumerate()
        .map(|(i, (k, v))| CardItem {
            card_number: k.clone(),
            password: v.clone(),
            expiry_date: if i % 2 == 0 {
                String::new()
            } else {
                "2026-12-31".into()
            },
            limit_times: (i % 3 == 0).then_some(i as u32),
        })
        .collect();
    let _ = cards.iter().map(CardItem::within_jd_limits).count();
    let product = encrypt_cards(&cards, aes);
    let back = decrypt_cards(&product, aes).expect("our product decrypts");
    let expected: Vec<CardItem> =
        serde_json::from_str(&cards_json(&cards)).expect("cards_json is a card array");
    assert_eq!(back, expected);
    assert!(
        back.iter()
            .all(|c| !c.card_number.is_empty() && !c.password.is_empty())
    );
}

fuzz_target!(|data: &[u8]| {
    let aes = JdAesKey::new(AES_KEY).expect("32-byte key");
    let text = String::from_utf8_lossy(data);
    let fields = parse_form(data);
    let _ = peek_vendor_id(&fields);
    let _ = verify_signed_fields(&fields, MD5_KEY);
    assert!(callback_url(&text).ends_with(CALLBACK_PATH));
    let _ = decrypt_expand(&text, &aes);
    let _ = decrypt_cards(&text, &aes);

    match BeginDistillRequest::parse(&fields) {
        Ok(req) => {
            assert!(req.quantity >= 1);
            assert!(
                req.jd_order_no.as_long().is_some() && req.vendor_id >= 0 && req.total_price.0 >= 0
            );
            assert!(!req.sign.is_empty() && !req.ware_no.trim().is_empty());
            assert_eq!(
                req.verify_signature(MD5_KEY),
                verify_signed_fields(&fields, MD5_KEY)
            );
            if let Some(expand) = &req.expand {
                let _ = decrypt_expand(expand, &aes);
            }
            let again = BeginDistillRequest::parse(&resigned(&fields)).expect("re-signed parses");
            assert!(
                again.verify_signature(MD5_KEY),
                "re-signed request does not verify"
            );
            assert!(!again.verify_signature("another-key"));
            assert_eq!(
                (
                    &again.jd_order_no,
                    again.vendor_id,
                    &again.ware_no,
                    again.quantity
                ),
                (&req.jd_order_no, req.vendor_id, &req.ware_no, req.quantity)
            );
            assert_eq!(
                (
                    again.total_price,
                    &again.notify_url,
                    &again.produce_account,
                    &again.expand
                ),
                (
                    req.total_price,
                    &req.notify_url,
                    &req.produce_account,
                    &req.expand
                )
            );
            cards_round_trip(&fields, &aes);
            let product = Some(encrypt_cards(&[], &aes));
            answer_round_trip(
                &DistillAnswer::success(req.jd_order_no.clone(), req.ware_no.clone(), product),
                &req.timestamp,
            );
            answer_round_trip(
                &DistillAnswer::in_progress(req.jd_order_no.clone(), req.pay_time.clone()),
                &req.timestamp,
            );
        }
        Err(e) => {
            assert_eq!(
                DistillAnswer::rejected(&e).produce_status,
                e.produce_status()
            );
            answer_round_trip(&DistillAnswer::rejected(&e), TS);
        }
    }

    match FindDistillRequest::parse(&fields) {
        Ok(req) => {
            assert_eq!(
                req.verify_signature(MD5_KEY),
                verify_signed_fields(&fields, MD5_KEY)
            );
            let again = FindDistillRequest::parse(&resigned(&fields)).expect("re-signed parses");
            assert!(again.verify_signature(MD5_KEY));
            assert_eq!(
                (&again.jd_order_no, again.vendor_id),
                (&req.jd_order_no, req.vendor_id)
            );
            let agent = first_value(&fields, "agentOrderNo").map(str::to_string);
            for code in ProduceCode::ALL {
                answer_round_trip(
                    &DistillAnswer::with_code(req.jd_order_no.clone(), agent.clone(), code),
                    &req.timestamp,
                );
            }
        }
        Err(e) => answer_round_trip(&DistillAnswer::rejected(&e), TS),
    }

    if let Ok(callback) = ProduceResultCallback::parse(&fields) {
        let timestamp = first_value(&fields, "timestamp").unwrap_or(TS);
        let body = callback.to_form_body(MD5_KEY, timestamp);
        let back = parse_form(body.as_bytes());
        assert!(
            verify_signed_fields(&back, MD5_KEY),
            "our callback does not verify"
        );
        assert_eq!(ProduceResultCallback::parse(&back).as_ref(), Ok(&callback));
    }

    // JD's answer to our callback.
    match CallbackAnswer::read(data) {
        Some(answer) => {
            let verdict = CallbackAnswer::parse(data);
            assert_eq!(verdict, answer.verdict());
            assert_eq!(answer.code == "0", verdict == CallbackVerdict::Delivered);
        }
        None => assert!(matches!(
            CallbackAnswer::parse(data),
            CallbackVerdict::Retry { .. }
        )),
    }

    // A distill answer as JD's simulator reads it, as received and re-signed with the key.
    let _ = DistillAnswer::parse_verified(data, MD5_KEY);
    if let Ok(mut map) = serde_json::from_slice::<Map<String, Value>>(data) {
        let scalars: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                _ => None,
            })
            .collect();
        let signature = sign(&scalars, MD5_KEY);
        assert!(verify_sign(&scalars, MD5_KEY, &signature));
        map.insert("sign".into(), Value::String(signature));
        let wire = serde_json::to_vec(&map).expect("serializable");
        assert_ne!(
            DistillAnswer::parse_verified(&wire, MD5_KEY).err(),
            Some(AnswerError::BadSignature),
            "a re-signed answer fails its signature"
        );
    }
});
