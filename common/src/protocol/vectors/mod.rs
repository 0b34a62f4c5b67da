//! The specs' test vectors, defined once: every codec unit test, the gateway and system tests,
//! the fake JD and the admin's tests import them from here (never a copy of a literal). Values
//! are exactly as the specs print them (`/work/shared/spec/*.md`, §8 of 通用交易, §11 of 游戏点卡,
//! §2.1 and §7.2 of Agiso); never change one.

pub mod agiso;
pub mod game;
pub mod general;

/// A vector's `(name, value)` list as the owned pairs the codecs read.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
