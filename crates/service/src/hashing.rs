//! Bounded pools for password hashing. argon2id costs ~20 ms of CPU; run unbounded on the
//! async workers, a burst of sign-ups or logins would starve every other request.
//!
//! Two lanes, each with its own permits and a bounded queue (security review M2, M3):
//! - native: argon2id at today's cost (every sign-up, password change, and login of a user
//!   whose password was set here), one permit per core;
//! - imported: hashes brought by an import (bcrypt, pbkdf2, scrypt, legacy argon2 …), which
//!   can cost far more per check until the user's first login re-hashes them; one permit,
//!   so guesses against them never hold back a native login.
//!
//! A request finding its lane's queue full is refused at once ([`ServiceError::Busy`], a 429
//! with `Retry-After`) instead of waiting behind a flood.

use crate::error::{Result, ServiceError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// An argon2id hash of a random string at today's cost, verified when a login names an
/// unknown user.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Tq5oHdXkqUZ1jQyZsqX7yV0mAr1JYq3c0B3gk5cE1A";

/// Requests that may wait for a permit, per permit, before new ones are refused: with
/// argon2id at 16-20 ms on these machines, 64 waiting per core is about a second of queue,
/// and 64 clients logging in at once on one core all wait rather than see 429s.
const QUEUE_PER_PERMIT: usize = 64;

/// One pool: its permits and how many requests wait for one.
#[derive(Clone, Debug)]
struct Lane {
    size: usize,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// Gives back a queue place however the wait ends (a dropped request included).
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Lane {
    fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            size: permits,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: permits * QUEUE_PER_PERMIT,
        }
    }

    fn usage(&self, name: &'static str) -> LaneUse {
        LaneUse {
            name,
            waiting: self.waiting.load(Ordering::Acquire),
            busy: self.size.saturating_sub(self.permits.available_permits()),
            permits: self.size,
        }
    }

    /// Runs `work` on a blocking thread once a permit is free; refuses at once when the
    /// queue is full.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ServiceError::Busy);
        }
        let place = Place(&self.waiting);
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        drop(place);
        let result = tokio::task::spawn_blocking(work)
            .await
            .map_err(ServiceError::internal);
        drop(permit);
        result
    }
}

/// One lane's use at an instant: requests waiting, threads hashing, threads in all.
#[derive(Clone, Copy, Debug)]
pub struct LaneUse {
    pub name: &'static str,
    pub waiting: usize,
    pub busy: usize,
    pub permits: usize,
}

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    native: Lane,
    imported: Lane,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Self {
        Self {
            native: Lane::new(concurrency),
            imported: Lane::new(1),
        }
    }

    pub fn for_this_machine() -> Self {
        Self::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        self.native
            .run(move || gatehouse_crypto::password::hash(&password))
            .await?
            .map_err(ServiceError::internal)
    }

    /// Checks a password against a stored hash, or against a fixed dummy hash when the user
    /// does not exist, so that both answers take the same time. Imported hashes go to their
    /// own lane.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let lane = self.lane_for(hash.as_deref());
        lane.run(move || match hash {
            Some(h) => gatehouse_crypto::password::verify(&password, &h),
            None => {
                let _ = gatehouse_crypto::password::verify(&password, DUMMY_HASH);
                false
            }
        })
        .await
    }

    /// The lane a check against `hash` runs in: imported (and older-cost) hashes in their
    /// own, today's argon2id and the unknown-user dummy in the native one.
    fn lane_for(&self, hash: Option<&str>) -> &Lane {
        match hash {
            Some(h) if gatehouse_crypto::password::needs_rehash(h) => &self.imported,
            _ => &self.native,
        }
    }

    /// How busy each lane is now (for `/metrics`).
    pub fn lanes(&self) -> [LaneUse; 2] {
        [self.native.usage("native"), self.imported.usage("imported")]
    }

    /// True when `password` matches any of `hashes` (used for password history).
    pub async fn matches_any(&self, password: String, hashes: Vec<String>) -> Result<bool> {
        if hashes.is_empty() {
            return Ok(false);
        }
        self.native
            .run(move || {
                hashes
                    .iter()
                    .any(|h| gatehouse_crypto::password::verify(&password, h))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_hashes_are_checked_in_their_own_lane() {
        let h = PasswordHasher::new(2);
        let same = |a: &Lane, b: &Lane| Arc::ptr_eq(&a.permits, &b.permits);
        let bcrypt = "$2b$12$abcdefghijklmnopqrstuu5nOq1vQ1pVQy7m7nV8sKf2c5Yh0a7bS";
        assert!(same(h.lane_for(Some(bcrypt)), &h.imported));
        assert!(same(
            h.lane_for(Some("$gh-imported$pbkdf2...")),
            &h.imported
        ));
        assert!(same(h.lane_for(Some(DUMMY_HASH)), &h.native));
        assert!(same(h.lane_for(None), &h.native));
        assert_eq!(h.imported.permits.available_permits(), 1);
        assert_eq!(h.native.permits.available_permits(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let lane = Lane::new(1);
        let (started, release) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(std::sync::Barrier::new(2)),
        );
        let busy = {
            let (lane, started, release) = (lane.clone(), started.clone(), release.clone());
            tokio::spawn(async move {
                lane.run(move || {
                    started.notify_one();
                    release.wait();
                })
                .await
            })
        };
        started.notified().await;
        // The permit is held: fill the queue with waiters, then one more is refused.
        let mut waiters = Vec::new();
        for _ in 0..QUEUE_PER_PERMIT {
            let lane = lane.clone();
            waiters.push(tokio::spawn(async move { lane.run(|| ()).await }));
        }
        while lane.waiting.load(Ordering::Acquire) < QUEUE_PER_PERMIT {
            tokio::task::yield_now().await;
        }
        assert!(matches!(lane.run(|| ()).await, Err(ServiceError::Busy)));
        release.wait();
        assert!(busy.await.is_ok());
        for w in waiters {
            assert!(matches!(w.await, Ok(Ok(()))));
        }
        assert_eq!(lane.waiting.load(Ordering::Acquire), 0);
        assert!(lane.run(|| ()).await.is_ok());
    }
}
