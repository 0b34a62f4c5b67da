//! Taking cards out of stock: counting what is available, picking for orders
//! (`FOR UPDATE SKIP LOCKED`), and handing a batch out for export.

use sqlx::{MySqlConnection, MySqlExecutor};

use crate::crypto::at_rest::MasterKey;
use crate::domain::card_import::CardLine;

use super::sold::{SEALED_CARD, SealedCard};

/// How many sellable cards `product_id` has, counting at most `cap` (cheap for preCheck).
/// Sellable = available and not expired on today's Beijing date, as [`pick_available`] picks.
pub async fn available_at_least(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    cap: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM cards WHERE product_id = ? AND status = 'available'
            AND expires_at >= ? LIMIT ?) t",
    )
    .bind(product_id)
    .bind(crate::domain::beijing_today())
    .bind(cap)
    .fetch_one(ex)
    .await
}

/// Locks up to `limit` sellable cards of `product_id` for the caller's transaction: available,
/// expiring on or after `today` (the Beijing date, [`crate::domain::beijing_today`]; a card is
/// good through its expiry day in Beijing, whatever the database session's time zone), earliest
/// expiry first, then oldest import, in `ix_cards_pick` order. Cards other transactions hold are
/// skipped (`SKIP LOCKED`). The caller marks them sold with a conditional update.
pub async fn pick_available(
    tx: &mut crate::db::Tx,
    product_id: u64,
    limit: i64,
    today: chrono::NaiveDate,
) -> sqlx::Result<Vec<u64>> {
    pick(tx, product_id, limit, today, "FOR UPDATE SKIP LOCKED").await
}

/// [`pick_available`] that waits for cards other transactions hold instead of skipping them (up
/// to the lock wait timeout): what is left of them once those transactions end (another order's
/// sale, an operator's export in progress) is taken. For the check before an order is called out
/// of stock, so that cards merely locked for a moment never make an order fail.
pub async fn pick_available_waiting(
    tx: &mut crate::db::Tx,
    product_id: u64,
    limit: i64,
    today: chrono::NaiveDate,
) -> sqlx::Result<Vec<u64>> {
    pick(tx, product_id, limit, today, "FOR UPDATE").await
}

async fn pick(
    tx: &mut crate::db::Tx,
    product_id: u64,
    limit: i64,
    today: chrono::NaiveDate,
    lock: &'static str,
) -> sqlx::Result<Vec<u64>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM cards
         WHERE product_id = ? AND status = 'available' AND expires_at >= ?
         ORDER BY expires_at, id LIMIT ? {lock}"
    )))
    .bind(product_id)
    .bind(today)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Cards read per query while exporting (keyset by id).
const EXPORT_CHUNK: u64 = 5_000;

/// The available cards of `batch_id`, decrypted, in id order, locked (`FOR UPDATE`) on the
/// caller's transaction: a card being sold either keeps its sale (and is not exported) or is
/// exported (and cannot be sold). Unless `keep_available`, they are marked `exported` in the
/// same transaction, so the clear-text file and our stock never both sell the same card.
pub async fn take_for_export(
    ex: &mut MySqlConnection,
    key: &MasterKey,
    batch_id: &str,
    keep_available: bool,
) -> anyhow::Result<Vec<CardLine>> {
    let mut out = Vec::new();
    let mut after: u64 = 0;
    loop {
        let rows: Vec<SealedCard> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SEALED_CARD} FROM cards
             WHERE batch_id = ? AND status = 'available' AND id > ?
             ORDER BY id LIMIT {EXPORT_CHUNK} FOR UPDATE"
        )))
        .bind(batch_id)
        .bind(after)
        .fetch_all(&mut *ex)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let full = rows.len() as u64 == EXPORT_CHUNK;
        let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
        for row in rows {
            let Some(card) = row.open(key) else {
                anyhow::bail!(
                    "card {} of batch {batch_id} cannot be decrypted with MASTER_KEY",
                    row.id
                );
            };
            out.push(card);
        }
        if !keep_available {
            for chunk in ids.chunks(1_000) {
                let sql = format!(
                    "UPDATE cards SET status = 'exported' WHERE status = 'available' AND id IN ({})",
                    crate::db::placeholders(chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                let n = q.execute(&mut *ex).await?.rows_affected();
                anyhow::ensure!(
                    n == chunk.len() as u64,
                    "locked cards of batch {batch_id} changed during the export"
                );
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}
