//! The one-time re-sealing of values stored before they were bound to their row and column:
//! every version 1 blob (AES-GCM without associated data) is opened and sealed again for its
//! [`Slot`]. It runs with the migrations, under their lock, once per database: a `settings` row
//! records that it is done, so services starting later do not scan the tables again. `admin
//! migrate --reseal` runs it again whatever the mark says, which picks up a value an older binary
//! may have written during an upgrade.
//!
//! A version 1 value that does not open with the current key is left as it is, reported, and
//! the mark is not written, so the next start looks again: a service started once with a wrong
//! `MASTER_KEY` leaves everything for the run with the right one. Pending card import drafts
//! sealed the old way (they live for minutes) are deleted, not re-sealed: the operator previews
//! the file again.

use sqlx::MySqlConnection;

use crate::crypto::at_rest::{LEGACY_BLOB_VERSION, MasterKey, RowKey, SealedColumn, Slot};

/// The `settings` row that marks the re-sealing as done.
const DONE_SETTING: &str = "at_rest_sealed_v2";
/// Rows read and re-sealed per transaction.
const BATCH: u32 = 500;

/// What a re-sealing run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Values sealed again for their row and column.
    pub resealed: u64,
    /// Version 1 values that did not open with the current key, left as they were.
    pub unreadable: u64,
    /// Pending card import drafts sealed the old way, deleted.
    pub drafts_dropped: u64,
}

/// Re-seals every version 1 value, unless a previous run marked the database done and `force`
/// is false.
pub async fn reseal_legacy(
    conn: &mut MySqlConnection,
    key: &MasterKey,
    force: bool,
) -> anyhow::Result<Resealed> {
    if !force {
        let done: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
            .bind(DONE_SETTING)
            .fetch_optional(&mut *conn)
            .await?;
        if done.is_some() {
            return Ok(Resealed::default());
        }
    }
    let mut total = Resealed::default();
    for column in SealedColumn::ALL {
        if column == SealedColumn::ImportDraftPart {
            continue;
        }
        let (resealed, unreadable) = reseal_column(conn, key, column).await?;
        total.resealed += resealed;
        total.unreadable += unreadable;
    }
    let old_drafts: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT draft_id FROM card_import_draft_parts WHERE {}",
        is_legacy("cards_enc")
    )))
    .fetch_all(&mut *conn)
    .await?;
    for draft in old_drafts {
        // Its parts go with it (ON DELETE CASCADE).
        total.drafts_dropped += sqlx::query("DELETE FROM card_import_drafts WHERE id = ?")
            .bind(draft)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    if total.resealed > 0 || total.drafts_dropped > 0 {
        tracing::info!(
            resealed = total.resealed,
            drafts_dropped = total.drafts_dropped,
            "stored secrets and cards re-sealed for their row and column"
        );
    }
    if total.unreadable > 0 {
        // Not marked done: the next start looks again (and reports again).
        tracing::error!(
            unreadable = total.unreadable,
            "some stored secrets or cards do not decrypt with MASTER_KEY and were left as they were"
        );
        return Ok(total);
    }
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES (?, '1')
         ON DUPLICATE KEY UPDATE value = '1'",
    )
    .bind(DONE_SETTING)
    .execute(&mut *conn)
    .await?;
    Ok(total)
}

/// The SQL condition "`col` holds a version 1 blob".
fn is_legacy(col: &str) -> String {
    format!("{col} IS NOT NULL AND LENGTH({col}) > 0 AND ASCII({col}) = {LEGACY_BLOB_VERSION}")
}

/// A stored row as read for re-sealing: its id, what else its slot needs, and the value.
#[derive(sqlx::FromRow)]
struct Stored {
    id: u64,
    /// Cards only (0 elsewhere).
    product_id: u64,
    /// Cards only (empty elsewhere).
    fingerprint: Vec<u8>,
    value: Vec<u8>,
}

impl Stored {
    fn row(&self, column: SealedColumn) -> RowKey<'_> {
        match column {
            SealedColumn::CardNo | SealedColumn::CardPassword => RowKey::Card {
                product_id: self.product_id,
                fingerprint: &self.fingerprint,
            },
            _ => RowKey::Id(self.id),
        }
    }
}

/// Re-seals one column of an id-keyed table, a batch of rows per transaction, walking the rows
/// in id order (a value that stays version 1 because it does not open is passed, not read
/// again). Returns (re-sealed, unreadable).
async fn reseal_column(
    conn: &mut MySqlConnection,
    key: &MasterKey,
    column: SealedColumn,
) -> anyhow::Result<(u64, u64)> {
    let (table, col) = (column.table(), column.column());
    let card_columns = match column {
        SealedColumn::CardNo | SealedColumn::CardPassword => "product_id, fingerprint",
        _ => "CAST(0 AS UNSIGNED) AS product_id, CAST('' AS BINARY) AS fingerprint",
    };
    let select = format!(
        "SELECT id, {card_columns}, {col} AS value FROM {table}
         WHERE id > ? AND {} ORDER BY id LIMIT {BATCH}",
        is_legacy(col)
    );
    let update = format!("UPDATE {table} SET {col} = ? WHERE id = ? AND {col} = ?");
    let (mut resealed, mut unreadable) = (0, 0);
    let mut last_id = 0u64;
    loop {
        let rows: Vec<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
            .bind(last_id)
            .fetch_all(&mut *conn)
            .await?;
        let Some(last) = rows.last() else {
            return Ok((resealed, unreadable));
        };
        last_id = last.id;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for row in &rows {
            let Ok(plain) = key.open_legacy(&row.value) else {
                unreadable += 1;
                continue;
            };
            let sealed = key.seal(Slot::new(column, row.row(column)), &plain);
            resealed += sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(sealed)
                .bind(row.id)
                .bind(row.value.as_slice())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        if rows.len() < BATCH as usize {
            return Ok((resealed, unreadable));
        }
    }
}
