//! 死信队列: the messages the broker dead-lettered (collected into `dead_letters` by
//! [`crate::dead_letters::collect`]), pending ones first, with their payload (pretty JSON, or
//! text / hex when it is not), source queue, reason and count; replay (back through the outbox,
//! for payloads that are order events) and discard, by operators, audited, each at most once.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use common::db::Tx;
use common::domain::DeadLetterStatus;
use common::mq::Event;
use common::mq::outbox;

use crate::web::auth::{CurrentUser, Operator};
use crate::web::form::{first, path_id};
use crate::web::page::{self, Chrome, Nav, PageLink, Pager, Where};
use crate::web::{AppState, WebError, WebResult};

mod queries;

use queries::Row;

pub const PER_PAGE: u64 = 50;
/// Payload bytes read for the list (an order event is ~200 bytes).
pub(crate) const PREVIEW_BYTES: usize = 4096;
/// Payload bytes shown on the detail page.
pub(crate) const DETAIL_BYTES: usize = 65_536;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/dead-letters", get(list))
        .route("/admin/dead-letters/{id}", get(detail))
        .route("/admin/dead-letters/{id}/replay", post(replay))
        .route("/admin/dead-letters/{id}/discard", post(discard))
}

/// The label and badge class of a status.
fn status_label(s: DeadLetterStatus) -> (String, &'static str) {
    let (label, class) = match s {
        DeadLetterStatus::Pending => ("待处理", "pending"),
        DeadLetterStatus::Replayed => ("已重放", "ok"),
        DeadLetterStatus::Discarded => ("已丢弃", "void"),
    };
    (label.to_owned(), class)
}

fn reason_label(r: &str) -> String {
    match r {
        "rejected" => "被消费者拒绝（rejected）".to_owned(),
        "delivery_limit" => "超过投递次数上限（delivery_limit）".to_owned(),
        "expired" => "已过期（expired）".to_owned(),
        "maxlen" => "队列已满（maxlen）".to_owned(),
        "" => "未知".to_owned(),
        other => other.to_owned(),
    }
}

/// A payload for display: pretty JSON when it parses, the text when it is UTF-8, otherwise a
/// hex dump with the lossy text. Cut at `max_chars`.
pub fn payload_text(bytes: &[u8], pretty: bool, max_chars: usize) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v) if pretty => serde_json::to_string_pretty(&v).unwrap_or_else(|_| s.to_owned()),
            Ok(v) => v.to_string(),
            Err(_) => s.to_owned(),
        },
        Err(_) => {
            let head = &bytes[..bytes.len().min(256)];
            let hex: Vec<String> = head
                .chunks(32)
                .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
                .collect();
            format!(
                "（非 UTF-8 内容，{} 字节）\n十六进制：\n{}\n文本：{}",
                bytes.len(),
                hex.join("\n"),
                String::from_utf8_lossy(bytes)
            )
        }
    };
    if text.chars().count() > max_chars {
        let mut out: String = text.chars().take(max_chars).collect();
        out.push_str("…（已截断）");
        out
    } else {
        text
    }
}

pub struct Line {
    pub id: u64,
    pub message_id: String,
    pub routing_key: String,
    pub source_queue: String,
    pub reason: String,
    pub count: i32,
    pub payload: String,
    pub size: String,
    pub status: String,
    pub status_class: &'static str,
    pub handled: String,
    pub created: String,
    pub pending: bool,
    pub replayable: bool,
    pub order_id: Option<u64>,
}

fn line(r: Row) -> Line {
    let (status, status_class) = status_label(r.status);
    let event = Event::parse(&r.payload).ok();
    Line {
        id: r.id,
        message_id: r.message_id.unwrap_or_default(),
        routing_key: r.routing_key,
        source_queue: r.source_queue.unwrap_or_default(),
        reason: reason_label(r.reason.as_deref().unwrap_or_default()),
        count: r.death_count,
        payload: payload_text(&r.payload, false, 300),
        size: format!(
            "{} 字节",
            page::thousands(u64::try_from(r.size).unwrap_or(0))
        ),
        pending: r.status == DeadLetterStatus::Pending,
        replayable: r.status == DeadLetterStatus::Pending && event.is_some(),
        order_id: event.map(|e| e.order_id),
        status,
        status_class,
        handled: match (r.handled_by, r.handled_at) {
            (Some(by), Some(at)) => format!("{by} · {}", page::beijing(at)),
            (Some(by), None) => by,
            _ => String::new(),
        },
        created: page::beijing(r.created_at),
    }
}

pub struct Tab {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "dead_letters/list.html")]
struct ListPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    pending_total: String,
    lines: Vec<Line>,
    total: String,
    links: Vec<PageLink>,
    redirect: String,
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Vec<(String, String)>>,
) -> WebResult<Response> {
    let param = |name: &str| first(&q, name).trim().to_owned();
    let status = param("status").parse::<DeadLetterStatus>().ok();
    let page_no = param("page").parse().ok();
    let mut pending_w = Where::new();
    pending_w.push(
        "status = ?",
        [page::Arg::Str(DeadLetterStatus::Pending.as_str().into())],
    );
    let pending = page::count_capped(&state.db, "dead_letters", &pending_w).await?;
    let (pager, lines) = match status {
        Some(s) => {
            let mut w = Where::new();
            w.push("status = ?", [page::Arg::Str(s.as_str().into())]);
            let total = page::count_capped(&state.db, "dead_letters", &w).await?;
            let pager = Pager::new(
                page_no,
                PER_PAGE,
                total,
                format!("/admin/dead-letters?status={}", s.as_str()),
            );
            let r = queries::rows(
                &state.db,
                "WHERE status = ?",
                Some(s),
                pager.per_page,
                pager.offset(),
            )
            .await?;
            (pager, r)
        }
        None => {
            // Pending first (index (status, id)), then the handled ones, newest first in each.
            let all = page::count_capped(&state.db, "dead_letters", &Where::new()).await?;
            let pager = Pager::new(page_no, PER_PAGE, all, "/admin/dead-letters".into());
            let (p, off) = (pending.0, pager.offset());
            let mut r = Vec::new();
            if off < p {
                r = queries::rows(
                    &state.db,
                    "WHERE status = ?",
                    Some(DeadLetterStatus::Pending),
                    pager.per_page,
                    off,
                )
                .await?;
            }
            let missing = pager.per_page - r.len() as u64;
            if missing > 0 {
                let off2 = off.saturating_sub(p);
                r.extend(
                    queries::rows(&state.db, "WHERE status <> 'pending'", None, missing, off2)
                        .await?,
                );
            }
            (pager, r)
        }
    };
    let tabs = [
        ("/admin/dead-letters", "全部（待处理在前）", None),
        (
            "/admin/dead-letters?status=pending",
            "待处理",
            Some(DeadLetterStatus::Pending),
        ),
        (
            "/admin/dead-letters?status=replayed",
            "已重放",
            Some(DeadLetterStatus::Replayed),
        ),
        (
            "/admin/dead-letters?status=discarded",
            "已丢弃",
            Some(DeadLetterStatus::Discarded),
        ),
    ]
    .into_iter()
    .map(|(href, label, s)| Tab {
        href,
        label,
        active: s == status,
    })
    .collect();
    let redirect = match status {
        Some(s) => format!("/admin/dead-letters?status={}", s.as_str()),
        None => "/admin/dead-letters".to_owned(),
    };
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::DeadLetters),
        tabs,
        pending_total: if pending.1 {
            format!("超过 {}", page::thousands(pending.0))
        } else {
            page::thousands(pending.0)
        },
        lines: lines.into_iter().map(line).collect(),
        total: pager.total_label(),
        links: pager.links(),
        redirect,
    })
}

#[derive(Template)]
#[template(path = "dead_letters/detail.html")]
struct DetailPage {
    chrome: Chrome,
    l: Line,
    payload: String,
    event: String,
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let r = queries::letter(&state.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let payload = payload_text(&r.payload, true, DETAIL_BYTES);
    let event = match Event::parse(&r.payload) {
        Ok(e) => format!(
            "订单事件 {}（订单 #{}，{}），可重放：重放后由 {} 重新处理。",
            e.kind.as_str(),
            e.order_id,
            e.platform.label_zh(),
            e.routing_key()
        ),
        Err(_) => "不是可识别的订单事件，不能重放，只能丢弃。".to_owned(),
    };
    page::render(&DetailPage {
        chrome: Chrome::new(&user, Nav::DeadLetters),
        l: line(r),
        payload,
        event,
    })
}

/// Where to go back to after an action (a list URL of ours, else the list).
fn back(q: &[(String, String)]) -> String {
    q.iter()
        .find(|(k, _)| k == "back")
        .map(|(_, v)| v.as_str())
        .filter(|v| v.starts_with("/admin/dead-letters") && !v.contains("//"))
        .unwrap_or("/admin/dead-letters")
        .to_owned()
}

/// A letter locked for an action while still pending: its routing key and payload.
struct Pending {
    routing_key: String,
    payload: Vec<u8>,
}

/// Locks letter `id`: `Ok(Err(answer))` when it was handled already (a repeated submit: the
/// answer says so and nothing changes), 404 when there is none.
async fn lock_pending(tx: &mut Tx, id: u64, to: &str) -> WebResult<Result<Pending, Response>> {
    let row = queries::lock(tx, id).await?;
    let Some((status, routing_key, payload)) = row else {
        return Err(WebError::NotFound);
    };
    if status != DeadLetterStatus::Pending {
        return Ok(Err(page::redirect_ok(
            to,
            format!(
                "死信 #{id} 已处理（{}），未重复操作。",
                status_label(status).0
            ),
        )));
    }
    Ok(Ok(Pending {
        routing_key,
        payload,
    }))
}

async fn replay(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let to = back(&q);
    let mut tx = state.db.begin().await?;
    let payload = match lock_pending(&mut tx, id, &to).await? {
        Ok(letter) => letter.payload,
        Err(answer) => {
            tx.rollback().await?;
            return Ok(answer);
        }
    };
    let Ok(event) = Event::parse(&payload) else {
        tx.rollback().await?;
        return Ok(page::redirect_error(
            &to,
            format!("死信 #{id} 的内容不是可识别的订单事件，不能重放，只能丢弃。"),
        ));
    };
    // The same event (same message id): if it dies again, the collector finds this row. It
    // continues the operator's request's trace.
    outbox::enqueue(&mut tx, &[event.clone().traced_here()]).await?;
    queries::mark_handled(&mut tx, id, DeadLetterStatus::Replayed, &user.username).await?;
    user.audit(
        &mut *tx,
        "dead_letter.replay",
        Some(("dead_letter", id.to_string())),
        Some(format!(
            "{}（订单 #{}，事件 {}）",
            event.routing_key(),
            event.order_id,
            event.event_id
        )),
    )
    .await?;
    tx.commit().await?;
    state.outbox.notify();
    tracing::info!(dead_letter = id, order = event.order_id, user = %user.username, "dead letter replayed");
    Ok(page::redirect_ok(
        &to,
        format!(
            "死信 #{id} 已重放：{}（订单 #{}）",
            event.routing_key(),
            event.order_id
        ),
    ))
}

async fn discard(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let to = back(&q);
    let mut tx = state.db.begin().await?;
    let routing_key = match lock_pending(&mut tx, id, &to).await? {
        Ok(letter) => letter.routing_key,
        Err(answer) => {
            tx.rollback().await?;
            return Ok(answer);
        }
    };
    queries::mark_handled(&mut tx, id, DeadLetterStatus::Discarded, &user.username).await?;
    user.audit(
        &mut *tx,
        "dead_letter.discard",
        Some(("dead_letter", id.to_string())),
        Some(routing_key),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(dead_letter = id, user = %user.username, "dead letter discarded");
    Ok(page::redirect_ok(&to, format!("死信 #{id} 已丢弃。")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_shown_safely() {
        assert_eq!(payload_text(br#"{"a": 1}"#, false, 100), r#"{"a":1}"#);
        assert_eq!(payload_text(br#"{"a":1}"#, true, 100), "{\n  \"a\": 1\n}");
        assert_eq!(payload_text(b"plain", true, 100), "plain");
        let bin = payload_text(&[0xff, 0x00, 0x41], false, 1000);
        assert!(bin.contains("ff0041"), "{bin}");
        assert!(bin.contains("3 字节"));
        let long = payload_text(&[b'x'; 50], false, 10);
        assert!(long.starts_with("xxxxxxxxxx…"));
        assert_eq!(status_label(DeadLetterStatus::Pending).1, "pending");
        assert_eq!(status_label(DeadLetterStatus::Discarded).1, "void");
        assert_eq!(
            reason_label("delivery_limit"),
            "超过投递次数上限（delivery_limit）"
        );
        assert_eq!(
            back(&[("back".into(), "/admin/dead-letters?status=pending".into())]),
            "/admin/dead-letters?status=pending"
        );
        assert_eq!(
            back(&[("back".into(), "https://evil.example".into())]),
            "/admin/dead-letters"
        );
    }
}
