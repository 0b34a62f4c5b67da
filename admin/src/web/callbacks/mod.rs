//! 回调日志: every outbound call logged in `callback_attempts` (JD callbacks, Agiso calls,
//! supplier calls), newest first, filtered by target, outcome, order number and Beijing date;
//! and one attempt in full (URL, request and answer bodies — card data already masked by the
//! sender — status, duration, error, next attempt) with a link to its order.
//!
//! Every filter combination reads its 50 rows in index order: `(created_at)`, `(target,
//! created_at)`, `(outcome, created_at)`, `(target, outcome, created_at)` or `(order_id, id)`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use common::domain::{AttemptOutcome, CallbackTarget};

use crate::web::auth::CurrentUser;
use crate::web::form::path_id;
use crate::web::page::{self, Arg, Chrome, DayEnd, Nav, PageLink, Pager, Where};
use crate::web::select::SelectOption;
use crate::web::{AppState, WebError, WebResult};

mod queries;

pub const PER_PAGE: u64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/callbacks", get(list))
        .route("/admin/callbacks/{id}", get(detail))
}

/// The label and badge class of an outcome, as this log shows it.
pub fn outcome_label(o: AttemptOutcome) -> (&'static str, &'static str) {
    match o {
        AttemptOutcome::Delivered => ("已送达", "delivered"),
        AttemptOutcome::Retry => ("待重试", "retry"),
        AttemptOutcome::GivingUp => ("已放弃", "giving_up"),
        AttemptOutcome::Error => ("出错", "error"),
        AttemptOutcome::Success => ("成功", "succeeded"),
        AttemptOutcome::Failed => ("失败", "failed"),
        AttemptOutcome::Processing => ("处理中", "pending"),
        AttemptOutcome::NotFound => ("对方无此订单", "warn"),
    }
}

/// The list's query string, read leniently (first value of each name; unknown names ignored).
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub target: String,
    pub outcome: String,
    pub order: String,
    pub from: String,
    pub to: String,
    pub page: String,
}

impl Filters {
    fn from_pairs(pairs: Vec<(String, String)>) -> Filters {
        let mut f = Filters::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "target" => &mut f.target,
                "outcome" => &mut f.outcome,
                "order" => &mut f.order,
                "from" => &mut f.from,
                "to" => &mut f.to,
                "page" => &mut f.page,
                _ => continue,
            };
            if slot.is_empty() {
                *slot = v.trim().chars().take(64).collect();
            }
        }
        f
    }
}

pub struct Line {
    pub id: u64,
    pub order_id: Option<u64>,
    pub order_no: String,
    pub target: String,
    pub attempt_no: i32,
    pub url: String,
    pub status: String,
    pub duration: String,
    pub outcome: String,
    pub outcome_class: &'static str,
    pub error: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "callbacks/list.html")]
struct ListPage {
    chrome: Chrome,
    targets: Vec<SelectOption>,
    outcomes: Vec<SelectOption>,
    order: String,
    from: String,
    to: String,
    notes: Vec<String>,
    lines: Vec<Line>,
    total: String,
    links: Vec<PageLink>,
    filtered: bool,
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    } else {
        s.to_owned()
    }
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Vec<(String, String)>>,
) -> WebResult<Response> {
    let f = Filters::from_pairs(q);
    let mut w = Where::new();
    let mut notes = Vec::new();
    let mut kept: Vec<(&str, String)> = Vec::new();
    let target = f.target.parse::<CallbackTarget>().ok();
    if let Some(t) = target {
        w.push("target = ?", [Arg::Str(t.as_str().to_owned())]);
        kept.push(("target", t.as_str().to_owned()));
    } else if !f.target.is_empty() {
        notes.push("未知的回调对象，已忽略该筛选。".to_owned());
    }
    let outcome = f.outcome.parse::<AttemptOutcome>().ok();
    if let Some(o) = outcome {
        w.push("outcome = ?", [Arg::Str(o.as_str().to_owned())]);
        kept.push(("outcome", o.as_str().to_owned()));
    } else if !f.outcome.is_empty() {
        notes.push("未知的结果，已忽略该筛选。".to_owned());
    }
    let mut no_match = false;
    if !f.order.is_empty() {
        kept.push(("order", f.order.clone()));
        let ids = queries::order_ids(&state.db, &f.order).await?;
        if ids.is_empty() {
            notes.push(format!("没有订单号为「{}」的订单。", f.order));
            no_match = true;
        } else {
            let marks = vec!["?"; ids.len()].join(", ");
            w.push(
                &format!("order_id IN ({marks})"),
                ids.into_iter().map(Arg::U64),
            );
        }
    }
    for (name, raw, end) in [("from", &f.from, DayEnd::From), ("to", &f.to, DayEnd::To)] {
        if raw.is_empty() {
            continue;
        }
        if page::push_day_bound(&mut w, end, raw) {
            kept.push((name, raw.clone()));
        } else {
            notes.push(format!(
                "日期「{raw}」格式不正确（应为 2026-11-25），已忽略。"
            ));
        }
    }
    let kept_refs: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let qs = page::query_string(&kept_refs);
    let base = if qs.is_empty() {
        "/admin/callbacks".to_owned()
    } else {
        format!("/admin/callbacks?{qs}")
    };
    let total = if no_match {
        (0, false)
    } else {
        page::count_capped(&state.db, "callback_attempts", &w).await?
    };
    let pager = Pager::new(f.page.parse().ok(), PER_PAGE, total, base);
    let rows = if no_match || pager.total == 0 {
        Vec::new()
    } else {
        queries::page(&state.db, &w, pager.per_page, pager.offset()).await?
    };
    let lines = rows
        .into_iter()
        .map(|r| {
            let (outcome, outcome_class) = outcome_label(r.outcome);
            Line {
                id: r.id,
                order_id: r.order_id,
                order_no: r
                    .order_no
                    .or_else(|| r.order_id.map(|i| format!("#{i}")))
                    .unwrap_or_default(),
                target: r.target.label_zh().to_owned(),
                attempt_no: r.attempt_no,
                url: cut(&r.url, 80),
                status: r.http_status.map(|s| s.to_string()).unwrap_or_default(),
                duration: format!("{} ms", r.duration_ms),
                outcome: outcome.to_owned(),
                outcome_class,
                error: cut(r.error.as_deref().unwrap_or_default(), 60),
                created: page::beijing(r.created_at),
            }
        })
        .collect();
    page::render(&ListPage {
        chrome: Chrome::new(&user, Nav::Callbacks),
        targets: SelectOption::from_pairs(
            CallbackTarget::ALL
                .iter()
                .map(|t| (t.as_str(), t.label_zh())),
            |v| target.map(CallbackTarget::as_str) == Some(v),
        ),
        outcomes: SelectOption::from_pairs(
            AttemptOutcome::ALL
                .iter()
                .map(|o| (o.as_str(), outcome_label(*o).0)),
            |v| outcome.map(AttemptOutcome::as_str) == Some(v),
        ),
        order: f.order.clone(),
        from: f.from.clone(),
        to: f.to.clone(),
        notes,
        lines,
        total: pager.total_label(),
        links: pager.links(),
        filtered: !kept.is_empty(),
    })
}

pub struct Sibling {
    pub id: u64,
    pub attempt_no: i32,
    pub target: String,
    pub outcome: String,
    pub outcome_class: &'static str,
    pub created: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "callbacks/detail.html")]
struct DetailPage {
    chrome: Chrome,
    id: u64,
    order_id: Option<u64>,
    order_no: String,
    target: String,
    attempt_no: i32,
    url: String,
    request: String,
    status: String,
    response: String,
    duration: String,
    outcome: String,
    outcome_class: &'static str,
    error: String,
    next: String,
    created: String,
    siblings: Vec<Sibling>,
}

/// A stored body for display: pretty JSON when it is JSON, else as stored.
pub fn pretty(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_owned())
        }
        _ => body.to_owned(),
    }
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let a = queries::attempt(&state.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let siblings = match a.order_id {
        Some(o) => queries::attempts_of_order(&state.db, o).await?,
        None => Vec::new(),
    };
    let (outcome, outcome_class) = outcome_label(a.outcome);
    page::render(&DetailPage {
        chrome: Chrome::new(&user, Nav::Callbacks),
        id: a.id,
        order_id: a.order_id,
        order_no: a
            .order_no
            .or_else(|| a.order_id.map(|i| format!("#{i}")))
            .unwrap_or_default(),
        target: a.target.label_zh().to_owned(),
        attempt_no: a.attempt_no,
        url: a.url,
        request: a.request_body.as_deref().map(pretty).unwrap_or_default(),
        status: a
            .http_status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "（无应答）".into()),
        response: a.response_body.as_deref().map(pretty).unwrap_or_default(),
        duration: format!("{} ms", a.duration_ms),
        outcome: outcome.to_owned(),
        outcome_class,
        error: a.error.unwrap_or_default(),
        next: page::beijing_opt(a.next_attempt_at),
        created: page::beijing(a.created_at),
        siblings: siblings
            .into_iter()
            .map(|(sid, n, t, o, at)| {
                let (label, class) = outcome_label(o);
                Sibling {
                    id: sid,
                    attempt_no: n,
                    target: t.label_zh().to_owned(),
                    outcome: label.to_owned(),
                    outcome_class: class,
                    created: page::beijing(at),
                    current: sid == a.id,
                }
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_filters() {
        assert_eq!(CallbackTarget::JdGame.label_zh(), "京东游戏点卡");
        assert_eq!(
            outcome_label(AttemptOutcome::GivingUp),
            ("已放弃", "giving_up")
        );
        assert_eq!(outcome_label(AttemptOutcome::NotFound).1, "warn");
        let f = Filters::from_pairs(vec![
            ("target".into(), " agiso ".into()),
            ("target".into(), "supplier".into()),
            ("page".into(), "3".into()),
            ("zzz".into(), "1".into()),
        ]);
        assert_eq!((f.target.as_str(), f.page.as_str()), ("agiso", "3"));
        assert_eq!(pretty("{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(pretty("a=1&b=2"), "a=1&b=2");
        assert_eq!(cut("abcdef", 3), "abc…");
    }
}
