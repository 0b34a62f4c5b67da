//! JD 游戏点卡平台 (game point-card platform), merchant side. JD posts a form
//! `customerId, data, timestamp, sign[, version]` where `data` is Base64 of a JSON object; we
//! answer `{"retCode","retMessage","data"}`; results go back by callback with `data` as Base64 of
//! **GBK** JSON. The rules below are JD's published interface document for this platform, pinned
//! by the tests.
//!
//! Signature (§3): `md5(k1=v1&k2=v2&…&<privateKey>)` over every parameter except `sign`, empty
//! ones dropped, names in byte order, raw (not URL-encoded) values, lowercase hex.

use std::borrow::Cow;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::form;
use crate::crypto;
use crate::domain::money::Fen;

/// Direct-charge result callback, production.
pub const DIRECT_CALLBACK_URL_PROD: &str = "https://card.jd.com/api/gameApi.action";
/// Direct-charge result callback, JD's pre-release (test) environment.
pub const DIRECT_CALLBACK_URL_TEST: &str = "https://card-pre.jd.com/api/gameApi.action";
/// Card-order result callback, production.
pub const CARD_CALLBACK_URL_PROD: &str = "https://card.jd.com/api/cardApi.action";
/// Card-order result callback, test. Not documented by JD: inferred by analogy with the
/// direct-charge test host [INFERRED, unverified].
pub const CARD_CALLBACK_URL_TEST: &str = "https://card-pre.jd.com/api/cardApi.action";
/// `failedReason` limit: 100 characters ≈ 30 Chinese characters; we cut at 30 characters.
pub const FAILED_REASON_MAX_CHARS: usize = 30;

/// Which kind of game-card order a callback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameOrderKind {
    /// 直充 (direct top-up): callback to `gameApi.action`.
    Direct,
    /// 卡密 (card): callback to `cardApi.action`.
    Card,
}

/// JD's callback URL for an order kind, test or production.
pub fn callback_url(kind: GameOrderKind, test: bool) -> &'static str {
    match (kind, test) {
        (GameOrderKind::Direct, false) => DIRECT_CALLBACK_URL_PROD,
        (GameOrderKind::Direct, true) => DIRECT_CALLBACK_URL_TEST,
        (GameOrderKind::Card, false) => CARD_CALLBACK_URL_PROD,
        (GameOrderKind::Card, true) => CARD_CALLBACK_URL_TEST,
    }
}

// ---------------------------------------------------------------------------------------------
// Return codes (§4.1)

/// `retCode` values with JD's meaning. `is_retry()` marks the `[R]` codes JD retries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetCode {
    /// 100
    Success,
    /// 101
    OrderNotFound,
    /// 102
    DuplicateOrder,
    /// 103
    GameAreaUnavailable,
    /// 104
    InvalidParams,
    /// 105 [R]
    IpNotAllowed,
    /// 106 [R]
    SignFailed,
    /// 107
    NoSuchProduct,
    /// 108 [R]
    DatabaseBusy,
    /// 109
    NotForSale,
    /// 110 [R]
    OutOfStock,
    /// 111
    PriceMismatch,
    /// 112
    InsufficientBalance,
    /// 113
    AccountNotFound,
    /// 114
    AccountVerificationFailed,
    /// 115
    BrandNotFound,
    /// 116
    WrongRechargeAccount,
    /// 117
    IdentityMismatch,
    /// 118
    PurchaseLimitReached,
    /// 119
    AccountRiskControlled,
    /// 120
    AccountBanned,
    /// 121
    NotEligible,
    /// 122
    AccountMappingFailed,
    /// 123
    BrandOrderFailed,
    /// 124
    InvalidPrice,
    /// 999 [R]
    SystemError,
    /// 1000 [R]
    BrandTimeout,
}

impl RetCode {
    pub const ALL: [RetCode; 27] = [
        RetCode::Success,
        RetCode::OrderNotFound,
        RetCode::DuplicateOrder,
        RetCode::GameAreaUnavailable,
        RetCode::InvalidParams,
        RetCode::IpNotAllowed,
        RetCode::SignFailed,
        RetCode::NoSuchProduct,
        RetCode::DatabaseBusy,
        RetCode::NotForSale,
        RetCode::OutOfStock,
        RetCode::PriceMismatch,
        RetCode::InsufficientBalance,
        RetCode::AccountNotFound,
        RetCode::AccountVerificationFailed,
        RetCode::BrandNotFound,
        RetCode::WrongRechargeAccount,
        RetCode::IdentityMismatch,
        RetCode::PurchaseLimitReached,
        RetCode::AccountRiskControlled,
        RetCode::AccountBanned,
        RetCode::NotEligible,
        RetCode::AccountMappingFailed,
        RetCode::BrandOrderFailed,
        RetCode::InvalidPrice,
        RetCode::SystemError,
        RetCode::BrandTimeout,
    ];

    pub fn code(self) -> u16 {
        match self {
            RetCode::Success => 100,
            RetCode::OrderNotFound => 101,
            RetCode::DuplicateOrder => 102,
            RetCode::GameAreaUnavailable => 103,
            RetCode::InvalidParams => 104,
            RetCode::IpNotAllowed => 105,
            RetCode::SignFailed => 106,
            RetCode::NoSuchProduct => 107,
            RetCode::DatabaseBusy => 108,
            RetCode::NotForSale => 109,
            RetCode::OutOfStock => 110,
            RetCode::PriceMismatch => 111,
            RetCode::InsufficientBalance => 112,
            RetCode::AccountNotFound => 113,
            RetCode::AccountVerificationFailed => 114,
            RetCode::BrandNotFound => 115,
            RetCode::WrongRechargeAccount => 116,
            RetCode::IdentityMismatch => 117,
            RetCode::PurchaseLimitReached => 118,
            RetCode::AccountRiskControlled => 119,
            RetCode::AccountBanned => 120,
            RetCode::NotEligible => 121,
            RetCode::AccountMappingFailed => 122,
            RetCode::BrandOrderFailed => 123,
            RetCode::InvalidPrice => 124,
            RetCode::SystemError => 999,
            RetCode::BrandTimeout => 1000,
        }
    }

    pub fn from_code(code: u16) -> Option<RetCode> {
        RetCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Reads `"100"` or `" 100 "`.
    pub fn parse(code: &str) -> Option<RetCode> {
        code.trim().parse().ok().and_then(RetCode::from_code)
    }

    /// JD's default text; failure texts may be shown to the buyer.
    pub fn message_zh(self) -> &'static str {
        match self {
            RetCode::Success => "成功",
            RetCode::OrderNotFound => "订单不存在",
            RetCode::DuplicateOrder => "订单号不允许重复",
            RetCode::GameAreaUnavailable => "游戏区服不存在或已暂停",
            RetCode::InvalidParams => "传入的参数有误",
            RetCode::IpNotAllowed => "IP地址不允许访问",
            RetCode::SignFailed => "签名验证失败",
            RetCode::NoSuchProduct => "没有对应商品",
            RetCode::DatabaseBusy => "数据库繁忙，请稍后重试",
            RetCode::NotForSale => "商品暂停销售",
            RetCode::OutOfStock => "库存不足",
            RetCode::PriceMismatch => "价格不匹配",
            RetCode::InsufficientBalance => "账号余额不足",
            RetCode::AccountNotFound => "角色或账号不存在",
            RetCode::AccountVerificationFailed => "角色或账号验证失败",
            RetCode::BrandNotFound => "游戏品牌不存在",
            RetCode::WrongRechargeAccount => "充值账号错误，请输入正确的账号",
            RetCode::IdentityMismatch => "账号不满足身份要求",
            RetCode::PurchaseLimitReached => "账号已达最大购买次数",
            RetCode::AccountRiskControlled => "账号存在风险，已被风控",
            RetCode::AccountBanned => "账号已被封禁",
            RetCode::NotEligible => "不符合购买该商品的条件",
            RetCode::AccountMappingFailed => "账号转换失败",
            RetCode::BrandOrderFailed => "品牌方下单失败",
            RetCode::InvalidPrice => "价格无效",
            RetCode::SystemError => "系统错误",
            RetCode::BrandTimeout => "品牌方调用超时",
        }
    }

    /// The `[R]` codes: JD re-queries (queries) or may re-push (order taking) instead of refunding.
    /// Transient problems must always be answered with one of these.
    pub fn is_retry(self) -> bool {
        matches!(
            self,
            RetCode::IpNotAllowed
                | RetCode::SignFailed
                | RetCode::DatabaseBusy
                | RetCode::OutOfStock
                | RetCode::SystemError
                | RetCode::BrandTimeout
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A request we refuse, and the `retCode` to answer it with ([`GameError::ret_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GameError {
    #[error("缺少参数 {0}")]
    MissingParam(&'static str),
    #[error("参数 {0} 重复")]
    DuplicateParam(String),
    #[error("参数 {0} 无效")]
    InvalidParam(&'static str),
    #[error("缺少签名参数 sign")]
    MissingSign,
    #[error("签名验证失败")]
    BadSignature,
    #[error("data 不是有效的 Base64")]
    DataNotBase64,
    #[error("data 既不是 UTF-8 也不是 GBK 文本")]
    DataNotText,
    #[error("data 不是 JSON 对象")]
    DataNotJson,
    #[error("缺少字段 {0}")]
    MissingField(&'static str),
    #[error("字段 {field} 无效：{why}")]
    InvalidField { field: &'static str, why: String },
}

impl GameError {
    /// 106 for signature problems, 104 for everything else.
    pub fn ret_code(&self) -> RetCode {
        match self {
            GameError::MissingSign | GameError::BadSignature => RetCode::SignFailed,
            _ => RetCode::InvalidParams,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signature

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

// ---------------------------------------------------------------------------------------------
// `data`: Base64 of JSON

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Undoes form decoding damage: a `+` sent unescaped arrives as a space.
fn restore_plus(raw: &str) -> String {
    raw.replace(' ', "+")
}

/// Decodes a received `data` value to JSON text: spaces back to `+`, other whitespace removed,
/// missing padding tolerated, strict UTF-8 first and GBK as fallback (JD sends UTF-8; GBK is a
/// safety net, and is what JD's own callbacks use).
pub fn decode_data(raw: &str) -> Result<String, GameError> {
    let compact: String = restore_plus(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = lenient_base64()
        .decode(compact.as_bytes())
        .map_err(|_| GameError::DataNotBase64)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(not_utf8) => encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(not_utf8.as_bytes())
            .map(Cow::into_owned)
            .ok_or(GameError::DataNotText),
    }
}

/// Base64 of UTF-8 JSON, for the `data` of our answers (these payloads are ASCII anyway).
pub fn encode_answer_data(json: &str) -> String {
    STANDARD.encode(json.as_bytes())
}

/// Base64 of the **GBK** bytes of JSON, for callbacks (§2.2: "for historical reasons"). Characters
/// GBK cannot represent become `&#NNNN;` references; card data is ASCII, only reasons are affected.
pub fn encode_callback_data(json: &str) -> String {
    let (gbk, _, _) = encoding_rs::GBK.encode(json);
    STANDARD.encode(gbk)
}

/// `{id, name}` options such as `gameAccountType`, `chargeType`, `gameArea`, `gameServer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdName {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// The decoded JSON object of `data`, read leniently: keys trimmed (JD's own example has
/// `"orderId "`), numbers accepted as JSON strings or numbers, object-valued fields accepted as
/// objects or as JSON-encoded strings.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFields {
    map: Map<String, Value>,
}

impl DataFields {
    pub fn parse(json_text: &str) -> Result<DataFields, GameError> {
        let Ok(Value::Object(raw)) = serde_json::from_str::<Value>(json_text) else {
            return Err(GameError::DataNotJson);
        };
        let mut map = Map::new();
        for (key, value) in raw {
            let key = key.trim().to_string();
            // The first occurrence wins if trimming makes two keys equal.
            map.entry(key).or_insert(value);
        }
        Ok(DataFields { map })
    }

    /// The raw JSON value of a field.
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Text of a scalar field: strings as they are, numbers by their JSON text. Empty strings
    /// and `null` count as absent.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn required_text(&self, key: &'static str) -> Result<String, GameError> {
        self.text(key).ok_or(GameError::MissingField(key))
    }

    /// A `Long` field: digits only (after trimming), fitting `i64`.
    pub fn long(&self, key: &'static str) -> Result<Option<i64>, GameError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GameError::InvalidField {
                field: key,
                why: "应为非负整数".to_string(),
            });
        }
        text.parse().map(Some).map_err(|_| GameError::InvalidField {
            field: key,
            why: "数值过大".to_string(),
        })
    }

    pub fn required_long(&self, key: &'static str) -> Result<i64, GameError> {
        self.long(key)?.ok_or(GameError::MissingField(key))
    }

    /// A quantity: an integer of at least 1.
    pub fn required_count(&self, key: &'static str) -> Result<u32, GameError> {
        u32::try_from(self.required_long(key)?)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| GameError::InvalidField {
                field: key,
                why: "应为不小于 1 的整数".to_string(),
            })
    }

    /// A yuan amount converted exactly to fen. A JSON number is converted from its text: without
    /// serde_json's `arbitrary_precision` feature a number is held as `f64`, and
    /// `Number::to_string` prints the shortest text that round-trips (`140.25`, `9.8`, `150`), which
    /// is exact for the prices JD sends (at most 2 decimals); it never goes through float arithmetic.
    pub fn yuan(&self, key: &'static str) -> Result<Option<Fen>, GameError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        Fen::from_yuan_str(&text)
            .map(Some)
            .map_err(|e| GameError::InvalidField {
                field: key,
                why: format!("金额无效（{e}）"),
            })
    }

    pub fn required_yuan(&self, key: &'static str) -> Result<Fen, GameError> {
        self.yuan(key)?.ok_or(GameError::MissingField(key))
    }

    /// An object field given as an object or as a JSON-encoded string of one.
    pub fn object(&self, key: &str) -> Option<Map<String, Value>> {
        match self.map.get(key)? {
            Value::Object(map) => Some(map.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            },
            _ => None,
        }
    }

    /// An array field given as an array or as a JSON-encoded string of one.
    pub fn array(&self, key: &str) -> Option<Vec<Value>> {
        match self.map.get(key)? {
            Value::Array(items) => Some(items.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    /// An `{id, name}` option field.
    pub fn id_name(&self, key: &str) -> Option<IdName> {
        let map = self.object(key)?;
        let text = |k: &str| match map.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Some(IdName {
            id: text("id"),
            name: text("name"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Requests from JD

/// The outer parameters of every JD → merchant call. Parse, look up the shop by `customer_id`,
/// [`GameParams::verify_signature`], then read the typed request from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameParams {
    /// Identifies the shop (merchant number issued by JD).
    pub customer_id: String,
    /// `data` with spaces restored to `+`.
    pub data: String,
    pub timestamp: String,
    pub sign: String,
    pub version: Option<String>,
    /// All received parameters (with `data` restored), for signature verification.
    pub params: Vec<(String, String)>,
}

/// The longest `customerId` we accept (JD's are a few digits; `shops.merchant_id` holds 64).
pub const MAX_CUSTOMER_ID_LEN: usize = 32;

impl GameParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<GameParams, GameError> {
        if let Some(name) = form::duplicated_name(pairs) {
            return Err(GameError::DuplicateParam(name));
        }
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| {
                let v = if k == "data" {
                    restore_plus(v)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        let get = |name: &str| form::first_value(&params, name).filter(|v| !v.trim().is_empty());
        let customer_id = get("customerId")
            .ok_or(GameError::MissingParam("customerId"))?
            .trim();
        // Digits, and no longer than the column holding it: bounded before any lookup or cache.
        if customer_id.len() > MAX_CUSTOMER_ID_LEN
            || !customer_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(GameError::InvalidParam("customerId"));
        }
        Ok(GameParams {
            customer_id: customer_id.to_string(),
            data: get("data")
                .ok_or(GameError::MissingParam("data"))?
                .to_string(),
            timestamp: get("timestamp")
                .ok_or(GameError::MissingParam("timestamp"))?
                .to_string(),
            sign: get("sign").ok_or(GameError::MissingSign)?.to_string(),
            version: get("version").map(str::to_string),
            params: params.clone(),
        })
    }

    pub fn verify_signature(&self, private_key: &str) -> bool {
        verify_sign(&self.params, private_key)
    }

    /// The decoded `data` object.
    pub fn data_fields(&self) -> Result<DataFields, GameError> {
        DataFields::parse(&decode_data(&self.data)?)
    }
}

/// Flat parameters from a JSON body (JD documents a form; accepted defensively [INFERRED]).
pub fn pairs_from_json_body(body: &[u8]) -> Option<Vec<(String, String)>> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let pairs = map
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect();
    Some(pairs)
}

/// preCheck (提单校验, §5.1): can this product be sold? No orderId.
#[derive(Debug, Clone, PartialEq)]
pub struct PreCheckRequest {
    pub customer_id: String,
    pub sku_id: String,
    pub buy_num: u32,
    /// Merchant receivable in fen, from yuan.
    pub total_price: Fen,
    pub brand_id: Option<String>,
    pub pin: Option<String>,
    pub user_ip: Option<String>,
    pub game_account: Option<String>,
    pub permit: Option<String>,
    pub game_account_type: Option<IdName>,
    pub charge_type: Option<IdName>,
    pub game_area: Option<IdName>,
    pub game_server: Option<IdName>,
    pub features: Option<Map<String, Value>>,
}

impl PreCheckRequest {
    /// Reads the decoded `data`. Fields the doc marks required but we do not need (pin, brandId,
    /// userIp) are optional here: refusing a sellable order over them would cost a sale.
    pub fn from_params(params: &GameParams) -> Result<PreCheckRequest, GameError> {
        let d = params.data_fields()?;
        Ok(PreCheckRequest {
            customer_id: params.customer_id.clone(),
            sku_id: d.required_text("skuId")?.trim().to_string(),
            buy_num: d.required_count("buyNum")?,
            total_price: d.required_yuan("totalPrice")?,
            brand_id: d.text("brandId"),
            pin: d.text("pin"),
            user_ip: d.text("userIp"),
            game_account: d.text("gameAccount"),
            permit: d.text("permit"),
            game_account_type: d.id_name("gameAccountType"),
            charge_type: d.id_name("chargeType"),
            game_area: d.id_name("gameArea"),
            game_server: d.id_name("gameServer"),
            features: d.object("features"),
        })
    }
}

/// directCharge (直充接单, §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectChargeRequest {
    pub customer_id: String,
    pub order_id: i64,
    pub sku_id: String,
    pub buy_num: u32,
    pub total_price: Fen,
    /// The account to top up.
    pub game_account: String,
    pub brand_id: Option<String>,
    pub pin: Option<String>,
    pub user_ip: Option<String>,
    /// JD-bean amount used, as sent.
    pub jing_bean: Option<String>,
    /// Coupon amount used, as sent.
    pub coupons: Option<String>,
    pub permit: Option<String>,
    pub game_account_type: Option<IdName>,
    pub charge_type: Option<IdName>,
    pub game_area: Option<IdName>,
    pub game_server: Option<IdName>,
    pub address: Option<Map<String, Value>>,
    /// `type = 1`: gift-rights (赠品权益) top-up; `rights` then lists them.
    pub rights_top_up: bool,
    pub rights: Option<Vec<Value>>,
    pub features: Option<Map<String, Value>>,
    /// The merchant's own product code as entered in JD.
    pub out_id: Option<String>,
    pub promotion_price: Option<String>,
}

impl DirectChargeRequest {
    pub fn from_params(params: &GameParams) -> Result<DirectChargeRequest, GameError> {
        let d = params.data_fields()?;
        let rights_top_up = match d.long("type")? {
            None | Some(0) => false,
            Some(1) => true,
            Some(_) => {
                return Err(GameError::InvalidField {
                    field: "type",
                    why: "应为 0 或 1".to_string(),
                });
            }
        };
        let rights = d.array("rights");
        if rights_top_up && first_rights_id(rights.as_deref()).is_none() {
            return Err(GameError::InvalidField {
                field: "rights",
                why: "type=1（权益充值）时必须提供 rights 及其 rightsId".to_string(),
            });
        }
        Ok(DirectChargeRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_long("orderId")?,
            sku_id: d.required_text("skuId")?.trim().to_string(),
            buy_num: d.required_count("buyNum")?,
            total_price: d.required_yuan("totalPrice")?,
            game_account: d.required_text("gameAccount")?,
            brand_id: d.text("brandId"),
            pin: d.text("pin"),
            user_ip: d.text("userIp"),
            jing_bean: d.text("jingBean"),
            coupons: d.text("coupons"),
            permit: d.text("permit"),
            game_account_type: d.id_name("gameAccountType"),
            charge_type: d.id_name("chargeType"),
            game_area: d.id_name("gameArea"),
            game_server: d.id_name("gameServer"),
            address: d.object("address"),
            rights_top_up,
            rights,
            features: d.object("features"),
            out_id: d.text("outId"),
            promotion_price: d.text("promotionPrice"),
        })
    }
}

impl DirectChargeRequest {
    /// For a gift-rights top-up (`type=1`): the rights order id that directQuery and the
    /// callback echo as `rightsId` (the first `rights` item's; JD sends one), and the `rights`
    /// array as JSON text. `None` for a normal top-up.
    pub fn rights_top_up(&self) -> Option<(String, String)> {
        if !self.rights_top_up {
            return None;
        }
        let id = first_rights_id(self.rights.as_deref())?;
        let json = serde_json::to_string(self.rights.as_deref().unwrap_or_default()).ok()?;
        Some((id, json))
    }
}

/// The first `rights` item's `rightsId` (a Long, sent as a number or a string), as text.
fn first_rights_id(rights: Option<&[Value]>) -> Option<String> {
    let id = match rights?.first()?.get("rightsId")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 64).then_some(id)
}

/// directQuery (直充订单查询, §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectQueryRequest {
    pub customer_id: String,
    pub order_id: i64,
}

impl DirectQueryRequest {
    pub fn from_params(params: &GameParams) -> Result<DirectQueryRequest, GameError> {
        let d = params.data_fields()?;
        Ok(DirectQueryRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_long("orderId")?,
        })
    }
}

/// cardOrder (卡密接单, §5.4).
#[derive(Debug, Clone, PartialEq)]
pub struct CardOrderRequest {
    pub customer_id: String,
    pub order_id: i64,
    pub sku_id: String,
    /// Number of cards to deliver, all in one reply or callback.
    pub buy_num: u32,
    pub total_price: Fen,
    pub brand_id: Option<String>,
    pub pin: Option<String>,
    /// Face value, as sent.
    pub face_price: Option<String>,
    /// 0 main site, 1 惊喜 (required by the doc; tolerated when absent).
    pub source_type: Option<i64>,
    pub features: Option<Map<String, Value>>,
    pub user_ip: Option<String>,
    pub out_id: Option<String>,
    pub token_id: Option<String>,
}

impl CardOrderRequest {
    pub fn from_params(params: &GameParams) -> Result<CardOrderRequest, GameError> {
        let d = params.data_fields()?;
        Ok(CardOrderRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_long("orderId")?,
            sku_id: d.required_text("skuId")?.trim().to_string(),
            buy_num: d.required_count("buyNum")?,
            total_price: d.required_yuan("totalPrice")?,
            brand_id: d.text("brandId"),
            pin: d.text("pin"),
            face_price: d.text("facePrice"),
            source_type: d.long("sourceType")?,
            features: d.object("features"),
            user_ip: d.text("userIp"),
            out_id: d.text("outId"),
            token_id: d.text("tokenId"),
        })
    }
}

/// cardQuery (卡密订单查询, §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardQueryRequest {
    pub customer_id: String,
    pub order_id: i64,
}

impl CardQueryRequest {
    pub fn from_params(params: &GameParams) -> Result<CardQueryRequest, GameError> {
        let d = params.data_fields()?;
        Ok(CardQueryRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_long("orderId")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Answers to JD

/// `orderStatus` (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameOrderStatus {
    /// 0 充值成功
    Success,
    /// 1 充值中
    Processing,
    /// 2 充值失败 (callbacks; queries answer a non-retry retCode instead)
    Failed,
}

impl GameOrderStatus {
    pub fn code(self) -> u8 {
        match self {
            GameOrderStatus::Success => 0,
            GameOrderStatus::Processing => 1,
            GameOrderStatus::Failed => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<GameOrderStatus> {
        match code {
            0 => Some(GameOrderStatus::Success),
            1 => Some(GameOrderStatus::Processing),
            2 => Some(GameOrderStatus::Failed),
            _ => None,
        }
    }
}

/// One card, in plain text inside the Base64 JSON (no encryption on this platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInfo {
    pub cardno: String,
    pub cardpass: String,
    /// `yyyy-MM-dd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiretime: Option<String>,
}

impl CardInfo {
    /// JD's limits: `cardno` ≤ 200 bytes of letters, digits, `-`, `_`; `cardpass` ≤ 5000 bytes of
    /// printable ASCII.
    pub fn within_jd_limits(&self) -> bool {
        let cardno_ok = !self.cardno.is_empty()
            && self.cardno.len() <= 200
            && self
                .cardno
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let cardpass_ok = !self.cardpass.is_empty()
            && self.cardpass.len() <= 5000
            && self.cardpass.bytes().all(|b| b.is_ascii_graphic());
        cardno_ok && cardpass_ok
    }
}

/// Issued cards in 游戏点卡's `cardinfos` format.
pub fn card_infos_from(cards: &[crate::domain::card_import::CardLine]) -> Vec<CardInfo> {
    cards
        .iter()
        .map(|c| CardInfo {
            cardno: c.card_no.clone(),
            cardpass: c.password.clone(),
            expiretime: c.expires_on.map(|d| d.format("%Y-%m-%d").to_string()),
        })
        .collect()
}

fn json_string<T: Serialize>(value: &T) -> String {
    // Our own structures of strings and integers always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

/// preCheck answer data: `{"status":"0"}` (sellable) or `{"status":"1"}`. JD's example sends
/// the status as a string.
pub fn precheck_data(sellable: bool) -> String {
    encode_answer_data(if sellable {
        r#"{"status":"0"}"#
    } else {
        r#"{"status":"1"}"#
    })
}

/// directQuery / cardQuery answer data without cards: `{"orderStatus":0}` or `{"orderStatus":1}`.
pub fn order_status_data(status: GameOrderStatus) -> String {
    encode_answer_data(&format!(r#"{{"orderStatus":{}}}"#, status.code()))
}

/// directQuery answer data (§5.3): [`order_status_data`], plus `"type":1,"rightsId":…` for a
/// gift-rights top-up.
pub fn direct_status_data(status: GameOrderStatus, rights_id: Option<&str>) -> String {
    match rights_id {
        None => order_status_data(status),
        Some(id) => encode_answer_data(&json_string(&serde_json::json!({
            "orderStatus": status.code(),
            "type": 1,
            "rightsId": id,
        }))),
    }
}

#[derive(Serialize)]
struct CardQueryData<'a> {
    #[serde(rename = "orderStatus")]
    order_status: &'a str,
    cardinfos: &'a [CardInfo],
}

/// cardQuery success data: `{"orderStatus":"0","cardinfos":[…]}` (status as a string, as in
/// JD's §5.5 example). All N cards must be present.
pub fn card_query_success_data(cards: &[CardInfo]) -> String {
    encode_answer_data(&json_string(&CardQueryData {
        order_status: "0",
        cardinfos: cards,
    }))
}

#[derive(Serialize)]
struct CardOrderData<'a> {
    cardinfos: &'a [CardInfo],
}

/// Synchronous cardOrder data: `{"cardinfos":[…]}`.
pub fn card_order_data(cards: &[CardInfo]) -> String {
    encode_answer_data(&json_string(&CardOrderData { cardinfos: cards }))
}

/// Our answer envelope: always HTTP 200 JSON, outcome in `retCode` (a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameAnswer {
    pub ret_code: RetCode,
    pub ret_message: String,
    /// Base64 data from one of the data builders; omitted when `None` or empty.
    pub data: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GameAnswerJson<'a> {
    ret_code: String,
    ret_message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

impl GameAnswer {
    /// `100` with a message such as "成功" / "查询成功" / "充值成功" and optional data.
    pub fn success(message: &str, data: Option<String>) -> GameAnswer {
        GameAnswer {
            ret_code: RetCode::Success,
            ret_message: message.to_string(),
            data,
        }
    }

    /// A code with JD's default message.
    pub fn error(code: RetCode) -> GameAnswer {
        GameAnswer::error_with_message(code, code.message_zh())
    }

    /// A code with our own message (shown to the buyer on failure pages).
    pub fn error_with_message(code: RetCode, message: &str) -> GameAnswer {
        GameAnswer {
            ret_code: code,
            ret_message: message.to_string(),
            data: None,
        }
    }

    /// The answer to a refused request: 106 with its default text, 104 with what is wrong.
    pub fn from_error(error: &GameError) -> GameAnswer {
        let code = error.ret_code();
        match code {
            RetCode::InvalidParams => {
                GameAnswer::error_with_message(code, &format!("{}：{error}", code.message_zh()))
            }
            _ => GameAnswer::error(code),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        json_string(&GameAnswerJson {
            ret_code: self.ret_code.code().to_string(),
            ret_message: &self.ret_message,
            data: self.data.as_deref().filter(|d| !d.is_empty()),
        })
        .into_bytes()
    }

    /// Reads an answer (JD simulator, system tests); `retCode` may be a string or a number.
    pub fn parse(body: &[u8]) -> Option<GameAnswer> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let ret_code = match map.get("retCode")? {
            Value::String(s) => RetCode::parse(s)?,
            Value::Number(n) => RetCode::from_code(u16::try_from(n.as_u64()?).ok()?)?,
            _ => return None,
        };
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
        Some(GameAnswer {
            ret_code,
            ret_message: text("retMessage").unwrap_or_default(),
            data: text("data").filter(|d| !d.is_empty()),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Callbacks to JD (§6)

/// A result callback for a direct or card order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameCallback {
    pub order_id: i64,
    pub order_status: GameOrderStatus,
    /// Required when failed: a §4.1 code shown to the buyer.
    pub failed_code: Option<RetCode>,
    /// Required when failed; cut to 30 characters.
    pub failed_reason: Option<String>,
    /// Card orders on success: all N cards.
    pub cardinfos: Vec<CardInfo>,
    /// Gift-rights top-ups (`type=1`): the rights order id, sent with `"type":1`.
    pub rights_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GameCallbackJson<'a> {
    order_id: String,
    order_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_reason: Option<String>,
    #[serde(skip_serializing_if = "<[CardInfo]>::is_empty")]
    cardinfos: &'a [CardInfo],
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rights_id: Option<&'a str>,
}

impl GameCallback {
    /// Success; `cards` empty for direct top-ups.
    pub fn success(order_id: i64, cards: Vec<CardInfo>) -> GameCallback {
        GameCallback {
            order_id,
            order_status: GameOrderStatus::Success,
            failed_code: None,
            failed_reason: None,
            cardinfos: cards,
            rights_id: None,
        }
    }

    /// Echo a gift-rights top-up's `rightsId` (with `"type":1`), as §6 requires.
    pub fn with_rights_id(mut self, rights_id: Option<String>) -> GameCallback {
        self.rights_id = rights_id;
        self
    }

    /// Final failure with the code and reason shown to the buyer.
    pub fn failed(order_id: i64, code: RetCode, reason: &str) -> GameCallback {
        GameCallback {
            order_id,
            order_status: GameOrderStatus::Failed,
            failed_code: Some(code),
            failed_reason: Some(reason.to_string()),
            cardinfos: Vec::new(),
            rights_id: None,
        }
    }

    /// The JSON text (before GBK encoding). `orderId` and `orderStatus` are strings as in JD's
    /// example; `failedCode` is a number.
    pub fn to_json(&self) -> String {
        json_string(&GameCallbackJson {
            order_id: self.order_id.to_string(),
            order_status: self.order_status.code().to_string(),
            failed_code: self.failed_code.map(RetCode::code),
            failed_reason: self
                .failed_reason
                .as_deref()
                .map(|r| r.chars().take(FAILED_REASON_MAX_CHARS).collect()),
            cardinfos: &self.cardinfos,
            kind: self.rights_id.as_ref().map(|_| 1),
            rights_id: self.rights_id.as_deref(),
        })
    }

    /// `data`: Base64 of the GBK bytes of [`GameCallback::to_json`].
    pub fn data(&self) -> String {
        encode_callback_data(&self.to_json())
    }

    /// The signed form `customerId, data, timestamp, sign` (in that order). Each retry needs a
    /// fresh timestamp.
    pub fn to_form(
        &self,
        customer_id: &str,
        private_key: &str,
        timestamp: &str,
    ) -> Vec<(String, String)> {
        let mut params = vec![
            ("customerId".to_string(), customer_id.to_string()),
            ("data".to_string(), self.data()),
            ("timestamp".to_string(), timestamp.to_string()),
        ];
        let signature = sign(&params, private_key);
        params.push(("sign".to_string(), signature));
        params
    }

    /// The urlencoded body of [`GameCallback::to_form`].
    pub fn to_form_body(&self, customer_id: &str, private_key: &str, timestamp: &str) -> String {
        form::encode_form(&self.to_form(customer_id, private_key, timestamp))
    }

    /// Reads a callback as JD would (fake JD in system tests); verify the signature separately.
    pub fn from_params(params: &GameParams) -> Result<GameCallback, GameError> {
        let d = params.data_fields()?;
        let order_status = d
            .required_long("orderStatus")
            .ok()
            .and_then(|s| u8::try_from(s).ok())
            .and_then(GameOrderStatus::from_code)
            .ok_or_else(|| GameError::InvalidField {
                field: "orderStatus",
                why: "应为 0、1 或 2".to_string(),
            })?;
        let failed_code = match d.long("failedCode")? {
            Some(code) => Some(
                u16::try_from(code)
                    .ok()
                    .and_then(RetCode::from_code)
                    .ok_or_else(|| GameError::InvalidField {
                        field: "failedCode",
                        why: "不是已知的返回码".to_string(),
                    })?,
            ),
            None => None,
        };
        let cardinfos = match d.array("cardinfos") {
            Some(items) => serde_json::from_value(Value::Array(items)).map_err(|_| {
                GameError::InvalidField {
                    field: "cardinfos",
                    why: "卡密格式错误".to_string(),
                }
            })?,
            None => Vec::new(),
        };
        Ok(GameCallback {
            order_id: d.required_long("orderId")?,
            order_status,
            failed_code,
            failed_reason: d.text("failedReason"),
            cardinfos,
            rights_id: d.text("rightsId"),
        })
    }
}

/// What the notifier should do after JD answered a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// `retCode == "100"`.
    Delivered,
    /// Anything else; the notifier's schedule decides how long to keep trying (JD also polls).
    Retry {
        ret_code: Option<String>,
        reason: String,
    },
}

/// JD's answer to a callback: `{"retCode":"100","retMessage":"接收成功"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackAnswer;

impl CallbackAnswer {
    pub fn parse(body: &[u8]) -> CallbackVerdict {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            let text = String::from_utf8_lossy(body);
            let excerpt: String = text.chars().take(200).collect();
            return CallbackVerdict::Retry {
                ret_code: None,
                reason: format!("京东回调应答无法解析: {excerpt}"),
            };
        };
        let ret_code = match map.get("retCode") {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let message = map
            .get("retMessage")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match ret_code.as_deref() {
            Some("100") => CallbackVerdict::Delivered,
            Some(code) => {
                let meaning = RetCode::parse(code)
                    .map(RetCode::message_zh)
                    .unwrap_or("未知返回码");
                CallbackVerdict::Retry {
                    reason: format!("京东返回 retCode={code}（{meaning}）：{message}"),
                    ret_code: ret_code.clone(),
                }
            }
            None => CallbackVerdict::Retry {
                ret_code: None,
                reason: format!("京东回调应答缺少 retCode：{message}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "0123456789abcdef0123456789abcdef";
    const V1_DATA: &str = "ewogICAgIm9yZGVySWQiOiAiMjAzNjMyMDkyIiwKICAgICJwaW4iOiAiemhhbmdzYW4iLAogICAgImJ1eU51bSI6ICIxMCIsCiAgICAidG90YWxQcmljZSI6ICIxNTAiLAogICAgImdhbWVBY2NvdW50IjogIua4uOaIj+i0puWPtyIsCiAgICAicGVybWl0IjogIiIsCiAgICAic2t1SWQiOiAiMTAxNjg5MjAyOSIsCiAgICAiYnJhbmRJZCI6ICIxMDEwMDAwMDU1Igp";
    const V2_JSON: &str = r#"{"orderId":"301189718928","buyNum":"1","skuId":"10022039398","brandId":"1010000055","totalPrice":"9.80","gameAccount":"测试账号01"}"#;
    const V2_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4IiwiYnV5TnVtIjoiMSIsInNrdUlkIjoiMTAwMjIwMzkzOTgiLCJicmFuZElkIjoiMTAxMDAwMDA1NSIsInRvdGFsUHJpY2UiOiI5LjgwIiwiZ2FtZUFjY291bnQiOiLmtYvor5XotKblj7cwMSJ9";
    const V3_JSON: &str = r#"{"orderId":"301189718928","orderStatus":"2","failedCode":112,"failedReason":"账户余额不足"}"#;
    const V3_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIyIiwiZmFpbGVkQ29kZSI6MTEyLCJmYWlsZWRSZWFzb24iOiLVy7un0+C27rK71+MifQ==";
    const V3_DATA_UTF8: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIyIiwiZmFpbGVkQ29kZSI6MTEyLCJmYWlsZWRSZWFzb24iOiLotKbmiLfkvZnpop3kuI3otrMifQ==";
    const V4_DATA: &str = "eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI5Iiwib3JkZXJTdGF0dXMiOiIwIiwiY2FyZGluZm9zIjpbeyJjYXJkbm8iOiJEWEZELVhDVi0wMDAwMDA4MTQiLCJjYXJkcGFzcyI6IjE5My00MzQzLTMyMzIyODE0IiwiZXhwaXJldGltZSI6IjIwMjYtMTItMzEifV19";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn v4_card() -> CardInfo {
        CardInfo {
            cardno: "DXFD-XCV-000000814".into(),
            cardpass: "193-4343-32322814".into(),
            expiretime: Some("2026-12-31".into()),
        }
    }

    /// A signed inbound request around `json`.
    fn request(json: &str) -> GameParams {
        let data = STANDARD.encode(json.as_bytes());
        let mut p = pairs(&[
            ("customerId", "10817"),
            ("data", &data),
            ("timestamp", "20240101120000"),
        ]);
        let s = sign(&p, K);
        p.push(("sign".into(), s));
        GameParams::parse(&p).expect("params")
    }

    #[test]
    fn v1_jd_doc_sample_sign() {
        let p = pairs(&[
            ("customerId", "1010000055"),
            ("data", V1_DATA),
            ("timestamp", "20220618121212"),
        ]);
        let key = "1888bc29f89f9e19e7ff8c788ba5fc0c";
        assert_eq!(
            sign_string(&p, key),
            format!("customerId=1010000055&data={V1_DATA}&timestamp=20220618121212&{key}")
        );
        assert_eq!(sign(&p, key), "8f658e0d73e541211b83aa1d1db9af9f");
    }

    #[test]
    fn v1_sample_is_truncated_but_its_complete_prefix_reads() {
        let params = GameParams::parse(&pairs(&[
            ("customerId", "1010000055"),
            ("data", V1_DATA),
            ("timestamp", "20220618121212"),
            ("sign", "8f658e0d73e541211b83aa1d1db9af9f"),
        ]))
        .expect("params");
        assert!(params.verify_signature("1888bc29f89f9e19e7ff8c788ba5fc0c"));
        let err = PreCheckRequest::from_params(&params).unwrap_err();
        assert_eq!(err.ret_code(), RetCode::InvalidParams);
        // The whole 4-character groups decode to pretty-printed UTF-8 JSON, cut off.
        let prefix = decode_data(&V1_DATA[..272]).expect("prefix");
        assert!(prefix.contains("\"gameAccount\": \"游戏账号\""));
        assert_eq!(
            DirectChargeRequest::from_params(&request(&prefix)).unwrap_err(),
            GameError::DataNotJson
        );
        assert!(prefix.ends_with(r#""brandId": "1010000055"#));
        let fields = DataFields::parse(&format!("{prefix}\"\n}}")).expect("completed");
        assert_eq!(fields.required_yuan("totalPrice"), Ok(Fen(15000)));
        assert_eq!(fields.required_count("buyNum"), Ok(10));
        assert_eq!(fields.text("permit"), None);
        assert_eq!(fields.text("gameAccount").as_deref(), Some("游戏账号"));
    }

    #[test]
    fn v2_direct_charge_request() {
        assert_eq!(decode_data(V2_DATA).expect("utf8"), V2_JSON);
        let mut p = pairs(&[
            ("customerId", "10817"),
            ("data", V2_DATA),
            ("timestamp", "20240101120000"),
        ]);
        assert_eq!(
            sign_string(&p, K),
            format!("customerId=10817&data={V2_DATA}&timestamp=20240101120000&{K}")
        );
        assert_eq!(sign(&p, K), "a95df4666fc57aceefd2b5c5dc99fd15");
        p.push(("sign".into(), "a95df4666fc57aceefd2b5c5dc99fd15".into()));
        let params = GameParams::parse(&p).expect("params");
        assert!(params.verify_signature(K));
        assert!(!params.verify_signature("0123456789abcdef0123456789abcdee"));
        let req = DirectChargeRequest::from_params(&params).expect("request");
        assert_eq!(req.customer_id, "10817");
        assert_eq!(req.order_id, 301189718928);
        assert_eq!(req.buy_num, 1);
        assert_eq!(req.sku_id, "10022039398");
        assert_eq!(req.brand_id.as_deref(), Some("1010000055"));
        assert_eq!(req.total_price, Fen(980));
        assert_eq!(req.game_account, "测试账号01");
        assert!(!req.rights_top_up);
        assert_eq!(req.pin, None);
    }

    #[test]
    fn v2_with_version() {
        let base = pairs(&[
            ("customerId", "10817"),
            ("data", V2_DATA),
            ("timestamp", "20240101120000"),
            ("version", "1.0"),
        ]);
        assert_eq!(
            sign_string(&base, K),
            format!("customerId=10817&data={V2_DATA}&timestamp=20240101120000&version=1.0&{K}")
        );
        assert_eq!(sign(&base, K), "adcb9dad864a7b55fc1fe1af20e3df25");
        // Signed with version.
        let mut with = base.clone();
        with.push(("sign".into(), "adcb9dad864a7b55fc1fe1af20e3df25".into()));
        assert!(verify_sign(&with, K));
        // Sent with version but signed without it: accepted by the retry.
        let mut without = base.clone();
        without.push(("sign".into(), "A95DF4666FC57ACEEFD2B5C5DC99FD15".into()));
        let params = GameParams::parse(&without).expect("params");
        assert_eq!(params.version.as_deref(), Some("1.0"));
        assert!(params.verify_signature(K));
        // An empty version is dropped from the signature altogether.
        let mut empty_version = pairs(&[
            ("customerId", "10817"),
            ("data", V2_DATA),
            ("timestamp", "20240101120000"),
            ("version", ""),
        ]);
        empty_version.push(("sign".into(), "a95df4666fc57aceefd2b5c5dc99fd15".into()));
        assert!(verify_sign(&empty_version, K));
        // Without a version there is no second chance.
        let mut wrong = pairs(&[
            ("customerId", "10817"),
            ("data", V2_DATA),
            ("timestamp", "20240101120000"),
        ]);
        wrong.push(("sign".into(), "adcb9dad864a7b55fc1fe1af20e3df25".into()));
        assert!(!verify_sign(&wrong, K));
    }

    #[test]
    fn v3_failure_callback_in_gbk() {
        let callback =
            GameCallback::failed(301189718928, RetCode::InsufficientBalance, "账户余额不足");
        assert_eq!(callback.to_json(), V3_JSON);
        assert_eq!(callback.data(), V3_DATA);
        assert_ne!(callback.data(), V3_DATA_UTF8);
        let raw = STANDARD.decode(V3_DATA).expect("b64");
        assert!(raw.windows(12).any(|w| w
            == [
                0xd5, 0xcb, 0xbb, 0xa7, 0xd3, 0xe0, 0xb6, 0xee, 0xb2, 0xbb, 0xd7, 0xe3
            ]));
        let form_fields = callback.to_form("10817", K, "20240101120500");
        assert_eq!(
            form_fields,
            pairs(&[
                ("customerId", "10817"),
                ("data", V3_DATA),
                ("timestamp", "20240101120500"),
                ("sign", "8b24cf05c6f28a526499d7a59344f4f9"),
            ])
        );
        assert_eq!(
            callback.to_form_body("10817", K, "20240101120500"),
            "customerId=10817&data=eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIyIiwiZmFpbGVkQ29kZSI6MTEyLCJmYWlsZWRSZWFzb24iOiLVy7un0%2BC27rK71%2BMifQ%3D%3D&timestamp=20240101120500&sign=8b24cf05c6f28a526499d7a59344f4f9"
        );
    }

    #[test]
    fn gbk_data_is_decoded_by_fallback_and_utf8_first() {
        // V3's GBK bytes are not UTF-8: the fallback reads them.
        assert_eq!(decode_data(V3_DATA).expect("gbk"), V3_JSON);
        // The UTF-8 variant reads as UTF-8 (not GBK mojibake).
        assert_eq!(decode_data(V3_DATA_UTF8).expect("utf8"), V3_JSON);
        // A GBK-encoded inbound request reads as well.
        let (gbk, _, _) = encoding_rs::GBK.encode(V2_JSON);
        let data = STANDARD.encode(&gbk);
        assert_ne!(data, V2_DATA);
        let mut p = pairs(&[
            ("customerId", "10817"),
            ("data", &data),
            ("timestamp", "20240101120000"),
        ]);
        let s = sign(&p, K);
        p.push(("sign".into(), s));
        let req = DirectChargeRequest::from_params(&GameParams::parse(&p).expect("params"))
            .expect("request");
        assert_eq!(req.game_account, "测试账号01");
        // Bytes that are neither UTF-8 nor GBK are refused.
        assert_eq!(
            decode_data(&STANDARD.encode([0x7b, 0xff, 0xff, 0x7d])),
            Err(GameError::DataNotText)
        );
    }

    #[test]
    fn callback_round_trips_through_fake_jd() {
        let callback =
            GameCallback::failed(301189718928, RetCode::InsufficientBalance, "账户余额不足");
        let body = callback.to_form_body("10817", K, "20240101120500");
        let params = GameParams::parse(&form::parse_form(body.as_bytes())).expect("params");
        assert!(params.verify_signature(K));
        assert_eq!(
            GameCallback::from_params(&params).expect("callback"),
            callback
        );
    }

    #[test]
    fn v4_card_success_callback() {
        let callback = GameCallback::success(301189718929, vec![v4_card()]);
        assert_eq!(
            callback.to_json(),
            r#"{"orderId":"301189718929","orderStatus":"0","cardinfos":[{"cardno":"DXFD-XCV-000000814","cardpass":"193-4343-32322814","expiretime":"2026-12-31"}]}"#
        );
        assert_eq!(callback.data(), V4_DATA);
        let f = callback.to_form("10817", K, "20240101121000");
        assert_eq!(
            form::first_value(&f, "sign"),
            Some("0a683d04cb155024ad8aa4551868476b")
        );
        assert!(verify_sign(&f, K));
        let params = GameParams::parse(&f).expect("params");
        assert_eq!(
            GameCallback::from_params(&params).expect("callback"),
            callback
        );
        // A direct top-up success carries no cardinfos.
        assert_eq!(
            GameCallback::success(301189718928, vec![]).to_json(),
            r#"{"orderId":"301189718928","orderStatus":"0"}"#
        );
    }

    #[test]
    fn failed_reason_is_cut_to_30_characters() {
        let reason = "充".repeat(40);
        let json = GameCallback::failed(1, RetCode::BrandOrderFailed, &reason).to_json();
        let v: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(
            v["failedReason"].as_str().map(|s| s.chars().count()),
            Some(30)
        );
        assert_eq!(v["failedCode"], 123);
    }

    #[test]
    fn v5_answer_data() {
        assert_eq!(precheck_data(true), "eyJzdGF0dXMiOiIwIn0=");
        assert_eq!(
            decode_data(&precheck_data(false)).expect("data"),
            r#"{"status":"1"}"#
        );
        assert_eq!(
            order_status_data(GameOrderStatus::Success),
            "eyJvcmRlclN0YXR1cyI6MH0="
        );
        assert_eq!(
            order_status_data(GameOrderStatus::Processing),
            "eyJvcmRlclN0YXR1cyI6MX0="
        );
        assert_eq!(
            card_query_success_data(&[v4_card()]),
            "eyJvcmRlclN0YXR1cyI6IjAiLCJjYXJkaW5mb3MiOlt7ImNhcmRubyI6IkRYRkQtWENWLTAwMDAwMDgxNCIsImNhcmRwYXNzIjoiMTkzLTQzNDMtMzIzMjI4MTQiLCJleHBpcmV0aW1lIjoiMjAyNi0xMi0zMSJ9XX0="
        );
        let no_expiry = CardInfo {
            expiretime: None,
            ..v4_card()
        };
        assert_eq!(
            decode_data(&card_order_data(&[no_expiry])).expect("data"),
            r#"{"cardinfos":[{"cardno":"DXFD-XCV-000000814","cardpass":"193-4343-32322814"}]}"#
        );
    }

    #[test]
    fn v6_jd_doc_samples_decode() {
        assert_eq!(
            decode_data("eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIwIn0=")
                .expect("data"),
            r#"{"orderId":"301189718928","orderStatus":"0"}"#
        );
        assert_eq!(
            decode_data("eyJicmFuZElkIjoiNTI0MzgifQ==").expect("data"),
            r#"{"brandId":"52438"}"#
        );
        // Missing padding is tolerated.
        assert_eq!(
            decode_data("eyJicmFuZElkIjoiNTI0MzgifQ").expect("data"),
            r#"{"brandId":"52438"}"#
        );
        // JD's sample callback body, exactly as documented.
        let body = "customerId=14156143&data=eyJvcmRlcklkIjoiMzAxMTg5NzE4OTI4Iiwib3JkZXJTdGF0dXMiOiIwIn0%3D&sign=23a7e8bf1b4288fd7bbb24cc0cb12430&timestamp=20241224134818";
        let params = GameParams::parse(&form::parse_form(body.as_bytes())).expect("params");
        assert_eq!(params.customer_id, "14156143");
        let callback = GameCallback::from_params(&params).expect("callback");
        assert_eq!(callback, GameCallback::success(301189718928, vec![]));
    }

    #[test]
    fn plus_signs_turned_into_spaces_are_restored() {
        let signed =
            GameCallback::failed(301189718928, RetCode::InsufficientBalance, "账户余额不足")
                .to_form("10817", K, "20240101120500");
        assert!(V3_DATA.contains('+'));
        // A sender that forgot to escape `+`: form decoding turns it into a space.
        let body = format!(
            "customerId=10817&data={}&timestamp=20240101120500&sign={}",
            V3_DATA.replace('=', "%3D"),
            form::first_value(&signed, "sign").unwrap_or_default()
        );
        let decoded = form::parse_form(body.as_bytes());
        assert!(form::first_value(&decoded, "data").is_some_and(|d| d.contains(' ')));
        let params = GameParams::parse(&decoded).expect("params");
        assert_eq!(params.data, V3_DATA);
        assert!(params.verify_signature(K));
        assert_eq!(
            decode_data(&V3_DATA.replace('+', " ")).expect("data"),
            V3_JSON
        );
    }

    #[test]
    fn lenient_json_fields() {
        let req = DirectChargeRequest::from_params(&request(
            r#"{" orderId ":203632092,"buyNum":2,"skuId":10022039398,"totalPrice":140.25,"gameAccount":"acc",
                "gameArea":"{\"id\":\"a1\",\"name\":\"一区\"}","gameServer":{"id":7,"name":"s"},
                "address":"{\"name\":\"n\",\"phone\":\"1\"}","type":"1","rights":[{"rightsId":1}],"features":{"k":"v"}}"#,
        ))
        .expect("request");
        assert_eq!(req.order_id, 203632092);
        assert_eq!(req.buy_num, 2);
        assert_eq!(req.sku_id, "10022039398");
        assert_eq!(req.total_price, Fen(14025));
        assert_eq!(
            req.game_area,
            Some(IdName {
                id: Some("a1".into()),
                name: Some("一区".into())
            })
        );
        assert_eq!(req.game_server.and_then(|g| g.id).as_deref(), Some("7"));
        assert_eq!(
            req.address.and_then(|a| a.get("phone").cloned()),
            Some(Value::from("1"))
        );
        assert!(req.rights_top_up);
        assert_eq!(req.rights.map(|r| r.len()), Some(1));
        assert!(req.features.is_some());

        for (price, fen) in [
            ("150", 15000),
            ("\"150\"", 15000),
            ("9.8", 980),
            ("\"9.80\"", 980),
            ("0.5", 50),
            ("\" 1.230 \"", 123),
        ] {
            let json =
                format!(r#"{{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":{price}}}"#);
            let req = CardOrderRequest::from_params(&request(&json)).expect("request");
            assert_eq!(req.total_price, Fen(fen), "{price}");
        }
        for price in ["1.234", "-1", "\"abc\"", "\"\"", "null", "1e400"] {
            let json =
                format!(r#"{{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":{price}}}"#);
            let err = CardOrderRequest::from_params(&request(&json)).unwrap_err();
            assert_eq!(err.ret_code(), RetCode::InvalidParams, "{price}");
        }
    }

    #[test]
    fn typed_requests() {
        let pre = PreCheckRequest::from_params(&request(
            r#"{"pin":"zhangsan","buyNum":"10","skuId":"1016892029","brandId":"1010000055","userIp":"1.2.3.4","totalPrice":"150",
               "gameAccountType":{"id":"51yx","name":"神雕账号"},"chargeType":{"id":"yuanbao","name":"元宝"}}"#,
        ))
        .expect("precheck");
        assert_eq!(pre.customer_id, "10817");
        assert_eq!(pre.buy_num, 10);
        assert_eq!(pre.total_price, Fen(15000));
        assert_eq!(
            pre.game_account_type.and_then(|t| t.name).as_deref(),
            Some("神雕账号")
        );
        assert_eq!(
            pre.charge_type.and_then(|t| t.id).as_deref(),
            Some("yuanbao")
        );

        let q =
            DirectQueryRequest::from_params(&request(r#"{"orderId ": 203632092}"#)).expect("query");
        assert_eq!(q.order_id, 203632092);
        let q =
            CardQueryRequest::from_params(&request(r#"{"orderId":"9999900003"}"#)).expect("query");
        assert_eq!(
            q,
            CardQueryRequest {
                customer_id: "10817".into(),
                order_id: 9999900003
            }
        );

        let card = CardOrderRequest::from_params(&request(
            r#"{"orderId":"1","buyNum":3,"skuId":"s","totalPrice":"30","sourceType":0,"facePrice":10,"outId":"P-1"}"#,
        ))
        .expect("card order");
        assert_eq!(card.buy_num, 3);
        assert_eq!(card.source_type, Some(0));
        assert_eq!(card.face_price.as_deref(), Some("10"));
        assert_eq!(card.out_id.as_deref(), Some("P-1"));
    }

    #[test]
    fn missing_and_invalid_fields_are_104() {
        let cases = [
            (
                r#"{"buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
                GameError::MissingField("orderId"),
            ),
            (
                r#"{"orderId":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
                GameError::MissingField("buyNum"),
            ),
            (
                r#"{"orderId":"1","buyNum":"1","skuId":"s","gameAccount":"a"}"#,
                GameError::MissingField("totalPrice"),
            ),
            (
                r#"{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":"1"}"#,
                GameError::MissingField("gameAccount"),
            ),
            (
                r#"{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":""}"#,
                GameError::MissingField("gameAccount"),
            ),
        ];
        for (json, expected) in cases {
            let err = DirectChargeRequest::from_params(&request(json)).unwrap_err();
            assert_eq!(err, expected, "{json}");
            assert_eq!(err.ret_code(), RetCode::InvalidParams);
        }
        for json in [
            r#"{"orderId":"12a","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":-5,"buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"99999999999999999999","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"1","buyNum":"0","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"1","buyNum":1.5,"skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a","type":"7"}"#,
        ] {
            let err = DirectChargeRequest::from_params(&request(json)).unwrap_err();
            assert!(
                matches!(err, GameError::InvalidField { .. }),
                "{json}: {err:?}"
            );
            assert_eq!(
                GameAnswer::from_error(&err).ret_code,
                RetCode::InvalidParams
            );
        }
    }

    #[test]
    fn bad_data_is_104() {
        for (data, expected) in [
            ("@@@@notbase64", GameError::DataNotBase64),
            (V1_DATA, GameError::DataNotBase64),
            ("aGVsbG8gd29ybGQ=", GameError::DataNotJson), // "hello world"
            ("WzEsMiwzXQ==", GameError::DataNotJson),     // "[1,2,3]", not an object
            (&V2_DATA[..100], GameError::DataNotJson),    // truncated at a group boundary
        ] {
            let mut p = pairs(&[
                ("customerId", "10817"),
                ("data", data),
                ("timestamp", "20240101120000"),
            ]);
            let s = sign(&p, K);
            p.push(("sign".into(), s));
            let params = GameParams::parse(&p).expect("params");
            assert!(params.verify_signature(K));
            let err = DirectQueryRequest::from_params(&params).unwrap_err();
            assert_eq!(err, expected, "{data}");
            assert_eq!(err.ret_code(), RetCode::InvalidParams);
        }
    }

    #[test]
    fn outer_parameter_errors() {
        let full = || {
            pairs(&[
                ("customerId", "10817"),
                ("data", V2_DATA),
                ("timestamp", "20240101120000"),
                ("sign", "a95df4666fc57aceefd2b5c5dc99fd15"),
            ])
        };
        let without = |name: &str| -> Vec<(String, String)> {
            full().into_iter().filter(|(k, _)| k != name).collect()
        };
        assert_eq!(
            GameParams::parse(&without("customerId")),
            Err(GameError::MissingParam("customerId"))
        );
        assert_eq!(
            GameParams::parse(&without("data")),
            Err(GameError::MissingParam("data"))
        );
        assert_eq!(
            GameParams::parse(&without("timestamp")),
            Err(GameError::MissingParam("timestamp"))
        );
        let err = GameParams::parse(&without("sign")).unwrap_err();
        assert_eq!(err, GameError::MissingSign);
        assert_eq!(err.ret_code(), RetCode::SignFailed);
        assert!(!verify_sign(&without("sign"), K));
        let mut dup = full();
        dup.push(("data".into(), "x".into()));
        assert_eq!(
            GameParams::parse(&dup),
            Err(GameError::DuplicateParam("data".into()))
        );
        let mut bad_customer = full();
        bad_customer[0].1 = "abc".into();
        assert_eq!(
            GameParams::parse(&bad_customer),
            Err(GameError::InvalidParam("customerId"))
        );
        // A customerId too long for any shop: refused before any lookup.
        bad_customer[0].1 = "1".repeat(MAX_CUSTOMER_ID_LEN + 1);
        assert_eq!(
            GameParams::parse(&bad_customer),
            Err(GameError::InvalidParam("customerId"))
        );
        // Wrong and uppercase signatures.
        let mut wrong = full();
        wrong[3].1 = "a95df4666fc57aceefd2b5c5dc99fd16".into();
        assert!(
            !GameParams::parse(&wrong)
                .expect("params")
                .verify_signature(K)
        );
        let mut upper = full();
        upper[3].1 = upper[3].1.to_uppercase();
        assert!(
            GameParams::parse(&upper)
                .expect("params")
                .verify_signature(K)
        );
        // A tampered data value fails verification.
        let mut tampered = full();
        tampered[1].1 = V3_DATA.into();
        assert!(
            !GameParams::parse(&tampered)
                .expect("params")
                .verify_signature(K)
        );
        // JSON bodies are accepted defensively.
        let from_json = pairs_from_json_body(
            format!(r#"{{"customerId":10817,"data":"{V2_DATA}","timestamp":"20240101120000","sign":"a95df4666fc57aceefd2b5c5dc99fd15"}}"#).as_bytes(),
        )
        .expect("json body");
        assert!(
            GameParams::parse(&from_json)
                .expect("params")
                .verify_signature(K)
        );
        assert_eq!(pairs_from_json_body(b"not json"), None);
    }

    #[test]
    fn ret_codes() {
        let codes: Vec<u16> = RetCode::ALL.iter().map(|c| c.code()).collect();
        let mut expected: Vec<u16> = (100..=124).collect();
        expected.extend([999, 1000]);
        assert_eq!(codes, expected);
        for code in RetCode::ALL {
            assert_eq!(RetCode::from_code(code.code()), Some(code));
            assert_eq!(RetCode::parse(&code.code().to_string()), Some(code));
            assert!(!code.message_zh().is_empty());
        }
        let retry: Vec<u16> = RetCode::ALL
            .iter()
            .filter(|c| c.is_retry())
            .map(|c| c.code())
            .collect();
        assert_eq!(retry, vec![105, 106, 108, 110, 999, 1000]);
        assert_eq!(RetCode::from_code(125), None);
        assert_eq!(RetCode::parse("abc"), None);
        assert_eq!(RetCode::InvalidParams.message_zh(), "传入的参数有误");
    }

    #[test]
    fn answer_envelope() {
        let ok = GameAnswer::success(
            "查询成功",
            Some(order_status_data(GameOrderStatus::Success)),
        );
        assert_eq!(
            String::from_utf8(ok.encode()).expect("utf8"),
            r#"{"retCode":"100","retMessage":"查询成功","data":"eyJvcmRlclN0YXR1cyI6MH0="}"#
        );
        assert_eq!(GameAnswer::parse(&ok.encode()), Some(ok));
        assert_eq!(
            String::from_utf8(GameAnswer::success("成功", None).encode()).expect("utf8"),
            r#"{"retCode":"100","retMessage":"成功"}"#
        );
        assert_eq!(
            String::from_utf8(GameAnswer::success("成功", Some(String::new())).encode())
                .expect("utf8"),
            r#"{"retCode":"100","retMessage":"成功"}"#
        );
        assert_eq!(
            String::from_utf8(GameAnswer::error(RetCode::InsufficientBalance).encode())
                .expect("utf8"),
            r#"{"retCode":"112","retMessage":"账号余额不足"}"#
        );
        assert_eq!(
            String::from_utf8(GameAnswer::from_error(&GameError::BadSignature).encode())
                .expect("utf8"),
            r#"{"retCode":"106","retMessage":"签名验证失败"}"#
        );
        let invalid = GameAnswer::from_error(&GameError::MissingField("orderId"));
        assert_eq!(invalid.ret_code, RetCode::InvalidParams);
        assert_eq!(invalid.ret_message, "传入的参数有误：缺少字段 orderId");
        assert_eq!(
            GameAnswer::parse(br#"{"retCode":104,"retMessage":"x"}"#).map(|a| a.ret_code),
            Some(RetCode::InvalidParams)
        );
    }

    #[test]
    fn callback_answers() {
        assert_eq!(
            CallbackAnswer::parse(r#"{"retCode":"100","retMessage":"接收成功"}"#.as_bytes()),
            CallbackVerdict::Delivered
        );
        assert_eq!(
            CallbackAnswer::parse(br#"{"retCode":100}"#),
            CallbackVerdict::Delivered
        );
        match CallbackAnswer::parse(r#"{"retCode":"104","retMessage":"传入的参数有误"}"#.as_bytes())
        {
            CallbackVerdict::Retry { ret_code, reason } => {
                assert_eq!(ret_code.as_deref(), Some("104"));
                assert!(
                    reason.contains("104") && reason.contains("传入的参数有误"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        for body in [&b"<html>"[..], b"", br#"{"retMessage":"x"}"#, b"\xff"] {
            assert!(matches!(
                CallbackAnswer::parse(body),
                CallbackVerdict::Retry { .. }
            ));
        }
    }

    #[test]
    fn urls_and_card_limits() {
        assert_eq!(
            callback_url(GameOrderKind::Direct, false),
            "https://card.jd.com/api/gameApi.action"
        );
        assert_eq!(
            callback_url(GameOrderKind::Direct, true),
            "https://card-pre.jd.com/api/gameApi.action"
        );
        assert_eq!(
            callback_url(GameOrderKind::Card, false),
            "https://card.jd.com/api/cardApi.action"
        );
        assert_eq!(
            callback_url(GameOrderKind::Card, true),
            "https://card-pre.jd.com/api/cardApi.action"
        );
        assert!(v4_card().within_jd_limits());
        assert!(
            !CardInfo {
                cardno: "卡号".into(),
                ..v4_card()
            }
            .within_jd_limits()
        );
        assert!(
            !CardInfo {
                cardno: "a".repeat(201),
                ..v4_card()
            }
            .within_jd_limits()
        );
        assert!(
            !CardInfo {
                cardpass: String::new(),
                ..v4_card()
            }
            .within_jd_limits()
        );
    }
}
