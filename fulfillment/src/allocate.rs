//! Taking cards out of inventory: exactly once, inside the fulfilling transaction.

use common::db::Tx;

/// Locks up to `need` available cards unexpired on today's Beijing date of `product_id`
/// (earliest expiry first, then oldest import), skipping cards other transactions hold; when
/// that leaves fewer than `need`, waits for what those transactions leave instead of skipping
/// them. The caller assigns them and marks them sold with [`mark_sold`].
pub async fn pick_cards(tx: &mut Tx, product_id: u64, need: i64) -> sqlx::Result<Vec<u64>> {
    let today = common::domain::beijing_today();
    let ids = common::db::cards::pick_available(tx, product_id, need, today).await?;
    if (ids.len() as i64) < need {
        // Skipped cards may only be held for a moment (another order's sale, an operator's
        // export): wait for them before calling the product out of stock, which fails the order
        // (JD refunds) under the `fail` policy.
        return common::db::cards::pick_available_waiting(tx, product_id, need, today).await;
    }
    Ok(ids)
}

/// Marks the cards of `sold` ((card id, order id) pairs, cards locked by [`pick_cards`]) sold to
/// their orders in one conditional UPDATE whose row count is checked: every card leaves
/// inventory at most once, and a partial set is refused.
pub async fn mark_sold(tx: &mut Tx, sold: &[(u64, u64)]) -> sqlx::Result<()> {
    if sold.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE cards SET status = 'sold', sold_at = NOW(3), order_id = CASE id {} END
         WHERE status = 'available' AND id IN ({})",
        "WHEN ? THEN ? ".repeat(sold.len()),
        common::db::placeholders(sold.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (card, order) in sold {
        q = q.bind(card).bind(order);
    }
    for (card, _) in sold {
        q = q.bind(card);
    }
    let changed = q.execute(&mut **tx).await?.rows_affected();
    if changed != sold.len() as u64 {
        // Impossible while the rows are locked; refuse rather than issue a partial set.
        return Err(sqlx::Error::Protocol(format!(
            "took {changed} of {} locked cards",
            sold.len()
        )));
    }
    Ok(())
}
