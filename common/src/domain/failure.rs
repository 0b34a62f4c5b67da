//! Why an order failed, stored platform-neutral in `orders.failure_code`. Each protocol's codec
//! maps it to that protocol's code (`protocol::jd_general::answer::failure_code`,
//! `protocol::jd_game::answer::failure_code`).

use std::fmt;
use std::str::FromStr;

/// The reasons an order can fail for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The recharge account is wrong.
    AccountInvalid,
    /// The product does not exist.
    NoProduct,
    /// The product is not for sale.
    NotForSale,
    /// No cards within the waiting deadline (库存不足).
    OutOfStock,
    /// The price the platform sent does not match ours.
    PriceMismatch,
    /// The upstream supplier's balance is insufficient.
    SupplierBalance,
    /// The upstream supplier or the brand refused the recharge.
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
    fn round_trip() {
        for r in FailureReason::ALL {
            assert_eq!(r.as_str().parse::<FailureReason>(), Ok(r));
        }
        assert_eq!(FailureReason::OutOfStock.label_zh(), "库存不足");
    }
}
