//! 导入卡密: `GET /admin/cards/import` (the form), `POST …/preview` (parse, sort every line,
//! show counts and masked samples), `POST …/commit` (import the previewed new cards).
//!
//! The hand-off between preview and commit trusts nothing from the browser but a draft id: the
//! preview stores the new cards server-side in `card_import_drafts` /
//! `card_import_draft_parts`, encrypted with the master key (AES-256-GCM), bound to the user,
//! valid for [`DRAFT_TTL_MINUTES`]. The commit locks the draft row, imports its cards, writes
//! the `card_batches` row and the audit row and marks the draft committed — one transaction —
//! so a double submit imports once: the second waits for the first's lock and then finds the
//! draft committed. The fingerprint key (unique across products: a card is in stock once) still
//! skips cards imported by someone else, into any product, since the preview. A line already in
//! another product's stock is a duplicate, and the preview names that product.
//!
//! Here the three handlers; the page types in `views`, reading the upload in `upload`, sealing
//! and opening a draft's cards in `draft`; the SQL in `cards::queries`.

mod draft;
mod upload;
mod views;

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::db::cards::{self, BatchRecord};
use common::domain::card_import::{self, CardLine};
use common::domain::{DraftStatus, FulfilmentMode};

use crate::web::auth::{CurrentUser, Operator};
use crate::web::cards::batch_url;
use crate::web::cards::queries;
use crate::web::form::{FormFields, query_pairs};
use crate::web::page::{self, Chrome, Nav, redirect_error, redirect_ok};
use crate::web::{AppState, WebError, WebResult};

use crate::web::select::SelectOption;
use crate::web::token::random_hex;
use draft::{new_batch_id, open_parts, seal_parts};
use upload::{read_upload, upload_text};
use views::{ImportPage, Invalid, PreviewPage, sample, stocked_note};

/// How long a preview can be committed.
pub const DRAFT_TTL_MINUTES: i64 = 30;
/// Clear text per encrypted part of a draft.
const PART_BYTES: usize = 1 << 20;
/// Masked examples shown per kind of line.
const SAMPLES: usize = 10;
/// Invalid lines listed with their reasons.
const INVALID_SHOWN: usize = 200;

async fn card_products(state: &AppState, selected: Option<u64>) -> WebResult<Vec<SelectOption>> {
    let rows = queries::card_products(&state.db).await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, enabled)| SelectOption {
            value: id.to_string(),
            label: if enabled {
                name
            } else {
                format!("{name}（已停用）")
            },
            selected: selected == Some(id),
        })
        .collect())
}

async fn form_page(
    state: &AppState,
    user: &CurrentUser,
    selected: Option<u64>,
    error: Option<String>,
) -> WebResult<Response> {
    let bad = error.is_some();
    let mut resp = page::render(&ImportPage {
        chrome: Chrome::new(user, Nav::Cards),
        products: card_products(state, selected).await?,
        error,
        max_mb: state.config.max_upload_bytes / (1024 * 1024),
    })?;
    if bad {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// `GET /admin/cards/import[?product=ID]`.
pub async fn form(
    State(state): State<AppState>,
    Operator(user): Operator,
    RawQuery(raw): RawQuery,
) -> WebResult<Response> {
    let selected = query_pairs(raw.as_deref())
        .into_iter()
        .find(|(k, _)| k == "product")
        .and_then(|(_, v)| v.trim().parse().ok());
    form_page(&state, &user, selected, None).await
}

/// `POST /admin/cards/import/preview` (multipart: `_csrf`, `product`, `text` or `file`).
pub async fn preview(
    State(state): State<AppState>,
    Operator(user): Operator,
    mp: Result<Multipart, MultipartRejection>,
) -> WebResult<Response> {
    let upload = match mp {
        Ok(mp) => read_upload(mp).await,
        Err(_) => Err("请通过导入页面的表单上传。".to_owned()),
    };
    let upload = match upload {
        Ok(u) => u,
        Err(msg) => return form_page(&state, &user, None, Some(msg)).await,
    };
    let selected: Option<u64> = upload.product.trim().parse().ok();
    let Some(product_id) = selected else {
        return form_page(&state, &user, None, Some("请选择要导入的商品。".into())).await;
    };
    let product = common::db::products::get(&state.db, product_id).await?;
    let product = match product {
        Some(p) if p.mode == FulfilmentMode::Card => p,
        Some(_) => {
            return form_page(
                &state,
                &user,
                None,
                Some("只有卡密商品可以导入卡密。".into()),
            )
            .await;
        }
        None => {
            return form_page(&state, &user, None, Some("商品不存在。".into())).await;
        }
    };
    let (text, source, encoding) = match upload_text(&upload) {
        Ok(t) => t,
        Err(msg) => return form_page(&state, &user, selected, Some(msg)).await,
    };
    drop(upload);
    let mut conn = state.db.acquire().await?;
    let mut c = cards::classify(&mut conn, &state.key, &text).await?;
    cards::apply_platform_rules(&mut conn, product_id, &mut c).await?;
    drop(conn);
    drop(text);
    if c.total_lines() == 0 {
        return form_page(
            &state,
            &user,
            selected,
            Some("没有读到任何卡密：每行一张，格式为 卡号,卡密[,有效期]。".into()),
        )
        .await;
    }

    let draft = if c.new.is_empty() {
        String::new()
    } else {
        let id = random_hex(16);
        let parts = seal_parts(&state.key, &id, &c);
        // Expired drafts go first: a pending one's cards, a committed one's row after a day.
        queries::prune_expired_drafts(&state.db).await?;
        let mut tx = state.db.begin().await?;
        queries::insert_draft(
            &mut tx,
            &queries::NewDraft {
                id: &id,
                user_id: user.id,
                product_id,
                source: &source,
                counts: [
                    c.total_lines(),
                    c.new.len(),
                    c.dup_in_file.len(),
                    c.dup_in_stock.len(),
                    c.invalid.len(),
                ],
                ttl_minutes: DRAFT_TTL_MINUTES,
            },
            &parts,
        )
        .await?;
        tx.commit().await?;
        id
    };
    tracing::info!(
        user = %user.username,
        product_id,
        new = c.new.len(),
        dup_in_file = c.dup_in_file.len(),
        dup_in_stock = c.dup_in_stock.len(),
        invalid = c.invalid.len(),
        "card import previewed"
    );
    let n = |v: usize| page::thousands(v as u64);
    page::render(&PreviewPage {
        chrome: Chrome::new(&user, Nav::Cards),
        product_id,
        product: product.name,
        source,
        encoding: encoding.label(),
        total: n(c.total_lines()),
        new: n(c.new.len()),
        dup_in_file: n(c.dup_in_file.len()),
        dup_in_stock: n(c.dup_in_stock.len()),
        invalid: n(c.invalid.len()),
        new_samples: c
            .new
            .iter()
            .take(SAMPLES)
            .map(|x| sample(&x.card, x.line_no, String::new()))
            .collect(),
        dup_file_samples: c
            .dup_in_file
            .iter()
            .take(SAMPLES)
            .map(|x| {
                sample(
                    &x.card,
                    x.line_no,
                    format!("与第 {} 行重复", x.first_line_no),
                )
            })
            .collect(),
        dup_stock_samples: c
            .dup_in_stock
            .iter()
            .take(SAMPLES)
            .map(|x| sample(&x.card, x.line_no, stocked_note(product_id, &x.held_by)))
            .collect(),
        held_elsewhere: c
            .held_elsewhere(product_id)
            .into_iter()
            .map(|(name, n)| format!("商品「{name}」{} 张", page::thousands(n as u64)))
            .collect(),
        invalid_lines: c
            .invalid
            .iter()
            .take(INVALID_SHOWN)
            .map(|l| Invalid {
                line_no: l.line_no,
                reason: l.reason,
            })
            .collect(),
        invalid_more: c.invalid.len().saturating_sub(INVALID_SHOWN),
        draft,
        ttl_minutes: DRAFT_TTL_MINUTES,
    })
}

/// `POST /admin/cards/import/commit` (`_csrf`, `draft`).
pub async fn commit(
    State(state): State<AppState>,
    Operator(user): Operator,
    body: Bytes,
) -> WebResult<Response> {
    let fields = FormFields::parse(&body);
    // Draft ids are lowercase hex (the sealed parts are bound to the id as stored).
    let draft_id = fields
        .field("draft")
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let draft_id = draft_id.as_str();
    const AGAIN: &str = "/admin/cards/import";
    if draft_id.len() != 32 || !draft_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(redirect_error(AGAIN, "导入预览无效，请重新上传卡密。"));
    }
    let mut tx = state.db.begin().await?;
    let draft = queries::lock_draft(&mut tx, draft_id).await?;
    let Some(d) = draft else {
        return Ok(redirect_error(
            AGAIN,
            "导入预览不存在或已过期，请重新上传卡密。",
        ));
    };
    if d.user_id != user.id {
        tracing::warn!(user = %user.username, "card import draft of another user refused");
        return Err(WebError::Forbidden);
    }
    if d.status == DraftStatus::Committed {
        let batch = d.batch_id.unwrap_or_default();
        return Ok(redirect_ok(
            &batch_url(&batch),
            format!(
                "该批卡密已导入（批次 {batch}，新增 {} 张），重复提交未再次导入。",
                d.inserted.unwrap_or(0)
            ),
        ));
    }
    if d.expired != 0 {
        queries::delete_draft_parts(&mut tx, draft_id).await?;
        tx.commit().await?;
        return Ok(redirect_error(
            AGAIN,
            format!("导入预览已过期（{DRAFT_TTL_MINUTES} 分钟内有效），请重新上传卡密。"),
        ));
    }
    let product = common::db::products::get(&mut *tx, d.product_id).await?;
    let product = match product {
        Some(p) if p.mode == FulfilmentMode::Card => p,
        _ => {
            return Ok(redirect_error(
                AGAIN,
                "商品已不存在或已不是卡密商品，未导入。",
            ));
        }
    };
    let parts = queries::draft_parts(&mut tx, draft_id).await?;
    let cards = open_parts(&state.key, draft_id, &parts)?;
    drop(parts);
    let with_prints: Vec<(&CardLine, [u8; 32])> = cards
        .iter()
        .map(|c| (c, state.key.fingerprint(&card_import::fingerprint_input(c))))
        .collect();
    let batch = new_batch_id();
    let inserted = cards::insert_cards(
        &mut tx,
        &state.key,
        d.product_id,
        &batch,
        &with_prints,
        cards::NewCardsFor::Stock,
    )
    .await?;
    drop(with_prints);
    drop(cards);
    let new = usize::try_from(d.new_cards).unwrap_or(0);
    let late_dups = new.saturating_sub(inserted);
    let as_usize = |v: i32| usize::try_from(v).unwrap_or(0);
    let duplicates = as_usize(d.dup_in_file) + as_usize(d.dup_in_stock) + late_dups;
    cards::record_batch(
        &mut *tx,
        &BatchRecord {
            batch_id: &batch,
            product_id: d.product_id,
            source: &d.source,
            imported_by: &user.username,
            total_lines: as_usize(d.total_lines),
            inserted,
            duplicates,
            invalid: as_usize(d.invalid),
        },
    )
    .await?;
    queries::mark_draft_committed(&mut tx, draft_id, &batch, inserted as i64).await?;
    user.audit(
        &mut *tx,
        "card.import",
        Some(("card_batch", batch.clone())),
        Some(format!(
            "商品 #{} {}：新增 {inserted} 张，文件内重复 {}，库存中重复 {}，无效 {} 行",
            d.product_id,
            product.name,
            d.dup_in_file,
            as_usize(d.dup_in_stock) + late_dups,
            d.invalid
        )),
    )
    .await?;
    tx.commit().await?;
    if inserted > 0 {
        cards::rearm_low_stock(&state.db, d.product_id).await?;
    }
    super::forget_stock(&state.db);
    tracing::info!(user = %user.username, product_id = d.product_id, batch = %batch, inserted, "cards imported");
    let mut msg = format!(
        "导入完成：批次 {batch}，新增 {} 张卡密。",
        page::thousands(inserted as u64)
    );
    if late_dups > 0 {
        msg.push_str(&format!(
            "另有 {late_dups} 张在预览后已被导入库存（本商品或其他商品），已跳过。"
        ));
    }
    Ok(redirect_ok(&batch_url(&batch), msg).into_response())
}
