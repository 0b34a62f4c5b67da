//! `GET /admin/orders/export.csv`: the filtered orders as CSV (UTF-8 with BOM, so Excel reads
//! the Chinese), streamed in chunks of 1,000 rows walked by (created_at, id) keyset, at most
//! [`EXPORT_MAX_ROWS`] rows (a last line says when the cap cut the export). No card data.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use common::db::Pool;

use super::filter::OrderQuery;
use super::plain_yuan;
use super::queries;
use crate::web::auth::CurrentUser;
use crate::web::page::{self, Arg, Where};
use crate::web::{AppState, WebResult};

pub const EXPORT_MAX_ROWS: usize = 100_000;
const CHUNK_ROWS: usize = 1_000;

const HEADER: [&str; 16] = [
    "订单号",
    "平台单号",
    "平台",
    "店铺",
    "商品",
    "SKU",
    "类型",
    "数量",
    "金额(元)",
    "充值账号",
    "状态",
    "失败原因",
    "回调状态",
    "回调次数",
    "创建时间(北京时间)",
    "完成时间(北京时间)",
];

pub async fn csv(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw): RawQuery,
) -> WebResult<Response> {
    let f = OrderQuery::parse(raw.as_deref()).filter();
    user.audit(
        &state.db,
        "order.export",
        None,
        Some(format!(
            "导出订单 CSV（最多 {} 条）；筛选：{}",
            page::thousands(EXPORT_MAX_ROWS as u64),
            f.describe()
        )),
    )
    .await?;
    tracing::info!(user = %user.username, filters = %f.describe(), "orders exported");
    let export = Export {
        pool: state.db.clone(),
        w: f.w,
        cursor: None,
        sent: 0,
        started: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(export, |mut e| async move {
        e.next_chunk()
            .await
            .map(|bytes| (Ok::<Bytes, std::io::Error>(bytes), e))
    });
    let name = format!(
        "orders-{}.csv",
        chrono::Utc::now()
            .with_timezone(&common::domain::beijing())
            .format("%Y%m%d-%H%M%S")
    );
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, max-age=0"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

struct Export {
    pool: Pool,
    w: Where,
    /// The (created_at, id) of the last row sent.
    cursor: Option<(NaiveDateTime, u64)>,
    sent: usize,
    started: bool,
    done: bool,
}

impl Export {
    /// The next piece of the file, `None` at the end.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = String::new();
        if !self.started {
            self.started = true;
            out.push('\u{feff}');
            push_record(&mut out, HEADER.iter().map(|s| s.to_string()));
        }
        let left = EXPORT_MAX_ROWS - self.sent;
        // At the cap, look for one more row to say whether the export was cut.
        let limit = if left == 0 { 1 } else { left.min(CHUNK_ROWS) };
        let rows = match self.fetch(limit).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "order export failed mid-way");
                self.done = true;
                out.push_str("# 导出中断：读取数据库出错，以上数据不完整，请稍后重试。\r\n");
                return Some(Bytes::from(out));
            }
        };
        if left == 0 {
            self.done = true;
            if !rows.is_empty() {
                out.push_str(&format!(
                    "# 已达导出上限 {} 条，其余订单未导出；请缩小筛选范围（如按日期）分批导出。\r\n",
                    page::thousands(EXPORT_MAX_ROWS as u64)
                ));
            }
            return (!out.is_empty()).then(|| Bytes::from(out));
        }
        if rows.len() < limit {
            self.done = true;
        }
        if let Some(last) = rows.last() {
            self.cursor = Some((last.created_at, last.id));
        }
        self.sent += rows.len();
        for r in rows {
            push_record(&mut out, record(r).into_iter());
        }
        if self.done && out.is_empty() {
            return None;
        }
        Some(Bytes::from(out))
    }

    async fn fetch(&self, limit: usize) -> sqlx::Result<Vec<queries::ExportRow>> {
        let mut w = self.w.clone();
        if let Some((t, id)) = self.cursor {
            // Keyset: strictly after the last row in (created_at DESC, id DESC) order; the
            // first condition keeps it a range on the filter's (…, created_at) index.
            w.push(
                "created_at <= ? AND (created_at < ? OR id < ?)",
                [Arg::Time(t), Arg::Time(t), Arg::U64(id)],
            );
        }
        queries::export_batch(&self.pool, &w, limit).await
    }
}

fn record(r: queries::ExportRow) -> Vec<String> {
    vec![
        r.order_no,
        r.platform_order_no,
        r.platform.label_zh().to_owned(),
        r.shop_name.unwrap_or_default(),
        r.product_name.unwrap_or_default(),
        r.sku,
        r.order_kind.label_zh().to_owned(),
        r.quantity.to_string(),
        plain_yuan(r.total_price_fen),
        r.recharge_account.unwrap_or_default(),
        r.status.label_zh().to_owned(),
        r.failure_reason.unwrap_or_default(),
        r.notify_status.label_zh().to_owned(),
        r.notify_attempts.to_string(),
        page::beijing(r.created_at),
        page::beijing_opt(r.completed_at),
    ]
}

fn push_record(out: &mut String, cells: impl Iterator<Item = String>) {
    let mut first = true;
    for c in cells {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&cell(&c));
    }
    out.push_str("\r\n");
}

/// One CSV cell: quoted when needed; text a spreadsheet would run as a formula (from a buyer's
/// recharge account, say) gets a leading apostrophe.
fn cell(value: &str) -> String {
    let guarded;
    let v = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("abc"), "abc");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=1+2"), "'=1+2");
        assert_eq!(cell("-cmd,x"), "\"'-cmd,x\"");
        assert_eq!(cell("12.50"), "12.50");
        let mut out = String::new();
        push_record(&mut out, ["a".to_string(), "b c".to_string()].into_iter());
        assert_eq!(out, "a,b c\r\n");
    }
}
