//! Cached snapshots of aggregates that are too costly to compute per page view (the dashboard's
//! order aggregates, stock per product): with millions of rows an operator's refresh must not
//! rescan them every time.
//!
//! A fresh snapshot (younger than the TTL) is served as is; a stale one is served at once while
//! one background task recomputes it; with none yet, one request computes it and concurrent
//! requests wait for that one instead of each scanning. [`Snapshots::warm`] computes it at
//! start, so no operator waits for the first one. [`Snapshots::forget`] drops a snapshot after a
//! change made by this process (the operator sees their own change on the next page); a
//! computation that started before it is not stored.
//!
//! Snapshots are kept per database: tests run several admins in one process.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::db::Pool;

struct Entry<T> {
    at: Instant,
    value: Arc<T>,
}

pub struct Snapshots<T> {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry<T>>>,
    /// Databases whose snapshot a background task is recomputing.
    refreshing: Mutex<HashSet<String>>,
    /// One computation at a time per process when there is no snapshot to serve.
    cold: tokio::sync::Mutex<()>,
    /// Bumped by every [`Snapshots::forget`].
    generation: AtomicU64,
}

fn db_key(pool: &Pool) -> String {
    format!("{:?}", pool.connect_options().get_database())
}

impl<T: Send + Sync + 'static> Snapshots<T> {
    pub fn new(ttl: Duration) -> Snapshots<T> {
        Snapshots {
            ttl,
            entries: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(HashSet::new()),
            cold: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    fn cached(&self, key: &str) -> Option<(bool, Arc<T>)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|e| (e.at.elapsed() < self.ttl, e.value.clone()))
    }

    fn store(&self, key: String, generation: u64, value: Arc<T>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            entries.insert(
                key,
                Entry {
                    at: Instant::now(),
                    value,
                },
            );
        }
    }

    async fn compute_and_store<F, Fut>(
        &self,
        key: String,
        pool: Pool,
        compute: F,
    ) -> sqlx::Result<Arc<T>>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = sqlx::Result<T>>,
    {
        let generation = self.generation.load(Ordering::Acquire);
        let value = Arc::new(compute(pool).await?);
        self.store(key, generation, value.clone());
        Ok(value)
    }

    /// The snapshot of `pool`'s database (see the module comment).
    pub async fn get<F, Fut>(&'static self, pool: &Pool, compute: F) -> sqlx::Result<Arc<T>>
    where
        F: FnOnce(Pool) -> Fut + Send + 'static,
        Fut: Future<Output = sqlx::Result<T>> + Send + 'static,
    {
        let key = db_key(pool);
        match self.cached(&key) {
            Some((true, value)) => Ok(value),
            Some((false, value)) => {
                let start = self
                    .refreshing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone());
                if start {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        if let Err(e) = self.compute_and_store(key.clone(), pool, compute).await {
                            tracing::warn!(error = %e, "snapshot refresh failed");
                        }
                        self.refreshing
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&key);
                    });
                }
                Ok(value)
            }
            None => {
                let _one = self.cold.lock().await;
                // Another request may have computed it while this one waited.
                if let Some((_, value)) = self.cached(&key) {
                    return Ok(value);
                }
                self.compute_and_store(key, pool.clone(), compute).await
            }
        }
    }

    /// Computes the first snapshot in the background (at start).
    pub fn warm<F, Fut>(&'static self, pool: &Pool, compute: F)
    where
        F: FnOnce(Pool) -> Fut + Send + 'static,
        Fut: Future<Output = sqlx::Result<T>> + Send + 'static,
    {
        let pool = pool.clone();
        tokio::spawn(async move {
            if let Err(e) = self.get(&pool, compute).await {
                tracing::warn!(error = %e, "snapshot warm-up failed");
            }
        });
    }

    /// Drops the snapshot of `pool`'s database after a change made here.
    pub fn forget(&self, pool: &Pool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(&db_key(pool));
    }
}
