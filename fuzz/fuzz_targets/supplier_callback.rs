//! The supplier callback (`POST /api/supplier/callback`): a signed JSON object, verified with
//! `verify` and read with `Report::from_body`.
//!
//! Invariants: no panic on any JSON; whatever can be signed verifies after `signed`, also after
//! a trip through the wire (serialize → parse); a changed signature or secret never verifies;
//! the report's outcome matches its variant.
#![no_main]

use fulfillment::supplier::protocol::{Report, canonical, failure_label_zh, signed, verify};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const SECRET: &str = "test-secret-123";

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let _ = verify(&body, SECRET);
    let report = Report::from_body(&body);
    let outcome = report.outcome();
    match &report {
        Report::Success { supplier_order_no } | Report::Pending { supplier_order_no } => {
            assert_eq!(report.supplier_order_no(), supplier_order_no.as_deref());
            assert!(supplier_order_no.as_deref() != Some(""));
            assert!(outcome == "success" || outcome == "processing");
        }
        Report::Failed { failure, reason } => {
            assert_eq!(outcome, "failed");
            assert!(!failure.is_empty());
            assert!(reason.as_deref() != Some(""));
            assert!(!failure_label_zh(failure).is_empty());
        }
        Report::NotFound => assert_eq!(outcome, "not_found"),
        Report::Unknown(_) => assert_eq!(outcome, "error"),
    }

    if canonical(&body).is_ok() {
        let signed_body = signed(body.clone(), SECRET).expect("a canonical body can be signed");
        assert!(verify(&signed_body, SECRET), "signed body does not verify");
        assert!(!verify(&signed_body, "other-secret"));
        // Through the wire the signature holds for integer members. Not for floats: serde_json
        // (without its `float_roundtrip` feature) may read a float's shortest text back one ULP
        // off, changing its canonical text; the protocol's messages carry integers only.
        if !body
            .values()
            .any(|v| matches!(v, Value::Number(n) if n.is_f64()))
        {
            let wire = serde_json::to_vec(&signed_body).expect("serializable");
            let back: Map<String, Value> = serde_json::from_slice(&wire).expect("parses back");
            assert!(verify(&back, SECRET), "signature lost on the wire");
            assert_eq!(Report::from_body(&back), Report::from_body(&signed_body));
        }

        let mut tampered = signed_body;
        let sign = tampered["sign"].as_str().unwrap_or_default().to_string();
        let flipped: String = sign
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    if c == '0' { '1' } else { '0' }
                } else {
                    c
                }
            })
            .collect();
        tampered.insert("sign".into(), Value::String(flipped));
        assert!(!verify(&tampered, SECRET), "a changed signature verifies");
    } else {
        assert!(!verify(&body, SECRET), "an unsignable body verifies");
    }
});
