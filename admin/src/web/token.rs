//! Random tokens: session tokens and CSRF tokens, form submission ids, import draft ids. A leaf.

use rand::RngCore;

/// `bytes` random bytes, hex-encoded (`2 * bytes` lowercase characters).
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_is_hex_of_the_length() {
        let a = super::random_hex(16);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(a, super::random_hex(16));
    }
}
