//! The email outbox (leases shared by every node's sender), used tickets and passwordless
//! codes: each a count or a claim that must hold under concurrent callers.

use crate::harness::{T0, TENANT, contract, hex};
use gatehouse_store::{OutboxMessage, OutboxStore, PasswordlessStore};
use std::collections::HashSet;
use std::sync::Arc;

const LEASE: i64 = 30_000;

fn message(i: i64) -> OutboxMessage {
    OutboxMessage {
        id: hex(8),
        template: "verify_email".into(),
        recipient: format!("empfänger{i}@example.de"),
        sender: Some("Gatehouse <no-reply@example.com>".into()),
        subject: "Bestätigen Sie Ihre Adresse".into(),
        text_body: format!("Code {i}"),
        html_body: format!("<b>Code {i}</b>"),
        sealed: i % 2 == 0,
        created_at: T0 + i,
        attempts: 0,
    }
}

contract!(
    a_leased_message_goes_to_one_sender_until_its_lease_ends,
    |db| {
        let outbox = OutboxStore::new(db.clone());
        let queued: Vec<_> = (0..6).map(message).collect();
        outbox.enqueue(TENANT, &queued).await.unwrap();

        // Twelve senders at the same instant: no message is handed out twice.
        let barrier = Arc::new(tokio::sync::Barrier::new(12));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (outbox, barrier) = (outbox.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut mine = vec![];
                    while let Some(m) = outbox.claim_next(T0 + 100, LEASE).await.unwrap() {
                        mine.push(m);
                    }
                    mine
                })
            })
            .collect();
        let mut claimed = vec![];
        for t in tasks {
            claimed.extend(t.await.unwrap());
        }
        let ids: HashSet<_> = claimed.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids.len(), claimed.len(), "a message was leased twice");
        assert_eq!(ids.len(), 6, "every due message is leased by someone");
        let first = claimed.iter().find(|m| m.id == queued[0].id).unwrap();
        assert_eq!(first, &queued[0], "the message comes back as queued");

        // Renewed, one stays with its sender; the others come back when their lease ends.
        outbox
            .renew(&queued[0].id, T0 + 100 + 3 * LEASE)
            .await
            .unwrap();
        assert!(
            outbox
                .claim_next(T0 + 100 + LEASE - 1, LEASE)
                .await
                .unwrap()
                .is_none()
        );
        let mut again = HashSet::new();
        while let Some(m) = outbox.claim_next(T0 + 100 + LEASE, LEASE).await.unwrap() {
            outbox.mark_sent(&m.id, T0 + 100 + LEASE).await.unwrap();
            again.insert(m.id);
        }
        assert_eq!(again.len(), 5);
        assert!(!again.contains(&queued[0].id), "a renewed lease holds");
        let back = outbox
            .claim_next(T0 + 100 + 3 * LEASE, LEASE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.id, queued[0].id);
    }
);

contract!(sent_failed_and_abandoned_messages, |db| {
    let outbox = OutboxStore::new(db.clone());
    let (sent, failed, hopeless) = (message(1), message(2), message(3));
    outbox
        .enqueue(TENANT, &[sent.clone(), failed.clone(), hopeless.clone()])
        .await
        .unwrap();
    let mut leased = vec![];
    while let Some(m) = outbox.claim_next(T0 + 3, LEASE).await.unwrap() {
        leased.push(m.id);
    }
    assert_eq!(
        leased,
        [sent.id.clone(), failed.id.clone(), hopeless.id.clone()],
        "oldest due first"
    );
    outbox.mark_sent(&sent.id, T0 + 1).await.unwrap();
    outbox
        .mark_failed(&failed.id, T0 + 5 * LEASE, "421 try later")
        .await
        .unwrap();
    outbox
        .give_up(&hopeless.id, T0 + 1, "not an address")
        .await
        .unwrap();

    // Neither a sent nor an abandoned message is ever handed out again.
    assert!(
        outbox
            .claim_next(T0 + 5 * LEASE - 1, LEASE)
            .await
            .unwrap()
            .is_none(),
        "the retry waits for its time"
    );
    let retry = outbox
        .claim_next(T0 + 5 * LEASE, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((retry.id.as_str(), retry.attempts), (failed.id.as_str(), 1));
    outbox.mark_sent(&failed.id, T0 + 5 * LEASE).await.unwrap();
    assert!(
        outbox
            .claim_next(T0 + 365 * 86_400_000, LEASE)
            .await
            .unwrap()
            .is_none()
    );

    // Kept a week for the record, then swept.
    let week = 7 * 86_400_000;
    assert_eq!(outbox.sweep(T0 + week).await.unwrap(), 0);
    assert_eq!(
        outbox.sweep(T0 + week + 2).await.unwrap(),
        2,
        "sent and given up at T0 + 1"
    );
    assert_eq!(outbox.sweep(T0 + 5 * LEASE + week + 1).await.unwrap(), 1);
});

contract!(a_ticket_is_used_once_even_concurrently, |db| {
    let outbox = OutboxStore::new(db.clone());
    let ticket = hex(12);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (outbox, barrier, ticket) = (outbox.clone(), barrier.clone(), ticket.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                outbox
                    .use_ticket(TENANT, &ticket, T0, T0 + 1_000)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut used = 0;
    for t in tasks {
        used += usize::from(t.await.unwrap());
    }
    assert_eq!(used, 1);
    // Forgotten once expired: an expired ticket is refused by its own expiry, not by this row.
    assert_eq!(outbox.sweep(T0 + 1_000).await.unwrap(), 0);
    assert_eq!(outbox.sweep(T0 + 1_001).await.unwrap(), 1);
    assert!(
        outbox
            .use_ticket(TENANT, &ticket, T0 + 1_002, T0 + 2_000)
            .await
            .unwrap()
    );
});

contract!(
    passwordless_sends_and_guesses_are_counted_atomically,
    |db| {
        let codes = PasswordlessStore::new(db.clone());
        let (conn, email) = ("con_pwdless00001", "yūki@example.jp");
        const WINDOW: i64 = 60_000;
        // Sends: three per window, whatever the concurrency.
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (codes, barrier) = (codes.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    codes
                        .reserve_send(TENANT, conn, email, T0, WINDOW, 3)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            allowed += usize::from(t.await.unwrap());
        }
        assert_eq!(allowed, 3);
        assert!(
            !codes
                .reserve_send(TENANT, conn, email, T0 + WINDOW - 1, WINDOW, 3)
                .await
                .unwrap()
        );
        assert!(
            codes
                .reserve_send(TENANT, conn, email, T0 + WINDOW, WINDOW, 3)
                .await
                .unwrap(),
            "a new window"
        );

        // Guesses: five comparisons at most, whatever the concurrency.
        codes
            .set_code(TENANT, conn, email, "hash-of-123456", T0 + WINDOW + 300_000)
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(12));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (codes, barrier) = (codes.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    codes
                        .reserve_guess(TENANT, conn, email, T0 + WINDOW + 1, 5)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut guesses = 0;
        for t in tasks {
            if let Some(hash) = t.await.unwrap() {
                assert_eq!(hash, "hash-of-123456");
                guesses += 1;
            }
        }
        assert_eq!(guesses, 5);

        // A fresh code has a fresh budget, expires, and is consumed once.
        codes
            .set_code(TENANT, conn, email, "hash-of-654321", T0 + WINDOW + 10)
            .await
            .unwrap();
        assert!(
            codes
                .reserve_guess(TENANT, conn, email, T0 + WINDOW + 10, 5)
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert!(
            codes
                .reserve_guess(TENANT, conn, email, T0 + WINDOW + 9, 5)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            !codes
                .consume(TENANT, conn, email, "hash-of-123456")
                .await
                .unwrap(),
            "a replaced code"
        );
        assert!(
            codes
                .consume(TENANT, conn, email, "hash-of-654321")
                .await
                .unwrap()
        );
        assert!(
            !codes
                .consume(TENANT, conn, email, "hash-of-654321")
                .await
                .unwrap()
        );
        assert!(
            codes
                .reserve_guess(TENANT, conn, email, T0 + WINDOW + 1, 5)
                .await
                .unwrap()
                .is_none()
        );
    }
);
