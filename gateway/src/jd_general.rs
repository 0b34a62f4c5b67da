//! JD 通用交易: `beginDistill` and `findDistill`. The answer is always a signed JSON body with
//! HTTP 200; new orders are answered asynchronously (JDO_201 / produceStatus 3).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use common::db::orders::{Created, NewOrder};
use common::domain::{OrderKind, Platform, RechargeAccount, ShopMode};
use common::protocol::beijing_timestamp;
use common::protocol::jd_general::{
    self as proto, BeginDistillRequest, DistillAnswer, FindDistillRequest, ProduceCode,
    ProduceStatus,
};

use crate::directory::Shop;
use crate::intake::{self, Kind, OrderView, Phase, ProductRefusal};
use crate::request::{self, json_answer, record};
use crate::{AppState, Gateway};

/// More cards than this in one order is not a real purchase.
const MAX_QUANTITY: u32 = 1000;

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
        jd_order_no: Option<i64>,
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
            .map(|n| n.to_string())
            .unwrap_or_default();
        let shop = self
            .shop
            .as_ref()
            .map(|s| s.merchant_id.as_str())
            .unwrap_or("-");
        record(
            endpoint,
            self.outcome,
            &format!(
                "vendorId={shop} jdOrderNo={order} code={} produceStatus={}: {}",
                self.answer.code.as_str(),
                self.answer.produce_status.code(),
                self.detail
            ),
        );
        json_answer(
            self.answer
                .encode(key, &beijing_timestamp(chrono::Utc::now())),
        )
    }
}

fn system_error(
    jd_order_no: Option<i64>,
    shop: Option<Arc<Shop>>,
    detail: impl Into<String>,
) -> Reply {
    // 4 pauses the order at JD instead of refunding it for what is our own fault.
    Reply::refuse(
        jd_order_no,
        ProduceCode::SystemError,
        ProduceStatus::Exception,
        shop,
        "error",
        detail,
    )
}

/// Finds the shop by `vendorId`, checks the caller's address and the signature over all fields.
async fn authenticate(
    gw: &Gateway,
    fields: &[(String, String)],
    vendor_id: Option<i64>,
    ip: Option<std::net::IpAddr>,
) -> Result<Arc<Shop>, Reply> {
    let jd_order_no =
        common::protocol::form::first_value(fields, "jdOrderNo").and_then(|v| v.parse().ok());
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
    let shop = match gw
        .directory
        .shop(Platform::JdGeneral, &vendor_id.to_string())
        .await
    {
        Ok(Some(shop)) if shop.enabled => shop,
        // An unknown or disabled vendor is most likely our configuration: pause (4), no refund.
        Ok(_) => {
            return Err(system_error(
                jd_order_no,
                None,
                format!("unknown or disabled vendorId {vendor_id}"),
            )
            .with_outcome("unknown_shop"));
        }
        Err(e) => {
            return Err(system_error(
                jd_order_no,
                None,
                format!("shop lookup failed: {e}"),
            ));
        }
    };
    if !shop.allows(ip) {
        return Err(Reply::refuse(
            jd_order_no,
            ProduceCode::SignatureFailed,
            ProduceStatus::Exception,
            Some(shop),
            "ip_denied",
            format!("caller {ip:?} is not in the shop's IP allow-list"),
        ));
    }
    if !proto::verify_signed_fields(fields, &shop.sign_key) {
        return Err(Reply::refuse(
            jd_order_no,
            ProduceCode::SignatureFailed,
            ProduceStatus::Exception,
            Some(shop),
            "bad_signature",
            "signature verification failed",
        ));
    }
    let timestamp = common::protocol::form::first_value(fields, "timestamp").unwrap_or_default();
    if !intake::timestamp_fresh(gw, timestamp) {
        return Err(Reply::refuse(
            jd_order_no,
            ProduceCode::SignatureFailed,
            ProduceStatus::Exception,
            Some(shop),
            "stale_timestamp",
            format!("timestamp {timestamp} outside the configured window"),
        ));
    }
    Ok(shop)
}

impl Reply {
    fn with_outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
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

async fn begin(gw: &Gateway, fields: &[(String, String)], ip: Option<std::net::IpAddr>) -> Reply {
    // The signature is checked before the fields are judged: an unsigned malformed request must
    // never earn a refundable refusal.
    let shop = match authenticate(gw, fields, proto::peek_vendor_id(fields), ip).await {
        Ok(shop) => shop,
        Err(reply) => return reply,
    };
    // A test-mode shop's callbacks go to the self-test platform, not to notifyUrl.
    let require_notify_url = shop.mode != ShopMode::Test;
    let req = match BeginDistillRequest::parse_for(fields, require_notify_url) {
        Ok(r) => r,
        Err(e) => {
            let refused = Reply::new(
                DistillAnswer::rejected(&e),
                Some(shop.clone()),
                "invalid",
                e.reason.clone(),
            );
            // A repeat of an order we hold gets the stored answer even when this copy of the
            // request does not parse: its refusal would contradict what JD was told before.
            return match e.jd_order_no {
                Some(no) => stored_unless_unknown(gw, &shop, no, refused).await,
                None => refused,
            };
        }
    };
    let jd = Some(req.jd_order_no);
    let product = match gw
        .directory
        .product(Platform::JdGeneral, &req.ware_no)
        .await
    {
        Ok(p) => p,
        Err(e) => return system_error(jd, Some(shop), format!("product lookup failed: {e}")),
    };
    if req.quantity > MAX_QUANTITY {
        return refusal_unless_repeat(
            gw,
            &shop,
            req.jd_order_no,
            ProduceCode::InvalidParams,
            "购买数量超过上限",
        )
        .await;
    }
    let checked = intake::check_product(product.as_ref(), Kind::Any, req.quantity, req.total_price);
    let (product, account) = match checked {
        Ok(p) => {
            let account = if Kind::of(&p) == OrderKind::Direct {
                // 直充 is always one recharge (spec §4: quantity is 1 for direct goods); any other
                // quantity is an invalid parameter (JDO_303), not a wrong account.
                if req.quantity != 1 {
                    return refusal_unless_repeat(
                        gw,
                        &shop,
                        req.jd_order_no,
                        ProduceCode::InvalidParams,
                        "直充商品的数量必须为 1",
                    )
                    .await;
                }
                match req.produce_account.as_deref().map(RechargeAccount::parse) {
                    Some(Ok(a)) => Some(a.into_inner()),
                    _ => {
                        return refusal_unless_repeat(
                            gw,
                            &shop,
                            req.jd_order_no,
                            ProduceCode::WrongAccount,
                            "充值账号无效",
                        )
                        .await;
                    }
                }
            } else {
                None
            };
            (p, account)
        }
        Err(refusal) => {
            let code = match refusal {
                ProductRefusal::Unknown | ProductRefusal::WrongKind => ProduceCode::NoSuchProduct,
                ProductRefusal::Disabled => ProduceCode::NotForSale,
                ProductRefusal::PriceMismatch => ProduceCode::InvalidParams,
            };
            return refusal_unless_repeat(gw, &shop, req.jd_order_no, code, refusal.reason_zh())
                .await;
        }
    };
    let new = NewOrder {
        platform: Platform::JdGeneral,
        shop_id: shop.id,
        platform_order_no: intake::jd_order_no(req.jd_order_no),
        order_kind: Kind::of(&product),
        product_id: product.id,
        sku: req.ware_no.clone(),
        quantity: req.quantity as i32,
        total_price_fen: req.total_price.0,
        recharge_account: account,
        notify_url: req.notify_url.clone(),
        raw_request: Some(intake::raw_request(fields)),
        rights: None,
    };
    match intake::place_order(gw, &new).await {
        Ok(Created::New(order)) => Reply::new(
            DistillAnswer::in_progress(req.jd_order_no, order.order_no.to_string()),
            Some(shop),
            "accepted",
            format!("order {} created", order.order_no),
        ),
        Ok(Created::Existing(order)) => stored_answer(gw, shop, order, "repeat").await,
        Err(e) => system_error(jd, Some(shop), format!("order could not be stored: {e}")),
    }
}

/// A request we would refuse may repeat an order we already accepted (the product was
/// disabled since, say): then the stored answer wins, as JD requires of repeats.
async fn refusal_unless_repeat(
    gw: &Gateway,
    shop: &Arc<Shop>,
    jd_order_no: i64,
    code: ProduceCode,
    reason: &str,
) -> Reply {
    let refused = Reply::refuse(
        Some(jd_order_no),
        code,
        code.suggested_status(),
        Some(shop.clone()),
        "refused",
        reason,
    );
    stored_unless_unknown(gw, shop, jd_order_no, refused).await
}

/// The stored order's answer when `jd_order_no` is an order of `shop`, else `refused`.
async fn stored_unless_unknown(
    gw: &Gateway,
    shop: &Arc<Shop>,
    jd_order_no: i64,
    refused: Reply,
) -> Reply {
    match common::db::orders::find_by_platform_no(
        &gw.infra_db,
        Platform::JdGeneral,
        shop.id,
        &intake::jd_order_no(jd_order_no),
    )
    .await
    {
        Ok(Some(order)) => stored_answer(gw, shop.clone(), order, "repeat").await,
        Ok(None) => refused,
        Err(e) => system_error(
            Some(jd_order_no),
            Some(shop.clone()),
            format!("order lookup failed: {e}"),
        ),
    }
}

/// The answer an order's stored state gives (repeats and findDistill): same agentOrderNo,
/// status, and once succeeded the same cards.
async fn stored_answer(
    gw: &Gateway,
    shop: Arc<Shop>,
    order: common::db::orders::OrderRow,
    outcome: &'static str,
) -> Reply {
    let jd_order_no = order.platform_order_no.as_str().parse::<i64>().ok();
    let view = match intake::view(gw, order).await {
        Ok(v) => v,
        Err(e) => {
            return system_error(
                jd_order_no,
                Some(shop),
                format!("order state unreadable: {e}"),
            );
        }
    };
    let answer = match answer_of(&shop, &view) {
        Ok(a) => a,
        Err(detail) => return system_error(jd_order_no, Some(shop), detail),
    };
    let detail = format!("order {} is {}", view.order.order_no, view.order.status);
    Reply::new(answer, Some(shop), outcome, detail)
}

fn answer_of(shop: &Shop, view: &OrderView) -> Result<DistillAnswer, String> {
    let jd_order_no = view
        .order
        .platform_order_no
        .as_str()
        .parse::<i64>()
        .map_err(|_| "stored jdOrderNo is not numeric".to_owned())?;
    let agent = view.order.order_no.to_string();
    Ok(match &view.phase {
        Phase::InProgress => DistillAnswer::in_progress(jd_order_no, agent),
        Phase::Succeeded { cards } => {
            let product = if view.order.order_kind == OrderKind::Card {
                let aes = shop
                    .aes_key
                    .as_ref()
                    .ok_or("shop has no AES key for card data")?;
                Some(proto::encrypt_cards(&proto::card_items_from(cards), aes))
            } else {
                None
            };
            DistillAnswer::success(jd_order_no, agent, product)
        }
        Phase::Failed { reason, .. } => DistillAnswer {
            code: ProduceCode::parse(reason.jd_general_code())
                .unwrap_or(ProduceCode::InvalidParams),
            jd_order_no: Some(jd_order_no),
            agent_order_no: Some(agent),
            produce_status: ProduceStatus::Failed,
            product: None,
        },
    })
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

async fn find(gw: &Gateway, fields: &[(String, String)], ip: Option<std::net::IpAddr>) -> Reply {
    let jd_order_no = common::protocol::form::first_value(fields, "jdOrderNo")
        .and_then(|v| v.trim().parse::<i64>().ok());
    // findDistill carries no vendorId in JD's document: the shop is the one whose key signed it,
    // among the shops that have this order (or, for an unknown order, any shop).
    let shop = match proto::peek_vendor_id(fields) {
        Some(v) => authenticate(gw, fields, Some(v), ip).await,
        None => identify_signer(gw, fields, jd_order_no, ip).await,
    };
    let shop = match shop {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let req = match FindDistillRequest::parse(fields) {
        Ok(r) => r,
        Err(e) => {
            return Reply::new(
                DistillAnswer::query_rejected(&e),
                Some(shop),
                "invalid",
                e.reason.clone(),
            );
        }
    };
    match common::db::orders::find_by_platform_no(
        &gw.infra_db,
        Platform::JdGeneral,
        shop.id,
        &intake::jd_order_no(req.jd_order_no),
    )
    .await
    {
        Ok(Some(order)) => stored_answer(gw, shop, order, "answered").await,
        // Unknown order: JDO_500 / 4 pauses it at JD. Answering 2 would refund a buyer whose
        // order we might still have (the spec's safe reading).
        Ok(None) => Reply::refuse(
            Some(req.jd_order_no),
            ProduceCode::SystemError,
            ProduceStatus::Exception,
            Some(shop),
            "unknown_order",
            "no such order",
        ),
        Err(e) => system_error(
            Some(req.jd_order_no),
            Some(shop),
            format!("order lookup failed: {e}"),
        ),
    }
}

async fn identify_signer(
    gw: &Gateway,
    fields: &[(String, String)],
    jd_order_no: Option<i64>,
    ip: Option<std::net::IpAddr>,
) -> Result<Arc<Shop>, Reply> {
    let candidates = match jd_order_no {
        Some(no) => sqlx::query_scalar::<_, u64>(
            "SELECT shop_id FROM orders WHERE platform = 'jd_general' AND platform_order_no = ?",
        )
        .bind(no.to_string())
        .fetch_all(&gw.infra_db)
        .await
        .map_err(|e| system_error(jd_order_no, None, format!("order lookup failed: {e}")))?,
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
            .map_err(|e| system_error(jd_order_no, None, format!("shop lookup failed: {e}")))?;
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
