//! Delivery back through Agiso (§4.3). A completed Agiso order (`order.completed.agiso`) is
//! scheduled on the order's durable `notify_*` schedule, like a JD callback; this loop claims
//! due orders (with a lease, so a crash only delays them) and makes the calls their type needs:
//!
//! - Taobao: the cards of every card sub-order by `CreateOrderResult` (once), then
//!   `LogisticsDummySend` for the trade; a top-up only `LogisticsDummySend`. A trade is shipped
//!   once all its sub-orders are final; one failed sub-order stops it for an operator (Taobao
//!   has no refund call).
//! - JD through Agiso: `GameCard/CardSend` (cards), `GameCard/RechargeSend` (top-up) or
//!   `Vtp/Send` (通用交易); a failed order is refunded with `GameCard/Refund` / `Vtp/Refund`.
//!
//! Retries only on `AllowRetry`, codes 2 and 13 and transport errors; codes 1, 8, 16, 17, 28
//! (and anything else) stop and the order waits for an operator with the reason; −50 ("already
//! shipped") counts as delivered, which also makes a call repeated after a crash harmless.
//! Every call is logged in `callback_attempts` (target `agiso`), cards masked.

use std::sync::Arc;
use std::time::Duration;

use common::db::agiso::{self as repo, AgisoOrderRow, DeliveryStep, OrderType};
use common::db::cards::{self, SuccessCards};
use common::db::notify::{self, Attempt, Audience, Claimed, Outcome};
use common::domain::{CallbackTarget, OrderKind, OrderStatus, PlatformOrderNo};
use common::protocol::agiso_order::{self as codec, Call, DeliveredCard, LineCards, Verdict};
use common::retry::Backoff;
use tokio_util::sync::CancellationToken;

use crate::AgisoSync;
use crate::client::Answer;
use crate::intake::ACTOR;
use crate::shops::AgisoShop;

/// How deliveries are scheduled.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Delays between attempts; after the last, the order waits for an operator.
    pub schedule: Backoff,
    /// A claimed order is due again after this if its attempt was never recorded (crash).
    pub lease: Duration,
    /// How often due orders are looked for when nothing wakes the loop.
    pub poll: Duration,
    /// Test failpoint: exit right after the first delivery call, before recording it.
    pub abort_after_call: bool,
}

/// At least this long after Agiso answered "rate limited" (code 2).
const RATE_LIMITED_PAUSE: Duration = Duration::from_secs(1);
/// Orders claimed at a time (calls are rate-limited per AppId anyway).
const CLAIM: u32 = 16;

pub struct Deliverer {
    app: Arc<AgisoSync>,
    config: DeliveryConfig,
}

/// What one delivery decided.
struct Decision {
    outcome: Outcome,
    reason: Option<String>,
}

enum Plan {
    /// Make these calls in order; each must succeed (or say it was done before).
    Calls(Vec<Call>),
    /// Not yet: try again later (another sub-order of the trade is still open).
    Later(String),
    /// An operator must act.
    Stop(String),
}

impl Deliverer {
    pub fn new(app: Arc<AgisoSync>, config: DeliveryConfig) -> Arc<Deliverer> {
        Arc::new(Deliverer { app, config })
    }

    pub fn db(&self) -> &common::db::Pool {
        &self.app.db
    }

    /// Makes the loop look for due orders now.
    pub fn wake(&self) {
        self.app.deliver_now.notify_one();
    }

    /// Claims and delivers due orders until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let claimed =
                match notify::claim_due(&self.app.db, Audience::Agiso, CLAIM, self.config.lease)
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming due Agiso deliveries failed");
                        Vec::new()
                    }
                };
            let full = claimed.len() == CLAIM as usize;
            for c in claimed {
                self.deliver(c).await;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = self.app.deliver_now.notified() => {}
            }
        }
    }

    /// Delivers one claimed order now and records what happened, in a span of its own that
    /// continues the order's trace (`orders.traceparent`: the span that completed it).
    pub async fn deliver(&self, claimed: Claimed) {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "agiso_delivery",
            order_id = claimed.order.id,
            attempt_no = claimed.attempts_done + 1
        );
        common::telemetry::set_remote_parent(&span, claimed.order.traceparent.as_deref());
        self.deliver_in_span(claimed).instrument(span).await
    }

    async fn deliver_in_span(&self, claimed: Claimed) {
        let order_id = claimed.order.id;
        let attempt_no = claimed.attempts_done + 1;
        let (decision, answers) = self.attempt(&claimed, attempt_no).await;
        // Counted as `callback_attempts_total{target="agiso"}` once recorded (notify::record_attempts).
        if decision.outcome == Outcome::GivingUp {
            tracing::warn!(
                event = "agiso_delivery_stopped",
                order_id,
                reason = decision.reason.as_deref().unwrap_or(""),
                "Agiso delivery waits for an operator"
            );
        }
        let rows: Vec<Attempt<'_>> = answers
            .iter()
            .map(|a| Attempt {
                order_id,
                target: CallbackTarget::Agiso,
                attempt_no,
                url: &a.url,
                request_body: Some(&a.request_masked),
                http_status: a.status,
                response_body: std::str::from_utf8(&a.body).ok(),
                duration_ms: u32::try_from(a.duration.as_millis()).unwrap_or(u32::MAX),
                outcome: decision.outcome,
                error: a.transport_error.as_deref().or(decision.reason.as_deref()),
            })
            .collect();
        let recorded = match rows.split_last() {
            Some((last, earlier)) => {
                let logged = notify::log_calls(&self.app.db, earlier).await;
                logged.and(notify::record_attempt(&self.app.db, last).await)
            }
            // No call was made (stopped or postponed before calling): record the decision.
            None => {
                notify::record_attempt(
                    &self.app.db,
                    &Attempt {
                        order_id,
                        target: CallbackTarget::Agiso,
                        attempt_no,
                        url: "",
                        request_body: None,
                        http_status: None,
                        response_body: None,
                        duration_ms: 0,
                        outcome: decision.outcome,
                        error: decision.reason.as_deref(),
                    },
                )
                .await
            }
        };
        if let Err(e) = recorded {
            // The lease makes the order due again: the repeated call is answered −50 or
            // supersedes the stored result, so it does no harm.
            tracing::warn!(order_id, error = %e, "cannot record the Agiso delivery; it will be retried");
        }
    }

    async fn attempt(&self, claimed: &Claimed, attempt_no: i32) -> (Decision, Vec<Answer>) {
        let order = &claimed.order;
        let stop = |reason: String| Decision {
            outcome: Outcome::GivingUp,
            reason: Some(reason),
        };
        let side = match repo::order(&self.app.db, order.id).await {
            Ok(Some(side)) => side,
            Ok(None) => return (stop("找不到该订单的阿奇索信息".into()), Vec::new()),
            Err(e) => {
                return (
                    self.retry(attempt_no, format!("数据库错误：{e}"), false),
                    Vec::new(),
                );
            }
        };
        let shop = match self.app.shops.get(order.shop_id).await {
            Ok(Some(shop)) => shop,
            Ok(None) => return (stop("阿奇索店铺未启用或密钥无法读取".into()), Vec::new()),
            Err(e) => {
                return (
                    self.retry(attempt_no, format!("读取店铺失败：{e}"), false),
                    Vec::new(),
                );
            }
        };
        let plan = match self.plan(claimed, &side).await {
            Ok(plan) => plan,
            Err(e) => {
                return (
                    self.retry(attempt_no, format!("准备发货失败：{e}"), false),
                    Vec::new(),
                );
            }
        };
        let calls = match plan {
            Plan::Calls(calls) => calls,
            Plan::Later(reason) => return (self.retry(attempt_no, reason, false), Vec::new()),
            Plan::Stop(reason) => return (stop(reason), Vec::new()),
        };
        let mut answers = Vec::new();
        for call in calls {
            let answer = self.app.client.call(&shop, &call).await;
            if self.config.abort_after_call {
                tracing::error!("failpoint abort-after-call: exiting before the call is recorded");
                std::process::abort();
            }
            let verdict = match &answer.transport_error {
                Some(e) => Verdict::Retry {
                    rate_limited: false,
                    reason: e.clone(),
                },
                None => codec::verdict(answer.status_or_zero(), &answer.body),
            };
            answers.push(answer);
            match verdict {
                Verdict::Done | Verdict::AlreadyDone => {
                    if call.path == "/Trade/CreateOrderResult" {
                        self.mark_result_stored(&shop, &side).await;
                    }
                }
                Verdict::Retry {
                    rate_limited,
                    reason,
                } => return (self.retry(attempt_no, reason, rate_limited), answers),
                Verdict::Stop { reason } => return (stop(reason), answers),
            }
        }
        (
            Decision {
                outcome: Outcome::Delivered,
                reason: None,
            },
            answers,
        )
    }

    fn retry(&self, attempt_no: i32, reason: String, rate_limited: bool) -> Decision {
        let failures = u32::try_from(attempt_no).unwrap_or(u32::MAX);
        match self.config.schedule.delay(failures) {
            Some(delay) => Decision {
                outcome: Outcome::Retry(if rate_limited {
                    delay.max(RATE_LIMITED_PAUSE)
                } else {
                    delay
                }),
                reason: Some(reason),
            },
            None => Decision {
                outcome: Outcome::GivingUp,
                reason: Some(format!("多次重试仍失败：{reason}")),
            },
        }
    }

    async fn mark_result_stored(&self, shop: &AgisoShop, side: &AgisoOrderRow) {
        if let Ok(siblings) = repo::orders_of_tid(&self.app.db, shop.service, &side.tid).await {
            for s in siblings {
                if let Err(e) =
                    repo::set_step(&self.app.db, s.order_id, DeliveryStep::ResultStored).await
                {
                    tracing::warn!(order_id = s.order_id, error = %e, "cannot mark the Agiso result stored");
                }
            }
        }
    }

    async fn plan(&self, claimed: &Claimed, side: &AgisoOrderRow) -> anyhow::Result<Plan> {
        let order = &claimed.order;
        let tid = PlatformOrderNo::parse(&side.tid)
            .map_err(|_| anyhow::anyhow!("stored tid is not an order number"))?;
        let failed = order.status == OrderStatus::Failed;
        Ok(match side.order_type {
            OrderType::Taobao => return self.plan_taobao(side, &tid).await,
            _ if failed => match codec::jd_refund(side.order_type, &tid) {
                Some(call) => Plan::Calls(vec![call]),
                None => Plan::Stop("订单失败，需人工退款".into()),
            },
            OrderType::JdGameCard => match self.cards_of(order).await? {
                Ok(cards) => Plan::Calls(vec![codec::jd_card_send(&tid, &cards)]),
                Err(reason) => Plan::Stop(reason),
            },
            OrderType::JdGameRecharge => Plan::Calls(vec![codec::jd_recharge_send(&tid)]),
            OrderType::JdVtp => Plan::Calls(vec![codec::jd_vtp_send(&tid)]),
        })
    }

    /// A Taobao trade ships once: when every sub-order is final, all of them succeeded.
    async fn plan_taobao(
        &self,
        side: &AgisoOrderRow,
        tid: &PlatformOrderNo,
    ) -> anyhow::Result<Plan> {
        let siblings = repo::orders_of_tid(&self.app.db, side.service, &side.tid).await?;
        let mut lines = Vec::new();
        for s in &siblings {
            let Some(order) = common::db::orders::get(&self.app.db, s.order_id).await? else {
                continue;
            };
            match order.status {
                OrderStatus::Succeeded => {}
                OrderStatus::Failed => {
                    return Ok(Plan::Stop(
                        "淘宝订单有子订单失败：请在淘宝后台为买家处理退款或补发".into(),
                    ));
                }
                _ => return Ok(Plan::Later("等待同一淘宝订单的其他子订单完成".into())),
            }
            if order.order_kind == OrderKind::Card {
                match self.cards_of(&order).await? {
                    Ok(cards) => lines.push(LineCards {
                        oid: order.platform_order_no.clone(),
                        title: order.sku.clone(),
                        cards,
                    }),
                    Err(reason) => return Ok(Plan::Stop(reason)),
                }
            }
        }
        let mut calls = Vec::new();
        if !lines.is_empty() && side.step != DeliveryStep::ResultStored {
            match codec::create_order_result(tid, &lines) {
                Some(call) => calls.push(call),
                None => {
                    return Ok(Plan::Stop(format!(
                        "卡密内容超过阿奇索 {} 字符上限，请人工发货",
                        codec::CREATE_ORDER_RESULT_MAX_CHARS
                    )));
                }
            }
        }
        calls.push(codec::logistics_dummy_send(tid));
        Ok(Plan::Calls(calls))
    }

    /// Exactly the order's sold cards, or why they cannot be delivered.
    async fn cards_of(
        &self,
        order: &common::db::orders::OrderRow,
    ) -> anyhow::Result<Result<Vec<DeliveredCard>, String>> {
        Ok(
            match cards::for_success(&self.app.db, &self.app.key, order, ACTOR).await? {
                SuccessCards::Complete(lines) => Ok(lines
                    .into_iter()
                    .map(|c| DeliveredCard {
                        card_no: c.card_no,
                        password: c.password,
                        expires: c
                            .expires_on
                            .map(|d| format!("{} 23:59:59", d.format("%Y-%m-%d"))),
                    })
                    .collect()),
                SuccessCards::Mismatch { expected, found } => {
                    Err(format!("卡密数量不符：应有 {expected} 张，实有 {found} 张"))
                }
                SuccessCards::Unreadable => Err("卡密无法解密".into()),
            },
        )
    }
}
