//! Tenants share tables: a row of one tenant is invisible to, and untouched by, another.

use crate::harness::{OTHER, T0, TENANT, connection, contract, hex, user};
use gatehouse_core::log_event::LogEvent;
use gatehouse_store::{
    AuthorizationCodeStore, BrowserSession, ClientStore, ConnectionStore, JobStore, LogQuery,
    LogStore, LoginFailureStore, RefreshToken, RefreshTokenStore, SessionKind, SessionStore, Slot,
    StoredClient, UserGrantStore, UserSearch, UserStore,
};

contract!(directory_rows_are_invisible_to_another_tenant, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let connections = ConnectionStore::new(db.clone());
    assert!(connections.get(OTHER, &main.id).await.unwrap().is_none());
    assert!(
        connections
            .get_by_name(OTHER, "Main")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(connections.list(OTHER, None, 0, 10).await.unwrap().1, 0);
    assert!(!connections.delete(OTHER, &main.id).await.unwrap());

    let users = UserStore::new(db.clone());
    let u = user(&main, "isolde@example.com", T0);
    users.insert(TENANT, &u, Some("h"), &[]).await.unwrap();
    assert!(users.get(OTHER, &u.user_id).await.unwrap().is_none());
    assert!(
        users
            .by_email(OTHER, "isolde@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        users
            .by_identifier(OTHER, "isolde@example.com", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(users.password_hash(OTHER, &u.user_id).await.unwrap(), None);
    let all = UserSearch {
        limit: 10,
        with_total: true,
        ..Default::default()
    };
    assert_eq!(users.search(OTHER, &all).await.unwrap().total, Some(0));
    assert!(!users.delete(OTHER, &u.user_id).await.unwrap());
    assert!(users.get(TENANT, &u.user_id).await.unwrap().is_some());

    let clients = ClientStore::new(db.clone());
    let c = StoredClient {
        client_id: hex(16),
        settings: gatehouse_core::client::ClientSettings::new("App".into()),
        sealed_secret: None,
    };
    clients.insert(TENANT, &c, T0).await.unwrap();
    assert!(clients.get(OTHER, &c.client_id).await.unwrap().is_none());
    assert_eq!(clients.list(OTHER, 0, 10).await.unwrap().1, 0);
    assert!(!clients.update(OTHER, &c, T0).await.unwrap());
    assert!(!clients.delete(OTHER, &c.client_id).await.unwrap());
    assert!(clients.get(TENANT, &c.client_id).await.unwrap().is_some());
});

contract!(
    session_and_token_rows_are_invisible_to_another_tenant,
    |db| {
        let user_id = "auth0|shared-id";
        let sessions = SessionStore::new(db.clone());
        let s = BrowserSession {
            cookie_hash: hex(16),
            session_id: hex(8),
            user_id: user_id.into(),
            auth_time: T0,
            created_at: T0,
            last_seen_at: T0,
            expires_at: T0 + 1_000,
            revoked_at: None,
        };
        sessions.insert(TENANT, &s, SessionKind::Sso).await.unwrap();
        assert!(
            sessions
                .get(OTHER, &s.cookie_hash, SessionKind::Sso)
                .await
                .unwrap()
                .is_none()
        );
        assert!(!sessions.revoke(OTHER, &s.cookie_hash, T0).await.unwrap());
        assert_eq!(sessions.revoke_user(OTHER, user_id, T0).await.unwrap(), 0);

        let tokens = RefreshTokenStore::new(db.clone());
        let t = RefreshToken {
            token_hash: hex(16),
            family_id: hex(8),
            client_id: "client-1".into(),
            user_id: user_id.into(),
            audience: None,
            scope: "offline_access".into(),
            created_at: T0,
            expires_at: T0 + 1_000,
            used_at: None,
            revoked_at: None,
        };
        tokens.insert(TENANT, &t).await.unwrap();
        assert!(tokens.get(OTHER, &t.token_hash).await.unwrap().is_none());
        assert!(!tokens.mark_used(OTHER, &t.token_hash, T0).await.unwrap());
        assert_eq!(
            tokens.revoke_family(OTHER, &t.family_id, T0).await.unwrap(),
            0
        );
        assert_eq!(tokens.revoke_user(OTHER, user_id, T0).await.unwrap(), 0);

        let codes = AuthorizationCodeStore::new(db.clone());
        let code = gatehouse_store::AuthorizationCode {
            code_hash: hex(16),
            client_id: "client-1".into(),
            user_id: user_id.into(),
            redirect_uri: "https://app.example/cb".into(),
            scope: "openid".into(),
            audience: None,
            nonce: None,
            code_challenge: None,
            code_challenge_method: None,
            session_id: s.session_id.clone(),
            auth_time: T0,
            family_id: hex(8),
            created_at: T0,
            expires_at: T0 + 1_000,
            used_at: None,
            login_claims: None,
            impersonator_id: None,
            impersonator_email: None,
        };
        codes.insert(TENANT, &code).await.unwrap();
        assert!(codes.get(OTHER, &code.code_hash).await.unwrap().is_none());
        assert!(
            !codes.mark_used(OTHER, &code.code_hash, T0).await.unwrap(),
            "another tenant cannot burn a code"
        );

        let grants = UserGrantStore::new(db.clone());
        grants
            .put(TENANT, user_id, "client-1", "", "openid", T0)
            .await
            .unwrap();
        assert!(
            grants
                .scope(OTHER, user_id, "client-1", "")
                .await
                .unwrap()
                .is_none()
        );

        let failures = LoginFailureStore::new(db.clone());
        failures
            .reserve(TENANT, user_id, "192.0.2.1", 1, T0)
            .await
            .unwrap();
        failures
            .block(TENANT, user_id, "192.0.2.1", T0)
            .await
            .unwrap();
        assert!(
            failures
                .blocked_ips(OTHER, user_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            failures
                .reserve(OTHER, user_id, "192.0.2.1", 1, T0)
                .await
                .unwrap(),
            Slot::Granted(1)
        );

        let logs = LogStore::new(db.clone());
        let e = LogEvent {
            log_id: format!("{T0:013}000000{}", hex(4)),
            date: T0,
            kind: "s".into(),
            ..Default::default()
        };
        logs.insert(TENANT, &e).await.unwrap();
        assert!(logs.get(OTHER, &e.log_id).await.unwrap().is_none());
        assert!(
            logs.list(
                OTHER,
                &LogQuery {
                    limit: 10,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .0
            .is_empty()
        );

        let jobs = JobStore::new(db.clone());
        jobs.create(
            TENANT,
            "job_shared",
            "users_export",
            "pending",
            "{}",
            T0,
            &[],
        )
        .await
        .unwrap();
        assert!(jobs.get(OTHER, "job_shared").await.unwrap().is_none());
        assert_eq!(jobs.active_count(OTHER, "users_export").await.unwrap(), 0);

        // Everything is still there for its own tenant.
        assert!(
            sessions
                .get(TENANT, &s.cookie_hash, SessionKind::Sso)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        assert!(
            tokens
                .get(TENANT, &t.token_hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        assert!(codes.mark_used(TENANT, &code.code_hash, T0).await.unwrap());
    }
);
