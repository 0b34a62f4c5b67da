//! A preview's cards sealed into a draft's parts (AES-256-GCM, bound to the draft and the
//! part), opened again by the commit; and the new batch id.

use crate::web::token::random_hex;
use chrono::NaiveDate;
use common::crypto::at_rest::{MasterKey, RowKey, SealedColumn, Slot};
use common::db::cards::Classified;
use common::domain::card_import::CardLine;

use super::*;

/// The draft's cards as text lines (`line\tnumber\tpassword\texpiry`), cut into parts of
/// about [`PART_BYTES`], each encrypted.
pub(super) fn seal_parts(key: &MasterKey, draft_id: &str, c: &Classified) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let seal = |parts: &Vec<Vec<u8>>, text: &str| {
        key.seal(part_slot(draft_id, parts.len() as i32), text.as_bytes())
    };
    let mut buf = String::with_capacity(PART_BYTES + 512);
    for n in &c.new {
        buf.push_str(&n.line_no.to_string());
        buf.push('\t');
        buf.push_str(&n.card.card_no);
        buf.push('\t');
        buf.push_str(&n.card.password);
        buf.push('\t');
        if let Some(d) = n.card.expires_on {
            buf.push_str(&d.format("%Y-%m-%d").to_string());
        }
        buf.push('\n');
        if buf.len() >= PART_BYTES {
            parts.push(seal(&parts, &buf));
            buf.clear();
        }
    }
    if !buf.is_empty() {
        parts.push(seal(&parts, &buf));
    }
    parts
}

/// Where part `seq` of draft `draft_id` is sealed: a part opens only as that part of that draft.
pub(super) fn part_slot(draft_id: &str, seq: i32) -> Slot<'_> {
    Slot::new(
        SealedColumn::ImportDraftPart,
        RowKey::DraftPart { draft_id, seq },
    )
}

/// The cards of a draft's decrypted parts.
pub(super) fn open_parts(
    key: &MasterKey,
    draft_id: &str,
    parts: &[(i32, Vec<u8>)],
) -> anyhow::Result<Vec<CardLine>> {
    let mut cards = Vec::new();
    for (seq, part) in parts {
        let text = key
            .open_string(part_slot(draft_id, *seq), part)
            .map_err(|_| anyhow::anyhow!("a card import draft cannot be decrypted"))?;
        for line in text.lines() {
            let mut f = line.split('\t');
            let (Some(_line_no), Some(no), Some(pass), Some(exp), None) =
                (f.next(), f.next(), f.next(), f.next(), f.next())
            else {
                anyhow::bail!("a card import draft is malformed");
            };
            let expires_on = if exp.is_empty() {
                None
            } else {
                Some(
                    NaiveDate::parse_from_str(exp, "%Y-%m-%d")
                        .map_err(|_| anyhow::anyhow!("a card import draft is malformed"))?,
                )
            };
            cards.push(CardLine {
                card_no: no.to_owned(),
                password: pass.to_owned(),
                expires_on,
            });
        }
    }
    Ok(cards)
}

/// A new batch id: Beijing time to the second and a random suffix, e.g. `B20261125153000-3fa9c1`.
pub(super) fn new_batch_id() -> String {
    format!(
        "B{}-{}",
        chrono::Utc::now()
            .with_timezone(&common::domain::beijing())
            .format("%Y%m%d%H%M%S"),
        random_hex(3)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_round_trip() {
        let key = MasterKey::from_bytes([3u8; 32]);
        let mut c = Classified::default();
        for i in 0..30_000 {
            c.new.push(cards::NewCard {
                line_no: i + 1,
                card: CardLine {
                    card_no: format!("NO{i:08}"),
                    password: format!("PW{i:012}"),
                    expires_on: (i % 2 == 0).then(|| NaiveDate::from_ymd_opt(2030, 1, 2).unwrap()),
                },
                fingerprint: [0; 32],
            });
        }
        let draft = "d".repeat(32);
        let parts = seal_parts(&key, &draft, &c);
        assert!(parts.len() > 1, "cut into parts");
        for p in &parts {
            assert!(!String::from_utf8_lossy(p).contains("NO00000001"));
        }
        let parts: Vec<(i32, Vec<u8>)> = (0..).zip(parts).collect();
        let back = open_parts(&key, &draft, &parts).unwrap();
        assert_eq!(back.len(), 30_000);
        assert_eq!(back[7], c.new[7].card);
        assert_eq!(back[8], c.new[8].card);
        let other = MasterKey::from_bytes([4u8; 32]);
        assert!(open_parts(&other, &draft, &parts).is_err());
        // A part opens only as its own part of its own draft.
        assert!(open_parts(&key, &"e".repeat(32), &parts).is_err());
        let swapped = [(0, parts[1].1.clone()), (1, parts[0].1.clone())];
        assert!(open_parts(&key, &draft, &swapped).is_err());
        assert!(new_batch_id().starts_with('B'));
        assert_eq!(new_batch_id().len(), 22);
    }
}
