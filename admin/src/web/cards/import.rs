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

use crate::web::select::SelectOption;

use askama::Template;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use common::crypto::at_rest::{MasterKey, RowKey, SealedColumn, Slot};
use common::db::cards::{self, BatchRecord, Classified};
use common::domain::FulfilmentMode;
use common::domain::card_import::{self, CardLine, FileEncoding};
use rand::RngCore;

use super::batch_url;
use crate::web::auth::{CurrentUser, Operator};
use crate::web::form::{FormFields, query_pairs};
use crate::web::page::{self, Chrome, Nav, redirect_error, redirect_ok};
use crate::web::{AppState, WebError, WebResult};

/// How long a preview can be committed.
pub const DRAFT_TTL_MINUTES: i64 = 30;
/// Clear text per encrypted part of a draft.
const PART_BYTES: usize = 1 << 20;
/// Masked examples shown per kind of line.
const SAMPLES: usize = 10;
/// Invalid lines listed with their reasons.
const INVALID_SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "cards/import.html")]
struct ImportPage {
    chrome: Chrome,
    products: Vec<SelectOption>,
    error: Option<String>,
    max_mb: usize,
}

struct Sample {
    line_no: usize,
    card_no: String,
    password: String,
    expires: String,
    note: String,
}

struct Invalid {
    line_no: usize,
    reason: &'static str,
}

#[derive(Template)]
#[template(path = "cards/preview.html")]
struct PreviewPage {
    chrome: Chrome,
    product_id: u64,
    product: String,
    source: String,
    encoding: &'static str,
    total: String,
    new: String,
    dup_in_file: String,
    dup_in_stock: String,
    invalid: String,
    new_samples: Vec<Sample>,
    dup_file_samples: Vec<Sample>,
    dup_stock_samples: Vec<Sample>,
    /// Cards held by other products: "商品「X」2 张", one entry per product.
    held_elsewhere: Vec<String>,
    invalid_lines: Vec<Invalid>,
    invalid_more: usize,
    /// Empty when there is nothing to import.
    draft: String,
    ttl_minutes: i64,
}

async fn card_products(state: &AppState, selected: Option<u64>) -> WebResult<Vec<SelectOption>> {
    let rows: Vec<(u64, String, bool)> =
        sqlx::query_as("SELECT id, name, enabled FROM products WHERE mode = 'card' ORDER BY name")
            .fetch_all(&state.db)
            .await?;
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

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    product: String,
    text: String,
    file_name: String,
    file: Vec<u8>,
}

async fn read_upload(mut mp: Multipart) -> Result<Upload, String> {
    let mut u = Upload::default();
    let broken = |_| "上传的内容不完整或格式有误，请重新提交。".to_owned();
    while let Some(field) = mp.next_field().await.map_err(broken)? {
        match field.name().unwrap_or_default() {
            "product" => u.product = field.text().await.map_err(broken)?,
            "text" => u.text = field.text().await.map_err(broken)?,
            "file" => {
                u.file_name = field.file_name().unwrap_or_default().to_owned();
                u.file = field.bytes().await.map_err(broken)?.to_vec();
            }
            _ => {}
        }
    }
    Ok(u)
}

/// The file name without any directory part, for the batch's source.
fn base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The text to import and where it came from, or why the upload cannot be used.
fn upload_text(u: &Upload) -> Result<(String, String, FileEncoding), String> {
    let has_text = !u.text.trim().is_empty();
    let has_file = !u.file.is_empty();
    match (has_text, has_file) {
        (false, false) if !u.file_name.is_empty() => Err("上传的文件是空的。".into()),
        (false, false) => Err("请粘贴卡密，或选择要上传的文件。".into()),
        (true, true) => Err("请只用一种方式：粘贴卡密或上传文件（不要同时使用）。".into()),
        (true, false) => Ok((u.text.clone(), "粘贴".into(), FileEncoding::Utf8)),
        (false, true) => {
            let lower = u.file_name.to_ascii_lowercase();
            if [".xlsx", ".xls", ".zip", ".rar", ".7z", ".doc", ".docx"]
                .iter()
                .any(|ext| lower.ends_with(ext))
            {
                return Err(
                    "只支持 TXT / CSV 文本文件：Excel 文件请先「另存为」CSV 后再上传。".into(),
                );
            }
            let Some((text, encoding)) = card_import::decode_file(&u.file) else {
                return Err(
                    "无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 TXT / CSV 文件后再上传。"
                        .into(),
                );
            };
            if text.contains('\0') {
                return Err("上传的不是文本文件：请上传 TXT / CSV 文件。".into());
            }
            let name = match base_name(&u.file_name) {
                n if n.is_empty() => "上传文件".to_owned(),
                n => n,
            };
            Ok((text, name, encoding))
        }
    }
}

/// A line for the preview, masked.
fn sample(card: &CardLine, line_no: usize, note: String) -> Sample {
    Sample {
        line_no,
        card_no: page::mask_card_no(&card.card_no),
        password: page::mask_card_password(&card.password),
        expires: card
            .expires_on
            .map(|d| d.to_string())
            .unwrap_or_else(|| "长期有效".into()),
        note,
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The draft's cards as text lines (`line\tnumber\tpassword\texpiry`), cut into parts of
/// about [`PART_BYTES`], each encrypted.
fn seal_parts(key: &MasterKey, draft_id: &str, c: &Classified) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let seal = |parts: &Vec<Vec<u8>>, text: &str| {
        key.seal(part_slot(draft_id, parts.len() as i32), text.as_bytes())
    };
    let mut buf = String::with_capacity(PART_BYTES + 512);
    for n in &c.new {
        buf.push_str(&n.line_no.to_string());
        buf.push('\t');
        buf.push_str(&n.card.card_no);
        buf.push('\t');
        buf.push_str(&n.card.password);
        buf.push('\t');
        if let Some(d) = n.card.expires_on {
            buf.push_str(&d.format("%Y-%m-%d").to_string());
        }
        buf.push('\n');
        if buf.len() >= PART_BYTES {
            parts.push(seal(&parts, &buf));
            buf.clear();
        }
    }
    if !buf.is_empty() {
        parts.push(seal(&parts, &buf));
    }
    parts
}

/// Where part `seq` of draft `draft_id` is sealed: a part opens only as that part of that draft.
fn part_slot(draft_id: &str, seq: i32) -> Slot<'_> {
    Slot::new(
        SealedColumn::ImportDraftPart,
        RowKey::DraftPart { draft_id, seq },
    )
}

/// The cards of a draft's decrypted parts.
fn open_parts(
    key: &MasterKey,
    draft_id: &str,
    parts: &[(i32, Vec<u8>)],
) -> anyhow::Result<Vec<CardLine>> {
    let mut cards = Vec::new();
    for (seq, part) in parts {
        let text = key
            .open_string(part_slot(draft_id, *seq), part)
            .map_err(|_| anyhow::anyhow!("a card import draft cannot be decrypted"))?;
        for line in text.lines() {
            let mut f = line.split('\t');
            let (Some(_line_no), Some(no), Some(pass), Some(exp), None) =
                (f.next(), f.next(), f.next(), f.next(), f.next())
            else {
                anyhow::bail!("a card import draft is malformed");
            };
            let expires_on = if exp.is_empty() {
                None
            } else {
                Some(
                    NaiveDate::parse_from_str(exp, "%Y-%m-%d")
                        .map_err(|_| anyhow::anyhow!("a card import draft is malformed"))?,
                )
            };
            cards.push(CardLine {
                card_no: no.to_owned(),
                password: pass.to_owned(),
                expires_on,
            });
        }
    }
    Ok(cards)
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
        Some(p) if p.mode() == Some(FulfilmentMode::Card) => p,
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
        sqlx::query(
            "DELETE p FROM card_import_draft_parts p
             JOIN card_import_drafts d ON d.id = p.draft_id WHERE d.expires_at < NOW(3)",
        )
        .execute(&state.db)
        .await?;
        sqlx::query(
            "DELETE FROM card_import_drafts WHERE expires_at < NOW(3) - INTERVAL 1 DAY LIMIT 1000",
        )
        .execute(&state.db)
        .await?;
        let mut tx = state.db.begin().await?;
        sqlx::query(
            "INSERT INTO card_import_drafts (id, user_id, product_id, source, total_lines,
                new_cards, dup_in_file, dup_in_stock, invalid, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3) + INTERVAL ? MINUTE)",
        )
        .bind(&id)
        .bind(user.id)
        .bind(product_id)
        .bind(&source)
        .bind(c.total_lines() as i64)
        .bind(c.new.len() as i64)
        .bind(c.dup_in_file.len() as i64)
        .bind(c.dup_in_stock.len() as i64)
        .bind(c.invalid.len() as i64)
        .bind(DRAFT_TTL_MINUTES)
        .execute(&mut *tx)
        .await?;
        for (seq, part) in parts.iter().enumerate() {
            sqlx::query(
                "INSERT INTO card_import_draft_parts (draft_id, seq, cards_enc) VALUES (?, ?, ?)",
            )
            .bind(&id)
            .bind(seq as i32)
            .bind(part.as_slice())
            .execute(&mut *tx)
            .await?;
        }
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

/// Why a card already in stock is not imported: which product holds it, and its status there.
fn stocked_note(product_id: u64, h: &cards::Holder) -> String {
    let status = h.status.map(|s| s.label_zh()).unwrap_or("未知");
    if h.product_id == product_id {
        format!("本商品库存中已有（{status}）")
    } else {
        format!(
            "已在其他商品「{}」（#{}）的库存中（{status}），同一张卡密只能售出一次",
            h.product_name, h.product_id
        )
    }
}

#[derive(sqlx::FromRow)]
struct DraftRow {
    user_id: u64,
    product_id: u64,
    source: String,
    total_lines: i32,
    new_cards: i32,
    dup_in_file: i32,
    dup_in_stock: i32,
    invalid: i32,
    status: String,
    batch_id: Option<String>,
    inserted: Option<i32>,
    expired: i64,
}

/// A new batch id: Beijing time to the second and a random suffix, e.g. `B20261125153000-3fa9c1`.
fn new_batch_id() -> String {
    format!(
        "B{}-{}",
        chrono::Utc::now()
            .with_timezone(&common::domain::beijing())
            .format("%Y%m%d%H%M%S"),
        random_hex(3)
    )
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
    let draft: Option<DraftRow> = sqlx::query_as(
        "SELECT user_id, product_id, source, total_lines, new_cards, dup_in_file, dup_in_stock,
                invalid, status, batch_id, inserted,
                CAST(expires_at < NOW(3) AS SIGNED) AS expired
         FROM card_import_drafts WHERE id = ? FOR UPDATE",
    )
    .bind(draft_id)
    .fetch_optional(&mut *tx)
    .await?;
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
    if d.status == "committed" {
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
        sqlx::query("DELETE FROM card_import_draft_parts WHERE draft_id = ?")
            .bind(draft_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(redirect_error(
            AGAIN,
            format!("导入预览已过期（{DRAFT_TTL_MINUTES} 分钟内有效），请重新上传卡密。"),
        ));
    }
    let product = common::db::products::get(&mut *tx, d.product_id).await?;
    let product = match product {
        Some(p) if p.mode() == Some(FulfilmentMode::Card) => p,
        _ => {
            return Ok(redirect_error(
                AGAIN,
                "商品已不存在或已不是卡密商品，未导入。",
            ));
        }
    };
    let parts: Vec<(i32, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, cards_enc FROM card_import_draft_parts WHERE draft_id = ? ORDER BY seq",
    )
    .bind(draft_id)
    .fetch_all(&mut *tx)
    .await?;
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
    sqlx::query(
        "UPDATE card_import_drafts SET status = 'committed', batch_id = ?, inserted = ?
         WHERE id = ?",
    )
    .bind(&batch)
    .bind(inserted as i64)
    .bind(draft_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM card_import_draft_parts WHERE draft_id = ?")
        .bind(draft_id)
        .execute(&mut *tx)
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(text: &str, name: &str, file: &[u8]) -> Upload {
        Upload {
            product: "1".into(),
            text: text.into(),
            file_name: name.into(),
            file: file.to_vec(),
        }
    }

    #[test]
    fn upload_sources() {
        assert!(upload_text(&upload("", "", b"")).is_err());
        assert!(upload_text(&upload("  \n", "", b"")).is_err());
        assert!(upload_text(&upload("A,1", "a.txt", b"A,1")).is_err());
        assert!(upload_text(&upload("", "cards.xlsx", b"PK\x03\x04")).is_err());
        assert!(upload_text(&upload("", "a.txt", b"A,1\0")).is_err());
        let (t, src, enc) = upload_text(&upload("A,1", "", b"")).unwrap();
        assert_eq!(
            (t.as_str(), src.as_str(), enc),
            ("A,1", "粘贴", FileEncoding::Utf8)
        );
        let (_, src, enc) =
            upload_text(&upload("", "C:\\卡密\\批次1.txt", b"\xbf\xa8\xba\xc5\nA,1")).unwrap();
        assert_eq!((src.as_str(), enc), ("批次1.txt", FileEncoding::Gbk));
    }

    #[test]
    fn drafts_round_trip() {
        let key = MasterKey::from_bytes([3u8; 32]);
        let mut c = Classified::default();
        for i in 0..30_000 {
            c.new.push(cards::NewCard {
                line_no: i + 1,
                card: CardLine {
                    card_no: format!("NO{i:08}"),
                    password: format!("PW{i:012}"),
                    expires_on: (i % 2 == 0).then(|| NaiveDate::from_ymd_opt(2030, 1, 2).unwrap()),
                },
                fingerprint: [0; 32],
            });
        }
        let draft = "d".repeat(32);
        let parts = seal_parts(&key, &draft, &c);
        assert!(parts.len() > 1, "cut into parts");
        for p in &parts {
            assert!(!String::from_utf8_lossy(p).contains("NO00000001"));
        }
        let parts: Vec<(i32, Vec<u8>)> = (0..).zip(parts).collect();
        let back = open_parts(&key, &draft, &parts).unwrap();
        assert_eq!(back.len(), 30_000);
        assert_eq!(back[7], c.new[7].card);
        assert_eq!(back[8], c.new[8].card);
        let other = MasterKey::from_bytes([4u8; 32]);
        assert!(open_parts(&other, &draft, &parts).is_err());
        // A part opens only as its own part of its own draft.
        assert!(open_parts(&key, &"e".repeat(32), &parts).is_err());
        let swapped = [(0, parts[1].1.clone()), (1, parts[0].1.clone())];
        assert!(open_parts(&key, &draft, &swapped).is_err());
        assert!(new_batch_id().starts_with('B'));
        assert_eq!(new_batch_id().len(), 22);
    }
}
