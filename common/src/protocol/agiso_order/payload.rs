//! Agiso orders as pushes and detail answers describe them (§4.1, §4.2, §7.4), read into lines
//! that map to our products. Field names are matched ignoring case and underscores (Agiso mixes
//! `Tid`, `tid`, `order_id` across services, §1.1). Amounts are read from the JSON text exactly
//! (a decimal string or a number, never through a float), and order numbers from their digits:
//! Taobao's reach 19 digits, beyond a double's 53 bits.

use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::domain::agiso::OrderType;
use crate::domain::{Fen, PlatformOrderNo};

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
    // `aopic` is not signed (§7.2): a paid trade replayed under a refund topic must not read
    // as a refund. A refund message names its refund and carries no trade lines.
    if f.raw("orders").is_some() {
        return Err(PayloadError::Invalid("Orders"));
    }
    let refund_id = f
        .text_non_empty("refundid")
        .ok_or(PayloadError::Missing("RefundId"))?;
    let oid = match f.text_non_empty("oid") {
        Some(text) => {
            Some(PlatformOrderNo::parse(&text).map_err(|_| PayloadError::Invalid("Oid"))?)
        }
        None => None,
    };
    Ok(Refund {
        tid: f.order_no("tid", "Tid")?,
        oid,
        refund_id: Some(refund_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // A paid trade replayed under a refund topic, or a refund without its id, is no refund.
        assert_eq!(
            taobao_refund(r#"{"Tid":55,"RefundId":"r1","Orders":[{"Oid":56}]}"#),
            Err(PayloadError::Invalid("Orders"))
        );
        assert_eq!(
            taobao_refund(r#"{"Tid":55,"Oid":56}"#),
            Err(PayloadError::Missing("RefundId"))
        );
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
}
