//! Agiso vectors (spec `agiso.md` §2.1 worked examples, §7.2 the official push vector).

/// §2.1: the hypothetical app secret of examples A, B and C and of the token exchange.
pub const DEMO_SECRET: &str = "demoSecret0123456789abcdefABCDEF";

/// Example A (Taobao order pull, timestamp 1468476350): the sign.
pub const EXAMPLE_A_SIGN: &str = "19dbeb54e68fca6a27e742f59c46ccdc";

/// Example B (JD card-secret delivery with Chinese, timestamp 1700000000): the sign.
pub const EXAMPLE_B_SIGN: &str = "b92cea4362ec69cc0ed170999db47939";

/// Example C (Taobao auto-delivery, timestamp 1700000000): the sign.
pub const EXAMPLE_C_SIGN: &str = "32dc7d686089946417c6967b8a7b9560";

/// Example D / §7.2 (Agiso's published push vector): the app secret.
pub const PUSH_SECRET: &str = "9f8g9d78sg9d8f8ew9f89ds9f8ds9af8";

/// Example D: the pushed `json`, as published (not valid JSON: the `......` is Agiso's).
pub const PUSH_JSON: &str =
    r#"{"Tid":2067719225654838,"Status":"WAIT_BUYER_CONFIRM_GOODS",......,"TotalFee":"3.00"}"#;

/// Example D: the push's `timestamp`.
pub const PUSH_TIMESTAMP: &str = "11222212121";

/// Example D: the push's `sign`, Agiso's published result.
pub const PUSH_SIGN: &str = "f8aa165fc951f266667e0605d78b93af";

/// §2 token exchange (AppId 1234567, code f33138910d14106fc91b015c9fe16def, `DEMO_SECRET`):
/// the sign.
pub const TOKEN_EXCHANGE_SIGN: &str = "0224fbd98dba65c84f680a6f3c22a856";
