//! Pagination with capped totals: the pager's links (written by the one partial
//! `templates/pager.html`) and the capped `COUNT(*)` behind them.

use common::db::Pool;

use super::filter::Where;
use super::format::thousands;
use crate::web::error::WebResult;

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

#[cfg(test)]
mod tests {
    use super::*;

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
