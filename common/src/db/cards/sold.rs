//! The cards sold to an order, and the one gate before a success with cards reaches a
//! platform ([`for_success`]).

use std::collections::HashMap;

use sqlx::{FromRow, MySqlExecutor};

use crate::crypto::at_rest::{MasterKey, SealedColumn};
use crate::domain::card_import::{self, CardLine};

use super::open;

/// The cards sold to `order_id`, in issue order, decrypted.
pub async fn issued_to_order(
    ex: impl MySqlExecutor<'_>,
    key: &MasterKey,
    order_id: u64,
) -> anyhow::Result<Vec<CardLine>> {
    OrderCards::read(ex, order_id)
        .await?
        .0
        .iter()
        .map(|row| {
            row.open(key)
                .ok_or_else(|| anyhow::anyhow!("card of order {order_id} cannot be decrypted"))
        })
        .collect()
}

/// The sealed cards sold to several orders, read in one statement (the notifier reads those of
/// every order it claimed at once, instead of one read per callback).
pub struct SoldCards(HashMap<u64, Vec<SealedCard>>);

/// One order's sealed sold cards, in issue order, as [`SoldCards::take`] hands them out; judged
/// by [`for_success_with`].
pub struct OrderCards(Vec<SealedCard>);

impl SoldCards {
    /// The cards sold to `order_ids` (none read when the list is empty).
    pub async fn read(ex: impl MySqlExecutor<'_>, order_ids: &[u64]) -> sqlx::Result<SoldCards> {
        if order_ids.is_empty() {
            return Ok(SoldCards(HashMap::new()));
        }
        let sql = format!(
            "SELECT order_id, {SEALED_CARD} FROM cards
             WHERE order_id IN ({}) AND status = 'sold' ORDER BY order_id, id",
            crate::db::placeholders(order_ids.len())
        );
        let mut q = sqlx::query_as::<_, OrderCard>(sqlx::AssertSqlSafe(sql));
        for id in order_ids {
            q = q.bind(id);
        }
        let mut by_order: HashMap<u64, Vec<SealedCard>> = HashMap::new();
        for row in q.fetch_all(ex).await? {
            by_order.entry(row.order_id).or_default().push(row.card);
        }
        Ok(SoldCards(by_order))
    }

    /// Takes the cards of `order_id` out (none if it holds none, or was not read).
    pub fn take(&mut self, order_id: u64) -> OrderCards {
        OrderCards(self.0.remove(&order_id).unwrap_or_default())
    }
}

impl OrderCards {
    /// The sealed cards sold to `order_id`, in issue order (a read of one order).
    async fn read(ex: impl MySqlExecutor<'_>, order_id: u64) -> sqlx::Result<OrderCards> {
        Ok(SoldCards::read(ex, &[order_id]).await?.take(order_id))
    }
}

#[derive(FromRow)]
struct OrderCard {
    order_id: u64,
    #[sqlx(flatten)]
    card: SealedCard,
}

/// A card row as stored, sealed.
#[derive(FromRow)]
pub(super) struct SealedCard {
    pub(super) id: u64,
    product_id: u64,
    fingerprint: Vec<u8>,
    card_no_enc: Vec<u8>,
    card_pass_enc: Vec<u8>,
    expires_at: chrono::NaiveDate,
}

pub(super) const SEALED_CARD: &str =
    "id, product_id, fingerprint, card_no_enc, card_pass_enc, expires_at";

impl SealedCard {
    /// The card in clear text; `None` when it does not open for its row.
    pub(super) fn open(&self, key: &MasterKey) -> Option<CardLine> {
        let (product, fp) = (self.product_id, &self.fingerprint);
        let card_no = open(key, SealedColumn::CardNo, product, fp, &self.card_no_enc).ok()?;
        let password = open(
            key,
            SealedColumn::CardPassword,
            product,
            fp,
            &self.card_pass_enc,
        )
        .ok()?;
        Some(CardLine {
            card_no,
            password,
            expires_on: (self.expires_at != card_import::no_expiry()).then_some(self.expires_at),
        })
    }
}

/// The cards of a succeeded card order, as a platform may be told them.
#[derive(Debug)]
pub enum SuccessCards {
    /// Exactly the order's `quantity` sold cards, in issue order.
    Complete(Vec<CardLine>),
    /// The order holds another number of sold cards than it was bought with: it must not be
    /// reported as a success (the alert is already raised).
    Mismatch { expected: i64, found: usize },
    /// A card sold to the order does not decrypt for its row (its ciphertext was moved or
    /// changed in the database, or MASTER_KEY is not the one it was sealed with): never
    /// reported (the alert is already raised).
    Unreadable,
}

/// Stable log event name of the card-count alert.
pub const CARD_COUNT_MISMATCH_EVENT: &str = "order.card_count_mismatch";
/// Stable log event name of the unreadable-card alert.
pub const CARD_UNREADABLE_EVENT: &str = "order.card_unreadable";

/// The one gate before any "success" with cards reaches a platform (query answers, repeated
/// orders, callbacks): loads the cards sold to `order`, checks that there are exactly
/// `order.quantity` of them and that each opens for its own row. Otherwise it raises the alert
/// — an error log line with a stable event ([`CARD_COUNT_MISMATCH_EVENT`],
/// [`CARD_UNREADABLE_EVENT`]) and, once per order, an `order_events` note the operators see on
/// the order's timeline — and returns [`SuccessCards::Mismatch`] / [`SuccessCards::Unreadable`],
/// which callers answer as "in progress" (or a system error) and never as a success.
pub async fn for_success(
    pool: &crate::db::Pool,
    key: &MasterKey,
    order: &crate::db::orders::OrderRow,
    actor: &str,
) -> anyhow::Result<SuccessCards> {
    let cards = OrderCards::read(pool, order.id).await?;
    for_success_with(pool, key, order, actor, cards).await
}

/// [`for_success`] of cards already read ([`SoldCards`]): the same gate, the same alerts.
pub async fn for_success_with(
    pool: &crate::db::Pool,
    key: &MasterKey,
    order: &crate::db::orders::OrderRow,
    actor: &str,
    cards: OrderCards,
) -> anyhow::Result<SuccessCards> {
    let rows = cards.0;
    let cards: Option<Vec<CardLine>> = rows.iter().map(|row| row.open(key)).collect();
    let Some(cards) = cards else {
        tracing::error!(
            event = CARD_UNREADABLE_EVENT,
            order_id = order.id,
            order_no = %order.order_no,
            actor,
            "a card sold to the order does not decrypt for its row; not reported as a success"
        );
        let note = format!(
            "{CARD_UNREADABLE_NOTE}：本订单的卡密无法用 MASTER_KEY 按所在记录解密（数据库中的密文可能被挪动或改动），未向平台报告成功，请人工核查"
        );
        note_once(
            pool,
            order,
            actor,
            CARD_UNREADABLE_NOTE,
            &note,
            CARD_UNREADABLE_EVENT,
        )
        .await;
        return Ok(SuccessCards::Unreadable);
    };
    let expected = i64::from(order.quantity);
    if i64::try_from(cards.len()).ok() == Some(expected) && expected > 0 {
        return Ok(SuccessCards::Complete(cards));
    }
    let found = cards.len();
    tracing::error!(
        event = CARD_COUNT_MISMATCH_EVENT,
        order_id = order.id,
        order_no = %order.order_no,
        expected,
        found,
        actor,
        "succeeded card order holds the wrong number of sold cards; not reported as a success"
    );
    let note = format!(
        "{CARD_COUNT_MISMATCH_NOTE}：应有 {expected} 张，实有 {found} 张，未向平台报告成功，请人工核查"
    );
    note_once(
        pool,
        order,
        actor,
        CARD_COUNT_MISMATCH_NOTE,
        &note,
        CARD_COUNT_MISMATCH_EVENT,
    )
    .await;
    Ok(SuccessCards::Mismatch { expected, found })
}

/// Adds `note` to the order's timeline unless a note starting with `prefix` is there already:
/// JD polls, and every poll would otherwise add a row. The order's row lock makes the check and
/// the insert one step, so concurrent polls write it once. A failure is logged, not returned:
/// the caller's answer does not depend on it.
async fn note_once(
    pool: &crate::db::Pool,
    order: &crate::db::orders::OrderRow,
    actor: &str,
    prefix: &str,
    note: &str,
    event: &str,
) {
    let noted = async {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT id FROM orders WHERE id = ? FOR UPDATE")
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO order_events (order_id, from_status, to_status, actor, note)
             SELECT ?, o.status, o.status, ?, ? FROM orders o
             WHERE o.id = ? AND NOT EXISTS (
                 SELECT 1 FROM order_events e WHERE e.order_id = o.id AND e.note LIKE ?)",
        )
        .bind(order.id)
        .bind(actor)
        .bind(note)
        .bind(order.id)
        .bind(format!("{prefix}%"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = noted {
        tracing::error!(
            event,
            order_id = order.id,
            error = %e,
            "the alert could not be recorded on the order's timeline"
        );
    }
}

/// How the card-count alert starts on the order's timeline (operators read Chinese).
pub const CARD_COUNT_MISMATCH_NOTE: &str = "卡密数量异常";
/// How the unreadable-card alert starts on the order's timeline.
pub const CARD_UNREADABLE_NOTE: &str = "卡密无法解密";
