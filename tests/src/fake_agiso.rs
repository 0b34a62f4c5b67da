//! A fake Agiso open-platform gateway for agiso-sync's tests: a real HTTP server that checks
//! every call as Agiso documents it (POST, form-urlencoded body, `Authorization: Bearer
//! <token>`, `ApiVersion: 1`, a `timestamp` in seconds within ±10 minutes and the MD5 `sign`,
//! all written here independently of the service, from the spec), and answers in Agiso's
//! envelope. Tests script it: trades to list (paged) or read, answers to give once (code 2,
//! code 16, `AllowRetry`), and it answers a repeated shipment of the same order with −50
//! ("already shipped"). It logs every call, and it signs pushes the way Agiso does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const APP_SECRET: &str = "fake-agiso-app-secret-0123456789";
pub const ACCESS_TOKEN: &str = "TbAldsFakeAccessToken0123456789";

/// The calls that ship an order: a second one for the same order answers −50.
const SHIPPING: [&str; 4] = [
    "/alds/Trade/LogisticsDummySend",
    "/aldsJd/GameCard/CardSend",
    "/aldsJd/GameCard/RechargeSend",
    "/aldsJd/Vtp/Send",
];

/// One call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    /// E.g. `/alds/Trade/CreateOrderResult`.
    pub path: String,
    pub form: Vec<(String, String)>,
    /// What was wrong with the call as Agiso would see it; `None` when it was well-formed.
    pub problem: Option<String>,
    /// The envelope answered.
    pub answer: Value,
}

impl Call {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The (number, password) pairs a `Trade/CreateOrderResult` call hands over for its first
    /// order line (`content[0].CardPwdContent[0].CardPwdArr`), in the order sent.
    pub fn handed_cards(&self) -> Vec<(String, String)> {
        let content: Value =
            serde_json::from_str(self.get("content").expect("content")).expect("content JSON");
        content[0]["CardPwdContent"][0]["CardPwdArr"]
            .as_array()
            .expect("CardPwdArr")
            .iter()
            .map(|c| {
                (
                    c["c"].as_str().unwrap().to_owned(),
                    c["p"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order, to the next calls of a path (before the normal answer).
    queued: HashMap<String, VecDeque<Value>>,
    /// Trades `TradesBuyerPay` lists, in order (JSON objects as Agiso writes them).
    paid_trades: Vec<Value>,
    /// `Trade/TradeInfo` and `Order/Detail` answers by order number.
    details: HashMap<String, Value>,
    /// Orders shipped, by (path, order number).
    shipped: HashMap<(String, String), u32>,
    /// `CardPwdCategory/GetList` rows.
    categories: Vec<Value>,
    log: Vec<Call>,
}

pub struct FakeAgiso {
    pub url: String,
    script: Mutex<Script>,
}

fn envelope_ok(data: Value) -> Value {
    json!({"IsSuccess": true, "Data": data, "Error_Code": 0, "Error_Msg": "", "AllowRetry": null, "RequestId": "20261202000000001"})
}

/// An Agiso failure envelope.
pub fn envelope_error(code: i64, msg: &str, allow_retry: Option<bool>) -> Value {
    json!({"IsSuccess": false, "Data": null, "Error_Code": code, "Error_Msg": msg, "AllowRetry": allow_retry})
}

/// Agiso's signature (§2), written from the spec: every parameter but `sign`, sorted by name in
/// byte order, `name + value` concatenated, wrapped in the AppSecret, MD5, lowercase hex.
pub fn agiso_sign(params: &[(String, String)], secret: &str) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sign").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text = String::from(secret);
    for (k, v) in sorted {
        text.push_str(k);
        text.push_str(v);
    }
    text.push_str(secret);
    common::crypto::md5_hex(text.as_bytes())
}

impl FakeAgiso {
    /// Serves on a port of its own, apart from the test's runtime ([`crate::serve_apart`]).
    pub async fn start() -> Arc<FakeAgiso> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = Arc::new(FakeAgiso {
            url,
            script: Mutex::new(Script::default()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        crate::serve_apart(listener, app);
        fake
    }

    /// Gives `answer` (a whole envelope) to the next call of `path` (e.g. `/alds/Trade/LogisticsDummySend`).
    pub fn queue(&self, path: &str, answer: Value) {
        let mut s = self.script.lock().unwrap();
        s.queued
            .entry(path.to_owned())
            .or_default()
            .push_back(answer);
    }

    /// Adds a paid trade for `TradesBuyerPay` (and `TradeInfo`).
    pub fn add_paid_trade(&self, trade: Value) {
        let mut s = self.script.lock().unwrap();
        if let Some(tid) = number_text(&trade["Tid"]) {
            s.details.insert(tid, trade.clone());
        }
        s.paid_trades.push(trade);
    }

    /// Sets the `Order/Detail` answer (`data`) for a JD order.
    pub fn set_jd_detail(&self, order_id: &str, data: Value) {
        self.script
            .lock()
            .unwrap()
            .details
            .insert(order_id.to_owned(), data);
    }

    pub fn set_categories(&self, rows: Vec<Value>) {
        self.script.lock().unwrap().categories = rows;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.script.lock().unwrap().log.clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    /// How many times the order was accepted as shipped through `path` (not counting −50s).
    pub fn shipped(&self, path: &str, tid: &str) -> u32 {
        self.script
            .lock()
            .unwrap()
            .shipped
            .get(&(path.to_owned(), tid.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// What is wrong with a call, as Agiso checks it: `(error code, message)`.
fn check(
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    form: &[(String, String)],
) -> Option<(i64, String)> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if method != Method::POST {
        return Some((5, format!("method {method}")));
    }
    if !header("content-type").starts_with("application/x-www-form-urlencoded") {
        return Some((5, format!("content-type {:?}", header("content-type"))));
    }
    if header("apiversion") != "1" {
        return Some((5, "ApiVersion".into()));
    }
    // The balance query needs no authorization (§4.6).
    if path != "/open/Bankroll/QueryDeposit"
        && header("authorization") != format!("Bearer {ACCESS_TOKEN}")
    {
        return Some((1, "无效AccessToken".into()));
    }
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(ts) = get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Some((5, "timestamp".into()));
    };
    let now = chrono::Utc::now().timestamp();
    if (now - ts).abs() > 600 || ts > 100_000_000_000 {
        return Some((4, "timestamp 不在 ±10 分钟内（秒）".into()));
    }
    match get("sign") {
        Some(sign) if sign.eq_ignore_ascii_case(&agiso_sign(form, APP_SECRET)) => None,
        _ => Some((4, "签名错误".into())),
    }
}

async fn handle(
    State(fake): State<Arc<FakeAgiso>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let form = common::protocol::form::parse_form(&body);
    let problem = check(&method, &headers, &path, &form);
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut s = fake.script.lock().unwrap();
    let answer = if let Some((code, msg)) = &problem {
        envelope_error(*code, msg, Some(false))
    } else if let Some(queued) = s.queued.get_mut(&path).and_then(VecDeque::pop_front) {
        queued
    } else {
        match path.as_str() {
            "/alds/Trade/TradesBuyerPay" => {
                let page: usize = get("pageNo").parse().unwrap_or(1).max(1);
                let size: usize = get("pageSize").parse().unwrap_or(20).clamp(1, 100);
                let rows: Vec<Value> = s
                    .paid_trades
                    .iter()
                    .skip((page - 1) * size)
                    .take(size)
                    .cloned()
                    .collect();
                envelope_ok(Value::Array(rows))
            }
            "/alds/Trade/TradeInfo" => match s.details.get(&get("tid")) {
                Some(t) => envelope_ok(t.clone()),
                None => envelope_error(9, "交易不存在", Some(false)),
            },
            "/aldsJd/Order/Detail" => match s.details.get(&get("order_id")) {
                Some(d) => json!({"isSuccess": true, "data": d, "error_Code": 0, "error_Msg": ""}),
                None => {
                    json!({"isSuccess": false, "data": null, "error_Code": 9, "error_Msg": "交易不存在"})
                }
            },
            "/alds/Trade/CreateOrderResult" => {
                if serde_json::from_str::<Value>(&get("content")).is_ok_and(|c| c.is_array()) {
                    envelope_ok(json!(""))
                } else {
                    envelope_error(5, "content 不是 JSON 数组", Some(false))
                }
            }
            "/alds/CardPwdCategory/GetList" => {
                let page: usize = get("pageNo").parse().unwrap_or(1).max(1);
                let size: usize = get("pageSize").parse().unwrap_or(20).clamp(1, 100);
                let rows: Vec<Value> = s
                    .categories
                    .iter()
                    .skip((page - 1) * size)
                    .take(size)
                    .cloned()
                    .collect();
                let has_next = s.categories.len() > page * size;
                envelope_ok(json!({"List": rows, "HasNext": has_next}))
            }
            "/alds/Trade/QueryTradeCPSendLog" => envelope_ok(json!({"Orders": []})),
            "/open/Bankroll/QueryDeposit" => envelope_ok(json!(123.45)),
            p if SHIPPING.contains(&p) => {
                let tid = if p.ends_with("LogisticsDummySend") {
                    get("tids")
                } else {
                    get("tid")
                };
                match s.shipped.entry((p.to_owned(), tid.clone())) {
                    std::collections::hash_map::Entry::Occupied(_) => json!({
                        "IsSuccess": false, "Error_Code": 7, "Error_Msg": "全部失败",
                        "Data": {"ErrorInfos": [{"Tid": tid, "ErrorCode": -50, "ErrorMsg": "订单已发货", "AllowRetry": false}]}
                    }),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(1);
                        envelope_ok(json!(""))
                    }
                }
            }
            _ => envelope_error(28, "无API接口权限", Some(false)),
        }
    };
    s.log.push(Call {
        path,
        form,
        problem: problem.map(|(_, m)| m),
        answer: answer.clone(),
    });
    drop(s);
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        answer.to_string(),
    )
        .into_response()
}

/// A push as Agiso sends it (§7.1): `fromPlatform`, `timestamp`, `aopic`, `sign` in the query,
/// `json` in the form body; signed over `json` and `timestamp` (§7.2).
pub struct Push {
    pub from_platform: &'static str,
    pub aopic: i64,
    pub timestamp: String,
    pub json: String,
}

impl Push {
    /// Signed with `secret`; `(query string, form body)`.
    pub fn encode(&self, secret: &str) -> (String, String) {
        let sign = agiso_sign(
            &[
                ("json".to_owned(), self.json.clone()),
                ("timestamp".to_owned(), self.timestamp.clone()),
            ],
            secret,
        );
        let aopic = self.aopic.to_string();
        let query = common::protocol::form::encode_form(&[
            ("fromPlatform", self.from_platform),
            ("timestamp", self.timestamp.as_str()),
            ("aopic", aopic.as_str()),
            ("sign", sign.as_str()),
        ]);
        let body = common::protocol::form::encode_form(&[("json", self.json.as_str())]);
        (query, body)
    }

    /// POSTs it to `url` (agiso-sync's `/api/agiso/push`): `(HTTP status, body)`.
    pub async fn send(&self, client: &reqwest::Client, url: &str, secret: &str) -> (u16, String) {
        self.try_send(client, url, secret)
            .await
            .expect("push reaches agiso-sync")
    }

    /// [`Push::send`]; `None` when it does not reach the service.
    pub async fn try_send(
        &self,
        client: &reqwest::Client,
        url: &str,
        secret: &str,
    ) -> Option<(u16, String)> {
        let (query, body) = self.encode(secret);
        let r = client
            .post(format!("{url}?{query}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.unwrap_or_default()))
    }
}

/// Now, as a push `timestamp` in seconds.
pub fn now_secs() -> String {
    chrono::Utc::now().timestamp().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fake's own signature reproduces the spec's published vectors (§2.1 A, §7.2).
    #[test]
    fn fake_signature_matches_the_spec() {
        let a: Vec<(String, String)> = [
            ("modifyTimeStart", "2016-07-13 10:44:30"),
            ("pageNo", "1"),
            ("pageSize", "20"),
            ("timestamp", "1468476350"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            agiso_sign(&a, common::protocol::vectors::agiso::DEMO_SECRET),
            common::protocol::vectors::agiso::EXAMPLE_A_SIGN
        );
    }
}
