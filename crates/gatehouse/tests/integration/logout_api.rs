//! `GET /v2/logout`: `returnTo` redirects only to an application's Allowed Logout URLs;
//! everything else, including open-redirect tricks, gets a page and no redirect.

use crate::common;

use common::{TestServer, enc};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn return_to_is_checked_against_the_allow_list() {
    let mut s = TestServer::start().await;
    let c = s
        .post("/api/v2/clients", json!({"name": "web", "allowed_logout_urls": ["https://app.example.com/bye", "https://*.tenant.example/"]}))
        .await;
    let cid = c.assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let logout = |query: String| {
        let browser = browser.clone();
        let url = format!("{}/v2/logout?{query}", s.url);
        async move { browser.get(url).send().await.unwrap() }
    };

    for ok in [
        "https://app.example.com/bye",
        "https://APP.example.com/bye?next=%2Fhome",
        "https://shop.tenant.example/",
    ] {
        let r = logout(format!("client_id={cid}&returnTo={}", enc(ok))).await;
        assert_eq!(r.status().as_u16(), 302, "{ok}");
        assert_eq!(
            r.headers()["location"],
            ok,
            "redirects to returnTo unchanged"
        );
    }
    for bad in [
        "https://evil.com/",
        "https://app.example.com.evil.com/bye",
        "https://app.example.com@evil.com/bye",
        "https://evil.com\\@app.example.com/bye",
        "https://evil.com%2F@app.example.com/bye",
        "//evil.com/bye",
        "javascript:alert(1)",
        "https://app.example.com/BYE",
        "https://a.b.tenant.example/",
        "http://app.example.com/bye",
    ] {
        let r = logout(format!("client_id={cid}&returnTo={}", enc(bad))).await;
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        assert!(
            r.headers().get("location").is_none(),
            "{bad}: never a redirect"
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script"), "the page escapes what it shows");
    }
    let r = logout(format!("returnTo={}", enc("https://app.example.com/bye"))).await;
    assert_eq!(
        r.status().as_u16(),
        400,
        "a returnTo without client_id has no list to match"
    );
    let r = logout(format!(
        "client_id=NoSuchClient&returnTo={}",
        enc("https://app.example.com/bye")
    ))
    .await;
    assert_eq!(r.status().as_u16(), 400);
    let r = logout(String::new()).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("logged out"));

    let logs = s
        .get(&format!("/api/v2/logs?per_page=100&q={}", enc("type:flo")))
        .await;
    assert_eq!(logs.body.as_array().unwrap().len(), 12);
    let logs = s
        .get(&format!("/api/v2/logs?per_page=100&q={}", enc("type:slo")))
        .await;
    assert_eq!(logs.body.as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_logout_takes_the_client_from_the_id_token_hint() {
    let mut s = TestServer::start().await;
    let c = s
        .post("/api/v2/clients", json!({"name": "web", "grant_types": ["password"], "allowed_logout_urls": ["https://app.example.com/bye"]}))
        .await;
    let c = c.assert_status(201).clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    s.create_user("rp@example.com", json!({})).await;
    let t = s
        .raw(
            reqwest::Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "password", "client_id": cid, "client_secret": secret,
            "username": "rp@example.com", "password": "Sup3r-secret!", "scope": "openid"}),
            ),
        )
        .await;
    let id_token = t.assert_status(200)["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |query: String| {
        let browser = browser.clone();
        let url = format!("{}/oidc/logout?{query}", s.url);
        async move { browser.get(url).send().await.unwrap() }
    };
    let back = enc("https://app.example.com/bye");
    let r = get(format!(
        "id_token_hint={id_token}&post_logout_redirect_uri={back}&state=a%20b"
    ))
    .await;
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://app.example.com/bye?state=a%20b"
    );
    let r = get(format!(
        "id_token_hint={id_token}&client_id=SomeOtherClient&post_logout_redirect_uri={back}"
    ))
    .await;
    assert_eq!(r.status().as_u16(), 400);
    let (head, _) = id_token.rsplit_once('.').unwrap();
    let r = get(format!(
        "id_token_hint={head}.AAAA&post_logout_redirect_uri={back}"
    ))
    .await;
    assert_eq!(r.status().as_u16(), 400, "a forged hint is refused");
    let r = get(format!(
        "id_token_hint={id_token}&post_logout_redirect_uri={}",
        enc("https://evil.com/")
    ))
    .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
    let disc = s
        .raw(
            reqwest::Method::GET,
            "/.well-known/openid-configuration",
            None,
            None,
        )
        .await
        .body;
    assert_eq!(
        disc["end_session_endpoint"],
        format!("{}/oidc/logout", s.url)
    );
}
