//! GDPR self-service over HTTP: terms accepted at sign-up and again when their version
//! changes, the hosted account page (data, download, name, withdrawal, deletion with
//! re-authentication), erasure pseudonymising the log (read through `/api/v2/logs` and the
//! raw database rows), the tenant settings' checks, and Gatehouse's initials pictures.

use crate::common;
use crate::upstream_login::{oidc_connection, staff_user};

use common::browser::{Browser, Page};
use common::provider::Provider;
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

const CALLBACK: &str = "https://shop.example.com/callback";
const PASSWORD: &str = "Sup3r-secret!";
const ADMIN_EMAIL: &str = "root@example.com";
const TERMS_URL: &str = "https://shop.example.com/legal/terms?lang=sv";

struct App {
    id: String,
}

async fn app(s: &mut TestServer) -> App {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Bokhandeln", "callbacks": [CALLBACK], "grant_types": ["authorization_code"]}),
        )
        .await;
    App {
        id: c.assert_status(201)["client_id"]
            .as_str()
            .unwrap()
            .to_string(),
    }
}

fn authorize_url(app: &App, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state=st%C3%A5te-7{extra}",
        app.id,
        enc(CALLBACK)
    )
}

async fn set_terms(s: &mut TestServer, version: &str) {
    s.patch(
        "/api/v2/tenants/settings",
        json!({"consent": {"terms_url": TERMS_URL, "terms_version": version}}),
    )
    .await
    .assert_status(200);
}

async fn user(s: &mut TestServer, id: &str) -> Value {
    s.get(&format!("/api/v2/users/{}", enc(id)))
        .await
        .assert_status(200)
        .clone()
}

async fn user_by_email(s: &mut TestServer, email: &str) -> Option<Value> {
    let r = s
        .get(&format!("/api/v2/users-by-email?email={}", enc(email)))
        .await;
    r.assert_status(200).as_array().unwrap().first().cloned()
}

fn csrf(page: &Page) -> String {
    page.input("_csrf").expect("the page has a CSRF token")
}

/// Posts the terms page's form with `action` (`accept` / `decline`).
async fn answer_terms(b: &mut Browser, page: &Page, action: &str, version: &str) -> Page {
    let state = page.input("state").expect("the terms form has its state");
    let p = b
        .post_form(
            "/u/terms",
            &[
                ("state", &state),
                ("_csrf", &csrf(page)),
                ("terms_version", version),
                ("action", action),
            ],
        )
        .await;
    b.follow(p).await
}

async fn log_in(b: &mut Browser, url: &str, user: &str) -> Page {
    let page = b.visit(url).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    b.submit_login(&page, user, PASSWORD).await
}

/// Opens the account page, signing in through the hosted login when there is no session.
async fn account(b: &mut Browser, email: &str) -> Page {
    let p = b.visit("/u/account").await;
    if p.body.contains("action=\"/u/login\"") {
        let p = b.submit_login(&p, email, PASSWORD).await;
        assert_eq!(p.status, 200, "account page after sign-in: {}", p.body);
        return p;
    }
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_checked_property_by_property() {
    let mut s = TestServer::start().await;
    let before = s
        .get("/api/v2/tenants/settings")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(before["default_picture"], "gravatar");
    assert!(before.get("consent").is_none(), "{before}");
    for (bad, names) in [
        (json!({"consent": "v1"}), "consent"),
        (
            json!({"consent": {"terms_url": "javascript:alert(1)", "terms_version": "1"}}),
            "consent.terms_url",
        ),
        (
            json!({"consent": {"terms_url": "https://x.example/t"}}),
            "consent.terms_version",
        ),
        (
            json!({"consent": {"terms_url": "https://x.example/t", "terms_version": " "}}),
            "consent.terms_version",
        ),
        (
            json!({"consent": {"terms_url": "https://x.example/t", "terms_version": "1", "text": "x"}}),
            "text",
        ),
        (
            json!({"friendly_name": "Changed", "default_picture": "robohash"}),
            "default_picture",
        ),
    ] {
        let r = s.patch("/api/v2/tenants/settings", bad.clone()).await;
        let message = r.assert_error(400, "invalid_body");
        assert!(message.contains(names), "{bad}: {message}");
    }
    let after = s.get("/api/v2/tenants/settings").await;
    assert_eq!(
        after.assert_status(200),
        &before,
        "a refused change changes nothing"
    );

    let r = s
        .patch(
            "/api/v2/tenants/settings",
            json!({"consent": {"terms_url": TERMS_URL, "terms_version": "2025-05"}, "default_picture": "initials"}),
        )
        .await;
    let body = r.assert_status(200);
    assert_eq!(
        body["consent"],
        json!({"terms_url": TERMS_URL, "terms_version": "2025-05"})
    );
    assert_eq!(body["default_picture"], "initials");
    let r = s
        .patch("/api/v2/tenants/settings", json!({"consent": null}))
        .await;
    assert!(r.assert_status(200).get("consent").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_needs_the_terms_box_and_records_the_consent() {
    let mut s = TestServer::start().await;
    let shop = app(&mut s).await;
    set_terms(&mut s, "2025-05").await;
    let email = "åsa.lindqvist@example.se";
    let mut b = Browser::new(&s.url);
    let form = b.visit(&authorize_url(&shop, "&screen_hint=signup")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("name=\"terms\""), "{}", form.body);
    assert!(
        form.body
            .contains("href=\"https://shop.example.com/legal/terms?lang=sv\""),
        "the box links the terms: {}",
        form.body
    );
    let (state, token) = (form.input("state").unwrap(), csrf(&form));
    let fields = |terms: Option<&'static str>| {
        let mut f = vec![
            ("state", state.clone()),
            ("_csrf", token.clone()),
            ("email", email.to_string()),
            ("password", PASSWORD.to_string()),
        ];
        if let Some(t) = terms {
            f.push(("terms", t.to_string()));
        }
        f
    };
    for (terms, said) in [
        (None, "Accept the terms to sign up."),
        (Some("2024-01"), "The terms changed"),
    ] {
        let f = fields(terms);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = b.post_form("/u/signup", &f).await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains(said), "{}", p.body);
        assert!(
            user_by_email(&mut s, email).await.is_none(),
            "nothing created"
        );
    }
    let f = fields(Some("2025-05"));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = b.post_form("/u/signup", &f).await;
    let p = b.follow(p).await;
    assert!(
        p.callback_param("code").is_some(),
        "signed up and answered without another terms page: {:?} {}",
        p.location,
        p.body
    );
    let u = user_by_email(&mut s, email).await.expect("the user exists");
    let c = &u["user_metadata"]["consent"];
    assert_eq!(c["given"], true, "{u}");
    assert_eq!(c["version"], "2025-05");
    assert_eq!(c["text_details"], TERMS_URL);
    assert!(c["date"].as_str().unwrap().ends_with('Z'), "{c}");
    assert_eq!(c["history"].as_array().unwrap().len(), 1, "{c}");
}

#[tokio::test(flavor = "multi_thread")]
async fn terms_are_asked_again_when_their_version_changes() {
    let mut s = TestServer::start_with(|cfg| {
        cfg.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        cfg.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await;
    let shop = app(&mut s).await;
    let u = s.create_user("noor.haddad@example.com", json!({})).await;
    let id = u["user_id"].as_str().unwrap().to_string();
    // No terms: no page.
    let mut b = Browser::new(&s.url);
    let p = log_in(&mut b, &authorize_url(&shop, ""), "noor.haddad@example.com").await;
    assert!(p.callback_param("code").is_some(), "{}", p.body);

    set_terms(&mut s, "v1").await;
    let p = b.visit(&authorize_url(&shop, "")).await;
    assert_eq!(p.status, 200, "the terms page: {:?} {}", p.location, p.body);
    assert!(p.body.contains("action=\"/u/terms\""), "{}", p.body);
    assert!(p.body.contains("Accept our terms"), "{}", p.body);
    let p = answer_terms(&mut b, &p, "accept", "v1").await;
    assert!(p.callback_param("code").is_some(), "{:?}", p.location);
    assert_eq!(p.callback_param("state").as_deref(), Some("ståte-7"));
    assert_eq!(
        user(&mut s, &id).await["user_metadata"]["consent"]["version"],
        "v1"
    );
    // Accepted: the next login goes straight through.
    let p = b.visit(&authorize_url(&shop, "")).await;
    assert!(
        p.callback_param("code").is_some(),
        "{:?} {}",
        p.location,
        p.body
    );

    set_terms(&mut s, "v2 – juni").await;
    // Silent authentication cannot ask.
    let p = b.visit(&authorize_url(&shop, "&prompt=none")).await;
    assert_eq!(
        p.callback_param("error").as_deref(),
        Some("interaction_required"),
        "{:?}",
        p.location
    );
    let p = b.visit(&authorize_url(&shop, "")).await;
    assert!(p.body.contains("Our terms have changed"), "{}", p.body);
    // Declining ends the login at the callback; nothing is recorded.
    let p = answer_terms(&mut b, &p, "decline", "v2 – juni").await;
    assert_eq!(p.callback_param("error").as_deref(), Some("access_denied"));
    assert_eq!(p.callback_param("state").as_deref(), Some("ståte-7"));
    assert_eq!(
        user(&mut s, &id).await["user_metadata"]["consent"]["version"],
        "v1"
    );
    // A page opened before another change shows the new terms instead of accepting.
    let p = b.visit(&authorize_url(&shop, "")).await;
    set_terms(&mut s, "v3").await;
    let stale = answer_terms(&mut b, &p, "accept", "v2 – juni").await;
    assert_eq!(stale.status, 400, "{}", stale.body);
    assert!(stale.body.contains("The terms changed"), "{}", stale.body);
    assert!(stale.body.contains("version v3"), "{}", stale.body);
    let p = answer_terms(&mut b, &stale, "accept", "v3").await;
    assert!(p.callback_param("code").is_some(), "{:?}", p.location);
    let c = user(&mut s, &id).await["user_metadata"]["consent"].clone();
    assert_eq!(c["version"], "v3");
    let versions: Vec<&str> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1", "v3"], "{c}");
    let events = s.get("/api/v2/logs?q=type:f").await;
    assert!(
        events.body.to_string().contains("did not accept the terms"),
        "the refusal is logged: {}",
        events.body
    );
    // The dashboard shows the user's consent (and asks its administrators for no terms).
    let mut admin = Browser::new(&s.url);
    let login = admin.visit("/admin").await;
    let home = admin.submit_login(&login, ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(home.status, 200, "{}", home.body);
    let page = admin.visit(&format!("/admin/users/{}", enc(&id))).await;
    let card = page
        .body
        .split("id=\"consent-state\"")
        .nth(1)
        .expect("a consent card");
    let card = &card[..card.find("</dl>").unwrap()];
    assert!(
        card.contains("given") && card.contains("v3") && card.contains("Changes"),
        "{card}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_page_shows_downloads_and_corrects_the_users_data() {
    let mut s = TestServer::start().await;
    let shop = app(&mut s).await;
    set_terms(&mut s, "2025-05").await;
    let email = "zoë.ørsted@example.dk";
    let u = s
        .create_user(
            email,
            json!({"given_name": "Zoe", "family_name": "Orsted", "nickname": "zø",
                "user_metadata": {"språk": "dansk", "adresse": {"by": "København", "emoji": "🚲"}},
                "app_metadata": {"plan": "guld", "roles": ["läsare"]}}),
        )
        .await;
    let id = u["user_id"].as_str().unwrap().to_string();
    let second = s.create_user("zoe.work@example.com", json!({})).await;
    let second_id = second["user_id"].as_str().unwrap().to_string();
    s.post(
        &format!("/api/v2/users/{}/identities", enc(&id)),
        json!({"provider": "auth0", "user_id": second_id.trim_start_matches("auth0|")}),
    )
    .await
    .assert_status(201);
    // A login at the application (terms accepted there) before opening the account page.
    let mut b = Browser::new(&s.url);
    let p = log_in(&mut b, &authorize_url(&shop, ""), email).await;
    let p = answer_terms(&mut b, &p, "accept", "2025-05").await;
    assert!(
        p.callback_param("code").is_some(),
        "{:?} {}",
        p.location,
        p.body
    );

    let page = account(&mut b, email).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in [
        email,
        id.as_str(),
        "København",
        "🚲",
        "guld",
        "version 2025-05",
        "zoe.work",
        "id=\"logins\"",
        "127.0.0.1",
        "Download my data",
    ] {
        assert!(
            page.body.contains(shown),
            "{shown} not on the page: {}",
            page.body
        );
    }
    let no_session = Browser::new(&s.url).get("/u/account").await;
    assert_eq!(no_session.status, 302, "a stranger is sent to sign in");
    assert!(
        no_session
            .location
            .as_deref()
            .unwrap()
            .contains("client_id=gatehouse-account"),
        "{:?}",
        no_session.location
    );

    // The download: the export row's shape, every field the API shows, and the logs.
    let api = user(&mut s, &id).await;
    let resp = s
        .http()
        .get(format!("{}/u/account/data", s.url))
        .header("cookie", b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
        "{:?}",
        resp.headers()
    );
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let data: Value = resp.json().await.unwrap();
    for (k, v) in api.as_object().unwrap() {
        if k == "last_login" || k == "logins_count" || k == "updated_at" || k == "last_ip" {
            assert!(data.get(k).is_some(), "{k} missing from the download");
            continue;
        }
        assert_eq!(&data[k], v, "{k} differs in the download");
    }
    assert_eq!(data["user_metadata"]["adresse"]["emoji"], "🚲");
    assert_eq!(data["identities"].as_array().unwrap().len(), 2, "{data}");
    let logs = data["logs"].as_array().unwrap();
    let kinds: Vec<&str> = logs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"s"),
        "their login is in the download: {kinds:?}"
    );
    assert!(
        logs.iter().all(|e| e["user_id"] == json!(id)),
        "only theirs"
    );

    // Correcting the name; a form without its token changes nothing.
    let token = csrf(&page);
    let refused = b
        .post_form("/u/account/profile", &[("name", "Mallory")])
        .await;
    assert_eq!(refused.status, 403);
    let empty = b
        .post_form("/u/account/profile", &[("_csrf", &token), ("name", " ")])
        .await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert!(empty.body.contains("Enter your name"), "{}", empty.body);
    let saved = b
        .post_form(
            "/u/account/profile",
            &[
                ("_csrf", &token),
                ("name", "Zoë Ørsted"),
                ("given_name", "Zoë"),
                ("family_name", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let page = b.follow(saved).await;
    assert!(page.body.contains("Your name was saved."), "{}", page.body);
    let api = user(&mut s, &id).await;
    assert_eq!(api["name"], "Zoë Ørsted");
    assert_eq!(api["given_name"], "Zoë");
    assert!(api.get("family_name").is_none(), "{api}");

    // Withdrawing: recorded with its history, and the next login asks again.
    let p = b
        .post_form("/u/account/consent", &[("_csrf", &token)])
        .await;
    let p = b.follow(p).await;
    assert!(p.body.contains("Your consent was withdrawn"), "{}", p.body);
    assert!(p.body.contains("withdrawn"), "{}", p.body);
    let c = user(&mut s, &id).await["user_metadata"]["consent"].clone();
    assert_eq!(c["given"], false, "{c}");
    assert_eq!(c["history"].as_array().unwrap().len(), 2, "{c}");
    let p = b.visit(&authorize_url(&shop, "")).await;
    assert!(
        p.body.contains("action=\"/u/terms\""),
        "asked again: {}",
        p.body
    );
    assert!(p.body.contains("You withdrew your consent"), "{}", p.body);
    // The account page itself never asks: a user who withdrew can still delete.
    let p = b.visit("/u/account").await;
    assert_eq!(p.status, 200);
}

/// Every text column of every log row, straight from the database.
async fn raw_log_rows(s: &TestServer) -> Vec<String> {
    let url = &s.cfg.database_url;
    if url.starts_with("postgres") {
        let sql = "SELECT concat_ws(' ', log_id, type, description, client_id, connection, user_id, user_name, ip, user_agent, details::text) FROM logs";
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let sql = "SELECT concat_ws(' ', log_id, type, description, client_id, connection, user_id, user_name, ip, user_agent, details) FROM logs";
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    }
}

async fn all_logs(s: &mut TestServer) -> Vec<Value> {
    let r = s.get("/api/v2/logs?per_page=100&sort=date:1").await;
    r.assert_status(200).as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_account_takes_the_password_and_erases_the_user_from_the_logs() {
    let mut s = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    let shop = app(&mut s).await;
    let email = "Eero.Makinen@Example.fi";
    let ip = "198.51.100.77";
    let other_email = "ines.duarte@example.pt";
    let other_ip = "203.0.113.54";
    let victim = s.create_user(email, json!({"given_name": "Eero"})).await;
    let id = victim["user_id"].as_str().unwrap().to_string();
    s.create_user(other_email, json!({})).await;
    // An administrator's change names them in its `sapi` event's path.
    s.patch(
        &format!("/api/v2/users/{}", enc(&id)),
        json!({"user_metadata": {"kundnummer": "K-1042"}}),
    )
    .await
    .assert_status(200);

    let mut b = Browser::new(&s.url);
    b.headers.push(("x-forwarded-for".into(), ip.into()));
    // Their history: a wrong password, a login to the application, then the account page.
    let page = b.visit(&authorize_url(&shop, "")).await;
    let wrong = b
        .submit_login(&page, &email.to_lowercase(), "not-the-password")
        .await;
    assert_eq!(wrong.status, 400);
    let p = b
        .submit_login(&wrong, &email.to_lowercase(), PASSWORD)
        .await;
    assert!(
        p.callback_param("code").is_some(),
        "{:?} {}",
        p.location,
        p.body
    );
    // Someone else, from another address, who also tried the victim's address there.
    let mut other = Browser::new(&s.url);
    other
        .headers
        .push(("x-forwarded-for".into(), other_ip.into()));
    let page = other.visit(&authorize_url(&shop, "")).await;
    let guess = other
        .submit_login(&page, &email.to_lowercase(), "Gu3ss-1234")
        .await;
    assert_eq!(guess.status, 400);
    let p = other.submit_login(&guess, other_email, PASSWORD).await;
    assert!(p.callback_param("code").is_some());

    let page = account(&mut b, &email.to_lowercase()).await;
    assert!(
        page.body.contains(ip),
        "their logins show their address: {}",
        page.body
    );
    let page = b.visit("/u/account/delete").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let token = csrf(&page);
    // A wrong password is refused, and counted as a failed login.
    let fp_before = all_logs(&mut s)
        .await
        .iter()
        .filter(|e| e["type"] == "fp")
        .count();
    let p = b
        .post_form(
            "/u/account/delete",
            &[
                ("_csrf", &token),
                ("password", "Sup3r-wrong!"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("Wrong email or password."), "{}", p.body);
    let fp_after = all_logs(&mut s)
        .await
        .iter()
        .filter(|e| e["type"] == "fp")
        .count();
    assert_eq!(fp_after, fp_before + 1, "the wrong guess is counted");
    assert!(s.count_rows("login_failures").await >= 1);
    // Without the box ticked nothing happens either.
    let p = b
        .post_form(
            "/u/account/delete",
            &[("_csrf", &token), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(p.status, 400);
    user(&mut s, &id).await;

    let before: Vec<Value> = all_logs(&mut s).await;
    let theirs = before.iter().filter(|e| e["user_id"] == json!(id)).count();
    assert!(theirs >= 3, "the victim has events before: {before:?}");
    assert!(before.iter().any(|e| e["ip"] == ip));
    assert!(
        serde_json::to_string(&before).unwrap().contains(&enc(&id)),
        "the path names them before"
    );

    let done = b
        .post_form(
            "/u/account/delete",
            &[
                ("_csrf", &token),
                ("password", PASSWORD),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("Your account has been deleted"),
        "{}",
        done.body
    );
    assert!(
        done.set_cookies
            .iter()
            .any(|c| c.starts_with("gh_session=;") && c.contains("Max-Age=0")),
        "logged out: {:?}",
        done.set_cookies
    );
    s.get(&format!("/api/v2/users/{}", enc(&id)))
        .await
        .assert_error(404, "inexistent_user");
    let p = Browser::new(&s.url).get("/u/account").await;
    assert_eq!(p.status, 302);

    // The log: no email, name or address of theirs, through the API and in the rows.
    let after = all_logs(&mut s).await;
    let dump = serde_json::to_string(&after).unwrap().to_lowercase();
    for gone in [
        email.to_lowercase(),
        ip.to_string(),
        id.to_lowercase(),
        enc(&id).to_lowercase(),
    ] {
        assert!(!dump.contains(&gone), "{gone} is still in the log: {dump}");
    }
    for row in raw_log_rows(&s).await {
        let row = row.to_lowercase();
        assert!(
            !row.contains(&email.to_lowercase()) && !row.contains(ip),
            "{row}"
        );
    }
    // Their events are still there, under one pseudonym, with type, date and client.
    let pseudonymous: Vec<&Value> = after
        .iter()
        .filter(|e| {
            e["user_id"]
                .as_str()
                .is_some_and(|u| u.starts_with("erased|"))
        })
        .collect();
    assert!(pseudonymous.len() > theirs, "{after:?}");
    let pseudonym = pseudonymous[0]["user_id"].clone();
    assert!(pseudonymous.iter().all(|e| e["user_id"] == pseudonym));
    assert!(
        pseudonymous
            .iter()
            .any(|e| e["type"] == "s" && e["client_id"] == json!(shop.id)),
        "{pseudonymous:?}"
    );
    assert!(pseudonymous.iter().any(|e| e["type"] == "sdu"));
    assert!(
        pseudonymous
            .iter()
            .all(|e| e.get("ip").is_none() && e.get("user_name").is_none())
    );
    // The other user's events are untouched.
    assert!(
        after
            .iter()
            .any(|e| e["user_name"] == other_email && e["ip"] == other_ip),
        "{after:?}"
    );
    let other_before: Vec<&Value> = before
        .iter()
        .filter(|e| e["user_name"] == other_email)
        .collect();
    let other_after: Vec<&Value> = after
        .iter()
        .filter(|e| e["user_name"] == other_email)
        .collect();
    assert_eq!(other_before, other_after);

    // The Management API's deletion erases too.
    let gone = s.create_user("kaito.tanaka@example.jp", json!({})).await;
    let gone_id = gone["user_id"].as_str().unwrap().to_string();
    let mut k = Browser::new(&s.url);
    k.headers
        .push(("x-forwarded-for".into(), "192.0.2.201".into()));
    let p = log_in(&mut k, &authorize_url(&shop, ""), "kaito.tanaka@example.jp").await;
    assert!(p.callback_param("code").is_some());
    s.delete(&format!("/api/v2/users/{}", enc(&gone_id)))
        .await
        .assert_status(204);
    for row in raw_log_rows(&s).await {
        assert!(
            !row.contains("kaito.tanaka") && !row.contains("192.0.2.201"),
            "{row}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_a_password_deletes_after_a_fresh_login() {
    use crate::upstream_login::{
        app as upstream_app, authorize_url as upstream_url, login_through,
    };
    let mut s = TestServer::start_with_manual_clock().await;
    let shop = upstream_app(&mut s, "Verkstan").await;
    let provider = Provider::start(None).await;
    oidc_connection(&mut s, &provider, "acme-staff", &[&shop], json!({})).await;
    provider.set_user(staff_user(
        "staff-0042",
        "Amara Okafor",
        "amara@acme.example",
    ));
    let mut b = Browser::new(&s.url);
    let done = login_through(&mut b, &provider, &upstream_url(&shop, Some("acme-staff"))).await;
    assert!(
        done.callback_param("code").is_some(),
        "{:?} {}",
        done.location,
        done.body
    );
    let page = b.visit("/u/account/delete").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains("name=\"password\""),
        "no password to ask: {}",
        page.body
    );
    assert!(page.body.contains("id=\"delete-form\""), "{}", page.body);
    let token = csrf(&page);
    // Six minutes later the login is too old: the page and the form both say so.
    s.clock().advance(6 * 60 * 1000);
    let page = b.visit("/u/account/delete").await;
    assert!(page.body.contains("Log in again"), "{}", page.body);
    assert!(!page.body.contains("id=\"delete-form\""), "{}", page.body);
    let refused = b
        .post_form(
            "/u/account/delete",
            &[("_csrf", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, 303);
    assert_eq!(
        refused.location.as_deref(),
        Some(format!("{}/u/account/reauthenticate", s.url).as_str())
    );
    // Logging in again (prompt=login, straight to the provider) comes back to the form.
    let again = login_through(&mut b, &provider, "/u/account/reauthenticate").await;
    assert_eq!(again.status, 200, "{:?} {}", again.location, again.body);
    assert!(again.body.contains("id=\"delete-form\""), "{}", again.body);
    assert_eq!(provider.with(|st| st.authorize_requests.len()), 2);
    let token = csrf(&again);
    let gone = b
        .post_form(
            "/u/account/delete",
            &[("_csrf", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    let left = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("amara@acme.example")
        ))
        .await;
    assert_eq!(left.assert_status(200), &json!([]));
    let dump = s.get("/api/v2/logs?per_page=100").await.body.to_string();
    assert!(
        !dump.contains("amara@acme.example") && !dump.contains("staff-0042"),
        "{dump}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn initials_pictures_are_served_by_gatehouse() {
    let mut s = TestServer::start().await;
    let before = s.create_user("first@example.com", json!({})).await;
    assert!(
        before["picture"]
            .as_str()
            .unwrap()
            .starts_with("https://s.gravatar.com/avatar/"),
        "Gravatar stays the default: {before}"
    );
    s.patch(
        "/api/v2/tenants/settings",
        json!({"default_picture": "initials"}),
    )
    .await
    .assert_status(200);
    let u = s
        .create_user(
            "zoe@example.com",
            json!({"given_name": "zoë", "family_name": "ørsted"}),
        )
        .await;
    let picture = u["picture"].as_str().unwrap();
    assert_eq!(picture, format!("{}/u/avatars/Z%C3%98.svg", s.url));
    let plain = s.create_user("li.wei@example.cn", json!({})).await;
    assert_eq!(
        plain["picture"].as_str().unwrap(),
        format!("{}/u/avatars/LI.svg", s.url)
    );

    let r = s.http().get(picture).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(
        h["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script"),
        "{csp}"
    );
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
    let svg = r.text().await.unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains(">ZØ</text>"),
        "{svg}"
    );
    assert!(!svg.contains("<script") && !svg.contains("href"), "{svg}");
    let again = s
        .http()
        .get(picture)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(svg, again, "the same letters draw the same picture");
    for bad in ["%3Cs%3E.svg", "ABCD.svg", "AB.png", "A%22B.svg", ".svg"] {
        let r = s
            .http()
            .get(format!("{}/u/avatars/{bad}", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let r = s
        .raw(Method::GET, "/u/avatars/%E6%9D%8E.svg", None, None)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_str().unwrap().contains(">李</text>"));
}

/// Erasure finds old mentions by a scan made before the deleting transaction, and only the
/// newest minute again inside it: a mention older than that (here, an administrator's PATCH
/// ten minutes before anything else happened) is still found and replaced.
#[tokio::test(flavor = "multi_thread")]
async fn erasure_finds_old_mentions_through_the_scan_made_before_the_transaction() {
    let mut s = TestServer::start_with_manual_clock().await;
    let old = s.create_user("ingrid.sørensen@example.no", json!({})).await;
    let old_id = old["user_id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/users/{}", enc(&old_id)),
        json!({"user_metadata": {"note": "flyttet til Tromsø"}}),
    )
    .await
    .assert_status(200);
    s.clock().advance(10 * 60 * 1000);
    let other = s.create_user("ole.hansen@example.no", json!({})).await;
    let other_id = other["user_id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/users/{}", enc(&other_id)),
        json!({"user_metadata": {"note": "ny"}}),
    )
    .await
    .assert_status(200);
    let mentions = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .filter(|r| r.contains(&old_id) || r.contains(&enc(&old_id)))
            .cloned()
            .collect()
    };
    assert!(
        mentions(&raw_log_rows(&s).await)
            .iter()
            .any(|r| r.contains("PATCH")),
        "the old PATCH names the user before the erasure"
    );
    s.delete(&format!("/api/v2/users/{}", enc(&old_id)))
        .await
        .assert_status(204);
    let left = mentions(&raw_log_rows(&s).await);
    // Only the deleting request's own event keeps the path (docs/gdpr.md).
    assert!(left.iter().all(|r| r.contains("DELETE")), "{left:?}");
    assert!(
        raw_log_rows(&s)
            .await
            .iter()
            .any(|r| r.contains(&enc(&other_id)) && r.contains("PATCH")),
        "another user's mentions stay"
    );
}
