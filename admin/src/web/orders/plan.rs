//! What decides whether an order may be handed back to fulfilment (重新履约) or settled by an
//! operator while a supplier may still hold it: shared by the order page (which actions it
//! offers) and the actions themselves (which re-check under the order's lock). A leaf module.

use common::domain::{FulfilmentMode, OrderStatus};

use super::queries::OrderFull;

/// What the order's product is, for 重新履约.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProductKind {
    /// No product (deleted, or the order never had one): fulfilment fails it (`no_product`).
    Missing,
    /// (A stored mode this version does not know fails reading the product row.)
    Mode(FulfilmentMode),
}

/// How 重新履约 puts an order back where fulfilment picks it up: the transitions to make first
/// (none when fulfilment already acts on the current status), or why it cannot.
///
/// Fulfilment acts on `received`, `awaiting_stock` and (for card products) `awaiting_manual`;
/// the supplier path only starts from `received` / `awaiting_stock`. `awaiting_manual` cannot go
/// to `awaiting_stock` directly, so it goes through `processing` (both legal transitions, one
/// transaction). An order a supplier may still be recharging is never handed out again: that
/// could recharge twice.
pub(super) fn refulfil_plan(
    status: OrderStatus,
    product: ProductKind,
    live_supplier_order: bool,
) -> Result<Vec<OrderStatus>, &'static str> {
    use OrderStatus::*;
    if status.is_final() {
        return Err("订单已结束，不能重新履约。");
    }
    match product {
        ProductKind::Mode(FulfilmentMode::DirectManual) if status != Received => {
            return Err("人工直充商品不会自动履约：请完成充值后点「手动成功」，或点「手动失败」。");
        }
        ProductKind::Mode(FulfilmentMode::DirectSupplier) if live_supplier_order => {
            return Err(
                "该订单已提交给供应商，结果未定或未知，重新履约可能导致重复充值。请向供应商核实后点「手动成功」或「手动失败」。",
            );
        }
        _ => {}
    }
    Ok(match status {
        Received | AwaitingStock => Vec::new(),
        AwaitingManual => vec![Processing, AwaitingStock],
        Processing => vec![AwaitingStock],
        Succeeded | Failed => unreachable!("final states returned above"),
    })
}

impl OrderFull {
    pub fn product_kind(&self) -> ProductKind {
        match (&self.product_name, self.product_mode) {
            (None, _) | (_, None) => ProductKind::Missing,
            (Some(_), Some(mode)) => ProductKind::Mode(mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refulfil_plans() {
        use FulfilmentMode::*;
        use OrderStatus::*;
        let card = ProductKind::Mode(Card);
        assert_eq!(refulfil_plan(Received, card, false), Ok(vec![]));
        assert_eq!(refulfil_plan(AwaitingStock, card, false), Ok(vec![]));
        assert_eq!(
            refulfil_plan(AwaitingManual, card, false),
            Ok(vec![Processing, AwaitingStock])
        );
        assert_eq!(
            refulfil_plan(Processing, card, false),
            Ok(vec![AwaitingStock])
        );
        assert!(refulfil_plan(Succeeded, card, false).is_err());
        assert!(refulfil_plan(Failed, card, false).is_err());
        let manual = ProductKind::Mode(DirectManual);
        assert!(refulfil_plan(AwaitingManual, manual, false).is_err());
        assert_eq!(refulfil_plan(Received, manual, false), Ok(vec![]));
        let supplier = ProductKind::Mode(DirectSupplier);
        assert!(refulfil_plan(AwaitingManual, supplier, true).is_err());
        assert!(refulfil_plan(Processing, supplier, true).is_err());
        assert_eq!(
            refulfil_plan(AwaitingManual, supplier, false),
            Ok(vec![Processing, AwaitingStock])
        );
        assert_eq!(
            refulfil_plan(AwaitingManual, ProductKind::Missing, false),
            Ok(vec![Processing, AwaitingStock])
        );
        // Every planned path is legal in the state machine.
        for st in [Received, Processing, AwaitingManual, AwaitingStock] {
            if let Ok(hops) = refulfil_plan(st, card, false) {
                let mut at = st;
                for to in hops {
                    assert!(at.can_transition_to(to), "{at} -> {to}");
                    at = to;
                }
            }
        }
    }
}
