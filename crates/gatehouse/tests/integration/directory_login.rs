//! AD/LDAP connections against a real OpenLDAP (`common::slapd`): created through the
//! Management API (the bind password sealed, never read back), users logging in by password
//! grant and through the hosted login page, their nested groups on the profile and, through
//! group mappings, as `permissions` in the access token; wrong passwords counted by
//! brute-force protection, a locked account refused, and a directory that hangs or is gone
//! answered with a clear error in bounded time, nothing stored.

use crate::actions::verified;
use crate::common::slapd::{self, Group, Person, READER_DN, READER_PASSWORD, Slapd};
use crate::common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CONNECTION: &str = "corp-ldap";
const REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";
const API: &str = "https://reports.corp.example";

const PEOPLE: &[Person] = &[
    Person {
        uid: "åsa.lind",
        given: "Åsa",
        family: "Lind",
        mail: "asa.lind@corp.example",
        password: "Vinter-2026!",
        locked: false,
    },
    Person {
        uid: "bert",
        given: "Bert",
        family: "Öberg",
        mail: "bert@corp.example",
        password: "Sommar-2026!",
        locked: false,
    },
    Person {
        uid: "carl",
        given: "Carl",
        family: "Lås",
        mail: "carl@corp.example",
        password: "Höst-2026!",
        locked: true,
    },
    Person {
        uid: "dora",
        given: "Dora",
        family: "Ny",
        mail: "dora@corp.example",
        password: "Vår-2026!",
        locked: false,
    },
];

/// Sales is in Staff, Staff in All Hands: Åsa is in all three, Bert in Engineering and
/// (through it) Staff and All Hands.
const GROUPS: &[Group] = &[
    Group {
        name: "Sales",
        people: &["åsa.lind"],
        groups: &[],
    },
    Group {
        name: "Engineering",
        people: &["bert"],
        groups: &[],
    },
    Group {
        name: "Staff",
        people: &["dora"],
        groups: &["Sales", "Engineering"],
    },
    Group {
        name: "All Hands",
        people: &[],
        groups: &["Staff"],
    },
];

fn options(url: &str) -> Value {
    json!({
        "directory_type": "ldap",
        "ldap_url": url,
        "base_dn": format!("ou=people,{}", slapd::SUFFIX),
        "groups_base_dn": format!("ou=groups,{}", slapd::SUFFIX),
        "bind_dn": READER_DN,
        "bind_password": READER_PASSWORD,
        "timeout_ms": 700,
    })
}

async fn realm_login(
    s: &TestServer,
    app: &(String, String),
    user: &str,
    password: &str,
    extra: Value,
) -> crate::common::Response {
    let mut body = json!({"grant_type": REALM_GRANT, "client_id": app.0, "client_secret": app.1,
        "username": user, "password": password, "realm": CONNECTION, "scope": "openid profile email"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.raw(Method::POST, "/oauth/token", None, Some(body)).await
}

/// An OAuth error answer from the token endpoint: its status and `error`; its description.
trait GrantRefusal {
    fn refused_with(&self, status: u16, error: &str) -> String;
}

impl GrantRefusal for crate::common::Response {
    fn refused_with(&self, status: u16, error: &str) -> String {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.body["error"], json!(error), "{:?}", self.body);
        self.body["error_description"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// Logs of a type for the connection, newest first.
async fn logs_of(s: &mut TestServer, kind: &str) -> Vec<Value> {
    s.get(&format!("/api/v2/logs?q={}", enc(&format!("type:{kind}"))))
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_users_log_in_with_their_nested_groups_as_permissions() {
    let Some(bin) = slapd::binary() else { return };
    let mut dir = Slapd::start(&bin, PEOPLE, GROUPS, 40).await;
    let mut s = TestServer::start().await;

    // Options that would send passwords in clear, or lack the base, are refused.
    for bad in [
        json!({"ldap_url": "ldap://ldap.corp.example", "base_dn": "dc=corp"}),
        json!({"ldap_url": dir.url}),
        json!({"ldap_url": dir.url, "base_dn": "dc=corp", "user_filter": "(uid=admin)"}),
    ] {
        let r = s
            .post(
                "/api/v2/connections",
                json!({"name": "bad-ldap", "strategy": "ad", "options": bad}),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    let app = {
        let c = s
            .post(
                "/api/v2/clients",
                json!({"name": "Intranet", "app_type": "regular_web", "callbacks": ["https://intranet.corp.example/cb"],
                       "grant_types": [REALM_GRANT, "authorization_code"]}),
            )
            .await
            .assert_status(201)
            .clone();
        (
            c["client_id"].as_str().unwrap().to_string(),
            c["client_secret"].as_str().unwrap().to_string(),
        )
    };
    let created = s
        .post(
            "/api/v2/connections",
            json!({"name": CONNECTION, "strategy": "ad", "options": options(&dir.url), "enabled_clients": [app.0]}),
        )
        .await;
    let conn = created.assert_status(201).clone();
    assert_eq!(conn["strategy"], json!("ad"));
    assert!(conn["options"].get("bind_password").is_none(), "{conn}");
    assert!(!conn.to_string().contains(READER_PASSWORD));

    // Groups map to roles: the directory's "All Hands" (reached through two levels of
    // nesting) gives Report Reader on the API.
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": API, "name": "Reports", "enforce_policies": true, "token_dialect": "access_token_authz",
               "scopes": [{"value": "read:reports", "description": "Read reports"}, {"value": "approve:expenses", "description": "Approve"}]}),
    )
    .await
    .assert_status(201);
    let token = s.token().await;
    let role = s
        .post(
            "/api/v2/roles",
            json!({"name": "Report Reader", "description": "reads"}),
        )
        .await
        .assert_status(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.raw(
        Method::POST,
        &format!("/api/v2/roles/{role}/permissions"),
        Some(&token),
        Some(json!({"permissions": [{"resource_server_identifier": API, "permission_name": "read:reports"}]})),
    )
    .await
    .assert_status(201);
    let group = s
        .post(
            "/api/v2/groups",
            json!({"name": "Everyone", "description": "all staff"}),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.raw(
        Method::POST,
        &format!("/api/v2/groups/{group}/roles"),
        Some(&token),
        Some(json!({"roles": [role]})),
    )
    .await
    .assert_status(204);
    s.raw(
        Method::POST,
        &format!("/api/v2/groups/{group}/mappings"),
        Some(&token),
        Some(json!({"mappings": [{"groupName": "All Hands", "connectionName": CONNECTION}]})),
    )
    .await
    .assert_status(200);

    // Åsa logs in by her uid: an `ad|corp-ldap|…` user with her groups, nested ones too.
    let r = realm_login(
        &s,
        &app,
        "åsa.lind",
        "Vinter-2026!",
        json!({"audience": API, "scope": "openid profile email read:reports"}),
    )
    .await;
    let tokens = r.assert_status(200).clone();
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    let user_id = "ad|corp-ldap|åsa.lind";
    assert_eq!(id["sub"], json!(user_id));
    assert_eq!(id["name"], json!("Åsa Lind"));
    assert_eq!(id["email"], json!("asa.lind@corp.example"));
    let at = verified(&s, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(at["permissions"], json!(["read:reports"]), "{at}");
    let u = s
        .get(&format!("/api/v2/users/{}", enc(user_id)))
        .await
        .assert_status(200)
        .clone();
    let mut groups: Vec<String> = serde_json::from_value(u["groups"].clone()).unwrap();
    groups.sort();
    assert_eq!(groups, ["All Hands", "Sales", "Staff"]);
    assert_eq!(u["identities"][0]["provider"], json!("ad"));
    assert_eq!(u["identities"][0]["user_id"], json!("corp-ldap|åsa.lind"));
    assert_eq!(u["identities"][0]["isSocial"], json!(false));
    assert_eq!(u["dn"], json!(slapd::person_dn("åsa.lind")));
    // A directory user's password is the directory's.
    s.patch(
        &format!("/api/v2/users/{}", enc(user_id)),
        json!({"password": "N3w-passw0rd!"}),
    )
    .await
    .assert_status(400);

    // By email too (the default LDAP filter); a filter-breaking username finds nobody.
    realm_login(&s, &app, "bert@corp.example", "Sommar-2026!", json!({}))
        .await
        .assert_status(200);
    let r = realm_login(&s, &app, "*)(uid=*", "Sommar-2026!", json!({})).await;
    r.refused_with(403, "invalid_grant");

    // A wrong password: `fp` for the directory's user; ten of them block that user from
    // this address, even with the right password.
    let r = realm_login(&s, &app, "bert", "wrong", json!({})).await;
    r.refused_with(403, "invalid_grant");
    let fp = logs_of(&mut s, "fp").await;
    assert_eq!(fp[0]["user_id"], json!("ad|corp-ldap|bert"), "{fp:?}");
    assert_eq!(fp[0]["connection"], json!(CONNECTION));
    for _ in 0..9 {
        realm_login(&s, &app, "bert", "wrong", json!({})).await;
    }
    let blocked = realm_login(&s, &app, "bert", "Sommar-2026!", json!({})).await;
    assert_eq!(blocked.status, 429, "{:?}", blocked.body);
    // A locked account is refused as a wrong password; an unknown name is `fu`.
    realm_login(&s, &app, "carl", "Höst-2026!", json!({}))
        .await
        .refused_with(403, "invalid_grant");
    realm_login(&s, &app, "nobody", "Höst-2026!", json!({}))
        .await
        .refused_with(403, "invalid_grant");
    assert!(!logs_of(&mut s, "fu").await.is_empty());
    for never in ["carl@corp.example", "dora@corp.example"] {
        let found = s
            .get(&format!("/api/v2/users-by-email?email={}", enc(never)))
            .await;
        assert_eq!(found.assert_status(200), &json!([]), "{never}");
    }

    // The directory stops answering mid-conversation (frozen), then is gone: each login ends
    // with 503 within the timeout, nothing stored, nothing counted against the user.
    dir.freeze();
    let started = Instant::now();
    let r = realm_login(&s, &app, "dora", "Vår-2026!", json!({})).await;
    r.refused_with(503, "temporarily_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    dir.thaw();
    dir.kill();
    let r = realm_login(&s, &app, "dora", "Vår-2026!", json!({})).await;
    let message = r.refused_with(503, "temporarily_unavailable");
    assert!(
        message.contains("could not reach the directory"),
        "{message}"
    );
    let found = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("dora@corp.example")
        ))
        .await;
    assert_eq!(found.assert_status(200), &json!([]));
    let f = logs_of(&mut s, "f").await;
    assert!(
        f.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.contains("could not be reached"))),
        "{f:?}"
    );

    // Back: Dora (in Staff, so All Hands) logs in and is stored.
    dir.restart(&bin).await;
    let r = realm_login(
        &s,
        &app,
        "dora",
        "Vår-2026!",
        json!({"audience": API, "scope": "openid read:reports"}),
    )
    .await;
    let tokens = r.assert_status(200).clone();
    let at = verified(&s, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(at["permissions"], json!(["read:reports"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_is_connected_tested_and_used_from_the_dashboard_and_login_page() {
    use crate::admin_dashboard::{ADMIN_EMAIL, csrf, server, sign_in};
    use crate::common::browser::Browser;
    let Some(bin) = slapd::binary() else { return };
    let mut dir = Slapd::start(&bin, PEOPLE, GROUPS, 5).await;
    let mut s = server().await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);

    // Created from the connections page's card (plain ldap:// elsewhere than loopback is
    // refused with the reason, the typed fields kept, the password never shown).
    let people = format!("ou=people,{}", slapd::SUFFIX);
    let form = |url: &str| {
        vec![
            ("_csrf".to_string(), token.clone()),
            ("strategy".to_string(), "ad".to_string()),
            ("name".to_string(), CONNECTION.to_string()),
            ("directory_type".to_string(), "ldap".to_string()),
            ("ldap_url".to_string(), url.to_string()),
            ("base_dn".to_string(), people.clone()),
            ("bind_dn".to_string(), READER_DN.to_string()),
            ("bind_password".to_string(), READER_PASSWORD.to_string()),
            ("nested_groups".to_string(), "on".to_string()),
        ]
    };
    let refused_form = form("ldap://ldap.corp.example");
    let pairs: Vec<(&str, &str)> = refused_form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = b.post_form("/admin/connections", &pairs).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("would send passwords in clear"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(&people));
    assert!(!refused.body.contains(READER_PASSWORD));
    let good = form(&dir.url);
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let created = b.post_form("/admin/connections", &pairs).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let location = created.location.clone().expect("to the connection's page");
    let conn_id = location
        .split("/admin/connections/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .expect("the connection's id")
        .to_string();
    let page = b.follow(created).await;
    assert!(page.body.contains("AD/LDAP directory"), "{}", page.body);
    assert!(
        page.body
            .contains("Service account password (set; type to replace)")
    );
    assert!(!page.body.contains(READER_PASSWORD));

    // Test connection: bound, and the sample username found once; then with the directory
    // gone, the reason in words.
    let test = format!("/admin/connections/{conn_id}/test-directory");
    let r = b
        .post_form(&test, &[("_csrf", &token), ("sample", "åsa.lind")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("Connected and bound as the service account"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("The user filter finds 1 entry"),
        "{}",
        r.body
    );

    // The hosted login page logs a directory user in.
    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": "Intranet", "app_type": "regular_web", "callbacks": ["https://intranet.corp.example/cb"]}),
        )
        .await
        .assert_status(201)
        .clone();
    let cid = app["client_id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/connections/{conn_id}"),
        json!({"enabled_clients": [cid]}),
    )
    .await
    .assert_status(200);
    let authorize = format!(
        "/authorize?response_type=code&client_id={cid}&redirect_uri={}&scope=openid&state=s1&connection={CONNECTION}",
        enc("https://intranet.corp.example/cb")
    );
    let mut user = Browser::new(&s.url);
    let login = user.visit(&authorize).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(
        !login.body.contains("/u/signup"),
        "no sign-up on a directory"
    );
    let done = user.submit_login(&login, "åsa.lind", "Vinter-2026!").await;
    assert!(
        done.callback_param("code").is_some(),
        "{:?} {}",
        done.location,
        done.body
    );

    dir.kill();
    let r = b
        .post_form(&test, &[("_csrf", &token), ("sample", "")])
        .await;
    assert!(
        r.body.contains("The directory could not be used"),
        "{}",
        r.body
    );
    assert!(r.body.contains("could not be reached"), "{}", r.body);
    let mut later = Browser::new(&s.url);
    let login = later.visit(&authorize).await;
    let down = later.submit_login(&login, "bert", "Sommar-2026!").await;
    assert!(
        down.body
            .contains("We could not reach the directory of corp-ldap"),
        "{}",
        down.body
    );
}

/// The service account's connection is kept between logins (`gatehouse_directory_connections_total`
/// on the metrics listener): logins after the first open none of their own, whatever their
/// outcome; a directory restarted meanwhile gets a new one and logins go on.
#[tokio::test(flavor = "multi_thread")]
async fn directory_logins_keep_the_service_connection_open() {
    let Some(bin) = slapd::binary() else { return };
    let mut dir = Slapd::start(&bin, PEOPLE, GROUPS, 5).await;
    let mut s = TestServer::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".into())).await;
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Intranet", "app_type": "regular_web", "callbacks": ["https://intranet.corp.example/cb"],
                   "grant_types": [REALM_GRANT]}),
        )
        .await
        .assert_status(201)
        .clone();
    let app = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    s.post(
        "/api/v2/connections",
        json!({"name": CONNECTION, "strategy": "ad", "options": options(&dir.url), "enabled_clients": [app.0]}),
    )
    .await
    .assert_status(201);
    let connections = |s: &TestServer| {
        let url = s.metrics_url().expect("metrics are on");
        let http = s.http().clone();
        async move {
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            let read = |event: &str| -> u64 {
                let prefix = format!("gatehouse_directory_connections_total{{event=\"{event}\"}} ");
                text.lines()
                    .find_map(|l| l.strip_prefix(&prefix))
                    .unwrap_or_else(|| panic!("no {prefix} in {text}"))
                    .parse()
                    .unwrap()
            };
            (read("opened"), read("reused"))
        }
    };
    assert_eq!(connections(&s).await, (0, 0));
    realm_login(&s, &app, "dora", "Vår-2026!", json!({}))
        .await
        .assert_status(200);
    realm_login(&s, &app, "dora", "wrong-password", json!({}))
        .await
        .refused_with(403, "invalid_grant");
    realm_login(&s, &app, "nobody-here", "Vår-2026!", json!({}))
        .await
        .refused_with(403, "invalid_grant");
    realm_login(&s, &app, "åsa.lind", "Vinter-2026!", json!({}))
        .await
        .assert_status(200);
    assert_eq!(
        connections(&s).await,
        (1, 3),
        "one connection for four logins"
    );

    // The directory restarts: its old connection is gone, a new one is opened.
    dir.restart(&bin).await;
    realm_login(&s, &app, "dora", "Vår-2026!", json!({}))
        .await
        .assert_status(200);
    let (opened, _) = connections(&s).await;
    assert_eq!(opened, 2);
}
