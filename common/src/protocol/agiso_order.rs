//! Agiso orders as pushes and detail answers describe them (§4.1, §4.2, §7.4), read into lines
//! that map to our products, and the delivery calls that answer them (§4.3). Pure: JSON text
//! in, typed values out; typed values in, form parameters out.
//!
//! Field names are matched ignoring case and underscores (Agiso mixes `Tid`, `tid`, `order_id`
//! across services, §1.1). Amounts are read from the JSON text exactly (a decimal string or a
//! number, never through a float), and order numbers from their digits: Taobao's reach 19
//! digits, beyond a double's 53 bits.

use std::collections::HashMap;

use serde_json::value::RawValue;

use super::agiso::AgisoEnvelope;
pub use crate::domain::agiso::{OrderType, Service};
use crate::domain::{Fen, PlatformOrderNo};

// ---------------------------------------------------------------------------------------------
// Push freshness (§7.2)

/// How far a push's `timestamp` may be from our clock before the push is refused as stale.
pub const PUSH_MAX_SKEW_MS: i64 = 10 * 60 * 1000;

/// A push `timestamp` in unix milliseconds. Agiso documents no unit for it (§7.2, §8 item 3:
/// the doc's example has 11 digits, its sign tool inserts milliseconds) [INFERRED]: a value of
/// 10^11 or more is read as milliseconds (seconds reach 10^11 only in the year 5138), anything
/// smaller as seconds. `None` for anything but 1–15 digits.
pub fn push_time_ms(timestamp: &str) -> Option<i64> {
    let t = timestamp.trim();
    if t.is_empty() || t.len() > 15 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = t.parse().ok()?;
    if n >= 100_000_000_000 {
        Some(n)
    } else {
        n.checked_mul(1000)
    }
}

/// Whether a push stamped `timestamp` is too far from `now_ms` to be believed (or unreadable).
pub fn push_is_stale(timestamp: &str, now_ms: i64) -> bool {
    push_time_ms(timestamp).is_none_or(|t| (t - now_ms).abs() > PUSH_MAX_SKEW_MS)
}

// ---------------------------------------------------------------------------------------------
// Topics (§7.4)

/// What a push is about, by (service, aopic). `aopic` is not signed (§7.2): it only routes, and
/// the payload is read and checked as the topic's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Taobao buyer paid, full trade with `Orders[]` (aopic 2).
    TaobaoPaid,
    /// Taobao buyer paid, lean (aopic 2097152): the lines come from `Trade/TradeInfo`.
    TaobaoPaidLean,
    /// Taobao refund created (256): the buyer asked for the money back.
    TaobaoRefundCreated,
    /// Taobao refund succeeded (65536): the money went back.
    TaobaoRefundSucceeded,
    /// JD order paid (aopic 1, `JdTradePay`): the lines come from `Order/Detail`.
    JdPaid,
    /// JD 游戏点卡 order paid (aopic 8).
    JdGameCardPaid,
    /// JD 通用交易 order paid (aopic 16).
    JdVtpPaid,
    /// Anything else: stored, nothing to do (auto-send reports, ratings, memos …).
    Other,
}

impl Topic {
    pub fn of(service: Service, aopic: i64) -> Topic {
        match (service, aopic) {
            (Service::Alds, 2) => Topic::TaobaoPaid,
            (Service::Alds, 2_097_152) => Topic::TaobaoPaidLean,
            (Service::Alds, 256) => Topic::TaobaoRefundCreated,
            (Service::Alds, 65_536) => Topic::TaobaoRefundSucceeded,
            (Service::AldsJd, 1) => Topic::JdPaid,
            (Service::AldsJd, 8) => Topic::JdGameCardPaid,
            (Service::AldsJd, 16) => Topic::JdVtpPaid,
            _ => Topic::Other,
        }
    }

    /// The metric / log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::TaobaoPaid => "taobao_paid",
            Topic::TaobaoPaidLean => "taobao_paid_lean",
            Topic::TaobaoRefundCreated => "taobao_refund_created",
            Topic::TaobaoRefundSucceeded => "taobao_refund_succeeded",
            Topic::JdPaid => "jd_paid",
            Topic::JdGameCardPaid => "jd_game_card_paid",
            Topic::JdVtpPaid => "jd_vtp_paid",
            Topic::Other => "other",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading JSON exactly

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("阿奇索消息不是 JSON 对象")]
    NotObject,
    #[error("阿奇索消息缺少 {0}")]
    Missing(&'static str),
    #[error("阿奇索消息的 {0} 无效")]
    Invalid(&'static str),
}

/// A JSON object's members by normalized name (lower case, no underscores), values as raw text.
struct Fields<'a>(HashMap<String, &'a RawValue>);

fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl<'a> Fields<'a> {
    fn parse(json: &'a str) -> Result<Fields<'a>, PayloadError> {
        let raw: HashMap<String, &'a RawValue> =
            serde_json::from_str(json).map_err(|_| PayloadError::NotObject)?;
        let mut fields = HashMap::with_capacity(raw.len());
        for (key, value) in raw {
            fields.entry(normalized(&key)).or_insert(value);
        }
        Ok(Fields(fields))
    }

    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.0.get(name).copied().filter(|v| v.get() != "null")
    }

    /// A string member, or a number's literal text.
    fn text(&self, name: &str) -> Option<String> {
        let raw = self.raw(name)?.get();
        if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).ok()
        } else if raw.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
            Some(raw.to_owned())
        } else {
            None
        }
    }

    fn text_non_empty(&self, name: &str) -> Option<String> {
        self.text(name)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    fn order_no(&self, name: &str, what: &'static str) -> Result<PlatformOrderNo, PayloadError> {
        let text = self.text(name).ok_or(PayloadError::Missing(what))?;
        PlatformOrderNo::parse(&text).map_err(|_| PayloadError::Invalid(what))
    }

    fn count(&self, name: &str, what: &'static str) -> Result<i32, PayloadError> {
        let text = self.text(name).ok_or(PayloadError::Missing(what))?;
        match text.trim().parse::<i32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(PayloadError::Invalid(what)),
        }
    }

    fn yuan(&self, name: &str, what: &'static str) -> Result<Option<Fen>, PayloadError> {
        match self.text_non_empty(name) {
            None => Ok(None),
            Some(text) => Fen::from_yuan_str(&text)
                .map(Some)
                .map_err(|_| PayloadError::Invalid(what)),
        }
    }

    fn objects(&self, name: &str) -> Result<Vec<Fields<'a>>, PayloadError> {
        let Some(raw) = self.raw(name) else {
            return Ok(Vec::new());
        };
        let items: Vec<&'a RawValue> =
            serde_json::from_str(raw.get()).map_err(|_| PayloadError::Invalid("列表"))?;
        items.into_iter().map(|i| Fields::parse(i.get())).collect()
    }
}

/// The exact text of an envelope's `Data` (`data`), for reading amounts and numbers without
/// the float a parsed `serde_json::Value` would hold.
pub fn envelope_data(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let fields = Fields::parse(text).ok()?;
    fields.raw("data").map(|raw| raw.get().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Orders

/// One line of an Agiso order: what becomes one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Unique per line within the platform: the Taobao sub-order `Oid`, or the JD order id
    /// (JD orders through Agiso carry one SKU).
    pub line_no: PlatformOrderNo,
    /// Mapping candidates, most specific first: Taobao outer SKU id, `OuterIid`, `NumIid`; JD
    /// `outerSkuId`, `skuId`. Empty values are left out.
    pub sku_keys: Vec<String>,
    pub quantity: i32,
    /// What the buyer paid for the line, when the payload says.
    pub amount: Option<Fen>,
    pub title: String,
}

/// A paid Agiso order, as one push or detail answer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgisoOrder {
    /// `Tid` (Taobao) or the JD order number: what the delivery calls take.
    pub tid: PlatformOrderNo,
    pub order_type: OrderType,
    /// Taobao `Status` / JD `orderState` as sent, when present.
    pub status: Option<String>,
    /// The account to top up (JD game account, 通用交易 `ProduceAccount`).
    pub account: Option<String>,
    pub lines: Vec<OrderLine>,
}

impl AgisoOrder {
    /// Whether the platform says the order is closed (refunded or cancelled) rather than paid.
    pub fn is_closed(&self) -> bool {
        self.status.as_deref().is_some_and(|s| {
            matches!(
                s,
                "TRADE_CLOSED" | "TRADE_CLOSED_BY_TAOBAO" | "TRADE_CANCELED"
            )
        })
    }
}

fn keys(candidates: [Option<String>; 3]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in candidates.into_iter().flatten() {
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// A Taobao trade: the paid push (aopic 2) or `Trade/TradeInfo`'s `Data`. The line amount is
/// `Payment` (what the buyer paid for it), else `TotalFee`.
pub fn taobao_trade(json: &str) -> Result<AgisoOrder, PayloadError> {
    let f = Fields::parse(json)?;
    let tid = f.order_no("tid", "Tid")?;
    let mut lines = Vec::new();
    for o in f.objects("orders")? {
        let amount = match o.yuan("payment", "Payment")? {
            Some(a) => Some(a),
            None => o.yuan("totalfee", "TotalFee")?,
        };
        lines.push(OrderLine {
            line_no: o.order_no("oid", "Oid")?,
            sku_keys: keys([
                o.text_non_empty("outerskuid"),
                o.text_non_empty("outeriid"),
                o.text_non_empty("numiid"),
            ]),
            quantity: o.count("num", "Num")?,
            amount,
            title: o.text("title").unwrap_or_default(),
        });
    }
    Ok(AgisoOrder {
        tid,
        order_type: OrderType::Taobao,
        status: f.text_non_empty("status"),
        account: None,
        lines,
    })
}

/// `Trade/TradesBuyerPay`'s `Data`: an array of trades (§4.1; the doc example shows one object,
/// which is read as a page of one).
pub fn taobao_trades(data: &str) -> Result<Vec<AgisoOrder>, PayloadError> {
    let trimmed = data.trim_start();
    if trimmed.starts_with('{') {
        return taobao_trade(data).map(|t| vec![t]);
    }
    if trimmed == "null" {
        return Ok(Vec::new());
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(data).map_err(|_| PayloadError::Invalid("Data"))?;
    items.into_iter().map(|i| taobao_trade(i.get())).collect()
}

/// The JSON text of each item of an array `Data` (a page of trades), exactly as received; a
/// single object is a page of one.
pub fn array_items(data: &str) -> Result<Vec<String>, PayloadError> {
    let trimmed = data.trim_start();
    if trimmed.starts_with('{') {
        return Ok(vec![data.to_owned()]);
    }
    if trimmed == "null" {
        return Ok(Vec::new());
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(data).map_err(|_| PayloadError::Invalid("Data"))?;
    Ok(items.into_iter().map(|i| i.get().to_owned()).collect())
}

/// The order number a lean push names (Taobao aopic 2097152 `Tid`, JD aopic 1 `orderId`): the
/// lines are read from the detail endpoint.
pub fn lean_tid(json: &str) -> Result<PlatformOrderNo, PayloadError> {
    let f = Fields::parse(json)?;
    if f.raw("tid").is_some() {
        f.order_no("tid", "Tid")
    } else {
        f.order_no("orderid", "orderId")
    }
}

/// A JD 游戏点卡 paid push (aopic 8). `TotalPrice` is read as yuan, as JD's own 游戏点卡
/// protocol sends it [INFERRED: Agiso documents the name only].
pub fn jd_game_card(json: &str) -> Result<AgisoOrder, PayloadError> {
    let f = Fields::parse(json)?;
    let tid = f.order_no("orderid", "OrderId")?;
    let order_type = match f.text_non_empty("ordertype").as_deref() {
        Some("2") => OrderType::JdGameCard,
        Some("1") => OrderType::JdGameRecharge,
        Some(_) => return Err(PayloadError::Invalid("OrderType")),
        None => return Err(PayloadError::Missing("OrderType")),
    };
    let line = single_line(&tid, order_type, &f, "buynum", "BuyNum")?;
    Ok(AgisoOrder {
        tid,
        order_type,
        status: None,
        account: f.text_non_empty("gameaccount"),
        lines: vec![line],
    })
}

/// A JD 通用交易 paid push (aopic 16). `TotalPrice` is read as fen when it is a whole number,
/// as JD's own 通用交易 protocol sends it, and as yuan when it has a decimal point [INFERRED:
/// Agiso documents the name only].
pub fn jd_vtp(json: &str) -> Result<AgisoOrder, PayloadError> {
    let f = Fields::parse(json)?;
    let tid = f.order_no("jdorderno", "JdOrderNo")?;
    let line = single_line(&tid, OrderType::JdVtp, &f, "quantity", "Quantity")?;
    Ok(AgisoOrder {
        tid,
        order_type: OrderType::JdVtp,
        status: None,
        account: f.text_non_empty("produceaccount"),
        lines: vec![line],
    })
}

/// The single line of a JD order, numbered by the order itself.
fn single_line(
    tid: &PlatformOrderNo,
    order_type: OrderType,
    f: &Fields<'_>,
    quantity: &str,
    quantity_name: &'static str,
) -> Result<OrderLine, PayloadError> {
    let amount = match f.text_non_empty("totalprice") {
        None => None,
        Some(text) if order_type == OrderType::JdVtp && !text.contains('.') => Some(Fen(text
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or(PayloadError::Invalid("TotalPrice"))?)),
        Some(text) => {
            Some(Fen::from_yuan_str(&text).map_err(|_| PayloadError::Invalid("TotalPrice"))?)
        }
    };
    Ok(OrderLine {
        line_no: tid.clone(),
        sku_keys: keys([
            f.text_non_empty("outerskuid"),
            f.text_non_empty("skuid"),
            None,
        ]),
        quantity: f.count(quantity, quantity_name)?,
        amount,
        title: f
            .text("skuname")
            .or_else(|| f.text("goodsname"))
            .unwrap_or_default(),
    })
}

/// JD `Order/Detail`'s `data` (§4.2): what the JD backstop re-reads for a stored push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdDetail {
    pub tid: PlatformOrderNo,
    /// `orderState` as sent (`WAIT_SELLER_STOCK_OUT`, `TRADE_CANCELED`, …).
    pub state: Option<String>,
    /// The first item's SKU keys (`outerSkuId`, `skuId`) and the summed `itemTotal`.
    pub line: OrderLine,
}

impl JdDetail {
    /// JD cancelled the order: nothing may be delivered for it.
    pub fn is_canceled(&self) -> bool {
        self.state.as_deref() == Some("TRADE_CANCELED")
    }
}

pub fn jd_detail(data: &str) -> Result<JdDetail, PayloadError> {
    let f = Fields::parse(data)?;
    let tid = f.order_no("orderid", "orderId")?;
    let items = f.objects("iteminfolist")?;
    let first = items.first().ok_or(PayloadError::Missing("itemInfoList"))?;
    let mut quantity = 0i32;
    let mut amount = Some(Fen::ZERO);
    for item in &items {
        let n = item.count("itemtotal", "itemTotal")?;
        quantity = quantity
            .checked_add(n)
            .ok_or(PayloadError::Invalid("itemTotal"))?;
        amount = match (amount, item.yuan("jdprice", "jdPrice")?) {
            (Some(sum), Some(price)) => price
                .checked_mul(i64::from(n))
                .and_then(|p| sum.checked_add(p)),
            _ => None,
        };
    }
    let line = OrderLine {
        line_no: tid.clone(),
        sku_keys: keys([
            first.text_non_empty("outerskuid"),
            first.text_non_empty("skuid"),
            None,
        ]),
        quantity,
        amount,
        title: first.text("skuname").unwrap_or_default(),
    };
    Ok(JdDetail {
        tid,
        state: f.text_non_empty("orderstate"),
        line,
    })
}

/// A Taobao refund push (256 / 65536).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub tid: PlatformOrderNo,
    /// The refunded sub-order; `None` refunds the whole trade.
    pub oid: Option<PlatformOrderNo>,
    pub refund_id: Option<String>,
}

pub fn taobao_refund(json: &str) -> Result<Refund, PayloadError> {
    let f = Fields::parse(json)?;
    let oid = match f.text_non_empty("oid") {
        Some(text) => {
            Some(PlatformOrderNo::parse(&text).map_err(|_| PayloadError::Invalid("Oid"))?)
        }
        None => None,
    };
    Ok(Refund {
        tid: f.order_no("tid", "Tid")?,
        oid,
        refund_id: f.text_non_empty("refundid"),
    })
}

// ---------------------------------------------------------------------------------------------
// Delivery calls (§4.3)

/// A card to hand over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredCard {
    pub card_no: String,
    pub password: String,
    /// Expiry as `yyyy-MM-dd HH:mm:ss`, when the card has one.
    pub expires: Option<String>,
}

/// `CreateOrderResult`'s `content` holds at most this many characters of cards (§4.3).
pub const CREATE_ORDER_RESULT_MAX_CHARS: usize = 5000;

/// One Taobao sub-order's cards for `CreateOrderResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineCards {
    pub oid: PlatformOrderNo,
    pub title: String,
    pub cards: Vec<DeliveredCard>,
}

/// One call to make: the service's path segment (`alds`, `aldsJd`, `open`), the endpoint under
/// it and its business parameters (the client adds `timestamp` and `sign`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service_path: &'static str,
    pub path: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl Call {
    fn new(service: Service, path: &'static str, params: Vec<(&'static str, String)>) -> Call {
        Call {
            service_path: service.as_str(),
            path,
            params,
        }
    }
}

/// Taobao: paid trades awaiting shipment modified since `since` (`yyyy-MM-dd HH:mm:ss`, Beijing
/// time), one page (§4.1).
pub fn trades_buyer_pay(since: &str, page: usize, page_size: usize) -> Call {
    Call::new(
        Service::Alds,
        "/Trade/TradesBuyerPay",
        vec![
            ("modifyTimeStart", since.to_owned()),
            ("pageNo", page.to_string()),
            ("pageSize", page_size.to_string()),
        ],
    )
}

/// The detail of one order (§4.2): Taobao `Trade/TradeInfo`, JD `Order/Detail`.
pub fn order_detail(service: Service, tid: &str) -> Call {
    match service {
        Service::Alds => Call::new(service, "/Trade/TradeInfo", vec![("tid", tid.to_owned())]),
        Service::AldsJd => Call::new(service, "/Order/Detail", vec![("order_id", tid.to_owned())]),
    }
}

/// Taobao: the cards Agiso has on record as sent for a trade (§4.4).
pub fn trade_send_log(tid: &str) -> Call {
    Call::new(
        Service::Alds,
        "/Trade/QueryTradeCPSendLog",
        vec![("tid", tid.to_owned())],
    )
}

/// Taobao: one page of the shop's Agiso card categories (§4.5).
pub fn card_categories(page: usize, page_size: usize) -> Call {
    Call::new(
        Service::Alds,
        "/CardPwdCategory/GetList",
        vec![
            ("pageNo", page.to_string()),
            ("pageSize", page_size.to_string()),
        ],
    )
}

/// The open-platform balance (§4.6): needs no authorization, so it tests the AppSecret alone.
pub fn query_deposit() -> Call {
    Call {
        service_path: "open",
        path: "/Bankroll/QueryDeposit",
        params: Vec::new(),
    }
}

/// Taobao: store the cards the buyer extracts (`aldsType` 1: after payment). `None` when the
/// content exceeds Agiso's 5,000 characters: the order goes to an operator.
pub fn create_order_result(tid: &PlatformOrderNo, lines: &[LineCards]) -> Option<Call> {
    let content: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| {
            let arr: Vec<serde_json::Value> = line
                .cards
                .iter()
                .map(|c| {
                    let mut card = serde_json::Map::new();
                    card.insert("c".into(), c.card_no.clone().into());
                    card.insert("p".into(), c.password.clone().into());
                    if let Some(d) = &c.expires {
                        card.insert("d".into(), d.clone().into());
                    }
                    serde_json::Value::Object(card)
                })
                .collect();
            serde_json::json!({
                "Oid": oid_number(&line.oid),
                "Additional": "",
                "CardPwdContent": [{
                    "Title": line.title,
                    "CardNoShowType": 0,
                    "PwdShowType": 0,
                    "PrefixCardNo": "卡号：",
                    "PrefixPwd": "密码：",
                    "CardPwdArr": arr,
                }],
            })
        })
        .collect();
    let content = serde_json::Value::Array(content).to_string();
    if content.chars().count() > CREATE_ORDER_RESULT_MAX_CHARS {
        return None;
    }
    Some(Call::new(
        Service::Alds,
        "/Trade/CreateOrderResult",
        vec![
            ("tid", tid.as_str().to_owned()),
            ("aldsType", "1".to_owned()),
            ("content", content),
        ],
    ))
}

/// `Oid` as the JSON number Agiso's examples show (a 1–19 digit number always fits `u64`; a
/// longer one is sent as its text).
fn oid_number(oid: &PlatformOrderNo) -> serde_json::Value {
    match oid.as_str().parse::<u64>() {
        Ok(n) => n.into(),
        Err(_) => oid.as_str().into(),
    }
}

/// Taobao: mark the trade shipped without logistics.
pub fn logistics_dummy_send(tid: &PlatformOrderNo) -> Call {
    Call::new(
        Service::Alds,
        "/Trade/LogisticsDummySend",
        vec![("tids", tid.as_str().to_owned())],
    )
}

/// JD 游戏点卡 card order: hand over the cards (`cardJson` = `[{"cardno","cardpass"}]`).
pub fn jd_card_send(tid: &PlatformOrderNo, cards: &[DeliveredCard]) -> Call {
    let json: Vec<serde_json::Value> = cards
        .iter()
        .map(|c| serde_json::json!({"cardno": c.card_no, "cardpass": c.password}))
        .collect();
    Call::new(
        Service::AldsJd,
        "/GameCard/CardSend",
        vec![
            ("tid", tid.as_str().to_owned()),
            ("cardJson", serde_json::Value::Array(json).to_string()),
        ],
    )
}

fn tid_only(path: &'static str, tid: &PlatformOrderNo) -> Call {
    Call::new(
        Service::AldsJd,
        path,
        vec![("tid", tid.as_str().to_owned())],
    )
}

/// JD 游戏点卡 top-up done.
pub fn jd_recharge_send(tid: &PlatformOrderNo) -> Call {
    tid_only("/GameCard/RechargeSend", tid)
}

/// JD 通用交易 done.
pub fn jd_vtp_send(tid: &PlatformOrderNo) -> Call {
    tid_only("/Vtp/Send", tid)
}

/// The refund call for a failed JD order, where the spec has one.
pub fn jd_refund(order_type: OrderType, tid: &PlatformOrderNo) -> Option<Call> {
    match order_type {
        OrderType::JdGameCard | OrderType::JdGameRecharge => {
            Some(tid_only("/GameCard/Refund", tid))
        }
        OrderType::JdVtp => Some(tid_only("/Vtp/Refund", tid)),
        OrderType::Taobao => None,
    }
}

/// What a delivery call's answer means for the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Done.
    Done,
    /// Agiso says it was done before (−50 已发货): counts as done.
    AlreadyDone,
    /// Try again later (`AllowRetry`, code 2 rate limit, 13 timeout, transport, non-200).
    Retry { rate_limited: bool, reason: String },
    /// Stop: an operator must act (token, authorization, balance, disabled app, permission …).
    Stop { reason: String },
}

/// Agiso's per-order "already shipped" code in `ErrorInfos` (§4.3).
pub const ALREADY_SHIPPED: i64 = -50;

/// Reads a delivery call's answer: HTTP `status` and `body`.
pub fn verdict(status: u16, body: &[u8]) -> Verdict {
    if status != 200 {
        // [INFERRED] Agiso's sample only reads 200 answers; anything else is a transport failure.
        return Verdict::Retry {
            rate_limited: false,
            reason: format!("阿奇索应答 HTTP {status}"),
        };
    }
    let envelope = match AgisoEnvelope::parse(body) {
        Ok(e) => e,
        Err(e) => {
            return Verdict::Retry {
                rate_limited: false,
                reason: e.to_string(),
            };
        }
    };
    if envelope.is_success {
        return Verdict::Done;
    }
    // Batch answers (codes 6 / 7) carry per-order errors.
    let infos = envelope
        .data
        .get("ErrorInfos")
        .or_else(|| envelope.data.get("errorInfos"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    if let Some(info) = infos.first() {
        let code = info
            .get("ErrorCode")
            .or_else(|| info.get("errorCode"))
            .and_then(|c| c.as_i64().or_else(|| c.as_str()?.trim().parse().ok()));
        let msg = info
            .get("ErrorMsg")
            .or_else(|| info.get("errorMsg"))
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        let retry = info
            .get("AllowRetry")
            .or_else(|| info.get("allowRetry"))
            .and_then(|r| r.as_bool())
            .unwrap_or(false);
        if code == Some(ALREADY_SHIPPED) {
            return Verdict::AlreadyDone;
        }
        let reason = format!("阿奇索订单错误 {}：{msg}", code.unwrap_or_default());
        return if retry || code == Some(-85) {
            Verdict::Retry {
                rate_limited: false,
                reason,
            }
        } else {
            Verdict::Stop { reason }
        };
    }
    let reason = envelope.failure_reason_zh();
    if envelope.is_retryable() {
        Verdict::Retry {
            rate_limited: envelope.error_code == 2,
            reason,
        }
    } else {
        Verdict::Stop { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(s: &str) -> PlatformOrderNo {
        PlatformOrderNo::parse(s).unwrap()
    }

    #[test]
    fn push_time_reads_seconds_or_milliseconds_by_magnitude() {
        assert_eq!(push_time_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(push_time_ms("1700000000123"), Some(1_700_000_000_123));
        // The doc's 11-digit example is seconds (year 2325): stale either way.
        assert_eq!(push_time_ms("11222212121"), Some(11_222_212_121_000));
        assert_eq!(push_time_ms(""), None);
        assert_eq!(push_time_ms("17e8"), None);
        let now = 1_700_000_000_000;
        assert!(!push_is_stale("1700000000", now));
        assert!(!push_is_stale("1700000599", now));
        assert!(push_is_stale("1700000601", now));
        assert!(push_is_stale("1699999399", now));
        assert!(!push_is_stale("1700000300000", now));
        assert!(push_is_stale("1700000700000", now));
        assert!(push_is_stale("11222212121", now));
        assert!(push_is_stale("garbage", now));
    }

    #[test]
    fn topics_route_by_service_and_aopic() {
        assert_eq!(Topic::of(Service::Alds, 2), Topic::TaobaoPaid);
        assert_eq!(Topic::of(Service::Alds, 2_097_152), Topic::TaobaoPaidLean);
        assert_eq!(
            Topic::of(Service::Alds, 65_536),
            Topic::TaobaoRefundSucceeded
        );
        assert_eq!(Topic::of(Service::AldsJd, 2), Topic::Other);
        assert_eq!(Topic::of(Service::AldsJd, 8), Topic::JdGameCardPaid);
        assert_eq!(Topic::of(Service::AldsJd, 16), Topic::JdVtpPaid);
        assert_eq!(Service::of_from_platform("TbAlds"), Some(Service::Alds));
        assert_eq!(Service::of_from_platform("AldsJd"), Some(Service::AldsJd));
        assert_eq!(Service::of_from_platform("PddAlds"), None);
    }

    #[test]
    fn taobao_trade_reads_big_numbers_and_exact_amounts() {
        let json = r#"{"Tid":3130073692357778123,"Status":"WAIT_SELLER_SEND_GOODS","Orders":[
            {"Oid":3130073692357778124,"NumIid":600000000001,"OuterIid":"CARD-50","Num":2,
             "Price":"50.00","TotalFee":"100.00","Payment":"99.90","Title":"五十元卡"},
            {"Oid":3130073692357778125,"NumIid":600000000002,"OuterIid":"","Num":1,
             "Payment":19.99,"Title":"x"}]}"#;
        let t = taobao_trade(json).unwrap();
        assert_eq!(t.tid.as_str(), "3130073692357778123");
        assert_eq!(t.order_type, OrderType::Taobao);
        assert!(!t.is_closed());
        assert_eq!(t.lines.len(), 2);
        assert_eq!(t.lines[0].line_no.as_str(), "3130073692357778124");
        assert_eq!(t.lines[0].sku_keys, vec!["CARD-50", "600000000001"]);
        assert_eq!(t.lines[0].quantity, 2);
        assert_eq!(t.lines[0].amount, Some(Fen(9990)));
        // A number amount is read from its text, not through a float.
        assert_eq!(t.lines[1].amount, Some(Fen(1999)));
        assert_eq!(t.lines[1].sku_keys, vec!["600000000002"]);
    }

    #[test]
    fn malformed_trades_are_errors_not_guesses() {
        assert_eq!(taobao_trade("[1]"), Err(PayloadError::NotObject));
        assert_eq!(taobao_trade("{}"), Err(PayloadError::Missing("Tid")));
        assert_eq!(
            taobao_trade(r#"{"Tid":1,"Orders":[{"Oid":2,"Num":0}]}"#),
            Err(PayloadError::Invalid("Num"))
        );
        assert_eq!(
            taobao_trade(r#"{"Tid":1,"Orders":[{"Oid":2,"Num":1,"Payment":"1.234"}]}"#),
            Err(PayloadError::Invalid("Payment"))
        );
        assert_eq!(
            taobao_trade(r#"{"Tid":"12a","Orders":[]}"#),
            Err(PayloadError::Invalid("Tid"))
        );
    }

    #[test]
    fn trades_page_is_an_array_or_one_object() {
        let page = r#"[{"Tid":1,"Orders":[]},{"tid":"2","orders":[]}]"#;
        let trades = taobao_trades(page).unwrap();
        assert_eq!(trades.len(), 2);
        assert_eq!(trades[1].tid.as_str(), "2");
        assert_eq!(taobao_trades(r#"{"Tid":7}"#).unwrap().len(), 1);
        assert!(taobao_trades("null").unwrap().is_empty());
    }

    #[test]
    fn jd_topics_read_their_type_account_and_price() {
        let card = jd_game_card(
            r#"{"OrderId":88001,"OrderType":2,"BuyNum":3,"SkuId":1001,"TotalPrice":"30.00","FacePrice":"10.00"}"#,
        )
        .unwrap();
        assert_eq!(card.order_type, OrderType::JdGameCard);
        assert_eq!(card.lines[0].quantity, 3);
        assert_eq!(card.lines[0].amount, Some(Fen(3000)));
        assert_eq!(card.lines[0].sku_keys, vec!["1001"]);
        let top_up = jd_game_card(
            r#"{"OrderId":"88002","OrderType":"1","BuyNum":1,"SkuId":1002,"GameAccount":"player1"}"#,
        )
        .unwrap();
        assert_eq!(top_up.order_type, OrderType::JdGameRecharge);
        assert_eq!(top_up.account.as_deref(), Some("player1"));
        assert!(jd_game_card(r#"{"OrderId":1,"OrderType":3,"BuyNum":1}"#).is_err());
        let vtp = jd_vtp(
            r#"{"JdOrderNo":99001,"ProduceStatus":3,"ProduceAccount":"13800000000","Quantity":2,"SkuId":"2001","TotalPrice":10000}"#,
        )
        .unwrap();
        assert_eq!(vtp.order_type, OrderType::JdVtp);
        assert_eq!(vtp.lines[0].amount, Some(Fen(10000)));
        assert_eq!(vtp.account.as_deref(), Some("13800000000"));
    }

    #[test]
    fn refunds_and_lean_pushes_name_their_order() {
        let r = taobao_refund(r#"{"RefundId":"r1","Tid":55,"Oid":56,"RefundFee":"1.00"}"#).unwrap();
        assert_eq!((r.tid.as_str(), r.oid.unwrap().as_str()), ("55", "56"));
        assert_eq!(
            lean_tid(r#"{"Tid":77,"Status":"WAIT_SELLER_SEND_GOODS"}"#)
                .unwrap()
                .as_str(),
            "77"
        );
        assert_eq!(
            lean_tid(r#"{"orderId":"78","venderId":1}"#)
                .unwrap()
                .as_str(),
            "78"
        );
    }

    #[test]
    fn jd_detail_sums_items_and_reads_the_state() {
        let d = jd_detail(
            r#"{"orderId":"91","orderState":"TRADE_CANCELED","itemInfoList":[
                {"skuId":"3001","outerSkuId":"G-1","jdPrice":"9.90","itemTotal":"2"},
                {"skuId":"3001","jdPrice":"9.90","itemTotal":"1"}]}"#,
        )
        .unwrap();
        assert!(d.is_canceled());
        assert_eq!(d.line.quantity, 3);
        assert_eq!(d.line.amount, Some(Fen(2970)));
        assert_eq!(d.line.sku_keys, vec!["G-1", "3001"]);
        assert!(jd_detail(r#"{"orderId":"91","itemInfoList":[]}"#).is_err());
    }

    #[test]
    fn array_items_keep_each_text() {
        let items = array_items(r#"[{"Tid":1, "X":"a b"},{"Tid":2}]"#).unwrap();
        assert_eq!(items, vec![r#"{"Tid":1, "X":"a b"}"#, r#"{"Tid":2}"#]);
        assert_eq!(array_items(r#"{"Tid":3}"#).unwrap().len(), 1);
        assert!(array_items("null").unwrap().is_empty());
        assert!(array_items("[1,").is_err());
    }

    #[test]
    fn envelope_data_keeps_the_exact_text() {
        let body = br#"{"IsSuccess":true,"Data":[{"Tid":3130073692357778123,"Orders":[]}],"Error_Code":0}"#;
        let data = envelope_data(body).unwrap();
        assert!(data.contains("3130073692357778123"), "{data}");
        assert_eq!(
            taobao_trades(&data).unwrap()[0].tid.as_str(),
            "3130073692357778123"
        );
        let lower = br#"{"isSuccess":true,"data":{"orderId":"5"}}"#;
        assert_eq!(envelope_data(lower).as_deref(), Some(r#"{"orderId":"5"}"#));
    }

    #[test]
    fn delivery_calls_have_the_documented_shape() {
        let cards = vec![DeliveredCard {
            card_no: "卡号1".into(),
            password: "卡密1".into(),
            expires: None,
        }];
        let send = jd_card_send(&no("1234567890123"), &cards);
        assert_eq!(send.path, "/GameCard/CardSend");
        // Spec §2.1 example B: the form we build signs to the published value.
        let form = super::super::agiso::signed_form(
            &send.params,
            "demoSecret0123456789abcdefABCDEF",
            1_700_000_000,
        );
        assert_eq!(
            form.last().map(|(k, v)| (k.as_str(), v.as_str())),
            Some(("sign", "b92cea4362ec69cc0ed170999db47939"))
        );
        assert_eq!(
            send.params,
            vec![
                ("tid", "1234567890123".to_owned()),
                (
                    "cardJson",
                    r#"[{"cardno":"卡号1","cardpass":"卡密1"}]"#.to_owned()
                )
            ]
        );
        let result = create_order_result(
            &no("10"),
            &[LineCards {
                oid: no("3130073692357778124"),
                title: "五十元卡".into(),
                cards: vec![DeliveredCard {
                    card_no: "A".into(),
                    password: "B".into(),
                    expires: Some("2027-01-01 00:00:00".into()),
                }],
            }],
        )
        .unwrap();
        let content = &result.params[2].1;
        let parsed: serde_json::Value = serde_json::from_str(content).unwrap();
        assert!(
            content.contains(r#""Oid":3130073692357778124"#),
            "{content}"
        );
        assert_eq!(
            parsed[0]["CardPwdContent"][0]["CardPwdArr"][0]["d"],
            "2027-01-01 00:00:00"
        );
        assert_eq!(result.params[1], ("aldsType", "1".to_owned()));
        let many: Vec<DeliveredCard> = (0..400)
            .map(|i| DeliveredCard {
                card_no: format!("CARD{i:06}"),
                password: format!("PASS{i:010}"),
                expires: None,
            })
            .collect();
        let too_big = [LineCards {
            oid: no("1"),
            title: String::new(),
            cards: many,
        }];
        assert!(create_order_result(&no("1"), &too_big).is_none());
        assert_eq!(
            logistics_dummy_send(&no("9")).params,
            vec![("tids", "9".to_owned())]
        );
        assert_eq!(jd_recharge_send(&no("9")).path, "/GameCard/RechargeSend");
        assert_eq!(jd_vtp_send(&no("9")).path, "/Vtp/Send");
        assert_eq!(
            jd_refund(OrderType::JdVtp, &no("9")).unwrap().path,
            "/Vtp/Refund"
        );
        assert_eq!(
            jd_refund(OrderType::JdGameCard, &no("9")).unwrap().path,
            "/GameCard/Refund"
        );
        assert!(jd_refund(OrderType::Taobao, &no("9")).is_none());
    }

    #[test]
    fn verdicts_follow_the_retry_rules() {
        assert_eq!(
            verdict(200, br#"{"IsSuccess":true,"Data":""}"#),
            Verdict::Done
        );
        let shipped = r#"{"IsSuccess":false,"Error_Code":7,"Data":{"ErrorInfos":[{"Tid":1,"ErrorCode":-50,"ErrorMsg":"已发货","AllowRetry":false}]}}"#;
        assert_eq!(verdict(200, shipped.as_bytes()), Verdict::AlreadyDone);
        let limited = br#"{"IsSuccess":false,"Error_Code":2,"Error_Msg":"limit"}"#;
        assert!(matches!(
            verdict(200, limited),
            Verdict::Retry {
                rate_limited: true,
                ..
            }
        ));
        let allow = br#"{"IsSuccess":false,"Error_Code":3,"AllowRetry":true}"#;
        assert!(matches!(
            verdict(200, allow),
            Verdict::Retry {
                rate_limited: false,
                ..
            }
        ));
        assert!(matches!(
            verdict(502, b"bad gateway"),
            Verdict::Retry { .. }
        ));
        assert!(matches!(verdict(200, b"<html>"), Verdict::Retry { .. }));
        for code in [1, 8, 16, 17, 28] {
            let body = format!(r#"{{"IsSuccess":false,"Error_Code":{code},"Error_Msg":"x"}}"#);
            match verdict(200, body.as_bytes()) {
                Verdict::Stop { reason } => assert!(reason.contains(&code.to_string()), "{reason}"),
                other => panic!("code {code}: {other:?}"),
            }
        }
    }
}
