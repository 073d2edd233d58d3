//! Delegated administration in the dashboard (Auth0's Delegated Administration Extension
//! roles, with the tenant's `delegated_admin` setting in place of its hooks): a delegated
//! administrator sees, searches, changes and creates only the users their filter selects,
//! does only what their level allows, and every refusal is a 403 page and a `fapi` event
//! naming them. The filter fails closed: no filter, a missing value or a value crafted to
//! widen it shows nobody.

use crate::common;

use common::browser::{Browser, Page};
use common::{TestServer, enc};
use serde_json::{Value, json};

const ADMIN_EMAIL: &str = "root@example.com";
const PASSWORD: &str = "Sup3r-secret!";
const FILTER: &str = "app_metadata.department:{{admin.app_metadata.department}}";

async fn server() -> TestServer {
    TestServer::start_with(|cfg| {
        cfg.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        cfg.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await
}

/// The usual department setting: the filter, what the create form may set, the department
/// given to new users, and two memberships.
async fn configure(s: &mut TestServer) {
    s.patch(
        "/api/v2/tenants/settings",
        json!({"delegated_admin": {
            "filter": FILTER,
            "create_fields": ["email", "password", "connection", "user_metadata.phone"],
            "create_defaults": {"app_metadata": {"department": "{{admin.app_metadata.department}}"}},
            "memberships": ["{{admin.app_metadata.department}} managers", "Everyone"],
        }}),
    )
    .await
    .assert_status(200);
}

/// A user of `department` (no department when `None`), with extra `app_metadata`; its id.
async fn member(s: &mut TestServer, email: &str, department: Option<&str>, extra: Value) -> String {
    let mut app = extra.as_object().cloned().unwrap_or_default();
    if let Some(d) = department {
        app.insert("department".into(), json!(d));
    }
    let u = s
        .create_user(email, json!({"app_metadata": app, "email_verified": true}))
        .await;
    u["user_id"].as_str().unwrap().to_string()
}

/// Opens `/admin` and logs in on the hosted page; returns the first dashboard page.
async fn sign_in(b: &mut Browser, email: &str) -> Page {
    let login = b.visit("/admin").await;
    assert!(login.body.contains("action=\"/u/login\""), "{}", login.body);
    b.submit_login(&login, email, PASSWORD).await
}

fn csrf(page: &Page) -> String {
    page.input("_csrf").expect("the page has a CSRF token")
}

async fn user_json(s: &mut TestServer, id: &str) -> Value {
    s.get(&format!("/api/v2/users/{}", enc(id)))
        .await
        .assert_status(200)
        .clone()
}

/// The tenant's `fapi` events, newest first.
async fn refusals(s: &mut TestServer) -> Vec<Value> {
    s.get(&format!("/api/v2/logs?q={}&per_page=100", enc("type:fapi")))
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .clone()
}

fn assert_refused(page: &Page, what: &str) {
    assert_eq!(page.status, 403, "{what}: {}", page.body);
    assert!(page.body.contains("Not allowed"), "{what}: {}", page.body);
}

#[tokio::test]
async fn a_delegated_administrator_reaches_only_their_department() {
    let mut s = server().await;
    configure(&mut s).await;
    let anna = member(&mut s, "anna@sales.example", Some("Sales"), json!({})).await;
    let bert = member(&mut s, "bert@sales.example", Some("Sales"), json!({})).await;
    let erik = member(&mut s, "erik@eng.example", Some("Engineering"), json!({})).await;
    let boss = member(
        &mut s,
        "boss@sales.example",
        Some("Sales"),
        json!({"roles": ["Delegated Admin - User"]}),
    )
    .await;
    let root_in_sales = member(
        &mut s,
        "root2@sales.example",
        Some("Sales"),
        json!({"roles": ["admin"]}),
    )
    .await;

    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "boss@sales.example").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains("Delegated Admin - User"),
        "{}",
        home.body
    );
    // The list and a search show Sales only.
    assert!(home.body.contains("anna@sales.example") && home.body.contains("bert@sales.example"));
    assert!(!home.body.contains("erik@eng.example"), "{}", home.body);
    // Only the users area: no links to the other sections.
    for other in [
        "/admin/applications",
        "/admin/connections",
        "/admin/jobs",
        "/admin/logs",
        "/admin/delegated-admin",
        "/admin/actions",
    ] {
        assert!(!home.body.contains(&format!("href=\"{other}\"")), "{other}");
    }
    let search = b
        .get(&format!("/admin/users?q={}", enc("email:*.example")))
        .await;
    assert_eq!(search.status, 200);
    assert!(search.body.contains("4 users ·"), "{}", search.body);
    assert!(!search.body.contains("erik@"), "{}", search.body);
    let widened = b
        .get(&format!(
            "/admin/users?q={}",
            enc("app_metadata.department:Engineering OR email:erik@eng.example")
        ))
        .await;
    assert!(widened.body.contains("No users match."), "{}", widened.body);

    // Viewing: a Sales user's page; an Engineering user's page by its URL, and an id that
    // does not exist, are refused the same way.
    let page = b.get(&format!("/admin/users/{}", enc(&anna))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Save metadata"));
    assert!(
        !page.body.contains("Link identity"),
        "linking is full administrators' only"
    );
    assert_refused(
        &b.get(&format!("/admin/users/{}", enc(&erik))).await,
        "view erik",
    );
    assert_refused(&b.get("/admin/users/auth0%7Cnobody").await, "view a guess");
    assert_refused(
        &b.get(&format!("/admin/users/{}/delete", enc(&erik))).await,
        "confirm delete",
    );

    // Writing: metadata, block, password on Sales; nothing on Engineering.
    let token = csrf(&page);
    let saved = b
        .post_form(
            &format!("/admin/users/{}/metadata", enc(&anna)),
            &[
                ("_csrf", &token),
                ("user_metadata", r#"{"phone": "+4912345"}"#),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let a = user_json(&mut s, &anna).await;
    assert_eq!(a["user_metadata"], json!({"phone": "+4912345"}));
    assert_eq!(a["app_metadata"], json!({"department": "Sales"}));
    // app_metadata holds the roles and the department: never written by a delegate.
    let escalate = b
        .post_form(
            &format!("/admin/users/{}/metadata", enc(&anna)),
            &[
                ("_csrf", &token),
                ("user_metadata", "{}"),
                (
                    "app_metadata",
                    r#"{"department": "Sales", "roles": ["admin"]}"#,
                ),
            ],
        )
        .await;
    assert_refused(&escalate, "app_metadata");
    assert_eq!(
        user_json(&mut s, &anna).await["app_metadata"],
        json!({"department": "Sales"})
    );

    let blocked = b
        .post_form(
            &format!("/admin/users/{}/block", enc(&anna)),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(blocked.status, 303, "{}", blocked.body);
    assert_eq!(user_json(&mut s, &anna).await["blocked"], json!(true));
    for action in [
        "block",
        "password",
        "picture",
        "mark-verified",
        "send-reset",
        "send-verification",
        "lift-blocks",
        "delete",
        "metadata",
    ] {
        let r = b
            .post_form(
                &format!("/admin/users/{}/{action}", enc(&erik)),
                &[
                    ("_csrf", &token),
                    ("password", "An0ther-passw0rd!"),
                    ("user_metadata", "{\"x\":1}"),
                ],
            )
            .await;
        assert_refused(&r, action);
    }
    let e = user_json(&mut s, &erik).await;
    assert_eq!(e.get("blocked"), None);
    assert_eq!(e.get("user_metadata"), None);
    // Linking is never delegated, even within the department.
    let link = b
        .post_form(
            &format!("/admin/users/{}/link", enc(&anna)),
            &[
                ("_csrf", &token),
                ("provider", "auth0"),
                ("user_id", bert.trim_start_matches("auth0|")),
            ],
        )
        .await;
    assert_refused(&link, "link");

    // Accounts that can use the dashboard are read-only to a delegate: the delegate
    // themselves and a full administrator in the department.
    for id in [&boss, &root_in_sales] {
        let view = b.get(&format!("/admin/users/{}", enc(id))).await;
        assert_eq!(view.status, 200, "{}", view.body);
        assert!(!view.body.contains("Change password"), "{}", view.body);
        let r = b
            .post_form(
                &format!("/admin/users/{}/password", enc(id)),
                &[("_csrf", &token), ("password", "An0ther-passw0rd!")],
            )
            .await;
        assert_refused(&r, "password of a dashboard account");
        assert!(
            r.body.contains("can use the dashboard itself"),
            "{}",
            r.body
        );
    }

    // Deleting a Sales user works.
    let deleted = b
        .post_form(
            &format!("/admin/users/{}/delete", enc(&bert)),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    s.get(&format!("/api/v2/users/{}", enc(&bert)))
        .await
        .assert_status(404);

    // The other sections are refused, pages and forms alike.
    let (client, _) = s.app_with_grants(&[]).await;
    for path in [
        "/admin/applications",
        "/admin/connections",
        "/admin/jobs",
        "/admin/logs",
        "/admin/delegated-admin",
        "/admin/actions",
        "/admin/actions/triggers/post-login",
        "/admin/rules",
        &format!("/admin/applications/{client}"),
    ] {
        assert_refused(&b.get(path).await, path);
    }
    for path in [
        "/admin/applications",
        "/admin/jobs/export",
        "/admin/delegated-admin",
        "/admin/actions",
        "/admin/rules",
        "/admin/rules/configs",
    ] {
        let r = b
            .post_form(
                path,
                &[
                    ("_csrf", &token),
                    ("name", "x"),
                    ("delegated_admin", "{\"filter\": \"_exists_:user_id\"}"),
                ],
            )
            .await;
        assert_refused(&r, path);
    }
    let setting = s
        .get("/api/v2/tenants/settings")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(setting["delegated_admin"]["filter"], json!(FILTER));

    // Every refusal is a `fapi` event naming the delegate, the path and why.
    let events = refusals(&mut s).await;
    let erik_view = format!("Dashboard: GET /admin/users/{} refused.", enc(&erik));
    let found = events
        .iter()
        .find(|e| {
            e["description"]
                .as_str()
                .is_some_and(|d| d.starts_with(&erik_view))
        })
        .unwrap_or_else(|| panic!("{erik_view} in {events:?}"));
    assert_eq!(found["user_id"], json!(boss));
    assert_eq!(found["user_name"], json!("boss@sales.example"));
    assert_eq!(found["details"]["response"]["statusCode"], json!(403));
    assert_eq!(
        found["details"]["delegated_admin"],
        json!("Delegated Admin - User")
    );
    assert!(
        found["description"]
            .as_str()
            .unwrap()
            .contains("not among the users you administer")
    );
    let block_erik = format!("Dashboard: POST /admin/users/{}/block refused.", enc(&erik));
    assert!(
        events.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.starts_with(&block_erik))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Dashboard: GET /admin/applications refused."))),
        "{events:?}"
    );

    // Signing out is theirs too.
    let out = b.post_form("/admin/signout", &[("_csrf", &token)]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    let to = out.location.clone().unwrap_or_default();
    assert!(to.contains("/v2/logout"), "{to}");
    assert!(!b.cookies.contains_key("gh_admin"));
}

#[tokio::test]
async fn a_delegate_creates_users_only_inside_the_setting() {
    let mut s = server().await;
    configure(&mut s).await;
    member(
        &mut s,
        "boss@sales.example",
        Some("Sales"),
        json!({"roles": "Delegated Admin - User"}),
    )
    .await;
    let mut b = Browser::new(&s.url);
    sign_in(&mut b, "boss@sales.example").await;
    let form = b.get("/admin/users/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("name=\"user_metadata.phone\""),
        "{}",
        form.body
    );
    assert!(form.body.contains("Sales managers") && form.body.contains("Everyone"));
    assert!(
        !form.body.contains("name=\"email_verified\""),
        "only the allowed fields"
    );
    let token = csrf(&form);

    // The allowed fields, a membership: the user gets the department and the membership.
    let created = b
        .post_form(
            "/admin/users",
            &[
                ("_csrf", &token),
                ("email", "new@sales.example"),
                ("password", PASSWORD),
                ("connection", common::DB_CONNECTION),
                ("user_metadata.phone", "+4955"),
                ("membership_0", "Sales managers"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let u = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("new@sales.example")
        ))
        .await
        .assert_status(200)[0]
        .clone();
    assert_eq!(
        u["app_metadata"],
        json!({"department": "Sales", "memberships": ["Sales managers"]})
    );
    assert_eq!(u["user_metadata"], json!({"phone": "+4955"}));
    let page = b.follow(created).await;
    assert!(page.body.contains("User created."), "{}", page.body);

    // Anything else is refused, and nothing is created.
    for (field, value) in [
        ("username", "x"),
        ("app_metadata.department", "Engineering"),
        ("email_verified", "on"),
        ("membership_0", "Engineering managers"),
    ] {
        let r = b
            .post_form(
                "/admin/users",
                &[
                    ("_csrf", &token),
                    ("email", "other@sales.example"),
                    ("password", PASSWORD),
                    ("connection", common::DB_CONNECTION),
                    (field, value),
                ],
            )
            .await;
        assert_refused(&r, field);
    }
    let none = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("other@sales.example")
        ))
        .await;
    assert_eq!(none.assert_status(200), &json!([]));

    // A default that would put the user outside the filter: refused before it is stored.
    s.patch(
        "/api/v2/tenants/settings",
        json!({"delegated_admin": {
            "filter": FILTER,
            "create_fields": ["email", "password", "connection"],
            "create_defaults": {"app_metadata": {"department": "Elsewhere"}},
        }}),
    )
    .await
    .assert_status(200);
    let outside = b
        .post_form(
            "/admin/users",
            &[
                ("_csrf", &token),
                ("email", "out@sales.example"),
                ("password", PASSWORD),
                ("connection", common::DB_CONNECTION),
            ],
        )
        .await;
    assert_refused(&outside, "outside the filter");
    assert!(
        outside
            .body
            .contains("would not be among the users you administer"),
        "{}",
        outside.body
    );
    let none = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("out@sales.example")
        ))
        .await;
    assert_eq!(none.assert_status(200), &json!([]));

    // No create fields: no creating.
    s.patch(
        "/api/v2/tenants/settings",
        json!({"delegated_admin": {"filter": FILTER}}),
    )
    .await
    .assert_status(200);
    let list = b.get("/admin/users").await;
    assert!(!list.body.contains("Create user"), "{}", list.body);
    assert_refused(&b.get("/admin/users/new").await, "create form");
}

#[tokio::test]
async fn the_filter_fails_closed() {
    let mut s = server().await;
    member(&mut s, "anna@sales.example", Some("Sales"), json!({})).await;
    member(&mut s, "erik@eng.example", Some("Engineering"), json!({})).await;
    let carl = member(&mut s, "carl@sales.example", Some("Sales"), json!({})).await;
    member(
        &mut s,
        "nodept@example.com",
        None,
        json!({"roles": ["Delegated Admin - Auditor"]}),
    )
    .await;
    member(
        &mut s,
        "crafty@example.com",
        Some("Sales\" OR email:* OR app_metadata.department:\"Engineering"),
        json!({"roles": ["Delegated Admin - Auditor"]}),
    )
    .await;
    member(
        &mut s,
        "sales-auditor@example.com",
        Some("Sales"),
        json!({"roles": ["Delegated Admin - Auditor"]}),
    )
    .await;

    // No filter configured: nobody, and the page says why.
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "sales-auditor@example.com").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("You see no users"), "{}", home.body);
    assert!(
        home.body.contains("delegated_admin.filter"),
        "{}",
        home.body
    );
    assert!(home.body.contains("No users match."));
    assert!(!home.body.contains("anna@"));
    assert_refused(
        &b.get(&format!("/admin/users/{}", enc(&carl))).await,
        "no filter",
    );

    configure(&mut s).await;
    // A delegate without the value the filter needs: nobody.
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "nodept@example.com").await;
    assert!(home.body.contains("You see no users"), "{}", home.body);
    assert!(
        home.body.contains("{{admin.app_metadata.department}}"),
        "{}",
        home.body
    );
    assert!(
        !home.body.contains("anna@") && !home.body.contains("erik@"),
        "{}",
        home.body
    );

    // A value crafted to widen the filter is matched as text: only the one account with
    // that very department (the crafty administrator's own) is in reach.
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "crafty@example.com").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("1 user ·"), "{}", home.body);
    assert!(
        !home.body.contains("anna@") && !home.body.contains("erik@"),
        "{}",
        home.body
    );
    let search = b
        .get(&format!("/admin/users?q={}", enc("email:*.com")))
        .await;
    assert!(search.body.contains("1 user ·"), "{}", search.body);
    assert!(!search.body.contains("carl@"), "{}", search.body);

    // The Auditor of Sales sees Sales, read only.
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "sales-auditor@example.com").await;
    assert!(
        home.body.contains("anna@sales.example") && !home.body.contains("erik@"),
        "{}",
        home.body
    );
    assert!(!home.body.contains("Create user"));
    let page = b.get(&format!("/admin/users/{}", enc(&carl))).await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("Save metadata") && !page.body.contains(">Block<"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Your role lets you view users, not change them.")
    );
    let token = csrf(&page);
    let r = b
        .post_form(
            &format!("/admin/users/{}/block", enc(&carl)),
            &[("_csrf", &token)],
        )
        .await;
    assert_refused(&r, "auditor block");
    assert!(
        r.body.contains("does not include manage:users"),
        "{}",
        r.body
    );
    assert_eq!(user_json(&mut s, &carl).await.get("blocked"), None);
}

#[tokio::test]
async fn operators_read_logs_and_administrators_change_the_setting() {
    let mut s = server().await;
    configure(&mut s).await;
    let anna = member(&mut s, "anna@sales.example", Some("Sales"), json!({})).await;
    member(
        &mut s,
        "op@sales.example",
        Some("Sales"),
        json!({"authorization": {"roles": ["Delegated Admin - Operator"]}}),
    )
    .await;
    member(
        &mut s,
        "chief@sales.example",
        Some("Sales"),
        json!({"roles": ["Delegated Admin - Administrator"]}),
    )
    .await;

    // Operator: the logs, without the Management API's operations.
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "op@sales.example").await;
    assert!(home.body.contains("href=\"/admin/logs\""), "{}", home.body);
    assert!(!home.body.contains("href=\"/admin/delegated-admin\""));
    let logs = b.get("/admin/logs").await;
    assert_eq!(logs.status, 200, "{}", logs.body);
    assert!(
        logs.body.contains("<code>s</code>"),
        "the logins are there: {}",
        logs.body
    );
    assert!(!logs.body.contains("<code>sapi</code>"), "{}", logs.body);
    let sapi = b.get("/admin/logs?type=sapi").await;
    assert!(sapi.body.contains("0 events"), "{}", sapi.body);
    assert_refused(&b.get("/admin/delegated-admin").await, "operator settings");
    let user_page = b.get(&format!("/admin/users/{}", enc(&anna))).await;
    assert!(
        user_page.body.contains("All of this user&#39;s events")
            || user_page.body.contains("All of this user's events")
    );

    // Administrator: the setting, checked as the Management API checks it.
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, "chief@sales.example").await;
    assert!(
        home.body.contains("href=\"/admin/delegated-admin\""),
        "{}",
        home.body
    );
    let page = b.get("/admin/delegated-admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("This setting limits you too."));
    let token = csrf(&page);
    let bad = b
        .post_form(
            "/admin/delegated-admin",
            &[
                ("_csrf", &token),
                ("delegated_admin", r#"{"filter": "email:(a"}"#),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Not a valid v3 query"), "{}", bad.body);
    let roles = b
        .post_form(
            "/admin/delegated-admin",
            &[("_csrf", &token), ("delegated_admin", r#"{"filter": "_exists_:user_id", "create_fields": ["email"], "create_defaults": {"app_metadata": {"roles": ["admin"]}}}"#)],
        )
        .await;
    assert_eq!(roles.status, 400, "{}", roles.body);
    let good = b
        .post_form(
            "/admin/delegated-admin",
            &[("_csrf", &token), ("delegated_admin", r#"{"filter": "app_metadata.department:\"{{admin.app_metadata.department}}\" AND NOT blocked:true"}"#)],
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    let setting = s
        .get("/api/v2/tenants/settings")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(
        setting["delegated_admin"]["filter"],
        json!("app_metadata.department:\"{{admin.app_metadata.department}}\" AND NOT blocked:true")
    );
    // The logs page is theirs too; the other sections are not.
    assert_eq!(b.get("/admin/logs").await.status, 200);
    assert_refused(
        &b.get("/admin/connections").await,
        "administrator connections",
    );
}

#[tokio::test]
async fn full_administrators_keep_everything_and_roles_need_a_full_update() {
    let mut s = server().await;
    configure(&mut s).await;
    member(&mut s, "anna@sales.example", Some("Sales"), json!({})).await;
    let erik = member(&mut s, "erik@eng.example", Some("Engineering"), json!({})).await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    assert!(home.body.contains("<h1>Activity</h1>"), "{}", home.body);
    assert!(
        home.body.contains("href=\"/admin/jobs\"")
            && home.body.contains("href=\"/admin/delegated-admin\"")
    );
    let users = b.get("/admin/users").await;
    assert!(users.body.contains("anna@sales.example") && users.body.contains("erik@eng.example"));
    assert_eq!(
        b.get(&format!("/admin/users/{}", enc(&erik))).await.status,
        200
    );
    assert_eq!(b.get("/admin/delegated-admin").await.status, 200);

    // The Management API shows and checks the setting.
    let bad = s
        .patch(
            "/api/v2/tenants/settings",
            json!({"delegated_admin": {"filter": "name:{{admin.user_metadata.team}}"}}),
        )
        .await;
    assert!(
        bad.assert_error(400, "invalid_body")
            .contains("delegated_admin.filter")
    );
    s.patch("/api/v2/tenants/settings", json!({"delegated_admin": null}))
        .await
        .assert_status(200);
    let setting = s
        .get("/api/v2/tenants/settings")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(setting.get("delegated_admin"), None);

    // A token that may change only app_metadata cannot hand out dashboard access.
    let narrow = s.token_with_scope(Some("update:users_app_metadata")).await;
    for grant in [
        json!({"roles": ["Delegated Admin - User"]}),
        json!({"authorization": {"roles": ["Delegated Admin - User"]}}),
        json!({"permissions": ["read:users"]}),
    ] {
        let r = s
            .raw(
                reqwest::Method::PATCH,
                &format!("/api/v2/users/{}", enc(&erik)),
                Some(&narrow),
                Some(json!({ "app_metadata": grant })),
            )
            .await;
        assert_eq!(r.status.as_u16(), 403, "{grant}: {:?}", r.body);
    }
    s.patch(
        &format!("/api/v2/users/{}", enc(&erik)),
        json!({"app_metadata": {"team": "core"}}),
    )
    .await
    .assert_status(200);
}
