//! 京东游戏点卡: the five requests as JD sends them (`customerId, data, timestamp, sign`, `data`
//! = Base64 of UTF-8 JSON) and the check of the merchant's `{retCode, retMessage, data}` answer
//! (jd-game.md §2–§5, §7).

use common::protocol::jd_game::{self as proto, CardInfo, DataFields, RetCode};
use serde_json::{Map, Value, json};

use crate::report::Report;
use crate::secret::masked_sign_string;
use crate::wire::{Signed, answer_object};

/// The five interfaces JD calls on a game-card merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameCall {
    PreCheck,
    DirectCharge,
    DirectQuery,
    CardOrder,
    CardQuery,
}

impl GameCall {
    pub const ALL: [GameCall; 5] = [
        GameCall::PreCheck,
        GameCall::DirectCharge,
        GameCall::DirectQuery,
        GameCall::CardOrder,
        GameCall::CardQuery,
    ];

    /// The interface name JD's document uses.
    pub fn name(self) -> &'static str {
        match self {
            GameCall::PreCheck => "preCheck",
            GameCall::DirectCharge => "directCharge",
            GameCall::DirectQuery => "directQuery",
            GameCall::CardOrder => "cardOrder",
            GameCall::CardQuery => "cardQuery",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            GameCall::PreCheck => "提单校验",
            GameCall::DirectCharge => "直充接单",
            GameCall::DirectQuery => "直充订单查询",
            GameCall::CardOrder => "卡密接单",
            GameCall::CardQuery => "卡密订单查询",
        }
    }

    /// The gateway's path (README「端口与接口」).
    pub fn path(self) -> String {
        format!("/api/jd/game/{}", self.name())
    }

    /// Queries: JD polls again while the order is in progress, and refunds on a non-retry
    /// refusal.
    pub fn is_query(self) -> bool {
        matches!(self, GameCall::DirectQuery | GameCall::CardQuery)
    }

    /// Whether the request carries an `orderId`.
    pub fn has_order_id(self) -> bool {
        self != GameCall::PreCheck
    }
}

/// What JD puts in the `data` of a request.
#[derive(Debug, Clone)]
pub struct GameInput<'a> {
    pub call: GameCall,
    pub order_id: u64,
    pub sku_id: &'a str,
    pub quantity: u32,
    /// The merchant's receivable for the whole order, in yuan (`"10.00"`).
    pub total_price: &'a str,
    /// The account to top up (preCheck, directCharge).
    pub account: Option<&'a str>,
    pub brand_id: &'a str,
    pub pin: &'a str,
    pub user_ip: &'a str,
}

/// The compact `data` JSON of a request: numbers as JSON strings, as in JD's examples (§2.1).
pub fn data_json(input: &GameInput<'_>) -> String {
    let mut map = Map::new();
    let mut put = |k: &str, v: String| {
        map.insert(k.to_string(), Value::String(v));
    };
    match input.call {
        GameCall::DirectQuery | GameCall::CardQuery => put("orderId", input.order_id.to_string()),
        call => {
            if call.has_order_id() {
                put("orderId", input.order_id.to_string());
            }
            put("pin", input.pin.to_string());
            put("buyNum", input.quantity.to_string());
            put("skuId", input.sku_id.to_string());
            put("brandId", input.brand_id.to_string());
            put("userIp", input.user_ip.to_string());
            put("totalPrice", input.total_price.to_string());
            if call == GameCall::CardOrder {
                put("sourceType", "0".to_string());
            } else if let Some(account) = input.account.filter(|a| !a.is_empty()) {
                put("gameAccount", account.to_string());
            }
        }
    }
    Value::Object(map).to_string()
}

/// The unsigned outer parameters. `data` is Base64 of the UTF-8 JSON: the encoding of JD's
/// requests is the one of our answers (jd-game.md §2.1), so the answer codec encodes it.
pub fn fields(customer_id: &str, data_json: &str, timestamp: &str) -> Vec<(String, String)> {
    vec![
        ("customerId".to_string(), customer_id.to_string()),
        ("data".to_string(), proto::encode_answer_data(data_json)),
        ("timestamp".to_string(), timestamp.to_string()),
    ]
}

/// Signs the parameters with the private key (`sign` appended).
pub fn sign(fields: &[(String, String)], private_key: &str) -> Signed {
    let mut form = fields.to_vec();
    form.push(("sign".to_string(), proto::sign(fields, private_key)));
    Signed {
        form,
        sign_string: masked_sign_string(&proto::sign_string(fields, private_key), private_key),
    }
}

/// What the answer must match.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Cards to find on success; `None` when unknown (a query without `--quantity`).
    pub quantity: Option<u32>,
}

/// A checked answer.
#[derive(Debug, Clone)]
pub struct Checked {
    pub report: Report,
    /// The JSON answer as received.
    pub answer: Option<Value>,
    /// `data`, Base64- and text-decoded, parsed.
    pub data: Option<Value>,
    pub cards: Vec<CardInfo>,
    /// A query answered "in progress" (`orderStatus` 1): JD asks again later.
    pub in_progress: bool,
}

/// Checks an answer as JD reads it: HTTP 200 JSON, `retCode` a known code (a string), a
/// `retMessage`, and per interface the `data` JD needs (preCheck `status`, queries
/// `orderStatus`, cards as many as ordered). Game answers carry no signature (§4).
pub fn check_answer(call: GameCall, http_status: u16, body: &[u8], expect: &Expect) -> Checked {
    let mut r = Report::default();
    let mut checked = Checked {
        report: Report::default(),
        answer: None,
        data: None,
        cards: Vec::new(),
        in_progress: false,
    };
    let Some(map) = answer_object(&mut r, http_status, body) else {
        checked.report = r;
        return checked;
    };
    checked.answer = Some(Value::Object(map.clone()));
    r.note("游戏点卡的应答不签名（规范 §4 没有应答签名）(game answers carry no signature)");

    let ret_code = match map.get("retCode") {
        None => {
            r.problem("应答缺少 retCode", "answer has no retCode", "");
            None
        }
        Some(v) => {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !v.is_string() {
                r.problem(
                    "retCode 应为字符串",
                    "retCode must be a string",
                    v.to_string(),
                );
            }
            match RetCode::parse(text.trim()) {
                Some(code) => Some(code),
                None => {
                    r.problem(
                        "retCode 不是规范中的返回码",
                        "retCode is not one of the spec's codes",
                        text,
                    );
                    None
                }
            }
        }
    };
    let message = map
        .get("retMessage")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if message.trim().is_empty() {
        r.problem("应答缺少 retMessage", "answer has no retMessage", "");
    }
    let Some(code) = ret_code else {
        checked.report = r;
        return checked;
    };
    if code != RetCode::Success {
        let consequence = if code.is_retry() {
            "京东稍后重试 (JD retries later)"
        } else if call.is_query() {
            "京东将退款 (JD refunds the order)"
        } else {
            "京东视为未接单 (JD treats the order as not accepted)"
        };
        r.problem(
            "商户拒绝",
            "merchant refused",
            format!(
                "retCode {} {}，retMessage「{message}」；{consequence}",
                code.code(),
                code.message_zh()
            ),
        );
        checked.report = r;
        return checked;
    }
    r.ok(format!("retCode 100 {message}"));

    let data = match map
        .get("data")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(raw) => match proto::decode_data(raw).and_then(|t| DataFields::parse(&t)) {
            Ok(fields) => Some(fields),
            Err(e) => {
                r.problem("data 无法解码", "cannot decode data", e.to_string());
                checked.report = r;
                return checked;
            }
        },
    };
    checked.data = map
        .get("data")
        .and_then(Value::as_str)
        .and_then(|raw| proto::decode_data(raw).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    let needs_data = |r: &mut Report| {
        r.problem(
            "成功应答缺少 data",
            "successful answer has no data",
            format!("{} 必须带 data", call.name()),
        )
    };
    match call {
        GameCall::PreCheck => match data {
            None => needs_data(&mut r),
            Some(d) => match d.text("status").as_deref().map(str::trim) {
                Some("0") => r.ok("可售 (sellable): status 0"),
                Some(other) => r.problem(
                    "商品不可售",
                    "not sellable",
                    format!("status {other}"),
                ),
                None => r.problem("data 缺少 status", "data has no status", ""),
            },
        },
        GameCall::DirectCharge => {
            r.ok("已接单，充值结果稍后经回调或查询得到 (accepted; the result follows by callback or query)")
        }
        GameCall::CardOrder => match data.as_ref().map(|d| cards_of(&mut r, d)) {
            None => r.ok("已接单，异步出卡：卡密经回调或 cardQuery 得到 (accepted; cards follow by callback or cardQuery)"),
            Some(None) => r.problem(
                "同步出卡的 data 缺少 cardinfos",
                "synchronous cardOrder data has no cardinfos",
                "",
            ),
            Some(Some(cards)) => {
                check_cards(&mut r, &cards, expect.quantity);
                checked.cards = cards;
            }
        },
        GameCall::DirectQuery | GameCall::CardQuery => match data {
            None => needs_data(&mut r),
            Some(d) => match d.text("orderStatus").as_deref().map(str::trim) {
                Some("0") if call == GameCall::CardQuery => match cards_of(&mut r, &d) {
                    None => r.problem(
                        "充值成功但没有 cardinfos（京东无法置为成功）",
                        "success without cardinfos (JD cannot complete the order)",
                        "",
                    ),
                    Some(cards) => {
                        r.ok("orderStatus 0 充值成功 (succeeded)");
                        check_cards(&mut r, &cards, expect.quantity);
                        checked.cards = cards;
                    }
                },
                Some("0") => r.ok("orderStatus 0 充值成功 (succeeded)"),
                Some("1") => {
                    checked.in_progress = true;
                    r.ok("orderStatus 1 充值中，京东稍后再查 (in progress; JD queries again)")
                }
                Some("2") => r.problem(
                    "orderStatus 2 充值失败（旧写法；规范建议用非 100 的 retCode）",
                    "orderStatus 2 failed (legacy form; the spec prefers a non-100 retCode)",
                    "",
                ),
                Some(other) => r.problem(
                    "orderStatus 应为 0 或 1",
                    "orderStatus must be 0 or 1",
                    other.to_string(),
                ),
                None => r.problem("data 缺少 orderStatus", "data has no orderStatus", ""),
            },
        },
    }
    checked.report = r;
    checked
}

/// The `cardinfos` of decoded data; `None` when absent, a problem when malformed.
fn cards_of(r: &mut Report, data: &DataFields) -> Option<Vec<CardInfo>> {
    let items = data.array("cardinfos")?;
    match serde_json::from_value::<Vec<CardInfo>>(Value::Array(items)) {
        Ok(cards) => Some(cards),
        Err(e) => {
            r.problem(
                "cardinfos 格式错误（字段应为 cardno / cardpass / expiretime）",
                "malformed cardinfos (fields cardno / cardpass / expiretime)",
                e.to_string(),
            );
            Some(Vec::new())
        }
    }
}

/// JD's checks on delivered cards: all N at once, `cardno` letters/digits/`-`/`_` ≤ 200 bytes,
/// `cardpass` printable ASCII ≤ 5000 bytes.
pub fn check_cards(r: &mut Report, cards: &[CardInfo], quantity: Option<u32>) {
    match quantity {
        Some(q) if usize::try_from(q).ok() == Some(cards.len()) => {
            r.ok(format!("卡密数量等于购买数量 (card count = buyNum = {q})"))
        }
        Some(q) => r.problem(
            "卡密数量与购买数量不符",
            "card count differs from buyNum",
            format!("expected {q} got {}", cards.len()),
        ),
        None if cards.is_empty() => r.problem("没有卡密", "no cards", ""),
        None => r.note("未给出 --quantity，未核对卡密数量 (no --quantity: card count not checked)"),
    }
    check_card_limits(r, cards);
}

/// JD's limits on each card (the count is [`check_cards`]'s).
pub fn check_card_limits(r: &mut Report, cards: &[CardInfo]) {
    for (i, card) in cards.iter().enumerate() {
        if !card.within_jd_limits() {
            r.problem(
                "卡密不符合京东限制（cardno 仅字母数字-_ ≤200 字节，cardpass 可打印 ASCII ≤5000 字节）",
                "card outside JD's limits",
                format!("card #{}", i + 1),
            );
        }
    }
}

/// One line per card, in clear text.
pub fn render_cards(cards: &[CardInfo]) -> String {
    let mut out = String::new();
    for (i, c) in cards.iter().enumerate() {
        out.push_str(&format!(
            "  #{} cardno={} cardpass={} expiretime={}\n",
            i + 1,
            c.cardno,
            c.cardpass,
            c.expiretime.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// `--json` form of a request.
pub fn request_json(url: &str, signed: &Signed, data_json: &str) -> Value {
    json!({
        "url": url,
        "signString": signed.sign_string,
        "form": signed.form.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "data": serde_json::from_str::<Value>(data_json).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::protocol::form;
    use common::protocol::jd_game::{GameAnswer, card_order_data, card_query_success_data};
    use common::protocol::vectors::game::{
        CUSTOMER_ID, K, V2_DATA, V2_JSON, V2_SIGN, V2_TIMESTAMP, V4_CARD, V5_CARD_QUERY_SUCCESS,
        V5_ORDER_STATUS_PROCESSING, V5_PRECHECK_SELLABLE,
    };

    #[test]
    fn requests_reproduce_v2() {
        let f = fields(CUSTOMER_ID, V2_JSON, V2_TIMESTAMP);
        assert_eq!(form::first_value(&f, "data"), Some(V2_DATA));
        let signed = sign(&f, K);
        assert_eq!(form::first_value(&signed.form, "sign"), Some(V2_SIGN));
        assert_eq!(
            signed.sign_string,
            format!(
                "customerId=10817&data={V2_DATA}&timestamp=20240101120000&{}",
                crate::secret::mask(K)
            )
        );
    }

    #[test]
    fn data_per_interface() {
        let input = |call| GameInput {
            call,
            order_id: 301189718928,
            sku_id: "10022039398",
            quantity: 2,
            total_price: "19.60",
            account: Some("13800000000"),
            brand_id: "1010000055",
            pin: "jd-sim",
            user_ip: "127.0.0.1",
        };
        let parsed = |call| -> Value { serde_json::from_str(&data_json(&input(call))).unwrap() };
        assert_eq!(
            parsed(GameCall::DirectQuery),
            json!({"orderId": "301189718928"})
        );
        assert_eq!(
            parsed(GameCall::CardQuery),
            json!({"orderId": "301189718928"})
        );
        let pre = parsed(GameCall::PreCheck);
        assert!(pre.get("orderId").is_none());
        assert_eq!(pre["buyNum"], "2");
        assert_eq!(pre["gameAccount"], "13800000000");
        let direct = parsed(GameCall::DirectCharge);
        assert_eq!(direct["orderId"], "301189718928");
        assert_eq!(direct["totalPrice"], "19.60");
        let card = parsed(GameCall::CardOrder);
        assert_eq!(card["sourceType"], "0");
        assert!(card.get("gameAccount").is_none());
        assert_eq!(GameCall::CardOrder.path(), "/api/jd/game/cardOrder");
    }

    fn answer(body: &GameAnswer) -> Vec<u8> {
        body.encode()
    }

    #[test]
    fn answers_per_interface() {
        let one = Expect { quantity: Some(1) };
        let sellable = answer(&GameAnswer::success(
            "成功",
            Some(V5_PRECHECK_SELLABLE.into()),
        ));
        let c = check_answer(GameCall::PreCheck, 200, &sellable, &one);
        assert!(c.report.is_valid(), "{}", c.report.render());

        let processing = answer(&GameAnswer::success(
            "查询成功",
            Some(V5_ORDER_STATUS_PROCESSING.into()),
        ));
        let c = check_answer(GameCall::DirectQuery, 200, &processing, &one);
        assert!(c.report.is_valid() && c.in_progress);

        let cards = answer(&GameAnswer::success(
            "充值成功",
            Some(V5_CARD_QUERY_SUCCESS.into()),
        ));
        let c = check_answer(GameCall::CardQuery, 200, &cards, &one);
        assert!(c.report.is_valid(), "{}", c.report.render());
        assert_eq!(c.cards[0].cardno, V4_CARD.0);
        assert!(render_cards(&c.cards).contains(&format!("cardpass={}", V4_CARD.1)));
        let c = check_answer(
            GameCall::CardQuery,
            200,
            &cards,
            &Expect { quantity: Some(3) },
        );
        assert!(
            c.report.render().contains(
                "卡密数量与购买数量不符 (card count differs from buyNum): expected 3 got 1"
            )
        );

        // A synchronous cardOrder with cards; an asynchronous one without.
        let sync = answer(&GameAnswer::success(
            "成功",
            Some(card_order_data(&c.cards)),
        ));
        assert!(
            check_answer(GameCall::CardOrder, 200, &sync, &one)
                .report
                .is_valid()
        );
        let accepted = answer(&GameAnswer::success("成功", None));
        assert!(
            check_answer(GameCall::CardOrder, 200, &accepted, &one)
                .report
                .is_valid()
        );
        assert!(
            check_answer(GameCall::DirectCharge, 200, &accepted, &one)
                .report
                .is_valid()
        );
        // A query without data is not enough.
        assert!(
            !check_answer(GameCall::CardQuery, 200, &accepted, &one)
                .report
                .is_valid()
        );
        // cardQuery success without cards.
        let no_cards = answer(&GameAnswer::success(
            "充值成功",
            Some(card_query_success_data(&[])),
        ));
        assert!(
            !check_answer(GameCall::CardQuery, 200, &no_cards, &one)
                .report
                .is_valid()
        );
    }

    #[test]
    fn refusals_and_malformed_answers_are_problems() {
        let one = Expect { quantity: Some(1) };
        let refused = answer(&GameAnswer::error(RetCode::SignFailed));
        let c = check_answer(GameCall::CardOrder, 200, &refused, &one);
        let text = c.report.render();
        assert!(
            text.contains("✗ 商户拒绝 (merchant refused): retCode 106"),
            "{text}"
        );
        assert!(text.contains("京东稍后重试"), "{text}");
        let c = check_answer(
            GameCall::CardQuery,
            200,
            &answer(&GameAnswer::error(RetCode::OrderNotFound)),
            &one,
        );
        assert!(c.report.render().contains("京东将退款"));
        let c = check_answer(
            GameCall::PreCheck,
            200,
            br#"{"retCode":100,"retMessage":"x","data":"eyJzdGF0dXMiOiIwIn0="}"#,
            &one,
        );
        assert!(c.report.render().contains("retCode 应为字符串"));
        let c = check_answer(
            GameCall::PreCheck,
            200,
            br#"{"retCode":"777","retMessage":"x"}"#,
            &one,
        );
        assert!(c.report.render().contains("retCode 不是规范中的返回码"));
        let c = check_answer(GameCall::PreCheck, 500, b"oops", &one);
        assert!(c.report.render().contains("HTTP 状态不是 200"));
    }
}
