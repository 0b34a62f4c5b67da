//! Stock per card product (`common::db::cards::stock`), cached: the counts scan every card's
//! index entry, which with a million cards costs more than a page view may. A fresh snapshot
//! (younger than [`TTL`]) is served as is; a stale one is served at once while one background
//! task recomputes it; this process's own imports and voids drop the snapshot so the operator
//! sees their change on the next page.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use common::db::Pool;
use common::db::cards::StockRow;

pub const TTL: Duration = Duration::from_secs(15);

pub struct StockSnapshot {
    pub rows: Vec<StockRow>,
    pub computed_at: NaiveDateTime,
}

type Cache = HashMap<String, (Instant, Arc<StockSnapshot>)>;

/// Per database (tests run several admins in one process).
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);
static REFRESHING: Mutex<Option<HashSet<String>>> = Mutex::new(None);
/// Bumped by every [`forget_stock`]: a computation that started before it is not stored.
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn db_key(pool: &Pool) -> String {
    format!("{:?}", pool.connect_options().get_database())
}

async fn compute(pool: &Pool) -> sqlx::Result<StockSnapshot> {
    let rows = common::db::cards::stock(pool).await?;
    Ok(StockSnapshot {
        rows,
        computed_at: chrono::Utc::now().naive_utc(),
    })
}

fn store(key: String, generation: u64, snap: Arc<StockSnapshot>) {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if GENERATION.load(Ordering::Acquire) == generation {
        cache
            .get_or_insert_with(HashMap::new)
            .insert(key, (Instant::now(), snap));
    }
}

/// The stock snapshot of this database (see the module comment).
pub async fn cached_stock(pool: &Pool) -> sqlx::Result<Arc<StockSnapshot>> {
    let key = db_key(pool);
    let cached = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|c| c.get(&key))
        .map(|(at, s)| (at.elapsed() < TTL, s.clone()));
    match cached {
        Some((true, snap)) => Ok(snap),
        Some((false, snap)) => {
            let start = REFRESHING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(HashSet::new)
                .insert(key.clone());
            if start {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let generation = GENERATION.load(Ordering::Acquire);
                    match compute(&pool).await {
                        Ok(s) => store(key.clone(), generation, Arc::new(s)),
                        Err(e) => tracing::warn!(error = %e, "stock refresh failed"),
                    }
                    if let Some(r) = REFRESHING
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                    {
                        r.remove(&key);
                    }
                });
            }
            Ok(snap)
        }
        None => {
            let generation = GENERATION.load(Ordering::Acquire);
            let snap = Arc::new(compute(pool).await?);
            store(key, generation, snap.clone());
            Ok(snap)
        }
    }
}

/// Drops the snapshot after a change of stock made here (import, void).
pub fn forget_stock(pool: &Pool) {
    let key = db_key(pool);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    GENERATION.fetch_add(1, Ordering::AcqRel);
    if let Some(c) = cache.as_mut() {
        c.remove(&key);
    }
}
