//! Parsing card files for import: `卡号,卡密[,有效期]` (CSV, comma or Chinese comma) or the same
//! fields separated by whitespace/tabs, one card per line.

use chrono::NaiveDate;

/// Card numbers and passwords must fit both JD protocols: 通用交易 allows at most 127
/// characters per field, 游戏点卡 only printable ASCII in `cardno`.
pub const MAX_FIELD_CHARS: usize = 127;

/// A card in clear text: as imported, as sold to an order and told to its platform, as
/// exported. `Debug` never shows the number or the password.
#[derive(Clone, PartialEq, Eq)]
pub struct CardLine {
    pub card_no: String,
    pub password: String,
    /// `None` for cards without expiry.
    pub expires_on: Option<NaiveDate>,
}

impl std::fmt::Debug for CardLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardLine")
            .field("card_no", &"***")
            .field("password", &"***")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLine {
    /// 1-based line number in the file.
    pub line_no: usize,
    /// Why, in Chinese for the operator.
    pub reason: &'static str,
}

/// The date stored for cards without expiry, so one index orders by expiry then import.
pub fn no_expiry() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date")
}

/// Parses one non-empty line.
pub fn parse_line(line: &str, today: NaiveDate) -> Result<CardLine, &'static str> {
    let line = line.trim().trim_start_matches('\u{feff}');
    let fields: Vec<&str> = if line.contains(',') || line.contains('，') {
        line.split([',', '，']).map(str::trim).collect()
    } else {
        line.split_whitespace().collect()
    };
    let (card_no, password, expiry) = match fields.as_slice() {
        [n, p] => (*n, *p, None),
        [n, p, e] => (*n, *p, Some(*e)),
        _ => return Err("格式错误：应为 卡号,卡密[,有效期]"),
    };
    for (value, empty_msg, long_msg) in [
        (card_no, "卡号为空", "卡号超过127个字符"),
        (password, "卡密为空", "卡密超过127个字符"),
    ] {
        if value.is_empty() {
            return Err(empty_msg);
        }
        if value.chars().count() > MAX_FIELD_CHARS {
            return Err(long_msg);
        }
    }
    if !card_no.chars().all(|c| c.is_ascii_graphic())
        || !password.chars().all(|c| c.is_ascii_graphic())
    {
        return Err("卡号和卡密只能包含英文字母、数字和符号");
    }
    let expires_on = match expiry.filter(|e| !e.is_empty() && *e != "-") {
        None => None,
        Some(e) => {
            let date = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(e, f).ok())
                .ok_or("有效期格式错误：应为 yyyy-MM-dd")?;
            if date < today {
                return Err("卡密已过期");
            }
            Some(date)
        }
    };
    Ok(CardLine {
        card_no: card_no.to_owned(),
        password: password.to_owned(),
        expires_on,
    })
}

/// JD 游戏点卡 `cardno` (spec §5.4): at most 200 bytes of letters, digits, `-` and `_`.
pub const JD_GAME_CARDNO_MAX_BYTES: usize = 200;
/// JD 游戏点卡 `cardpass` (spec §5.4): at most 5000 bytes of ASCII letters, digits, `-`, `_`
/// "and similar" (read as printable ASCII).
pub const JD_GAME_CARDPASS_MAX_BYTES: usize = 5000;

/// Why JD 游戏点卡 would not accept `card` (a card of a product sold there), in Chinese for the
/// operator; `None` when it would. Checked at import, so a card JD refuses is never sold there.
pub fn jd_game_problem(card: &CardLine) -> Option<&'static str> {
    let no = card.card_no.as_str();
    if no.len() > JD_GAME_CARDNO_MAX_BYTES
        || !no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Some("京东游戏点卡的卡号只能包含英文字母、数字、- 和 _");
    }
    let pass = card.password.as_str();
    if pass.len() > JD_GAME_CARDPASS_MAX_BYTES || !pass.bytes().all(|b| b.is_ascii_graphic()) {
        return Some("京东游戏点卡的卡密只能包含英文字母、数字和符号");
    }
    None
}

/// Parses a whole file; blank lines and a `卡号,卡密` header are skipped.
pub fn parse_file(text: &str, today: NaiveDate) -> (Vec<(usize, CardLine)>, Vec<InvalidLine>) {
    let mut cards = Vec::new();
    let mut invalid = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim().trim_start_matches('\u{feff}');
        if trimmed.is_empty() || (i == 0 && trimmed.starts_with("卡号")) {
            continue;
        }
        match parse_line(trimmed, today) {
            Ok(c) => cards.push((i + 1, c)),
            Err(reason) => invalid.push(InvalidLine {
                line_no: i + 1,
                reason,
            }),
        }
    }
    (cards, invalid)
}

/// How an uploaded card file was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEncoding {
    Utf8,
    /// GBK / GB18030, what Chinese Windows tools (Notepad, Excel "CSV") save by default.
    Gbk,
    /// UTF-16 with a byte order mark (Windows Notepad's "Unicode").
    Utf16,
}

impl FileEncoding {
    pub fn label(self) -> &'static str {
        match self {
            FileEncoding::Utf8 => "UTF-8",
            FileEncoding::Gbk => "GBK",
            FileEncoding::Utf16 => "UTF-16",
        }
    }
}

/// The text of an uploaded card file: UTF-8 (with or without a byte order mark), UTF-16 with a
/// byte order mark, otherwise GBK (decoded as GB18030, its superset). `None` when the bytes are
/// none of these: nothing is guessed with replacement characters.
pub fn decode_file(bytes: &[u8]) -> Option<(String, FileEncoding)> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])?
            .into_owned();
        let kind = if encoding == encoding_rs::UTF_8 {
            FileEncoding::Utf8
        } else {
            FileEncoding::Utf16
        };
        return Some((text, kind));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some((text.to_owned(), FileEncoding::Utf8));
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|t| (t.into_owned(), FileEncoding::Gbk))
}

/// The bytes the de-duplication fingerprint is computed over.
pub fn fingerprint_input(card: &CardLine) -> Vec<u8> {
    let mut v = Vec::with_capacity(card.card_no.len() + card.password.len() + 1);
    v.extend_from_slice(card.card_no.as_bytes());
    v.push(0);
    v.extend_from_slice(card.password.as_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn formats() {
        let c = parse_line("AB-1,PW_1,2026-12-31", today()).unwrap();
        assert_eq!(c.card_no, "AB-1");
        assert_eq!(c.password, "PW_1");
        assert_eq!(c.expires_on, NaiveDate::from_ymd_opt(2026, 12, 31));
        let c = parse_line("AB-2\tPW2", today()).unwrap();
        assert_eq!(
            (c.card_no.as_str(), c.password.as_str(), c.expires_on),
            ("AB-2", "PW2", None)
        );
        let c = parse_line("AB-3，PW3，20270101", today()).unwrap();
        assert_eq!(c.expires_on, NaiveDate::from_ymd_opt(2027, 1, 1));
    }

    #[test]
    fn invalid_lines() {
        assert!(parse_line("onlyone", today()).is_err());
        assert!(parse_line("a,b,c,d", today()).is_err());
        assert_eq!(parse_line("a,b,2020-01-01", today()), Err("卡密已过期"));
        assert!(parse_line("a,b,31/12/2026", today()).is_err());
        assert!(parse_line("卡,密", today()).is_err());
        assert!(parse_line(&format!("a,{}", "x".repeat(128)), today()).is_err());
    }

    #[test]
    fn decodes_utf8_gbk_and_utf16() {
        let (t, e) = decode_file("卡号,卡密\nA,1\n".as_bytes()).unwrap();
        assert_eq!((t.as_str(), e), ("卡号,卡密\nA,1\n", FileEncoding::Utf8));
        let (t, e) = decode_file(b"\xef\xbb\xbfA,1\n").unwrap();
        assert_eq!((t.as_str(), e), ("A,1\n", FileEncoding::Utf8));
        // "卡号,卡密" in GBK.
        let gbk = b"\xbf\xa8\xba\xc5,\xbf\xa8\xc3\xdc\r\nA,1\r\n";
        let (t, e) = decode_file(gbk).unwrap();
        assert_eq!((t.as_str(), e), ("卡号,卡密\r\nA,1\r\n", FileEncoding::Gbk));
        let (ok, bad) = parse_file(&t, today());
        assert_eq!((ok.len(), bad.len()), (1, 0));
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("A,1".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let (t, e) = decode_file(&utf16).unwrap();
        assert_eq!((t.as_str(), e), ("A,1", FileEncoding::Utf16));
        // Neither UTF-8 nor GBK (0xff is no GBK lead byte): refused, never guessed.
        assert!(decode_file(b"A,1\n\xff\xff\n").is_none());
    }

    #[test]
    fn file_with_header_and_blanks() {
        let (ok, bad) = parse_file("卡号,卡密,有效期\nA,1\n\nB,2\nbroken\n", today());
        assert_eq!(ok.len(), 2);
        assert_eq!(
            bad,
            vec![InvalidLine {
                line_no: 5,
                reason: "格式错误：应为 卡号,卡密[,有效期]"
            }]
        );
    }

    #[test]
    fn jd_game_cardno_charset_and_lengths() {
        let card = |no: &str, pass: &str| CardLine {
            card_no: no.into(),
            password: pass.into(),
            expires_on: None,
        };
        assert_eq!(
            jd_game_problem(&card("DXFD-XCV-000000814", "193-4343-32322814")),
            None
        );
        assert_eq!(jd_game_problem(&card("A_b-9", "p#w.d/+=")), None);
        for bad in ["C#1", "C.1", "C/1", "卡1", "C 1", "C+1"] {
            assert!(jd_game_problem(&card(bad, "P1")).is_some(), "{bad}");
        }
        assert!(jd_game_problem(&card(&"A".repeat(201), "P1")).is_some());
        assert_eq!(jd_game_problem(&card(&"A".repeat(200), "P1")), None);
        assert!(jd_game_problem(&card("C1", "密码")).is_some());
        assert!(jd_game_problem(&card("C1", &"p".repeat(5001))).is_some());
    }
}
