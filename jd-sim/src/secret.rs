//! Secrets are never printed in full: only their first and last two characters and their length.

/// `12****************************12` for a 32-character key: the length stays visible (a key
/// of the wrong length is a common mistake) but not the key. Short keys are masked completely.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len().max(4));
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 4))
}

/// A signing string whose last part is the key (both JD platforms append it), with the key
/// replaced by [`mask`]. Anything else is left as it is.
pub fn masked_sign_string(sign_string: &str, key: &str) -> String {
    match sign_string.strip_suffix(key) {
        Some(head) if !key.is_empty() => format!("{head}{}", mask(key)),
        _ => sign_string.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_length_but_not_the_key() {
        let key = "12345678901234567890123456789012";
        let m = mask(key);
        assert_eq!(m.chars().count(), 32);
        assert!(m.starts_with("12**") && m.ends_with("*12"));
        assert!(!m.contains("345"));
        assert_eq!(mask("short"), "*****");
        assert_eq!(mask(""), "****");
        assert_eq!(
            masked_sign_string(&format!("jdOrderNo1{key}"), key),
            format!("jdOrderNo1{m}")
        );
    }
}
