//! JD 游戏点卡: preCheck, directCharge, directQuery, cardOrder, cardQuery. Answers are the JSON
//! envelope `{retCode, retMessage, data}` with HTTP 200; `data` is base64 of UTF-8 JSON.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use common::db::orders::{Created, NewOrder, OrderRow, RightsTopUp};
use common::domain::{Fen, OrderKind, Platform, RechargeAccount};
use common::protocol::jd_game::{
    self as proto, CardOrderRequest, CardQueryRequest, DirectChargeRequest, DirectQueryRequest,
    GameAnswer, GameError, GameOrderStatus, GameParams, PreCheckRequest, RetCode,
};

use crate::directory::Shop;
use crate::intake::{self, Kind, Phase, ProductRefusal};
use crate::request::{self, json_answer, record};
use crate::{AppState, Gateway};

/// More cards than this in one order is not a real purchase.
const MAX_BUY_NUM: u32 = 1000;

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
        record(
            endpoint,
            self.outcome,
            &format!("retCode={}: {}", self.answer.ret_code.code(), self.detail),
        );
        json_answer(self.answer.encode())
    }
}

/// A transient problem on our side: 999 is a retry code, so JD asks again instead of refunding.
fn system_error(detail: impl Into<String>) -> Reply {
    Reply::code(RetCode::SystemError, "error", detail)
}

/// Reads the parameters, finds the shop by `customerId`, checks the caller's address, the
/// signature and (when configured) the timestamp.
async fn authenticate(
    gw: &Gateway,
    uri: &Uri,
    body: Body,
    ip: Option<std::net::IpAddr>,
) -> Result<(Arc<Shop>, GameParams), Reply> {
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
    let shop = match gw
        .directory
        .shop(Platform::JdGame, &params.customer_id)
        .await
    {
        Ok(Some(shop)) if shop.enabled => shop,
        // Unknown customerId: most likely our own configuration, so a retry code (no refund).
        Ok(_) => {
            return Err(Reply::ok(
                GameAnswer::error_with_message(RetCode::SystemError, "商户未配置"),
                "unknown_shop",
                format!("unknown or disabled customerId {}", params.customer_id),
            ));
        }
        Err(e) => return Err(system_error(format!("shop lookup failed: {e}"))),
    };
    if !shop.allows(ip) {
        return Err(Reply::code(
            RetCode::IpNotAllowed,
            "ip_denied",
            format!(
                "customerId={} caller {ip:?} is not in the allow-list",
                shop.merchant_id
            ),
        ));
    }
    if !params.verify_signature(&shop.sign_key) {
        return Err(Reply::code(
            RetCode::SignFailed,
            "bad_signature",
            format!(
                "customerId={} signature verification failed",
                shop.merchant_id
            ),
        ));
    }
    if !intake::timestamp_fresh(gw, &params.timestamp) {
        // An authentication failure like a bad sign, and a retry code like it (106): a clock
        // skew must make JD ask again, never refund (104 would).
        return Err(Reply::ok(
            GameAnswer::error_with_message(RetCode::SignFailed, "timestamp 超出允许的时间范围"),
            "stale_timestamp",
            format!(
                "customerId={} timestamp {} outside the window",
                shop.merchant_id, params.timestamp
            ),
        ));
    }
    Ok((shop, params))
}

/// More than [`MAX_BUY_NUM`] cards or recharges in one order is refused as invalid.
fn too_many(buy_num: u32) -> Option<Reply> {
    (buy_num > MAX_BUY_NUM).then(|| {
        Reply::ok(
            GameAnswer::error_with_message(RetCode::InvalidParams, "购买数量超过上限"),
            "refused",
            "buyNum too large",
        )
    })
}

fn refusal(e: &GameError) -> Reply {
    let outcome = if e.ret_code() == RetCode::SignFailed {
        "bad_signature"
    } else {
        "invalid"
    };
    Reply::ok(GameAnswer::from_error(e), outcome, e.to_string())
}

fn product_refusal(r: ProductRefusal) -> Reply {
    let code = match r {
        ProductRefusal::Unknown | ProductRefusal::WrongKind => RetCode::NoSuchProduct,
        ProductRefusal::Disabled => RetCode::NotForSale,
        ProductRefusal::PriceMismatch => RetCode::PriceMismatch,
    };
    Reply::ok(
        GameAnswer::error_with_message(code, r.reason_zh()),
        "refused",
        r.reason_zh(),
    )
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
                Ok((shop, params)) => $inner(&gw, shop, &params).await,
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

/// The product for `sku_id` (falling back to the merchant code `outId`).
async fn lookup_product(
    gw: &Gateway,
    sku_id: &str,
    out_id: Option<&str>,
) -> Result<Option<Arc<common::db::products::ProductRow>>, Reply> {
    let found = gw
        .directory
        .product(Platform::JdGame, sku_id)
        .await
        .map_err(|e| system_error(format!("product lookup failed: {e}")))?;
    match (found, out_id.map(str::trim).filter(|o| !o.is_empty())) {
        (Some(p), _) => Ok(Some(p)),
        (None, Some(out)) => gw
            .directory
            .product(Platform::JdGame, out)
            .await
            .map_err(|e| system_error(format!("product lookup failed: {e}"))),
        (None, None) => Ok(None),
    }
}

/// preCheck (提单校验): can this be sold now? Within JD's 400 ms budget: cached product, one
/// bounded COUNT on the card index.
async fn pre_check_inner(gw: &Gateway, _shop: Arc<Shop>, params: &GameParams) -> Reply {
    let req = match PreCheckRequest::from_params(params) {
        Ok(r) => r,
        Err(e) => return refusal(&e),
    };
    if let Some(refused) = too_many(req.buy_num) {
        return refused;
    }
    let product = match lookup_product(gw, &req.sku_id, None).await {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let product =
        match intake::check_product(product.as_ref(), Kind::Any, req.buy_num, req.total_price) {
            Ok(p) => p,
            Err(r) => return product_refusal(r),
        };
    if Kind::of(&product) == OrderKind::Direct
        && let Some(account) = req.game_account.as_deref()
        && RechargeAccount::parse(account).is_err()
    {
        return Reply::code(
            RetCode::WrongRechargeAccount,
            "refused",
            "invalid gameAccount",
        );
    }
    match intake::can_fulfil(gw, &product, req.buy_num).await {
        Ok(true) => Reply::ok(
            GameAnswer::success("成功", Some(proto::precheck_data(true))),
            "answered",
            format!("sku {} sellable", req.sku_id),
        ),
        Ok(false) => Reply::code(
            RetCode::OutOfStock,
            "refused",
            format!("sku {} out of stock", req.sku_id),
        ),
        Err(e) => system_error(format!("stock lookup failed: {e}")),
    }
}

/// What a 游戏点卡 order request asks for, to detect a repeat with conflicting content (102).
struct Ask<'a> {
    kind: OrderKind,
    sku: &'a str,
    quantity: u32,
    total: Fen,
    account: Option<&'a str>,
}

impl Ask<'_> {
    fn matches(&self, order: &OrderRow) -> bool {
        order.order_kind == self.kind
            && order.sku == self.sku
            && order.quantity == self.quantity as i32
            && order.total_price_fen == self.total.0
            && order.recharge_account.as_deref() == self.account
    }
}

/// Creates the order, or answers a repeat from the stored one.
async fn take_order(
    gw: &Gateway,
    shop: &Shop,
    order_id: i64,
    ask: Ask<'_>,
    product: Result<Arc<common::db::products::ProductRow>, ProductRefusal>,
    params: &GameParams,
    rights: Option<RightsTopUp>,
) -> Reply {
    let order_no = intake::jd_order_no(order_id);
    let existing = match common::db::orders::find_by_platform_no(
        &gw.infra_db,
        Platform::JdGame,
        shop.id,
        &order_no,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return system_error(format!("order lookup failed: {e}")),
    };
    if let Some(order) = existing {
        return repeat(gw, order, &ask).await;
    }
    let product = match product {
        Ok(p) => p,
        Err(r) => return product_refusal(r),
    };
    let new = NewOrder {
        platform: Platform::JdGame,
        shop_id: shop.id,
        platform_order_no: order_no,
        order_kind: ask.kind,
        product_id: product.id,
        sku: ask.sku.to_owned(),
        quantity: ask.quantity as i32,
        total_price_fen: ask.total.0,
        recharge_account: ask.account.map(str::to_owned),
        notify_url: None,
        raw_request: Some(raw_request(params)),
        rights,
    };
    match intake::place_order(gw, &new).await {
        Ok(Created::New(order)) => Reply::ok(
            GameAnswer::success("成功", None),
            "accepted",
            format!("orderId={order_id} order {} created", order.order_no),
        ),
        Ok(Created::Existing(order)) => repeat(gw, order, &ask).await,
        Err(e) => system_error(format!("order could not be stored: {e}")),
    }
}

/// A repeated orderId: the same content gets the stored answer again; different content is
/// refused with 102 and changes nothing.
async fn repeat(gw: &Gateway, order: OrderRow, ask: &Ask<'_>) -> Reply {
    if !ask.matches(&order) {
        return Reply::code(
            RetCode::DuplicateOrder,
            "conflict",
            format!(
                "orderId={} repeated with different content",
                order.platform_order_no
            ),
        );
    }
    let detail = format!(
        "orderId={} repeat of order {} ({})",
        order.platform_order_no, order.order_no, order.status
    );
    let view = match intake::view(gw, order).await {
        Ok(v) => v,
        Err(e) => return system_error(format!("order state unreadable: {e}")),
    };
    let answer = match &view.phase {
        Phase::Succeeded { cards } if view.order.order_kind == OrderKind::Card => {
            GameAnswer::success(
                "成功",
                Some(proto::card_order_data(&proto::card_infos_from(cards))),
            )
        }
        Phase::InProgress | Phase::Succeeded { .. } => GameAnswer::success("成功", None),
        Phase::Failed { reason, text } => failed_answer(*reason, text),
    };
    Reply::ok(answer, "repeat", detail)
}

fn failed_answer(reason: common::domain::FailureReason, text: &str) -> GameAnswer {
    let code =
        RetCode::from_code(reason.jd_game_code() as u16).unwrap_or(RetCode::BrandOrderFailed);
    GameAnswer::error_with_message(code, text)
}

fn raw_request(params: &GameParams) -> String {
    let data = proto::decode_data(&params.data).unwrap_or_default();
    intake::truncate_raw(
        serde_json::json!({"customerId": params.customer_id, "timestamp": params.timestamp, "data": data}).to_string(),
    )
}

/// directCharge (直充接单): accepted = 100, the result follows by callback and directQuery.
async fn direct_charge_inner(gw: &Gateway, shop: Arc<Shop>, params: &GameParams) -> Reply {
    let req = match DirectChargeRequest::from_params(params) {
        Ok(r) => r,
        Err(e) => return refusal(&e),
    };
    let account = match RechargeAccount::parse(&req.game_account) {
        Ok(a) => a,
        Err(_) => {
            return Reply::code(
                RetCode::WrongRechargeAccount,
                "refused",
                "invalid gameAccount",
            );
        }
    };
    if let Some(refused) = too_many(req.buy_num) {
        return refused;
    }
    let product = match lookup_product(gw, &req.sku_id, req.out_id.as_deref()).await {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let checked =
        intake::check_product(product.as_ref(), Kind::Direct, req.buy_num, req.total_price);
    let ask = Ask {
        kind: OrderKind::Direct,
        sku: &req.sku_id,
        quantity: req.buy_num,
        total: req.total_price,
        account: Some(account.as_str()),
    };
    let rights = req
        .rights_top_up()
        .map(|(rights_id, rights_json)| RightsTopUp {
            rights_id,
            rights_json,
        });
    take_order(gw, &shop, req.order_id, ask, checked, params, rights).await
}

/// cardOrder (卡密接单): accepted asynchronously (100 without data); a repeat of a succeeded
/// order returns its cards.
async fn card_order_inner(gw: &Gateway, shop: Arc<Shop>, params: &GameParams) -> Reply {
    let req = match CardOrderRequest::from_params(params) {
        Ok(r) => r,
        Err(e) => return refusal(&e),
    };
    if let Some(refused) = too_many(req.buy_num) {
        return refused;
    }
    let product = match lookup_product(gw, &req.sku_id, req.out_id.as_deref()).await {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let checked = intake::check_product(product.as_ref(), Kind::Card, req.buy_num, req.total_price);
    let ask = Ask {
        kind: OrderKind::Card,
        sku: &req.sku_id,
        quantity: req.buy_num,
        total: req.total_price,
        account: None,
    };
    take_order(gw, &shop, req.order_id, ask, checked, params, None).await
}

/// directQuery / cardQuery: answered from the database (the source of truth the callbacks use).
async fn query(gw: &Gateway, shop: &Shop, order_id: i64, cards_wanted: bool) -> Reply {
    let order = match common::db::orders::find_by_platform_no(
        &gw.infra_db,
        Platform::JdGame,
        shop.id,
        &intake::jd_order_no(order_id),
    )
    .await
    {
        Ok(Some(o)) => o,
        // 101 makes JD refund, which is right when the order never reached us.
        Ok(None) => {
            return Reply::code(
                RetCode::OrderNotFound,
                "unknown_order",
                format!("orderId={order_id} unknown"),
            );
        }
        Err(e) => return system_error(format!("order lookup failed: {e}")),
    };
    let view = match intake::view(gw, order).await {
        Ok(v) => v,
        Err(e) => return system_error(format!("order state unreadable: {e}")),
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

async fn direct_query_inner(gw: &Gateway, shop: Arc<Shop>, params: &GameParams) -> Reply {
    match DirectQueryRequest::from_params(params) {
        Ok(r) => query(gw, &shop, r.order_id, false).await,
        Err(e) => refusal(&e),
    }
}

async fn card_query_inner(gw: &Gateway, shop: Arc<Shop>, params: &GameParams) -> Reply {
    match CardQueryRequest::from_params(params) {
        Ok(r) => query(gw, &shop, r.order_id, true).await,
        Err(e) => refusal(&e),
    }
}
