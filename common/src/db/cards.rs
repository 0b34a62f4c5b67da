//! Card inventory: encrypted import with de-duplication, and stock counts.

use std::collections::HashSet;

use sqlx::{FromRow, MySqlExecutor};

use crate::crypto::at_rest::MasterKey;
use crate::domain::card_import::{self, CardLine, InvalidLine};

/// What an import did (or, for a preview, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub new: usize,
    /// Duplicates within the file plus duplicates of cards already in stock.
    pub duplicate: usize,
    pub invalid: usize,
    #[serde(skip)]
    pub invalid_lines: Vec<InvalidLine>,
}

/// Rows per statement: small enough to stay within one TCP segment (see the note on
/// `GROUP_MAX_BYTES` in `db::orders`: sqlx does not set TCP_NODELAY).
const CHUNK: usize = 50;

/// Parses, de-duplicates and inserts `text` for `product_id` under `batch_id`. Cards already in
/// the product's stock (same number and password, any status) are counted as duplicates and
/// skipped; the unique key makes this safe against concurrent imports too.
pub async fn import(
    pool: &super::Pool,
    key: &MasterKey,
    product_id: u64,
    batch_id: &str,
    text: &str,
    commit: bool,
) -> sqlx::Result<ImportReport> {
    let today = chrono::Utc::now()
        .with_timezone(&crate::domain::types::beijing())
        .date_naive();
    let (cards, invalid_lines) = card_import::parse_file(text, today);
    let mut report = ImportReport {
        invalid: invalid_lines.len(),
        invalid_lines,
        ..Default::default()
    };
    let mut seen = HashSet::with_capacity(cards.len());
    let mut unique: Vec<([u8; 32], CardLine)> = Vec::with_capacity(cards.len());
    for (_, card) in cards {
        let fp = key.fingerprint(&card_import::fingerprint_input(&card));
        if seen.insert(fp) {
            unique.push((fp, card));
        } else {
            report.duplicate += 1;
        }
    }
    for chunk in unique.chunks(CHUNK) {
        let existing =
            existing_fingerprints(pool, product_id, chunk.iter().map(|(fp, _)| fp)).await?;
        let fresh: Vec<_> = chunk
            .iter()
            .filter(|(fp, _)| !existing.contains(fp))
            .collect();
        report.duplicate += chunk.len() - fresh.len();
        if !commit || fresh.is_empty() {
            report.new += fresh.len();
            continue;
        }
        let sql = format!(
            "INSERT IGNORE INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint, expires_at) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; fresh.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (fp, card) in &fresh {
            q = q
                .bind(product_id)
                .bind(batch_id)
                .bind(key.encrypt_str(&card.card_no))
                .bind(key.encrypt_str(&card.password))
                .bind(fp.as_slice())
                .bind(card.expires_on.unwrap_or_else(card_import::no_expiry));
        }
        let inserted = q.execute(pool).await?.rows_affected() as usize;
        report.new += inserted;
        report.duplicate += fresh.len() - inserted;
    }
    if commit && report.new > 0 {
        rearm_low_stock(pool, product_id).await?;
    }
    Ok(report)
}

/// Stock only rises by import: when it is back at or above the product's threshold, the next
/// dip may alert again (the low-stock alert is edge-triggered).
pub async fn rearm_low_stock(pool: &super::Pool, product_id: u64) -> sqlx::Result<()> {
    let threshold: Option<Option<i32>> = sqlx::query_scalar(
        "SELECT low_stock_threshold FROM products WHERE id = ? AND low_stock_alerted = 1",
    )
    .bind(product_id)
    .fetch_optional(pool)
    .await?;
    let Some(Some(threshold)) = threshold else {
        return Ok(());
    };
    if available_at_least(pool, product_id, i64::from(threshold)).await? >= i64::from(threshold) {
        sqlx::query("UPDATE products SET low_stock_alerted = 0 WHERE id = ?")
            .bind(product_id)
            .execute(pool)
            .await?;
    }
    Ok(())
}

async fn existing_fingerprints<'a>(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    fps: impl Iterator<Item = &'a [u8; 32]>,
) -> sqlx::Result<HashSet<[u8; 32]>> {
    let fps: Vec<&[u8; 32]> = fps.collect();
    if fps.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT fingerprint FROM cards WHERE product_id = ? AND fingerprint IN ({})",
        super::placeholders(fps.len())
    );
    let mut q = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql)).bind(product_id);
    for fp in fps {
        q = q.bind(fp.as_slice());
    }
    Ok(q.fetch_all(ex)
        .await?
        .into_iter()
        .filter_map(|v| v.try_into().ok())
        .collect())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct StockRow {
    pub product_id: u64,
    pub product_name: String,
    pub available: i64,
    pub sold: i64,
    pub void: i64,
    pub expired: i64,
    pub low_stock_threshold: Option<i32>,
}

/// Stock per card product. Cards past their expiry date count as expired, not available.
pub async fn stock(ex: impl MySqlExecutor<'_>) -> sqlx::Result<Vec<StockRow>> {
    sqlx::query_as(
        "SELECT p.id AS product_id, p.name AS product_name,
            CAST(COALESCE(SUM(c.status = 'available' AND c.expires_at >= CURRENT_DATE()), 0) AS SIGNED) AS available,
            CAST(COALESCE(SUM(c.status = 'sold'), 0) AS SIGNED) AS sold,
            CAST(COALESCE(SUM(c.status = 'void'), 0) AS SIGNED) AS void,
            CAST(COALESCE(SUM(c.status = 'available' AND c.expires_at < CURRENT_DATE()), 0) AS SIGNED) AS expired,
            p.low_stock_threshold
         FROM products p LEFT JOIN cards c ON c.product_id = p.id
         WHERE p.mode = 'card'
         GROUP BY p.id, p.name, p.low_stock_threshold
         ORDER BY p.id",
    )
    .fetch_all(ex)
    .await
}

/// A card issued to an order, decrypted for the platform that must receive it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCard {
    pub card_no: String,
    pub password: String,
    /// `None` for cards without expiry.
    pub expires_on: Option<chrono::NaiveDate>,
}

impl std::fmt::Debug for IssuedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Card secrets never reach a log line.
        f.debug_struct("IssuedCard")
            .field("card_no", &"***")
            .finish_non_exhaustive()
    }
}

/// The cards sold to `order_id`, in issue order, decrypted.
pub async fn issued_to_order(
    ex: impl MySqlExecutor<'_>,
    key: &MasterKey,
    order_id: u64,
) -> anyhow::Result<Vec<IssuedCard>> {
    let rows: Vec<(Vec<u8>, Vec<u8>, chrono::NaiveDate)> = sqlx::query_as(
        "SELECT card_no_enc, card_pass_enc, expires_at FROM cards WHERE order_id = ? AND status = 'sold' ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(ex)
    .await?;
    let no_expiry = card_import::no_expiry();
    rows.into_iter()
        .map(|(no, pass, exp)| {
            Ok(IssuedCard {
                card_no: key
                    .decrypt_string(&no)
                    .map_err(|_| anyhow::anyhow!("card of order {order_id} cannot be decrypted"))?,
                password: key
                    .decrypt_string(&pass)
                    .map_err(|_| anyhow::anyhow!("card of order {order_id} cannot be decrypted"))?,
                expires_on: (exp != no_expiry).then_some(exp),
            })
        })
        .collect()
}

/// How many sellable cards `product_id` has, counting at most `cap` (cheap for preCheck).
pub async fn available_at_least(
    ex: impl MySqlExecutor<'_>,
    product_id: u64,
    cap: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM cards WHERE product_id = ? AND status = 'available'
            AND expires_at >= CURRENT_DATE() LIMIT ?) t",
    )
    .bind(product_id)
    .bind(cap)
    .fetch_one(ex)
    .await
}
