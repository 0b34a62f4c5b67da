//! `produceStatus` and the `code` of beginDistill / findDistill answers (§7.1, §7.2).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
