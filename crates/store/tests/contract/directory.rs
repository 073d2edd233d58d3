//! Tenants, signing keys, connections, clients, client grants and APIs: names unique where
//! the service promises it, deletes that take dependent rows with them, stable paging.

use crate::harness::{T0, TENANT, connection, contract, hex, user};
use gatehouse_core::client::ClientSettings;
use gatehouse_core::resource_server::ResourceServerSettings;
use gatehouse_store::{
    ClientGrant, ClientStore, ConnectionStore, KeyStore, ResourceServerStore, SessionKind,
    SessionStore, StoreError, StoredClient, StoredKey, StoredResourceServer, TenantStore,
    UserStore,
};

fn client(name: &str) -> StoredClient {
    StoredClient {
        client_id: hex(16),
        settings: ClientSettings::new(name.into()),
        sealed_secret: Some(vec![0, 1, 2, 255]),
    }
}

fn api(identifier: &str) -> StoredResourceServer {
    let mut settings =
        ResourceServerSettings::management_api(identifier, &["read:things", "write:things"]);
    settings.name = "Bücherei API".into();
    StoredResourceServer {
        id: hex(12),
        settings,
    }
}

fn grant(client_id: &str, audience: &str, scope: &[&str]) -> ClientGrant {
    ClientGrant {
        id: format!("cgr_{}", hex(8)),
        client_id: client_id.into(),
        audience: audience.into(),
        scope: scope.iter().map(|s| s.to_string()).collect(),
    }
}

contract!(tenant_settings_and_signing_keys, |db| {
    let tenants = TenantStore::new(db.clone());
    assert_eq!(tenants.settings(TENANT).await.unwrap(), "{}");
    tenants
        .put_settings(TENANT, r#"{"friendly_name":"Café ☕"}"#)
        .await
        .unwrap();
    tenants.ensure(TENANT, "renamed", T0 + 1).await.unwrap();
    assert_eq!(
        tenants.settings(TENANT).await.unwrap(),
        r#"{"friendly_name":"Café ☕"}"#,
        "ensuring an existing tenant changes nothing"
    );
    let keys = KeyStore::new(db.clone());
    for (kid, at) in [("kid-b", T0 + 2), ("kid-a", T0 + 1), ("kid-c", T0 + 3)] {
        let key = StoredKey {
            kid: kid.into(),
            algorithm: "RS256".into(),
            private_key: vec![7; 32],
            status: "current".into(),
            created_at: at,
            cert: None,
            current_since: Some(at),
            current_until: None,
            revoked_at: None,
        };
        keys.insert(TENANT, &key).await.unwrap();
    }
    let kids: Vec<_> = keys
        .list(TENANT)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["kid-a", "kid-b", "kid-c"], "oldest first");
});

contract!(
    connection_names_are_unique_and_deletes_take_their_users,
    |db| {
        let connections = ConnectionStore::new(db.clone());
        let main = connection(&db, TENANT, "con_main000000001", "Kunden-DB").await;
        let mut twin = main.clone();
        twin.id = "con_twin000000001".into();
        let err = connections.insert(TENANT, &twin, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(
            connections
                .get_by_name(TENANT, "Kunden-DB")
                .await
                .unwrap()
                .unwrap()
                .id,
            main.id
        );

        let side = connection(&db, TENANT, "con_side000000001", "Side").await;
        connections
            .enable_client_everywhere(TENANT, "client-1", T0 + 1)
            .await
            .unwrap();
        connections
            .enable_client_everywhere(TENANT, "client-1", T0 + 2)
            .await
            .unwrap();
        for c in [&main, &side] {
            let stored = connections.get(TENANT, &c.id).await.unwrap().unwrap();
            assert_eq!(stored.settings.enabled_clients, ["client-1"], "added once");
        }

        let users = UserStore::new(db.clone());
        let doomed = user(&main, "weg@example.de", T0);
        let kept = user(&side, "bleibt@example.de", T0);
        users
            .insert_many(TENANT, &[doomed.clone(), kept.clone()], Some("h"))
            .await
            .unwrap();
        let sessions = SessionStore::new(db.clone());
        let s = gatehouse_store::BrowserSession {
            cookie_hash: hex(16),
            session_id: hex(8),
            user_id: doomed.user_id.clone(),
            auth_time: T0,
            created_at: T0,
            last_seen_at: T0,
            expires_at: T0 + 1_000,
            revoked_at: None,
        };
        sessions.insert(TENANT, &s, SessionKind::Sso).await.unwrap();
        assert!(connections.delete(TENANT, &main.id).await.unwrap());
        assert!(connections.get(TENANT, &main.id).await.unwrap().is_none());
        assert!(users.get(TENANT, &doomed.user_id).await.unwrap().is_none());
        assert!(
            sessions
                .get(TENANT, &s.cookie_hash, SessionKind::Sso)
                .await
                .unwrap()
                .is_none()
        );
        assert!(users.get(TENANT, &kept.user_id).await.unwrap().is_some());
        // The name is free again.
        connection(&db, TENANT, "con_new0000000001", "Kunden-DB").await;
    }
);

contract!(clients_and_apis_take_their_grants_with_them, |db| {
    let clients = ClientStore::new(db.clone());
    let apis = ResourceServerStore::new(db.clone());
    let (a, b) = (client("Ärzte-App"), client("日本語アプリ"));
    clients.insert(TENANT, &a, T0).await.unwrap();
    clients.insert(TENANT, &b, T0).await.unwrap();
    let books = api("https://bücher.example/api");
    apis.insert(TENANT, &books, T0).await.unwrap();
    let err = apis
        .insert(TENANT, &api("https://bücher.example/api"), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "identifiers are unique: {err:?}"
    );

    let ga = grant(&a.client_id, &books.settings.identifier, &["read:things"]);
    clients.insert_grant(TENANT, &ga, T0).await.unwrap();
    let err = clients
        .insert_grant(
            TENANT,
            &grant(&a.client_id, &books.settings.identifier, &[]),
            T0,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "one grant per client and API: {err:?}"
    );
    clients
        .insert_grant(
            TENANT,
            &grant(&b.client_id, &books.settings.identifier, &["write:things"]),
            T0 + 1,
        )
        .await
        .unwrap();
    clients
        .insert_grant(
            TENANT,
            &grant(&a.client_id, "https://other.example/", &[]),
            T0 + 2,
        )
        .await
        .unwrap();
    let (listed, total) = clients
        .list_grants(TENANT, Some(&a.client_id), None, 0, 10)
        .await
        .unwrap();
    assert_eq!((listed.len(), total), (2, 2));
    assert_eq!(listed[0], ga, "creation order");

    assert!(clients.delete(TENANT, &a.client_id).await.unwrap());
    assert!(clients.get(TENANT, &a.client_id).await.unwrap().is_none());
    let (left, total) = clients
        .list_grants(TENANT, None, None, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 1, "the deleted client's grants are gone: {left:?}");
    assert!(apis.delete(TENANT, &books).await.unwrap());
    assert_eq!(
        clients
            .list_grants(TENANT, None, None, 0, 10)
            .await
            .unwrap()
            .1,
        0,
        "so are the API's"
    );
    let stored = clients.get(TENANT, &b.client_id).await.unwrap().unwrap();
    assert_eq!(stored.sealed_secret.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(stored.settings.name, "日本語アプリ");

    // Start-up rewrites an API found by its identifier rather than adding a second one.
    let mut system = api("https://tenant.example/api/v2/");
    apis.upsert_by_identifier(TENANT, &system, T0)
        .await
        .unwrap();
    system.settings.token_lifetime = 600;
    let again = StoredResourceServer {
        id: hex(12),
        settings: system.settings.clone(),
    };
    apis.upsert_by_identifier(TENANT, &again, T0 + 1)
        .await
        .unwrap();
    let (all, total) = apis.list(TENANT, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(
        (all[0].id.as_str(), all[0].settings.token_lifetime),
        (system.id.as_str(), 600)
    );
});

contract!(client_pages_cover_every_client_once, |db| {
    let clients = ClientStore::new(db.clone());
    // Created in the same millisecond: the id orders them.
    let all: Vec<_> = (0..23)
        .map(|i| client(&format!("Anwendung {i} ✓")))
        .collect();
    for c in &all {
        clients.insert(TENANT, c, T0).await.unwrap();
    }
    let mut seen = vec![];
    for page in 0..3 {
        let (list, total) = clients.list(TENANT, page * 10, 10).await.unwrap();
        assert_eq!(total, 23);
        seen.extend(list.into_iter().map(|c| c.client_id));
    }
    let mut expected: Vec<_> = all.iter().map(|c| c.client_id.clone()).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);
});
