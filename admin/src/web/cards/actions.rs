//! 作废 (one card, or every available card of a batch) and 导出 (a batch's available cards as
//! CSV; they become `exported` unless the operator keeps them available).
//!
//! Voiding is a conditional `UPDATE … WHERE status = 'available'`: a card being sold at that
//! moment keeps its sale (the update waits for the fulfilment's row lock, then re-reads the
//! status), and a repeated submit finds nothing left to void, changes nothing and writes no
//! audit row. The export is the one place cards leave in clear text: Operator only, a POST
//! (never cached, never prefetched), audited with its count and choice, `Cache-Control:
//! no-store`. The exported cards are marked `exported` in the export's transaction (so a card
//! in the file is never also sold by us) unless the form ticks `keep`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use common::domain::CardStatus;

use super::queries;
use super::{back_to, batch_url, plausible_batch};
use crate::web::auth::Operator;
use crate::web::form::FormFields;
use crate::web::page::{self, redirect_error, redirect_ok};
use crate::web::{AppState, WebError, WebResult};

/// `POST /admin/cards/{id}/void`.
pub async fn void_card(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let id: u64 = raw_id.parse().map_err(|_| WebError::NotFound)?;
    let back = back_to(&FormFields::parse(&body));
    let mut tx = state.db.begin().await?;
    let card = queries::lock_card(&mut tx, id).await?;
    let Some((status, batch)) = card else {
        return Err(WebError::NotFound);
    };
    match status {
        CardStatus::Available => {}
        CardStatus::Void => {
            return Ok(redirect_ok(&back, format!("卡密 #{id} 已是作废状态。")));
        }
        CardStatus::Sold => {
            return Ok(redirect_error(
                &back,
                format!("卡密 #{id} 已售出，不能作废。"),
            ));
        }
        CardStatus::Exported => {
            return Ok(redirect_error(
                &back,
                format!("卡密 #{id} 已导出，不在可发放库存中，无需作废。"),
            ));
        }
    }
    queries::void_card(&mut tx, id).await?;
    user.audit(
        &mut *tx,
        "card.void",
        Some(("card", id.to_string())),
        Some(format!("作废卡密 #{id}（批次 {batch}）")),
    )
    .await?;
    tx.commit().await?;
    super::forget_stock(&state.db);
    tracing::info!(user = %user.username, card_id = id, "card voided");
    Ok(redirect_ok(&back, format!("卡密 #{id} 已作废。")))
}

/// `POST /admin/cards/batches/{batch}/void`: every available card of the batch.
pub async fn void_batch(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(batch): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    if !plausible_batch(&batch) {
        return Err(WebError::NotFound);
    }
    let fields = FormFields::parse(&body);
    let back = match fields.field("back") {
        Some(_) => back_to(&fields),
        None => batch_url(&batch),
    };
    let mut tx = state.db.begin().await?;
    let voided = queries::void_batch(&mut tx, &batch).await?;
    if voided == 0 {
        tx.rollback().await?;
        return Ok(match queries::batch_exists(&state.db, &batch).await? {
            true => redirect_ok(
                &back,
                format!("批次 {batch} 没有可作废的卡密（可用卡密为 0）。"),
            ),
            false => redirect_error("/admin/cards", format!("批次 {batch} 不存在或没有卡密。")),
        });
    }
    user.audit(
        &mut *tx,
        "card.void_batch",
        Some(("card_batch", batch.clone())),
        Some(format!("作废批次 {batch} 的全部可用卡密：{voided} 张")),
    )
    .await?;
    tx.commit().await?;
    super::forget_stock(&state.db);
    tracing::info!(user = %user.username, batch = %batch, voided, "card batch voided");
    Ok(redirect_ok(
        &back,
        format!(
            "已作废批次 {batch} 的 {} 张可用卡密。",
            page::thousands(voided)
        ),
    ))
}

/// `POST /admin/cards/batches/{batch}/export` (`keep=1`: leave them available): the batch's
/// available cards as CSV in clear text (`卡号,卡密,有效期`, the import format: the file can be
/// imported again as is), marked `exported` unless kept, audited either way.
pub async fn export(
    State(state): State<AppState>,
    Operator(user): Operator,
    Path(batch): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    if !plausible_batch(&batch) {
        return Err(WebError::NotFound);
    }
    let keep = FormFields::parse(&body)
        .field("keep")
        .is_some_and(|v| v == "1");
    let mut tx = state.db.begin().await?;
    let cards = common::db::cards::take_for_export(&mut tx, &state.key, &batch, keep)
        .await
        .map_err(WebError::Internal)?;
    let count = cards.len() as u64;
    if count == 0 {
        tx.rollback().await?;
        return Ok(redirect_error(
            &batch_url(&batch),
            format!("批次 {batch} 没有可用（未售出）的卡密，无可导出。"),
        ));
    }
    let mut out = String::from("\u{feff}卡号,卡密,有效期\r\n");
    for c in &cards {
        // Exact values: cards never hold commas, whitespace or line breaks (the import
        // splits on them), so every line reads back as the card it was.
        out.push_str(&c.card_no);
        out.push(',');
        out.push_str(&c.password);
        out.push(',');
        if let Some(d) = c.expires_on {
            out.push_str(&d.to_string());
        }
        out.push_str("\r\n");
    }
    drop(cards);
    let kept = if keep {
        "，仍保留为可用（未标记）"
    } else {
        "，已标记为已导出、不再发放"
    };
    user.audit(
        &mut *tx,
        "card.export",
        Some(("card_batch", batch.clone())),
        Some(format!(
            "导出批次 {batch} 的可用卡密（明文）：{count} 张{kept}"
        )),
    )
    .await?;
    tx.commit().await?;
    if !keep {
        super::forget_stock(&state.db);
    }
    tracing::info!(user = %user.username, batch = %batch, count, keep, "card batch exported");
    let name = format!(
        "cards-{}-{}.csv",
        file_safe(&batch),
        chrono::Utc::now()
            .with_timezone(&common::domain::beijing())
            .format("%Y%m%d-%H%M%S")
    );
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, max-age=0"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The batch id as part of a file name.
fn file_safe(batch: &str) -> String {
    batch
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(file_safe("B2026/批次 1"), "B2026____1");
    }
}
