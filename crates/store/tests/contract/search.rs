//! User search and paging: checkpoint paging by `user_id` (exports, `from`/`take`), offset
//! paging with ties, and metadata search that follows updates.

use crate::harness::{OTHER, T0, TENANT, connection, contract, hex};
use gatehouse_core::search::parse;
use gatehouse_core::user::User;
use gatehouse_store::{SortField, UserOrder, UserSearch, UserStore};
use serde_json::json;
use std::collections::HashSet;

/// Every user of `tenant` page by page in `user_id` order, the way an export walks them.
async fn walk(
    users: &UserStore,
    tenant: &str,
    page: i64,
    created_until: Option<i64>,
) -> Vec<String> {
    let mut seen = vec![];
    let mut after = None;
    loop {
        let q = UserSearch {
            order: UserOrder::UserId {
                after: after.clone(),
            },
            limit: page,
            created_until,
            ..Default::default()
        };
        let list = users.search(tenant, &q).await.unwrap();
        assert!(list.users.len() as i64 <= page);
        let Some(last) = list.users.last() else { break };
        after = Some(last.user_id.clone());
        seen.extend(list.users.into_iter().map(|u| u.user_id));
    }
    seen
}

contract!(user_id_paging_walks_every_user_once, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let social = connection(&db, TENANT, "con_soc0000000001", "Social").await;
    let users = UserStore::new(db.clone());
    // Ids from several providers, random within each: creation order is not id order.
    let providers = ["auth0", "google-oauth2", "email", "samlp|acme"];
    let all: Vec<User> = (0..137usize)
        .map(|i| {
            let conn = if i.is_multiple_of(3) { &social } else { &main };
            let provider = providers[i % providers.len()];
            let mut u = User::new(
                provider,
                &hex(8),
                &conn.id,
                &conn.settings.name,
                &format!("person{i}@exämple.com"),
                T0 + i as i64 * 10,
            );
            u.name = Some(format!("Nguyễn Thị {i}"));
            u
        })
        .collect();
    users.insert_many(TENANT, &all, None).await.unwrap();
    let decoy = User::new("auth0", &hex(8), &main.id, "Main", "decoy@example.com", T0);
    users.insert(OTHER, &decoy, None, &[]).await.unwrap();

    let created: Vec<&str> = all.iter().map(|u| u.user_id.as_str()).collect();
    let mut expected: Vec<&str> = created.clone();
    expected.sort_unstable();
    assert_ne!(
        created, expected,
        "the fixture's ids must not be in creation order"
    );
    let seen = walk(&users, TENANT, 20, None).await;
    let mut walked = seen.clone();
    walked.sort_unstable();
    walked.dedup();
    assert_eq!(seen.len(), expected.len(), "no user twice");
    assert_eq!(walked, expected, "every user of the tenant, and only those");

    // A snapshot leaves out users created after it, though they sort in between.
    let until = T0 + 1_000_000;
    let late: Vec<User> = (0..15)
        .map(|i| {
            User::new(
                "auth0",
                &hex(8),
                &main.id,
                "Main",
                &format!("late{i}@example.com"),
                until + 1 + i,
            )
        })
        .collect();
    users.insert_many(TENANT, &late, None).await.unwrap();
    let mut snapshot = walk(&users, TENANT, 20, Some(until)).await;
    snapshot.sort_unstable();
    assert_eq!(snapshot, expected);
    assert_eq!(
        walk(&users, TENANT, 20, None).await.len(),
        all.len() + late.len()
    );
});

contract!(offset_pages_never_overlap_on_ties, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let users = UserStore::new(db.clone());
    // Created in the same millisecond, half without a name: only user_id orders them.
    let all: Vec<User> = (0..45u32)
        .map(|i| {
            let mut u = User::new(
                "auth0",
                &hex(8),
                &main.id,
                "Main",
                &format!("tie{i}@example.com"),
                T0,
            );
            u.name = (i.is_multiple_of(2)).then(|| format!("Ørsted {}", i % 4));
            u
        })
        .collect();
    users.insert_many(TENANT, &all, None).await.unwrap();
    for order in [
        UserOrder::Created,
        UserOrder::Field(SortField::Name, true),
        UserOrder::Field(SortField::Name, false),
    ] {
        let mut seen = vec![];
        for page in 0..5 {
            let q = UserSearch {
                order: order.clone(),
                offset: page * 10,
                limit: 10,
                with_total: true,
                ..Default::default()
            };
            let list = users.search(TENANT, &q).await.unwrap();
            assert_eq!(list.total, Some(45));
            seen.extend(list.users);
        }
        let ids: HashSet<_> = seen.iter().map(|u| u.user_id.clone()).collect();
        assert_eq!(
            (seen.len(), ids.len()),
            (45, 45),
            "{order:?}: each user on exactly one page"
        );
        if let UserOrder::Field(_, _) = order {
            let first_unnamed = seen.iter().position(|u| u.name.is_none()).unwrap();
            assert!(
                seen[first_unnamed..].iter().all(|u| u.name.is_none()),
                "{order:?}: users without a name come last"
            );
        }
    }
});

contract!(metadata_search_follows_updates, |db| {
    let main = connection(&db, TENANT, "con_main000000001", "Main").await;
    let other = connection(&db, TENANT, "con_oth0000000001", "Other").await;
    let users = UserStore::new(db.clone());
    let all: Vec<User> = (0..30)
        .map(|i| {
            let conn = if i < 20 { &main } else { &other };
            let mut u = User::new(
                "auth0",
                &hex(8),
                &conn.id,
                &conn.settings.name,
                &format!("m{i}@example.com"),
                T0 + i,
            );
            let plan = if i % 3 == 0 { "gold" } else { "free" };
            u.app_metadata = json!({"plan": plan, "région": "Île-de-France"})
                .as_object()
                .cloned()
                .unwrap();
            u
        })
        .collect();
    users.insert_many(TENANT, &all, None).await.unwrap();
    let gold = |connection_id: Option<String>| UserSearch {
        filter: Some(parse("app_metadata.plan:gold").unwrap()),
        connection_id,
        limit: 100,
        with_total: true,
        ..Default::default()
    };
    assert_eq!(
        users.search(TENANT, &gold(None)).await.unwrap().total,
        Some(10)
    );
    assert_eq!(
        users
            .search(TENANT, &gold(Some(main.id.clone())))
            .await
            .unwrap()
            .total,
        Some(7)
    );

    let target = users.get(TENANT, &all[1].user_id).await.unwrap().unwrap();
    let mut upgraded = target.user.clone();
    upgraded.app_metadata.insert("plan".into(), json!("gold"));
    assert!(
        users
            .update(TENANT, &upgraded, target.version, None, &[])
            .await
            .unwrap()
    );
    let found = users.search(TENANT, &gold(None)).await.unwrap();
    assert_eq!(found.total, Some(11));
    assert!(found.users.iter().any(|u| u.user_id == all[1].user_id));

    assert!(users.delete(TENANT, &all[0].user_id).await.unwrap());
    let found = users.search(TENANT, &gold(None)).await.unwrap();
    assert_eq!(found.total, Some(10));
    assert!(found.users.iter().all(|u| u.user_id != all[0].user_id));
    let unicode = UserSearch {
        filter: Some(parse("app_metadata.région:\"Île-de-France\"").unwrap()),
        limit: 1,
        with_total: true,
        ..Default::default()
    };
    assert_eq!(
        users.search(TENANT, &unicode).await.unwrap().total,
        Some(29)
    );
});

contract!(a_user_in_memory_meets_what_the_sql_finds, |db| {
    let main = connection(&db, TENANT, "con_main000000003", "Main").await;
    let users = UserStore::new(db.clone());
    let people = [
        (
            "anna@sales.example",
            "Sales",
            json!({"phone": "+49"}),
            3,
            Some(true),
        ),
        ("Bert@Sales.example", "Sales", json!({}), 0, None),
        (
            "erik@eng.example",
            "Engineering",
            json!({"tags": ["a", "b"]}),
            12,
            Some(false),
        ),
        ("zoë@eng.example", "R\"&D", json!({"level": 7}), 1, None),
    ];
    let all: Vec<User> = people
        .iter()
        .enumerate()
        .map(|(i, (email, dept, um, logins, blocked))| {
            let mut u = crate::harness::user(&main, email, T0 + i as i64 * 1000);
            u.name = Some(format!("Nguyễn {i}"));
            u.logins_count = *logins;
            u.blocked = *blocked;
            u.app_metadata = json!({"department": dept, "level": i * 5})
                .as_object()
                .cloned()
                .unwrap();
            u.user_metadata = um.as_object().cloned().unwrap();
            u
        })
        .collect();
    users.insert_many(TENANT, &all, None).await.unwrap();
    for q in [
        "app_metadata.department:\"Sales\"",
        "app_metadata.department:sales",
        "app_metadata.department:\"R\\\"&D\"",
        "app_metadata.department:S* AND NOT blocked:true",
        "email:bert@sales.example OR email.domain:eng.example",
        "app_metadata.level:[5 TO 10} OR logins_count:[10 TO *]",
        "_exists_:user_metadata.phone OR user_metadata.tags:b",
        "name:nguyễn* AND NOT app_metadata.department:Engineering",
        "created_at:[* TO 1970-01-01] OR blocked:false",
        "user_metadata.level:{6 TO *] OR identities.connection:Other",
        "erik*",
    ] {
        let query = parse(q).unwrap();
        let found = users
            .search(
                TENANT,
                &UserSearch {
                    filter: Some(query.clone()),
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut by_sql: Vec<&str> = found.users.iter().map(|u| u.user_id.as_str()).collect();
        by_sql.sort_unstable();
        let mut in_memory: Vec<&str> = all
            .iter()
            .filter(|u| gatehouse_store::search::user_matches(&query, u))
            .map(|u| u.user_id.as_str())
            .collect();
        in_memory.sort_unstable();
        assert_eq!(in_memory, by_sql, "{q}");
    }
});

/// 2,600 users in which every clause of the queries below matches 1,000 or more, so searches
/// walk users in page order (with several budgets: one that ends inside the population, to
/// reach the fallback to listing), plus pairs created in the same millisecond.
async fn broad_population(
    users: &UserStore,
    conn: &gatehouse_store::StoredConnection,
) -> Vec<User> {
    let all: Vec<User> = (0..2600usize)
        .map(|i| {
            let mut u = User::new(
                "auth0",
                &hex(12),
                &conn.id,
                &conn.settings.name,
                &format!("kunde{i}@bücher.example"),
                T0 + (i as i64 / 2) * 10,
            );
            u.family_name = Some(
                if i.is_multiple_of(2) {
                    "Williams"
                } else {
                    "Ørsted"
                }
                .into(),
            );
            u.blocked = i.is_multiple_of(7).then_some(true);
            u.app_metadata = json!({
                "plan": if i.is_multiple_of(3) { "free" } else { "gold" },
                "seats": i % 200,
            })
            .as_object()
            .cloned()
            .unwrap();
            if !i.is_multiple_of(5) {
                u.app_metadata
                    .insert("subscription".into(), json!({"tier": "pro"}));
            }
            // Two values of one path: a range over both lists the user twice.
            if !i.is_multiple_of(4) {
                u.app_metadata
                    .insert("roles".into(), json!(["admin", "billing"]));
            }
            u
        })
        .collect();
    users.insert_many(TENANT, &all, None).await.unwrap();
    all
}

contract!(
    broad_searches_walk_in_page_order_and_find_the_same_users,
    |db| {
        let conn = connection(&db, TENANT, "con_broad00000001", "Main").await;
        let all = broad_population(&UserStore::new(db.clone()), &conn).await;
        let mut ordered = all.clone();
        ordered.sort_by(|a, b| (a.created_at, &a.user_id).cmp(&(b.created_at, &b.user_id)));
        let queries = [
            "family_name:Williams AND app_metadata.plan:gold AND NOT blocked:true",
            "app_metadata.seats:[20 TO 180]",
            "_exists_:app_metadata.subscription AND app_metadata.plan:gold",
            "family_name:williams AND app_metadata.seats:[190 TO 199]",
            "app_metadata.plan:gold AND NOT blocked:true",
            "app_metadata.roles:[a TO c] AND NOT app_metadata.plan:free",
            "app_metadata.roles:admin AND app_metadata.seats:[0 TO 150]",
        ];
        for budget in [20_000, 700, 60] {
            let users = UserStore::new(db.clone()).with_walk_budget(budget);
            for text in queries {
                let q = parse(text).unwrap();
                let matching: Vec<&User> = ordered
                    .iter()
                    .filter(|u| gatehouse_store::search::user_matches(&q, u))
                    .collect();
                for offset in [0, 50, 350, matching.len() as i64 - 20] {
                    let search = UserSearch {
                        filter: Some(q.clone()),
                        offset,
                        limit: 50,
                        with_total: true,
                        ..Default::default()
                    };
                    let page = users.search(TENANT, &search).await.unwrap();
                    let want: Vec<&str> = matching
                        .iter()
                        .skip(offset as usize)
                        .take(50)
                        .map(|u| u.user_id.as_str())
                        .collect();
                    let got: Vec<&str> = page.users.iter().map(|u| u.user_id.as_str()).collect();
                    assert_eq!(got, want, "{text}, offset {offset}, budget {budget}");
                    assert_eq!(page.total, Some(matching.len() as i64), "{text}");
                    assert!(!page.total_capped);
                }
            }
        }
        // The broad three-clause query walks the Williamses in page order (their index ends
        // in created_at) and checks the rest per user; a broad range with no ordered index and
        // more matches than the budget walks every user in creation order, up to the budget
        // (which SQLite's plan shows as a range of `created_at`); a selective query lists.
        let users = UserStore::new(db.clone()).with_walk_budget(60);
        let plan = |text: &str| {
            let users = users.clone();
            let search = UserSearch {
                filter: Some(parse(text).unwrap()),
                limit: 50,
                ..Default::default()
            };
            async move { users.explain(TENANT, &search).await.unwrap().join("\n") }
        };
        let driven = plan(queries[0]).await;
        let walked = plan(queries[1]).await;
        let narrow = plan(&format!(
            "email:\"{}\" AND app_metadata.plan:gold",
            all[7].email.clone().unwrap()
        ))
        .await;
        let sorted_range = UserStore::new(db.clone())
            .explain(
                TENANT,
                &UserSearch {
                    filter: Some(parse(queries[1]).unwrap()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .join("\n");
        // With the default budget, the range (fewer matches than the budget) is listed from
        // the metadata index and sorted there, each listed user read in turn.
        assert!(
            sorted_range.contains("user_metadata_index_num")
                && !sorted_range.contains("users_by_created"),
            "{sorted_range}"
        );
        match db.dialect() {
            gatehouse_store::Dialect::Sqlite => {
                assert!(
                    driven.contains("users_family_name_ci") && !driven.contains("TEMP B-TREE"),
                    "{driven}"
                );
                assert!(
                    walked.contains("users_by_created (tenant_id=? AND created_at<?)")
                        && !walked.contains("TEMP B-TREE"),
                    "{walked}"
                );
                assert!(
                    narrow.contains("users_email_ci") && !narrow.contains("created_at<?"),
                    "a selective clause lists its users: {narrow}"
                );
            }
            gatehouse_store::Dialect::Postgres => {
                assert!(
                    driven.contains("users_family_name_ci") && !driven.contains("Sort"),
                    "{driven}"
                );
                assert!(walked.contains("Subquery Scan"), "{walked}");
                assert!(
                    narrow.contains("users_email_ci") && !narrow.contains("Subquery Scan"),
                    "a selective clause lists its users: {narrow}"
                );
            }
        }
    }
);

contract!(
    bounded_totals_count_exactly_up_to_the_bound_and_say_when_they_stop,
    |db| {
        let conn = connection(&db, TENANT, "con_total00000001", "Main").await;
        let users = UserStore::new(db.clone());
        broad_population(&users, &conn).await;
        let total = |text: &str, offset: i64| {
            let users = users.clone();
            let search = UserSearch {
                filter: Some(parse(text).unwrap()),
                offset,
                limit: 50,
                with_total: true,
                total_bound: Some(1000),
                ..Default::default()
            };
            async move {
                let list = users.search(TENANT, &search).await.unwrap();
                (list.total, list.total_capped)
            }
        };
        // 1,300 Williamses: the count stops at the bound and says so.
        assert_eq!(total("family_name:Williams", 0).await, (Some(1000), true));
        // Past the bound, the total covers the page asked for.
        assert_eq!(
            total("family_name:Williams", 1200).await,
            (Some(1250), true)
        );
        assert_eq!(
            total("family_name:Williams", 1260).await,
            (Some(1300), false)
        );
        // Under the bound, exact.
        assert_eq!(
            total("app_metadata.seats:[0 TO 9]", 0).await,
            (Some(130), false)
        );
        // Exactly the bound is exact too.
        assert_eq!(
            total(
                "app_metadata.seats:[0 TO 76] AND NOT email:\"kunde0@bücher.example\"",
                0
            )
            .await,
            (Some(1000), false)
        );
        // Without a bound (exports), every match is counted.
        let all = users
            .search(
                TENANT,
                &UserSearch {
                    filter: Some(parse("family_name:Williams").unwrap()),
                    limit: 1,
                    with_total: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!((all.total, all.total_capped), (Some(1300), false));
    }
);
