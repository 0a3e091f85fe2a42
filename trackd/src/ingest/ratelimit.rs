//! A token bucket per API key (events), or per client address (sign-in requests): `rate` a
//! minute, with bursts up to a minute's worth. Per process and safe to lose (architecture.md,
//! Deployment).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use relay_core::ApiKeyId;

const MAX_KEYS: usize = 100_000;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub(crate) struct RateLimiter<K = ApiKeyId> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes `events` tokens from the key's bucket, or says how long to wait before retrying.
    pub(crate) fn take(&self, key: &K, events: usize) -> Result<(), Duration> {
        self.take_at(key, events, Instant::now())
    }

    fn take_at(&self, key: &K, events: usize, now: Instant) -> Result<(), Duration> {
        let per_second = self.per_minute / 60.0;
        // A body larger than the whole bucket may pass when the bucket is full, or never would.
        let cost = (events as f64).min(self.per_minute);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            // Full buckets carry no information: forget them first.
            let cap = self.per_minute;
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second < cap
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.per_minute,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(self.per_minute);
        bucket.updated = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            let wait = ((cost - bucket.tokens) / per_second).ceil().max(1.0);
            Err(Duration::from_secs(wait as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_rate_and_is_told_when_to_retry() {
        let limiter = RateLimiter::new(60);
        let key = ApiKeyId::generate();
        let other = ApiKeyId::generate();
        let start = Instant::now();
        assert!(limiter.take_at(&key, 50, start).is_ok());
        assert!(limiter.take_at(&key, 10, start).is_ok());
        assert_eq!(limiter.take_at(&key, 5, start), Err(Duration::from_secs(5)));
        // Another key is not affected.
        assert!(limiter.take_at(&other, 60, start).is_ok());
        // One event a second comes back.
        assert!(
            limiter
                .take_at(&key, 5, start + Duration::from_secs(5))
                .is_ok()
        );
        // A body bigger than the bucket passes once the bucket is full again.
        assert!(
            limiter
                .take_at(&key, 500, start + Duration::from_secs(120))
                .is_ok()
        );
    }
}
