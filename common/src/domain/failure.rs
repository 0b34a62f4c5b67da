//! Why an order failed, stored platform-neutral in `orders.failure_code` and mapped to each
//! protocol's code when JD asks or is told.

use std::fmt;
use std::str::FromStr;

/// The reasons an order can fail for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The recharge account is wrong (JD 通用交易 JDO_301, 游戏点卡 116).
    AccountInvalid,
    /// The product does not exist (JDO_302, 107).
    NoProduct,
    /// The product is not for sale (JDO_305, 109).
    NotForSale,
    /// No cards within the waiting deadline (库存不足).
    OutOfStock,
    /// The price JD sent does not match ours (游戏点卡 111).
    PriceMismatch,
    /// The upstream supplier's balance is insufficient (游戏点卡 112).
    SupplierBalance,
    /// The upstream supplier or the brand refused the recharge (游戏点卡 123).
    UpstreamFailed,
    /// An operator failed the order by hand.
    Manual,
}

impl FailureReason {
    pub const ALL: [FailureReason; 8] = [
        FailureReason::AccountInvalid,
        FailureReason::NoProduct,
        FailureReason::NotForSale,
        FailureReason::OutOfStock,
        FailureReason::PriceMismatch,
        FailureReason::SupplierBalance,
        FailureReason::UpstreamFailed,
        FailureReason::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::AccountInvalid => "account_invalid",
            FailureReason::NoProduct => "no_product",
            FailureReason::NotForSale => "not_for_sale",
            FailureReason::OutOfStock => "out_of_stock",
            FailureReason::PriceMismatch => "price_mismatch",
            FailureReason::SupplierBalance => "supplier_balance",
            FailureReason::UpstreamFailed => "upstream_failed",
            FailureReason::Manual => "manual",
        }
    }

    /// The default reason text (shown to JD's buyer on 游戏点卡 and to operators).
    pub fn label_zh(self) -> &'static str {
        match self {
            FailureReason::AccountInvalid => "充值账号错误",
            FailureReason::NoProduct => "没有对应的商品",
            FailureReason::NotForSale => "商品暂停销售",
            FailureReason::OutOfStock => "库存不足",
            FailureReason::PriceMismatch => "价格不匹配",
            FailureReason::SupplierBalance => "账户余额不足",
            FailureReason::UpstreamFailed => "充值失败",
            FailureReason::Manual => "人工处理失败",
        }
    }

    /// JD 通用交易 `code` for a failed order (`produceStatus` 2). The protocol has codes only for
    /// account, product and not-for-sale refusals; every other final failure is answered with
    /// JDO_303, the generic refusal [INFERRED: the spec lists no better code].
    pub fn jd_general_code(self) -> &'static str {
        match self {
            FailureReason::AccountInvalid => "JDO_301",
            FailureReason::NoProduct => "JDO_302",
            FailureReason::NotForSale => "JDO_305",
            _ => "JDO_303",
        }
    }

    /// JD 游戏点卡 `retCode` / `failedCode` for a failed order. Always a code without JD's retry
    /// flag: a query answered with a retry code is polled for 180 days instead of refunded, so
    /// out-of-stock (110 is a retry code) maps to 123 [INFERRED].
    pub fn jd_game_code(self) -> u32 {
        match self {
            FailureReason::AccountInvalid => 116,
            FailureReason::NoProduct => 107,
            FailureReason::NotForSale => 109,
            FailureReason::PriceMismatch => 111,
            FailureReason::SupplierBalance => 112,
            FailureReason::OutOfStock | FailureReason::UpstreamFailed | FailureReason::Manual => {
                123
            }
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureReason {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        FailureReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_codes() {
        for r in FailureReason::ALL {
            assert_eq!(r.as_str().parse::<FailureReason>(), Ok(r));
            assert!(r.jd_general_code().starts_with("JDO_3"));
            // Never one of JD's retry codes (105, 106, 108, 110, 999, 1000).
            assert!(
                ![105, 106, 108, 110, 999, 1000].contains(&r.jd_game_code()),
                "{r}"
            );
        }
        assert_eq!(FailureReason::OutOfStock.label_zh(), "库存不足");
    }
}
