//! The sender: claims due orders from the durable schedule with a lease, sends each callback
//! outside any transaction (bounded overall and per host), then records the attempt and the
//! order's next step (in batches: [`crate::recorder`]). A crash between sending and recording
//! leaves the order pending: when the lease ends it is sent again, identically but for timestamp
//! and sign.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::crypto::at_rest::MasterKey;
use common::db::notify::{self, Claimed, Outcome};
use common::db::{Pool, cards};
use common::domain::CallbackTarget;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::callback::{self, PrepareError, Prepared, Verdict};
use crate::recorder::{Finished, Recorder};

pub struct Sender {
    pub db: Pool,
    pub key: MasterKey,
    pub config: Config,
    client: reqwest::Client,
    /// Attempts in flight, overall.
    slots: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    shops: callback::ShopCache,
    recorder: Recorder,
    /// Woken by the consumer when an order was scheduled.
    pub wake: Notify,
}

/// What one HTTP exchange gave.
struct Exchange {
    http_status: Option<u16>,
    body: Option<String>,
    verdict: Verdict,
    error: Option<String>,
}

impl Sender {
    pub fn new(db: Pool, key: MasterKey, config: Config) -> anyhow::Result<Arc<Sender>> {
        // A redirect is never followed: the callback goes where the order says, or nowhere.
        let client = common::http_client::builder(config.http_timeout)
            .pool_max_idle_per_host(config.per_host_concurrency)
            .build()?;
        Ok(Arc::new(Sender {
            recorder: Recorder::start(db.clone()),
            db,
            key,
            slots: Arc::new(Semaphore::new(config.concurrency)),
            hosts: Mutex::default(),
            shops: callback::ShopCache::new(Duration::from_secs(5)),
            wake: Notify::new(),
            client,
            config,
        }))
    }

    /// Claims and sends until `stop`; waits (bounded) for attempts in flight.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        while !stop.is_cancelled() {
            // Claim only what can be sent at once: wait for one free slot, take every other one.
            let first = tokio::select! {
                _ = stop.cancelled() => break,
                p = self.slots.clone().acquire_owned() => p,
            };
            let Ok(first) = first else { return };
            let mut permits = vec![first];
            while permits.len() < self.config.claim_batch {
                match self.slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let want = permits.len();
            let full = match notify::claim_due(
                &self.db,
                notify::Audience::Jd,
                want as u32,
                self.config.lease,
            )
            .await
            {
                Ok(list) => {
                    let full = list.len() == want;
                    // The cards of every claimed success, in one read.
                    let with_cards: Vec<u64> = list
                        .iter()
                        .filter(|c| callback::carries_cards(&c.order))
                        .map(Claimed::order_id)
                        .collect();
                    match cards::SoldCards::read(&self.db, &with_cards).await {
                        Ok(mut sold) => {
                            for (c, permit) in list.into_iter().zip(permits.drain(..)) {
                                let me = self.clone();
                                let cards = sold.take(c.order_id());
                                tokio::spawn(async move {
                                    me.attempt(c, cards).await;
                                    drop(permit);
                                });
                            }
                            full
                        }
                        Err(e) => {
                            // The claimed orders become due again when their lease ends.
                            tracing::warn!(error = %e, "cannot read the claimed orders' cards");
                            false
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming due callbacks failed");
                    false
                }
            };
            drop(permits);
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = self.wake.notified() => {}
            }
        }
        let all = u32::try_from(self.config.concurrency).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(
            self.config.http_timeout + Duration::from_secs(5),
            self.slots.acquire_many(all),
        )
        .await;
    }

    fn host_slots(&self, url: &str) -> Arc<Semaphore> {
        let host = reqwest::Url::parse(url)
            .ok()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or_default(),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
            .unwrap_or_default();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_host_concurrency)))
            .clone()
    }

    async fn exchange(&self, prepared: &Prepared, url: &str, body: String) -> Exchange {
        let host = self.host_slots(url);
        let _permit = host.acquire().await;
        // The order's trace goes with the callback (`traceparent`: a header JD ignores).
        let mut headers = reqwest::header::HeaderMap::new();
        common::telemetry::inject_http(&mut headers);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .headers(headers)
            .body(body)
            .send()
            .await;
        let result = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match common::http_client::read_bounded(resp, MAX_ANSWER).await {
                    Ok(bytes) => Exchange {
                        http_status: Some(status),
                        body: Some(String::from_utf8_lossy(&bytes).into_owned()),
                        verdict: prepared.verdict(&bytes),
                        error: None,
                    },
                    Err(e) => Exchange {
                        http_status: Some(status),
                        body: None,
                        verdict: Verdict::Retry(format!("读取京东应答失败: {e}")),
                        error: Some(e),
                    },
                }
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    "请求京东超时"
                } else if e.is_connect() {
                    "连接京东失败"
                } else {
                    "请求京东失败"
                };
                Exchange {
                    http_status: None,
                    body: None,
                    verdict: Verdict::Retry(format!("{what}: {e}")),
                    error: Some(e.to_string()),
                }
            }
        };
        if self.config.abort_after_send {
            tracing::error!("failpoint: aborting after sending a callback, before recording it");
            std::process::abort();
        }
        result
    }

    /// One attempt for a claimed order, with the cards sold to it (when its callback carries
    /// cards), in a span of its own that continues the order's trace (`orders.traceparent`: the
    /// span that completed it).
    pub async fn attempt(&self, claimed: Claimed, sold: cards::OrderCards) {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "callback",
            order_id = claimed.order.id,
            attempt_no = claimed.attempts_done.saturating_add(1)
        );
        common::telemetry::set_remote_parent(&span, claimed.order.traceparent.as_deref());
        self.attempt_in_span(claimed, sold).instrument(span).await
    }

    async fn attempt_in_span(&self, claimed: Claimed, sold: cards::OrderCards) {
        let Claimed {
            order,
            attempts_done,
        } = claimed;
        let order_id = order.id;
        let attempt_no = attempts_done.saturating_add(1);
        let target = CallbackTarget::from(order.platform);
        let prepared = match callback::prepare(&self.db, &self.shops, &self.key, &order, sold).await
        {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(PrepareError::Db(e)) => {
                tracing::warn!(order_id, error = %e, "cannot prepare callback; the lease will retry");
                return;
            }
            Err(PrepareError::Config(reason)) => {
                tracing::warn!(order_id, %reason, "callback cannot be built");
                let reason = format!("回调无法生成: {reason}");
                let (outcome, reason) = self.after_failure(attempt_no, Verdict::Retry(reason));
                self.record(Finished {
                    order_id,
                    target,
                    attempt_no,
                    url: String::new(),
                    request_body: None,
                    http_status: None,
                    response_body: None,
                    duration_ms: 0,
                    outcome,
                    error: Some(reason),
                })
                .await;
                return;
            }
        };
        let request = prepared.request(chrono::Utc::now());
        let started = Instant::now();
        let exchange = self
            .exchange(&prepared, &request.url, request.body.clone())
            .await;
        let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let (outcome, reason) = match exchange.verdict {
            Verdict::Delivered => (Outcome::Delivered, None),
            other => {
                let (o, r) = self.after_failure(attempt_no, other);
                (o, Some(r))
            }
        };
        tracing::info!(
            order_id,
            attempt_no,
            platform = prepared.platform().as_str(),
            http_status = exchange.http_status,
            outcome = outcome.as_str(),
            duration_ms,
            "callback attempt"
        );
        self.record(Finished {
            order_id,
            target,
            attempt_no,
            url: request.url,
            request_body: Some(request.masked),
            http_status: exchange.http_status,
            response_body: exchange.body,
            duration_ms,
            outcome,
            // The reason of a retry / stop, else the transport error.
            error: reason.or(exchange.error),
        })
        .await;
    }

    /// The outcome of a failed attempt and the reason to log. JD's "stop" and "misconfigured"
    /// answers raise an alert (an error log line and `notify_callback_alerts_total`).
    fn after_failure(&self, attempt_no: i32, verdict: Verdict) -> (Outcome, String) {
        match verdict {
            Verdict::Delivered => (Outcome::Delivered, String::new()),
            Verdict::Stop(reason) => {
                alert("stop", &reason);
                (Outcome::GivingUp, reason)
            }
            Verdict::Misconfigured { code, reason } => {
                alert(&code, &reason);
                self.after_failure(attempt_no, Verdict::Retry(reason))
            }
            Verdict::Retry(reason) => match u32::try_from(attempt_no)
                .ok()
                .and_then(|n| self.config.schedule.delay(n))
            {
                Some(delay) => (Outcome::Retry(delay), reason),
                None => (
                    Outcome::GivingUp,
                    format!("已按计划尝试 {attempt_no} 次仍未成功，停止回调。最后一次: {reason}"),
                ),
            },
        }
    }

    async fn record(&self, attempt: Finished) {
        // On failure the recorder logged it; the order stays pending and its lease makes it due
        // again (one extra identical send).
        self.recorder.record(attempt).await;
    }
}

/// The most of JD's answer read (its answers are a few dozen bytes).
const MAX_ANSWER: usize = 16 * 1024;

/// Callback answers that need an operator, by JD answer code (`stop` for 通用交易 13).
static ALERTS: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    common::metrics::counter_vec(
        "notify_callback_alerts_total",
        "Callback answers that need an operator: JD's stop (13) or a configuration error (10, 11, 19)",
        &["code"],
    )
});

/// The series this service's dashboards and alerts read, at zero from the start.
pub fn init_metrics() {
    use common::domain::CallbackTarget;
    common::metrics::init_callback_attempts(&[CallbackTarget::JdGeneral, CallbackTarget::JdGame]);
    common::metrics::init_counter(&ALERTS, &[&["stop"], &["10"], &["11"], &["19"]]);
}

fn alert(code: &str, reason: &str) {
    ALERTS.with_label_values(&[code]).inc();
    tracing::error!(code, %reason, "callback needs an operator");
}
