//! The backstop: what a lost push would have told us, found by asking Agiso (§5).
//!
//! - Taobao (`alds`): `Trade/TradesBuyerPay` (paid, awaiting shipment) from `modifyTimeStart` =
//!   the last poll minus an overlap (or a look-back on the first poll), paging until a short
//!   page; every trade goes through the same intake as the paid push (aopic 2), so a trade
//!   already pushed is found, not created again. A lean push (aopic 2097152) waiting for its
//!   lines is completed through `Trade/TradeInfo`.
//! - JD (`aldsJd`) has no list endpoint (§4.1): stored JD events are re-checked through
//!   `Order/Detail`; an order JD cancelled is cancelled here too if it was not fulfilled.

use std::time::Duration;

use chrono::{FixedOffset, NaiveDateTime, Utc};
use common::db::agiso::{self as repo, EventState, Source};
use common::protocol::agiso::AgisoEnvelope;
use common::protocol::agiso_order::{self as codec, Call, Service};
use serde::Serialize;

use crate::AgisoSync;
use crate::intake::{self, Accepted};
use crate::shops::AgisoShop;

/// Trades per `TradesBuyerPay` page (Agiso's maximum).
pub const PAGE_SIZE: usize = 100;
/// Pages per poll at most (a bound, not a limit one expects to reach).
const MAX_PAGES: usize = 50;
/// The poll window reaches this far before the previous poll's start.
pub const OVERLAP: Duration = Duration::from_secs(10 * 60);
/// The first poll of a shop looks back this far.
pub const LOOK_BACK: Duration = Duration::from_secs(24 * 3600);
/// Stored events re-read per poll at most.
const PENDING_PER_POLL: u32 = 100;

/// What one poll did (the operator endpoint answers it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Polled {
    pub shops: usize,
    pub pages: usize,
    pub trades: usize,
    pub new_events: usize,
    pub orders_created: usize,
    pub details_read: usize,
    pub errors: Vec<String>,
}

/// Agiso's times are Beijing time, `yyyy-MM-dd HH:mm:ss` (§4.1).
fn beijing(t: NaiveDateTime) -> String {
    let offset = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is valid");
    t.and_utc()
        .with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Polls every enabled shop once.
pub async fn poll_all(app: &AgisoSync) -> anyhow::Result<Polled> {
    let shops = app.shops.all().await?;
    let mut polled = Polled {
        shops: shops.len(),
        ..Polled::default()
    };
    for shop in shops.iter() {
        if shop.service == Service::Alds
            && let Err(e) = poll_taobao(app, shop, &mut polled).await
        {
            tracing::warn!(shop_id = shop.id, error = %e, "Agiso Taobao poll failed");
            polled.errors.push(format!("店铺 {}：{e}", shop.id));
        }
    }
    if let Err(e) = read_pending(app, &shops, &mut polled).await {
        tracing::warn!(error = %e, "re-reading stored Agiso events failed");
        polled.errors.push(e.to_string());
    }
    Ok(polled)
}

/// The payload of a successful call, exactly as sent; the reason otherwise.
async fn data_of(app: &AgisoSync, shop: &AgisoShop, call: &Call) -> Result<String, String> {
    let answer = app.client.call(shop, call).await;
    if let Some(e) = answer.transport_error {
        return Err(e);
    }
    if answer.status != Some(200) {
        return Err(format!("阿奇索应答 HTTP {}", answer.status_or_zero()));
    }
    let envelope = AgisoEnvelope::parse(&answer.body).map_err(|e| e.to_string())?;
    if !envelope.is_success {
        return Err(envelope.failure_reason_zh());
    }
    Ok(codec::envelope_data(&answer.body).unwrap_or_else(|| "null".into()))
}

async fn poll_taobao(app: &AgisoSync, shop: &AgisoShop, polled: &mut Polled) -> anyhow::Result<()> {
    let started = Utc::now().naive_utc();
    let since = match repo::poll_mark(&app.db, shop.id).await? {
        Some(mark) => mark - OVERLAP,
        None => started - LOOK_BACK,
    };
    // The orders a poll creates continue its trace (the poll's span, or the operator's request).
    let here = common::telemetry::current_traceparent();
    let mut failed = 0usize;
    for page in 1..=MAX_PAGES {
        let call = codec::trades_buyer_pay(&beijing(since), page, PAGE_SIZE);
        let data = data_of(app, shop, &call)
            .await
            .map_err(anyhow::Error::msg)?;
        let trades = codec::array_items(&data)?;
        polled.pages += 1;
        polled.trades += trades.len();
        for trade in &trades {
            // One trade that cannot be stored must not hold back the others; the window's
            // start then stays where it was, so the next poll reads it again.
            match intake::accept(&app.db, shop, Source::Poll, 2, trade, here.as_deref()).await {
                Ok(Accepted::Stored { created, .. }) => {
                    polled.new_events += 1;
                    polled.orders_created += created;
                }
                Ok(Accepted::Duplicate) => {}
                Err(e) => {
                    tracing::warn!(shop_id = shop.id, error = %e, "a polled Agiso trade was not stored");
                    failed += 1;
                }
            }
        }
        if trades.len() < PAGE_SIZE {
            break;
        }
    }
    if failed > 0 {
        polled
            .errors
            .push(format!("店铺 {}：{failed} 笔交易未能入库", shop.id));
        return Ok(());
    }
    repo::set_poll_mark(&app.db, shop.id, started).await?;
    Ok(())
}

/// Stored events still waiting for their lines (Taobao lean pushes) or for a JD re-check.
async fn read_pending(
    app: &AgisoSync,
    shops: &[AgisoShop],
    polled: &mut Polled,
) -> anyhow::Result<()> {
    let here = common::telemetry::current_traceparent();
    for event in repo::pending_events(&app.db, PENDING_PER_POLL).await? {
        let Some(shop) = shops.iter().find(|s| s.id == event.shop_id) else {
            repo::retry_later(&app.db, event.id, "店铺未启用，暂不读取订单详情").await?;
            continue;
        };
        polled.details_read += 1;
        let call = codec::order_detail(shop.service, &event.tid);
        let data = match data_of(app, shop, &call).await {
            Ok(d) => d,
            Err(reason) => {
                polled.errors.push(format!("订单 {}：{reason}", event.tid));
                repo::retry_later(&app.db, event.id, &format!("读取订单详情失败：{reason}"))
                    .await?;
                continue;
            }
        };
        match shop.service {
            Service::Alds => {
                if let Err(e) = codec::taobao_trade(&data) {
                    repo::retry_later(&app.db, event.id, &format!("订单详情无法读取：{e}")).await?;
                    continue;
                }
                // The trade's lines, through the paid-push path (aopic 2): one order per line,
                // found rather than created again if another event created it.
                if let Accepted::Stored { created, .. } =
                    intake::accept(&app.db, shop, Source::Poll, 2, &data, here.as_deref()).await?
                {
                    polled.orders_created += created;
                }
                repo::finish_event(
                    &app.db,
                    event.id,
                    EventState::Done,
                    Some("已按订单详情处理"),
                )
                .await?;
            }
            Service::AldsJd => {
                let note = match codec::jd_detail(&data) {
                    Ok(detail) if detail.is_canceled() => {
                        intake::cancel_unfulfilled(&app.db, shop, detail.tid.as_str()).await?
                    }
                    Ok(detail) => format!(
                        "京东订单状态：{}",
                        detail.state.as_deref().unwrap_or("未知")
                    ),
                    Err(e) => format!("订单详情无法读取：{e}"),
                };
                repo::finish_event(&app.db, event.id, EventState::Done, Some(&note)).await?;
            }
        }
    }
    Ok(())
}

/// Polls every `every` until `stop` (off when zero).
pub async fn run(
    app: std::sync::Arc<AgisoSync>,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match app.shops.all().await {
            Ok(shops) if shops.is_empty() => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Agiso shops");
                continue;
            }
        }
        let span = tracing::info_span!("agiso_poll");
        match tracing::Instrument::instrument(poll_all(&app), span).await {
            Ok(p) if p.orders_created > 0 => {
                tracing::warn!(
                    orders = p.orders_created,
                    "the Agiso poll found orders no push brought"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Agiso poll failed"),
        }
    }
}
