//! A list's optional filters as one WHERE clause with its bound values, and the date filters'
//! bounds (whole Beijing days).

use chrono::NaiveDateTime;
use sqlx::mysql::{MySql, MySqlArguments};

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
        q: sqlx::query::QueryScalar<'q, MySql, O, MySqlArguments>,
    ) -> sqlx::query::QueryScalar<'q, MySql, O, MySqlArguments> {
        bind_scalar_args(q, &self.args)
    }
}

/// Binds `args` in order (a query built beside a [`Where`], e.g. a UNION of filtered reads).
pub fn bind_scalar_args<'q, O>(
    mut q: sqlx::query::QueryScalar<'q, MySql, O, MySqlArguments>,
    args: &'q [Arg],
) -> sqlx::query::QueryScalar<'q, MySql, O, MySqlArguments> {
    for a in args {
        q = match a {
            Arg::Str(s) => q.bind(s.as_str()),
            Arg::U64(v) => q.bind(*v),
            Arg::I64(v) => q.bind(*v),
            Arg::Time(t) => q.bind(*t),
        };
    }
    q
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
