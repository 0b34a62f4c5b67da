//! JD 游戏点卡: preCheck, directCharge, directQuery, cardOrder, cardQuery. Answers are the JSON
//! envelope `{retCode, retMessage, data}` with HTTP 200; `data` is base64 of UTF-8 JSON.
//!
//! Each handler reads as four steps: authenticate ([`crate::auth`]), parse (the codec), one
//! intake function ([`crate::intake`]), encode (the codec).

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use common::db::orders::RightsTopUp;
use common::domain::{OrderKind, Platform, PlatformOrderNo, RechargeAccount};
use common::protocol::jd_game::{
    self as proto, CardOrderRequest, CardQueryRequest, DirectChargeRequest, DirectQueryRequest,
    GameAnswer, GameError, GameOrderStatus, GameParams, PreCheckRequest, RetCode,
};

use crate::auth::{self, Authenticated};
use crate::intake::{
    self, IntakeError, Kind, MAX_QUANTITY, OrderAsk, OrderView, Phase, Refusal, SaleAsk, Taken,
};
use crate::request::{self, AnswerCode, json_answer, record};
use crate::{AppState, Gateway};

macro_rules! endpoint {
    ($name:ident, $label:literal, $inner:ident) => {
        endpoint!($name, $label, $inner, std::convert::identity);
    };
    ($name:ident, $label:literal, $inner:ident, $map:path) => {
        pub async fn $name(
            State(gw): State<AppState>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
            headers: HeaderMap,
            uri: Uri,
            body: Body,
        ) -> Response {
            let ip = request::client_ip(peer, &headers, &gw.client_ip);
            let reply = match authenticate(&gw, &uri, body, ip).await {
                Ok((shop, params)) => $inner(&gw, &shop, &params).await,
                Err(reply) => reply,
            };
            $map(reply).send($label)
        }
    };
}

endpoint!(pre_check, "preCheck", pre_check_inner);
endpoint!(direct_charge, "directCharge", direct_charge_inner);
endpoint!(direct_query, "directQuery", direct_query_inner, for_query);
endpoint!(card_order, "cardOrder", card_order_inner);
endpoint!(card_query, "cardQuery", card_query_inner, for_query);

/// preCheck (提单校验): can this be sold now?
async fn pre_check_inner(gw: &Gateway, _shop: &Authenticated, params: &GameParams) -> Reply {
    let req = match PreCheckRequest::from_params(params) {
        Ok(req) => req,
        Err(e) => return refusal(&e),
    };
    let ask = SaleAsk {
        platform: Platform::JdGame,
        sku: &req.sku_id,
        quantity: req.buy_num,
        total: req.total_price,
        account: req.game_account.as_deref(),
    };
    match intake::sellable(gw, ask).await {
        Ok(Ok(())) => Reply::ok(
            GameAnswer::success("成功", Some(proto::precheck_data(true))),
            "answered",
            format!("sku {} sellable", req.sku_id),
        ),
        Ok(Err(refused)) => refusal_reply(refused, &req.sku_id),
        Err(e) => system_error(e),
    }
}

/// directCharge (直充接单): accepted = 100, the result follows by callback and directQuery.
async fn direct_charge_inner(gw: &Gateway, shop: &Authenticated, params: &GameParams) -> Reply {
    let req = match DirectChargeRequest::from_params(params) {
        Ok(req) => req,
        Err(e) => return refusal(&e),
    };
    // An invalid account or quantity is refused before any lookup, repeat or not.
    let refused = if RechargeAccount::parse(&req.game_account).is_err() {
        Some(Refusal::BadAccount)
    } else {
        (req.buy_num > MAX_QUANTITY).then_some(Refusal::TooMany)
    };
    if let Some(refused) = refused {
        return refusal_reply(refused, &req.sku_id);
    }
    let ask = OrderAsk {
        platform: Platform::JdGame,
        order_no: req.order_id.clone(),
        kind: Kind::Direct,
        sku: req.sku_id.clone(),
        out_id: req.out_id.clone(),
        quantity: req.buy_num,
        total: req.total_price,
        account: Some(req.game_account.clone()),
        notify_url: None,
        raw_request: raw_request(params),
        rights: req
            .rights_top_up()
            .map(|(rights_id, rights_json)| RightsTopUp {
                rights_id,
                rights_json,
            }),
    };
    let taken = intake::take_order(gw, shop, ask).await;
    taken_reply(&req.order_id, &req.sku_id, taken)
}

/// cardOrder (卡密接单): accepted asynchronously (100 without data); a repeat of a succeeded
/// order returns its cards.
async fn card_order_inner(gw: &Gateway, shop: &Authenticated, params: &GameParams) -> Reply {
    let req = match CardOrderRequest::from_params(params) {
        Ok(req) => req,
        Err(e) => return refusal(&e),
    };
    if req.buy_num > MAX_QUANTITY {
        return refusal_reply(Refusal::TooMany, &req.sku_id);
    }
    let ask = OrderAsk {
        platform: Platform::JdGame,
        order_no: req.order_id.clone(),
        kind: Kind::Card,
        sku: req.sku_id.clone(),
        out_id: req.out_id.clone(),
        quantity: req.buy_num,
        total: req.total_price,
        account: None,
        notify_url: None,
        raw_request: raw_request(params),
        rights: None,
    };
    let taken = intake::take_order(gw, shop, ask).await;
    taken_reply(&req.order_id, &req.sku_id, taken)
}

async fn direct_query_inner(gw: &Gateway, shop: &Authenticated, params: &GameParams) -> Reply {
    let req = match DirectQueryRequest::from_params(params) {
        Ok(req) => req,
        Err(e) => return refusal(&e),
    };
    let found = intake::find_order(gw, shop, Platform::JdGame, &req.order_id).await;
    query_reply(&req.order_id, found, false)
}

async fn card_query_inner(gw: &Gateway, shop: &Authenticated, params: &GameParams) -> Reply {
    let req = match CardQueryRequest::from_params(params) {
        Ok(req) => req,
        Err(e) => return refusal(&e),
    };
    let found = intake::find_order(gw, shop, Platform::JdGame, &req.order_id).await;
    query_reply(&req.order_id, found, true)
}

fn taken_reply(order_id: &PlatformOrderNo, sku: &str, taken: Result<Taken, IntakeError>) -> Reply {
    match taken {
        Ok(Taken::Accepted(order)) => Reply::ok(
            GameAnswer::success("成功", None),
            "accepted",
            format!("orderId={order_id} order {} created", order.order_no),
        ),
        Ok(Taken::Repeat(view)) => repeat_reply(&view),
        // A repeated orderId with different content is refused with 102 and changes nothing.
        Ok(Taken::Conflict(order)) => Reply::code(
            RetCode::DuplicateOrder,
            "conflict",
            format!(
                "orderId={} repeated with different content",
                order.platform_order_no
            ),
        ),
        Ok(Taken::Refused(refused)) => refusal_reply(refused, sku),
        Err(e) => system_error(e),
    }
}

/// A repeated orderId with the same content gets the stored answer again.
fn repeat_reply(view: &OrderView) -> Reply {
    let order = &view.order;
    let detail = format!(
        "orderId={} repeat of order {} ({})",
        order.platform_order_no, order.order_no, order.status
    );
    let answer = match &view.phase {
        Phase::Succeeded { cards } if order.order_kind == OrderKind::Card => GameAnswer::success(
            "成功",
            Some(proto::card_order_data(&proto::card_infos_from(cards))),
        ),
        Phase::InProgress | Phase::Succeeded { .. } => GameAnswer::success("成功", None),
        Phase::Failed { reason, text } => failed_answer(*reason, text),
    };
    Reply::ok(answer, "repeat", detail)
}

/// directQuery / cardQuery: answered from the database (the source of truth the callbacks use).
fn query_reply(
    order_id: &PlatformOrderNo,
    found: Result<Option<OrderView>, IntakeError>,
    cards_wanted: bool,
) -> Reply {
    let view = match found {
        Ok(Some(view)) => view,
        // 101 makes JD refund, which is right when the order never reached us.
        Ok(None) => {
            return Reply::code(
                RetCode::OrderNotFound,
                "unknown_order",
                format!("orderId={order_id} unknown"),
            );
        }
        Err(e) => return system_error(e),
    };
    let detail = format!(
        "orderId={order_id} order {} is {}",
        view.order.order_no, view.order.status
    );
    // directQuery echoes a gift-rights top-up's rightsId (§5.3).
    let status_data = |status| match cards_wanted {
        true => proto::order_status_data(status),
        false => proto::direct_status_data(status, view.order.rights_id.as_deref()),
    };
    let answer = match &view.phase {
        Phase::InProgress => {
            GameAnswer::success("查询成功", Some(status_data(GameOrderStatus::Processing)))
        }
        Phase::Succeeded { cards } if cards_wanted => GameAnswer::success(
            "充值成功",
            Some(proto::card_query_success_data(&proto::card_infos_from(
                cards,
            ))),
        ),
        Phase::Succeeded { .. } => {
            GameAnswer::success("查询成功", Some(status_data(GameOrderStatus::Success)))
        }
        Phase::Failed { reason, text } => failed_answer(*reason, text),
    };
    Reply::ok(answer, "answered", detail)
}

fn failed_answer(reason: common::domain::FailureReason, text: &str) -> GameAnswer {
    GameAnswer::error_with_message(proto::failure_code(reason), text)
}

fn refusal_reply(refused: Refusal, sku: &str) -> Reply {
    let with_reason = |code| {
        Reply::ok(
            GameAnswer::error_with_message(code, refused.reason_zh()),
            "refused",
            refused.reason_zh(),
        )
    };
    match refused {
        Refusal::Unknown | Refusal::WrongKind => with_reason(RetCode::NoSuchProduct),
        Refusal::Disabled => with_reason(RetCode::NotForSale),
        Refusal::PriceMismatch => with_reason(RetCode::PriceMismatch),
        Refusal::NotOneRecharge => with_reason(RetCode::InvalidParams),
        Refusal::TooMany => Reply::ok(
            GameAnswer::error_with_message(RetCode::InvalidParams, refused.reason_zh()),
            "refused",
            "buyNum too large",
        ),
        Refusal::BadAccount => Reply::code(
            RetCode::WrongRechargeAccount,
            "refused",
            "invalid gameAccount",
        ),
        Refusal::OutOfStock => Reply::code(
            RetCode::OutOfStock,
            "refused",
            format!("sku {sku} out of stock"),
        ),
    }
}

fn raw_request(params: &GameParams) -> String {
    let data = proto::decode_data(&params.data).unwrap_or_default();
    intake::truncate_raw(
        serde_json::json!({"customerId": params.customer_id, "timestamp": params.timestamp, "data": data}).to_string(),
    )
}

/// Reads the parameters and authenticates them with the shop `customerId` names
/// ([`auth::authenticate`]).
async fn authenticate(
    gw: &Gateway,
    uri: &Uri,
    body: Body,
    ip: Option<IpAddr>,
) -> Result<(Authenticated, GameParams), Reply> {
    let bytes = request::read_body(body).await.map_err(|e| {
        Reply::ok(
            GameAnswer::error_with_message(RetCode::InvalidParams, e.reason_zh()),
            if e == request::BodyError::TooLarge {
                "too_large"
            } else {
                "bad_request"
            },
            e.reason_zh(),
        )
    })?;
    let pairs = request::params(uri, &bytes, true);
    let params = GameParams::parse(&pairs).map_err(|e| refusal(&e))?;
    let shop = auth::authenticate(
        gw,
        Platform::JdGame,
        &params.customer_id,
        ip,
        &params.timestamp,
        |key| params.verify_signature(key),
    )
    .await
    .map_err(auth_refusal)?;
    Ok((shop, params))
}

/// An unknown shop or a failed lookup answers a retry code (most likely our own configuration:
/// no refund); so does a stale timestamp, an authentication failure like a bad sign (106): a
/// clock skew must make JD ask again, never refund (104 would).
fn auth_refusal(refusal: auth::Refusal) -> Reply {
    let outcome = refusal.outcome();
    match refusal {
        auth::Refusal::UnknownShop { merchant_id } => Reply::ok(
            GameAnswer::error_with_message(RetCode::SystemError, "商户未配置"),
            outcome,
            format!("unknown or disabled customerId {merchant_id}"),
        ),
        auth::Refusal::LookupFailed(e) => system_error(format!("shop lookup failed: {e}")),
        auth::Refusal::IpDenied { shop, ip } => Reply::code(
            RetCode::IpNotAllowed,
            outcome,
            format!(
                "customerId={} caller {ip:?} is not in the allow-list",
                shop.merchant_id
            ),
        ),
        auth::Refusal::BadSignature { shop } => Reply::code(
            RetCode::SignFailed,
            outcome,
            format!(
                "customerId={} signature verification failed",
                shop.merchant_id
            ),
        ),
        auth::Refusal::StaleTimestamp { shop, timestamp } => Reply::ok(
            GameAnswer::error_with_message(RetCode::SignFailed, "timestamp 超出允许的时间范围"),
            outcome,
            format!(
                "customerId={} timestamp {timestamp} outside the window",
                shop.merchant_id
            ),
        ),
    }
}

fn refusal(e: &GameError) -> Reply {
    let outcome = if e.ret_code() == RetCode::SignFailed {
        "bad_signature"
    } else {
        "invalid"
    };
    Reply::ok(GameAnswer::from_error(e), outcome, e.to_string())
}

/// For the result queries (directQuery, cardQuery) every non-`[R]` code but 100 makes JD refund
/// the order (spec §4.1 footnote). A query we cannot read (104) says nothing about the order, so
/// it answers 999 instead: JD asks again, and an order we may have fulfilled is never refunded
/// because of a malformed query.
fn for_query(reply: Reply) -> Reply {
    if reply.answer.ret_code == RetCode::InvalidParams {
        system_error(format!("unreadable query: {}", reply.detail))
    } else {
        reply
    }
}

struct Reply {
    answer: GameAnswer,
    outcome: &'static str,
    detail: String,
}

impl Reply {
    fn ok(answer: GameAnswer, outcome: &'static str, detail: impl Into<String>) -> Self {
        Self {
            answer,
            outcome,
            detail: detail.into(),
        }
    }

    fn code(code: RetCode, outcome: &'static str, detail: impl Into<String>) -> Self {
        Self::ok(GameAnswer::error(code), outcome, detail)
    }

    fn send(self, endpoint: &'static str) -> Response {
        let code = self.answer.ret_code.code().to_string();
        let answer = AnswerCode {
            code: &code,
            produce_status: "",
        };
        record(
            endpoint,
            self.outcome,
            answer,
            &format!("retCode={code}: {}", self.detail),
        );
        json_answer(self.answer.encode())
    }
}

/// A transient problem on our side: 999 is a retry code, so JD asks again instead of refunding.
fn system_error(detail: impl ToString) -> Reply {
    Reply::code(RetCode::SystemError, "error", detail.to_string())
}
