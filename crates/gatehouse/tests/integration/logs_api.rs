//! Tenant logs: events with Auth0's type codes for Management API writes, token
//! exchanges and user deletion, read through `/api/v2/logs` and `/api/v2/users/{id}/logs`.

use crate::common;

use common::{CLIENT_ID, TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

fn types(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_recorded_and_queryable() {
    let mut s = TestServer::start().await;
    let token = s.token().await; // seccft
    let u = s.create_user("logged@example.com", json!({})).await; // sapi
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    s.patch(&path, json!({"email": "not-an-email"}))
        .await
        .assert_status(400); // fapi
    s.raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong", "audience": s.audience()})))
        .await
        .assert_status(401); // feccft
    s.delete(&path).await; // sdu + sapi
    s.get("/api/v2/users").await; // reads are not logged

    let all = s.get("/api/v2/logs?include_totals=true&sort=date:1").await;
    let body = all.assert_status(200).clone();
    assert_eq!(
        types(&body["logs"]),
        vec!["seccft", "sapi", "fapi", "feccft", "sdu", "sapi"],
        "{body}"
    );
    assert_eq!(body["total"], 6);
    let logs = body["logs"].as_array().unwrap();
    assert_eq!(logs[0]["client_id"], CLIENT_ID);
    assert_eq!(logs[0]["details"]["audience"], s.audience());
    assert_eq!(logs[0]["ip"], "127.0.0.1");
    assert_eq!(
        logs[1]["details"]["request"],
        json!({"method": "POST", "path": "/api/v2/users"})
    );
    assert_eq!(logs[2]["details"]["response"]["statusCode"], 400);
    assert_eq!(logs[3]["description"], "Unauthorized");
    // The deletion erased the user: their events carry a pseudonym, not their id.
    let pseudonym = logs[4]["user_id"].as_str().unwrap();
    assert!(pseudonym.starts_with("erased|"), "{}", logs[4]);
    assert!(logs[0]["date"].as_str().unwrap().ends_with('Z'));
    let dump = body.to_string();
    assert!(
        !dump.contains("Sup3r-secret!") && !dump.contains(&token),
        "no secrets in logs"
    );

    // Newest first by default; q filters; one event by id.
    let newest = s.get("/api/v2/logs").await;
    assert_eq!(types(&newest.body)[0], "sapi");
    let only = s.get(&format!("/api/v2/logs?q={}", enc("type:sapi"))).await;
    assert_eq!(types(&only.body), vec!["sapi", "sapi"]);
    let by_user = s
        .get(&format!(
            "/api/v2/users/{}/logs",
            enc(u["user_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(types(&by_user.body), Vec::<String>::new());
    let by_pseudonym = s
        .get(&format!(
            "/api/v2/logs?q={}",
            enc(&format!("user_id:\"{pseudonym}\""))
        ))
        .await;
    assert_eq!(types(&by_pseudonym.body), vec!["sdu"]);
    let id = logs[2]["log_id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/api/v2/logs/{id}"))
            .await
            .assert_status(200)["type"],
        "fapi"
    );
    s.get("/api/v2/logs/0000000000000doesnotexist")
        .await
        .assert_error(404, "inexistent_log");
    let dated = s
        .get(&format!(
            "/api/v2/logs?q={}",
            enc("date:[2000-01-01 TO 2001-01-01]")
        ))
        .await;
    assert_eq!(dated.body, json!([]));

    // Checkpoints walk oldest first after `from`.
    let first = s.get("/api/v2/logs?take=4").await;
    assert_eq!(types(&first.body), vec!["seccft", "sapi", "fapi", "feccft"]);
    let last_id = first.body[3]["log_id"].as_str().unwrap().to_string();
    let next = s.get(&format!("/api/v2/logs?take=4&from={last_id}")).await;
    assert_eq!(
        types(&next.body)[..2],
        ["sdu".to_string(), "sapi".to_string()]
    );

    for bad in [
        "q=description:x",
        "sort=type:1",
        "take=500",
        "per_page=1000",
    ] {
        s.get(&format!("/api/v2/logs?{bad}"))
            .await
            .assert_error(400, "invalid_query_string");
    }
    let no_logs_scope = s.token_with_scope(Some("read:users")).await;
    s.raw(Method::GET, "/api/v2/logs", Some(&no_logs_scope), None)
        .await
        .assert_error(403, "insufficient_scope");
}
