//! Per-client rate limits as Auth0 signals them: a token bucket per client id, reported in
//! `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (epoch seconds),
//! and a 429 with `Retry-After` when empty.
//!
//! Buckets live in this process: behind a load balancer each node enforces the limit on
//! the traffic it sees.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// When the bucket is full again, in Unix epoch seconds.
    pub reset: u64,
    /// Seconds until one request is allowed again (for `Retry-After`).
    pub retry_after: u64,
}

struct Bucket {
    tokens: f64,
    /// When the bucket was last looked at, in epoch milliseconds.
    last: i64,
}

pub struct RateLimiter {
    /// Bucket size (the burst). Zero disables limiting.
    capacity: u64,
    /// Tokens added per second.
    refill: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets kept before full ones are forgotten (a full bucket is the same as none).
const PRUNE_ABOVE: usize = 100_000;

impl RateLimiter {
    /// `per_second` requests per second, which is also the burst.
    pub fn new(per_second: u64) -> Self {
        Self::with_refill(per_second, per_second as f64)
    }

    /// A bucket of `capacity` that refills `refill` tokens per second.
    pub fn with_refill(capacity: u64, refill: f64) -> Self {
        Self {
            capacity,
            refill: if refill > 0.0 { refill } else { 0.0 },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0 && self.refill > 0.0
    }

    /// Takes one request from `key`'s bucket at `now` (epoch milliseconds, the service's
    /// clock, so tests move time instead of sleeping).
    pub fn check(&self, key: &str, now: i64) -> Decision {
        let epoch = (now.max(0) / 1000) as u64;
        let elapsed = |last: i64| (now - last).max(0) as f64 / 1000.0;
        let (cap, refill) = (self.capacity as f64, self.refill);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| b.tokens + elapsed(b.last) * refill < cap);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        b.tokens = (b.tokens + elapsed(b.last) * refill).min(cap);
        b.last = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        }
        let missing = cap - b.tokens;
        Decision {
            allowed,
            limit: self.capacity,
            remaining: b.tokens.floor() as u64,
            reset: epoch + (missing / refill).ceil() as u64,
            retry_after: if allowed {
                0
            } else {
                ((1.0 - b.tokens) / refill).ceil().max(1.0) as u64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empties_then_refuses_with_retry_after() {
        let rl = RateLimiter::new(3);
        let t = 1_700_000_000_000;
        let first = rl.check("c", t);
        assert!(first.allowed);
        assert_eq!(first.remaining, 2);
        assert!(rl.check("c", t).allowed && rl.check("c", t).allowed);
        let refused = rl.check("c", t);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(refused.retry_after >= 1);
        assert!(rl.check("other", t).allowed, "buckets are per client");
        // A third of a second later one token is back (3 a second), and only one.
        assert!(rl.check("c", t + 334).allowed);
        assert!(!rl.check("c", t + 334).allowed);
    }
}
