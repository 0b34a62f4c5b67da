//! 阿奇索: the operator's buttons on agiso-sync (`AGISO_SYNC_URL`, bearer
//! `AGISO_OPERATOR_TOKEN`). The page lists the enabled Agiso shops, each with 拉取订单 (poll
//! now), 余额自检 (the open-platform balance: a self-test of the keys) and 查询卡密库存 (Agiso's
//! card categories beside our own stock of the products mapped to Agiso SKUs); an Agiso order's
//! page has 立即发货 and 查询发货状态. Every call to Agiso is a POST by an operator, audited,
//! never a page GET. Without `AGISO_SYNC_URL` the buttons are shown disabled.

pub mod client;
mod queries;
mod views;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use common::domain::Platform;
use common::domain::agiso::Service;
use serde_json::{Value, json};

use crate::web::auth::Operator;
use crate::web::form::path_id;
use crate::web::orders::masking::mask_text;
use crate::web::page::{self, Chrome, Nav, redirect_error, redirect_ok};
use crate::web::user::CurrentUser;
use crate::web::{AppState, WebError, WebResult};
use views::*;

use client::NOT_CONFIGURED;

const INDEX: &str = "/admin/agiso";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(INDEX, get(index))
        .route("/admin/agiso/shops/{id}/pull", post(pull))
        .route("/admin/agiso/shops/{id}/balance", post(balance))
        .route("/admin/agiso/shops/{id}/stock", post(stock))
        .route("/admin/orders/{id}/agiso/deliver", post(deliver))
        .route("/admin/orders/{id}/agiso/status", post(status))
}

fn service_label(s: &str) -> String {
    Service::parse(s)
        .map(|s| s.label_zh().to_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// `GET /admin/agiso`.
async fn index(State(state): State<AppState>, Operator(user): Operator) -> WebResult<Response> {
    let shops = queries::enabled_shops(&state.db)
        .await?
        .into_iter()
        .map(|(id, name, service)| ShopLine {
            id,
            name,
            service: service_label(&service),
        })
        .collect();
    page::render(&IndexPage {
        chrome: Chrome::new(&user, Nav::Agiso),
        configured: state.agiso.is_some(),
        not_configured: NOT_CONFIGURED,
        shops,
    })
}

/// The shop of a button: enabled and on Agiso, or 404.
async fn shop(state: &AppState, raw_id: &str) -> WebResult<(u64, String)> {
    let id = path_id(raw_id)?;
    let (name, _) = queries::enabled_shop(&state.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok((id, name))
}

/// Calls agiso-sync and records the audit row (`detail` plus the outcome).
async fn call(
    state: &AppState,
    user: &CurrentUser,
    action: &str,
    target: (&str, u64),
    detail: String,
    path: &str,
    body: Value,
) -> WebResult<Result<Value, String>> {
    let Some(agiso) = &state.agiso else {
        return Ok(Err(NOT_CONFIGURED.to_owned()));
    };
    let answer = agiso.call(path, &body).await;
    let outcome = match &answer {
        Ok(_) => "成功".to_owned(),
        Err(e) => format!("失败：{e}"),
    };
    user.audit(
        &state.db,
        action,
        Some((target.0, target.1.to_string())),
        Some(format!("{detail}（{outcome}）")),
    )
    .await?;
    tracing::info!(user = %user.username, action, ok = answer.is_ok(), "agiso-sync called");
    Ok(answer)
}

fn count(v: &Value, name: &str) -> i64 {
    v.get(name).and_then(Value::as_i64).unwrap_or(0)
}

/// `POST /admin/agiso/shops/{id}/pull`: agiso-sync polls every enabled Agiso shop now.
async fn pull(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (id, name) = shop(&state, &id).await?;
    let answer = call(
        &state,
        &user,
        "agiso.pull",
        ("shop", id),
        format!("{name}：拉取订单"),
        "/api/agiso/pull",
        json!({}),
    )
    .await?;
    Ok(match answer {
        Ok(a) => {
            let p = a.get("polled").cloned().unwrap_or(Value::Null);
            let errors: Vec<String> = p
                .get("errors")
                .and_then(Value::as_array)
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let mut text = format!(
                "已拉取订单：{} 个店铺，{} 页，{} 笔交易，新事件 {} 个，新建订单 {} 个，读取详情 {} 个。",
                count(&p, "shops"),
                count(&p, "pages"),
                count(&p, "trades"),
                count(&p, "new_events"),
                count(&p, "orders_created"),
                count(&p, "details_read"),
            );
            if !errors.is_empty() {
                text.push_str(&format!("出错：{}", errors.join("；")));
            }
            redirect_ok(INDEX, text)
        }
        Err(e) => redirect_error(INDEX, format!("拉取订单失败：{e}")),
    })
}

/// `POST /admin/agiso/shops/{id}/balance`: the open-platform balance, a self-test of the keys.
async fn balance(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (id, name) = shop(&state, &id).await?;
    let answer = call(
        &state,
        &user,
        "agiso.balance",
        ("shop", id),
        format!("{name}：余额自检"),
        "/api/agiso/balance",
        json!({"shop_id": id}),
    )
    .await?;
    Ok(match answer {
        Ok(a) => {
            let b = match a.get("balance") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "—".into(),
            };
            redirect_ok(
                INDEX,
                format!("店铺「{name}」余额自检通过：余额 {b} 元，密钥有效。"),
            )
        }
        Err(e) => redirect_error(INDEX, format!("店铺「{name}」余额自检失败：{e}")),
    })
}

/// `POST /admin/agiso/shops/{id}/stock`: Agiso's card categories beside our own stock of the
/// products mapped to Agiso SKUs. Rendered in the POST answer (each view is one call to Agiso).
async fn stock(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (id, name) = shop(&state, &id).await?;
    let answer = call(
        &state,
        &user,
        "agiso.stock",
        ("shop", id),
        format!("{name}：查询卡密库存"),
        "/api/agiso/stock",
        json!({"shop_id": id}),
    )
    .await?;
    let a = match answer {
        Ok(a) => a,
        Err(e) => {
            return Ok(redirect_error(
                INDEX,
                format!("店铺「{name}」查询卡密库存失败：{e}"),
            ));
        }
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
    let categories = a
        .get("categories")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|c| CategoryLine {
                    id: text(c.get("id")),
                    title: text(c.get("title")),
                    total: count(c, "total"),
                    used: count(c, "used"),
                    available: count(c, "available"),
                })
                .collect()
        })
        .unwrap_or_default();
    let snap = crate::web::cards::cached_stock(&state.db).await?;
    let own = queries::mapped_products(&state.db)
        .await?
        .into_iter()
        .map(|(pid, pname, sku)| OwnLine {
            product_id: pid,
            name: pname,
            sku,
            available: snap
                .rows
                .iter()
                .find(|r| r.product_id == pid)
                .map(|r| page::thousands(r.available.max(0) as u64))
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    page::render(&StockPage {
        chrome: Chrome::new(&user, Nav::Agiso),
        shop_name: name,
        categories,
        own,
        computed_at: page::beijing(snap.computed_at),
    })
}

/// The order of a button: an Agiso order, or 404.
async fn agiso_order(state: &AppState, raw_id: &str) -> WebResult<u64> {
    let id = path_id(raw_id)?;
    match queries::order_platform(&state.db, id).await? {
        Some(Platform::Agiso) => Ok(id),
        _ => Err(WebError::NotFound),
    }
}

/// `POST /admin/orders/{id}/agiso/deliver`: agiso-sync delivers the order now.
async fn deliver(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = agiso_order(&state, &id).await?;
    let back = format!("/admin/orders/{id}");
    let answer = call(
        &state,
        &user,
        "agiso.deliver",
        ("order", id),
        "立即发货".into(),
        "/api/agiso/deliver",
        json!({"order_id": id}),
    )
    .await?;
    Ok(match answer {
        Ok(_) => redirect_ok(&back, "已通知阿奇索同步服务立即发货，结果见下方回调记录。"),
        Err(e) => redirect_error(&back, format!("立即发货失败：{e}")),
    })
}

/// Masks the values a card could be under in Agiso's answers (`c` / `p` of a card list, and
/// the names [`mask_text`] knows), then pretty-prints.
fn shown(v: &Value) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if matches!(k.as_str(), "c" | "p" | "C" | "P") && !x.is_object() {
                        *x = Value::String("****".into());
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if v.is_null() {
        return String::new();
    }
    let mut v = v.clone();
    walk(&mut v);
    mask_text(&serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// `POST /admin/orders/{id}/agiso/status`: Agiso's view of the order, rendered in the answer.
async fn status(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = agiso_order(&state, &id).await?;
    let back = format!("/admin/orders/{id}");
    let answer = call(
        &state,
        &user,
        "agiso.status",
        ("order", id),
        "查询发货状态".into(),
        "/api/agiso/status",
        json!({"order_id": id}),
    )
    .await?;
    let a = match answer {
        Ok(a) => a,
        Err(e) => return Ok(redirect_error(&back, format!("查询发货状态失败：{e}"))),
    };
    page::render(&StatusPage {
        chrome: Chrome::new(&user, Nav::Orders),
        order_id: id,
        tid: a
            .get("tid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        detail: shown(a.get("detail").unwrap_or(&Value::Null)),
        send_log: shown(a.get("send_log").unwrap_or(&Value::Null)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_in_answers_are_masked() {
        let v = json!({"List": [{"c": "CARD-0001", "p": "PASS-0001", "Tid": 1}]});
        let s = shown(&v);
        assert!(!s.contains("CARD-0001") && !s.contains("PASS-0001"), "{s}");
        assert!(s.contains("\"Tid\": 1"));
        assert_eq!(shown(&Value::Null), "");
        assert_eq!(service_label("aldsJd"), "京东");
    }
}
