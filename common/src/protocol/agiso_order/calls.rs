//! The calls that answer an Agiso order (§4.3), the read-only calls the poll and the operator
//! endpoints make, and what a call's answer means for the order.

use crate::domain::PlatformOrderNo;
use crate::domain::agiso::{OrderType, Service};
use crate::protocol::agiso::AgisoEnvelope;

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
            .and_then(|r| {
                r.as_bool()
                    .or_else(|| r.as_str().map(|t| t.trim().eq_ignore_ascii_case("true")))
            })
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
    use crate::protocol::vectors::agiso::{DEMO_SECRET, EXAMPLE_B_SIGN};

    fn no(s: &str) -> PlatformOrderNo {
        PlatformOrderNo::parse(s).unwrap()
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
        let form = crate::protocol::agiso::signed_form(&send.params, DEMO_SECRET, 1_700_000_000);
        assert_eq!(
            form.last().map(|(k, v)| (k.as_str(), v.as_str())),
            Some(("sign", EXAMPLE_B_SIGN))
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
