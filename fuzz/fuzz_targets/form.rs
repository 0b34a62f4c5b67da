//! `application/x-www-form-urlencoded` parsing (every JD and Agiso request body and query).
//!
//! Invariants: no panic; parse → encode → parse is the identity on the parsed pairs; encode →
//! parse is the identity on arbitrary (name, value) strings; `duplicated_name` and
//! `first_value` agree with the pairs.
#![no_main]

use common::protocol::form::{duplicated_name, encode_form, first_value, parse_form};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs = parse_form(data);
    let wire = encode_form(&pairs);
    assert_eq!(
        parse_form(wire.as_bytes()),
        pairs,
        "parse∘encode on parsed pairs"
    );
    assert_eq!(
        encode_form(&parse_form(wire.as_bytes())),
        wire,
        "encoding is stable"
    );

    match duplicated_name(&pairs) {
        Some(name) => assert!(pairs.iter().filter(|(k, _)| k == name).count() >= 2),
        None => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                assert!(pairs[..i].iter().all(|(earlier, _)| earlier != k));
                assert_eq!(first_value(&pairs, k), Some(v.as_str()));
            }
        }
    }

    // The same bytes read as already-decoded text: one pair per line, name and value split at
    // the first tab. Whatever the strings, they survive encode → parse.
    let text = String::from_utf8_lossy(data);
    let raw: Vec<(String, String)> = text
        .split('\n')
        .map(|line| match line.split_once('\t') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect();
    assert_eq!(
        parse_form(encode_form(&raw).as_bytes()),
        raw,
        "encode∘parse on raw strings"
    );
});
