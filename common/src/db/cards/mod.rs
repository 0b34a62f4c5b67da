//! Card inventory: encrypted import with de-duplication, and stock counts.
//!
//! A card is in stock at most once across all products: the fingerprint (HMAC of number and
//! password) is unique in `cards`, whatever the product or status, so one card can be sold once.
//!
//! An import is [`classify`] (parse, fingerprint, find duplicates within the text and against
//! every product's stock, naming the product that holds each) then [`insert_cards`] (encrypted,
//! `INSERT IGNORE` on the fingerprint key). [`import`] does both at once (the CLI); the back
//! office previews with [`classify`] and commits later, in its own transaction, with
//! [`insert_cards`] and [`record_batch`]. [`held`] tells any other writer (手动成功) which cards
//! are already in stock; [`take_for_export`] hands a batch's unsold cards out in clear text.

use std::collections::HashMap;

use sqlx::{MySqlConnection, MySqlExecutor};

use crate::crypto::CryptoError;
use crate::crypto::at_rest::{MasterKey, RowKey, SealedColumn, Slot};
use crate::domain::CardStatus;
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
    /// Of the duplicates found in stock, those held by other products: (product, cards), by
    /// product name.
    pub held_elsewhere: Vec<(String, usize)>,
}

/// Rows per INSERT at most, and about [`CHUNK_BYTES`] of bound values: statements stay small
/// (see the note on `GROUP_MAX_BYTES` in `db::orders`: sqlx does not set TCP_NODELAY, and
/// statements spanning many TCP segments stalled ~200 ms each).
const CHUNK: usize = 50;
/// Bound bytes per INSERT at most (long cards make fewer rows per statement).
const CHUNK_BYTES: usize = 10_000;
/// Fingerprints per duplicate-lookup SELECT (33 bytes each on the wire: about 8 KB).
const LOOKUP_CHUNK: usize = 250;

/// A card of the text that is neither a repeat within it nor already in stock.
#[derive(Clone)]
pub struct NewCard {
    /// 1-based line in the text.
    pub line_no: usize,
    pub card: CardLine,
    pub fingerprint: [u8; 32],
}

/// A card that repeats an earlier line of the same text.
#[derive(Clone)]
pub struct RepeatedCard {
    pub line_no: usize,
    /// The line it repeats.
    pub first_line_no: usize,
    pub card: CardLine,
}

/// A card already in stock (any product, any status: available, sold, void or exported).
#[derive(Clone)]
pub struct StockedCard {
    pub line_no: usize,
    pub card: CardLine,
    /// The product whose stock holds it.
    pub held_by: Holder,
}

/// Which product holds a card already in stock, and the card's status there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub product_id: u64,
    /// `#<id>` when the product row is gone.
    pub product_name: String,
    pub status: CardStatus,
}

/// A text sorted into what an import would do with each line. `Debug` shows counts only.
#[derive(Clone, Default)]
pub struct Classified {
    pub new: Vec<NewCard>,
    pub dup_in_file: Vec<RepeatedCard>,
    pub dup_in_stock: Vec<StockedCard>,
    pub invalid: Vec<InvalidLine>,
}

impl Classified {
    /// Lines holding something (blank lines and the header are not counted).
    pub fn total_lines(&self) -> usize {
        self.new.len() + self.dup_in_file.len() + self.dup_in_stock.len() + self.invalid.len()
    }

    /// Moves the new cards JD 游戏点卡 would refuse ([`card_import::jd_game_problem`]) to
    /// `invalid`, with the reason.
    pub fn enforce_jd_game(&mut self) {
        let mut moved = false;
        self.new
            .retain(|c| match card_import::jd_game_problem(&c.card) {
                None => true,
                Some(reason) => {
                    self.invalid.push(InvalidLine {
                        line_no: c.line_no,
                        reason,
                    });
                    moved = true;
                    false
                }
            });
        if moved {
            self.invalid.sort_by_key(|i| i.line_no);
        }
    }

    /// The cards already held by a product other than `product_id`: (product name, count), by
    /// name.
    pub fn held_elsewhere(&self, product_id: u64) -> Vec<(String, usize)> {
        let mut by_name: std::collections::BTreeMap<&str, usize> = Default::default();
        for c in &self.dup_in_stock {
            if c.held_by.product_id != product_id {
                *by_name.entry(c.held_by.product_name.as_str()).or_default() += 1;
            }
        }
        by_name
            .into_iter()
            .map(|(name, n)| (name.to_owned(), n))
            .collect()
    }
}

/// Applies the card rules of the platforms `product_id` is sold on: a product with a JD 游戏点卡
/// SKU takes only cards 游戏点卡 accepts ([`Classified::enforce_jd_game`]). Every import calls
/// this after [`classify`].
pub async fn apply_platform_rules(
    ex: &mut MySqlConnection,
    product_id: u64,
    c: &mut Classified,
) -> sqlx::Result<()> {
    let on_jd_game: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM product_skus WHERE product_id = ? AND platform = 'jd_game' LIMIT 1",
    )
    .bind(product_id)
    .fetch_optional(&mut *ex)
    .await?;
    if on_jd_game.is_some() {
        c.enforce_jd_game();
    }
    Ok(())
}

impl std::fmt::Debug for Classified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Card secrets never reach a log line.
        f.debug_struct("Classified")
            .field("new", &self.new.len())
            .field("dup_in_file", &self.dup_in_file.len())
            .field("dup_in_stock", &self.dup_in_stock.len())
            .field("invalid", &self.invalid.len())
            .finish()
    }
}

/// Today in Beijing: cards expiring before it are refused.
/// Parses `text` and sorts every line: new, repeat of an earlier line, already in stock (of
/// any product: a card is sold once), or invalid (with its reason). Reads the database, writes
/// nothing.
pub async fn classify(
    ex: &mut MySqlConnection,
    key: &MasterKey,
    text: &str,
) -> sqlx::Result<Classified> {
    let (cards, invalid) = card_import::parse_file(text, crate::domain::beijing_today());
    let mut out = Classified {
        invalid,
        ..Default::default()
    };
    let mut first_seen: HashMap<[u8; 32], usize> = HashMap::with_capacity(cards.len());
    let mut unique: Vec<NewCard> = Vec::with_capacity(cards.len());
    for (line_no, card) in cards {
        let fingerprint = key.fingerprint(&card_import::fingerprint_input(&card));
        match first_seen.get(&fingerprint) {
            Some(&first_line_no) => out.dup_in_file.push(RepeatedCard {
                line_no,
                first_line_no,
                card,
            }),
            None => {
                first_seen.insert(fingerprint, line_no);
                unique.push(NewCard {
                    line_no,
                    card,
                    fingerprint,
                });
            }
        }
    }
    drop(first_seen);
    for chunk in unique.chunks(LOOKUP_CHUNK) {
        let existing = held_chunk(&mut *ex, chunk.iter().map(|c| &c.fingerprint)).await?;
        for c in chunk {
            match existing.get(&c.fingerprint) {
                Some(holder) => out.dup_in_stock.push(StockedCard {
                    line_no: c.line_no,
                    card: c.card.clone(),
                    held_by: holder.clone(),
                }),
                None => out.new.push(c.clone()),
            }
        }
    }
    Ok(out)
}

/// Which of `fingerprints` are already in stock (any product, any status), and who holds them.
/// On a transaction that must not race an import, lock first (the unique key still refuses a
/// concurrent insert of the same card).
pub async fn held(
    ex: &mut MySqlConnection,
    fingerprints: &[[u8; 32]],
) -> sqlx::Result<HashMap<[u8; 32], Holder>> {
    let mut out = HashMap::new();
    for chunk in fingerprints.chunks(LOOKUP_CHUNK) {
        out.extend(held_chunk(&mut *ex, chunk.iter()).await?);
    }
    Ok(out)
}

/// Where new card rows go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewCardsFor {
    /// Into stock, `available`; a card already held anywhere is skipped.
    Stock,
    /// Sold at once to this order (an operator's 手动成功 with cards bought elsewhere); a card
    /// already held anywhere fails the statement with a unique-key violation.
    SoldTo(u64),
}

/// The one writer of card rows: seals and inserts `cards` (each with its fingerprint) for
/// `product_id` under `batch_id`, a few dozen rows per statement, on the caller's connection
/// (or transaction). Returns how many were inserted.
pub async fn insert_cards(
    ex: &mut MySqlConnection,
    key: &MasterKey,
    product_id: u64,
    batch_id: &str,
    cards: &[(&CardLine, [u8; 32])],
    to: NewCardsFor,
) -> sqlx::Result<usize> {
    let mut inserted = 0;
    let mut rest = cards;
    while !rest.is_empty() {
        // Rows until CHUNK or about CHUNK_BYTES of bound values (at least one row).
        let mut n = 0;
        let mut bytes = 0;
        for (card, _) in rest.iter().take(CHUNK) {
            let row = 8 + batch_id.len() + 2 * 29 + card.card_no.len() + card.password.len() + 40;
            if n > 0 && bytes + row > CHUNK_BYTES {
                break;
            }
            n += 1;
            bytes += row;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let sql = match to {
            NewCardsFor::Stock => format!(
                "INSERT IGNORE INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint, expires_at) VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            ),
            NewCardsFor::SoldTo(order_id) => format!(
                "INSERT INTO cards (product_id, batch_id, card_no_enc, card_pass_enc, fingerprint, expires_at, status, order_id, sold_at) VALUES {}",
                vec![format!("(?, ?, ?, ?, ?, ?, 'sold', {order_id}, NOW(3))"); chunk.len()]
                    .join(", ")
            ),
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (card, fp) in chunk {
            q = q
                .bind(product_id)
                .bind(batch_id)
                .bind(seal(
                    key,
                    SealedColumn::CardNo,
                    product_id,
                    fp,
                    &card.card_no,
                ))
                .bind(seal(
                    key,
                    SealedColumn::CardPassword,
                    product_id,
                    fp,
                    &card.password,
                ))
                .bind(fp.as_slice())
                .bind(card.expires_on.unwrap_or_else(card_import::no_expiry));
        }
        inserted += q.execute(&mut *ex).await?.rows_affected() as usize;
    }
    Ok(inserted)
}

/// Seals a card's number or password for its row: the card's product and fingerprint (unique
/// across all cards), both known before the row exists and never changed after. Every writer of
/// card rows uses it.
pub fn seal(
    key: &MasterKey,
    column: SealedColumn,
    product_id: u64,
    fingerprint: &[u8],
    value: &str,
) -> Vec<u8> {
    key.seal_str(card_slot(column, product_id, fingerprint), value)
}

/// Opens a card's number or password sealed by [`seal`] for the row of `product_id` and
/// `fingerprint`; a value moved to another card, product or column does not open.
pub fn open(
    key: &MasterKey,
    column: SealedColumn,
    product_id: u64,
    fingerprint: &[u8],
    blob: &[u8],
) -> Result<String, CryptoError> {
    key.open_string(card_slot(column, product_id, fingerprint), blob)
}

fn card_slot(column: SealedColumn, product_id: u64, fingerprint: &[u8]) -> Slot<'_> {
    Slot::new(
        column,
        RowKey::Card {
            product_id,
            fingerprint,
        },
    )
}

/// The `card_batches` row of an import (the back office's list of batches).
pub struct BatchRecord<'a> {
    pub batch_id: &'a str,
    pub product_id: u64,
    /// File name, or 粘贴 / 命令行.
    pub source: &'a str,
    pub imported_by: &'a str,
    pub total_lines: usize,
    pub inserted: usize,
    pub duplicates: usize,
    pub invalid: usize,
}

/// Writes the batch's row; importing again under an existing batch id adds to its counts.
pub async fn record_batch(ex: impl MySqlExecutor<'_>, b: &BatchRecord<'_>) -> sqlx::Result<()> {
    let source: String = b.source.chars().take(255).collect();
    let by: String = b.imported_by.chars().take(64).collect();
    sqlx::query(
        "INSERT INTO card_batches (id, product_id, source, imported_by, total_lines, inserted,
            duplicates, invalid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE total_lines = total_lines + ?, inserted = inserted + ?,
            duplicates = duplicates + ?, invalid = invalid + ?",
    )
    .bind(b.batch_id)
    .bind(b.product_id)
    .bind(source)
    .bind(by)
    .bind(b.total_lines as i64)
    .bind(b.inserted as i64)
    .bind(b.duplicates as i64)
    .bind(b.invalid as i64)
    // The counts again for the update (MySQL 8 deprecates `VALUES(col)` there).
    .bind(b.total_lines as i64)
    .bind(b.inserted as i64)
    .bind(b.duplicates as i64)
    .bind(b.invalid as i64)
    .execute(ex)
    .await?;
    Ok(())
}

/// Parses, de-duplicates and inserts `text` for `product_id` under `batch_id` (or, when
/// `commit` is false, only reports what it would do). Cards already in stock (same number and
/// password, any product, any status) are counted as duplicates, those of other products named
/// in the report, and skipped; the unique key makes this safe against concurrent imports too.
/// A committed import is recorded in `card_batches` as imported by `cli`.
pub async fn import(
    pool: &super::Pool,
    key: &MasterKey,
    product_id: u64,
    batch_id: &str,
    text: &str,
    commit: bool,
) -> sqlx::Result<ImportReport> {
    let mut conn = pool.acquire().await?;
    let mut c = classify(&mut conn, key, text).await?;
    apply_platform_rules(&mut conn, product_id, &mut c).await?;
    let mut report = ImportReport {
        new: c.new.len(),
        duplicate: c.dup_in_file.len() + c.dup_in_stock.len(),
        invalid: c.invalid.len(),
        invalid_lines: c.invalid.clone(),
        held_elsewhere: c.held_elsewhere(product_id),
    };
    if !commit || c.new.is_empty() {
        return Ok(report);
    }
    let cards: Vec<(&CardLine, [u8; 32])> =
        c.new.iter().map(|n| (&n.card, n.fingerprint)).collect();
    let inserted = insert_cards(
        &mut conn,
        key,
        product_id,
        batch_id,
        &cards,
        NewCardsFor::Stock,
    )
    .await?;
    report.duplicate += report.new - inserted;
    report.new = inserted;
    record_batch(
        &mut *conn,
        &BatchRecord {
            batch_id,
            product_id,
            source: "命令行",
            imported_by: "cli",
            total_lines: c.total_lines(),
            inserted,
            duplicates: report.duplicate,
            invalid: report.invalid,
        },
    )
    .await?;
    drop(conn);
    if inserted > 0 {
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

/// One lookup on `uq_cards_fingerprint` for at most [`LOOKUP_CHUNK`] fingerprints.
async fn held_chunk<'a>(
    ex: impl MySqlExecutor<'_>,
    fps: impl Iterator<Item = &'a [u8; 32]>,
) -> sqlx::Result<HashMap<[u8; 32], Holder>> {
    let fps: Vec<&[u8; 32]> = fps.collect();
    if fps.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT c.fingerprint, c.product_id, p.name, c.status
         FROM cards c LEFT JOIN products p ON p.id = c.product_id
         WHERE c.fingerprint IN ({})",
        super::placeholders(fps.len())
    );
    let mut q =
        sqlx::query_as::<_, (Vec<u8>, u64, Option<String>, CardStatus)>(sqlx::AssertSqlSafe(sql));
    for fp in fps {
        q = q.bind(fp.as_slice());
    }
    Ok(q.fetch_all(ex)
        .await?
        .into_iter()
        .filter_map(|(fp, product_id, name, status)| {
            let fp: [u8; 32] = fp.try_into().ok()?;
            Some((
                fp,
                Holder {
                    product_id,
                    product_name: name.unwrap_or_else(|| format!("#{product_id}")),
                    status,
                },
            ))
        })
        .collect())
}

mod pick;
mod sold;
mod stock;

pub use pick::*;
pub use sold::*;
pub use stock::*;
