//! Browser sessions, authorization codes, refresh tokens and consent grants: single use
//! under concurrency, family revocation, and expiry by the time the caller passes in.

use crate::harness::{T0, TENANT, contract, hex};
use gatehouse_store::{
    AuthorizationCode, AuthorizationCodeStore, BrowserSession, Db, RefreshToken, RefreshTokenStore,
    SessionKind, SessionStore, UserGrantStore,
};
use std::sync::Arc;

const DAY: i64 = 86_400_000;

fn code(expires_at: i64) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hex(16),
        client_id: "client-ü".into(),
        user_id: "auth0|françoise".into(),
        redirect_uri: "https://app.example/callback?q=ä".into(),
        scope: "openid profile".into(),
        audience: None,
        nonce: Some(hex(8)),
        code_challenge: Some(hex(16)),
        code_challenge_method: Some("S256".into()),
        session_id: hex(8),
        auth_time: T0,
        family_id: hex(8),
        created_at: T0,
        expires_at,
        used_at: None,
        login_claims: None,
        impersonator_id: None,
        impersonator_email: None,
    }
}

fn session(user_id: &str, expires_at: i64) -> BrowserSession {
    BrowserSession {
        cookie_hash: hex(16),
        session_id: hex(8),
        user_id: user_id.into(),
        auth_time: T0,
        created_at: T0,
        last_seen_at: T0,
        expires_at,
        revoked_at: None,
    }
}

fn token(family_id: &str, user_id: &str, expires_at: i64) -> RefreshToken {
    RefreshToken {
        token_hash: hex(16),
        family_id: family_id.into(),
        client_id: "client-1".into(),
        user_id: user_id.into(),
        audience: Some("https://api.example/".into()),
        scope: "openid offline_access".into(),
        created_at: T0,
        expires_at,
        used_at: None,
        revoked_at: None,
    }
}

/// Runs `take` from `n` tasks released together; how many of them got `true`.
async fn race<F, Fut>(n: usize, take: F) -> usize
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let take = Arc::new(take);
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (take, barrier) = (take.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                take().await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    won
}

contract!(an_authorization_code_is_taken_once, |db| {
    let codes = AuthorizationCodeStore::new(db.clone());
    let c = code(T0 + 60_000);
    codes.insert(TENANT, &c).await.unwrap();
    let stored = codes.get(TENANT, &c.code_hash).await.unwrap().unwrap();
    assert_eq!(stored.redirect_uri, c.redirect_uri);
    assert_eq!(stored.used_at, None);
    assert!(codes.mark_used(TENANT, &c.code_hash, T0 + 1).await.unwrap());
    assert!(
        !codes.mark_used(TENANT, &c.code_hash, T0 + 2).await.unwrap(),
        "a replay gets nothing"
    );
    let stored = codes.get(TENANT, &c.code_hash).await.unwrap().unwrap();
    assert_eq!(
        stored.used_at,
        Some(T0 + 1),
        "the first use is what is recorded"
    );
    assert!(
        !codes.mark_used(TENANT, &hex(16), T0).await.unwrap(),
        "an unknown code"
    );
});

contract!(an_impersonation_code_keeps_its_impersonator, |db| {
    let codes = AuthorizationCodeStore::new(db.clone());
    let plain = code(T0 + 60_000);
    let c = AuthorizationCode {
        impersonator_id: Some("auth0|admin-é".into()),
        impersonator_email: Some("admin@example.com".into()),
        session_id: String::new(),
        ..code(T0 + 60_000)
    };
    codes.insert(TENANT, &plain).await.unwrap();
    codes.insert(TENANT, &c).await.unwrap();
    let stored = codes.get(TENANT, &c.code_hash).await.unwrap().unwrap();
    assert_eq!(stored.impersonator_id.as_deref(), Some("auth0|admin-é"));
    assert_eq!(
        stored.impersonator_email.as_deref(),
        Some("admin@example.com")
    );
    assert_eq!(stored.session_id, "", "an impersonation opens no session");
    let stored = codes.get(TENANT, &plain.code_hash).await.unwrap().unwrap();
    assert_eq!(
        (stored.impersonator_id, stored.impersonator_email),
        (None, None)
    );
});

contract!(concurrent_exchanges_of_one_code_have_one_winner, |db| {
    let codes = AuthorizationCodeStore::new(db.clone());
    let c = code(T0 + 60_000);
    codes.insert(TENANT, &c).await.unwrap();
    let hash = c.code_hash.clone();
    let won = race(16, move || {
        let (codes, hash) = (codes.clone(), hash.clone());
        async move { codes.mark_used(TENANT, &hash, T0 + 1).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
});

contract!(revoking_a_family_stops_every_token_in_it, |db| {
    let tokens = RefreshTokenStore::new(db.clone());
    let family = hex(8);
    let first = token(&family, "auth0|a", T0 + DAY);
    let second = token(&family, "auth0|a", T0 + DAY);
    let unrelated = token(&hex(8), "auth0|a", T0 + DAY);
    for t in [&first, &second, &unrelated] {
        tokens.insert(TENANT, t).await.unwrap();
    }
    assert!(
        tokens
            .mark_used(TENANT, &first.token_hash, T0 + 1)
            .await
            .unwrap(),
        "rotated"
    );
    assert!(
        !tokens
            .mark_used(TENANT, &first.token_hash, T0 + 2)
            .await
            .unwrap(),
        "reuse is seen"
    );
    assert_eq!(
        tokens.revoke_family(TENANT, &family, T0 + 2).await.unwrap(),
        2
    );
    assert_eq!(
        tokens.revoke_family(TENANT, &family, T0 + 3).await.unwrap(),
        0,
        "already revoked"
    );
    assert!(
        !tokens
            .mark_used(TENANT, &second.token_hash, T0 + 4)
            .await
            .unwrap(),
        "a revoked token is not used"
    );
    let stored = tokens
        .get(TENANT, &second.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_at, Some(T0 + 2));
    let other = tokens
        .get(TENANT, &unrelated.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.revoked_at, None, "another family is untouched");
    assert!(
        tokens
            .mark_used(TENANT, &unrelated.token_hash, T0 + 5)
            .await
            .unwrap()
    );

    let mine = token(&hex(8), "auth0|b", T0 + DAY);
    tokens.insert(TENANT, &mine).await.unwrap();
    assert_eq!(
        tokens.revoke_user(TENANT, "auth0|a", T0 + 6).await.unwrap(),
        1,
        "only live tokens of the user"
    );
    assert_eq!(
        tokens
            .get(TENANT, &mine.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
});

contract!(concurrent_rotations_of_one_token_have_one_winner, |db| {
    let tokens = RefreshTokenStore::new(db.clone());
    let t = token(&hex(8), "auth0|a", T0 + DAY);
    tokens.insert(TENANT, &t).await.unwrap();
    let hash = t.token_hash.clone();
    let won = race(12, move || {
        let (tokens, hash) = (tokens.clone(), hash.clone());
        async move { tokens.mark_used(TENANT, &hash, T0 + 1).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
});

contract!(sessions_are_looked_up_by_kind_and_revoked_once, |db| {
    let sessions = SessionStore::new(db.clone());
    let sso = session("auth0|ingrid", T0 + DAY);
    let dash = session("auth0|ingrid", T0 + DAY);
    sessions
        .insert(TENANT, &sso, SessionKind::Sso)
        .await
        .unwrap();
    sessions
        .insert(TENANT, &dash, SessionKind::Dashboard)
        .await
        .unwrap();
    assert!(
        sessions
            .get(TENANT, &sso.cookie_hash, SessionKind::Dashboard)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sessions
            .get(TENANT, &dash.cookie_hash, SessionKind::Sso)
            .await
            .unwrap()
            .is_none()
    );

    sessions
        .touch(TENANT, &sso.cookie_hash, T0 + 5, Some(T0 + 4))
        .await
        .unwrap();
    sessions
        .touch(TENANT, &sso.cookie_hash, T0 + 6, None)
        .await
        .unwrap();
    let s = sessions
        .get(TENANT, &sso.cookie_hash, SessionKind::Sso)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.last_seen_at, s.auth_time), (T0 + 6, T0 + 4));

    assert!(
        sessions
            .revoke(TENANT, &sso.cookie_hash, T0 + 7)
            .await
            .unwrap()
    );
    assert!(
        !sessions
            .revoke(TENANT, &sso.cookie_hash, T0 + 8)
            .await
            .unwrap()
    );
    let s = sessions
        .get(TENANT, &sso.cookie_hash, SessionKind::Sso)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.revoked_at, Some(T0 + 7));
    assert_eq!(
        sessions
            .revoke_user(TENANT, "auth0|ingrid", T0 + 9)
            .await
            .unwrap(),
        1,
        "only the live one"
    );
});

/// Sessions, codes and tokens expiring at `at`, plus a revoked session that does not.
async fn expiring(db: &Db, at: i64) -> (String, String, String, String) {
    let sessions = SessionStore::new(db.clone());
    let live = session("auth0|x", at);
    let revoked = session("auth0|x", at + DAY);
    sessions
        .insert(TENANT, &live, SessionKind::Sso)
        .await
        .unwrap();
    sessions
        .insert(TENANT, &revoked, SessionKind::Sso)
        .await
        .unwrap();
    sessions
        .revoke(TENANT, &revoked.cookie_hash, T0)
        .await
        .unwrap();
    let c = code(at);
    AuthorizationCodeStore::new(db.clone())
        .insert(TENANT, &c)
        .await
        .unwrap();
    let t = token(&hex(8), "auth0|x", at);
    RefreshTokenStore::new(db.clone())
        .insert(TENANT, &t)
        .await
        .unwrap();
    (
        live.cookie_hash,
        revoked.cookie_hash,
        c.code_hash,
        t.token_hash,
    )
}

contract!(the_sweep_expires_by_the_time_it_is_given, |db| {
    // Expiry lies decades from the wall clock: only the passed-in time can reach it.
    let at = T0 + 365 * DAY;
    let (live, revoked, code_hash, token_hash) = expiring(&db, at).await;
    let sessions = SessionStore::new(db.clone());
    let codes = AuthorizationCodeStore::new(db.clone());
    let tokens = RefreshTokenStore::new(db.clone());

    assert_eq!(
        sessions.sweep(at - 1).await.unwrap(),
        1,
        "only the revoked session before expiry"
    );
    assert!(
        sessions
            .get(TENANT, &revoked, SessionKind::Sso)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sessions
            .get(TENANT, &live, SessionKind::Sso)
            .await
            .unwrap()
            .is_some()
    );
    assert!(codes.get(TENANT, &code_hash).await.unwrap().is_some());
    assert!(tokens.get(TENANT, &token_hash).await.unwrap().is_some());

    assert_eq!(
        sessions.sweep(at).await.unwrap(),
        3,
        "what expires at `at` is gone at `at`"
    );
    assert!(
        sessions
            .get(TENANT, &live, SessionKind::Sso)
            .await
            .unwrap()
            .is_none()
    );
    assert!(codes.get(TENANT, &code_hash).await.unwrap().is_none());
    assert!(tokens.get(TENANT, &token_hash).await.unwrap().is_none());
});

contract!(consent_is_kept_per_client_and_audience, |db| {
    let grants = UserGrantStore::new(db.clone());
    let u = "auth0|łucja";
    grants
        .put(TENANT, u, "client-1", "", "openid profile", T0)
        .await
        .unwrap();
    grants
        .put(
            TENANT,
            u,
            "client-1",
            "https://api.example/",
            "read:things",
            T0,
        )
        .await
        .unwrap();
    grants
        .put(TENANT, u, "client-1", "", "openid profile email", T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        grants
            .scope(TENANT, u, "client-1", "")
            .await
            .unwrap()
            .as_deref(),
        Some("openid profile email")
    );
    assert_eq!(
        grants
            .scope(TENANT, u, "client-1", "https://api.example/")
            .await
            .unwrap()
            .as_deref(),
        Some("read:things")
    );
    assert_eq!(grants.scope(TENANT, u, "client-2", "").await.unwrap(), None);
    assert_eq!(
        grants
            .scope(TENANT, "auth0|someone-else", "client-1", "")
            .await
            .unwrap(),
        None
    );
});
