//! JD 通用交易平台 (VTP), merchant side: JD calls `beginDistill` and `findDistill` with signed
//! forms; we answer signed JSON; for asynchronous orders we call back `…/produce/result`.
//! The rules below are JD's published interface document for this platform, pinned by the tests.
//!
//! Signature (§2): every field except `sign`/`signType`, empty values dropped (`"0"` kept), keys in
//! byte order, `key1value1key2value2…` + MD5 key, lowercase MD5 hex; verification ignores case.
//! Card data (`product`) is AES-256-ECB encrypted (`crypto::jd_aes`) and signed in encrypted form.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::form;
use crate::crypto::{self, CryptoError, JdAesKey};
use crate::domain::money::Fen;

/// The only signature type JD supports.
pub const SIGN_TYPE_MD5: &str = "MD5";
/// Appended to the request's `notifyUrl` to get the production callback URL.
pub const CALLBACK_PATH: &str = "/produce/result";
/// JD's self-test platform (自测平台) callback URL. Never call the production URL while testing.
pub const SELF_TEST_CALLBACK_URL: &str = "https://tsp.shop.jd.com/vtp/produce/notify";
/// JD's limit on `cardNumber` and `password`, in characters.
pub const CARD_FIELD_MAX_CHARS: usize = 127;
/// What JD wants in a card field that has no value.
pub const CARD_FIELD_NONE: &str = "-";

// ---------------------------------------------------------------------------------------------
// Signature

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

/// The `vendorId` of a received form, if readable: identifies the shop (and so the keys) before
/// the signature can be checked.
pub fn peek_vendor_id<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Option<i64> {
    form::first_value(fields, "vendorId").and_then(parse_long)
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

// ---------------------------------------------------------------------------------------------
// Enumerations

/// `produceStatus` (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProduceStatus {
    /// 1 生产成功. Card goods carry `product`.
    Success,
    /// 2 生产失败. JD refunds the buyer.
    Failed,
    /// 3 生产中. JD waits for the callback and reverse-queries.
    InProgress,
    /// 4 生产异常. JD pauses the order; no refund.
    Exception,
}

impl ProduceStatus {
    pub fn code(self) -> u8 {
        match self {
            ProduceStatus::Success => 1,
            ProduceStatus::Failed => 2,
            ProduceStatus::InProgress => 3,
            ProduceStatus::Exception => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<ProduceStatus> {
        match code {
            1 => Some(ProduceStatus::Success),
            2 => Some(ProduceStatus::Failed),
            3 => Some(ProduceStatus::InProgress),
            4 => Some(ProduceStatus::Exception),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ProduceStatus::Success => "生产成功",
            ProduceStatus::Failed => "生产失败",
            ProduceStatus::InProgress => "生产中",
            ProduceStatus::Exception => "生产异常",
        }
    }
}

/// `code` of beginDistill / findDistill answers (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProduceCode {
    /// JDO_200
    Success,
    /// JDO_201
    InProgress,
    /// JDO_301 生产账号错误
    WrongAccount,
    /// JDO_302 没有对应的商品
    NoSuchProduct,
    /// JDO_303 参数错误
    InvalidParams,
    /// JDO_304 验签失败
    SignatureFailed,
    /// JDO_305 商品暂停销售
    NotForSale,
    /// JDO_500 系统错误
    SystemError,
}

impl ProduceCode {
    pub const ALL: [ProduceCode; 8] = [
        ProduceCode::Success,
        ProduceCode::InProgress,
        ProduceCode::WrongAccount,
        ProduceCode::NoSuchProduct,
        ProduceCode::InvalidParams,
        ProduceCode::SignatureFailed,
        ProduceCode::NotForSale,
        ProduceCode::SystemError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProduceCode::Success => "JDO_200",
            ProduceCode::InProgress => "JDO_201",
            ProduceCode::WrongAccount => "JDO_301",
            ProduceCode::NoSuchProduct => "JDO_302",
            ProduceCode::InvalidParams => "JDO_303",
            ProduceCode::SignatureFailed => "JDO_304",
            ProduceCode::NotForSale => "JDO_305",
            ProduceCode::SystemError => "JDO_500",
        }
    }

    pub fn parse(code: &str) -> Option<ProduceCode> {
        ProduceCode::ALL
            .into_iter()
            .find(|c| c.as_str() == code.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ProduceCode::Success => "成功",
            ProduceCode::InProgress => "生产中",
            ProduceCode::WrongAccount => "生产账号错误",
            ProduceCode::NoSuchProduct => "没有对应的商品",
            ProduceCode::InvalidParams => "参数错误",
            ProduceCode::SignatureFailed => "验签失败",
            ProduceCode::NotForSale => "商品暂停销售",
            ProduceCode::SystemError => "系统错误",
        }
    }

    /// The `produceStatus` to send with this code (§7.2 [INFERRED] pairing): definitive business
    /// refusals are 2 (JD refunds); a bad signature or our own system error is 4 (JD pauses, no
    /// wrongful refund for what may be our fault).
    pub fn suggested_status(self) -> ProduceStatus {
        match self {
            ProduceCode::Success => ProduceStatus::Success,
            ProduceCode::InProgress => ProduceStatus::InProgress,
            ProduceCode::WrongAccount
            | ProduceCode::NoSuchProduct
            | ProduceCode::InvalidParams
            | ProduceCode::NotForSale => ProduceStatus::Failed,
            ProduceCode::SignatureFailed | ProduceCode::SystemError => ProduceStatus::Exception,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests from JD

/// A request JD sent that we must refuse, with the code to answer it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {reason}")]
pub struct RequestError {
    pub code: ProduceCode,
    /// Operator-facing reason (Chinese).
    pub reason: String,
    /// The request's `jdOrderNo` when it could be read, to echo in the answer.
    pub jd_order_no: Option<i64>,
}

impl RequestError {
    fn invalid(reason: String, jd_order_no: Option<i64>) -> RequestError {
        RequestError {
            code: ProduceCode::InvalidParams,
            reason,
            jd_order_no,
        }
    }

    /// `produceStatus` paired with the code (§7.2).
    pub fn produce_status(&self) -> ProduceStatus {
        self.code.suggested_status()
    }
}

/// A non-negative decimal `Long`: ASCII digits only (no sign, no spaces), fitting `i64`.
fn parse_long(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Field access over a received form with the JDO_303 errors the spec asks for.
struct FieldReader<'a> {
    fields: &'a [(String, String)],
    jd_order_no: Option<i64>,
}

impl<'a> FieldReader<'a> {
    /// Rejects duplicated names and unsupported `signType`, and reads `jdOrderNo` first so every
    /// later error can echo it.
    fn new(fields: &'a [(String, String)]) -> Result<FieldReader<'a>, RequestError> {
        let mut reader = FieldReader {
            fields,
            jd_order_no: None,
        };
        if let Some(name) = form::duplicated_name(fields) {
            return Err(RequestError::invalid(format!("参数 {name} 重复"), None));
        }
        let raw_order_no = reader.required("jdOrderNo")?;
        reader.jd_order_no = Some(parse_long(raw_order_no).ok_or_else(|| {
            RequestError::invalid(
                "参数 jdOrderNo 不是有效的订单号（应为数字）".to_string(),
                None,
            )
        })?);
        if reader.optional("sign").is_none() {
            return Err(RequestError {
                code: ProduceCode::SignatureFailed,
                reason: "缺少签名参数 sign".to_string(),
                jd_order_no: reader.jd_order_no,
            });
        }
        // A missing signType is tolerated (it is not signed); any value other than MD5 cannot be
        // verified, which is a signature failure (status 4), not a refundable refusal [INFERRED].
        let unsupported_sign_type = reader
            .optional("signType")
            .filter(|t| !t.trim().eq_ignore_ascii_case(SIGN_TYPE_MD5));
        if let Some(sign_type) = unsupported_sign_type {
            return Err(RequestError {
                code: ProduceCode::SignatureFailed,
                reason: format!("不支持的签名类型 signType={sign_type}，仅支持 MD5"),
                jd_order_no: reader.jd_order_no,
            });
        }
        Ok(reader)
    }

    fn optional(&self, name: &str) -> Option<&'a str> {
        form::first_value(self.fields, name).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&'a str, RequestError> {
        self.optional(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| RequestError::invalid(format!("缺少参数 {name}"), self.jd_order_no))
    }

    fn required_long(&self, name: &str) -> Result<i64, RequestError> {
        let raw = self.required(name)?;
        parse_long(raw).ok_or_else(|| {
            RequestError::invalid(format!("参数 {name} 应为非负整数"), self.jd_order_no)
        })
    }
}

/// `beginDistill` (提交充值 / 提取卡密) as JD sends it (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginDistillRequest {
    pub jd_order_no: i64,
    /// Identifies the shop: merchant id (POP) or shop id (自营; 0 when there is no shop).
    pub vendor_id: i64,
    /// Our product code (when JD maps it) or the JD SKU id.
    pub ware_no: String,
    pub quantity: u32,
    pub total_price: Fen,
    pub pay_time: String,
    /// Callback base URL; see [`callback_url`]. `None` only from [`Self::parse_for`] with
    /// `require_notify_url = false` when the field is missing or not an http(s) address.
    pub notify_url: Option<String>,
    /// Account to recharge; absent for card goods.
    pub produce_account: Option<String>,
    /// Encrypted extra attributes as received; see [`decrypt_expand`].
    pub expand: Option<String>,
    pub timestamp: String,
    pub sign: String,
    /// Every received field, for [`BeginDistillRequest::verify_signature`].
    pub fields: Vec<(String, String)>,
}

impl BeginDistillRequest {
    /// Reads the decoded form. Errors carry the JDO code to answer with.
    pub fn parse(fields: &[(String, String)]) -> Result<BeginDistillRequest, RequestError> {
        Self::parse_for(fields, true)
    }

    /// [`Self::parse`]; with `require_notify_url = false` (a test-mode shop, whose callbacks go
    /// to the self-test platform) a missing or odd `notifyUrl` is no reason to refuse the order:
    /// it is read as `None`.
    pub fn parse_for(
        fields: &[(String, String)],
        require_notify_url: bool,
    ) -> Result<BeginDistillRequest, RequestError> {
        let r = FieldReader::new(fields)?;
        let jd_order_no = r.jd_order_no.unwrap_or_default();
        let vendor_id = r.required_long("vendorId")?;
        let ware_no = r.required("wareNo")?.trim().to_string();
        let quantity = r.required_long("quantity")?;
        let quantity = u32::try_from(quantity)
            .ok()
            .filter(|q| *q >= 1)
            .ok_or_else(|| {
                RequestError::invalid(
                    "参数 quantity 应为不小于 1 的整数".to_string(),
                    r.jd_order_no,
                )
            })?;
        let total_price = Fen(r.required_long("totalPrice")?);
        let pay_time = r.required("payTime")?.to_string();
        let notify_url = match r.required("notifyUrl") {
            Ok(url) => {
                if let Ok(url) = crate::domain::http_url(url) {
                    Some(url.to_string())
                } else if require_notify_url {
                    return Err(RequestError::invalid(
                        "参数 notifyUrl 不是 http(s) 地址".to_string(),
                        r.jd_order_no,
                    ));
                } else {
                    None
                }
            }
            Err(e) if require_notify_url => return Err(e),
            Err(_) => None,
        };
        Ok(BeginDistillRequest {
            jd_order_no,
            vendor_id,
            ware_no,
            quantity,
            total_price,
            pay_time,
            notify_url,
            produce_account: r.optional("produceAccount").map(str::to_string),
            expand: r.optional("expand").map(str::to_string),
            timestamp: r.required("timestamp")?.to_string(),
            sign: r.required("sign")?.to_string(),
            fields: fields.to_vec(),
        })
    }

    /// Verifies `sign` over all received fields (not a fixed list, so optional ones are covered).
    pub fn verify_signature(&self, md5_key: &str) -> bool {
        verify_sign(&self.fields, md5_key, &self.sign)
    }
}

/// `findDistill` (生产反查) as JD sends it (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindDistillRequest {
    pub jd_order_no: i64,
    /// Not documented for findDistill, but accepted when JD sends it [INFERRED].
    pub vendor_id: Option<i64>,
    pub timestamp: String,
    pub sign: String,
    pub fields: Vec<(String, String)>,
}

impl FindDistillRequest {
    pub fn parse(fields: &[(String, String)]) -> Result<FindDistillRequest, RequestError> {
        let r = FieldReader::new(fields)?;
        let vendor_id = match r.optional("vendorId") {
            Some(_) => Some(r.required_long("vendorId")?),
            None => None,
        };
        Ok(FindDistillRequest {
            jd_order_no: r.jd_order_no.unwrap_or_default(),
            vendor_id,
            timestamp: r.required("timestamp")?.to_string(),
            sign: r.required("sign")?.to_string(),
            fields: fields.to_vec(),
        })
    }

    pub fn verify_signature(&self, md5_key: &str) -> bool {
        verify_sign(&self.fields, md5_key, &self.sign)
    }
}

/// Why `expand` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("expand 解密失败: {0}")]
    Crypto(#[from] CryptoError),
    #[error("expand 解密后不是 JSON 对象")]
    NotJsonObject,
}

/// Decrypts `beginDistill`'s `expand` into its JSON object (§7.4). JD says the ciphertext is
/// URL-encoded for transport; if `%XX` escapes survive form decoding we decode once more
/// [INFERRED, untested against JD]. `expand` is optional and non-critical: callers should log a
/// failure rather than refuse the order.
pub fn decrypt_expand(
    expand: &str,
    aes_key: &JdAesKey,
) -> Result<serde_json::Map<String, Value>, ExpandError> {
    let text = if expand.contains('%') {
        percent_decode(expand)
    } else {
        expand.to_string()
    };
    let plain = aes_key.decrypt_b64(&text)?;
    match serde_json::from_slice::<Value>(&plain) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ExpandError::NotJsonObject),
    }
}

/// `%XX` decoding that, unlike form decoding, keeps `+` (a Base64 character).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (
            bytes[i],
            hex_pair.and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Cards (`product` plaintext, §3)

/// One delivered card in JD's V1.2 array format. Use [`CARD_FIELD_NONE`] (`"-"`) for a field the
/// card does not have; empty values are sent as `"-"` anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardItem {
    pub card_number: String,
    pub password: String,
    /// `yyyy-MM-dd`, or `"-"`.
    pub expiry_date: String,
    /// Allowed redemptions (核销次数); JD's default is 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_times: Option<u32>,
}

impl CardItem {
    /// Whether JD accepts the item: card number and password at most 127 characters.
    pub fn within_jd_limits(&self) -> bool {
        self.card_number.chars().count() <= CARD_FIELD_MAX_CHARS
            && self.password.chars().count() <= CARD_FIELD_MAX_CHARS
    }
}

fn or_none_placeholder(value: &str) -> &str {
    if value.is_empty() {
        CARD_FIELD_NONE
    } else {
        value
    }
}

/// The compact JSON array that is encrypted into `product`.
pub fn cards_json(cards: &[CardItem]) -> String {
    let normalised: Vec<CardItem> = cards
        .iter()
        .map(|c| CardItem {
            card_number: or_none_placeholder(&c.card_number).to_string(),
            password: or_none_placeholder(&c.password).to_string(),
            expiry_date: or_none_placeholder(&c.expiry_date).to_string(),
            limit_times: c.limit_times,
        })
        .collect();
    // Serializing plain strings and integers cannot fail.
    serde_json::to_string(&normalised).unwrap_or_else(|_| "[]".to_string())
}

/// The `product` value: AES-encrypted card array, single-line Base64. AES-ECB is deterministic, so
/// the same cards always give the same `product` (idempotent answers).
pub fn encrypt_cards(cards: &[CardItem], aes_key: &JdAesKey) -> String {
    aes_key.encrypt_b64(cards_json(cards).as_bytes())
}

/// Issued cards in JD's card-array format (`-` where a field is absent).
pub fn card_items_from(cards: &[crate::domain::card_import::CardLine]) -> Vec<CardItem> {
    cards
        .iter()
        .map(|c| CardItem {
            card_number: c.card_no.clone(),
            password: c.password.clone(),
            expiry_date: c
                .expires_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| CARD_FIELD_NONE.to_owned()),
            limit_times: None,
        })
        .collect()
}

/// Why a `product` value could not be read back into cards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("product 解密失败: {0}")]
    Crypto(#[from] CryptoError),
    #[error("product 解密后不是卡密 JSON 数组")]
    NotCardArray,
}

/// Inverse of [`encrypt_cards`] (tests, JD simulator).
pub fn decrypt_cards(product: &str, aes_key: &JdAesKey) -> Result<Vec<CardItem>, ProductError> {
    let plain = aes_key.decrypt_b64(product)?;
    serde_json::from_slice(&plain).map_err(|_| ProductError::NotCardArray)
}

// ---------------------------------------------------------------------------------------------
// Answers to beginDistill / findDistill

/// Our JSON answer to `beginDistill` or `findDistill` (§4): always HTTP 200, outcome in
/// `code`/`produceStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistillAnswer {
    pub code: ProduceCode,
    /// Echo of the request; `None` only when the request's `jdOrderNo` was unreadable.
    pub jd_order_no: Option<i64>,
    /// Our order number; omitted (and unsigned) when empty or not yet assigned.
    pub agent_order_no: Option<String>,
    pub produce_status: ProduceStatus,
    /// Encrypted card array ([`encrypt_cards`]) for successful card goods.
    pub product: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DistillAnswerJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_order_no: Option<&'a str>,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jd_order_no: Option<i64>,
    produce_status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a str>,
    sign: String,
    sign_type: &'a str,
    timestamp: &'a str,
}

impl DistillAnswer {
    /// 1 / JDO_200, with the encrypted cards for card goods (`None` for direct recharge).
    pub fn success(
        jd_order_no: i64,
        agent_order_no: impl Into<String>,
        product: Option<String>,
    ) -> DistillAnswer {
        DistillAnswer {
            code: ProduceCode::Success,
            jd_order_no: Some(jd_order_no),
            agent_order_no: Some(agent_order_no.into()),
            produce_status: ProduceStatus::Success,
            product,
        }
    }

    /// 3 / JDO_201: accepted, result follows by callback and findDistill.
    pub fn in_progress(jd_order_no: i64, agent_order_no: impl Into<String>) -> DistillAnswer {
        DistillAnswer {
            code: ProduceCode::InProgress,
            jd_order_no: Some(jd_order_no),
            agent_order_no: Some(agent_order_no.into()),
            produce_status: ProduceStatus::InProgress,
            product: None,
        }
    }

    /// Any code with its suggested `produceStatus` (e.g. JDO_302 → 2, JDO_500 → 4).
    pub fn with_code(
        jd_order_no: i64,
        agent_order_no: Option<String>,
        code: ProduceCode,
    ) -> DistillAnswer {
        DistillAnswer {
            code,
            jd_order_no: Some(jd_order_no),
            agent_order_no,
            produce_status: code.suggested_status(),
            product: None,
        }
    }

    /// The answer to a request we refused while parsing it.
    pub fn rejected(error: &RequestError) -> DistillAnswer {
        DistillAnswer {
            code: error.code,
            jd_order_no: error.jd_order_no,
            agent_order_no: None,
            produce_status: error.produce_status(),
            product: None,
        }
    }

    /// The answer to a `findDistill` we could not parse: the code with produceStatus 4, never 2.
    /// A query that fails to parse says nothing about the order, so it must not refund it.
    pub fn query_rejected(error: &RequestError) -> DistillAnswer {
        DistillAnswer {
            produce_status: ProduceStatus::Exception,
            ..DistillAnswer::rejected(error)
        }
    }

    fn non_empty(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }

    /// The textual fields that are signed (JSON numbers contribute their decimal text).
    pub fn signed_fields(&self, timestamp: &str) -> Vec<(String, String)> {
        let mut fields = Vec::with_capacity(6);
        if let Some(agent) = Self::non_empty(&self.agent_order_no) {
            fields.push(("agentOrderNo".to_string(), agent.to_string()));
        }
        fields.push(("code".to_string(), self.code.as_str().to_string()));
        if let Some(no) = self.jd_order_no {
            fields.push(("jdOrderNo".to_string(), no.to_string()));
        }
        fields.push((
            "produceStatus".to_string(),
            self.produce_status.code().to_string(),
        ));
        if let Some(product) = Self::non_empty(&self.product) {
            fields.push(("product".to_string(), product.to_string()));
        }
        fields.push(("timestamp".to_string(), timestamp.to_string()));
        fields
    }

    /// The signed JSON body: `jdOrderNo` and `produceStatus` as JSON numbers, `signType` MD5.
    /// `timestamp` is `yyyyMMddHHmmss` (see [`super::beijing_timestamp`]).
    pub fn encode(&self, md5_key: &str, timestamp: &str) -> Vec<u8> {
        let json = DistillAnswerJson {
            agent_order_no: Self::non_empty(&self.agent_order_no),
            code: self.code.as_str(),
            jd_order_no: self.jd_order_no,
            produce_status: self.produce_status.code(),
            product: Self::non_empty(&self.product),
            sign: sign(&self.signed_fields(timestamp), md5_key),
            sign_type: SIGN_TYPE_MD5,
            timestamp,
        };
        // Serializing strings and integers cannot fail.
        serde_json::to_vec(&json).unwrap_or_default()
    }

    /// Reads and verifies an answer (JD simulator, system tests).
    pub fn parse_verified(body: &[u8], md5_key: &str) -> Result<DistillAnswer, AnswerError> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(AnswerError::NotJsonObject);
        };
        let fields: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, v)| json_text(v).map(|t| (k.clone(), t)))
            .collect();
        let received = form::first_value(&fields, "sign").unwrap_or_default();
        if !verify_sign(&fields, md5_key, received) {
            return Err(AnswerError::BadSignature);
        }
        let text = |name: &'static str| {
            form::first_value(&fields, name)
                .filter(|v| !v.is_empty())
                .ok_or(AnswerError::Missing(name))
        };
        let code = ProduceCode::parse(text("code")?).ok_or(AnswerError::Invalid("code"))?;
        let status = text("produceStatus")?
            .parse::<u8>()
            .ok()
            .and_then(ProduceStatus::from_code)
            .ok_or(AnswerError::Invalid("produceStatus"))?;
        let jd_order_no = match form::first_value(&fields, "jdOrderNo") {
            Some(v) => Some(parse_long(v).ok_or(AnswerError::Invalid("jdOrderNo"))?),
            None => None,
        };
        Ok(DistillAnswer {
            code,
            jd_order_no,
            agent_order_no: text("agentOrderNo").ok().map(str::to_string),
            produce_status: status,
            product: text("product").ok().map(str::to_string),
        })
    }
}

/// Why a distill answer could not be read (simulator side).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("应答不是 JSON 对象")]
    NotJsonObject,
    #[error("应答签名错误")]
    BadSignature,
    #[error("应答缺少字段 {0}")]
    Missing(&'static str),
    #[error("应答字段 {0} 无效")]
    Invalid(&'static str),
}

/// The textual value of a scalar JSON value as it takes part in signatures.
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Callback to JD (§6)

/// The production callback URL for a request's `notifyUrl`: `/produce/result` appended unless it
/// is already there, without doubling slashes.
pub fn callback_url(notify_url: &str) -> String {
    let base = notify_url.trim().trim_end_matches('/');
    if base.ends_with(CALLBACK_PATH) {
        base.to_string()
    } else {
        format!("{base}{CALLBACK_PATH}")
    }
}

/// The final result of an asynchronous order, posted as a form to [`callback_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResultCallback {
    pub vendor_id: i64,
    pub jd_order_no: i64,
    /// The same agentOrderNo we answered earlier.
    pub agent_order_no: String,
    /// 1 or 2.
    pub produce_status: ProduceStatus,
    pub quantity: u32,
    /// Encrypted cards on success for card goods; `None` for failures and direct recharge.
    pub product: Option<String>,
}

impl ProduceResultCallback {
    /// The signed form fields. Every retry needs a fresh `timestamp` (and so a fresh sign).
    /// `signType` is not sent: it is not in JD's callback table or example (and would be
    /// ignored by the signature anyway).
    pub fn to_form(&self, md5_key: &str, timestamp: &str) -> Vec<(String, String)> {
        let mut fields = vec![
            ("vendorId".to_string(), self.vendor_id.to_string()),
            ("jdOrderNo".to_string(), self.jd_order_no.to_string()),
            ("agentOrderNo".to_string(), self.agent_order_no.clone()),
            (
                "produceStatus".to_string(),
                self.produce_status.code().to_string(),
            ),
            ("quantity".to_string(), self.quantity.to_string()),
        ];
        if let Some(product) = self.product.as_deref().filter(|p| !p.is_empty()) {
            fields.push(("product".to_string(), product.to_string()));
        }
        fields.push(("timestamp".to_string(), timestamp.to_string()));
        let signature = sign(&fields, md5_key);
        fields.push(("sign".to_string(), signature));
        fields
    }

    /// The urlencoded body of [`ProduceResultCallback::to_form`].
    pub fn to_form_body(&self, md5_key: &str, timestamp: &str) -> String {
        form::encode_form(&self.to_form(md5_key, timestamp))
    }

    /// Reads a callback as JD would (fake JD in system tests). Does not verify the signature:
    /// use [`verify_signed_fields`] on the same pairs.
    pub fn parse(fields: &[(String, String)]) -> Result<ProduceResultCallback, RequestError> {
        let r = FieldReader::new(fields)?;
        let produce_status = r
            .required_long("produceStatus")
            .ok()
            .and_then(|s| u8::try_from(s).ok())
            .and_then(ProduceStatus::from_code)
            .ok_or_else(|| {
                RequestError::invalid("参数 produceStatus 无效".to_string(), r.jd_order_no)
            })?;
        let quantity = u32::try_from(r.required_long("quantity")?)
            .map_err(|_| RequestError::invalid("参数 quantity 无效".to_string(), r.jd_order_no))?;
        Ok(ProduceResultCallback {
            vendor_id: r.required_long("vendorId")?,
            jd_order_no: r.jd_order_no.unwrap_or_default(),
            agent_order_no: r.required("agentOrderNo")?.to_string(),
            produce_status,
            quantity,
            product: r.optional("product").map(str::to_string),
        })
    }
}

/// What the notifier should do after JD answered a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// `code == "0"`: JD has the result.
    Delivered,
    /// Retrying cannot help (`13`: the order is already final at JD): stop and alert.
    Stop { code: String, reason: String },
    /// A configuration problem on our side (`10` signature, `11` IP not registered, `19` unknown
    /// merchant): keep retrying on the schedule (the operator may fix the key or register the IP
    /// meanwhile) and alert.
    Misconfigured { code: String, reason: String },
    /// Anything else, including 500 and unreadable bodies: retry later.
    Retry { reason: String },
}

/// JD's JSON answer to a callback: `{"code":"0","message":"成功"}` (§6, codes §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub code: String,
    pub message: String,
}

impl CallbackAnswer {
    /// Reads JD's answer; `code` may be a JSON string or number.
    pub fn read(body: &[u8]) -> Option<CallbackAnswer> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let code = map.get("code").and_then(json_text)?.trim().to_string();
        let message = map.get("message").and_then(json_text).unwrap_or_default();
        Some(CallbackAnswer { code, message })
    }

    /// Reads JD's answer and decides what to do next.
    pub fn parse(body: &[u8]) -> CallbackVerdict {
        match CallbackAnswer::read(body) {
            Some(answer) => answer.verdict(),
            None => CallbackVerdict::Retry {
                reason: format!("京东回调应答无法解析: {}", excerpt(body)),
            },
        }
    }

    pub fn verdict(&self) -> CallbackVerdict {
        let meaning = callback_code_label_zh(&self.code);
        let detail = if self.message.is_empty() {
            String::new()
        } else {
            format!("（京东: {}）", self.message)
        };
        let reason = |why: &str| format!("京东返回 {} {meaning}，{why}{detail}", self.code);
        let misconfigured = |why: &str| CallbackVerdict::Misconfigured {
            code: self.code.clone(),
            reason: reason(why),
        };
        match self.code.as_str() {
            "0" => CallbackVerdict::Delivered,
            "13" => CallbackVerdict::Stop {
                code: self.code.clone(),
                reason: reason("订单在京东侧已是终态，停止回调，请人工核对"),
            },
            "10" => misconfigured("签名验证失败，请检查店铺 MD5 密钥配置"),
            "11" => misconfigured("回调来源 IP 未在京东登记，请登记出口 IP"),
            "19" => misconfigured("京东不认识该商家，请检查 vendorId 配置"),
            _ => CallbackVerdict::Retry {
                reason: format!("京东返回 {} {meaning}，稍后重试{detail}", self.code),
            },
        }
    }
}

/// Meaning of JD's callback answer codes (§7.3).
pub fn callback_code_label_zh(code: &str) -> &'static str {
    match code {
        "0" => "成功",
        "2" => "参数校验错误",
        "3" => "订单不存在",
        "10" => "签名验证错误",
        "11" => "IP无权限",
        "12" => "数量错误",
        "13" => "订单状态错误",
        "19" => "商家不存在",
        "500" => "系统异常",
        _ => "未知错误码",
    }
}

/// The start of an unreadable body for a log line / reason text.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "12345678901234567890123456789012";
    const A1_CIPHER: &str = "QZltw6QjIQ55tmU0xg2+20FGGnnmGoTWN/KZUdsllLoyaFGsi/dx7lc/JSPb/rTDUmcbeGakkBwlMdwkG51DABZQnmd6VC0x/tQi2RQ/BaE20LGmfpL0GkeXxUcTFRaf99lSLAqi1rkS6N4WxwL0jyCOi114VSzT06SZpOe2HqpLVPa6HuW0IOa9xFKdz9AZ";
    const A2_CIPHER: &str = "QZltw6QjIQ55tmU0xg2+26pc61I23M+dPTBDU4tMZdelTtVt1TjjsrzjDvioYKZqII1sLB3+/yACSnQYc1U18WkU6NVZZVlzj+kOcLkVwpNF4doqugLu9xcQM5A70VMy";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn aes() -> JdAesKey {
        JdAesKey::new(K).expect("key")
    }

    fn a2_card() -> CardItem {
        CardItem {
            card_number: "CARD0001".into(),
            password: "PWD-0001".into(),
            expiry_date: "2099-12-31".into(),
            limit_times: Some(1),
        }
    }

    const S1_FIELDS: &[(&str, &str)] = &[
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

    fn s1_form() -> Vec<(String, String)> {
        let mut f = pairs(S1_FIELDS);
        f.push(("sign".into(), "10c1c32a49e2a520ef59ca97cefc73f9".into()));
        f
    }

    #[test]
    fn s1_begin_distill_request_sign() {
        assert_eq!(
            sign_string(S1_FIELDS, K),
            "jdOrderNo10001notifyUrlhttp://vtp.jd.com/notifypayTime20210208101218produceAccount13333333333quantity1timestamp20210208101217totalPrice10000vendorId1201wareNo4500112345678901234567890123456789012"
        );
        assert_eq!(sign(S1_FIELDS, K), "10c1c32a49e2a520ef59ca97cefc73f9");
        assert!(verify_signed_fields(&s1_form(), K));
    }

    #[test]
    fn s1_parses_into_a_typed_request_and_verifies() {
        let body = form::encode_form(&s1_form());
        let req = BeginDistillRequest::parse(&form::parse_form(body.as_bytes())).expect("valid");
        assert_eq!(req.jd_order_no, 10001);
        assert_eq!(req.vendor_id, 1201);
        assert_eq!(req.ware_no, "45001");
        assert_eq!(req.quantity, 1);
        assert_eq!(req.total_price, Fen(10000));
        assert_eq!(req.pay_time, "20210208101218");
        assert_eq!(req.notify_url.as_deref(), Some("http://vtp.jd.com/notify"));
        assert_eq!(req.produce_account.as_deref(), Some("13333333333"));
        assert_eq!(req.expand, None);
        assert_eq!(req.timestamp, "20210208101217");
        assert!(req.verify_signature(K));
        assert!(!req.verify_signature("12345678901234567890123456789013"));
        assert_eq!(peek_vendor_id(&req.fields), Some(1201));
    }

    #[test]
    fn uppercase_sign_is_accepted_and_wrong_sign_rejected() {
        let mut f = pairs(S1_FIELDS);
        f.push(("sign".into(), "10C1C32A49E2A520EF59CA97CEFC73F9".into()));
        let req = BeginDistillRequest::parse(&f).expect("valid");
        assert!(req.verify_signature(K));

        let mut f = pairs(S1_FIELDS);
        f.push(("sign".into(), "10c1c32a49e2a520ef59ca97cefc73f8".into()));
        assert!(
            !BeginDistillRequest::parse(&f)
                .expect("valid")
                .verify_signature(K)
        );

        // A tampered value breaks the signature.
        let mut f = s1_form();
        f[4].1 = "1".into(); // totalPrice
        assert!(
            !BeginDistillRequest::parse(&f)
                .expect("valid")
                .verify_signature(K)
        );
        // Unknown extra fields are signed too.
        let mut f = s1_form();
        f.push(("expand".into(), "abc".into()));
        assert!(!verify_signed_fields(&f, K));
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
        assert_eq!(sign(&with_breaks, K), "d847ad8beb23f036ccc0874153efb298");
        assert_eq!(
            sign(&fields(A1_CIPHER), K),
            "aa6bb2ce8f69a0475aa2a9461f1a8951"
        );
    }

    #[test]
    fn s3_find_distill_request() {
        let fields = pairs(&[
            ("jdOrderNo", "10001"),
            ("signType", "MD5"),
            ("timestamp", "20210207170426"),
            ("sign", "3188db973425577d8a3c2111990a4c2f"),
        ]);
        assert_eq!(
            sign_string(&fields, K),
            format!("jdOrderNo10001timestamp20210207170426{K}")
        );
        assert_eq!(sign(&fields, K), "3188db973425577d8a3c2111990a4c2f");
        let req = FindDistillRequest::parse(&fields).expect("valid");
        assert_eq!(req.jd_order_no, 10001);
        assert_eq!(req.vendor_id, None);
        assert!(req.verify_signature(K));

        let mut with_vendor = fields.clone();
        with_vendor.push(("vendorId".into(), "1201".into()));
        let req = FindDistillRequest::parse(&with_vendor).expect("valid");
        assert_eq!(req.vendor_id, Some(1201));
        assert!(!req.verify_signature(K), "vendorId is signed when present");
    }

    #[test]
    fn s4_empty_fields_are_dropped() {
        let with_empty = pairs(&[
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
        ]);
        let without: Vec<(String, String)> = with_empty
            .iter()
            .filter(|(k, _)| k != "produceAccount")
            .cloned()
            .collect();
        assert_eq!(
            sign_string(&with_empty, K),
            format!(
                "jdOrderNo10002notifyUrlhttps://vtpnotify.jd.com/vtppayTime20210208101218quantity2timestamp20210208101217totalPrice20000vendorId1201wareNo45001{K}"
            )
        );
        assert_eq!(sign(&with_empty, K), "34c5d9e30f31e580f2b722a499ffd9b1");
        assert_eq!(sign(&without, K), "34c5d9e30f31e580f2b722a499ffd9b1");
        let mut signed = with_empty.clone();
        signed.push(("sign".into(), "34c5d9e30f31e580f2b722a499ffd9b1".into()));
        let req = BeginDistillRequest::parse(&signed).expect("valid");
        assert_eq!(req.produce_account, None);
        assert_eq!(req.quantity, 2);
        assert!(req.verify_signature(K));
    }

    #[test]
    fn zero_is_a_value_and_is_signed() {
        let a = pairs(&[("jdOrderNo", "1"), ("vendorId", "0")]);
        assert_eq!(sign_string(&a, "k"), "jdOrderNo1vendorId0k");
        let req_fields = pairs(&[
            ("jdOrderNo", "10003"),
            ("vendorId", "0"),
            ("wareNo", "1"),
            ("quantity", "1"),
            ("totalPrice", "0"),
            ("payTime", "20210208101218"),
            ("notifyUrl", "https://vtpnotify.jd.com/vtp"),
            ("timestamp", "20210208101217"),
        ]);
        let req = BeginDistillRequest::parse(&sign_form(&req_fields, K)).expect("valid");
        assert_eq!(req.vendor_id, 0);
        assert_eq!(req.total_price, Fen(0));
        assert!(req.verify_signature(K));
    }

    #[test]
    fn s5_in_progress_answer() {
        let answer = DistillAnswer::in_progress(10002, "SP00001");
        assert_eq!(
            sign_string(&answer.signed_fields("20210208110841"), K),
            format!(
                "agentOrderNoSP00001codeJDO_201jdOrderNo10002produceStatus3timestamp20210208110841{K}"
            )
        );
        let body = answer.encode(K, "20210208110841");
        assert_eq!(
            String::from_utf8(body.clone()).expect("utf8"),
            r#"{"agentOrderNo":"SP00001","code":"JDO_201","jdOrderNo":10002,"produceStatus":3,"sign":"d24c4c18996e167c8a3d9ca000efac9c","signType":"MD5","timestamp":"20210208110841"}"#
        );
        assert_eq!(
            DistillAnswer::parse_verified(&body, K).expect("valid"),
            answer
        );
        assert_eq!(
            DistillAnswer::parse_verified(&body, "wrong").unwrap_err(),
            AnswerError::BadSignature
        );
    }

    #[test]
    fn s6_success_answer_with_product() {
        let product = encrypt_cards(&[a2_card()], &aes());
        assert_eq!(product, A2_CIPHER);
        let answer = DistillAnswer::success(10002, "SP00001", Some(product));
        assert_eq!(
            sign_string(&answer.signed_fields("20210208110742"), K),
            format!(
                "agentOrderNoSP00001codeJDO_200jdOrderNo10002produceStatus1product{A2_CIPHER}timestamp20210208110742{K}"
            )
        );
        let body = answer.encode(K, "20210208110742");
        let json: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["sign"], "c181a7b5c1458797ad887d14b098e3c1");
        assert_eq!(json["jdOrderNo"], 10002);
        assert_eq!(json["produceStatus"], 1);
        assert_eq!(json["product"], A2_CIPHER);
        assert_eq!(json["signType"], "MD5");
        let back = DistillAnswer::parse_verified(&body, K).expect("valid");
        let cards =
            decrypt_cards(back.product.as_deref().expect("product"), &aes()).expect("cards");
        assert_eq!(cards, vec![a2_card()]);
    }

    #[test]
    fn empty_agent_order_no_is_omitted() {
        let answer = DistillAnswer::with_code(10002, Some(String::new()), ProduceCode::SystemError);
        let body = String::from_utf8(answer.encode(K, "20210208110841")).expect("utf8");
        assert!(!body.contains("agentOrderNo"));
        assert!(body.contains(r#""code":"JDO_500""#));
        assert!(body.contains(r#""produceStatus":4"#));
        let expected = sign(
            &pairs(&[
                ("code", "JDO_500"),
                ("jdOrderNo", "10002"),
                ("produceStatus", "4"),
                ("timestamp", "20210208110841"),
            ]),
            K,
        );
        assert!(body.contains(&expected));
    }

    #[test]
    fn s7_callback_form() {
        let callback = ProduceResultCallback {
            vendor_id: 1201,
            jd_order_no: 10002,
            agent_order_no: "SP00001".into(),
            produce_status: ProduceStatus::Success,
            quantity: 1,
            product: Some(A2_CIPHER.into()),
        };
        let form_fields = callback.to_form(K, "20210208112401");
        assert_eq!(
            sign_string(&form_fields, K),
            format!(
                "agentOrderNoSP00001jdOrderNo10002produceStatus1product{A2_CIPHER}quantity1timestamp20210208112401vendorId1201{K}"
            )
        );
        assert_eq!(
            form_fields,
            pairs(&[
                ("vendorId", "1201"),
                ("jdOrderNo", "10002"),
                ("agentOrderNo", "SP00001"),
                ("produceStatus", "1"),
                ("quantity", "1"),
                ("product", A2_CIPHER),
                ("timestamp", "20210208112401"),
                ("sign", "1594cc7c42ee05fd87309328fcf1524b"),
            ])
        );
        let body = callback.to_form_body(K, "20210208112401");
        let decoded = form::parse_form(body.as_bytes());
        assert_eq!(decoded, form_fields, "Base64 + / = survive form encoding");
        assert!(verify_signed_fields(&decoded, K));
        assert_eq!(
            ProduceResultCallback::parse(&decoded).expect("valid"),
            callback
        );
    }

    #[test]
    fn failed_callback_has_no_product() {
        let callback = ProduceResultCallback {
            vendor_id: 1201,
            jd_order_no: 10002,
            agent_order_no: "SP00001".into(),
            produce_status: ProduceStatus::Failed,
            quantity: 1,
            product: None,
        };
        let f = callback.to_form(K, "20210208112401");
        assert!(form::first_value(&f, "product").is_none());
        assert_eq!(form::first_value(&f, "produceStatus"), Some("2"));
        assert!(verify_signed_fields(&f, K));
    }

    #[test]
    fn missing_and_invalid_fields_answer_jdo_303() {
        let without = |name: &str| -> Vec<(String, String)> {
            s1_form().into_iter().filter(|(k, _)| k != name).collect()
        };
        for name in [
            "wareNo",
            "quantity",
            "totalPrice",
            "payTime",
            "notifyUrl",
            "vendorId",
            "timestamp",
        ] {
            let err = BeginDistillRequest::parse(&without(name)).unwrap_err();
            assert_eq!(err.code, ProduceCode::InvalidParams, "{name}");
            assert_eq!(err.produce_status(), ProduceStatus::Failed);
            assert_eq!(err.jd_order_no, Some(10001), "{name}");
            assert!(err.reason.contains(name), "{}", err.reason);
        }
        let err = BeginDistillRequest::parse(&without("jdOrderNo")).unwrap_err();
        assert_eq!(err.code, ProduceCode::InvalidParams);
        assert_eq!(err.jd_order_no, None);

        let with = |name: &str, value: &str| -> Vec<(String, String)> {
            s1_form()
                .into_iter()
                .map(|(k, v)| {
                    if k == name {
                        (k, value.to_string())
                    } else {
                        (k, v)
                    }
                })
                .collect()
        };
        for (name, value) in [
            ("jdOrderNo", "10001a"),
            ("jdOrderNo", "-10001"),
            ("jdOrderNo", " 10001"),
            ("jdOrderNo", "99999999999999999999"),
            ("quantity", "0"),
            ("quantity", "1.5"),
            ("quantity", "99999999999"),
            ("totalPrice", "-1"),
            ("totalPrice", "100.00"),
            ("vendorId", "abc"),
            ("notifyUrl", "ftp://x"),
        ] {
            let err = BeginDistillRequest::parse(&with(name, value)).unwrap_err();
            assert_eq!(err.code, ProduceCode::InvalidParams, "{name}={value}");
        }
        let err = BeginDistillRequest::parse(&with("jdOrderNo", "abc")).unwrap_err();
        assert_eq!(err.jd_order_no, None);
        let answer = DistillAnswer::rejected(&err);
        let body = String::from_utf8(answer.encode(K, "20210208110841")).expect("utf8");
        assert!(!body.contains("jdOrderNo"));
        assert!(body.contains(r#""code":"JDO_303","produceStatus":2"#));

        let mut dup = s1_form();
        dup.push(("jdOrderNo".into(), "10009".into()));
        assert_eq!(
            BeginDistillRequest::parse(&dup).unwrap_err().code,
            ProduceCode::InvalidParams
        );
    }

    #[test]
    fn signature_problems_answer_jdo_304_with_status_4() {
        let no_sign: Vec<(String, String)> = pairs(S1_FIELDS);
        let err = BeginDistillRequest::parse(&no_sign).unwrap_err();
        assert_eq!(err.code, ProduceCode::SignatureFailed);
        assert_eq!(err.produce_status(), ProduceStatus::Exception);
        assert!(!verify_signed_fields(&no_sign, K));

        let mut dsa = s1_form();
        dsa[8].1 = "DSA".into();
        let err = BeginDistillRequest::parse(&dsa).unwrap_err();
        assert_eq!(err.code, ProduceCode::SignatureFailed);
        // signType is optional and case-insensitive.
        let mut lower = s1_form();
        lower[8].1 = "md5".into();
        assert!(BeginDistillRequest::parse(&lower).is_ok());
        let no_type: Vec<(String, String)> = s1_form()
            .into_iter()
            .filter(|(k, _)| k != "signType")
            .collect();
        assert!(
            BeginDistillRequest::parse(&no_type)
                .expect("valid")
                .verify_signature(K)
        );
    }

    #[test]
    fn produce_codes_and_pairing() {
        let expected = [
            ("JDO_200", 1),
            ("JDO_201", 3),
            ("JDO_301", 2),
            ("JDO_302", 2),
            ("JDO_303", 2),
            ("JDO_304", 4),
            ("JDO_305", 2),
            ("JDO_500", 4),
        ];
        for (code, status) in expected {
            let parsed = ProduceCode::parse(code).expect(code);
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.suggested_status().code(), status, "{code}");
        }
        assert_eq!(ProduceCode::parse("JDO_999"), None);
        for n in 1..=4 {
            assert_eq!(
                ProduceStatus::from_code(n).map(ProduceStatus::code),
                Some(n)
            );
        }
        assert_eq!(ProduceStatus::from_code(0), None);
        assert_eq!(ProduceStatus::from_code(5), None);
    }

    #[test]
    fn cards_format() {
        let cards = vec![
            a2_card(),
            CardItem {
                card_number: String::new(),
                password: "P2".into(),
                expiry_date: String::new(),
                limit_times: None,
            },
        ];
        assert_eq!(
            cards_json(&cards),
            r#"[{"cardNumber":"CARD0001","password":"PWD-0001","expiryDate":"2099-12-31","limitTimes":1},{"cardNumber":"-","password":"P2","expiryDate":"-"}]"#
        );
        let back = decrypt_cards(&encrypt_cards(&cards, &aes()), &aes()).expect("cards");
        assert_eq!(back[1].card_number, "-");
        assert_eq!(back[1].limit_times, None);
        // A1 (doc's key order) decrypts into cards as well.
        let a1 = decrypt_cards(A1_CIPHER, &aes()).expect("cards");
        assert_eq!(a1.len(), 2);
        assert_eq!(a1[0].card_number, "123456");
        assert_eq!(a1[0].password, "654321");
        assert_eq!(a1[0].expiry_date, "2016-10-10");
        // The legacy underscore format is not a card array.
        assert_eq!(
            decrypt_cards("zr75dzeGdwf4MqR/6Y9oGkGYq0CBSHwhOhyCvEBK18g=", &aes()).unwrap_err(),
            ProductError::NotCardArray
        );
        assert!(a2_card().within_jd_limits());
        let long = CardItem {
            card_number: "x".repeat(128),
            ..a2_card()
        };
        assert!(!long.within_jd_limits());
    }

    #[test]
    fn expand_decrypts_plain_or_percent_encoded() {
        let plain = r#"{"system":"2","mobile":"","orderPaymentAmount":5000}"#;
        let cipher = aes().encrypt_b64(plain.as_bytes());
        let map = decrypt_expand(&cipher, &aes()).expect("expand");
        assert_eq!(map["orderPaymentAmount"], 5000);
        let escaped = cipher
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(decrypt_expand(&escaped, &aes()).expect("expand"), map);
        assert!(decrypt_expand("zr75dzeGdwf4MqR/6Y9oGkGYq0CBSHwhOhyCvEBK18g=", &aes()).is_err());
        assert!(decrypt_expand("%%%zz", &aes()).is_err());
    }

    #[test]
    fn callback_urls() {
        assert_eq!(
            callback_url("https://vtpnotify.jd.com/vtp"),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url("https://vtpnotify.jd.com/vtp/"),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url("https://vtpnotify.jd.com/vtp/produce/result"),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url(" https://vtpnotify.jd.com/vtp/produce/result/ "),
            "https://vtpnotify.jd.com/vtp/produce/result"
        );
        assert_eq!(
            callback_url("http://vtp.jd.com/notify"),
            "http://vtp.jd.com/notify/produce/result"
        );
        assert_eq!(
            SELF_TEST_CALLBACK_URL,
            "https://tsp.shop.jd.com/vtp/produce/notify"
        );
    }

    #[test]
    fn callback_answers() {
        assert_eq!(
            CallbackAnswer::parse(r#"{"code":"0","message":"成功"}"#.as_bytes()),
            CallbackVerdict::Delivered
        );
        assert_eq!(
            CallbackAnswer::parse(br#"{"code":0}"#),
            CallbackVerdict::Delivered
        );
        // Only 13 stops; 10, 11 and 19 are configuration problems: retried, with an alert.
        for code in ["10", "11", "19"] {
            let body = format!(r#"{{"code":"{code}","message":"x"}}"#);
            match CallbackAnswer::parse(body.as_bytes()) {
                CallbackVerdict::Misconfigured { code: c, reason } => {
                    assert_eq!(c, code);
                    assert!(reason.contains(code) && reason.contains("京东"), "{reason}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        match CallbackAnswer::parse(r#"{"code":"13","message":"订单状态错误"}"#.as_bytes()) {
            CallbackVerdict::Stop { reason, .. } => assert!(reason.contains("终态")),
            other => panic!("{other:?}"),
        }
        for body in [
            r#"{"code":"500","message":"系统异常"}"#.as_bytes(),
            br#"{"code":"2"}"#,
            br#"{"code":"3"}"#,
            br#"{"code":"12"}"#,
            br#"{"code":"77"}"#,
            br#"{"message":"no code"}"#,
            b"<html>502 Bad Gateway</html>",
            b"",
            b"[1,2]",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(CallbackAnswer::parse(body), CallbackVerdict::Retry { .. }),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        match CallbackAnswer::parse(b"<html>502</html>") {
            CallbackVerdict::Retry { reason } => assert!(reason.contains("<html>502</html>")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_find_distill_that_fails_parsing_is_never_answered_with_a_refund() {
        // Signed but without timestamp: JDO_303, which a beginDistill pairs with 2.
        let fields = pairs(&[("jdOrderNo", "10001"), ("sign", "x")]);
        let e = FindDistillRequest::parse(&fields).unwrap_err();
        assert_eq!(e.code, ProduceCode::InvalidParams);
        assert_eq!(
            DistillAnswer::rejected(&e).produce_status,
            ProduceStatus::Failed
        );
        let a = DistillAnswer::query_rejected(&e);
        assert_eq!(
            (a.code, a.jd_order_no, a.produce_status),
            (
                ProduceCode::InvalidParams,
                Some(10001),
                ProduceStatus::Exception
            )
        );
    }

    #[test]
    fn a_test_mode_shop_does_not_need_a_notify_url() {
        let without: Vec<(String, String)> = s1_form()
            .into_iter()
            .filter(|(k, _)| k != "notifyUrl")
            .collect();
        assert!(BeginDistillRequest::parse(&without).is_err());
        let req = BeginDistillRequest::parse_for(&without, false).expect("lenient");
        assert_eq!(req.notify_url, None);
        let odd: Vec<(String, String)> = s1_form()
            .into_iter()
            .map(|(k, v)| {
                if k == "notifyUrl" {
                    (k, "vtp.jd.com".into())
                } else {
                    (k, v)
                }
            })
            .collect();
        assert!(BeginDistillRequest::parse(&odd).is_err());
        assert_eq!(
            BeginDistillRequest::parse_for(&odd, false)
                .unwrap()
                .notify_url,
            None
        );
        assert_eq!(
            BeginDistillRequest::parse_for(&s1_form(), false)
                .unwrap()
                .notify_url
                .as_deref(),
            Some("http://vtp.jd.com/notify")
        );
    }
}
