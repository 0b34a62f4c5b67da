//! JD 游戏点卡 vectors (spec `jd-game.md` §11). `K` is a made-up key; V1 uses the JD document's.

/// §11 `K`: the test private key of V2–V4.
pub const K: &str = "0123456789abcdef0123456789abcdef";

/// V1 (JD doc §4.5): the sample's `customerId`.
pub const V1_CUSTOMER_ID: &str = "1010000055";

/// V1: the sample's private key.
pub const V1_KEY: &str = "1888bc29f89f9e19e7ff8c788ba5fc0c";

/// V1: the sample's `data`, as printed (truncated by the document, so not decodable whole).
pub const V1_DATA: &str = "ewogICAgIm9yZGVySWQiOiAiMjAzNjMyMDkyIiwKICAgICJwaW4iOiAiemhhbmdzYW4iLAogICAgImJ1eU51bSI6ICIxMCIsCiAgICAidG90YWxQcmljZSI6ICIxNTAiLAogICAgImdhbWVBY2NvdW50IjogIua4uOaIj+i0puWPtyIsCiAgICAicGVybWl0IjogIiIsCiAgICAic2t1SWQiOiAiMTAxNjg5MjAyOSIsCiAgICAiYnJhbmRJZCI6ICIxMDEwMDAwMDU1Igp";

/// V1: the sample's `timestamp`.
pub const V1_TIMESTAMP: &str = "20220618121212";

/// V1: the sign over `customerId`, `data` and `timestamp` with `V1_KEY`.
pub const V1_SIGN: &str = "8f658e0d73e541211b83aa1d1db9af9f";

/// V2 (inbound directCharge, UTF-8): the JSON inside `data`.
pub const V2_JSON: &str = r#"{"orderId":"301189718928","buyNum":"1","skuId":"10022039398","brandId":"1010000055","totalPrice":"9.80","gameAccount":"测试账号01"}"#;

/// V2: `data`, Base64 of the UTF-8 JSON.
pub const V2_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4IiwiYnV5TnVtIjoiMSIsInNrdUlkIjoiMTAwMjIwMzkzOTgiLCJicmFuZElkIjoiMTAxMDAwMDA1NSIsInRvdGFsUHJpY2UiOiI5LjgwIiwiZ2FtZUFjY291bnQiOiLmtYvor5XotKblj7cwMSJ9";

/// V2 (and V3, V4): the `customerId`.
pub const CUSTOMER_ID: &str = "10817";

/// V2: the `timestamp`.
pub const V2_TIMESTAMP: &str = "20240101120000";

/// V2: the sign over `customerId`, `data` and `timestamp` with `K`.
pub const V2_SIGN: &str = "a95df4666fc57aceefd2b5c5dc99fd15";

/// V2 with `version=1.0` added to the signed parameters.
pub const V2_SIGN_WITH_VERSION: &str = "adcb9dad864a7b55fc1fe1af20e3df25";

/// V3 (direct failure callback): the JSON before GBK encoding.
pub const V3_JSON: &str = r#"{"orderId":"301189718928","orderStatus":"2","failedCode":112,"failedReason":"账户余额不足"}"#;

/// V3: `data`, Base64 of the JSON's GBK bytes.
pub const V3_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIyIiwiZmFpbGVkQ29kZSI6MTEyLCJmYWlsZWRSZWFzb24iOiLVy7un0+C27rK71+MifQ==";

/// V3: the same JSON as UTF-8, which is wrong for callbacks (JD would show mojibake).
pub const V3_DATA_UTF8: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIyIiwiZmFpbGVkQ29kZSI6MTEyLCJmYWlsZWRSZWFzb24iOiLotKbmiLfkvZnpop3kuI3otrMifQ==";

/// V3: the GBK bytes of the reason 账户余额不足.
pub const V3_REASON_GBK: [u8; 12] = [
    0xd5, 0xcb, 0xbb, 0xa7, 0xd3, 0xe0, 0xb6, 0xee, 0xb2, 0xbb, 0xd7, 0xe3,
];

/// V3: the callback's `timestamp`.
pub const V3_TIMESTAMP: &str = "20240101120500";

/// V3: the callback's sign with `K`.
pub const V3_SIGN: &str = "8b24cf05c6f28a526499d7a59344f4f9";

/// V3: the whole form body, `+` and `=` percent-encoded.
pub const V3_FORM_BODY: &str = "customerId=10817&data=eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIyIiwiZmFpbGVkQ29kZSI6MTEyLCJmYWlsZWRSZWFzb24iOiLVy7un0%2BC27rK71%2BMifQ%3D%3D&timestamp=20240101120500&sign=8b24cf05c6f28a526499d7a59344f4f9";

/// V4 (card success callback): the JSON.
pub const V4_JSON: &str = r#"{"orderId":"301189718929","orderStatus":"0","cardinfos":[{"cardno":"DXFD-XCV-000000814","cardpass":"193-4343-32322814","expiretime":"2026-12-31"}]}"#;

/// V4: `data`.
pub const V4_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI5Iiwib3JkZXJTdGF0dXMiOiIwIiwiY2FyZGluZm9zIjpbeyJjYXJkbm8iOiJEWEZELVhDVi0wMDAwMDA4MTQiLCJjYXJkcGFzcyI6IjE5My00MzQzLTMyMzIyODE0IiwiZXhwaXJldGltZSI6IjIwMjYtMTItMzEifV19";

/// V4: the callback's `timestamp`.
pub const V4_TIMESTAMP: &str = "20240101121000";

/// V4: the callback's sign with `K`.
pub const V4_SIGN: &str = "0a683d04cb155024ad8aa4551868476b";

/// V4: the card's number, password and expiry date.
pub const V4_CARD: (&str, &str, &str) = ("DXFD-XCV-000000814", "193-4343-32322814", "2026-12-31");

/// V5: preCheck answer data `{"status":"0"}` (sellable).
pub const V5_PRECHECK_SELLABLE: &str = "eyJzdGF0dXMiOiIwIn0=";

/// V5: query answer data `{"orderStatus":0}`.
pub const V5_ORDER_STATUS_SUCCESS: &str = "eyJvcmRlclN0YXR1cyI6MH0=";

/// V5: query answer data `{"orderStatus":1}`.
pub const V5_ORDER_STATUS_PROCESSING: &str = "eyJvcmRlclN0YXR1cyI6MX0=";

/// V5: cardQuery success data with the V4 card.
pub const V5_CARD_QUERY_SUCCESS: &str = "eyJvcmRlclN0YXR1cyI6IjAiLCJjYXJkaW5mb3MiOlt7ImNhcmRubyI6IkRYRkQtWENWLTAwMDAwMDgxNCIsImNhcmRwYXNzIjoiMTkzLTQzNDMtMzIzMjI4MTQiLCJleHBpcmV0aW1lIjoiMjAyNi0xMi0zMSJ9XX0=";

/// V6 (JD doc): the sample callback body, exactly as documented (signed with an undisclosed key).
pub const V6_CALLBACK_BODY: &str = "customerId=14156143&data=eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIwIn0%3D&sign=23a7e8bf1b4288fd7bbb24cc0cb12430&timestamp=20241224134818";

/// V6: the sample callback's `data`, decoding to `{"orderId":"301189718928","orderStatus":"0"}`.
pub const V6_CALLBACK_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIwIn0=";

/// V6: the card sample's `data`, decoding to `{"brandId":"52438"}`.
pub const V6_BRAND_DATA: &str = "eyJicmFuZElkIjoiNTI0MzgifQ==";
