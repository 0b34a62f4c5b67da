//! The SQL of 卡密库存 and the rows it returns: the card list (see `list` for the plan of each
//! form), the import batches, voiding, and the import drafts. Card rows themselves are written
//! and sealed by `common::db::cards`, shared with the services and the CLI.

use chrono::{NaiveDate, NaiveDateTime};
use common::db::{Pool, Tx};
use common::domain::{CardStatus, DraftStatus};

use super::filter::Filter;
use crate::web::page::{Arg, bind_scalar_args};

/// The ids of one page, newest first (see the module comment for the plan of each form).
pub async fn page_ids(pool: &Pool, f: &Filter, limit: u64, offset: u64) -> sqlx::Result<Vec<u64>> {
    let base = f.base_clauses();
    let statuses: Vec<&str> = match f.status {
        Some(s) => vec![s.as_str()],
        None if base.is_empty() => Vec::new(),
        None => CardStatus::ALL.iter().map(|s| s.as_str()).collect(),
    };
    let table = f.table();
    let (sql, args) = if statuses.len() <= 1 {
        let w = f.where_all();
        let mut args: Vec<Arg> = base.into_iter().map(|(_, a)| a).collect();
        args.extend(statuses.iter().map(|s| Arg::Str((*s).into())));
        (
            format!(
                "SELECT id FROM {table}{} ORDER BY id DESC LIMIT {limit} OFFSET {offset}",
                w.sql()
            ),
            args,
        )
    } else {
        let mut parts = Vec::new();
        let mut args = Vec::new();
        for s in &statuses {
            let mut clauses: Vec<&str> = base.iter().map(|(c, _)| *c).collect();
            clauses.push("status = ?");
            parts.push(format!(
                "(SELECT id FROM {table} WHERE {} ORDER BY id DESC LIMIT {})",
                clauses.join(" AND "),
                offset + limit
            ));
            args.extend(base.iter().map(|(_, a)| a.clone()));
            args.push(Arg::Str((*s).into()));
        }
        (
            format!(
                "SELECT id FROM ({}) u ORDER BY id DESC LIMIT {limit} OFFSET {offset}",
                parts.join(" UNION ALL ")
            ),
            args,
        )
    };
    bind_scalar_args(
        sqlx::query_scalar::<_, u64>(sqlx::AssertSqlSafe(sql)),
        &args,
    )
    .fetch_all(pool)
    .await
}

#[derive(sqlx::FromRow)]
pub struct CardRow {
    pub id: u64,
    pub product_id: u64,
    pub product_name: Option<String>,
    pub batch_id: String,
    pub card_no_enc: Vec<u8>,
    pub fingerprint: Vec<u8>,
    pub expires_at: NaiveDate,
    pub status: CardStatus,
    pub order_id: Option<u64>,
    pub order_no: Option<String>,
    pub created_at: NaiveDateTime,
    pub sold_at: Option<NaiveDateTime>,
}

/// The list's cards of `ids`, newest first, with their product names and order numbers.
pub async fn card_rows(pool: &Pool, ids: &[u64]) -> sqlx::Result<Vec<CardRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT c.id, c.product_id, p.name AS product_name, c.batch_id, c.card_no_enc,
                    c.fingerprint, c.expires_at, c.status, c.order_id, o.order_no,
                    c.created_at, c.sold_at
             FROM cards c
             LEFT JOIN products p ON p.id = c.product_id
             LEFT JOIN orders o ON o.id = c.order_id
             WHERE c.id IN ({})
             ORDER BY c.id DESC",
        common::db::placeholders(ids.len())
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(*id);
    }
    q.fetch_all(pool).await
}

/// The card products: id, name, enabled.
pub async fn card_products(pool: &Pool) -> sqlx::Result<Vec<(u64, String, bool)>> {
    sqlx::query_as("SELECT id, name, enabled FROM products WHERE mode = 'card' ORDER BY name")
        .fetch_all(pool)
        .await
}

#[derive(sqlx::FromRow)]
pub struct BatchRow {
    pub id: String,
    pub product_id: u64,
    pub product_name: Option<String>,
    pub source: String,
    pub imported_by: String,
    pub total_lines: i32,
    pub inserted: i32,
    pub duplicates: i32,
    pub invalid: i32,
    pub created_at: NaiveDateTime,
}

const BATCH_COLUMNS: &str = "b.id, b.product_id, p.name AS product_name, b.source, b.imported_by,
    b.total_lines, b.inserted, b.duplicates, b.invalid, b.created_at";

/// The latest `limit` import batches, of one product or of all.
pub async fn recent_batches(
    pool: &Pool,
    product: Option<u64>,
    limit: u64,
) -> sqlx::Result<Vec<BatchRow>> {
    match product {
        Some(p) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {BATCH_COLUMNS} FROM card_batches b LEFT JOIN products p ON p.id = b.product_id
                 WHERE b.product_id = ? ORDER BY b.created_at DESC LIMIT {limit}"
        )))
            .bind(p)
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {BATCH_COLUMNS} FROM card_batches b LEFT JOIN products p ON p.id = b.product_id
                 ORDER BY b.created_at DESC LIMIT {limit}"
        )))
            .fetch_all(pool)
            .await
        }
    }
}

/// One import batch's record.
pub async fn batch(pool: &Pool, batch: &str) -> sqlx::Result<Option<BatchRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BATCH_COLUMNS} FROM card_batches b LEFT JOIN products p ON p.id = b.product_id
         WHERE b.id = ?"
    )))
    .bind(batch)
    .fetch_optional(pool)
    .await
}

/// A batch's cards counted by status.
pub async fn batch_status_counts(pool: &Pool, batch: &str) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT status, COUNT(*) FROM cards WHERE batch_id = ? GROUP BY status")
        .bind(batch)
        .fetch_all(pool)
        .await
}

/// A card's status and batch, locked for an action.
pub async fn lock_card(tx: &mut Tx, id: u64) -> sqlx::Result<Option<(CardStatus, String)>> {
    sqlx::query_as("SELECT status, batch_id FROM cards WHERE id = ? FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Voids the card if it is available.
pub async fn void_card(tx: &mut Tx, id: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE cards SET status = 'void' WHERE id = ? AND status = 'available'")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Voids the batch's available cards; how many.
pub async fn void_batch(tx: &mut Tx, batch: &str) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE cards SET status = 'void' WHERE batch_id = ? AND status = 'available'")
            .bind(batch)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// Whether the batch has any card.
pub async fn batch_exists(pool: &Pool, batch: &str) -> sqlx::Result<bool> {
    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM cards WHERE batch_id = ? LIMIT 1")
        .bind(batch)
        .fetch_optional(pool)
        .await?;
    Ok(known.is_some())
}

/// A preview's draft: who made it, for which product, its line counts (total, new, duplicate
/// in the file, duplicate in stock, invalid) and how long it can be committed.
pub struct NewDraft<'a> {
    pub id: &'a str,
    pub user_id: u64,
    pub product_id: u64,
    pub source: &'a str,
    pub counts: [usize; 5],
    pub ttl_minutes: i64,
}

/// Removes expired drafts: a pending one's cards, a committed one's row after a day.
pub async fn prune_expired_drafts(pool: &Pool) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE p FROM card_import_draft_parts p
         JOIN card_import_drafts d ON d.id = p.draft_id WHERE d.expires_at < NOW(3)",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "DELETE FROM card_import_drafts WHERE expires_at < NOW(3) - INTERVAL 1 DAY LIMIT 1000",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Stores a draft and its sealed parts (in order).
pub async fn insert_draft(tx: &mut Tx, d: &NewDraft<'_>, parts: &[Vec<u8>]) -> sqlx::Result<()> {
    let [total, new, dup_in_file, dup_in_stock, invalid] = d.counts.map(|n| n as i64);
    sqlx::query(
        "INSERT INTO card_import_drafts (id, user_id, product_id, source, total_lines,
            new_cards, dup_in_file, dup_in_stock, invalid, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3) + INTERVAL ? MINUTE)",
    )
    .bind(d.id)
    .bind(d.user_id)
    .bind(d.product_id)
    .bind(d.source)
    .bind(total)
    .bind(new)
    .bind(dup_in_file)
    .bind(dup_in_stock)
    .bind(invalid)
    .bind(d.ttl_minutes)
    .execute(&mut **tx)
    .await?;
    for (seq, part) in parts.iter().enumerate() {
        sqlx::query(
            "INSERT INTO card_import_draft_parts (draft_id, seq, cards_enc) VALUES (?, ?, ?)",
        )
        .bind(d.id)
        .bind(seq as i32)
        .bind(part.as_slice())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct DraftRow {
    pub user_id: u64,
    pub product_id: u64,
    pub source: String,
    pub total_lines: i32,
    pub new_cards: i32,
    pub dup_in_file: i32,
    pub dup_in_stock: i32,
    pub invalid: i32,
    pub status: DraftStatus,
    pub batch_id: Option<String>,
    pub inserted: Option<i32>,
    pub expired: i64,
}

/// The draft, locked for its commit.
pub async fn lock_draft(tx: &mut Tx, id: &str) -> sqlx::Result<Option<DraftRow>> {
    sqlx::query_as(
        "SELECT user_id, product_id, source, total_lines, new_cards, dup_in_file, dup_in_stock,
                invalid, status, batch_id, inserted,
                CAST(expires_at < NOW(3) AS SIGNED) AS expired
         FROM card_import_drafts WHERE id = ? FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The draft's sealed parts, in order.
pub async fn draft_parts(tx: &mut Tx, id: &str) -> sqlx::Result<Vec<(i32, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT seq, cards_enc FROM card_import_draft_parts WHERE draft_id = ? ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await
}

pub async fn delete_draft_parts(tx: &mut Tx, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM card_import_draft_parts WHERE draft_id = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks the draft committed as `batch` (`inserted` cards) and drops its cards.
pub async fn mark_draft_committed(
    tx: &mut Tx,
    id: &str,
    batch: &str,
    inserted: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE card_import_drafts SET status = 'committed', batch_id = ?, inserted = ?
         WHERE id = ?",
    )
    .bind(batch)
    .bind(inserted)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    delete_draft_parts(tx, id).await
}
