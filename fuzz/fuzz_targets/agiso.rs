//! Agiso push notifications (`AgisoPush::parse` + `verify_push`) and the response envelope
//! (`AgisoEnvelope::parse`).
//!
//! Input: the query string, a newline, then the form body (the whole input is also tried as an
//! envelope). Invariants: no panic; a push re-signed with the secret and sent through the wire
//! parses back to the same push and verifies, and never verifies under another secret; the
//! envelope's derived answers agree with its fields.
#![no_main]

use common::protocol::agiso::{
    AgisoEnvelope, AgisoPush, ErrorCode, sign, signed_form, verify_push,
};
use common::protocol::form::{encode_form, parse_form};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "9f8g9d78sg9d8f8ew9f89ds9f8ds9af8";

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = AgisoEnvelope::parse(data) {
        assert_eq!(envelope.error().is_some(), !envelope.is_success);
        if envelope.is_retryable() {
            assert!(!envelope.is_success);
        }
        assert!(envelope.request_id.as_deref() != Some(""));
        let _ = envelope.failure_reason_zh();
        let _ = ErrorCode(envelope.error_code).meaning_zh();
    }

    let (query, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let query = parse_form(query);
    let body = parse_form(body);

    // Signing what is sent: the signature covers every parameter but `sign`.
    let form = signed_form(&query, SECRET, 1_700_000_000);
    let (last_name, last_value) = form.last().expect("signed_form adds sign");
    assert_eq!(last_name, "sign");
    assert_eq!(*last_value, sign(&form, SECRET));

    let Ok(push) = AgisoPush::parse(&query, &body) else {
        return;
    };
    assert_eq!(
        push.verify(SECRET),
        verify_push(&push.json, &push.timestamp, &push.sign, SECRET)
    );
    assert!(!push.timestamp.is_empty() && !push.sign.is_empty() && !push.json.is_empty());

    // The same push, correctly signed, as Agiso sends it.
    let good = sign(
        &[("json", &push.json), ("timestamp", &push.timestamp)],
        SECRET,
    );
    let mut q: Vec<(String, String)> = Vec::new();
    if let Some(p) = &push.from_platform {
        q.push(("fromPlatform".into(), p.clone()));
    }
    q.push(("timestamp".into(), push.timestamp.clone()));
    if let Some(a) = push.aopic {
        q.push(("aopic".into(), a.to_string()));
    }
    q.push(("sign".into(), good.clone()));
    let b = vec![("json".to_string(), push.json.clone())];
    let q = parse_form(encode_form(&q).as_bytes());
    let b = parse_form(encode_form(&b).as_bytes());
    let again = AgisoPush::parse(&q, &b).expect("a re-signed push parses");
    assert_eq!(again.json, push.json);
    assert_eq!(again.timestamp, push.timestamp);
    assert_eq!(again.from_platform, push.from_platform);
    assert_eq!(again.aopic, push.aopic);
    assert!(
        again.verify(SECRET),
        "a correctly signed push does not verify"
    );
    assert!(
        !again.verify("another-secret"),
        "a push verifies under another secret"
    );
    assert!(verify_push(
        &push.json,
        &push.timestamp,
        &good.to_uppercase(),
        SECRET
    ));
});
