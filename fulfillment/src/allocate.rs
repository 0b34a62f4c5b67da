//! Taking cards out of inventory: exactly once, inside the order's transaction.

use common::db::Tx;

/// Why cards could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum AllocateError {
    #[error("not enough cards")]
    OutOfStock,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Picks `quantity` available cards unexpired on today's Beijing date of `product_id` (earliest
/// expiry first, then oldest import), skipping cards other transactions hold (and, when that
/// leaves too few, waiting for what those transactions leave), and marks them sold to
/// `order_id`.
/// The conditional UPDATE's row count is checked: every card leaves inventory at most once.
/// Takes either all `quantity` cards or none.
pub async fn take_cards(
    tx: &mut Tx,
    product_id: u64,
    order_id: u64,
    quantity: u32,
) -> Result<Vec<u64>, AllocateError> {
    let today = common::domain::beijing_today();
    let mut ids =
        common::db::cards::pick_available(tx, product_id, i64::from(quantity), today).await?;
    if ids.len() < quantity as usize {
        // Skipped cards may only be held for a moment (another order's sale, an operator's
        // export): wait for them before calling the product out of stock, which fails the order
        // (JD refunds) under the `fail` policy.
        ids = common::db::cards::pick_available_waiting(tx, product_id, i64::from(quantity), today)
            .await?;
    }
    if ids.len() < quantity as usize {
        return Err(AllocateError::OutOfStock);
    }
    let sql = format!(
        "UPDATE cards SET status = 'sold', order_id = ?, sold_at = NOW(3)
         WHERE status = 'available' AND id IN ({})",
        common::db::placeholders(ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(order_id);
    for id in &ids {
        q = q.bind(id);
    }
    let changed = q.execute(&mut **tx).await?.rows_affected();
    if changed != ids.len() as u64 {
        // Impossible while the rows are locked; refuse rather than issue a partial set.
        return Err(
            sqlx::Error::Protocol(format!("took {changed} of {} locked cards", ids.len())).into(),
        );
    }
    Ok(ids)
}
