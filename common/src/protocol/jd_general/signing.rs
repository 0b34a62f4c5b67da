//! The 通用交易 signature (§2): every field except `sign`/`signType`, empty values dropped (`"0"`
//! kept), keys in byte order, `key1value1key2value2…` + MD5 key, lowercase MD5 hex; verification
//! ignores case.

use crate::crypto;
use crate::protocol::form;

/// The only signature type JD supports.
pub const SIGN_TYPE_MD5: &str = "MD5";

fn signed_pairs<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, v)| *k != "sign" && *k != "signType" && !v.is_empty())
        .collect();
    // Tuples of &str order by key bytes first (JD's ASCII order), then by value.
    pairs.sort_unstable();
    pairs
}

/// The exact string that is hashed: `k1v1k2v2…` + MD5 key, no separators.
pub fn sign_string<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], md5_key: &str) -> String {
    let mut out = String::new();
    for (k, v) in signed_pairs(fields) {
        out.push_str(k);
        out.push_str(v);
    }
    out.push_str(md5_key);
    out
}

/// Lowercase MD5 signature over `fields` (which may contain `sign`/`signType`; they are skipped).
pub fn sign<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], md5_key: &str) -> String {
    crypto::md5_hex(sign_string(fields, md5_key).as_bytes())
}

/// Checks `received_sign` against `fields`, ignoring hex case.
pub fn verify_sign<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    md5_key: &str,
    received_sign: &str,
) -> bool {
    crypto::signature_matches(&sign(fields, md5_key), received_sign)
}

/// Checks the `sign` field of a received form against all its other fields. Use this on the raw
/// pairs before trusting anything else in them; it never depends on which fields are present.
pub fn verify_signed_fields<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    md5_key: &str,
) -> bool {
    match form::first_value(fields, "sign") {
        Some(received) => verify_sign(fields, md5_key, received),
        None => false,
    }
}

/// The form fields plus `signType=MD5` and `sign`, ready to send (e.g. by a JD simulator).
pub fn sign_form<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    md5_key: &str,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k.as_ref() != "sign" && k.as_ref() != "signType")
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
        .collect();
    let signature = sign(&out, md5_key);
    out.push(("signType".to_string(), SIGN_TYPE_MD5.to_string()));
    out.push(("sign".to_string(), signature));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vectors::general::{
        A1_CIPHER, K, S1_FIELDS, S1_SIGN, S1_SIGN_STRING, S2_SIGN_UNWRAPPED, S2_SIGN_WRAPPED,
        s1_form,
    };
    use crate::protocol::vectors::pairs;

    #[test]
    fn s1_begin_distill_request_sign() {
        assert_eq!(sign_string(S1_FIELDS, K), S1_SIGN_STRING);
        assert_eq!(sign(S1_FIELDS, K), S1_SIGN);
        assert!(verify_signed_fields(&s1_form(), K));
    }

    #[test]
    fn s2_legacy_example_with_and_without_line_breaks() {
        let wrapped = format!(
            "{}\n{}\n{}",
            &A1_CIPHER[..76],
            &A1_CIPHER[76..152],
            &A1_CIPHER[152..]
        );
        assert!(wrapped.starts_with("QZltw6"));
        assert!(A1_CIPHER[..76].ends_with("kBwl"));
        assert!(A1_CIPHER[76..152].starts_with("MdwkG5") && A1_CIPHER[76..152].ends_with("jyCO"));
        assert!(A1_CIPHER[152..].starts_with("i114VS") && A1_CIPHER.ends_with("9AZ"));
        let fields = |card_info: &str| {
            pairs(&[
                ("agentOrderNo", "123456789"),
                ("cardInfo", card_info),
                ("isSuccess", "T"),
                ("jdOrderNo", "123456789"),
                ("status", "1"),
                ("time", "20140819122322"),
                ("timestamp", "2012320110243200"),
                ("version", "1.0"),
            ])
        };
        let with_breaks = fields(&wrapped);
        assert_eq!(
            sign_string(&with_breaks, K),
            format!(
                "agentOrderNo123456789cardInfo{wrapped}isSuccessTjdOrderNo123456789status1time20140819122322timestamp2012320110243200version1.0{K}"
            )
        );
        assert_eq!(sign(&with_breaks, K), S2_SIGN_WRAPPED);
        assert_eq!(sign(&fields(A1_CIPHER), K), S2_SIGN_UNWRAPPED);
    }
}
