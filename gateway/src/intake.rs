//! Service functions behind both JD protocols: product checks, idempotent order creation, and
//! the stored view of an order that repeats and queries answer from.

use std::sync::Arc;

use common::db::cards::{self, SuccessCards};
use common::db::orders::{Created, NewOrder, OrderRow};
use common::db::products::ProductRow;
use common::domain::card_import::CardLine;
use common::domain::{FailureReason, Fen, FulfilmentMode, OrderKind, OrderStatus, PlatformOrderNo};

use crate::Gateway;

/// Why a product cannot be sold for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductRefusal {
    Unknown,
    Disabled,
    PriceMismatch,
    WrongKind,
}

impl ProductRefusal {
    pub fn reason_zh(self) -> &'static str {
        match self {
            ProductRefusal::Unknown => "没有对应的商品",
            ProductRefusal::Disabled => "商品暂停销售",
            ProductRefusal::PriceMismatch => "价格不匹配",
            ProductRefusal::WrongKind => "商品类型与接口不符",
        }
    }
}

/// Which kind of order an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Card,
    Direct,
    /// 通用交易 takes both; the product decides.
    Any,
}

impl Kind {
    pub fn of(product: &ProductRow) -> OrderKind {
        OrderKind::of_mode(product.mode)
    }
}

/// Checks that `product` may be sold `quantity` times for `total`: enabled, of the endpoint's
/// kind, and at exactly its price (a product without a price above zero sells at none).
pub fn check_product(
    product: Option<&Arc<ProductRow>>,
    kind: Kind,
    quantity: u32,
    total: Fen,
) -> Result<Arc<ProductRow>, ProductRefusal> {
    let product = product.ok_or(ProductRefusal::Unknown)?;
    let mode = product.mode;
    let kind_ok = match kind {
        Kind::Any => true,
        Kind::Card => mode == FulfilmentMode::Card,
        Kind::Direct => mode != FulfilmentMode::Card,
    };
    if !kind_ok {
        return Err(ProductRefusal::WrongKind);
    }
    if !product.enabled {
        return Err(ProductRefusal::Disabled);
    }
    // No price (or a price of zero) never disables the check: nothing matches it, so such a
    // product's orders are refused (the back office and the CLI require a price to enable).
    let expected = product
        .price_fen
        .filter(|p| *p > 0)
        .and_then(|p| p.checked_mul(i64::from(quantity)));
    if expected != Some(total.0) {
        return Err(ProductRefusal::PriceMismatch);
    }
    Ok(product.clone())
}

/// A JD order number (`jdOrderNo`, 游戏点卡 `orderId`; an integer in both protocols) as it is
/// stored: its decimal text, as the codec read it.
pub fn jd_order_no(n: i64) -> PlatformOrderNo {
    PlatformOrderNo::unchecked(n.to_string())
}

/// Creates the order (row + first event + outbox, one transaction) or returns the stored one
/// for a repeated platform order number, and wakes the outbox relay.
pub async fn place_order(gw: &Gateway, new: &NewOrder) -> Result<Created, sqlx::Error> {
    let created = gw.orders.create(new.clone()).await?;
    if matches!(created, Created::New(_)) {
        gw.outbox.notify();
    }
    Ok(created)
}

/// An order as the platform sees it: where it is, and once succeeded its cards.
pub struct OrderView {
    pub order: OrderRow,
    pub phase: Phase,
}

pub enum Phase {
    InProgress,
    Succeeded { cards: Vec<CardLine> },
    Failed { reason: FailureReason, text: String },
}

/// Reads the stored state of `order` (and decrypts its cards when it succeeded). A succeeded
/// card order that does not hold exactly `quantity` sold cards is shown as in progress, never as
/// a success ([`cards::for_success`] raises the alert).
pub async fn view(gw: &Gateway, order: OrderRow) -> anyhow::Result<OrderView> {
    let phase = match order.status {
        OrderStatus::Succeeded if order.order_kind == OrderKind::Card => {
            match cards::for_success(&gw.infra_db, &gw.master_key, &order, "gateway").await? {
                SuccessCards::Complete(cards) => Phase::Succeeded { cards },
                SuccessCards::Mismatch { .. } | SuccessCards::Unreadable => Phase::InProgress,
            }
        }
        OrderStatus::Succeeded => Phase::Succeeded { cards: Vec::new() },
        OrderStatus::Failed => {
            let reason = order.failure_code.unwrap_or(FailureReason::UpstreamFailed);
            let text = order
                .failure_reason
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| reason.label_zh().to_owned());
            Phase::Failed { reason, text }
        }
        _ => Phase::InProgress,
    };
    Ok(OrderView { order, phase })
}

/// Whether a card product has at least `quantity` sellable cards, or a direct product a way to
/// recharge (manual mode, or an enabled supplier).
pub async fn can_fulfil(
    gw: &Gateway,
    product: &ProductRow,
    quantity: u32,
) -> Result<bool, sqlx::Error> {
    match product.mode {
        FulfilmentMode::Card => {
            let want = i64::from(quantity);
            Ok(cards::available_at_least(&gw.infra_db, product.id, want).await? >= want)
        }
        FulfilmentMode::DirectManual => Ok(true),
        FulfilmentMode::DirectSupplier => {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM product_suppliers ps JOIN suppliers s ON s.id = ps.supplier_id
                 WHERE ps.product_id = ? AND s.enabled = 1",
            )
            .bind(product.id)
            .fetch_one(&gw.infra_db)
            .await?;
            Ok(n > 0)
        }
    }
}

/// Whether `timestamp` (`yyyyMMddHHmmss`, Beijing time) is within the configured window.
pub fn timestamp_fresh(gw: &Gateway, timestamp: &str) -> bool {
    if gw.timestamp_window.is_zero() {
        return true;
    }
    let Ok(t) = chrono::NaiveDateTime::parse_from_str(timestamp.trim(), "%Y%m%d%H%M%S") else {
        return false;
    };
    let Some(t) = t
        .and_local_timezone(common::domain::types::beijing())
        .single()
    else {
        return false;
    };
    let skew = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .unsigned_abs();
    skew <= gw.timestamp_window.as_secs()
}

/// The request stored with the order (for operators): decoded fields, signature removed, at
/// most [`RAW_REQUEST_MAX`] bytes.
pub fn raw_request(fields: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    truncate_raw(serde_json::Value::Object(map).to_string())
}

pub const RAW_REQUEST_MAX: usize = 4096;

/// Cuts `text` to [`RAW_REQUEST_MAX`] bytes on a character boundary.
pub fn truncate_raw(mut text: String) -> String {
    if text.len() > RAW_REQUEST_MAX {
        let mut cut = RAW_REQUEST_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(mode: FulfilmentMode, enabled: bool, price: Option<i64>) -> Arc<ProductRow> {
        Arc::new(ProductRow {
            id: 1,
            name: "p".into(),
            mode,
            face_value_fen: None,
            price_fen: price,
            low_stock_threshold: None,
            out_of_stock_policy: common::domain::StockPolicy::Fail,
            stock_wait_seconds: 0,
            enabled,
        })
    }

    #[test]
    fn product_checks() {
        let card = product(FulfilmentMode::Card, true, Some(980));
        assert!(check_product(Some(&card), Kind::Card, 2, Fen(1960)).is_ok());
        assert_eq!(
            check_product(Some(&card), Kind::Card, 2, Fen(1961)).unwrap_err(),
            ProductRefusal::PriceMismatch
        );
        assert_eq!(
            check_product(Some(&card), Kind::Direct, 1, Fen(980)).unwrap_err(),
            ProductRefusal::WrongKind
        );
        assert!(check_product(Some(&card), Kind::Any, 1, Fen(980)).is_ok());
        assert_eq!(
            check_product(None, Kind::Any, 1, Fen(1)).unwrap_err(),
            ProductRefusal::Unknown
        );
        // No price, or a price of zero, is not "any price".
        for price in [None, Some(0)] {
            let unpriced = product(FulfilmentMode::Card, true, price);
            for total in [0, 1, 980] {
                assert_eq!(
                    check_product(Some(&unpriced), Kind::Card, 1, Fen(total)).unwrap_err(),
                    ProductRefusal::PriceMismatch
                );
            }
        }
        let off = product(FulfilmentMode::DirectManual, false, None);
        assert_eq!(
            check_product(Some(&off), Kind::Direct, 1, Fen(1)).unwrap_err(),
            ProductRefusal::Disabled
        );
    }
}
