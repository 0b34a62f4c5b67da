//! The service functions behind both JD protocols, each returning a typed outcome that the
//! protocol's handler encodes: [`take_order`] (beginDistill, directCharge, cardOrder),
//! [`find_order`] (findDistill, directQuery, cardQuery, and a repeat that no longer parses) and
//! [`sellable`] (preCheck).

use std::sync::Arc;

use common::db::cards::{self, SuccessCards};
use common::db::orders::{Created, NewOrder, OrderRow, RightsTopUp};
use common::db::products::ProductRow;
use common::domain::card_import::CardLine;
use common::domain::{
    FailureReason, Fen, FulfilmentMode, OrderKind, OrderStatus, Platform, PlatformOrderNo,
    RechargeAccount,
};

use crate::Gateway;
use crate::auth::Authenticated;
use crate::queries;

/// More cards or recharges than this in one order is not a real purchase.
pub const MAX_QUANTITY: u32 = 1000;

/// Why an order cannot be taken (or a product not sold) for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No product for the SKU.
    Unknown,
    Disabled,
    PriceMismatch,
    /// The product's kind is not the endpoint's.
    WrongKind,
    /// More than [`MAX_QUANTITY`].
    TooMany,
    /// 通用交易 direct goods are one recharge per order (spec §4).
    NotOneRecharge,
    /// The recharge account is missing or not a valid account.
    BadAccount,
    /// 游戏点卡 preCheck: not enough cards, or no way to recharge.
    OutOfStock,
}

impl Refusal {
    pub fn reason_zh(self) -> &'static str {
        match self {
            Refusal::Unknown => "没有对应的商品",
            Refusal::Disabled => "商品暂停销售",
            Refusal::PriceMismatch => "价格不匹配",
            Refusal::WrongKind => "商品类型与接口不符",
            Refusal::TooMany => "购买数量超过上限",
            Refusal::NotOneRecharge => "直充商品的数量必须为 1",
            Refusal::BadAccount => "充值账号无效",
            Refusal::OutOfStock => "库存不足",
        }
    }
}

/// A database problem behind an intake step: answered with the protocol's retry/pause code.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("product lookup failed: {0}")]
    Product(sqlx::Error),
    #[error("stock lookup failed: {0}")]
    Stock(sqlx::Error),
    #[error("order lookup failed: {0}")]
    Lookup(sqlx::Error),
    #[error("order could not be stored: {0}")]
    Store(sqlx::Error),
    #[error("order state unreadable: {0}")]
    State(anyhow::Error),
}

/// An order request as the protocol's codec read it.
pub struct OrderAsk {
    pub platform: Platform,
    pub order_no: PlatformOrderNo,
    /// The endpoint's kind (通用交易 takes both; the product decides).
    pub kind: Kind,
    pub sku: String,
    /// The merchant's own product code, looked up when the SKU is unknown (游戏点卡 `outId`).
    pub out_id: Option<String>,
    pub quantity: u32,
    pub total: Fen,
    /// The account to recharge, as sent; required and checked for direct products.
    pub account: Option<String>,
    pub notify_url: Option<String>,
    /// The request as stored for operators ([`raw_request`]).
    pub raw_request: String,
    pub rights: Option<RightsTopUp>,
}

/// What became of an order request.
pub enum Taken {
    /// A new order was stored, enqueued, and is in progress.
    Accepted(OrderRow),
    /// The platform's order number is already ours: answered from its stored state, as JD
    /// requires of repeats (a repeat wins over any refusal of this copy of the request).
    Repeat(OrderView),
    /// 游戏点卡: the number is ours with different content (102); nothing changes.
    Conflict(OrderRow),
    /// Refused; nothing was stored and the number is not ours.
    Refused(Refusal),
}

/// Takes an order: checks the product, then creates the order (row, first event and outbox
/// message, one transaction) or finds the stored one for a repeated number.
pub async fn take_order(
    gw: &Gateway,
    shop: &Authenticated,
    ask: OrderAsk,
) -> Result<Taken, IntakeError> {
    let product = lookup_product(gw, ask.platform, &ask.sku, ask.out_id.as_deref()).await?;
    let checked = match (ask.quantity > MAX_QUANTITY).then_some(Refusal::TooMany) {
        Some(refused) => Err(refused),
        None => check_product(product.as_ref(), ask.kind, ask.quantity, ask.total)
            .and_then(|p| recharge_account(&ask, &p).map(|account| (p, account))),
    };
    let (product, account) = match checked {
        Ok(found) => found,
        Err(refused) => {
            return match find_stored(gw, shop, ask.platform, &ask.order_no).await? {
                Some(order) => repeat(gw, order, &ask).await,
                None => Ok(Taken::Refused(refused)),
            };
        }
    };
    let new = NewOrder {
        platform: ask.platform,
        shop_id: shop.id,
        platform_order_no: ask.order_no.clone(),
        order_kind: Kind::of(&product),
        product_id: Some(product.id),
        sku: ask.sku.clone(),
        quantity: ask.quantity as i32,
        total_price_fen: ask.total.0,
        recharge_account: account,
        notify_url: ask.notify_url.clone(),
        raw_request: Some(ask.raw_request.clone()),
        rights: ask.rights.clone(),
        // The request's span (continuing JD's `traceparent` when it sends one): the order's
        // trace, stored with it and with its message.
        traceparent: common::telemetry::current_traceparent(),
    };
    match place_order(gw, &new).await.map_err(IntakeError::Store)? {
        Created::New(order) => Ok(Taken::Accepted(order)),
        Created::Existing(order) => repeat(gw, order, &ask).await,
    }
}

/// The account a direct product recharges (`None` for cards). 通用交易 direct goods are always
/// one recharge (spec §4): any other quantity is an invalid parameter, not a wrong account.
fn recharge_account(ask: &OrderAsk, product: &ProductRow) -> Result<Option<String>, Refusal> {
    if Kind::of(product) != OrderKind::Direct {
        return Ok(None);
    }
    if ask.platform == Platform::JdGeneral && ask.quantity != 1 {
        return Err(Refusal::NotOneRecharge);
    }
    match ask.account.as_deref().map(RechargeAccount::parse) {
        Some(Ok(account)) => Ok(Some(account.into_inner())),
        _ => Err(Refusal::BadAccount),
    }
}

/// A stored order for a repeated number. 游戏点卡 refuses a repeat with different content
/// (102); 通用交易 answers the stored state whatever this copy says.
async fn repeat(gw: &Gateway, order: OrderRow, ask: &OrderAsk) -> Result<Taken, IntakeError> {
    if ask.platform == Platform::JdGame && !same_content(&order, ask) {
        return Ok(Taken::Conflict(order));
    }
    Ok(Taken::Repeat(view(gw, order).await?))
}

fn same_content(order: &OrderRow, ask: &OrderAsk) -> bool {
    let kind = match ask.kind {
        Kind::Card => OrderKind::Card,
        Kind::Direct | Kind::Any => OrderKind::Direct,
    };
    let account = ask
        .account
        .as_deref()
        .and_then(|a| RechargeAccount::parse(a).ok());
    order.order_kind == kind
        && order.sku == ask.sku
        && order.quantity == ask.quantity as i32
        && order.total_price_fen == ask.total.0
        && order.recharge_account.as_deref() == account.as_ref().map(RechargeAccount::as_str)
}

/// The stored state of a shop's order, for queries (`None`: the number is not ours).
pub async fn find_order(
    gw: &Gateway,
    shop: &Authenticated,
    platform: Platform,
    order_no: &PlatformOrderNo,
) -> Result<Option<OrderView>, IntakeError> {
    match find_stored(gw, shop, platform, order_no).await? {
        Some(order) => Ok(Some(view(gw, order).await?)),
        None => Ok(None),
    }
}

async fn find_stored(
    gw: &Gateway,
    shop: &Authenticated,
    platform: Platform,
    order_no: &PlatformOrderNo,
) -> Result<Option<OrderRow>, IntakeError> {
    common::db::orders::find_by_platform_no(&gw.infra_db, platform, shop.id, order_no)
        .await
        .map_err(IntakeError::Lookup)
}

/// What a preCheck asks: may `quantity` of `sku` be sold for `total` (to `account`) now?
pub struct SaleAsk<'a> {
    pub platform: Platform,
    pub sku: &'a str,
    pub quantity: u32,
    pub total: Fen,
    pub account: Option<&'a str>,
}

/// Whether the product can be sold now: priced and enabled, a valid account for a direct
/// product (when one is given), and cards in stock or a way to recharge. Within JD's 400 ms
/// preCheck budget: the cached product and one bounded count.
pub async fn sellable(gw: &Gateway, ask: SaleAsk<'_>) -> Result<Result<(), Refusal>, IntakeError> {
    if ask.quantity > MAX_QUANTITY {
        return Ok(Err(Refusal::TooMany));
    }
    let product = lookup_product(gw, ask.platform, ask.sku, None).await?;
    let product = match check_product(product.as_ref(), Kind::Any, ask.quantity, ask.total) {
        Ok(p) => p,
        Err(refused) => return Ok(Err(refused)),
    };
    if Kind::of(&product) == OrderKind::Direct
        && let Some(account) = ask.account
        && RechargeAccount::parse(account).is_err()
    {
        return Ok(Err(Refusal::BadAccount));
    }
    match can_fulfil(gw, &product, ask.quantity).await {
        Ok(true) => Ok(Ok(())),
        Ok(false) => Ok(Err(Refusal::OutOfStock)),
        Err(e) => Err(IntakeError::Stock(e)),
    }
}

/// The product for `sku` (falling back to the merchant code `out_id`).
async fn lookup_product(
    gw: &Gateway,
    platform: Platform,
    sku: &str,
    out_id: Option<&str>,
) -> Result<Option<Arc<ProductRow>>, IntakeError> {
    let found = gw
        .directory
        .product(platform, sku)
        .await
        .map_err(IntakeError::Product)?;
    match (found, out_id.map(str::trim).filter(|o| !o.is_empty())) {
        (Some(p), _) => Ok(Some(p)),
        (None, Some(out)) => gw
            .directory
            .product(platform, out)
            .await
            .map_err(IntakeError::Product),
        (None, None) => Ok(None),
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
) -> Result<Arc<ProductRow>, Refusal> {
    let product = product.ok_or(Refusal::Unknown)?;
    let mode = product.mode;
    let kind_ok = match kind {
        Kind::Any => true,
        Kind::Card => mode == FulfilmentMode::Card,
        Kind::Direct => mode != FulfilmentMode::Card,
    };
    if !kind_ok {
        return Err(Refusal::WrongKind);
    }
    if !product.enabled {
        return Err(Refusal::Disabled);
    }
    // No price (or a price of zero) never disables the check: nothing matches it, so such a
    // product's orders are refused (the back office and the CLI require a price to enable).
    let expected = product
        .price_fen
        .filter(|p| *p > 0)
        .and_then(|p| p.checked_mul(i64::from(quantity)));
    if expected != Some(total.0) {
        return Err(Refusal::PriceMismatch);
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
async fn place_order(gw: &Gateway, new: &NewOrder) -> Result<Created, sqlx::Error> {
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
async fn view(gw: &Gateway, order: OrderRow) -> Result<OrderView, IntakeError> {
    let phase = match order.status {
        OrderStatus::Succeeded if order.order_kind == OrderKind::Card => {
            match cards::for_success(&gw.infra_db, &gw.master_key, &order, "gateway")
                .await
                .map_err(IntakeError::State)?
            {
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
async fn can_fulfil(
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
            Ok(queries::enabled_suppliers(&gw.infra_db, product.id).await? > 0)
        }
    }
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
            Refusal::PriceMismatch
        );
        assert_eq!(
            check_product(Some(&card), Kind::Direct, 1, Fen(980)).unwrap_err(),
            Refusal::WrongKind
        );
        assert!(check_product(Some(&card), Kind::Any, 1, Fen(980)).is_ok());
        assert_eq!(
            check_product(None, Kind::Any, 1, Fen(1)).unwrap_err(),
            Refusal::Unknown
        );
        // No price, or a price of zero, is not "any price".
        for price in [None, Some(0)] {
            let unpriced = product(FulfilmentMode::Card, true, price);
            for total in [0, 1, 980] {
                assert_eq!(
                    check_product(Some(&unpriced), Kind::Card, 1, Fen(total)).unwrap_err(),
                    Refusal::PriceMismatch
                );
            }
        }
        let off = product(FulfilmentMode::DirectManual, false, None);
        assert_eq!(
            check_product(Some(&off), Kind::Direct, 1, Fen(1)).unwrap_err(),
            Refusal::Disabled
        );
    }

    fn ask(platform: Platform, quantity: u32, account: Option<&str>) -> OrderAsk {
        OrderAsk {
            platform,
            order_no: PlatformOrderNo::from_long(10001),
            kind: Kind::Any,
            sku: "s".into(),
            out_id: None,
            quantity,
            total: Fen(980),
            account: account.map(str::to_owned),
            notify_url: None,
            raw_request: String::new(),
            rights: None,
        }
    }

    #[test]
    fn direct_orders_need_an_account_and_general_ones_one_recharge() {
        let direct = product(FulfilmentMode::DirectManual, true, Some(980));
        let card = product(FulfilmentMode::Card, true, Some(980));
        let general = |quantity, account| ask(Platform::JdGeneral, quantity, account);
        assert_eq!(
            recharge_account(&general(1, Some(" 13333333333 ")), &direct),
            Ok(Some("13333333333".to_owned()))
        );
        assert_eq!(
            recharge_account(&general(2, Some("13333333333")), &direct),
            Err(Refusal::NotOneRecharge)
        );
        assert_eq!(
            recharge_account(&general(1, None), &direct),
            Err(Refusal::BadAccount)
        );
        assert_eq!(
            recharge_account(&general(1, Some("  ")), &direct),
            Err(Refusal::BadAccount)
        );
        // Cards recharge nothing; 游戏点卡 direct orders may be several recharges.
        assert_eq!(recharge_account(&general(3, None), &card), Ok(None));
        assert_eq!(
            recharge_account(&ask(Platform::JdGame, 3, Some("acc")), &direct),
            Ok(Some("acc".to_owned()))
        );
    }
}
