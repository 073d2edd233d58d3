//! Brute-force counters: a slot is taken before a password is checked, so concurrent
//! attempts get exactly the allowed number of checks (security review M1).

use crate::harness::{T0, TENANT, contract};
use gatehouse_store::{ALL_IPS, Db, LoginFailureStore, Slot};
use std::sync::Arc;

const USER: &str = "auth0|émilie";
const IP: &str = "198.51.100.23";

/// `n` attempts released together; the attempt numbers that were granted, sorted.
async fn attempts<F, Fut>(db: &Db, n: usize, reserve: F) -> Vec<i64>
where
    F: Fn(LoginFailureStore) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Slot> + Send,
{
    let store = LoginFailureStore::new(db.clone());
    let reserve = Arc::new(reserve);
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, reserve, barrier) = (store.clone(), reserve.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                reserve(store).await
            })
        })
        .collect();
    let mut granted = vec![];
    for t in tasks {
        if let Slot::Granted(n) = t.await.unwrap() {
            granted.push(n);
        }
    }
    granted.sort_unstable();
    granted
}

contract!(concurrent_attempts_never_exceed_the_threshold, |db| {
    let granted = attempts(&db, 24, |s| async move {
        s.reserve(TENANT, USER, IP, 5, T0).await.unwrap()
    })
    .await;
    assert_eq!(
        granted,
        [1, 2, 3, 4, 5],
        "each slot once, none past the threshold"
    );
    let failures = LoginFailureStore::new(db.clone());
    assert!(
        failures.block(TENANT, USER, IP, T0).await.unwrap(),
        "the first block tells the owner"
    );
    assert!(
        !failures.block(TENANT, USER, IP, T0).await.unwrap(),
        "and only the first"
    );
    assert_eq!(failures.blocked_ips(TENANT, USER).await.unwrap(), [IP]);
    // Another address is counted apart.
    assert_eq!(
        failures
            .reserve(TENANT, USER, "203.0.113.5", 5, T0)
            .await
            .unwrap(),
        Slot::Granted(1)
    );
    // A blocked pair stays refused though slots were given back, until reset.
    failures.release(TENANT, USER, IP).await.unwrap();
    assert_eq!(
        failures.reserve(TENANT, USER, IP, 100, T0).await.unwrap(),
        Slot::Refused
    );
    failures.reset(TENANT, USER, IP).await.unwrap();
    assert_eq!(
        failures.reserve(TENANT, USER, IP, 5, T0).await.unwrap(),
        Slot::Granted(1)
    );
    assert!(failures.blocked_ips(TENANT, USER).await.unwrap().is_empty());
});

contract!(
    the_per_user_limit_holds_across_addresses_and_windows,
    |db| {
        const WINDOW: i64 = 900_000;
        let granted = attempts(&db, 16, |s| async move {
            s.reserve_user(TENANT, USER, 3, WINDOW, T0).await.unwrap()
        })
        .await;
        assert_eq!(granted, [1, 2, 3]);
        let failures = LoginFailureStore::new(db.clone());
        assert_eq!(failures.blocked_ips(TENANT, USER).await.unwrap(), [ALL_IPS]);
        // The window runs from the last attempt: still refused just before it passes.
        assert_eq!(
            failures
                .reserve_user(TENANT, USER, 3, WINDOW, T0 + WINDOW)
                .await
                .unwrap(),
            Slot::Refused
        );
        assert_eq!(
            failures
                .reserve_user(TENANT, USER, 3, WINDOW, T0 + 2 * WINDOW + 1)
                .await
                .unwrap(),
            Slot::Granted(1),
            "a new window, and the throttle lifted"
        );
        assert!(failures.blocked_ips(TENANT, USER).await.unwrap().is_empty());
        // A success gives its slot back.
        failures.release_user(TENANT, USER).await.unwrap();
        let now = T0 + 2 * WINDOW + 2;
        for n in 1..=3 {
            assert_eq!(
                failures
                    .reserve_user(TENANT, USER, 3, WINDOW, now)
                    .await
                    .unwrap(),
                Slot::Granted(n)
            );
        }
        assert_eq!(
            failures
                .reserve_user(TENANT, USER, 3, WINDOW, now)
                .await
                .unwrap(),
            Slot::Refused
        );
    }
);

contract!(housekeeping_keeps_blocks_of_real_users, |db| {
    let failures = LoginFailureStore::new(db.clone());
    failures.reserve(TENANT, USER, IP, 1, T0).await.unwrap();
    failures.block(TENANT, USER, IP, T0).await.unwrap();
    failures
        .reserve(TENANT, "?unknown@example.com", IP, 1, T0)
        .await
        .unwrap();
    failures
        .reserve_user(TENANT, USER, 3, 1_000, T0)
        .await
        .unwrap();
    let idle = 3_600_000;
    assert_eq!(
        failures.sweep(T0 + idle, idle).await.unwrap(),
        0,
        "nothing idle long enough yet"
    );
    assert_eq!(failures.sweep(T0 + idle + 1, idle).await.unwrap(), 2);
    assert_eq!(
        failures.blocked_ips(TENANT, USER).await.unwrap(),
        [IP],
        "an admin lifts this one"
    );
    assert_eq!(failures.clear_user(TENANT, USER).await.unwrap(), 1);
    assert!(failures.blocked_ips(TENANT, USER).await.unwrap().is_empty());
});
