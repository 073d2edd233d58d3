//! Role-based access control: `/api/v2/roles`, a user's roles and permissions, groups with
//! nesting and mappings, with Auth0's status codes and bodies; and what reaches tokens
//! (RBAC on and off, both dialects, the RFC 9068 profile, the tenant's namespaced claims,
//! `app_metadata.authorization`), each token's signature verified against the JWKS.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, enc};
use gatehouse_crypto::keys::PublicKey;
use reqwest::Method;
use serde_json::{Value, json};

const API: &str = "https://api.rbac.example";
const PASSWORD: &str = "Sup3r-secret!";
const REALM: &str = "Username-Password-Authentication";

/// Claims of a token whose signature verifies against the published key, and its header.
async fn verified(s: &TestServer, token: &str) -> (Value, Value) {
    let jwks = s
        .raw(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let keys: Vec<PublicKey> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .map(|k| PublicKey {
            kid: k["kid"].as_str().unwrap().into(),
            n: URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap(),
            e: URL_SAFE_NO_PAD.decode(k["e"].as_str().unwrap()).unwrap(),
        })
        .collect();
    assert!(
        gatehouse_crypto::jwt::verify(token, keys.iter()).is_ok(),
        "signature"
    );
    let part = |i: usize| -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    (part(0), part(1))
}

async fn send(
    s: &mut TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> common::Response {
    let token = s.token().await;
    s.raw(method, path, Some(&token), body).await
}

async fn role(s: &mut TestServer, name: &str) -> String {
    let r = s
        .post(
            "/api/v2/roles",
            json!({"name": name, "description": format!("{name} role")}),
        )
        .await;
    r.assert_status(200)["id"].as_str().unwrap().to_string()
}

async fn api_with_scopes(s: &mut TestServer, scopes: &[&str], extra: Value) -> Value {
    let mut body = json!({
        "identifier": API, "name": "Patients API",
        "scopes": scopes.iter().map(|v| json!({"value": v, "description": format!("Can {v}")})).collect::<Vec<_>>(),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.post("/api/v2/resource-servers", body)
        .await
        .assert_status(201)
        .clone()
}

fn perms(list: &[&str]) -> Value {
    json!({"permissions": list.iter().map(|p| json!({"resource_server_identifier": API, "permission_name": p})).collect::<Vec<_>>()})
}

async fn password_app(s: &mut TestServer) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Clinic app", "app_type": "regular_web",
                   "grant_types": ["http://auth0.com/oauth/grant-type/password-realm", "refresh_token"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    (
        c["client_id"].as_str().unwrap().into(),
        c["client_secret"].as_str().unwrap().into(),
    )
}

async fn login(s: &TestServer, app: &(String, String), email: &str, scope: &str) -> Value {
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "realm": REALM,
                "client_id": app.0, "client_secret": app.1, "username": email, "password": PASSWORD,
                "scope": scope, "audience": API})),
        )
        .await;
    r.assert_status(200).clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_are_managed_with_auth0s_answers() {
    let mut s = TestServer::start().await;
    let editor = role(&mut s, "Rédacteur").await;
    assert!(editor.starts_with("rol_") && editor.len() == 20, "{editor}");
    assert!(editor[4..].chars().all(|c| c.is_ascii_alphanumeric()));
    for name in ["Viewer", "Admin", "Support Agent"] {
        role(&mut s, name).await;
    }

    // Duplicates, bad bodies and unknown ids; none of them changes anything.
    let dup = s.post("/api/v2/roles", json!({"name": "Viewer"})).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["message"], "The role already exists.");
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": 7}),
        json!({"name": "X", "permissions": []}),
        json!({"name": "x".repeat(256)}),
    ] {
        s.post("/api/v2/roles", bad.clone())
            .await
            .assert_error(400, "invalid_body");
    }
    let list = s.get("/api/v2/roles?include_totals=true&per_page=2").await;
    let list = list.assert_status(200);
    assert_eq!(list["total"], 4);
    assert_eq!(list["roles"].as_array().unwrap().len(), 2);
    assert_eq!(list["roles"][0]["name"], "Admin", "listed by name");
    let page2 = s.get("/api/v2/roles?page=1&per_page=2").await;
    assert_eq!(page2.assert_status(200).as_array().unwrap().len(), 2);
    // name_filter is a case-insensitive substring, Unicode included.
    let found = s
        .get(&format!("/api/v2/roles?name_filter={}", enc("RÉDAC")))
        .await;
    let found = found.assert_status(200);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], editor.as_str());
    assert_eq!(found[0]["description"], "Rédacteur role");

    let missing = s.get("/api/v2/roles/rol_doesnotexist0000").await;
    assert_eq!(
        missing.assert_error(404, "inexistent_role"),
        "Role not found."
    );
    let patched = s
        .patch(
            &format!("/api/v2/roles/{editor}"),
            json!({"description": "Writes articles"}),
        )
        .await;
    assert_eq!(patched.assert_status(200)["name"], "Rédacteur");
    assert_eq!(patched.body["description"], "Writes articles");
    s.patch(&format!("/api/v2/roles/{editor}"), json!({"name": "Admin"}))
        .await
        .assert_status(409);
    s.patch(&format!("/api/v2/roles/{editor}"), json!({}))
        .await
        .assert_error(400, "invalid_body");
    s.get("/api/v2/roles?per_page=101")
        .await
        .assert_error(400, "invalid_query_string");

    // Scopes: reading is not writing.
    let reader = s.token_with_scope(Some("read:roles")).await;
    s.raw(
        Method::POST,
        "/api/v2/roles",
        Some(&reader),
        Some(json!({"name": "Nope"})),
    )
    .await
    .assert_error(403, "insufficient_scope");
    assert_eq!(
        s.raw(
            Method::GET,
            &format!("/api/v2/roles/{editor}"),
            Some(&reader),
            None
        )
        .await
        .status,
        200
    );

    // Deleting answers 200 (Auth0's code for this route), then the role is gone.
    let del = send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/roles/{editor}"),
        None,
    )
    .await;
    assert_eq!(del.status, 200);
    s.get(&format!("/api/v2/roles/{editor}"))
        .await
        .assert_error(404, "inexistent_role");
    send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/roles/{editor}"),
        None,
    )
    .await
    .assert_error(404, "inexistent_role");
    let total = s.get("/api/v2/roles?include_totals=true").await;
    assert_eq!(total.assert_status(200)["total"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn permissions_come_direct_and_from_roles_with_their_sources() {
    let mut s = TestServer::start().await;
    api_with_scopes(
        &mut s,
        &["read:patients", "write:patients", "read:admin"],
        json!({}),
    )
    .await;
    let nurse = role(&mut s, "Nurse").await;
    let doctor = role(&mut s, "Doctor").await;

    let r = send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{nurse}/permissions"),
        Some(perms(&["read:patients"])),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{doctor}/permissions"),
        Some(perms(&["read:patients", "write:patients"])),
    )
    .await;
    assert_eq!(r.status, 201);
    let listed = s
        .get(&format!(
            "/api/v2/roles/{doctor}/permissions?include_totals=true"
        ))
        .await;
    let listed = listed.assert_status(200);
    assert_eq!(listed["total"], 2);
    assert_eq!(
        listed["permissions"][0],
        json!({"resource_server_identifier": API, "permission_name": "read:patients",
               "resource_server_name": "Patients API", "description": "Can read:patients"})
    );

    // Unknown API, undefined scope, unknown role, extra keys: refused, nothing added.
    let other = json!({"permissions": [{"resource_server_identifier": "https://nowhere.example", "permission_name": "x"}]});
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{nurse}/permissions"),
        Some(other),
    )
    .await
    .assert_error(404, "inexistent_resource_server");
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{nurse}/permissions"),
        Some(perms(&["read:patients", "fly:planes"])),
    )
    .await
    .assert_status(400);
    let gone = send(
        &mut s,
        Method::POST,
        "/api/v2/roles/rol_0000000000000000/permissions",
        Some(perms(&["read:patients"])),
    )
    .await;
    assert_eq!(
        gone.assert_error(404, "inexistent_role"),
        "The role does not exist."
    );
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{nurse}/permissions"),
        Some(json!({"permissions": []})),
    )
    .await
    .assert_error(400, "invalid_body");
    let after = s.get(&format!("/api/v2/roles/{nurse}/permissions")).await;
    assert_eq!(after.assert_status(200).as_array().unwrap().len(), 1);

    // A user: roles (204), a direct permission (201), the union with sources.
    let u = s
        .create_user("ana.lima@example.org", json!({"name": "Ana Lima"}))
        .await;
    let uid = u["user_id"].as_str().unwrap().to_string();
    let path = format!("/api/v2/users/{}", enc(&uid));
    let r = send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": [nurse, doctor]})),
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = send(
        &mut s,
        Method::POST,
        &format!("{path}/permissions"),
        Some(perms(&["read:admin", "read:patients"])),
    )
    .await;
    assert_eq!(r.status, 201);
    let roles = s.get(&format!("{path}/roles?include_totals=true")).await;
    assert_eq!(roles.assert_status(200)["total"], 2);
    let held = s.get(&format!("{path}/permissions")).await;
    let held = held.assert_status(200).as_array().unwrap().clone();
    let by_name = |n: &str| {
        held.iter()
            .find(|p| p["permission_name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(held.len(), 3, "{held:?}");
    let read = by_name("read:patients");
    let mut kinds: Vec<(String, String)> = read["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source_type"].as_str().unwrap().into(),
                s["source_name"].as_str().unwrap().into(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("DIRECT".into(), "".into()),
            ("ROLE".into(), "Doctor".into()),
            ("ROLE".into(), "Nurse".into())
        ]
    );
    assert_eq!(
        by_name("write:patients")["sources"][0]["source_id"],
        doctor.as_str()
    );
    assert_eq!(by_name("read:admin")["sources"][0]["source_type"], "DIRECT");

    let r = send(
        &mut s,
        Method::DELETE,
        &format!("{path}/permissions"),
        Some(perms(&["read:admin"])),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = send(
        &mut s,
        Method::DELETE,
        &format!("{path}/roles"),
        Some(json!({"roles": [doctor]})),
    )
    .await;
    assert_eq!(r.status, 204);
    let held = s.get(&format!("{path}/permissions")).await;
    let names: Vec<&str> = held
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permission_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["read:patients"]);

    // Unknown users and roles.
    send(
        &mut s,
        Method::POST,
        "/api/v2/users/auth0%7Cnobody/roles",
        Some(json!({"roles": [nurse]})),
    )
    .await
    .assert_error(404, "inexistent_user");
    send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": ["rol_0000000000000000"]})),
    )
    .await
    .assert_error(404, "inexistent_role");
    s.get("/api/v2/users/auth0%7Cnobody/permissions")
        .await
        .assert_error(404, "inexistent_user");

    // Fifty roles per user: the 51st is refused and nothing of that call is kept.
    let mut many = Vec::new();
    for i in 0..49 {
        many.push(role(&mut s, &format!("Shift {i:02} ✓")).await);
    }
    let (first, rest) = many.split_at(48);
    send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": first})),
    )
    .await
    .assert_status(204);
    let extra = role(&mut s, "One too many").await;
    let over = send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": [rest[0], extra]})),
    )
    .await;
    over.assert_error(400, "too_many_roles");
    let count = s.get(&format!("{path}/roles?include_totals=true")).await;
    assert_eq!(count.assert_status(200)["total"], 49, "Nurse and 48 shifts");
    send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": [rest[0]]})),
    )
    .await
    .assert_status(204);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_roles_users_page_by_offset_and_by_checkpoint() {
    let mut s = TestServer::start().await;
    let agents = role(&mut s, "Agents").await;
    let mut ids = Vec::new();
    for i in 0..130 {
        let u = s
            .create_user(
                &format!("agent.{i}.zoë@example.net"),
                json!({"name": format!("Agent {i} Zoë")}),
            )
            .await;
        ids.push(u["user_id"].as_str().unwrap().to_string());
    }
    // Added in an order unrelated to their ids, in two calls (at most 100 per call).
    let mut shuffled = ids.clone();
    shuffled.reverse();
    shuffled.swap(3, 90);
    for chunk in shuffled.chunks(100) {
        let r = send(
            &mut s,
            Method::POST,
            &format!("/api/v2/roles/{agents}/users"),
            Some(json!({"users": chunk})),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    // One unknown user: 404, and the other one of that call is not added.
    let newcomer = s.create_user("late@example.net", json!({})).await;
    let r = send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{agents}/users"),
        Some(json!({"users": [newcomer["user_id"], "auth0|ghost"]})),
    )
    .await;
    assert_eq!(
        r.assert_error(404, "inexistent_user"),
        "One or more of the users do not exist."
    );

    let mut sorted = ids.clone();
    sorted.sort();
    let first = s
        .get(&format!(
            "/api/v2/roles/{agents}/users?include_totals=true&per_page=50&page=2"
        ))
        .await;
    let first = first.assert_status(200);
    assert_eq!(first["total"], 130);
    let page: Vec<&str> = first["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        sorted[100..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        first["users"][0]["picture"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(first["users"][0]["name"].as_str().unwrap().contains("Zoë"));

    // Checkpoints: follow `next` until it is absent; every member once, in order.
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let path = match &from {
            Some(f) => format!("/api/v2/roles/{agents}/users?take=40&from={}", enc(f)),
            None => format!("/api/v2/roles/{agents}/users?take=40"),
        };
        let r = s.get(&path).await;
        let body = r.assert_status(200).clone();
        for u in body["users"].as_array().unwrap() {
            seen.push(u["user_id"].as_str().unwrap().to_string());
        }
        match body.get("next") {
            Some(n) => from = Some(n.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(seen, sorted);
    // Auth0's v6 SDKs send include_totals with every checkpoint request: still checkpoints.
    let sdk_style = s
        .get(&format!(
            "/api/v2/roles/{agents}/users?include_totals=true&take=40"
        ))
        .await;
    let sdk_style = sdk_style.assert_status(200);
    assert_eq!(sdk_style["users"].as_array().unwrap().len(), 40);
    assert!(sdk_style["next"].is_string() && sdk_style.get("total").is_none());
    s.get(&format!("/api/v2/roles/{agents}/users?take=0"))
        .await
        .assert_error(400, "invalid_query_string");
    s.get(&format!("/api/v2/roles/{agents}/users?from=%%%"))
        .await
        .assert_status(400);

    // Reading members needs read:role_members, or read:users with read:roles.
    let narrow = s.token_with_scope(Some("read:roles")).await;
    s.raw(
        Method::GET,
        &format!("/api/v2/roles/{agents}/users"),
        Some(&narrow),
        None,
    )
    .await
    .assert_error(403, "insufficient_scope");
    let both = s.token_with_scope(Some("read:roles read:users")).await;
    assert_eq!(
        s.raw(
            Method::GET,
            &format!("/api/v2/roles/{agents}/users"),
            Some(&both),
            None
        )
        .await
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_role_or_a_permission_removes_it_everywhere() {
    let mut s = TestServer::start().await;
    api_with_scopes(&mut s, &["read:patients", "write:patients"], json!({})).await;
    let nurse = role(&mut s, "Nurse").await;
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{nurse}/permissions"),
        Some(perms(&["read:patients", "write:patients"])),
    )
    .await
    .assert_status(201);
    let u = s.create_user("bo.ek@example.org", json!({})).await;
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": [nurse]})),
    )
    .await
    .assert_status(204);
    send(
        &mut s,
        Method::POST,
        &format!("{path}/permissions"),
        Some(perms(&["write:patients"])),
    )
    .await
    .assert_status(201);

    // The API stops defining write:patients: no role and no user holds it any more.
    let rs = s
        .get(&format!("/api/v2/resource-servers/{}", enc(API)))
        .await;
    let rs_id = rs.assert_status(200)["id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"scopes": [{"value": "read:patients"}]}),
    )
    .await
    .assert_status(200);
    let role_perms = s.get(&format!("/api/v2/roles/{nurse}/permissions")).await;
    assert_eq!(role_perms.assert_status(200).as_array().unwrap().len(), 1);
    let held = s.get(&format!("{path}/permissions")).await;
    let held = held.assert_status(200).as_array().unwrap().clone();
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0]["sources"].as_array().unwrap().len(),
        1,
        "only the role's"
    );

    // The role is deleted: the user holds nothing.
    send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/roles/{nurse}"),
        None,
    )
    .await
    .assert_status(200);
    let roles = s.get(&format!("{path}/roles")).await;
    assert!(roles.assert_status(200).as_array().unwrap().is_empty());
    let held = s.get(&format!("{path}/permissions")).await;
    assert!(held.assert_status(200).as_array().unwrap().is_empty());
    assert_eq!(s.count_rows("role_permissions").await, 0);

    // Deleting the API takes its direct grants too.
    send(
        &mut s,
        Method::POST,
        &format!("{path}/permissions"),
        Some(perms(&["read:patients"])),
    )
    .await
    .assert_status(201);
    send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/resource-servers/{rs_id}"),
        None,
    )
    .await
    .assert_status(204);
    assert_eq!(s.count_rows("user_permissions").await, 0);

    // Deleting a user takes their roles.
    let other = role(&mut s, "Other").await;
    send(
        &mut s,
        Method::POST,
        &format!("{path}/roles"),
        Some(json!({"roles": [other]})),
    )
    .await
    .assert_status(204);
    send(&mut s, Method::DELETE, &path, None)
        .await
        .assert_status(204);
    assert_eq!(s.count_rows("user_roles").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_follow_rbac_and_the_token_dialect() {
    let mut s = TestServer::start().await;
    let api = api_with_scopes(
        &mut s,
        &["read:patients", "write:patients", "read:admin"],
        json!({"allow_offline_access": true}),
    )
    .await;
    let rs_id = api["id"].as_str().unwrap().to_string();
    assert_eq!(api["enforce_policies"], false);
    assert_eq!(api["token_dialect"], "access_token");
    let app = password_app(&mut s).await;
    let u = s
        .create_user("cleo@example.org", json!({"name": "Cléo"}))
        .await;
    let uid = u["user_id"].as_str().unwrap().to_string();
    let nurse = role(&mut s, "Nurse").await;
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{nurse}/permissions"),
        Some(perms(&["read:patients"])),
    )
    .await
    .assert_status(201);
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/users/{}/roles", enc(&uid)),
        Some(json!({"roles": [nurse]})),
    )
    .await
    .assert_status(204);
    let wanted = "openid profile read:patients write:patients read:admin unknown:scope";

    // RBAC off: every requested scope the API defines.
    let t = login(&s, &app, "cleo@example.org", wanted).await;
    let (header, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(header["typ"], "JWT");
    assert_eq!(
        at["scope"],
        "openid profile read:patients write:patients read:admin"
    );
    assert!(at.get("permissions").is_none());

    // RBAC on: the requested scopes the user holds; OIDC scopes stay.
    s.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"enforce_policies": true}),
    )
    .await
    .assert_status(200);
    let t = login(
        &s,
        &app,
        "cleo@example.org",
        &format!("{wanted} offline_access"),
    )
    .await;
    let (_, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(at["scope"], "openid profile read:patients");
    assert_eq!(t["scope"], "openid profile read:patients offline_access");
    assert!(at.get("permissions").is_none(), "not in the plain dialect");
    let refresh = t["refresh_token"].as_str().unwrap().to_string();

    // access_token_authz: `permissions` = all the user's permissions on this API.
    s.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"token_dialect": "access_token_authz"}),
    )
    .await
    .assert_status(200);
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/users/{}/permissions", enc(&uid)),
        Some(perms(&["read:admin"])),
    )
    .await
    .assert_status(201);
    let t = login(&s, &app, "cleo@example.org", "openid read:patients").await;
    let (_, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(at["scope"], "openid read:patients");
    assert_eq!(at["permissions"], json!(["read:admin", "read:patients"]));
    assert_eq!(at["azp"], app.0.as_str());

    // RFC 9068: at+jwt, client_id instead of azp, a jti.
    s.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"token_dialect": "rfc9068_profile_authz"}),
    )
    .await
    .assert_status(200);
    let t = login(&s, &app, "cleo@example.org", "openid read:patients").await;
    let (header, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(at["client_id"], app.0.as_str());
    assert!(at.get("azp").is_none() && at.get("gty").is_none());
    assert!(at["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(at["permissions"], json!(["read:admin", "read:patients"]));
    let (_, id) = verified(&s, t["id_token"].as_str().unwrap()).await;
    assert_eq!(id["sub"], uid.as_str());

    // The role is removed: the next token (a refresh here) changes.
    send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/users/{}/roles", enc(&uid)),
        Some(json!({"roles": [nurse]})),
    )
    .await
    .assert_status(204);
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "refresh_token", "client_id": app.0,
            "client_secret": app.1, "refresh_token": refresh})),
        )
        .await;
    let (_, at) = verified(&s, r.assert_status(200)["access_token"].as_str().unwrap()).await;
    assert_eq!(
        at["scope"], "openid profile",
        "read:patients went with the role"
    );
    assert_eq!(at["permissions"], json!(["read:admin"]));

    // Bad dialects change nothing.
    s.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"token_dialect": "jwt"}),
    )
    .await
    .assert_error(400, "invalid_body");
    s.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"enforce_policies": "yes"}),
    )
    .await
    .assert_error(400, "invalid_body");
    let rs = s.get(&format!("/api/v2/resource-servers/{rs_id}")).await;
    assert_eq!(
        rs.assert_status(200)["token_dialect"],
        "rfc9068_profile_authz"
    );

    // Machine tokens in the RFC 9068 dialect carry their granted scopes as permissions.
    let (m2m, m2m_secret) = s.app_with_grants(&["client_credentials"]).await;
    send(
        &mut s,
        Method::POST,
        "/api/v2/client-grants",
        Some(json!({"client_id": m2m, "audience": API, "scope": ["read:admin"]})),
    )
    .await
    .assert_status(201);
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": m2m,
            "client_secret": m2m_secret, "audience": API})),
        )
        .await;
    let (header, at) = verified(&s, r.assert_status(200)["access_token"].as_str().unwrap()).await;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(at["permissions"], json!(["read:admin"]));
    assert_eq!(at["client_id"], m2m.as_str());
    assert!(at.get("gty").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_nest_map_and_reach_tokens_and_app_metadata() {
    let mut s = TestServer::start().await;
    api_with_scopes(
        &mut s,
        &["read:reports", "approve:expenses"],
        json!({"enforce_policies": true}),
    )
    .await;
    let app = password_app(&mut s).await;
    let approver = role(&mut s, "Expense Approver").await;
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{approver}/permissions"),
        Some(perms(&["approve:expenses"])),
    )
    .await
    .assert_status(201);
    let reader = role(&mut s, "Report Reader").await;
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{reader}/permissions"),
        Some(perms(&["read:reports"])),
    )
    .await
    .assert_status(201);

    let group = |name: &str| json!({"name": name, "description": format!("{name} team")});
    let mut ids = std::collections::HashMap::new();
    for name in ["Company", "Finance", "Payables", "Sales"] {
        let r = s.post("/api/v2/groups", group(name)).await;
        let id = r.assert_status(201)["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("grp_"));
        ids.insert(name, id);
    }
    assert_eq!(s.post("/api/v2/groups", group("Finance")).await.status, 409);
    s.post("/api/v2/groups", json!({"description": "no name"}))
        .await
        .assert_error(400, "invalid_body");
    s.get("/api/v2/groups/grp_0000000000000000")
        .await
        .assert_error(404, "inexistent_group");

    // Company ⊃ Finance ⊃ Payables; a cycle is refused and changes nothing.
    let nest = |parent: &str, child: &str| {
        (
            format!("/api/v2/groups/{}/nested", ids[parent]),
            json!({"groups": [ids[child]]}),
        )
    };
    for (parent, child) in [("Company", "Finance"), ("Finance", "Payables")] {
        let (p, b) = nest(parent, child);
        send(&mut s, Method::POST, &p, Some(b))
            .await
            .assert_status(204);
    }
    for (parent, child) in [("Payables", "Company"), ("Payables", "Payables")] {
        let (p, b) = nest(parent, child);
        send(&mut s, Method::POST, &p, Some(b))
            .await
            .assert_error(400, "group_cycle");
    }
    let children = s
        .get(&format!("/api/v2/groups/{}/nested", ids["Company"]))
        .await;
    assert_eq!(children.assert_status(200)[0]["name"], "Finance");
    assert!(
        s.get(&format!("/api/v2/groups/{}/nested", ids["Payables"]))
            .await
            .assert_status(200)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Roles on groups: Company gives Report Reader, Finance gives Expense Approver.
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/roles", ids["Company"]),
        Some(json!({"roles": [reader]})),
    )
    .await
    .assert_status(204);
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/roles", ids["Finance"]),
        Some(json!({"roles": [approver]})),
    )
    .await
    .assert_status(204);
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/roles", ids["Finance"]),
        Some(json!({"roles": ["rol_0000000000000000"]})),
    )
    .await
    .assert_error(404, "inexistent_role");

    // A member of the innermost group holds what every ancestor gives.
    let u = s
        .create_user("ines.payables@example.org", json!({"name": "Inês"}))
        .await;
    let uid = u["user_id"].as_str().unwrap().to_string();
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/members", ids["Payables"]),
        Some(json!({"members": [uid]})),
    )
    .await
    .assert_status(204);
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/members", ids["Payables"]),
        Some(json!({"members": ["auth0|ghost"]})),
    )
    .await
    .assert_error(404, "inexistent_user");
    let members = s
        .get(&format!(
            "/api/v2/groups/{}/members?include_totals=true",
            ids["Payables"]
        ))
        .await;
    assert_eq!(members.assert_status(200)["total"], 1);
    let mine = s.get(&format!("/api/v2/users/{}/groups", enc(&uid))).await;
    assert_eq!(mine.assert_status(200)[0]["name"], "Payables");
    let t = login(
        &s,
        &app,
        "ines.payables@example.org",
        "openid read:reports approve:expenses",
    )
    .await;
    let (_, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(at["scope"], "openid read:reports approve:expenses");
    let held = s
        .get(&format!("/api/v2/users/{}/permissions", enc(&uid)))
        .await;
    assert_eq!(held.assert_status(200).as_array().unwrap().len(), 2);

    // A mapping: the connection's "Sales" group name (here: the name of a group the user is
    // in, as the Authorization Extension also maps) stands for the Sales group.
    let m = send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/mappings", ids["Sales"]),
        Some(json!({"mappings": [{"groupName": "Payables", "connectionName": REALM}]})),
    )
    .await;
    let mapping_id = m.assert_status(200)[0]["id"].as_str().unwrap().to_string();
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/groups/{}/mappings", ids["Sales"]),
        Some(json!({"mappings": [{"group_name": "X", "connection_name": "no-such-connection"}]})),
    )
    .await
    .assert_error(400, "inexistent_connection");

    // The tenant puts groups, roles and permissions in tokens and persists roles.
    s.patch("/api/v2/tenants/settings", json!({"authorization": {"groups_in_token": true, "roles_in_token": true,
        "permissions_in_token": true, "persist_roles": true, "claim_namespace": "https://clinic.example/"}}))
        .await
        .assert_status(200);
    s.patch(
        "/api/v2/tenants/settings",
        json!({"authorization": {"claim_namespace": "clinic"}}),
    )
    .await
    .assert_error(400, "invalid_body");
    let t = login(&s, &app, "ines.payables@example.org", "openid read:reports").await;
    let (_, id) = verified(&s, t["id_token"].as_str().unwrap()).await;
    let (_, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    for token in [&id, &at] {
        assert_eq!(
            token["https://clinic.example/groups"],
            json!(["Company", "Finance", "Payables", "Sales"])
        );
        assert_eq!(
            token["https://clinic.example/roles"],
            json!(["Expense Approver", "Report Reader"])
        );
        assert_eq!(
            token["https://clinic.example/permissions"],
            json!(["approve:expenses", "read:reports"])
        );
    }
    let stored = s.get(&format!("/api/v2/users/{}", enc(&uid))).await;
    assert_eq!(
        stored.assert_status(200)["app_metadata"]["authorization"],
        json!({"roles": ["Expense Approver", "Report Reader"]})
    );

    // Leaving Finance's subtree (Payables un-nested) takes its roles at the next login.
    send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/groups/{}/mappings", ids["Sales"]),
        Some(json!({"mappings": [mapping_id]})),
    )
    .await
    .assert_status(204);
    let (p, b) = nest("Finance", "Payables");
    send(&mut s, Method::DELETE, &p, Some(b))
        .await
        .assert_status(204);
    let t = login(
        &s,
        &app,
        "ines.payables@example.org",
        "openid read:reports approve:expenses",
    )
    .await;
    let (_, at) = verified(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(at["scope"], "openid");
    assert_eq!(at["https://clinic.example/groups"], json!(["Payables"]));
    let stored = s.get(&format!("/api/v2/users/{}", enc(&uid))).await;
    assert_eq!(
        stored.assert_status(200)["app_metadata"]["authorization"],
        json!({"roles": []})
    );

    // Deleting a group removes it from everything.
    send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/groups/{}", ids["Payables"]),
        None,
    )
    .await
    .assert_status(204);
    assert!(
        s.get(&format!("/api/v2/users/{}/groups", enc(&uid)))
            .await
            .assert_status(200)
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.count_rows("group_members").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_application_can_require_a_role_or_permission_to_log_in() {
    let mut s = TestServer::start().await;
    api_with_scopes(&mut s, &["use:console"], json!({})).await;
    let staff = role(&mut s, "Staff").await;
    const CALLBACK: &str = "https://console.example/callback";
    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": "Back office", "app_type": "regular_web", "callbacks": [CALLBACK],
                   "grant_types": ["authorization_code", "http://auth0.com/oauth/grant-type/password-realm"]}),
        )
        .await
        .assert_status(201)
        .clone();
    let app_id = app["client_id"].as_str().unwrap().to_string();
    let creds = (
        app_id.clone(),
        app["client_secret"].as_str().unwrap().to_string(),
    );

    // Requirements name roles that exist and permissions their API defines.
    for bad in [
        json!({"login_requires": {"roles": ["rol_0000000000000000"]}}),
        json!({"login_requires": {"permissions": [{"resource_server_identifier": API, "permission_name": "fly"}]}}),
        json!({"login_requires": {"groups": ["x"]}}),
        json!({"login_requires": "Staff"}),
    ] {
        let r = s
            .patch(&format!("/api/v2/clients/{app_id}"), bad.clone())
            .await;
        assert!(r.status == 400 || r.status == 404, "{bad}: {:?}", r.body);
    }
    let r = s
        .patch(
            &format!("/api/v2/clients/{app_id}"),
            json!({"login_requires": {"roles": [staff], "permissions": [{"resource_server_identifier": API, "permission_name": "use:console"}]}}),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["login_requires"]["roles"][0],
        staff.as_str()
    );

    let outsider = s.create_user("guest.visitor@example.org", json!({})).await;
    let insider = s.create_user("staff.member@example.org", json!({})).await;
    let by_permission = s.create_user("console.user@example.org", json!({})).await;
    send(
        &mut s,
        Method::POST,
        &format!(
            "/api/v2/users/{}/roles",
            enc(insider["user_id"].as_str().unwrap())
        ),
        Some(json!({"roles": [staff]})),
    )
    .await
    .assert_status(204);
    send(
        &mut s,
        Method::POST,
        &format!(
            "/api/v2/users/{}/permissions",
            enc(by_permission["user_id"].as_str().unwrap())
        ),
        Some(perms(&["use:console"])),
    )
    .await
    .assert_status(201);

    // Password grant: 403 access_denied for the outsider, tokens for the others.
    let grant = |email: &str| {
        json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "realm": REALM,
            "client_id": creds.0, "client_secret": creds.1, "username": email, "password": PASSWORD, "scope": "openid"})
    };
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(grant("guest.visitor@example.org")),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "access_denied");
    for ok in ["staff.member@example.org", "console.user@example.org"] {
        s.raw(Method::POST, "/oauth/token", None, Some(grant(ok)))
            .await
            .assert_status(200);
    }

    // Browser: the outsider logs in and is sent back with access_denied, no code.
    let authorize = format!(
        "/authorize?response_type=code&client_id={app_id}&redirect_uri={}&scope=openid&state=s-1",
        enc(CALLBACK)
    );
    let mut b = common::browser::Browser::new(&s.url);
    let page = b.visit(&authorize).await;
    let back = b
        .submit_login(&page, "guest.visitor@example.org", PASSWORD)
        .await;
    assert_eq!(
        back.callback_param("error").as_deref(),
        Some("access_denied"),
        "{back:?}"
    );
    assert!(back.callback_param("code").is_none());
    assert_eq!(back.callback_param("state").as_deref(), Some("s-1"));
    let mut b = common::browser::Browser::new(&s.url);
    let page = b.visit(&authorize).await;
    let back = b
        .submit_login(&page, "staff.member@example.org", PASSWORD)
        .await;
    assert!(back.callback_param("code").is_some(), "{back:?}");

    // The refusal is in the outsider's log.
    let logs = s
        .get(&format!(
            "/api/v2/users/{}/logs",
            enc(outsider["user_id"].as_str().unwrap())
        ))
        .await;
    let logs = logs.assert_status(200).as_array().unwrap().clone();
    assert!(
        logs.iter().any(|l| l["type"] == "f"
            && l["description"]
                .as_str()
                .unwrap_or("")
                .contains("not allowed")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_group_route_answers_as_documented() {
    let mut s = TestServer::start().await;
    let mut ids = Vec::new();
    for name in ["Équipe Nord", "Équipe Sud", "Support", "Sécurité"] {
        let r = s.post("/api/v2/groups", json!({"name": name})).await;
        ids.push(r.assert_status(201)["id"].as_str().unwrap().to_string());
    }
    let listed = s
        .get(&format!(
            "/api/v2/groups?name_filter={}&include_totals=true",
            enc("ÉQUIPE")
        ))
        .await;
    let listed = listed.assert_status(200);
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["groups"][0]["name"], "Équipe Nord");
    let page = s.get("/api/v2/groups?per_page=3&page=1").await;
    assert_eq!(page.assert_status(200).as_array().unwrap().len(), 1);
    let patched = s
        .patch(
            &format!("/api/v2/groups/{}", ids[2]),
            json!({"description": "Tier 1 and 2"}),
        )
        .await;
    assert_eq!(patched.assert_status(200)["description"], "Tier 1 and 2");
    assert_eq!(patched.body["name"], "Support");
    s.patch(
        &format!("/api/v2/groups/{}", ids[2]),
        json!({"name": "Sécurité"}),
    )
    .await
    .assert_status(409);
    s.patch("/api/v2/groups/grp_0000000000000000", json!({"name": "X"}))
        .await
        .assert_error(404, "inexistent_group");
    let got = s.get(&format!("/api/v2/groups/{}", ids[0])).await;
    assert_eq!(got.assert_status(200)["name"], "Équipe Nord");

    // Members: add, list (offset and checkpoint), remove.
    let mut users = Vec::new();
    for i in 0..7 {
        let u = s
            .create_user(&format!("membre.{i}.ñ@example.org"), json!({}))
            .await;
        users.push(u["user_id"].as_str().unwrap().to_string());
    }
    let members = format!("/api/v2/groups/{}/members", ids[0]);
    send(
        &mut s,
        Method::POST,
        &members,
        Some(json!({"members": users})),
    )
    .await
    .assert_status(204);
    let first = s.get(&format!("{members}?take=5")).await;
    let first = first.assert_status(200).clone();
    assert_eq!(first["users"].as_array().unwrap().len(), 5);
    let rest = s
        .get(&format!(
            "{members}?take=5&from={}",
            enc(first["next"].as_str().unwrap())
        ))
        .await;
    let rest = rest.assert_status(200);
    assert_eq!(rest["users"].as_array().unwrap().len(), 2);
    assert!(rest.get("next").is_none());
    send(
        &mut s,
        Method::DELETE,
        &members,
        Some(json!({"members": [users[0], users[1]]})),
    )
    .await
    .assert_status(204);
    let left = s.get(&format!("{members}?include_totals=true")).await;
    assert_eq!(left.assert_status(200)["total"], 5);
    send(&mut s, Method::POST, &members, Some(json!({"members": []})))
        .await
        .assert_error(400, "invalid_body");
    send(
        &mut s,
        Method::POST,
        &members,
        Some(json!({"users": [users[0]]})),
    )
    .await
    .assert_error(400, "invalid_body");

    // Roles: add, list, remove.
    let r = role(&mut s, "Agent").await;
    let roles = format!("/api/v2/groups/{}/roles", ids[0]);
    send(&mut s, Method::POST, &roles, Some(json!({"roles": [r]})))
        .await
        .assert_status(204);
    let listed = s.get(&roles).await;
    assert_eq!(listed.assert_status(200)[0]["id"], r.as_str());
    send(&mut s, Method::DELETE, &roles, Some(json!({"roles": [r]})))
        .await
        .assert_status(204);
    assert!(
        s.get(&roles)
            .await
            .assert_status(200)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Mappings: add (the extension's and Gatehouse's key names), list, remove.
    let mappings = format!("/api/v2/groups/{}/mappings", ids[0]);
    let added = send(
        &mut s,
        Method::POST,
        &mappings,
        Some(json!({"mappings": [
            {"connection_name": REALM, "group_name": "nord"},
            {"connectionName": REALM, "groupName": "north"},
        ]})),
    )
    .await;
    assert_eq!(added.assert_status(200).as_array().unwrap().len(), 2);
    let listed = s.get(&mappings).await;
    let listed = listed.assert_status(200).as_array().unwrap().clone();
    assert_eq!(listed[0]["group_name"], "nord");
    assert_eq!(listed[1]["connection_name"], REALM);
    send(
        &mut s,
        Method::DELETE,
        &mappings,
        Some(json!({"mappings": [listed[0]["id"]]})),
    )
    .await
    .assert_status(204);
    assert_eq!(
        s.get(&mappings)
            .await
            .assert_status(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    send(
        &mut s,
        Method::POST,
        &mappings,
        Some(json!({"mappings": [{"connection_name": REALM, "group_name": "x".repeat(51)}]})),
    )
    .await
    .assert_error(400, "invalid_body");

    // Role permissions can be taken away one by one (200, Auth0's code for this route).
    api_with_scopes(&mut s, &["read:tickets", "close:tickets"], json!({})).await;
    send(
        &mut s,
        Method::POST,
        &format!("/api/v2/roles/{r}/permissions"),
        Some(perms(&["read:tickets", "close:tickets"])),
    )
    .await
    .assert_status(201);
    let del = send(
        &mut s,
        Method::DELETE,
        &format!("/api/v2/roles/{r}/permissions"),
        Some(perms(&["close:tickets"])),
    )
    .await;
    assert_eq!(del.status, 200);
    let left = s.get(&format!("/api/v2/roles/{r}/permissions")).await;
    assert_eq!(
        left.assert_status(200)[0]["permission_name"],
        "read:tickets"
    );

    // Scopes: a token without the groups scopes is refused.
    let narrow = s.token_with_scope(Some("read:users")).await;
    s.raw(Method::GET, "/api/v2/groups", Some(&narrow), None)
        .await
        .assert_error(403, "insufficient_scope");
    s.raw(
        Method::POST,
        "/api/v2/groups",
        Some(&narrow),
        Some(json!({"name": "Nope"})),
    )
    .await
    .assert_error(403, "insufficient_scope");
}
