//! The list's filters, shared by the page and the CSV export: read leniently from the query
//! string (bad values are ignored with a Chinese note, never a 400) and turned into a WHERE
//! clause whose every form is served by an index (see migrations: each filter column leads an
//! index followed by `created_at`; the search box matches three indexed columns exactly).

use common::domain::{NotifyStatus, OrderStatus, Platform};

use crate::web::form::query_pairs;
use crate::web::page::{self, Arg, DayEnd, Where};
use crate::web::select::SelectOption;

/// The longest search text looked up (the longest searched column is 128 characters).
const SEARCH_MAX_CHARS: usize = 128;

/// The raw filter values, as typed.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub q: String,
    pub platform: String,
    pub shop: String,
    pub status: String,
    pub notify_status: String,
    pub product: String,
    pub from: String,
    pub to: String,
    pub page: String,
}

impl OrderQuery {
    /// Reads the query string; unknown keys and undecodable input are ignored.
    pub fn parse(raw: Option<&str>) -> OrderQuery {
        let mut q = OrderQuery::default();
        for (k, v) in query_pairs(raw) {
            let v = v.trim().to_owned();
            match k.as_str() {
                "q" => q.q = v,
                "platform" => q.platform = v,
                "shop" => q.shop = v,
                "status" => q.status = v,
                "notify_status" => q.notify_status = v,
                "product" => q.product = v,
                "from" => q.from = v,
                "to" => q.to = v,
                "page" => q.page = v,
                _ => {}
            }
        }
        q
    }

    /// The WHERE clause, the notes about ignored values, and the filters kept for links.
    pub fn filter(&self) -> Filter {
        let mut f = Filter::default();
        if !self.q.is_empty() {
            if self.q.chars().count() > SEARCH_MAX_CHARS {
                f.notes.push("搜索内容过长，已忽略。".into());
            } else {
                // Exact matches on three indexed columns (an index merge); never LIKE '%..%'.
                f.w.push(
                    "(order_no = ? OR platform_order_no = ? OR recharge_account = ?)",
                    [
                        Arg::Str(self.q.clone()),
                        Arg::Str(self.q.clone()),
                        Arg::Str(self.q.clone()),
                    ],
                );
                f.keep("q", &self.q);
            }
        }
        if !self.platform.is_empty() {
            match self.platform.parse::<Platform>() {
                Ok(p) => {
                    f.w.push("platform = ?", [Arg::Str(p.as_str().into())]);
                    f.platform = Some(p);
                    f.keep("platform", p.as_str());
                }
                Err(_) => f.notes.push("无法识别的平台，已忽略。".into()),
            }
        }
        if !self.shop.is_empty() {
            match self.shop.parse::<u64>() {
                Ok(id) => {
                    f.w.push("shop_id = ?", [Arg::U64(id)]);
                    f.shop = Some(id);
                    f.keep("shop", &id.to_string());
                }
                Err(_) => f.notes.push("店铺参数无效，已忽略。".into()),
            }
        }
        if !self.status.is_empty() {
            match self.status.parse::<OrderStatus>() {
                Ok(st) => {
                    f.w.push("status = ?", [Arg::Str(st.as_str().into())]);
                    f.status = Some(st);
                    f.keep("status", st.as_str());
                }
                Err(_) => f.notes.push("无法识别的订单状态，已忽略。".into()),
            }
        }
        if !self.notify_status.is_empty() {
            match self.notify_status.parse::<NotifyStatus>() {
                Ok(st) => {
                    f.w.push("notify_status = ?", [Arg::Str(st.as_str().into())]);
                    f.notify = Some(st);
                    f.keep("notify_status", st.as_str());
                }
                Err(_) => f.notes.push("无法识别的回调状态，已忽略。".into()),
            }
        }
        if !self.product.is_empty() {
            match self.product.parse::<u64>() {
                Ok(id) => {
                    f.w.push("product_id = ?", [Arg::U64(id)]);
                    f.product = Some(id);
                    f.keep("product", &id.to_string());
                }
                Err(_) => f.notes.push("商品参数无效，已忽略。".into()),
            }
        }
        if !self.from.is_empty() {
            if page::push_day_bound(&mut f.w, DayEnd::From, &self.from) {
                f.from = self.from.clone();
                f.keep("from", &self.from);
            } else {
                f.notes
                    .push("开始日期格式错误（应为 yyyy-MM-dd），已忽略。".into());
            }
        }
        if !self.to.is_empty() {
            if page::push_day_bound(&mut f.w, DayEnd::To, &self.to) {
                f.to = self.to.clone();
                f.keep("to", &self.to);
            } else {
                f.notes
                    .push("结束日期格式错误（应为 yyyy-MM-dd），已忽略。".into());
            }
        }
        f
    }

    /// The requested page (1-based); anything unreadable is the first page.
    pub fn page(&self) -> Option<u64> {
        self.page.parse().ok()
    }
}

/// The parsed filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub w: Where,
    pub notes: Vec<String>,
    /// The accepted filters, normalised, in a stable order (for page and export links).
    pub kept: Vec<(&'static str, String)>,
    pub platform: Option<Platform>,
    pub shop: Option<u64>,
    pub status: Option<OrderStatus>,
    pub notify: Option<NotifyStatus>,
    pub product: Option<u64>,
    pub from: String,
    pub to: String,
}

impl Filter {
    fn keep(&mut self, key: &'static str, value: &str) {
        self.kept.push((key, value.to_owned()));
    }

    /// The accepted filters as a query string (without `page`).
    pub fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = self.kept.iter().map(|(k, v)| (*k, v.as_str())).collect();
        page::query_string(&pairs)
    }

    /// A readable summary for the audit log (`状态=失败，平台=阿奇索`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in &self.kept {
            let label = match *k {
                "q" => "搜索",
                "platform" => "平台",
                "shop" => "店铺",
                "status" => "状态",
                "notify_status" => "回调状态",
                "product" => "商品",
                "from" => "开始日期",
                "to" => "结束日期",
                _ => k,
            };
            parts.push(format!("{label}={v}"));
        }
        if parts.is_empty() {
            "全部订单".into()
        } else {
            parts.join("，")
        }
    }

    pub fn platform_options(&self) -> Vec<SelectOption> {
        Platform::ALL
            .into_iter()
            .map(|p| SelectOption {
                value: p.as_str().into(),
                label: p.label_zh().into(),
                selected: self.platform == Some(p),
            })
            .collect()
    }

    pub fn status_options(&self) -> Vec<SelectOption> {
        OrderStatus::ALL
            .into_iter()
            .map(|s| SelectOption {
                value: s.as_str().into(),
                label: s.label_zh().into(),
                selected: self.status == Some(s),
            })
            .collect()
    }

    pub fn notify_options(&self) -> Vec<SelectOption> {
        NotifyStatus::ALL
            .into_iter()
            .map(|s| SelectOption {
                value: s.as_str().into(),
                label: s.label_zh().into(),
                selected: self.notify == Some(s),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_parsing() {
        let q = OrderQuery::parse(Some(
            "q=+ABC+&platform=jd-game&shop=x&status=nope&notify_status=giving_up&product=7&from=2026-11-01&to=bad&page=abc&zzz=1",
        ));
        assert_eq!(q.q, "ABC");
        assert_eq!(q.page(), None);
        let f = q.filter();
        assert_eq!(f.platform, Some(Platform::JdGame));
        assert_eq!(f.shop, None);
        assert_eq!(f.status, None);
        assert_eq!(f.notify, Some(NotifyStatus::GivingUp));
        assert_eq!(f.product, Some(7));
        assert_eq!(f.notes.len(), 3, "{:?}", f.notes);
        assert_eq!(
            f.query_string(),
            "q=ABC&platform=jd_game&notify_status=giving_up&product=7&from=2026-11-01"
        );
        assert!(f.w.sql().contains("order_no = ? OR platform_order_no = ?"));
        assert!(!f.w.sql().contains("LIKE"));
        assert!(f.describe().contains("回调状态=giving_up"));
        // Undecodable input is no filter at all.
        let f = OrderQuery::parse(Some("%%%")).filter();
        assert!(f.w.is_empty());
    }

    #[test]
    fn date_range_is_inclusive_beijing_days() {
        let f = OrderQuery::parse(Some("from=2026-11-25&to=2026-11-25")).filter();
        assert_eq!(f.w.sql(), " WHERE created_at >= ? AND created_at < ?");
    }
}
