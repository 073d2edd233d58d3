//! `GET /api/v2/users?q=…` against a known population, on SQLite or PostgreSQL: each
//! construct of Auth0's v3 syntax must return exactly the expected users.

use crate::common;

use common::{DB_CONNECTION, TestServer, enc};
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn population(s: &mut TestServer) -> Vec<Value> {
    s.post("/api/v2/connections", json!({"name": "with-usernames", "strategy": "auth0", "options": {"requires_username": true}}))
        .await
        .assert_status(201);
    let people = [
        json!({"email": "alice@acme.com", "given_name": "Alice", "family_name": "Smith", "name": "Alice Smith", "nickname": "alice", "email_verified": true,
               "app_metadata": {"plan": "gold", "seats": 10, "roles": ["admin", "dev"], "subscription": {"tier": "pro"}},
               "user_metadata": {"city": "Paris", "addresses": [{"city": "Paris"}, {"city": "Lyon"}]}}),
        json!({"email": "bob@acme.com", "family_name": "Jones", "name": "Bob Jones", "blocked": true, "app_metadata": {"plan": "silver", "seats": 3}}),
        json!({"email": "carol@example.org", "family_name": "Smithers", "name": "Carol Smithers", "app_metadata": {"plan": "gold", "seats": 25}, "user_metadata": {"city": "Oslo"}}),
        json!({"email": "dave@mail.usa", "family_name": "O'Brien", "name": "Dave O'Brien", "app_metadata": {"plan": "Gold"}}),
        json!({"email": "ERIN@Example.org", "name": "Erin", "phone_number": "+14155550100"}),
        json!({"email": "frank@acme.com", "family_name": "Smith", "name": "Frank Smith"}),
        json!({"email": "grace@acme.com", "name": "Grace Hopper", "username": "grace_h", "connection": "with-usernames"}),
    ];
    let mut out = vec![];
    for p in people {
        let mut body = p.clone();
        if body.get("connection").is_none() {
            body["connection"] = json!(DB_CONNECTION);
        }
        body["password"] = json!("Sup3r-secret!");
        out.push(
            s.post("/api/v2/users", body)
                .await
                .assert_status(201)
                .clone(),
        );
        // Distinct creation instants, for the date-range cases.
        s.clock().advance(5);
    }
    out
}

fn emails(v: &Value) -> BTreeSet<String> {
    let list = v.get("users").unwrap_or(v);
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|u| {
            u["email"]
                .as_str()
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

async fn search(s: &mut TestServer, q: &str) -> common::Response {
    s.get(&format!(
        "/api/v2/users?search_engine=v3&per_page=100&q={}",
        enc(q)
    ))
    .await
}

const EVERYONE: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace"];

#[tokio::test(flavor = "multi_thread")]
async fn each_construct_returns_exactly_the_expected_users() {
    let mut s = TestServer::start_with_manual_clock().await;
    let people = population(&mut s).await;
    let created = |i: usize| people[i]["created_at"].as_str().unwrap().to_string();
    let cases: Vec<(String, Vec<&str>)> = vec![
        // Field terms: whole-value matches; normalized fields ignore case, others do not.
        ("email:alice@acme.com".into(), vec!["alice"]),
        ("email:ALICE@ACME.COM".into(), vec!["alice"]),
        (r#"name:"alice smith""#.into(), vec!["alice"]),
        ("name:alice".into(), vec![]),
        ("nickname:ALICE".into(), vec!["alice"]),
        ("username:grace_h".into(), vec!["grace"]),
        ("username:GRACE_H".into(), vec![]),
        ("phone_number:\"+14155550100\"".into(), vec!["erin"]),
        // Wildcards.
        ("name:alice*".into(), vec!["alice"]),
        ("name:A*".into(), vec!["alice"]),
        ("family_name:smith*".into(), vec!["alice", "carol", "frank"]),
        ("family_name:*ith".into(), vec!["alice", "frank"]),
        (
            "email:*acme.com".into(),
            vec!["alice", "bob", "frank", "grace"],
        ),
        ("name:*smith*".into(), vec!["alice", "carol", "frank"]),
        ("user_id:auth0".into(), vec![]),
        ("user_id:auth0*".into(), EVERYONE.to_vec()),
        ("family_name:o\\'b*".into(), vec!["dave"]),
        // Derived and identity fields.
        (
            "email.domain:acme.com".into(),
            vec!["alice", "bob", "frank", "grace"],
        ),
        ("email.domain:EXAMPLE.ORG".into(), vec!["carol", "erin"]),
        (
            r#"identities.connection:"with-usernames""#.into(),
            vec!["grace"],
        ),
        ("identities.provider:auth0".into(), EVERYONE.to_vec()),
        ("identities.isSocial:false".into(), EVERYONE.to_vec()),
        // Booleans and numbers.
        ("blocked:true".into(), vec!["bob"]),
        (
            "blocked:false".into(),
            vec!["alice", "carol", "dave", "erin", "frank", "grace"],
        ),
        ("email_verified:true".into(), vec!["alice"]),
        ("logins_count:0".into(), EVERYONE.to_vec()),
        ("logins_count:[1 TO *]".into(), vec![]),
        // Metadata: case-sensitive values, paths into objects and arrays of objects.
        ("app_metadata.plan:gold".into(), vec!["alice", "carol"]),
        (r#"app_metadata.plan:"Gold""#.into(), vec!["dave"]),
        ("app_metadata.roles:admin".into(), vec!["alice"]),
        ("app_metadata.subscription.tier:pro".into(), vec!["alice"]),
        ("user_metadata.addresses.city:Lyon".into(), vec!["alice"]),
        ("user_metadata.city:Paris".into(), vec!["alice"]),
        ("app_metadata.seats:10".into(), vec!["alice"]),
        // Extension: ranges and wildcards on metadata.
        (
            "app_metadata.seats:[5 TO 30]".into(),
            vec!["alice", "carol"],
        ),
        ("app_metadata.seats:{10 TO *]".into(), vec!["carol"]),
        ("app_metadata.plan:gol*".into(), vec!["alice", "carol"]),
        // Existence.
        (
            "_exists_:app_metadata.plan".into(),
            vec!["alice", "bob", "carol", "dave"],
        ),
        ("_exists_:app_metadata.subscription".into(), vec!["alice"]),
        (
            "NOT _exists_:app_metadata.plan".into(),
            vec!["erin", "frank", "grace"],
        ),
        ("_exists_:phone_number".into(), vec!["erin"]),
        ("_exists_:last_login".into(), vec![]),
        // Boolean operators, precedence and the default operator (OR).
        (
            "app_metadata.plan:gold AND family_name:smith".into(),
            vec!["alice"],
        ),
        (
            "app_metadata.plan:gold OR blocked:true".into(),
            vec!["alice", "bob", "carol"],
        ),
        (
            "(app_metadata.plan:gold OR blocked:true) AND NOT email.domain:example.org".into(),
            vec!["alice", "bob"],
        ),
        (
            "blocked:true OR app_metadata.plan:gold AND family_name:smith".into(),
            vec!["alice", "bob"],
        ),
        (r#"name:"Bob Jones" name:Erin"#.into(), vec!["bob", "erin"]),
        (
            "-family_name:smith* AND email.domain:acme.com".into(),
            vec!["bob", "grace"],
        ),
        (
            "family_name:(smith OR jones)".into(),
            vec!["alice", "bob", "frank"],
        ),
        // Free terms match the normalized fields, never metadata.
        ("bob@acme.com".into(), vec!["bob"]),
        (r#""Alice Smith""#.into(), vec!["alice"]),
        ("frank*".into(), vec!["frank"]),
        ("Paris".into(), vec![]),
        // Dates: full instants, inclusive and exclusive, and whole periods.
        (
            format!("created_at:[{} TO {}]", created(0), created(2)),
            vec!["alice", "bob", "carol"],
        ),
        (
            format!("created_at:{{{} TO {}}}", created(0), created(2)),
            vec!["bob"],
        ),
        (
            format!("created_at:[{} TO *]", created(5)),
            vec!["frank", "grace"],
        ),
        ("created_at:[2000-01-01 TO 2001-01-01]".into(), vec![]),
        ("updated_at:[* TO 2999]".into(), EVERYONE.to_vec()),
        (
            format!("created_at:{}", &created(0)[..10]),
            EVERYONE.to_vec(),
        ),
    ];
    for (q, expected) in cases {
        let r = search(&mut s, &q).await;
        assert_eq!(emails(r.assert_status(200)), set(&expected), "q={q}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_are_400s_and_injection_finds_nothing() {
    let mut s = TestServer::start_with_manual_clock().await;
    population(&mut s).await;
    for q in [
        "nosuch:x",
        "blocked:maybe",
        "logins_count:abc",
        "created_at:[x TO y]",
        "(name:a",
        "email:*sa",
        "name:jo?n",
        "name:",
        "\"unterminated",
        "AND",
        "app_metadata.:x",
        "blocked:[true TO false]",
        "email:x'); DROP TABLE users;--",
    ] {
        let r = search(&mut s, q).await;
        assert_eq!(r.status.as_u16(), 400, "{q}: {}", r.body);
        let msg = r.assert_error(400, "invalid_query_string");
        assert!(msg.contains("position"), "{q}: {msg}");
    }
    for q in [
        r#"name:"' OR 1=1 --""#,
        r#"app_metadata.plan:"gold' OR '1'='1""#,
        r#"email:"\"; DELETE FROM users; --""#,
        "user_id:%25*",
    ] {
        let r = search(&mut s, q).await;
        assert_eq!(r.assert_status(200), &json!([]), "{q}");
    }
    let all = search(&mut s, "user_id:auth0*").await;
    assert_eq!(emails(&all.body).len(), 7, "nothing was dropped or deleted");
    s.get("/api/v2/users?q=name:x&search_engine=v2")
        .await
        .assert_error(400, "operation_not_supported");
}

#[tokio::test(flavor = "multi_thread")]
async fn sort_page_totals_fields_and_connection_combine_with_q() {
    let mut s = TestServer::start_with_manual_clock().await;
    population(&mut s).await;
    let q = enc("email.domain:acme.com");
    let r = s
        .get(&format!(
            "/api/v2/users?q={q}&sort=email:1&per_page=2&page=1&include_totals=true&fields=email"
        ))
        .await;
    let b = r.assert_status(200);
    assert_eq!(
        (
            b["start"].clone(),
            b["limit"].clone(),
            b["length"].clone(),
            b["total"].clone()
        ),
        (json!(2), json!(2), json!(2), json!(4))
    );
    assert_eq!(
        b["users"],
        json!([{"email": "frank@acme.com"}, {"email": "grace@acme.com"}])
    );
    let r = s
        .get(&format!("/api/v2/users?q={q}&sort=email:-1&per_page=1"))
        .await;
    assert_eq!(r.assert_status(200)[0]["email"], "grace@acme.com");
    let r = s
        .get(&format!("/api/v2/users?q={q}&connection=with-usernames"))
        .await;
    assert_eq!(emails(r.assert_status(200)), set(&["grace"]));
    // No 1000-result window: any page can be asked for.
    let r = s
        .get(&format!(
            "/api/v2/users?q={q}&per_page=100&page=50&include_totals=true"
        ))
        .await;
    assert_eq!(r.assert_status(200)["total"], 4);
    assert_eq!(r.body["users"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn results_reflect_every_committed_write() {
    let mut s = TestServer::start_with_manual_clock().await;
    population(&mut s).await;
    let u = s
        .create_user("new@acme.com", json!({"app_metadata": {"plan": "bronze"}}))
        .await;
    assert_eq!(
        emails(&search(&mut s, "app_metadata.plan:bronze").await.body),
        set(&["new"])
    );
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    s.patch(
        &path,
        json!({"app_metadata": {"plan": "platinum"}, "family_name": "Newman"}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        emails(&search(&mut s, "app_metadata.plan:bronze").await.body),
        set(&[])
    );
    assert_eq!(
        emails(
            &search(&mut s, "app_metadata.plan:platinum AND family_name:newman")
                .await
                .body
        ),
        set(&["new"])
    );
    s.delete(&path).await;
    assert_eq!(
        emails(&search(&mut s, "app_metadata.plan:platinum").await.body),
        set(&[])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoint_paging_walks_the_whole_result_set() {
    let mut s = TestServer::start_with_manual_clock().await;
    population(&mut s).await;
    let q = enc("user_id:auth0*");
    let mut seen: Vec<String> = vec![];
    let mut from = String::new();
    loop {
        let r = s
            .get(&format!("/api/v2/users?q={q}&take=3&from={}", enc(&from)))
            .await;
        let page = r.assert_status(200).as_array().unwrap().clone();
        for u in &page {
            seen.push(u["user_id"].as_str().unwrap().to_string());
        }
        if page.len() < 3 {
            break;
        }
        from = seen.last().unwrap().clone();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in user_id order, no repeats");
    assert_eq!(seen.len(), 7);
    s.get("/api/v2/users?take=101")
        .await
        .assert_error(400, "invalid_query_string");
}

#[tokio::test(flavor = "multi_thread")]
async fn totals_are_exact_up_to_a_thousand_and_a_header_marks_a_capped_one() {
    let mut s = TestServer::start().await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let rows: Vec<Value> = (0..1_050)
        .map(|i| {
            json!({"email": format!("lecteur{i:04}@bücher.example").replace('ü', "u"),
                   "name": format!("Zoë {i} 山田"),
                   "app_metadata": {"plan": if i % 10 == 0 { "gold" } else { "free" }}})
        })
        .collect();
    let r = s
        .upload_import(
            serde_json::to_vec(&rows).unwrap(),
            &[("connection_id", &conn)],
        )
        .await;
    let id = r.assert_status(202)["id"].as_str().unwrap().to_string();
    let job = s.wait_job(&id).await;
    assert_eq!(job["summary"]["inserted"], 1_050, "{job}");
    let page = |q: &str, page: u32| {
        format!(
            "/api/v2/users?q={}&per_page=100&page={page}&include_totals=true",
            enc(q)
        )
    };
    // More than 1,000 match: `total` stops at the bound, and the header says so.
    let r = s.get(&page("email:lecteur*", 0)).await;
    assert_eq!(r.assert_status(200)["total"], 1_000);
    assert_eq!(r.body["users"].as_array().unwrap().len(), 100);
    assert_eq!(r.headers.get("x-total-capped").unwrap(), "true");
    // A page past the bound: counted to the end of that page, here every match.
    let r = s.get(&page("email:lecteur*", 10)).await;
    assert_eq!(r.assert_status(200)["total"], 1_050);
    assert_eq!(r.body["users"].as_array().unwrap().len(), 50);
    assert!(r.headers.get("x-total-capped").is_none());
    // Fewer than the bound: exact, no header.
    let r = s.get(&page("app_metadata.plan:gold", 0)).await;
    assert_eq!(r.assert_status(200)["total"], 105);
    assert!(r.headers.get("x-total-capped").is_none());
}
