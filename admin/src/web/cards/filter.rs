//! The card list's filters: the query string as typed, and the understood filters with the
//! index each form of the list reads.

use common::domain::CardStatus;

use super::plausible_batch;
use crate::web::form::query_pairs;
use crate::web::page::{self, Arg, Where};

/// The raw filter values, as typed.
#[derive(Debug, Clone, Default)]
pub struct CardQuery {
    pub product: String,
    pub batch: String,
    pub status: String,
    pub page: String,
}

impl CardQuery {
    pub fn parse(raw: Option<&str>) -> CardQuery {
        let mut q = CardQuery::default();
        for (k, v) in query_pairs(raw) {
            let v = v.trim().to_owned();
            match k.as_str() {
                "product" => q.product = v,
                "batch" => q.batch = v,
                "status" => q.status = v,
                "page" => q.page = v,
                _ => {}
            }
        }
        q
    }
}

/// The understood filters.
#[derive(Debug, Default)]
pub struct Filter {
    pub product: Option<u64>,
    pub batch: Option<String>,
    pub status: Option<CardStatus>,
    pub notes: Vec<String>,
}

impl Filter {
    pub fn from(q: &CardQuery) -> Filter {
        let mut f = Filter::default();
        if !q.product.is_empty() {
            match q.product.parse::<u64>() {
                Ok(id) => f.product = Some(id),
                Err(_) => f.notes.push("商品参数无效，已忽略。".into()),
            }
        }
        if !q.batch.is_empty() {
            if plausible_batch(&q.batch) {
                f.batch = Some(q.batch.clone());
            } else {
                f.notes.push("批次号过长，已忽略。".into());
            }
        }
        if !q.status.is_empty() {
            match q.status.parse::<CardStatus>() {
                Ok(v) => f.status = Some(v),
                Err(_) => f.notes.push("无法识别的卡密状态，已忽略。".into()),
            }
        }
        f
    }

    /// The clauses other than status, with their values.
    pub fn base_clauses(&self) -> Vec<(&'static str, Arg)> {
        let mut c = Vec::new();
        if let Some(b) = &self.batch {
            c.push(("batch_id = ?", Arg::Str(b.clone())));
        }
        if let Some(p) = self.product {
            c.push(("product_id = ?", Arg::U64(p)));
        }
        c
    }

    /// The table with the index every read of this filter takes (named: the optimizer may
    /// otherwise count a product's cards of one status through another index, one
    /// clustered-row lookup per card).
    pub fn table(&self) -> &'static str {
        if self.batch.is_some() {
            "cards FORCE INDEX (ix_cards_batch)"
        } else if self.product.is_some() {
            "cards FORCE INDEX (ix_cards_product_list)"
        } else if self.status.is_some() {
            "cards FORCE INDEX (ix_cards_status_list)"
        } else {
            "cards"
        }
    }

    pub fn where_all(&self) -> Where {
        let mut w = Where::new();
        for (clause, arg) in self.base_clauses() {
            w.push(clause, [arg]);
        }
        if let Some(s) = self.status {
            w.push("status = ?", [Arg::Str(s.as_str().into())]);
        }
        w
    }

    pub fn query_string(&self) -> String {
        let product = self.product.map(|p| p.to_string()).unwrap_or_default();
        page::query_string(&[
            ("product", &product),
            ("batch", self.batch.as_deref().unwrap_or_default()),
            (
                "status",
                self.status.map(CardStatus::as_str).unwrap_or_default(),
            ),
        ])
    }

    pub fn is_empty(&self) -> bool {
        self.product.is_none() && self.batch.is_none() && self.status.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_lenient() {
        let f = Filter::from(&CardQuery::parse(Some(
            "product=x&status=gone&batch=B1&page=2&other=1",
        )));
        assert_eq!(f.product, None);
        assert_eq!(f.status, None);
        assert_eq!(f.batch.as_deref(), Some("B1"));
        assert_eq!(f.notes.len(), 2);
        assert_eq!(f.query_string(), "batch=B1");
        let f = Filter::from(&CardQuery::parse(Some("product=7&status=void")));
        assert_eq!((f.product, f.status), (Some(7), Some(CardStatus::Void)));
        assert_eq!(f.where_all().sql(), " WHERE product_id = ? AND status = ?");
    }
}
