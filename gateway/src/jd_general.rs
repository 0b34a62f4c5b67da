//! JD 通用交易: `beginDistill` and `findDistill`. The answer is always a signed JSON body with
//! HTTP 200; new orders are answered asynchronously (JDO_201 / produceStatus 3).
//!
//! Each handler reads as four steps: authenticate ([`crate::auth`]), parse (the codec), one
//! intake function ([`crate::intake`]), encode (the codec).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use common::domain::{OrderKind, Platform, PlatformOrderNo, ShopMode};
use common::protocol::beijing_timestamp;
use common::protocol::form;
use common::protocol::jd_general::{
    self as proto, BeginDistillRequest, DistillAnswer, FindDistillRequest, ProduceCode,
    ProduceStatus,
};

use crate::auth::{self, Authenticated};
use crate::directory::Shop;
use crate::intake::{self, Kind, OrderAsk, OrderView, Phase, Refusal, Taken};
use crate::queries;
use crate::request::{self, AnswerCode, json_answer, record};
use crate::{AppState, Gateway};

/// `POST /api/jd/general/beginDistill`
pub async fn begin_distill(
    State(gw): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let ip = request::client_ip(peer, &headers, &gw.client_ip);
    let reply = match read_fields(&uri, body).await {
        Ok(fields) => begin(&gw, &fields, ip).await,
        Err(reply) => reply,
    };
    reply.send("beginDistill")
}

/// `POST /api/jd/general/findDistill`
pub async fn find_distill(
    State(gw): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let ip = request::client_ip(peer, &headers, &gw.client_ip);
    let reply = match read_fields(&uri, body).await {
        Ok(fields) => find(&gw, &fields, ip).await,
        Err(reply) => reply,
    };
    reply.send("findDistill")
}

async fn begin(gw: &Gateway, fields: &[(String, String)], ip: Option<IpAddr>) -> Reply {
    // The signature is checked before the fields are judged: an unsigned malformed request must
    // never earn a refundable refusal.
    let shop = match authenticate(gw, fields, proto::peek_vendor_id(fields), ip).await {
        Ok(shop) => shop,
        Err(reply) => return reply,
    };
    // A test-mode shop's callbacks go to the self-test platform, not to notifyUrl.
    let req = match BeginDistillRequest::parse_for(fields, shop.mode != ShopMode::Test) {
        Ok(req) => req,
        Err(e) => return invalid_unless_stored(gw, &shop, &e).await,
    };
    let taken = intake::take_order(gw, &shop, order_ask(&req, fields)).await;
    taken_reply(shop.shop(), &req.jd_order_no, taken)
}

async fn find(gw: &Gateway, fields: &[(String, String)], ip: Option<IpAddr>) -> Reply {
    // findDistill carries no vendorId in JD's document: the shop is the one whose key signed it,
    // among the shops that have this order (or, for an unknown order, any shop).
    let shop = match proto::peek_vendor_id(fields) {
        Some(vendor_id) => authenticate(gw, fields, Some(vendor_id), ip).await,
        None => identify_signer(gw, fields, ip).await,
    };
    let shop = match shop {
        Ok(shop) => shop,
        Err(reply) => return reply,
    };
    let req = match FindDistillRequest::parse(fields) {
        Ok(req) => req,
        Err(e) => {
            let answer = DistillAnswer::query_rejected(&e);
            return Reply::new(answer, Some(shop.shop().clone()), "invalid", e.reason);
        }
    };
    let found = intake::find_order(gw, &shop, Platform::JdGeneral, &req.jd_order_no).await;
    match found {
        Ok(Some(view)) => stored_reply(shop.shop(), &view, "answered"),
        // Unknown order: JDO_500 / 4 pauses it at JD. Answering 2 would refund a buyer whose
        // order we might still have (the spec's safe reading).
        Ok(None) => Reply::refuse(
            Some(req.jd_order_no),
            ProduceCode::SystemError,
            ProduceStatus::Exception,
            Some(shop.shop().clone()),
            "unknown_order",
            "no such order",
        ),
        Err(e) => system_error(Some(req.jd_order_no), Some(shop.shop().clone()), e),
    }
}

/// The order a parsed beginDistill asks for.
fn order_ask(req: &BeginDistillRequest, fields: &[(String, String)]) -> OrderAsk {
    OrderAsk {
        platform: Platform::JdGeneral,
        order_no: req.jd_order_no.clone(),
        kind: Kind::Any,
        sku: req.ware_no.clone(),
        out_id: None,
        quantity: req.quantity,
        total: req.total_price,
        account: req.produce_account.clone(),
        notify_url: req.notify_url.clone(),
        raw_request: intake::raw_request(fields),
        rights: None,
    }
}

fn taken_reply(
    shop: &Arc<Shop>,
    jd_order_no: &PlatformOrderNo,
    taken: Result<Taken, intake::IntakeError>,
) -> Reply {
    let shop = Some(shop.clone());
    match taken {
        Ok(Taken::Accepted(order)) => Reply::new(
            DistillAnswer::in_progress(jd_order_no.clone(), order.order_no.to_string()),
            shop,
            "accepted",
            format!("order {} created", order.order_no),
        ),
        Ok(Taken::Repeat(view)) => stored_reply_of(shop, &view, "repeat"),
        Ok(Taken::Refused(refusal)) => {
            let code = refusal_code(refusal);
            Reply::refuse(
                Some(jd_order_no.clone()),
                code,
                code.suggested_status(),
                shop,
                "refused",
                refusal.reason_zh(),
            )
        }
        // 通用交易 answers every repeat from the stored order; a conflict is never reported.
        Ok(Taken::Conflict(order)) => system_error(
            Some(jd_order_no.clone()),
            shop,
            format!("unexpected conflict with order {}", order.order_no),
        ),
        Err(e) => system_error(Some(jd_order_no.clone()), shop, e),
    }
}

fn refusal_code(refusal: Refusal) -> ProduceCode {
    match refusal {
        Refusal::Unknown | Refusal::WrongKind => ProduceCode::NoSuchProduct,
        Refusal::Disabled => ProduceCode::NotForSale,
        Refusal::BadAccount => ProduceCode::WrongAccount,
        Refusal::PriceMismatch | Refusal::TooMany | Refusal::NotOneRecharge => {
            ProduceCode::InvalidParams
        }
        // Not a reason to refuse an order on this platform (preCheck only).
        Refusal::OutOfStock => ProduceCode::SystemError,
    }
}

/// A beginDistill that does not parse: a repeat of an order we hold gets the stored answer
/// (its refusal would contradict what JD was told before), anything else the refusal.
async fn invalid_unless_stored(
    gw: &Gateway,
    shop: &Authenticated,
    error: &proto::RequestError,
) -> Reply {
    let refused = Reply::new(
        DistillAnswer::rejected(error),
        Some(shop.shop().clone()),
        "invalid",
        error.reason.clone(),
    );
    let Some(no) = &error.jd_order_no else {
        return refused;
    };
    match intake::find_order(gw, shop, Platform::JdGeneral, no).await {
        Ok(Some(view)) => stored_reply(shop.shop(), &view, "repeat"),
        Ok(None) => refused,
        Err(e) => system_error(Some(no.clone()), Some(shop.shop().clone()), e),
    }
}

fn stored_reply(shop: &Arc<Shop>, view: &OrderView, outcome: &'static str) -> Reply {
    stored_reply_of(Some(shop.clone()), view, outcome)
}

/// The answer an order's stored state gives (repeats and findDistill): same agentOrderNo,
/// status, and once succeeded the same cards.
fn stored_reply_of(shop: Option<Arc<Shop>>, view: &OrderView, outcome: &'static str) -> Reply {
    let Some(jd_order_no) = PlatformOrderNo::parse_jd(view.order.platform_order_no.as_str()) else {
        return system_error(None, shop, "stored jdOrderNo is not numeric");
    };
    let aes_key = shop.as_ref().and_then(|s| s.aes_key.as_ref());
    match stored_answer(jd_order_no.clone(), aes_key, view) {
        Ok(answer) => {
            let detail = format!("order {} is {}", view.order.order_no, view.order.status);
            Reply::new(answer, shop, outcome, detail)
        }
        Err(detail) => system_error(Some(jd_order_no), shop, detail),
    }
}

fn stored_answer(
    jd_order_no: PlatformOrderNo,
    aes_key: Option<&common::crypto::JdAesKey>,
    view: &OrderView,
) -> Result<DistillAnswer, &'static str> {
    let agent = view.order.order_no.to_string();
    Ok(match &view.phase {
        Phase::InProgress => DistillAnswer::in_progress(jd_order_no, agent),
        Phase::Succeeded { cards } => {
            let product = if view.order.order_kind == OrderKind::Card {
                let aes = aes_key.ok_or("shop has no AES key for card data")?;
                Some(proto::encrypt_cards(&proto::card_items_from(cards), aes))
            } else {
                None
            };
            DistillAnswer::success(jd_order_no, agent, product)
        }
        Phase::Failed { reason, .. } => DistillAnswer {
            code: proto::failure_code(*reason),
            jd_order_no: Some(jd_order_no),
            agent_order_no: Some(agent),
            produce_status: ProduceStatus::Failed,
            product: None,
        },
    })
}

/// Finds the shop by `vendorId` and authenticates the request with it ([`auth::authenticate`]).
async fn authenticate(
    gw: &Gateway,
    fields: &[(String, String)],
    vendor_id: Option<i64>,
    ip: Option<IpAddr>,
) -> Result<Authenticated, Reply> {
    let jd_order_no = proto::peek_jd_order_no(fields);
    let Some(vendor_id) = vendor_id else {
        return Err(Reply::refuse(
            jd_order_no,
            ProduceCode::InvalidParams,
            ProduceStatus::Exception,
            None,
            "unknown_shop",
            "missing or invalid vendorId",
        ));
    };
    let timestamp = form::first_value(fields, "timestamp").unwrap_or_default();
    auth::authenticate(
        gw,
        Platform::JdGeneral,
        &vendor_id.to_string(),
        ip,
        timestamp,
        |key| proto::verify_signed_fields(fields, key),
    )
    .await
    .map_err(|refusal| auth_refusal(jd_order_no, refusal))
}

/// An unknown shop or a failed lookup is most likely our own configuration or fault: JDO_500
/// with 4 pauses the order at JD, no refund. The others are signature failures (also 4).
fn auth_refusal(jd_order_no: Option<PlatformOrderNo>, refusal: auth::Refusal) -> Reply {
    let detail = match &refusal {
        auth::Refusal::UnknownShop { merchant_id } => {
            format!("unknown or disabled vendorId {merchant_id}")
        }
        auth::Refusal::LookupFailed(e) => format!("shop lookup failed: {e}"),
        auth::Refusal::IpDenied { ip, .. } => {
            format!("caller {ip:?} is not in the shop's IP allow-list")
        }
        auth::Refusal::BadSignature { .. } => "signature verification failed".to_owned(),
        auth::Refusal::StaleTimestamp { timestamp, .. } => {
            format!("timestamp {timestamp} outside the configured window")
        }
    };
    let code = match refusal {
        auth::Refusal::UnknownShop { .. } | auth::Refusal::LookupFailed(_) => {
            ProduceCode::SystemError
        }
        _ => ProduceCode::SignatureFailed,
    };
    Reply::refuse(
        jd_order_no,
        code,
        ProduceStatus::Exception,
        refusal.shop().cloned(),
        refusal.outcome(),
        detail,
    )
}

/// The enabled shop whose key signed a findDistill that names no vendorId, then authenticated
/// like any other request.
async fn identify_signer(
    gw: &Gateway,
    fields: &[(String, String)],
    ip: Option<IpAddr>,
) -> Result<Authenticated, Reply> {
    let jd_order_no = proto::peek_jd_order_no(fields);
    let candidates = match &jd_order_no {
        Some(no) => queries::shops_with_order(&gw.infra_db, Platform::JdGeneral, no)
            .await
            .map_err(|e| {
                system_error(
                    jd_order_no.clone(),
                    None,
                    format!("order lookup failed: {e}"),
                )
            })?,
        None => Vec::new(),
    };
    let mut shops = Vec::new();
    for id in candidates {
        if let Ok(Some(s)) = gw.directory.shop_by_id(Platform::JdGeneral, id).await {
            shops.push(s);
        }
    }
    if shops.is_empty() {
        shops = gw
            .directory
            .shops_of(Platform::JdGeneral)
            .await
            .map_err(|e| {
                system_error(
                    jd_order_no.clone(),
                    None,
                    format!("shop lookup failed: {e}"),
                )
            })?;
    }
    let signer = shops
        .into_iter()
        .find(|s| s.enabled && proto::verify_signed_fields(fields, &s.sign_key));
    match signer {
        Some(shop) => {
            let vendor: i64 = shop.merchant_id.parse().unwrap_or_default();
            authenticate(gw, fields, Some(vendor), ip).await
        }
        None => Err(Reply::refuse(
            jd_order_no,
            ProduceCode::SignatureFailed,
            ProduceStatus::Exception,
            None,
            "bad_signature",
            "no shop's key verifies this findDistill",
        )),
    }
}

async fn read_fields(uri: &Uri, body: Body) -> Result<Vec<(String, String)>, Reply> {
    match request::read_body(body).await {
        Ok(bytes) => Ok(request::params(uri, &bytes, false)),
        Err(e) => Err(Reply::refuse(
            None,
            ProduceCode::InvalidParams,
            ProduceStatus::Exception,
            None,
            if e == request::BodyError::TooLarge {
                "too_large"
            } else {
                "bad_request"
            },
            e.reason_zh(),
        )),
    }
}

/// An answer plus the key to sign it with (`None` when no shop could be identified).
struct Reply {
    answer: DistillAnswer,
    shop: Option<Arc<Shop>>,
    outcome: &'static str,
    detail: String,
}

impl Reply {
    fn new(
        answer: DistillAnswer,
        shop: Option<Arc<Shop>>,
        outcome: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            answer,
            shop,
            outcome,
            detail: detail.into(),
        }
    }

    fn refuse(
        jd_order_no: Option<PlatformOrderNo>,
        code: ProduceCode,
        status: ProduceStatus,
        shop: Option<Arc<Shop>>,
        outcome: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            DistillAnswer {
                code,
                jd_order_no,
                agent_order_no: None,
                produce_status: status,
                product: None,
            },
            shop,
            outcome,
            detail,
        )
    }

    fn send(self, endpoint: &'static str) -> Response {
        let key = self
            .shop
            .as_ref()
            .map(|s| s.sign_key.as_str())
            .unwrap_or_default();
        let order = self
            .answer
            .jd_order_no
            .as_ref()
            .map(PlatformOrderNo::as_str)
            .unwrap_or_default();
        let shop = self
            .shop
            .as_ref()
            .map(|s| s.merchant_id.as_str())
            .unwrap_or("-");
        let produce_status = self.answer.produce_status.code().to_string();
        let answer = AnswerCode {
            code: self.answer.code.as_str(),
            produce_status: &produce_status,
        };
        record(
            endpoint,
            self.outcome,
            answer,
            &format!(
                "vendorId={shop} jdOrderNo={order} code={} produceStatus={produce_status}: {}",
                answer.code, self.detail
            ),
        );
        json_answer(
            self.answer
                .encode(key, &beijing_timestamp(chrono::Utc::now())),
        )
    }
}

/// Our own fault: JDO_500 with 4 pauses the order at JD instead of refunding it.
fn system_error(
    jd_order_no: Option<PlatformOrderNo>,
    shop: Option<Arc<Shop>>,
    detail: impl ToString,
) -> Reply {
    Reply::refuse(
        jd_order_no,
        ProduceCode::SystemError,
        ProduceStatus::Exception,
        shop,
        "error",
        detail.to_string(),
    )
}
