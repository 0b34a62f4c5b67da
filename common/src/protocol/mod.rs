//! Pure protocol codecs: bytes in, typed requests out; typed answers in, bytes out. No I/O.
//!
//! - `jd_general`: JD 通用交易平台 (beginDistill / findDistill / produce-result callback)
//! - `jd_game`: JD 游戏点卡平台 (preCheck / directCharge / directQuery / cardOrder / cardQuery / callbacks)
//! - `agiso`: 阿奇索开放平台 (API call signing, push verification, response envelope)
//! - `vectors` (tests and feature `testing`): the specs' test vectors, defined once

pub mod agiso;
pub mod agiso_order;
pub mod form;
pub mod jd_game;
pub mod jd_general;
#[cfg(any(test, feature = "testing"))]
pub mod vectors;

use chrono::{DateTime, FixedOffset, Utc};

/// JD's `timestamp` format, `yyyyMMddHHmmss`, in Beijing time (UTC+8). JD documents no time zone;
/// Beijing time is the assumption of both JD specs [INFERRED].
pub fn beijing_timestamp(now: DateTime<Utc>) -> String {
    // UTC+8 is always a valid offset; the UTC fallback only keeps this panic-free.
    match FixedOffset::east_opt(8 * 3600) {
        Some(beijing) => now
            .with_timezone(&beijing)
            .format("%Y%m%d%H%M%S")
            .to_string(),
        None => now.format("%Y%m%d%H%M%S").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn beijing_timestamp_is_utc_plus_8() {
        let t = Utc
            .with_ymd_and_hms(2021, 2, 8, 2, 7, 42)
            .single()
            .expect("valid time");
        assert_eq!(beijing_timestamp(t), "20210208100742");
        let t = Utc
            .with_ymd_and_hms(2023, 12, 31, 16, 0, 5)
            .single()
            .expect("valid time");
        assert_eq!(beijing_timestamp(t), "20240101000005");
    }
}
