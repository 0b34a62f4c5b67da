//! Stock per card product (`common::db::cards::stock`), as a cached [`Snapshots`]: the counts
//! scan every card's index entry, which with a million cards costs more than a page view may.
//! This process's own imports and voids drop the snapshot so the operator sees their change on
//! the next page.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use common::db::Pool;
use common::db::cards::StockRow;

use crate::web::snapshot::Snapshots;

pub const TTL: Duration = Duration::from_secs(15);

pub struct StockSnapshot {
    pub rows: Vec<StockRow>,
    pub computed_at: NaiveDateTime,
}

static STOCK: LazyLock<Snapshots<StockSnapshot>> = LazyLock::new(|| Snapshots::new(TTL));

async fn compute(pool: Pool) -> sqlx::Result<StockSnapshot> {
    let rows = common::db::cards::stock(&pool).await?;
    Ok(StockSnapshot {
        rows,
        computed_at: chrono::Utc::now().naive_utc(),
    })
}

/// The stock snapshot of this database.
pub async fn cached_stock(pool: &Pool) -> sqlx::Result<Arc<StockSnapshot>> {
    STOCK.get(pool, compute).await
}

/// Computes the first snapshot in the background (at start).
pub fn warm_stock(pool: &Pool) {
    STOCK.warm(pool, compute);
}

/// Drops the snapshot after a change of stock made here (import, void).
pub fn forget_stock(pool: &Pool) {
    STOCK.forget(pool);
}
