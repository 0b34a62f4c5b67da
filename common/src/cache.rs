//! The one time-bounded cache of values read from the database: shops and products in the
//! gateway, shops in the notifier. A value is served for `ttl` after it was loaded (an edit in
//! the admin takes effect within it); "not found" is cached like a value, so unknown ids do not
//! reach the database on every request. The cache is bounded: when it holds `max_entries`, it
//! is emptied at once, so a flood of distinct keys cannot grow it.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: RwLock<HashMap<K, (Instant, V)>>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> TtlCache<K, V> {
        TtlCache {
            ttl,
            max_entries: max_entries.max(1),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The value of `key` if it was loaded less than `ttl` ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// The fresh value of `key`, else what `load` returns (then cached). An error is returned
    /// and not cached.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(hit) = self.get(key) {
            return Ok(hit);
        }
        let value = load().await?;
        self.insert(key.clone(), value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_within_the_ttl_and_reloads_after() {
        let cache: TtlCache<u32, Option<&str>> = TtlCache::new(Duration::from_millis(200), 10);
        let loads = std::sync::atomic::AtomicU32::new(0);
        let load = |v| {
            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok::<_, ()>(v) }
        };
        assert_eq!(
            cache.get_or_load(&1, || load(Some("a"))).await,
            Ok(Some("a"))
        );
        // Within the TTL the first value is served, whatever the store says now.
        assert_eq!(
            cache.get_or_load(&1, || load(Some("b"))).await,
            Ok(Some("a"))
        );
        // "Not found" is cached too.
        assert_eq!(cache.get_or_load(&2, || load(None)).await, Ok(None));
        assert_eq!(cache.get_or_load(&2, || load(Some("c"))).await, Ok(None));
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get(&1), None);
        assert_eq!(
            cache.get_or_load(&1, || load(Some("b"))).await,
            Ok(Some("b"))
        );
        // Errors are not cached.
        let err = cache.get_or_load(&3, || async { Err::<Option<&str>, _>("down") });
        assert_eq!(err.await, Err("down"));
        assert_eq!(cache.get(&3), None);
    }

    #[test]
    fn a_full_cache_is_emptied_not_grown() {
        let cache: TtlCache<u32, u32> = TtlCache::new(Duration::from_secs(60), 3);
        for k in 0..3 {
            cache.insert(k, k);
        }
        // Replacing a key keeps the others.
        cache.insert(2, 20);
        assert_eq!((cache.get(&0), cache.get(&2)), (Some(0), Some(20)));
        cache.insert(3, 3);
        assert_eq!(
            (cache.get(&0), cache.get(&1), cache.get(&3)),
            (None, None, Some(3))
        );
        assert_eq!(cache.entries.read().unwrap().len(), 1);
    }
}
