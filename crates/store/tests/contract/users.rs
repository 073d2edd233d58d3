//! Users: uniqueness per connection, optimistic concurrency, password history, and what a
//! deleted user leaves behind (nothing).

use crate::harness::{OTHER, T0, TENANT, connection, contract, hex, user};
use gatehouse_store::{
    BrowserSession, LoginFailureStore, OutboxMessage, OutboxStore, RefreshToken, RefreshTokenStore,
    SessionKind, SessionStore, StoreError, UserGrantStore, UserSearch, UserStore,
};

fn message(recipient: &str) -> OutboxMessage {
    OutboxMessage {
        id: hex(8),
        template: "welcome_email".into(),
        recipient: recipient.into(),
        sender: None,
        subject: "Willkommen, Jürgen".into(),
        text_body: "…".into(),
        html_body: "<p>…</p>".into(),
        sealed: false,
        created_at: T0,
        attempts: 0,
    }
}

async fn count(users: &UserStore, tenant: &str) -> i64 {
    users
        .search(
            tenant,
            &UserSearch {
                limit: 1,
                with_total: true,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .total
        .unwrap()
}

contract!(email_and_username_are_unique_per_connection, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let side = connection(&db, TENANT, "con_side000000001", "Side").await;
    let users = UserStore::new(db.clone());
    let mut zoe = user(&main, "zoë@例え.jp", T0);
    zoe.username = Some("zoë_müller".into());
    users.insert(TENANT, &zoe, Some("h"), &[]).await.unwrap();

    let same_email = user(&main, "zoë@例え.jp", T0 + 1);
    let err = users
        .insert(TENANT, &same_email, None, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(!err.is_outage(), "a duplicate is not an outage");
    assert!(
        users
            .get(TENANT, &same_email.user_id)
            .await
            .unwrap()
            .is_none()
    );

    let mut same_username = user(&main, "другой@example.com", T0 + 2);
    same_username.username = Some("zoë_müller".into());
    let err = users
        .insert(TENANT, &same_username, None, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let mut same_id = user(&side, "someone@example.com", T0 + 3);
    same_id.user_id = zoe.user_id.clone();
    let err = users.insert(TENANT, &same_id, None, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "user_id: {err:?}");

    // Another connection, or another tenant, may hold the same address and username.
    let mut elsewhere = user(&side, "zoë@例え.jp", T0 + 4);
    elsewhere.username = Some("zoë_müller".into());
    users.insert(TENANT, &elsewhere, None, &[]).await.unwrap();
    users.insert(OTHER, &zoe, None, &[]).await.unwrap();
    let found = users.by_email(TENANT, "zoë@例え.jp").await.unwrap();
    let ids: Vec<_> = found.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, [zoe.user_id.as_str(), elsewhere.user_id.as_str()]);
    let by_name = users
        .by_identifier(TENANT, "zoë_müller", Some(&main.id))
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].user.user_id, zoe.user_id);
});

contract!(a_refused_insert_writes_nothing, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    let taken = user(&main, "taken@example.com", T0);
    users.insert(TENANT, &taken, None, &[]).await.unwrap();

    // A batch with one duplicate (the last row, after several multi-row statements) is
    // refused whole.
    let mut batch: Vec<_> = (0..34)
        .map(|i| user(&main, &format!("bulk{i}@exämple.com"), T0 + i))
        .collect();
    batch.push(user(&main, "taken@example.com", T0 + 99));
    let err = users.insert_many(TENANT, &batch, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(count(&users, TENANT).await, 1, "no row of the batch stays");

    // The welcome email of a refused user is not queued.
    let dup = user(&main, "taken@example.com", T0 + 100);
    let err = users
        .insert(TENANT, &dup, None, &[message("taken@example.com")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let outbox = OutboxStore::new(db.clone());
    assert!(
        outbox
            .claim_next(T0 + 1_000, 60_000)
            .await
            .unwrap()
            .is_none()
    );

    // An accepted one's is, in the same write.
    let fresh = user(&main, "fresh@example.com", T0 + 101);
    users
        .insert(TENANT, &fresh, None, &[message("fresh@example.com")])
        .await
        .unwrap();
    let queued = outbox
        .claim_next(T0 + 1_000, 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.recipient, "fresh@example.com");
});

contract!(a_stale_version_is_refused, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    let u = user(&main, "ana@example.com", T0);
    users.insert(TENANT, &u, None, &[]).await.unwrap();
    let v0 = users.get(TENANT, &u.user_id).await.unwrap().unwrap();

    let mut first = v0.user.clone();
    first.name = Some("Ana Łukasiewicz".into());
    first.updated_at = T0 + 1;
    assert!(
        users
            .update(TENANT, &first, v0.version, None, &[])
            .await
            .unwrap()
    );
    let v1 = users.get(TENANT, &u.user_id).await.unwrap().unwrap();
    assert!(v1.version > v0.version);
    assert_eq!(v1.user.name.as_deref(), Some("Ana Łukasiewicz"));

    let mut stale = v0.user.clone();
    stale.name = Some("lost write".into());
    assert!(
        !users
            .update(TENANT, &stale, v0.version, None, &[])
            .await
            .unwrap()
    );
    let after = users.get(TENANT, &u.user_id).await.unwrap().unwrap();
    assert_eq!(after.user.name.as_deref(), Some("Ana Łukasiewicz"));
    assert_eq!(after.version, v1.version);

    // Counting a login is a write too: a profile read before it is stale after it.
    let logged = users
        .record_login(TENANT, &u.user_id, T0 + 2, Some("203.0.113.9"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged.user.logins_count, 1);
    assert!(logged.version > v1.version);
    assert!(
        !users
            .update(TENANT, &v1.user, v1.version, None, &[])
            .await
            .unwrap()
    );
    // A missing user is not updated either.
    let mut ghost = v1.user.clone();
    ghost.user_id = format!("auth0|{}", hex(12));
    assert!(!users.update(TENANT, &ghost, 0, None, &[]).await.unwrap());
});

contract!(concurrent_updates_of_one_version_have_one_winner, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    let u = user(&main, "race@example.com", T0);
    users.insert(TENANT, &u, None, &[]).await.unwrap();
    let v0 = users.get(TENANT, &u.user_id).await.unwrap().unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (users, barrier, mut changed) = (users.clone(), barrier.clone(), v0.user.clone());
            changed.nickname = Some(format!("writer-{i}"));
            tokio::spawn(async move {
                barrier.wait().await;
                let won = users
                    .update(TENANT, &changed, v0.version, None, &[])
                    .await
                    .unwrap();
                (i, won)
            })
        })
        .collect();
    let mut winners = vec![];
    for t in tasks {
        let (i, won) = t.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = users.get(TENANT, &u.user_id).await.unwrap().unwrap();
    assert_eq!(stored.user.nickname, Some(format!("writer-{}", winners[0])));
    assert_eq!(stored.version, v0.version + 1);
});

contract!(an_update_to_a_taken_email_changes_nothing, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    let a = user(&main, "a@example.com", T0);
    let b = user(&main, "b@example.com", T0 + 1);
    users
        .insert_many(TENANT, &[a.clone(), b.clone()], None)
        .await
        .unwrap();
    let vb = users.get(TENANT, &b.user_id).await.unwrap().unwrap();
    let mut changed = vb.user.clone();
    changed.email = Some("a@example.com".into());
    changed.name = Some("Björk".into());
    let err = users
        .update(
            TENANT,
            &changed,
            vb.version,
            Some(("new-hash", 3)),
            &[message("a@example.com")],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let after = users.get(TENANT, &b.user_id).await.unwrap().unwrap();
    assert_eq!(after.version, vb.version);
    assert_eq!(after.user.email.as_deref(), Some("b@example.com"));
    assert_eq!(after.user.name, vb.user.name);
    assert_eq!(users.password_hash(TENANT, &b.user_id).await.unwrap(), None);
    let outbox = OutboxStore::new(db.clone());
    assert!(
        outbox
            .claim_next(T0 + 1_000, 60_000)
            .await
            .unwrap()
            .is_none()
    );
});

contract!(password_changes_keep_a_bounded_history, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    let u = user(&main, "history@example.com", T0);
    users.insert(TENANT, &u, Some("hash-0"), &[]).await.unwrap();
    for n in 1..=4 {
        let v = users.get(TENANT, &u.user_id).await.unwrap().unwrap();
        let mut changed = v.user.clone();
        changed.updated_at = T0 + n;
        changed.password_set_date = Some(T0 + n);
        let hash = format!("hash-{n}");
        assert!(
            users
                .update(TENANT, &changed, v.version, Some((&hash, 2)), &[])
                .await
                .unwrap()
        );
    }
    assert_eq!(
        users
            .password_hash(TENANT, &u.user_id)
            .await
            .unwrap()
            .as_deref(),
        Some("hash-4")
    );
    assert_eq!(
        users
            .password_history(TENANT, &u.user_id, 10)
            .await
            .unwrap(),
        ["hash-3", "hash-2"],
        "newest first, at most the two kept"
    );
    // A re-hash applies only over the hash it was computed from.
    assert!(
        !users
            .replace_password_hash(TENANT, &u.user_id, "hash-3", "rehashed")
            .await
            .unwrap()
    );
    assert!(
        users
            .replace_password_hash(TENANT, &u.user_id, "hash-4", "rehashed")
            .await
            .unwrap()
    );
    assert_eq!(
        users
            .password_hash(TENANT, &u.user_id)
            .await
            .unwrap()
            .as_deref(),
        Some("rehashed")
    );
});

contract!(a_user_created_again_inherits_nothing, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    let u = user(&main, "phoenix@example.com", T0);
    users.insert(TENANT, &u, Some("h"), &[]).await.unwrap();
    let sessions = SessionStore::new(db.clone());
    let session = BrowserSession {
        cookie_hash: hex(16),
        session_id: hex(8),
        user_id: u.user_id.clone(),
        auth_time: T0,
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + 86_400_000,
        revoked_at: None,
    };
    sessions
        .insert(TENANT, &session, SessionKind::Sso)
        .await
        .unwrap();
    let tokens = RefreshTokenStore::new(db.clone());
    let token = RefreshToken {
        token_hash: hex(16),
        family_id: hex(8),
        client_id: "client-1".into(),
        user_id: u.user_id.clone(),
        audience: None,
        scope: "openid offline_access".into(),
        created_at: T0,
        expires_at: T0 + 86_400_000,
        used_at: None,
        revoked_at: None,
    };
    tokens.insert(TENANT, &token).await.unwrap();
    let grants = UserGrantStore::new(db.clone());
    grants
        .put(TENANT, &u.user_id, "client-1", "", "openid profile", T0)
        .await
        .unwrap();
    let failures = LoginFailureStore::new(db.clone());
    failures
        .reserve(TENANT, &u.user_id, "198.51.100.7", 1, T0)
        .await
        .unwrap();
    assert!(
        failures
            .block(TENANT, &u.user_id, "198.51.100.7", T0)
            .await
            .unwrap()
    );

    assert!(users.delete(TENANT, &u.user_id).await.unwrap());
    assert!(
        !users.delete(TENANT, &u.user_id).await.unwrap(),
        "already gone"
    );
    users.insert(TENANT, &u, None, &[]).await.unwrap();
    assert!(
        sessions
            .get(TENANT, &session.cookie_hash, SessionKind::Sso)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tokens
            .get(TENANT, &token.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        grants
            .scope(TENANT, &u.user_id, "client-1", "")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        failures
            .blocked_ips(TENANT, &u.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        users
            .password_history(TENANT, &u.user_id, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(users.password_hash(TENANT, &u.user_id).await.unwrap(), None);
});
