//! The 游戏点卡 signature (§3): `md5(k1=v1&k2=v2&…&<privateKey>)` over every parameter except
//! `sign`, empty ones dropped, names in byte order, raw (not URL-encoded) values, lowercase hex.

use crate::crypto;
use crate::protocol::form;

fn signed_pairs<K: AsRef<str>, V: AsRef<str>>(
    params: &[(K, V)],
    skip_version: bool,
) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, v)| *k != "sign" && !v.is_empty() && !(skip_version && *k == "version"))
        .collect();
    pairs.sort_unstable();
    pairs
}

fn sign_string_of(pairs: &[(&str, &str)], private_key: &str) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('&');
    }
    out.push_str(private_key);
    out
}

/// The exact string hashed: `k1=v1&k2=v2&…&<privateKey>` (the key is a bare last element).
pub fn sign_string<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], private_key: &str) -> String {
    sign_string_of(&signed_pairs(params, false), private_key)
}

/// Lowercase MD5 signature over all parameters except `sign`, empty ones dropped.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], private_key: &str) -> String {
    crypto::md5_hex(sign_string(params, private_key).as_bytes())
}

/// Verifies the `sign` parameter (hex case ignored). If that fails while a non-empty `version`
/// is present, tries once more without `version` (JD's samples never sign it) [INFERRED].
pub fn verify_sign<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], private_key: &str) -> bool {
    let Some(received) = form::first_value(params, "sign") else {
        return false;
    };
    let with_version =
        crypto::md5_hex(sign_string_of(&signed_pairs(params, false), private_key).as_bytes());
    if crypto::signature_matches(&with_version, received) {
        return true;
    }
    let has_version = form::first_value(params, "version").is_some_and(|v| !v.is_empty());
    has_version && {
        let without =
            crypto::md5_hex(sign_string_of(&signed_pairs(params, true), private_key).as_bytes());
        crypto::signature_matches(&without, received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jd_game::params::GameParams;
    use crate::protocol::vectors::game::{
        CUSTOMER_ID, K, V1_CUSTOMER_ID, V1_DATA, V1_KEY, V1_SIGN, V1_TIMESTAMP, V2_DATA, V2_SIGN,
        V2_SIGN_WITH_VERSION, V2_TIMESTAMP,
    };
    use crate::protocol::vectors::pairs;

    #[test]
    fn v1_jd_doc_sample_sign() {
        let p = pairs(&[
            ("customerId", V1_CUSTOMER_ID),
            ("data", V1_DATA),
            ("timestamp", V1_TIMESTAMP),
        ]);
        let key = V1_KEY;
        assert_eq!(
            sign_string(&p, key),
            format!("customerId=1010000055&data={V1_DATA}&timestamp=20220618121212&{key}")
        );
        assert_eq!(sign(&p, key), V1_SIGN);
    }

    #[test]
    fn v2_with_version() {
        let base = pairs(&[
            ("customerId", CUSTOMER_ID),
            ("data", V2_DATA),
            ("timestamp", V2_TIMESTAMP),
            ("version", "1.0"),
        ]);
        assert_eq!(
            sign_string(&base, K),
            format!("customerId=10817&data={V2_DATA}&timestamp=20240101120000&version=1.0&{K}")
        );
        assert_eq!(sign(&base, K), V2_SIGN_WITH_VERSION);
        // Signed with version.
        let mut with = base.clone();
        with.push(("sign".into(), V2_SIGN_WITH_VERSION.into()));
        assert!(verify_sign(&with, K));
        // Sent with version but signed without it: accepted by the retry.
        let mut without = base.clone();
        without.push(("sign".into(), V2_SIGN.to_uppercase()));
        let params = GameParams::parse(&without).expect("params");
        assert_eq!(params.version.as_deref(), Some("1.0"));
        assert!(params.verify_signature(K));
        // An empty version is dropped from the signature altogether.
        let mut empty_version = pairs(&[
            ("customerId", CUSTOMER_ID),
            ("data", V2_DATA),
            ("timestamp", V2_TIMESTAMP),
            ("version", ""),
        ]);
        empty_version.push(("sign".into(), V2_SIGN.into()));
        assert!(verify_sign(&empty_version, K));
        // Without a version there is no second chance.
        let mut wrong = pairs(&[
            ("customerId", CUSTOMER_ID),
            ("data", V2_DATA),
            ("timestamp", V2_TIMESTAMP),
        ]);
        wrong.push(("sign".into(), V2_SIGN_WITH_VERSION.into()));
        assert!(!verify_sign(&wrong, K));
    }
}
