//! Card import files as operators upload them (`decode_file`, `parse_file`, `parse_line`).
//!
//! Invariants: no panic; UTF-8 input without a byte order mark decodes to itself; every accepted
//! card satisfies the documented field rules and survives being written back as a CSV line;
//! every line is reported at most once, in order, within the file.
#![no_main]

use chrono::NaiveDate;
use common::domain::card_import::{
    FileEncoding, MAX_FIELD_CHARS, decode_file, fingerprint_input, parse_file, parse_line,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let today = NaiveDate::from_ymd_opt(2026, 12, 2).expect("valid date");
    let Some((text, encoding)) = decode_file(data) else {
        return;
    };
    let _ = encoding.label();
    if encoding_rs::Encoding::for_bom(data).is_none()
        && let Ok(utf8) = std::str::from_utf8(data)
    {
        assert_eq!(encoding, FileEncoding::Utf8);
        assert_eq!(text, utf8);
    }

    let line_count = text.lines().count();
    let (cards, invalid) = parse_file(&text, today);
    assert!(cards.len() + invalid.len() <= line_count);
    let mut numbers: Vec<usize> = cards.iter().map(|(n, _)| *n).collect();
    numbers.extend(invalid.iter().map(|i| i.line_no));
    numbers.sort_unstable();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "a line reported twice"
    );
    assert!(numbers.iter().all(|n| (1..=line_count).contains(n)));
    assert!(invalid.iter().all(|i| !i.reason.is_empty()));

    for (_, card) in &cards {
        for field in [&card.card_no, &card.password] {
            assert!(!field.is_empty());
            assert!(field.chars().count() <= MAX_FIELD_CHARS);
            assert!(field.chars().all(|c| c.is_ascii_graphic()));
        }
        if let Some(date) = card.expires_on {
            assert!(date >= today, "an expired card was accepted");
        }
        let fp = fingerprint_input(card);
        assert_eq!(fp.len(), card.card_no.len() + card.password.len() + 1);
        assert_eq!(fp.iter().filter(|b| **b == 0).count(), 1);

        let line = match card.expires_on {
            Some(d) => format!(
                "{},{},{}",
                card.card_no,
                card.password,
                d.format("%Y-%m-%d")
            ),
            None => format!("{},{}", card.card_no, card.password),
        };
        assert_eq!(
            parse_line(&line, today).as_ref(),
            Ok(card),
            "CSV round trip"
        );
    }
});
