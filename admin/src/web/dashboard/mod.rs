//! 仪表盘: today's and the last 7 days' orders, success rate and amounts, orders by status and
//! platform, what needs an operator (orders awaiting manual handling, callbacks given up,
//! low stock, dead letters), orders per hour as a server-rendered SVG chart, the liveness of
//! every service instance (heartbeats) and the depth of every queue.
//!
//! The aggregates over days of orders are a cached [`Snapshots`] of [`CACHE_TTL`]: with millions
//! of orders an operator's refresh must not rescan them every time.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::{NaiveDateTime, Timelike};
use common::db::Pool;
use common::domain::{OrderStatus, Platform};
use common::mq::{Mq, QueueName};

use crate::web::auth::CurrentUser;
use crate::web::page::{self, Chrome, Nav};
use crate::web::snapshot::Snapshots;
use crate::web::{AppState, WebResult};

mod queries;

const CACHE_TTL: Duration = Duration::from_secs(15);

/// An instance is shown as down when its last heartbeat is older than this (it beats every 10 s).
const HEARTBEAT_STALE_SECS: i64 = 35;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/", get(show))
}

/// One tile of the summary.
pub struct Stat {
    pub label: &'static str,
    pub value: String,
    /// CSS class: "", "warn" or "bad".
    pub class: &'static str,
    pub href: Option<String>,
}

pub struct CountRow {
    pub label: String,
    pub class: String,
    pub today: String,
    pub week: String,
    pub href: String,
}

pub struct LowStock {
    pub product: String,
    pub available: String,
    pub threshold: String,
    pub href: String,
}

pub struct Instance {
    pub service: String,
    pub host: String,
    pub version: String,
    pub started: String,
    pub last_seen: String,
    pub up: bool,
}

pub struct QueueDepth {
    pub name: String,
    pub label: &'static str,
    pub messages: String,
    pub consumers: String,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    stats: Vec<Stat>,
    by_status: Vec<CountRow>,
    by_platform: Vec<CountRow>,
    chart_svg: String,
    low_stock: Vec<LowStock>,
    instances: Vec<Instance>,
    queues: Vec<QueueDepth>,
    queues_error: Option<String>,
    computed_at: String,
}

/// Aggregates that are cached.
#[derive(Clone)]
struct Aggregates {
    /// (status, platform, today count, today fen, week count, week fen)
    groups: Vec<(OrderStatus, Platform, i64, i64, i64, i64)>,
    /// Orders per hour of the last 24 hours: (hour start UTC, total, failed).
    hourly: Vec<(NaiveDateTime, i64, i64)>,
    /// Orders awaiting an operator, awaiting stock, callbacks given up, pending dead letters.
    queues_of_work: [i64; 4],
    computed_at: NaiveDateTime,
}

static AGGREGATES: LazyLock<Snapshots<Aggregates>> = LazyLock::new(|| Snapshots::new(CACHE_TTL));

/// The cached aggregates ([`Snapshots`]: stale ones are served while one task recomputes them).
async fn aggregates(pool: &Pool) -> sqlx::Result<Arc<Aggregates>> {
    AGGREGATES.get(pool, compute).await
}

/// Computes the first aggregates in the background (at start).
pub fn warm(pool: &Pool) {
    AGGREGATES.warm(pool, compute);
}

/// Drops the aggregates: the next view computes them afresh.
pub fn forget(pool: &Pool) {
    AGGREGATES.forget(pool);
}

async fn compute(pool: Pool) -> sqlx::Result<Aggregates> {
    let pool = &pool;
    let today_start = page::beijing_day_start(&page::beijing_today().to_string())
        .unwrap_or_else(|| chrono::Utc::now().naive_utc());
    let week_start = today_start - chrono::Duration::days(6);
    let groups = queries::order_groups(pool, today_start, week_start).await?;
    let now = chrono::Utc::now().naive_utc();
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let since = this_hour - chrono::Duration::hours(23);
    let hourly_rows = queries::hourly(pool, since).await?;
    let mut hourly: Vec<(NaiveDateTime, i64, i64)> = (0..24)
        .map(|i| (since + chrono::Duration::hours(i), 0, 0))
        .collect();
    for (h, total, failed) in hourly_rows {
        if let Some(slot) = usize::try_from(h).ok().and_then(|h| hourly.get_mut(h)) {
            slot.1 = total;
            slot.2 = failed;
        }
    }
    let queues_of_work = crate::gauges::queues_of_work(pool).await?;
    let a = Aggregates {
        groups,
        hourly,
        queues_of_work,
        computed_at: now,
    };
    Ok(a)
}

fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Orders per hour as an SVG bar chart (failed orders stacked in red), Beijing hours.
pub fn hourly_chart(hourly: &[(NaiveDateTime, i64, i64)]) -> String {
    let (w, h, left, bottom, top) = (960.0_f64, 180.0_f64, 44.0_f64, 20.0_f64, 10.0_f64);
    // A multiple of 4 so that every grid line is a whole number of orders.
    let max = (hourly.iter().map(|x| x.1).max().unwrap_or(0).max(1) as f64 / 4.0).ceil() * 4.0;
    let plot_h = h - bottom - top;
    let slot = (w - left) / hourly.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"最近 24 小时每小时订单数\">"
    );
    for i in 0..=4 {
        let y = top + plot_h * f64::from(i) / 4.0;
        let v = max * f64::from(4 - i) / 4.0;
        svg.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{w}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 4.0,
            y + 3.0,
            v.round() as i64
        ));
    }
    for (i, (hour, total, failed)) in hourly.iter().enumerate() {
        let x = left + slot * i as f64 + 2.0;
        let bw = (slot - 4.0).max(1.0);
        let th = plot_h * (*total as f64) / max;
        let fh = plot_h * (*failed as f64) / max;
        let label = hour
            .and_utc()
            .with_timezone(&common::domain::beijing())
            .format("%H")
            .to_string();
        svg.push_str(&format!(
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{th:.1}\"><title>{label}时 {total} 单，失败 {failed}</title></rect>",
            top + plot_h - th
        ));
        if *failed > 0 {
            svg.push_str(&format!(
                "<rect class=\"bar fail\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{fh:.1}\"/>",
                top + plot_h - fh
            ));
        }
        if i % 2 == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                x + bw / 2.0,
                h - 6.0
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Messages ready and consumers of every queue (passive declares; read-only).
async fn queue_depths(mq: &Mq) -> anyhow::Result<Vec<QueueDepth>> {
    let ch = mq.channel().await?;
    let mut out = Vec::new();
    for q in QueueName::ALL {
        let name = mq.topology.queue(q);
        let declared = ch
            .queue_declare(
                name.clone().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        let messages = declared.message_count();
        let class = match (q, messages) {
            (QueueName::DeadLetters, n) if n > 0 => "bad",
            (_, n) if n > 1000 => "warn",
            _ => "",
        };
        out.push(QueueDepth {
            label: match q {
                QueueName::FulfillmentOrders => "待履约订单",
                QueueName::NotifierCallbacks => "待发送回调",
                QueueName::AgisoDeliveries => "阿奇索发货",
                QueueName::DeadLetters => "死信（未收取）",
            },
            name,
            messages: page::thousands(u64::from(messages)),
            consumers: declared.consumer_count().to_string(),
            class,
        });
    }
    let _ = ch.close(200, "dashboard".into()).await;
    Ok(out)
}

async fn show(State(state): State<AppState>, user: CurrentUser) -> WebResult<Response> {
    let db = &state.db;
    let a = aggregates(db).await?;
    let (mut today_n, mut today_fen, mut today_ok, mut today_final) = (0i64, 0i64, 0i64, 0i64);
    let (mut week_n, mut week_fen, mut week_ok, mut week_final) = (0i64, 0i64, 0i64, 0i64);
    let mut by_status: Vec<CountRow> = Vec::new();
    let mut by_platform: Vec<CountRow> = Vec::new();
    for s in [
        OrderStatus::Received,
        OrderStatus::Processing,
        OrderStatus::AwaitingStock,
        OrderStatus::AwaitingManual,
        OrderStatus::Succeeded,
        OrderStatus::Failed,
    ] {
        let rows = a.groups.iter().filter(|g| g.0 == s);
        let (t, w) = rows.fold((0, 0), |acc, g| (acc.0 + g.2, acc.1 + g.4));
        by_status.push(CountRow {
            label: s.label_zh().into(),
            class: s.as_str().into(),
            today: page::thousands(t as u64),
            week: page::thousands(w as u64),
            href: format!("/admin/orders?status={}", s.as_str()),
        });
    }
    for p in [Platform::JdGeneral, Platform::JdGame, Platform::Agiso] {
        let rows = a.groups.iter().filter(|g| g.1 == p);
        let (t, w) = rows.fold((0, 0), |acc, g| (acc.0 + g.2, acc.1 + g.4));
        by_platform.push(CountRow {
            label: p.label_zh().into(),
            class: String::new(),
            today: page::thousands(t as u64),
            week: page::thousands(w as u64),
            href: format!("/admin/orders?platform={}", p.as_str()),
        });
    }
    for (status, _, tn, tf, wn, wf) in &a.groups {
        today_n += tn;
        week_n += wn;
        if *status == OrderStatus::Succeeded {
            today_ok += tn;
            week_ok += wn;
            today_fen += tf;
            week_fen += wf;
        }
        if status.is_final() {
            today_final += tn;
            week_final += wn;
        }
    }
    let [awaiting_manual, awaiting_stock, giving_up, dead] = a.queues_of_work;
    let stats = vec![
        Stat {
            label: "今日订单",
            value: page::thousands(today_n as u64),
            class: "",
            href: None,
        },
        Stat {
            label: "今日成功率",
            value: percent(today_ok, today_final),
            class: if today_final > 0 && today_ok * 100 < today_final * 95 {
                "warn"
            } else {
                ""
            },
            href: None,
        },
        Stat {
            label: "今日成交金额(元)",
            value: page::yuan(today_fen),
            class: "",
            href: None,
        },
        Stat {
            label: "近 7 日订单",
            value: page::thousands(week_n as u64),
            class: "",
            href: None,
        },
        Stat {
            label: "近 7 日成功率",
            value: percent(week_ok, week_final),
            class: "",
            href: None,
        },
        Stat {
            label: "近 7 日成交金额(元)",
            value: page::yuan(week_fen),
            class: "",
            href: None,
        },
        Stat {
            label: "待人工处理",
            value: page::thousands(awaiting_manual as u64),
            class: if awaiting_manual > 0 { "bad" } else { "" },
            href: Some("/admin/orders?status=awaiting_manual".into()),
        },
        Stat {
            label: "等待补货",
            value: page::thousands(awaiting_stock as u64),
            class: if awaiting_stock > 0 { "warn" } else { "" },
            href: Some("/admin/orders?status=awaiting_stock".into()),
        },
        Stat {
            label: "回调已放弃",
            value: page::thousands(giving_up as u64),
            class: if giving_up > 0 { "bad" } else { "" },
            href: Some("/admin/orders?notify_status=giving_up".into()),
        },
        Stat {
            label: "死信",
            value: page::thousands(dead as u64),
            class: if dead > 0 { "bad" } else { "" },
            href: Some("/admin/dead-letters".into()),
        },
    ];
    // Low stock: products whose edge-triggered alert is armed, with a bounded count.
    let low = queries::low_stock_products(db).await?;
    let mut low_stock = Vec::new();
    for (id, name, threshold) in low {
        let n = common::db::cards::available_at_least(db, id, i64::from(threshold) + 1).await?;
        low_stock.push(LowStock {
            product: name,
            available: n.to_string(),
            threshold: threshold.to_string(),
            href: format!("/admin/cards?product={id}"),
        });
    }
    let beats = queries::heartbeats(db).await?;
    let instances = beats
        .into_iter()
        .map(|(service, host, version, started, seen, ago)| Instance {
            service,
            host,
            version,
            started: page::beijing(started),
            last_seen: page::beijing(seen),
            up: ago <= HEARTBEAT_STALE_SECS,
        })
        .collect();
    let (queues, queues_error) =
        match tokio::time::timeout(Duration::from_secs(2), queue_depths(&state.mq)).await {
            Ok(Ok(q)) => (q, None),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read queue depths");
                (
                    Vec::new(),
                    Some("无法读取队列深度：消息队列不可用".to_owned()),
                )
            }
            Err(_) => (Vec::new(), Some("读取队列深度超时".to_owned())),
        };
    page::render(&DashboardPage {
        chrome: Chrome::new(&user, Nav::Dashboard),
        stats,
        by_status,
        by_platform,
        chart_svg: hourly_chart(&a.hourly),
        low_stock,
        instances,
        queues,
        queues_error,
        computed_at: page::beijing(a.computed_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_a_bar_per_hour_and_escapes_nothing_foreign() {
        let t0 = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let hourly: Vec<_> = (0..24)
            .map(|i| (t0 + chrono::Duration::hours(i), i, i64::from(i == 5)))
            .collect();
        let svg = hourly_chart(&hourly);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 24);
        assert_eq!(svg.matches("class=\"bar fail\"").count(), 1);
        // Hours are labelled in Beijing time: 00:00 UTC is 08 o'clock.
        assert!(svg.contains("<title>08时 0 单，失败 0</title>"));
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "—");
    }
}
