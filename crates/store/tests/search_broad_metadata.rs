//! Broad metadata predicates on SQLite are checked per user (EXISTS) or walked in page order
//! from their index rather than listed first (IN); every shape must return the same users.
//! Runs on a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::password_policy::StrengthLevel;
use gatehouse_core::search::parse;
use gatehouse_core::user::User;
use gatehouse_store::{ConnectionStore, Db, StoredConnection, TenantStore, UserSearch, UserStore};
use serde_json::json;

fn user(i: usize, plan: &str) -> User {
    User {
        user_id: format!("auth0|u{i:05}"),
        connection_id: "con_test0000000000".into(),
        connection: "db".into(),
        provider: "auth0".into(),
        email: Some(format!("u{i}@example.com")),
        email_verified: i.is_multiple_of(2),
        username: None,
        phone_number: None,
        phone_verified: false,
        given_name: None,
        family_name: None,
        name: Some(format!("User {i}")),
        nickname: None,
        picture: None,
        blocked: None,
        user_metadata: Default::default(),
        app_metadata: json!({"plan": plan, "customer": format!("c{i}")})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        created_at: 1_700_000_000_000 + i as i64,
        updated_at: 1_700_000_000_000 + i as i64,
        last_login: None,
        last_ip: None,
        logins_count: 0,
        last_password_reset: None,
        password_set_date: None,
        idp_attributes: Default::default(),
        linked_identities: vec![],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broad_and_narrow_metadata_predicates_return_the_same_users_either_way() {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-broad-{}",
        gatehouse_crypto::random::hex(6).unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    TenantStore::new(db.clone())
        .ensure("default", "default", 0)
        .await
        .unwrap();
    let conn = StoredConnection {
        id: "con_test0000000000".into(),
        settings: ConnectionSettings::database("db", StrengthLevel::None),
    };
    ConnectionStore::new(db.clone())
        .insert("default", &conn, 0)
        .await
        .unwrap();
    let users = UserStore::new(db.clone());
    // 3000 users: most "gold" (broad, over the threshold), one "silver" user in twenty.
    let all: Vec<User> = (0..3000)
        .map(|i| {
            user(
                i,
                if i.is_multiple_of(20) {
                    "silver"
                } else if !i.is_multiple_of(3) {
                    "gold"
                } else {
                    "free"
                },
            )
        })
        .collect();
    users.insert_many("default", &all, None).await.unwrap();

    for (q, expected) in [
        (
            "app_metadata.plan:gold",
            all.iter()
                .filter(|u| u.app_metadata["plan"] == "gold")
                .count(),
        ),
        ("app_metadata.plan:silver", 150),
        (
            "app_metadata.plan:gold AND email_verified:true",
            all.iter()
                .filter(|u| u.app_metadata["plan"] == "gold" && u.email_verified)
                .count(),
        ),
        (
            "NOT app_metadata.plan:gold",
            all.iter()
                .filter(|u| u.app_metadata["plan"] != "gold")
                .count(),
        ),
        (
            "_exists_:app_metadata.customer AND app_metadata.customer:c7",
            1,
        ),
    ] {
        let search = UserSearch {
            filter: Some(parse(q).unwrap()),
            limit: 50,
            with_total: true,
            ..Default::default()
        };
        let page = users.search("default", &search).await.unwrap();
        assert_eq!(page.total, Some(expected as i64), "{q}");
        assert_eq!(page.users.len(), expected.min(50), "{q}");
        let mut sorted = page.users.clone();
        sorted.sort_by_key(|u| u.created_at);
        assert_eq!(page.users, sorted, "{q}: creation order");
    }
    let plan = users
        .explain(
            "default",
            &UserSearch {
                filter: Some(parse("app_metadata.plan:gold").unwrap()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("user_metadata_index_text") && !plan.contains("TEMP B-TREE"),
        "a broad equality lists its users in page order from its index:\n{plan}"
    );
    let plan = users
        .explain(
            "default",
            &UserSearch {
                filter: Some(parse("app_metadata.customer:c7").unwrap()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .join("\n");
    assert!(
        !plan.contains("CORRELATED"),
        "a narrow predicate lists its users first:\n{plan}"
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
