//! JD 通用交易 vectors (spec `jd-general.md` §8). One key, `K`, for both MD5 and AES.

/// §8 `K`: JD's documented example key, used for both the MD5 signature and AES-256-ECB.
pub const K: &str = "12345678901234567890123456789012";

/// S1 (JD doc): the `beginDistill` request example's fields, without `sign`.
pub const S1_FIELDS: &[(&str, &str)] = &[
    ("wareNo", "45001"),
    ("quantity", "1"),
    ("jdOrderNo", "10001"),
    ("produceAccount", "13333333333"),
    ("totalPrice", "10000"),
    ("payTime", "20210208101218"),
    ("notifyUrl", "http://vtp.jd.com/notify"),
    ("vendorId", "1201"),
    ("signType", "MD5"),
    ("timestamp", "20210208101217"),
];

/// S1: the string that is hashed (fields in byte order, then `K`).
pub const S1_SIGN_STRING: &str = "jdOrderNo10001notifyUrlhttp://vtp.jd.com/notifypayTime20210208101218produceAccount13333333333quantity1timestamp20210208101217totalPrice10000vendorId1201wareNo4500112345678901234567890123456789012";

/// S1: the JD document's printed `sign`.
pub const S1_SIGN: &str = "10c1c32a49e2a520ef59ca97cefc73f9";

/// S1's fields with `sign` appended, as JD sends them.
pub fn s1_form() -> Vec<(String, String)> {
    let mut form = super::pairs(S1_FIELDS);
    form.push(("sign".into(), S1_SIGN.into()));
    form
}

/// S2 (JD doc, legacy signing-string example): the sign with `cardInfo` wrapped at 76 columns.
pub const S2_SIGN_WRAPPED: &str = "d847ad8beb23f036ccc0874153efb298";

/// S2: the sign with `cardInfo` as one line (A1's ciphertext).
pub const S2_SIGN_UNWRAPPED: &str = "aa6bb2ce8f69a0475aa2a9461f1a8951";

/// S3 (own): the `findDistill` request's fields, without `sign`.
pub const S3_FIELDS: &[(&str, &str)] = &[
    ("jdOrderNo", "10001"),
    ("signType", "MD5"),
    ("timestamp", "20210207170426"),
];

/// S3: the `findDistill` request's sign.
pub const S3_SIGN: &str = "3188db973425577d8a3c2111990a4c2f";

/// S4 (own): a card-goods `beginDistill` with an empty `produceAccount`, without `sign`.
pub const S4_FIELDS: &[(&str, &str)] = &[
    ("wareNo", "45001"),
    ("quantity", "2"),
    ("jdOrderNo", "10002"),
    ("produceAccount", ""),
    ("totalPrice", "20000"),
    ("payTime", "20210208101218"),
    ("notifyUrl", "https://vtpnotify.jd.com/vtp"),
    ("vendorId", "1201"),
    ("signType", "MD5"),
    ("timestamp", "20210208101217"),
];

/// S4: the same sign whether the empty `produceAccount` is sent or left out.
pub const S4_SIGN: &str = "34c5d9e30f31e580f2b722a499ffd9b1";

/// S5 (own): the whole "in progress" answer (JDO_201, produceStatus 3) to jdOrderNo 10002,
/// agentOrderNo SP00001, at timestamp 20210208110841.
pub const S5_ANSWER_BODY: &str = r#"{"agentOrderNo":"SP00001","code":"JDO_201","jdOrderNo":10002,"produceStatus":3,"sign":"d24c4c18996e167c8a3d9ca000efac9c","signType":"MD5","timestamp":"20210208110841"}"#;

/// S6 (own): the sign of the success answer (JDO_200) carrying A2 as `product`, at timestamp
/// 20210208110742.
pub const S6_SIGN: &str = "c181a7b5c1458797ad887d14b098e3c1";

/// S7 (own): the sign of the produce-result callback carrying A2, at timestamp 20210208112401.
pub const S7_SIGN: &str = "1594cc7c42ee05fd87309328fcf1524b";

/// A1 (JD doc): the plaintext card array, in the document's key order.
pub const A1_PLAIN: &str = r#"[{"cardNumber":"123456","expiryDate":"2016-10-10","password":"654321"},{"cardNumber":"654321","expiryDate":"2016-10-10","password":"123456"}]"#;

/// A1: its AES-256-ECB ciphertext under `K`, byte-identical to the document.
pub const A1_CIPHER: &str = "QZltw6QjIQ55tmU0xg2+20FGGnnmGoTWN/KZUdsllLoyaFGsi/dx7lc/JSPb/rTDUmcbeGakkBwlMdwkG51DABZQnmd6VC0x/tQi2RQ/BaE20LGmfpL0GkeXxUcTFRaf99lSLAqi1rkS6N4WxwL0jyCOi114VSzT06SZpOe2HqpLVPa6HuW0IOa9xFKdz9AZ";

/// A2 (own): one card in the current format, with `limitTimes`.
pub const A2_PLAIN: &str =
    r#"[{"cardNumber":"CARD0001","password":"PWD-0001","expiryDate":"2099-12-31","limitTimes":1}]"#;

/// A2: its ciphertext under `K`.
pub const A2_CIPHER: &str = "QZltw6QjIQ55tmU0xg2+26pc61I23M+dPTBDU4tMZdelTtVt1TjjsrzjDvioYKZqII1sLB3+/yACSnQYc1U18WkU6NVZZVlzj+kOcLkVwpNF4doqugLu9xcQM5A70VMy";

/// A3 (JD doc): the legacy pre-V1.2 `product` example; decrypts under `K` to `A3_PLAIN`.
pub const A3_CIPHER: &str = "zr75dzeGdwf4MqR/6Y9oGkGYq0CBSHwhOhyCvEBK18g=";

/// A3: the legacy underscore format, which is not a card array.
pub const A3_PLAIN: &str = "123_123_20210210";
