//! The shop form and its one validation into a shop to store, used by the back office's 系统配置
//! (what the browser sends) and by `admin shop add` (its flags and secrets fill the same form).
//! Secrets are typed once; an empty secret field on an edit means "keep the stored one". Every
//! message is Chinese and names the field, never its value when it is a secret.

use common::client_ip;
use common::crypto::JdAesKey;
use common::domain::{Platform, ShopMode};
use serde::Deserialize;

/// The fields of the create / edit form (all text: bad input gets a message, never a 400).
/// `Debug` shows no secret.
#[derive(Default, Clone, Deserialize)]
pub struct ShopForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub merchant_id: String,
    #[serde(default)]
    pub agiso_service: String,
    #[serde(default)]
    pub md5_key: String,
    #[serde(default)]
    pub aes_key: String,
    #[serde(default)]
    pub private_key: String,
    #[serde(default)]
    pub app_secret: String,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub direct_callback_url: String,
    #[serde(default)]
    pub card_callback_url: String,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub ip_allowlist: String,
    /// A checkbox: present ("1") when ticked.
    #[serde(default)]
    pub enabled: String,
}

impl std::fmt::Debug for ShopForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopForm")
            .field("name", &self.name)
            .field("merchant_id", &self.merchant_id)
            .finish_non_exhaustive()
    }
}

/// A validated form is the shop update itself: secrets are `Some` only when typed (always on
/// create); its `Debug` shows no secret.
pub type ValidShop = common::db::shops::ShopUpdate;

pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_ALLOWLIST_CHARS: usize = 2048;

/// The allow-list as typed (commas, spaces, `;` or new lines between entries) → the entries,
/// each an IP address or a CIDR network, normalised to `a, b, c`; empty → `None` (any caller).
pub fn parse_allowlist(text: &str) -> Result<Option<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in client_ip::list_entries(text) {
        let net = client_ip::parse_network(entry).ok_or_else(|| {
            let shown: String = entry.chars().take(64).collect();
            format!(
                "IP 白名单中的「{shown}」不是有效的 IP 地址或网段（例如 1.2.3.4 或 10.0.0.0/8）"
            )
        })?;
        let text = if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    let joined = out.join(", ");
    if joined.chars().count() > MAX_ALLOWLIST_CHARS {
        return Err(format!("IP 白名单过长：最多 {MAX_ALLOWLIST_CHARS} 个字符"));
    }
    Ok(Some(joined))
}

/// An optional `http(s)://` URL ([`common::domain::http_url`]): empty → `None`; stored without
/// a trailing `/`.
pub fn parse_url(label: &str, text: &str) -> Result<Option<String>, String> {
    match common::domain::http_url(text) {
        Ok(u) => Ok(Some(u.trim_end_matches('/').to_owned())),
        Err(common::domain::UrlProblem::Empty) => Ok(None),
        Err(problem) => Err(problem.zh(label)),
    }
}

/// A secret as typed: printable ASCII without spaces, `min..=max` characters.
fn secret(
    errors: &mut Vec<String>,
    label: &str,
    text: &str,
    required: bool,
    (min, max): (usize, usize),
) -> Option<String> {
    let v = text.trim();
    if v.is_empty() {
        if required {
            errors.push(format!("请填写{label}"));
        }
        return None;
    }
    if !v.chars().all(|c| c.is_ascii_graphic()) {
        errors.push(format!(
            "{label}只能包含英文字母、数字和符号（不能有空格或中文）"
        ));
        return None;
    }
    let n = v.chars().count();
    if n < min || n > max {
        errors.push(if min == max {
            format!("{label}必须正好 {min} 个字符（当前 {n} 个）")
        } else {
            format!("{label}长度应为 {min}–{max} 个字符（当前 {n} 个）")
        });
        return None;
    }
    Some(v.to_owned())
}

/// Validates the form for `platform`. `creating`: every secret is required; otherwise an empty
/// secret keeps the stored one. All problems are reported at once.
pub fn validate(
    platform: Platform,
    f: &ShopForm,
    creating: bool,
) -> Result<ValidShop, Vec<String>> {
    let mut errors = Vec::new();
    let mut v = ValidShop {
        enabled: !f.enabled.trim().is_empty(),
        ..Default::default()
    };
    v.name = f.name.trim().to_owned();
    if v.name.is_empty() {
        errors.push("请填写店铺名称".to_owned());
    } else if v.name.chars().count() > MAX_NAME_CHARS {
        errors.push(format!("店铺名称最多 {MAX_NAME_CHARS} 个字符"));
    }
    v.mode = match f.mode.trim() {
        "test" => Some(ShopMode::Test),
        "prod" => Some(ShopMode::Prod),
        _ => {
            errors.push("请选择模式（测试或生产）".to_owned());
            None
        }
    };
    let merchant = f.merchant_id.trim();
    match platform {
        Platform::JdGeneral | Platform::JdGame => {
            let label = if platform == Platform::JdGeneral {
                "vendorId"
            } else {
                "customerId"
            };
            if merchant.is_empty() {
                errors.push(format!("请填写 {label}"));
            } else if !merchant.bytes().all(|b| b.is_ascii_digit()) || merchant.len() > 20 {
                errors.push(format!("{label} 应为数字（最多 20 位）"));
            }
        }
        Platform::Agiso => {
            if merchant.is_empty() {
                errors.push("请填写 AppId".to_owned());
            } else if merchant.chars().count() > 64
                || !merchant.chars().all(|c| c.is_ascii_graphic())
            {
                errors.push("AppId 只能包含英文字母、数字和符号，最多 64 个字符".to_owned());
            }
        }
    }
    v.merchant_id = merchant.to_owned();
    match platform {
        Platform::JdGeneral => {
            v.md5_key = secret(&mut errors, "MD5 密钥", &f.md5_key, creating, (8, 128));
            v.aes_key = secret(&mut errors, "AES 密钥", &f.aes_key, creating, (32, 32));
            // The key the codec will use: exactly 32 bytes (ASCII was checked above).
            if let Some(k) = &v.aes_key
                && JdAesKey::new(k).is_err()
            {
                errors.push("AES 密钥必须正好 32 个字符".to_owned());
            }
        }
        Platform::JdGame => {
            v.private_key = secret(&mut errors, "私钥", &f.private_key, creating, (8, 128));
            match parse_url("直充回调地址", &f.direct_callback_url) {
                Ok(u) => v.direct_callback_url = u,
                Err(e) => errors.push(e),
            }
            match parse_url("卡密回调地址", &f.card_callback_url) {
                Ok(u) => v.card_callback_url = u,
                Err(e) => errors.push(e),
            }
        }
        Platform::Agiso => {
            match f.agiso_service.trim() {
                s @ ("alds" | "aldsJd") => v.agiso_service = s.to_owned(),
                _ => errors.push("请选择阿奇索服务（alds 淘宝 或 aldsJd 京东）".to_owned()),
            }
            v.app_secret = secret(&mut errors, "AppSecret", &f.app_secret, creating, (8, 128));
            v.access_token = secret(
                &mut errors,
                "AccessToken",
                &f.access_token,
                creating,
                (8, 1024),
            );
            match parse_url("网关地址", &f.base_url) {
                Ok(u) => v.base_url = u,
                Err(e) => errors.push(e),
            }
        }
    }
    match parse_allowlist(&f.ip_allowlist) {
        Ok(a) => v.ip_allowlist = a,
        Err(e) => errors.push(e),
    }
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general() -> ShopForm {
        ShopForm {
            name: " 通用店 ".into(),
            merchant_id: "1201".into(),
            md5_key: "md5-key-0123456789".into(),
            aes_key: "12345678901234567890123456789012".into(),
            mode: "test".into(),
            enabled: "1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn allowlist_is_validated_and_normalised() {
        assert_eq!(parse_allowlist("  ").unwrap(), None);
        assert_eq!(
            parse_allowlist("1.2.3.4，10.0.0.0/8; ::1\n1.2.3.4 192.168.1.7/32").unwrap(),
            Some("1.2.3.4, 10.0.0.0/8, ::1, 192.168.1.7".into())
        );
        let e = parse_allowlist("1.2.3.4, 300.1.1.1").unwrap_err();
        assert!(e.contains("300.1.1.1"), "{e}");
        assert!(parse_allowlist("10.0.0.0/33").is_err());
        assert!(parse_allowlist("example.com").is_err());
    }

    #[test]
    fn jd_general_rules() {
        let v = validate(Platform::JdGeneral, &general(), true).unwrap();
        assert_eq!(v.name, "通用店");
        assert_eq!(v.mode, Some(ShopMode::Test));
        assert!(v.enabled);
        assert_eq!(v.replaced_secrets(), vec!["MD5 密钥", "AES 密钥"]);

        let mut f = general();
        f.aes_key = "short".into();
        let e = validate(Platform::JdGeneral, &f, true).unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("AES 密钥必须正好 32 个字符")),
            "{e:?}"
        );
        f.aes_key = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二".into();
        assert!(validate(Platform::JdGeneral, &f, true).is_err());

        // Creating needs the secrets; editing keeps them when left empty.
        let mut f = general();
        f.md5_key.clear();
        f.aes_key.clear();
        assert!(validate(Platform::JdGeneral, &f, true).is_err());
        let v = validate(Platform::JdGeneral, &f, false).unwrap();
        assert!(v.md5_key.is_none() && v.aes_key.is_none());
        assert!(v.replaced_secrets().is_empty());

        let mut f = general();
        f.merchant_id = "12a".into();
        f.mode = "staging".into();
        f.name = String::new();
        let e = validate(Platform::JdGeneral, &f, true).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn jd_game_and_agiso_rules() {
        let f = ShopForm {
            name: "点卡店".into(),
            merchant_id: "10817".into(),
            private_key: "0123456789abcdef0123456789abcdef".into(),
            mode: "prod".into(),
            direct_callback_url: "https://jd.example/api/gameApi.action/".into(),
            card_callback_url: "ftp://x".into(),
            ..Default::default()
        };
        let e = validate(Platform::JdGame, &f, true).unwrap_err();
        assert_eq!(
            e,
            vec!["卡密回调地址应以 http:// 或 https:// 开头".to_owned()]
        );
        let f = ShopForm {
            card_callback_url: String::new(),
            ..f
        };
        let v = validate(Platform::JdGame, &f, true).unwrap();
        assert_eq!(
            v.direct_callback_url.as_deref(),
            Some("https://jd.example/api/gameApi.action")
        );
        assert!(!v.enabled);

        let f = ShopForm {
            name: "阿奇索店".into(),
            merchant_id: "app-123".into(),
            agiso_service: "aldsJd".into(),
            app_secret: "demoSecret0123456789abcdefABCDEF".into(),
            access_token: "AldsJdToken-0123456789".into(),
            mode: "prod".into(),
            base_url: "http://127.0.0.1:9999".into(),
            ..Default::default()
        };
        let v = validate(Platform::Agiso, &f, true).unwrap();
        assert_eq!(v.agiso_service, "aldsJd");
        assert_eq!(v.base_url.as_deref(), Some("http://127.0.0.1:9999"));
        let e = validate(
            Platform::Agiso,
            &ShopForm {
                agiso_service: "pdd".into(),
                access_token: "with space token".into(),
                ..f
            },
            true,
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
    }
}
