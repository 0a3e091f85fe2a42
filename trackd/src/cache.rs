//! A small time-bounded cache: answers (found or not) are reused for a fixed time, then asked
//! again. Per process and safe to lose; bounded by clearing when full.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub(crate) struct TtlCache<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::default(),
        }
    }

    /// The value cached for `key`, if it is younger than the time to live.
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let entries = self.lock();
        let (value, at) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Caches `value` as it was at `asked`: the time the answer was asked for, not received,
    /// so a slow lookup does not stretch how long the answer is trusted.
    pub(crate) fn put(&self, key: String, value: V, asked: Instant) {
        let mut entries = self.lock();
        if entries.len() >= self.max_entries {
            entries.clear();
        }
        entries.insert(key, (value, asked));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (V, Instant)>> {
        // A panic while holding this lock leaves only a cache behind: keep using it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_and_the_cache_stays_bounded() {
        let cache = TtlCache::new(Duration::from_millis(50), 2);
        cache.put("a".into(), Some(1), Instant::now());
        cache.put("b".into(), None, Instant::now());
        assert_eq!(cache.get("a"), Some(Some(1)));
        assert_eq!(cache.get("b"), Some(None), "a cached miss is an answer too");
        cache.put("c".into(), Some(3), Instant::now());
        assert_eq!(cache.get("a"), None, "full: cleared");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("c"), None, "expired");
    }
}
