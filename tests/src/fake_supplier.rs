//! A fake upstream supplier: a real HTTP server speaking docs/SUPPLIER_PROTOCOL.md (`/recharge`,
//! `/query`, signed status callbacks), verifying our signatures with an implementation of the
//! protocol's signature written independently of the service's. Each fake records every request
//! it received and the orders it accepted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};

/// The protocol's signature, written independently of the service's implementation.
pub fn sign(body: &Map<String, Value>, secret: &str) -> String {
    let mut keys: Vec<&String> = body
        .keys()
        .filter(|k| *k != "sign" && !body[*k].is_null())
        .collect();
    keys.sort();
    let canonical = keys
        .iter()
        .map(|k| match &body[*k] {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Accepts; answers SUCCESS from the `after`-th status query on.
    Succeed { after: u32 },
    /// Refuses every order: insufficient balance.
    NoBalance,
    /// Accepts and stays PROCESSING forever.
    Hang,
}

/// One request a fake received: (path, body, signature valid).
pub type Received = (String, Map<String, Value>, bool);

#[derive(Default)]
struct FakeOrder {
    code: &'static str,
    queries: u32,
    callback_url: Option<String>,
}

/// One fake supplier (its merchant id and secret as registered in our `suppliers` table).
pub struct FakeSupplier {
    pub merchant: String,
    pub secret: String,
    pub behaviour: Behaviour,
    orders: Mutex<HashMap<String, FakeOrder>>,
    /// (path, body, signature valid)
    log: Mutex<Vec<Received>>,
    /// Its base URL (`http://127.0.0.1:port`).
    pub url: String,
    /// While true, every request is held unanswered (a hung supplier), until set false.
    stall: std::sync::atomic::AtomicBool,
}

impl FakeSupplier {
    /// Starts a fake on a free port, serving until the test process ends.
    pub async fn start(merchant: &str, secret: &str, behaviour: Behaviour) -> Arc<FakeSupplier> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fake = Arc::new(FakeSupplier {
            merchant: merchant.into(),
            secret: secret.into(),
            behaviour,
            orders: Mutex::default(),
            log: Mutex::default(),
            url: format!("http://{}", listener.local_addr().unwrap()),
            stall: Default::default(),
        });
        let app = axum::Router::new()
            .route("/recharge", post(recharge))
            .route("/query", post(query))
            .with_state(fake.clone());
        crate::serve_apart(listener, app);
        fake
    }

    /// Makes the supplier hang (every request held unanswered, beyond any client timeout) or
    /// answer again.
    pub fn set_stall(&self, stall: bool) {
        self.stall.store(stall, std::sync::atomic::Ordering::SeqCst);
    }

    /// Holds a request while the supplier hangs; true when it did (the hung supplier then
    /// drops the request: nothing recorded, an error answered to a caller long gone).
    async fn stalled(&self) -> bool {
        let mut held = false;
        while self.stall.load(std::sync::atomic::Ordering::SeqCst) {
            held = true;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        held
    }

    /// Checks and records a request; `None` when the signature or merchant is wrong.
    fn receive(&self, path: &str, body: &Map<String, Value>) -> Option<String> {
        let ok = body.get("sign").and_then(Value::as_str) == Some(&sign(body, &self.secret))
            && body["merchantId"] == self.merchant.as_str();
        self.log
            .lock()
            .unwrap()
            .push((path.into(), body.clone(), ok));
        ok.then(|| body["orderNo"].as_str().unwrap().to_owned())
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The order numbers of the requests received on `path` (`recharge` or `query`), in order.
    pub fn order_nos(&self, path: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.0 == path)
            .filter_map(|l| {
                l.1.get("orderNo")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The paths of the requests received, in order (`recharge`, `query`).
    pub fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.0.clone())
            .collect()
    }

    /// Whether every request received carried a valid signature and our merchant id.
    pub fn all_signed(&self) -> bool {
        self.log.lock().unwrap().iter().all(|l| l.2)
    }

    /// How many different orders this supplier accepted for recharge.
    pub fn recharges(&self) -> usize {
        self.orders
            .lock()
            .unwrap()
            .values()
            .filter(|o| o.code != "FAILED")
            .count()
    }

    /// A supplier that already has `order_no` in state `code` (as after a submit whose answer
    /// we never recorded).
    pub fn seed(&self, order_no: &str, code: &'static str) {
        self.orders.lock().unwrap().insert(
            order_no.into(),
            FakeOrder {
                code,
                ..Default::default()
            },
        );
    }

    /// Sends a signed status callback to the URL our submit named (or `to`), with `code`.
    pub async fn callback(
        &self,
        order_no: &str,
        code: &str,
        to: Option<&str>,
        secret: &str,
    ) -> (u16, Value) {
        let url = match to {
            Some(u) => u.to_owned(),
            None => self.orders.lock().unwrap()[order_no]
                .callback_url
                .clone()
                .expect("our submit named a callbackUrl"),
        };
        let mut body = Map::new();
        body.insert("merchantId".into(), self.merchant.clone().into());
        body.insert("orderNo".into(), order_no.into());
        body.insert("code".into(), code.into());
        body.insert("supplierOrderNo".into(), format!("S-{order_no}").into());
        body.insert("timestamp".into(), chrono::Utc::now().timestamp().into());
        let s = sign(&body, secret);
        body.insert("sign".into(), s.into());
        let r = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn status_body(order_no: &str, code: &str) -> Value {
    let mut v = json!({"code": code, "supplierOrderNo": format!("S-{order_no}")});
    if code == "FAILED" {
        v["failure"] = "INSUFFICIENT_BALANCE".into();
        v["reason"] = "余额不足".into();
    }
    v
}

async fn recharge(
    State(fake): State<Arc<FakeSupplier>>,
    axum::Json(body): axum::Json<Map<String, Value>>,
) -> axum::Json<Value> {
    if fake.stalled().await {
        return axum::Json(json!({"code": "HUNG"}));
    }
    let Some(no) = fake.receive("recharge", &body) else {
        return axum::Json(json!({"code": "FAILED", "failure": "SIGN_INVALID"}));
    };
    let mut orders = fake.orders.lock().unwrap();
    // Idempotent on the order number: a repeat gets the current state and recharges nothing.
    let o = orders.entry(no.clone()).or_insert_with(|| FakeOrder {
        code: match fake.behaviour {
            Behaviour::NoBalance => "FAILED",
            _ => "PROCESSING",
        },
        queries: 0,
        callback_url: body
            .get("callbackUrl")
            .and_then(Value::as_str)
            .map(str::to_owned),
    });
    let code = if o.code == "PROCESSING" {
        "ACCEPTED"
    } else {
        o.code
    };
    axum::Json(status_body(&no, code))
}

async fn query(
    State(fake): State<Arc<FakeSupplier>>,
    axum::Json(body): axum::Json<Map<String, Value>>,
) -> axum::Json<Value> {
    if fake.stalled().await {
        return axum::Json(json!({"code": "HUNG"}));
    }
    let Some(no) = fake.receive("query", &body) else {
        return axum::Json(json!({"code": "FAILED", "failure": "SIGN_INVALID"}));
    };
    let mut orders = fake.orders.lock().unwrap();
    let Some(o) = orders.get_mut(&no) else {
        return axum::Json(json!({"code": "NOT_FOUND"}));
    };
    o.queries += 1;
    if o.code == "PROCESSING"
        && let Behaviour::Succeed { after } = fake.behaviour
        && o.queries >= after
    {
        o.code = "SUCCESS";
    }
    axum::Json(status_body(&no, o.code))
}
