//! `retCode` (§4.1) and the refusal of a request we cannot take ([`GameError`], answered with
//! 104 or 106).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
