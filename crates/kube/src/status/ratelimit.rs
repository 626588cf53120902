//! Write pacing: a global token bucket (one token per object brought in line, its GET, PUT and
//! conflict retries together) and a per-object minimum interval, so a flapping report cannot
//! turn into a write storm against the API server.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket refilled continuously at `rate` tokens per second up to `burst`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// Starts full. A zero rate is treated as one per second, a zero burst as one: a writer
    /// that can never write would only hide the misconfiguration.
    pub(crate) fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: f64::from(rate.max(1)),
            burst,
            tokens: burst,
            updated: now,
        }
    }

    /// Takes one token, or tells how long until one is available.
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// When each object was last looked at, to keep at least `interval` between two looks.
#[derive(Debug)]
pub(crate) struct ObjectPacer<K> {
    interval: Duration,
    last: HashMap<K, Instant>,
}

impl<K: Hash + Eq + Clone> ObjectPacer<K> {
    pub(crate) fn new(interval: Duration) -> Self {
        ObjectPacer {
            interval,
            last: HashMap::new(),
        }
    }

    /// `None` when the object may be looked at now, else the instant it may.
    pub(crate) fn ready_at(&self, key: &K, now: Instant) -> Option<Instant> {
        let next = *self.last.get(key)? + self.interval;
        (next > now).then_some(next)
    }

    pub(crate) fn record(&mut self, key: &K, now: Instant) {
        self.last.insert(key.clone(), now);
    }

    /// Forgets objects that are no longer of interest, so the map does not grow forever.
    pub(crate) fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        let interval = self.interval;
        let now = Instant::now();
        self.last
            .retain(|k, t| keep(k) || now.saturating_duration_since(*t) < interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_paces() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10, 3, start);
        for _ in 0..3 {
            assert!(b.try_take(start).is_ok());
        }
        let wait = b.try_take(start).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(b.try_take(start + Duration::from_millis(100)).is_ok());
        assert!(b.try_take(start + Duration::from_millis(100)).is_err());
        // Refill never exceeds the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
    }

    #[test]
    fn pacer_spaces_looks_per_object() {
        let start = Instant::now();
        let mut p = ObjectPacer::new(Duration::from_secs(1));
        assert_eq!(p.ready_at(&"a", start), None);
        p.record(&"a", start);
        assert_eq!(p.ready_at(&"a", start), Some(start + Duration::from_secs(1)));
        assert_eq!(p.ready_at(&"b", start), None, "objects are paced independently");
        assert_eq!(p.ready_at(&"a", start + Duration::from_secs(1)), None);
    }
}
