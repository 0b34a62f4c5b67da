//! `jd-sim`: a JD (京东) simulator for a merchant's 联调 (integration test) before the URLs are
//! registered with JD. It builds and signs the requests JD sends (通用交易 beginDistill /
//! findDistill, 游戏点卡 preCheck / directCharge / directQuery / cardOrder / cardQuery), checks
//! the answers as strictly as JD does, and checks the result callbacks the notifier sends.
//!
//! Everything here is pure (no I/O): the binary (`main.rs`) sends what [`general`] and [`game`]
//! build and prints the [`report::Report`]s they return; `listen` feeds each received callback to
//! [`callback`]. Signing, AES, Base64/GBK and the field formats are the codecs of
//! `common::protocol`, never re-implemented here.

pub mod callback;
pub mod game;
pub mod general;
pub mod report;
pub mod secret;
pub mod wire;

pub use wire::{Signed, generated_order_no, interface_url, now_timestamp};
