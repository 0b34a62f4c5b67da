//! The one check of an `http(s)://` address, wherever one comes in: shop callback and gateway
//! addresses typed by operators, base URLs in the configuration, supplier addresses, JD's
//! `notifyUrl`. What each caller does with a refusal (a form message, a config error, a protocol
//! answer) is its own; what counts as an address is decided here.

use std::fmt;

/// The longest address accepted.
pub const MAX_URL_CHARS: usize = 512;

/// Why a text is not an `http(s)://` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    Empty,
    TooLong,
    /// Not `http://` or `https://`.
    NotHttp,
    /// Not a valid URL, or no host.
    Invalid,
    /// Carries a user name or password.
    Credentials,
}

impl UrlProblem {
    /// The operator's message about the field called `label`.
    pub fn zh(self, label: &str) -> String {
        match self {
            UrlProblem::Empty => format!("请填写{label}"),
            UrlProblem::TooLong => format!("{label}过长：最多 {MAX_URL_CHARS} 个字符"),
            UrlProblem::NotHttp => format!("{label}应以 http:// 或 https:// 开头"),
            UrlProblem::Invalid => format!("{label}不是有效的网址"),
            UrlProblem::Credentials => format!("{label}不能包含用户名或密码"),
        }
    }
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlProblem::Empty => "is empty",
            UrlProblem::TooLong => "is too long",
            UrlProblem::NotHttp => "is not an http:// or https:// URL",
            UrlProblem::Invalid => "is not a valid URL",
            UrlProblem::Credentials => "must not carry a user name or password",
        })
    }
}

/// `text` (surrounding spaces removed) when it is an absolute `http://` or `https://` address
/// with a host and no credentials, at most [`MAX_URL_CHARS`] long. The address is returned as
/// given (a trailing `/` too: callers that join paths to a base trim it).
pub fn http_url(text: &str) -> Result<&str, UrlProblem> {
    let u = text.trim();
    if u.is_empty() {
        return Err(UrlProblem::Empty);
    }
    if u.chars().count() > MAX_URL_CHARS {
        return Err(UrlProblem::TooLong);
    }
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(UrlProblem::NotHttp);
    }
    let parsed = reqwest::Url::parse(u).map_err(|_| UrlProblem::Invalid)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlProblem::NotHttp);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UrlProblem::Invalid);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_addresses_as_given() {
        for u in [
            "http://callback.jd.com/produce/result",
            "https://vg.example.com",
            "HTTPS://VG.example.com/prefix/",
            "http://127.0.0.1:8080/api/jd?x=1",
            "http://[::1]:80/",
        ] {
            assert_eq!(http_url(u), Ok(u));
        }
        assert_eq!(
            http_url("  https://a.example/ \n"),
            Ok("https://a.example/")
        );
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(http_url(""), Err(UrlProblem::Empty));
        assert_eq!(http_url("   "), Err(UrlProblem::Empty));
        assert_eq!(http_url("ftp://x.example"), Err(UrlProblem::NotHttp));
        assert_eq!(http_url("vg.example.com"), Err(UrlProblem::NotHttp));
        assert_eq!(http_url("javascript:alert(1)"), Err(UrlProblem::NotHttp));
        assert_eq!(http_url("http://"), Err(UrlProblem::Invalid));
        assert_eq!(http_url("http:// bad host"), Err(UrlProblem::Invalid));
        assert_eq!(
            http_url("https://user:pw@vg.example.com"),
            Err(UrlProblem::Credentials)
        );
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_CHARS));
        assert_eq!(http_url(&long), Err(UrlProblem::TooLong));
        assert_eq!(
            UrlProblem::NotHttp.zh("网关地址"),
            "网关地址应以 http:// 或 https:// 开头"
        );
    }
}
