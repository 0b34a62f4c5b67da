//! The one-time re-sealing of values stored before they were bound to their row and column:
//! every version 1 blob (AES-GCM without associated data) is opened and sealed again for its
//! [`Slot`]. It runs with the migrations, under their lock, once per database: a `settings` row
//! records that it is done, so services starting later do not scan the tables again. `admin
//! migrate` runs it again whatever the mark says, which picks up a value an older binary may
//! have written during an upgrade.
//!
//! A version 1 value that does not open with the current key (it was unreadable before, too) is
//! left as it is and counted in the log; nothing else reads version 1 blobs.

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
        let r = reseal_column(conn, key, column).await?;
        total.resealed += r.resealed;
        total.unreadable += r.unreadable;
    }
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES (?, '1')
         ON DUPLICATE KEY UPDATE value = '1'",
    )
    .bind(DONE_SETTING)
    .execute(&mut *conn)
    .await?;
    if total.resealed > 0 {
        tracing::info!(
            resealed = total.resealed,
            "stored secrets and cards re-sealed for their row and column"
        );
    }
    if total.unreadable > 0 {
        tracing::error!(
            unreadable = total.unreadable,
            "some stored secrets or cards do not decrypt with MASTER_KEY and were left as they were"
        );
    }
    Ok(total)
}

/// A stored row's key columns as read for re-sealing.
enum Key {
    Id(u64),
    Card { id: u64, fingerprint: Vec<u8> },
    Part { draft_id: String, seq: i32 },
}

impl Key {
    fn row(&self) -> RowKey<'_> {
        match self {
            Key::Id(id) => RowKey::Id(*id),
            Key::Card { fingerprint, .. } => RowKey::Fingerprint(fingerprint),
            Key::Part { draft_id, seq } => RowKey::DraftPart {
                draft_id,
                seq: *seq,
            },
        }
    }
}

/// Re-seals one column, a batch of rows per transaction, walking the rows in key order (a
/// value that stays version 1 because it does not open is passed, not read again).
async fn reseal_column(
    conn: &mut MySqlConnection,
    key: &MasterKey,
    column: SealedColumn,
) -> anyhow::Result<Resealed> {
    let (table, col) = (column.table(), column.column());
    let legacy =
        format!("{col} IS NOT NULL AND LENGTH({col}) > 0 AND ASCII({col}) = {LEGACY_BLOB_VERSION}");
    let mut done = Resealed::default();
    let mut last_id = 0u64;
    let mut last_part = (String::new(), -1i32);
    loop {
        let rows: Vec<(Key, Vec<u8>)> = match column {
            SealedColumn::CardNo | SealedColumn::CardPassword => {
                sqlx::query_as::<_, (u64, Vec<u8>, Vec<u8>)>(sqlx::AssertSqlSafe(format!(
                    "SELECT id, fingerprint, {col} FROM {table}
                     WHERE id > ? AND {legacy} ORDER BY id LIMIT {BATCH}"
                )))
                .bind(last_id)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(id, fingerprint, blob)| (Key::Card { id, fingerprint }, blob))
                .collect()
            }
            SealedColumn::ImportDraftPart => {
                sqlx::query_as::<_, (String, i32, Vec<u8>)>(sqlx::AssertSqlSafe(format!(
                    "SELECT draft_id, seq, {col} FROM {table}
                     WHERE (draft_id, seq) > (?, ?) AND {legacy}
                     ORDER BY draft_id, seq LIMIT {BATCH}"
                )))
                .bind(&last_part.0)
                .bind(last_part.1)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(draft_id, seq, blob)| (Key::Part { draft_id, seq }, blob))
                .collect()
            }
            _ => sqlx::query_as::<_, (u64, Vec<u8>)>(sqlx::AssertSqlSafe(format!(
                "SELECT id, {col} FROM {table}
                     WHERE id > ? AND {legacy} ORDER BY id LIMIT {BATCH}"
            )))
            .bind(last_id)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|(id, blob)| (Key::Id(id), blob))
            .collect(),
        };
        let full = rows.len() == BATCH as usize;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for (row, blob) in &rows {
            let Ok(plain) = key.open_legacy(blob) else {
                done.unreadable += 1;
                continue;
            };
            let sealed = key.seal(Slot::new(column, row.row()), &plain);
            let q = match row {
                Key::Id(id) | Key::Card { id, .. } => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET {col} = ? WHERE id = ? AND {col} = ?"
                )))
                .bind(sealed)
                .bind(*id),
                Key::Part { draft_id, seq } => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET {col} = ? WHERE draft_id = ? AND seq = ? AND {col} = ?"
                )))
                .bind(sealed)
                .bind(draft_id.as_str())
                .bind(*seq),
            };
            done.resealed += q
                .bind(blob.as_slice())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        match rows.into_iter().last() {
            Some((Key::Part { draft_id, seq }, _)) => last_part = (draft_id, seq),
            Some((Key::Id(id) | Key::Card { id, .. }, _)) => last_id = id,
            None => {}
        }
        if !full {
            return Ok(done);
        }
    }
}
