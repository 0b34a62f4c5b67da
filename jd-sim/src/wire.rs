//! What both platforms' requests share: the signed form, the interface URL, JD's timestamps
//! and order numbers, and the excerpt of an unreadable body.

/// A request ready to send: the form fields (with `sign`) and the signing string with the key
/// masked (for printing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub form: Vec<(String, String)>,
    pub sign_string: String,
}

/// The start of an unreadable body, for a problem line.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The first checks of any answer: HTTP 200, and a body that is a JSON object (returned), each
/// reported in `r`; `None` when the body is not one.
pub fn answer_object(
    r: &mut crate::report::Report,
    http_status: u16,
    body: &[u8],
) -> Option<serde_json::Map<String, serde_json::Value>> {
    if http_status == 200 {
        r.ok("HTTP 200");
    } else {
        r.problem(
            "HTTP 状态不是 200",
            "HTTP status is not 200",
            format!("got {http_status}"),
        );
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        _ => {
            r.problem(
                "应答不是 JSON 对象",
                "answer is not a JSON object",
                excerpt(body),
            );
            None
        }
    }
}

/// Whether `text` is a `yyyyMMddHHmmss` timestamp.
pub fn is_timestamp(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y%m%d%H%M%S").is_ok() && text.len() == 14
}

/// Fresh `yyyyMMddHHmmss` in Beijing time, as JD stamps its requests.
pub fn now_timestamp() -> String {
    common::protocol::beijing_timestamp(chrono::Utc::now())
}

/// A JD-like order number (a positive `Long`): the current time in milliseconds followed by
/// two random digits, so two runs in the same millisecond still differ.
pub fn generated_order_no() -> u64 {
    let millis = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    millis * 100 + rand::random_range(0..100u64)
}

/// The URL of one interface: `base` plus `path`, unless `base` already ends with the path (the
/// merchant pasted the full registered URL).
pub fn interface_url(base: &str, path: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let name = path.rsplit('/').next().unwrap_or(path);
    if base.ends_with(&format!("/{name}")) {
        base.to_string()
    } else {
        format!("{base}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_urls() {
        assert_eq!(
            interface_url("http://127.0.0.1:8080/", "/api/jd/general/beginDistill"),
            "http://127.0.0.1:8080/api/jd/general/beginDistill"
        );
        assert_eq!(
            interface_url(
                "https://shop.example/api/jd/general/beginDistill",
                "/api/jd/general/beginDistill"
            ),
            "https://shop.example/api/jd/general/beginDistill"
        );
        assert_eq!(
            interface_url("https://x.example/jd", "/api/jd/game/cardQuery"),
            "https://x.example/jd/api/jd/game/cardQuery"
        );
    }

    #[test]
    fn generated_order_numbers_are_positive_longs() {
        let a = generated_order_no();
        assert!(a > 100_000_000_000_000 && i64::try_from(a).is_ok());
        assert_eq!(now_timestamp().len(), 14);
    }
}
