//! What every page shares: the chrome (user, role, CSRF token, navigation, flash message),
//! rendering with the right headers, redirects with a flash message, pagination with capped
//! totals, a small dynamic WHERE builder, and display formatting (yuan, Beijing time, masks).

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDateTime;
use common::db::Pool;
use sqlx::mysql::{MySql, MySqlArguments};

use common::domain::Role;

use super::error::WebResult;
use super::html::html_headers;
use super::user::{CurrentUser, FLASH_COOKIE, Flash};

/// The navigation entries; the page sets which one is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Orders,
    Cards,
    Products,
    Shops,
    Urls,
    Callbacks,
    DeadLetters,
    Audit,
    Users,
    Account,
}

impl Nav {
    pub fn key(self) -> &'static str {
        match self {
            Nav::Dashboard => "dashboard",
            Nav::Orders => "orders",
            Nav::Cards => "cards",
            Nav::Products => "products",
            Nav::Shops => "config",
            Nav::Urls => "urls",
            Nav::Callbacks => "callbacks",
            Nav::DeadLetters => "dead-letters",
            Nav::Audit => "audit",
            Nav::Users => "users",
            Nav::Account => "account",
        }
    }
}

/// The parts of the layout (`base.html`) every page template embeds as `chrome`.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub username: String,
    pub role: Role,
    pub csrf: String,
    pub nav: Nav,
    pub flash: Option<Flash>,
}

impl Chrome {
    pub fn new(user: &CurrentUser, nav: Nav) -> Chrome {
        Chrome {
            username: user.username.clone(),
            role: user.role,
            csrf: user.csrf.clone(),
            nav,
            flash: user.flash.clone(),
        }
    }

    /// `"active"` for the current navigation entry (a CSS class).
    pub fn active(&self, key: &str) -> &'static str {
        if self.nav.key() == key { "active" } else { "" }
    }

    pub fn role_label(&self) -> &'static str {
        self.role.label_zh()
    }

    pub fn can_operate(&self) -> bool {
        self.role >= Role::Operator
    }

    pub fn is_admin(&self) -> bool {
        self.role >= Role::Admin
    }
}

/// Renders a page template (HTTP 200).
pub fn render<T: Template>(t: &T) -> WebResult<Response> {
    Ok(html_headers(Html(t.render()?).into_response()))
}

/// A 303 redirect that shows `text` on the next page.
pub fn redirect_flash(to: &str, kind: &'static str, text: impl Into<String>) -> Response {
    let flash = Flash {
        kind,
        text: text.into(),
    };
    let cookie = format!(
        "{FLASH_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60",
        flash.cookie_value()
    );
    let mut resp = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub fn redirect_ok(to: &str, text: impl Into<String>) -> Response {
    redirect_flash(to, "ok", text)
}

pub fn redirect_error(to: &str, text: impl Into<String>) -> Response {
    redirect_flash(to, "error", text)
}

// ---------------------------------------------------------------------------------------------
// Dynamic filters

/// One bound value of a [`Where`].
#[derive(Debug, Clone)]
pub enum Arg {
    Str(String),
    U64(u64),
    I64(i64),
    Time(NaiveDateTime),
}

/// A WHERE clause built from optional filters, with its bound values in order.
#[derive(Debug, Clone, Default)]
pub struct Where {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    pub fn new() -> Where {
        Where::default()
    }

    /// Adds `clause` (with one `?` per arg) ANDed with the others.
    pub fn push(&mut self, clause: &str, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.clauses.push(clause.to_owned());
        self.args.extend(args);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// `""` or `" WHERE a AND b"`.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub fn bind_as<'q, O>(
        &'q self,
        mut q: sqlx::query::QueryAs<'q, MySql, O, MySqlArguments>,
    ) -> sqlx::query::QueryAs<'q, MySql, O, MySqlArguments> {
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::U64(v) => q.bind(*v),
                Arg::I64(v) => q.bind(*v),
                Arg::Time(t) => q.bind(*t),
            };
        }
        q
    }

    pub fn bind_scalar<'q, O>(
        &'q self,
        mut q: sqlx::query::QueryScalar<'q, MySql, O, MySqlArguments>,
    ) -> sqlx::query::QueryScalar<'q, MySql, O, MySqlArguments> {
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::U64(v) => q.bind(*v),
                Arg::I64(v) => q.bind(*v),
                Arg::Time(t) => q.bind(*t),
            };
        }
        q
    }
}

// ---------------------------------------------------------------------------------------------
// Pagination

/// Totals above this are shown as "超过 10,000 条": counting millions of rows exactly on every
/// page view would cost more than the page itself.
pub const COUNT_CAP: u64 = 10_000;

/// `SELECT COUNT(*)` of `from_where` (e.g. `"orders WHERE status = ?"`), stopping at
/// [`COUNT_CAP`] + 1. Returns the count and whether it was capped.
pub async fn count_capped(pool: &Pool, table: &str, w: &Where) -> WebResult<(u64, bool)> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {table}{} LIMIT {}) t",
        w.sql(),
        COUNT_CAP + 1
    );
    let n: i64 = w
        .bind_scalar(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)))
        .fetch_one(pool)
        .await?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok(if n > COUNT_CAP {
        (COUNT_CAP, true)
    } else {
        (n, false)
    })
}

/// One link of the pager.
#[derive(Debug, Clone)]
pub struct PageLink {
    pub label: String,
    /// `None` for the current page and gaps.
    pub href: Option<String>,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct Pager {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub capped: bool,
    /// The list's path and query without `page` (e.g. `/admin/orders?status=failed`).
    pub base: String,
}

impl Pager {
    /// `page` is 1-based; clamped to what the (capped) total allows.
    pub fn new(
        page: Option<u64>,
        per_page: u64,
        (total, capped): (u64, bool),
        base: String,
    ) -> Pager {
        let mut p = Pager {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.max(1),
            total,
            capped,
            base,
        };
        p.page = p.page.min(p.pages().max(1));
        p
    }

    pub fn pages(&self) -> u64 {
        self.total.div_ceil(self.per_page)
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }

    pub fn total_label(&self) -> String {
        if self.capped {
            format!("超过 {} 条", thousands(self.total))
        } else {
            format!("共 {} 条", thousands(self.total))
        }
    }

    fn href(&self, page: u64) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}page={page}", self.base)
    }

    pub fn links(&self) -> Vec<PageLink> {
        let pages = self.pages();
        if pages <= 1 {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.page > 1 {
            out.push(PageLink {
                label: "上一页".into(),
                href: Some(self.href(self.page - 1)),
                current: false,
            });
        }
        let lo = self.page.saturating_sub(3).max(1);
        let hi = (self.page + 3).min(pages);
        if lo > 1 {
            out.push(PageLink {
                label: "1".into(),
                href: Some(self.href(1)),
                current: false,
            });
            if lo > 2 {
                out.push(PageLink {
                    label: "…".into(),
                    href: None,
                    current: false,
                });
            }
        }
        for p in lo..=hi {
            out.push(PageLink {
                label: p.to_string(),
                href: (p != self.page).then(|| self.href(p)),
                current: p == self.page,
            });
        }
        if hi < pages {
            if hi + 1 < pages {
                out.push(PageLink {
                    label: "…".into(),
                    href: None,
                    current: false,
                });
            }
            out.push(PageLink {
                label: pages.to_string(),
                href: Some(self.href(pages)),
                current: false,
            });
        }
        if self.page < pages {
            out.push(PageLink {
                label: "下一页".into(),
                href: Some(self.href(self.page + 1)),
                current: false,
            });
        }
        out
    }
}

/// Builds the query string of a list's current filters (to keep them across pages and exports).
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    serde_urlencoded::to_string(&kept).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Display formatting

/// `1234567` → `"1,234,567"`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Fen → `"12.34"` (yuan).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", thousands(a / 100), a % 100)
}

/// A stored (UTC) time in Beijing time, `2026-11-25 15:04:05`.
pub fn beijing(t: NaiveDateTime) -> String {
    t.and_utc()
        .with_timezone(&common::domain::beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn beijing_opt(t: Option<NaiveDateTime>) -> String {
    t.map(beijing).unwrap_or_default()
}

/// A Beijing calendar date (`2026-11-25`) → the UTC instant its day starts.
pub fn beijing_day_start(date: &str) -> Option<NaiveDateTime> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)? - chrono::Duration::hours(8))
}

/// An end of a list's date filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEnd {
    From,
    To,
}

/// Bounds `created_at` by the whole Beijing day `date` (both ends inclusive: `To` is "before
/// the next day starts"). False, with nothing added, when `date` is not a date.
pub fn push_day_bound(w: &mut Where, end: DayEnd, date: &str) -> bool {
    let Some(start) = beijing_day_start(date) else {
        return false;
    };
    match end {
        DayEnd::From => w.push("created_at >= ?", [Arg::Time(start)]),
        DayEnd::To => w.push(
            "created_at < ?",
            [Arg::Time(start + chrono::Duration::days(1))],
        ),
    };
    true
}

/// Today's date in Beijing, `2026-11-25`.
pub use common::domain::beijing_today;

/// A secret (shop keys, tokens) for display: `abcd****wxyz`. Never for cards: they use
/// [`mask_card_no`] and [`mask_card_password`].
pub fn mask(s: &str) -> String {
    common::crypto::at_rest::mask_secret(s)
}

/// A card number for display: at most its last 4 characters.
pub fn mask_card_no(s: &str) -> String {
    common::crypto::at_rest::mask_card_no(s)
}

/// A card password for display: no character of it.
pub fn mask_card_password(s: &str) -> String {
    common::crypto::at_rest::mask_card_password(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(yuan(123456), "1,234.56");
        assert_eq!(yuan(-5), "-0.05");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(16, 30, 0)
            .unwrap();
        assert_eq!(beijing(t), "2026-11-25 00:30:00");
        assert_eq!(
            beijing_day_start("2026-11-25").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
                .unwrap()
                .and_hms_opt(16, 0, 0)
                .unwrap()
        );
        assert!(beijing_day_start("25/11/2026").is_none());
    }

    #[test]
    fn day_bounds_cover_whole_beijing_days() {
        let mut w = Where::new();
        assert!(push_day_bound(&mut w, DayEnd::From, "2026-11-25"));
        assert!(push_day_bound(&mut w, DayEnd::To, "2026-11-25"));
        assert!(!push_day_bound(&mut w, DayEnd::To, "2026-13-01"));
        assert_eq!(w.sql(), " WHERE created_at >= ? AND created_at < ?");
        let times: Vec<String> = w
            .args
            .iter()
            .map(|a| match a {
                Arg::Time(t) => t.to_string(),
                _ => panic!("a time"),
            })
            .collect();
        assert_eq!(times, ["2026-11-24 16:00:00", "2026-11-25 16:00:00"]);
    }

    #[test]
    fn flash_round_trip() {
        let f = Flash {
            kind: "ok",
            text: "已保存；订单 1".into(),
        };
        let back = Flash::from_cookie_value(&f.cookie_value()).unwrap();
        assert_eq!((back.kind, back.text.as_str()), ("ok", "已保存；订单 1"));
        assert!(Flash::from_cookie_value("evil.zz").is_none());
    }

    #[test]
    fn pager_links_keep_filters_and_clamp() {
        let p = Pager::new(
            Some(50),
            20,
            (95, false),
            "/admin/orders?status=failed".into(),
        );
        assert_eq!(p.page, 5);
        assert_eq!(p.offset(), 80);
        assert_eq!(p.total_label(), "共 95 条");
        let links = p.links();
        assert_eq!(links.first().unwrap().label, "上一页");
        assert_eq!(
            links.first().unwrap().href.as_deref(),
            Some("/admin/orders?status=failed&page=4")
        );
        assert!(links.iter().any(|l| l.current && l.label == "5"));
        let capped = Pager::new(None, 50, (COUNT_CAP, true), "/admin/cards".into());
        assert_eq!(capped.total_label(), "超过 10,000 条");
        assert_eq!(
            capped.links().last().unwrap().href.as_deref(),
            Some("/admin/cards?page=2")
        );
    }
}
