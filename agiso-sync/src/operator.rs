//! The operator endpoints of the original system, for the back office: `POST` only, behind a
//! bearer token from config (`AGISO_OPERATOR_TOKEN`; without it they answer 503), JSON in and
//! out, errors as `{"ok": false, "error": "<中文>"}`.
//!
//! - `/api/agiso/pull`: poll now; the counts.
//! - `/api/agiso/deliver` `{"order_id"}`: deliver one order now (a fresh schedule, due now).
//! - `/api/agiso/status` `{"order_id"}`: Agiso's view of the order: its detail and, on Taobao,
//!   the cards Agiso has on record as sent (§4.4).
//! - `/api/agiso/stock` `{"shop_id"}`: the shop's Agiso card categories and counts (§4.5).
//! - `/api/agiso/balance` `{"shop_id"}`: the open-platform balance (a self-test of the keys).

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use common::db::agiso as repo;
use common::protocol::agiso_order::{self as codec, Call, Service};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn error(status: StatusCode, text: &str) -> Response {
    answer(status, json!({"ok": false, "error": text}))
}

/// A caller with the operator token: every operator endpoint takes it, so the check is in
/// the handler's signature.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let Some(token) = app.operator_token.as_ref() else {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "未配置 AGISO_OPERATOR_TOKEN",
            ));
        };
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests, so the comparison's time says nothing about the token.
        let same = common::crypto::md5_hex(given.as_bytes())
            == common::crypto::md5_hex(token.expose_secret().as_bytes());
        if same && !given.is_empty() {
            Ok(Operator)
        } else {
            tracing::warn!(
                event = "agiso_operator_refused",
                "operator endpoint called without the right token"
            );
            Err(error(StatusCode::UNAUTHORIZED, "令牌无效"))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OrderRef {
    pub order_id: u64,
}

#[derive(Debug, Deserialize)]
pub struct ShopRef {
    pub shop_id: u64,
}

pub async fn pull(_: Operator, State(app): State<AppState>) -> Response {
    match crate::poll::poll_all(&app).await {
        Ok(p) => answer(StatusCode::OK, json!({"ok": true, "polled": p})),
        Err(e) => {
            tracing::warn!(error = %e, "operator pull failed");
            error(StatusCode::BAD_GATEWAY, "拉取失败")
        }
    }
}

pub async fn deliver(
    _: Operator,
    State(app): State<AppState>,
    Json(req): Json<OrderRef>,
) -> Response {
    match repo::order(&app.db, req.order_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "不是阿奇索订单"),
        Err(e) => {
            tracing::warn!(error = %e, "operator deliver failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "数据库错误");
        }
    }
    match common::db::notify::resend_order(&app.db, req.order_id).await {
        Ok(true) => {
            app.deliver_now.notify_one();
            answer(StatusCode::OK, json!({"ok": true, "scheduled": true}))
        }
        Ok(false) => error(StatusCode::CONFLICT, "订单尚未完成，不能发货"),
        Err(e) => {
            tracing::warn!(error = %e, "operator deliver failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "数据库错误")
        }
    }
}

/// The data of one call to Agiso for `shop_id`, or an error answer.
async fn call_for_shop(app: &AppState, shop_id: u64, call: Call) -> Result<Value, Response> {
    let shop = match app.shops.get(shop_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(error(StatusCode::NOT_FOUND, "阿奇索店铺不存在或未启用")),
        Err(_) => return Err(error(StatusCode::SERVICE_UNAVAILABLE, "读取店铺失败")),
    };
    let a = app.client.call(&shop, &call).await;
    if let Some(e) = a.transport_error {
        return Err(error(StatusCode::BAD_GATEWAY, &e));
    }
    match common::protocol::agiso::AgisoEnvelope::parse(&a.body) {
        Ok(env) if env.is_success => Ok(env.data),
        Ok(env) => Err(error(StatusCode::BAD_GATEWAY, &env.failure_reason_zh())),
        Err(e) => Err(error(StatusCode::BAD_GATEWAY, &e.to_string())),
    }
}

pub async fn status(
    _: Operator,
    State(app): State<AppState>,
    Json(req): Json<OrderRef>,
) -> Response {
    let (side, order) = match (
        repo::order(&app.db, req.order_id).await,
        common::db::orders::get(&app.db, req.order_id).await,
    ) {
        (Ok(Some(side)), Ok(Some(order))) => (side, order),
        (Ok(None), _) | (_, Ok(None)) => return error(StatusCode::NOT_FOUND, "不是阿奇索订单"),
        _ => return error(StatusCode::SERVICE_UNAVAILABLE, "数据库错误"),
    };
    let detail = match call_for_shop(
        &app,
        order.shop_id,
        codec::order_detail(side.service, &side.tid),
    )
    .await
    {
        Ok(d) => d,
        Err(r) => return r,
    };
    let send_log = if side.service == Service::Alds {
        call_for_shop(&app, order.shop_id, codec::trade_send_log(&side.tid))
            .await
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    answer(
        StatusCode::OK,
        json!({"ok": true, "tid": side.tid, "detail": detail, "send_log": send_log}),
    )
}

pub async fn stock(_: Operator, State(app): State<AppState>, Json(req): Json<ShopRef>) -> Response {
    let mut rows = Vec::new();
    for page in 1..=20 {
        let data = match call_for_shop(&app, req.shop_id, codec::card_categories(page, 100)).await {
            Ok(d) => d,
            Err(r) => return r,
        };
        let list = data
            .get("List")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for c in list {
            let total = c.get("TotalNum").and_then(Value::as_i64).unwrap_or(0);
            let used = c.get("UsedNum").and_then(Value::as_i64).unwrap_or(0);
            rows.push(json!({
                "id": c.get("IdNo").cloned().unwrap_or(Value::Null),
                "title": c.get("Title").cloned().unwrap_or(Value::Null),
                "total": total,
                "used": used,
                // [INFERRED] available ≈ TotalNum − UsedNum (§4.5).
                "available": (total - used).max(0),
            }));
        }
        if data.get("HasNext").and_then(Value::as_bool) != Some(true) {
            break;
        }
    }
    answer(StatusCode::OK, json!({"ok": true, "categories": rows}))
}

pub async fn balance(
    _: Operator,
    State(app): State<AppState>,
    Json(req): Json<ShopRef>,
) -> Response {
    match call_for_shop(&app, req.shop_id, codec::query_deposit()).await {
        Ok(balance) => answer(StatusCode::OK, json!({"ok": true, "balance": balance})),
        Err(r) => r,
    }
}
