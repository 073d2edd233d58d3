//! Actions end to end, on whichever storage the suite runs on: created, deployed and bound
//! through the Management API, then run by real logins (password-realm, refresh, the hosted
//! browser flow) and client-credentials exchanges, their effects read from tokens verified
//! against the JWKS and from the stored user; denials, failures of the customer's code (a
//! loop, a throw, a promise that never settles) ending only their own login in bounded time.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browser::Browser;
use common::{TestServer, enc, release_together};
use gatehouse_crypto::keys::PublicKey;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Sup3r-secret!";
const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
const CALLBACK: &str = "https://app.example.com/callback";
const NS: &str = "https://gatehouse.example";

/// The claims of a token whose signature verifies against the server's JWKS.
pub(crate) async fn verified(s: &TestServer, token: &str) -> Value {
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
        "the token verifies against the JWKS"
    );
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// Creates, deploys and returns an action's id.
async fn deployed_action(
    s: &mut TestServer,
    name: &str,
    trigger: &str,
    code: &str,
    secrets: Value,
) -> String {
    let created = s
        .post(
            "/api/v2/actions/actions",
            json!({"name": name, "supported_triggers": [{"id": trigger, "version": "v3"}],
                   "code": code, "runtime": "node18", "secrets": secrets}),
        )
        .await;
    let id = created.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(&format!("/api/v2/actions/actions/{id}/deploy"), json!({}))
        .await
        .assert_status(202);
    id
}

async fn bind(s: &mut TestServer, trigger: &str, names: &[&str]) -> Value {
    let bindings: Vec<Value> = names
        .iter()
        .map(|n| json!({"ref": {"type": "action_name", "value": n}}))
        .collect();
    s.patch(
        &format!("/api/v2/actions/triggers/{trigger}/bindings"),
        json!({ "bindings": bindings }),
    )
    .await
    .assert_status(200)
    .clone()
}

/// A confidential application for password-realm, refresh, code and client credentials.
pub(crate) async fn app(s: &mut TestServer, metadata: Value) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Shop Ünïcode", "app_type": "regular_web", "callbacks": [CALLBACK],
                   "client_metadata": metadata,
                   "grant_types": [REALM, "refresh_token", "authorization_code", "client_credentials"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    (
        c["client_id"].as_str().unwrap().into(),
        c["client_secret"].as_str().unwrap().into(),
    )
}

/// The tokens of an authorization code, exchanged as a confidential application does.
async fn exchange_code(s: &TestServer, cid: &str, secret: &str, code: &str) -> Value {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(
            json!({"grant_type": "authorization_code", "client_id": cid, "client_secret": secret,
                    "code": code, "redirect_uri": CALLBACK}),
        ),
    )
    .await
    .assert_status(200)
    .clone()
}

pub(crate) async fn realm_login(
    s: &TestServer,
    cid: &str,
    secret: &str,
    user: &str,
    extra: Value,
) -> common::Response {
    let mut body = json!({"grant_type": REALM, "client_id": cid, "client_secret": secret,
        "username": user, "password": PASSWORD, "realm": "Username-Password-Authentication",
        "scope": "openid profile email"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.raw(Method::POST, "/oauth/token", None, Some(body)).await
}

const ROLES_ACTION: &str = r#"/** Adds the user's roles to both tokens (Auth0's "add user roles to tokens"). */
exports.onExecutePostLogin = async (event, api) => {
  const namespace = 'https://gatehouse.example';
  if (event.authorization) {
    api.idToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
    api.accessToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
  }
  // Restricted claims are dropped without an error.
  api.idToken.setCustomClaim('sub', 'auth0|someone-else');
  api.accessToken.setCustomClaim('iss', 'https://evil.example/');
  api.idToken.setCustomClaim(`${namespace}/protocol`, event.transaction.protocol);
  api.idToken.setCustomClaim(`${namespace}/secret_length`, event.secrets.CRM_KEY.length);
  api.user.setUserMetadata('visits', (event.user.user_metadata.visits || 0) + 1);
  api.user.setAppMetadata('plan', 'gold');
  console.log('calling the CRM with ' + event.secrets.CRM_KEY);
};
"#;

const SECOND_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  // Runs after the roles action: sees the metadata it set.
  api.idToken.setCustomClaim('https://gatehouse.example/visits_seen', event.user.user_metadata.visits);
  api.idToken.setCustomClaim('name', 'Zoë Ørsted-Łukasiewicz');
  api.accessToken.addScope('write:things');
  api.accessToken.removeScope('read:things');
  api.user.setUserMetadata('obsolete', null);
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn post_login_actions_shape_password_realm_and_refresh_tokens() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(&mut s, json!({})).await;
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://api.example", "allow_offline_access": true,
               "scopes": [{"value": "read:things"}, {"value": "write:things"}]}),
    )
    .await
    .assert_status(201);
    let user = s
        .create_user(
            "zoe@example.com",
            json!({"user_metadata": {"obsolete": true, "lang": "fr"}}),
        )
        .await;
    let uid = user["user_id"].as_str().unwrap().to_string();
    let role = s
        .post("/api/v2/roles", json!({"name": "editor"}))
        .await
        .assert_status(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(
        &format!("/api/v2/users/{}/roles", enc(&uid)),
        json!({"roles": [role]}),
    )
    .await
    .assert_status(204);
    let crm_key = "crm-key-Zx81-ünï";
    deployed_action(
        &mut s,
        "Add roles",
        "post-login",
        ROLES_ACTION,
        json!([{"name": "CRM_KEY", "value": crm_key}]),
    )
    .await;
    deployed_action(&mut s, "Second", "post-login", SECOND_ACTION, json!([])).await;
    let bound = bind(&mut s, "post-login", &["Add roles", "Second"]).await;
    assert_eq!(bound["bindings"][0]["action"]["name"], "Add roles");
    assert_eq!(bound["bindings"][1]["display_name"], "Second");

    let r = realm_login(
        &s,
        &cid,
        &secret,
        "zoe@example.com",
        json!({"audience": "https://api.example", "scope": "openid profile offline_access read:things"}),
    )
    .await;
    let body = r.assert_status(200).clone();
    let id = verified(&s, body["id_token"].as_str().unwrap()).await;
    assert_eq!(id["sub"], uid.as_str(), "a restricted claim is dropped");
    assert_eq!(id[format!("{NS}/roles")], json!(["editor"]));
    assert_eq!(id[format!("{NS}/protocol")], "oauth2-password");
    assert_eq!(
        id[format!("{NS}/secret_length")],
        json!(crm_key.chars().count())
    );
    assert_eq!(
        id[format!("{NS}/visits_seen")],
        json!(1),
        "actions run in binding order"
    );
    assert_eq!(
        id["name"], "Zoë Ørsted-Łukasiewicz",
        "a profile claim may be set"
    );
    let access = verified(&s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(access[format!("{NS}/roles")], json!(["editor"]));
    assert_eq!(access["iss"], format!("{}/", s.url));
    let scopes: Vec<&str> = access["scope"].as_str().unwrap().split(' ').collect();
    assert!(
        scopes.contains(&"write:things") && !scopes.contains(&"read:things"),
        "{scopes:?}"
    );

    // The metadata both actions set was written, once, at the end.
    let stored = s.get(&format!("/api/v2/users/{}", enc(&uid))).await;
    let stored = stored.assert_status(200);
    assert_eq!(
        stored["user_metadata"],
        json!({"visits": 1, "lang": "fr"}),
        "null deleted `obsolete`"
    );
    assert_eq!(stored["app_metadata"]["plan"], "gold");

    // A refresh runs the actions again, as `oauth2-refresh-token`.
    let refreshed = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "refresh_token", "client_id": cid, "client_secret": secret,
                        "refresh_token": body["refresh_token"]}),
            ),
        )
        .await;
    let refreshed = refreshed.assert_status(200).clone();
    let id = verified(&s, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/protocol")], "oauth2-refresh-token");
    assert_eq!(id[format!("{NS}/visits_seen")], json!(2));

    // The tenant log names the actions that ran on each exchange.
    let logs = s.get("/api/v2/logs?q=type:sepft&per_page=10").await;
    let logs = logs.assert_status(200).clone();
    assert_eq!(
        logs[0]["details"]["actions"],
        json!(["Add roles", "Second"]),
        "{logs}"
    );
    let logs = s.get("/api/v2/logs?q=type:sertft&per_page=10").await;
    let logs = logs.assert_status(200).clone();
    assert_eq!(
        logs[0]["details"]["actions"],
        json!(["Add roles", "Second"]),
        "{logs}"
    );

    // The secret never reaches the server's log, nor the action as returned by the API.
    assert!(common::server_log_lines(crm_key).is_empty());
    let listed = s.get("/api/v2/actions/actions?triggerId=post-login").await;
    let listed = listed.assert_status(200).clone();
    assert_eq!(listed["total"], 2);
    assert!(!listed.to_string().contains(crm_key));
    assert_eq!(listed["actions"][0]["secrets"][0]["name"], "CRM_KEY");
    assert_eq!(listed["actions"][0]["all_changes_deployed"], true);
}

const DENY_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email && event.user.email.endsWith('@contractor.example')) {
    api.access.deny(`Access to ${event.client.name} is not allowed.`);
  }
  api.idToken.setCustomClaim('https://gatehouse.example/checked', true);
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_denying_action_stops_token_grants_and_browser_logins_with_state() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(&mut s, json!({})).await;
    s.create_user("bo@contractor.example", json!({})).await;
    s.create_user("ann@example.com", json!({})).await;
    deployed_action(
        &mut s,
        "Deny contractors",
        "post-login",
        DENY_ACTION,
        json!([]),
    )
    .await;
    bind(&mut s, "post-login", &["Deny contractors"]).await;

    let refused = realm_login(&s, &cid, &secret, "bo@contractor.example", json!({})).await;
    assert_eq!(refused.status.as_u16(), 403, "{}", refused.body);
    assert_eq!(refused.body["error"], "access_denied");
    assert_eq!(
        refused.body["error_description"],
        "Access to Shop Ünïcode is not allowed."
    );
    let allowed = realm_login(&s, &cid, &secret, "ann@example.com", json!({})).await;
    let allowed = allowed.assert_status(200).clone();
    let id = verified(&s, allowed["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/checked")], true);

    // The hosted login: the denial goes to the application's callback with its state.
    let url = format!(
        "/authorize?response_type=code&client_id={cid}&redirect_uri={}&scope=openid&state=st%20%C3%BC",
        enc(CALLBACK)
    );
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    let answer = b
        .submit_login(&page, "bo@contractor.example", PASSWORD)
        .await;
    assert_eq!(
        answer.callback_param("error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        answer.callback_param("error_description").as_deref(),
        Some("Access to Shop Ünïcode is not allowed.")
    );
    assert_eq!(answer.callback_param("state").as_deref(), Some("st ü"));
    assert!(answer.callback_param("code").is_none());

    // The code of an allowed browser login carries the action's claim into its tokens.
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    let answer = b.submit_login(&page, "ann@example.com", PASSWORD).await;
    let code = answer.callback_param("code").expect("a code");
    let tokens = exchange_code(&s, &cid, &secret, &code).await;
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/checked")], true);
    let exchanges = s.get("/api/v2/logs?q=type:seacft&per_page=10").await;
    assert_eq!(
        exchanges.assert_status(200)[0]["details"]["actions"],
        json!(["Deny contractors"])
    );

    // Each denial is in the tenant log as a failed login with the action's reason.
    let logs = s.get("/api/v2/logs?q=type:f&per_page=50").await;
    let denials: Vec<&Value> = logs
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["description"] == "Access to Shop Ünïcode is not allowed.")
        .collect();
    assert_eq!(denials.len(), 2, "{logs:?}", logs = logs.body);
}

const FAILING_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  const who = event.user.email.split('@')[0];
  if (who === 'loop') { while (true) {} }
  if (who === 'throw') { throw new Error('The CRM is down'); }
  if (who === 'hang') { await new Promise(() => {}); }
  api.idToken.setCustomClaim('https://gatehouse.example/ok', who);
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn failing_actions_end_their_own_login_in_bounded_time() {
    let mut s = TestServer::start_with(|c| c.script_time_limit_ms = 1_500).await;
    let (cid, secret) = app(&mut s, json!({})).await;
    for who in ["loop", "throw", "hang", "ok1", "ok2", "ok3", "ok4"] {
        s.create_user(&format!("{who}@example.com"), json!({}))
            .await;
    }
    deployed_action(&mut s, "Flaky CRM", "post-login", FAILING_ACTION, json!([])).await;
    bind(&mut s, "post-login", &["Flaky CRM"]).await;

    let requests = ["loop", "ok1", "throw", "ok2", "hang", "ok3", "ok4"]
        .iter()
        .map(|who| {
            common::RawRequest::post_json(
                "/oauth/token",
                &json!({"grant_type": REALM, "client_id": cid, "client_secret": secret,
                        "username": format!("{who}@example.com"), "password": PASSWORD,
                        "realm": "Username-Password-Authentication", "scope": "openid"}),
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let answers = release_together(&s.url, requests).await;
    let elapsed = started.elapsed();
    let by_user: Vec<(&str, u16, Value)> = ["loop", "ok1", "throw", "ok2", "hang", "ok3", "ok4"]
        .into_iter()
        .zip(answers)
        .map(|(who, (status, body))| (who, status, serde_json::from_str(&body).unwrap()))
        .collect();
    for (who, status, body) in &by_user {
        match *who {
            "loop" => {
                assert_eq!(*status, 403, "{body}");
                assert_eq!(
                    body["error_description"],
                    "The action 'Flaky CRM' did not finish within 1500 ms."
                );
            }
            "throw" => {
                assert_eq!(*status, 403, "{body}");
                assert_eq!(
                    body["error_description"],
                    "The action 'Flaky CRM' failed: The CRM is down"
                );
            }
            "hang" => {
                assert_eq!(*status, 403, "{body}");
                assert!(
                    body["error_description"]
                        .as_str()
                        .unwrap()
                        .contains("never finished"),
                    "{body}"
                );
            }
            ok => {
                assert_eq!(*status, 200, "{ok}: {body}");
                let id = verified(&s, body["id_token"].as_str().unwrap()).await;
                assert_eq!(id[format!("{NS}/ok")], ok);
            }
        }
    }
    // Bounded: the loop is stopped at its limit, not left to hold the login forever.
    assert!(elapsed < std::time::Duration::from_secs(30), "{elapsed:?}");
    let logs = s.get("/api/v2/logs?q=type:f&per_page=50").await;
    let text = logs.assert_status(200).to_string();
    assert!(
        text.contains("The action 'Flaky CRM' failed: The CRM is down"),
        "{text}"
    );
}

const EXCHANGE_ACTION: &str = r#"exports.onExecuteCredentialsExchange = async (event, api) => {
  if (event.client.metadata.tier === 'suspended') {
    api.access.deny('unauthorized_client', 'This client is suspended');
    return;
  }
  api.accessToken.setCustomClaim('https://gatehouse.example/tier', event.client.metadata.tier);
  api.accessToken.setCustomClaim('https://gatehouse.example/api', event.resource_server.identifier);
  api.accessToken.setCustomClaim('gty', 'forged');
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn credentials_exchange_actions_add_claims_or_deny() {
    let mut s = TestServer::start().await;
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://api.example", "scopes": [{"value": "read:things"}]}),
    )
    .await
    .assert_status(201);
    let (gold, gold_secret) = app(&mut s, json!({"tier": "gold"})).await;
    let (suspended, suspended_secret) = app(&mut s, json!({"tier": "suspended"})).await;
    for c in [&gold, &suspended] {
        s.post(
            "/api/v2/client-grants",
            json!({"client_id": c, "audience": "https://api.example", "scope": ["read:things"]}),
        )
        .await
        .assert_status(201);
    }
    deployed_action(
        &mut s,
        "Tiers",
        "credentials-exchange",
        EXCHANGE_ACTION,
        json!([]),
    )
    .await;
    bind(&mut s, "credentials-exchange", &["Tiers"]).await;

    let exchange = |cid: &str, secret: &str| {
        json!({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret,
               "audience": "https://api.example"})
    };
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(exchange(&gold, &gold_secret)),
        )
        .await;
    let token = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let claims = verified(&s, &token).await;
    assert_eq!(claims[format!("{NS}/tier")], "gold");
    assert_eq!(claims[format!("{NS}/api")], "https://api.example");
    assert_eq!(
        claims["gty"], "client-credentials",
        "a restricted claim is dropped"
    );
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(exchange(&suspended, &suspended_secret)),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    assert_eq!(r.body["error"], "unauthorized_client");
    assert_eq!(r.body["error_description"], "This client is suspended");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_management_api_keeps_actions_versions_and_bindings() {
    let mut s = TestServer::start().await;
    let triggers = s.get("/api/v2/actions/triggers").await;
    let ids: Vec<&str> = triggers.assert_status(200)["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "post-login",
            "credentials-exchange",
            "pre-user-registration",
            "post-user-registration",
            "post-change-password"
        ]
    );

    let body = |name: &str| {
        json!({"name": name, "supported_triggers": [{"id": "post-login"}],
               "code": "exports.onExecutePostLogin = async (event, api) => { console.log('hi ' + event.secrets.K); api.idToken.setCustomClaim('https://x.example/a', 1); };",
               "secrets": [{"name": "K", "value": "top-secret-value"}]})
    };
    let created = s
        .post("/api/v2/actions/actions", body("Ünïcode action"))
        .await;
    let created = created.assert_status(201).clone();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["runtime"], "node22");
    assert_eq!(created["all_changes_deployed"], false);
    assert!(!created.to_string().contains("top-secret-value"));
    s.post("/api/v2/actions/actions", body("Ünïcode action"))
        .await
        .assert_error(409, "auth0_idp_error");

    // Refusals, each with Auth0's error shape, and nothing created.
    let bad = [
        json!({"name": "deps", "supported_triggers": [{"id": "post-login"}], "dependencies": [{"name": "lodash", "version": "4.17.21"}]}),
        json!({"name": "syntax", "supported_triggers": [{"id": "post-login"}], "code": "exports.onExecutePostLogin = async (event, api) => {\n  api.idToken.setCustomClaim('x', ;\n};"}),
        json!({"name": "trigger", "supported_triggers": [{"id": "send-phone-message"}]}),
        json!({"name": "secret", "supported_triggers": [{"id": "post-login"}], "secrets": [{"name": "A", "value": "x".repeat(4097)}]}),
        json!({"supported_triggers": [{"id": "post-login"}]}),
    ];
    for b in bad {
        let message = s
            .post("/api/v2/actions/actions", b.clone())
            .await
            .assert_error(400, "invalid_body");
        assert!(!message.is_empty(), "{b}");
    }
    let syntax = s
        .post("/api/v2/actions/actions", json!({"name": "syntax", "supported_triggers": [{"id": "post-login"}],
            "code": "exports.onExecutePostLogin = async (event, api) => {\n  api.idToken.setCustomClaim('x', ;\n};"}))
        .await
        .assert_error(400, "invalid_body");
    assert!(syntax.contains("line 2"), "{syntax}");
    let listed = s.get("/api/v2/actions/actions").await;
    assert_eq!(listed.assert_status(200)["total"], 1);

    // Binding needs a deployed version.
    let r = s
        .patch(
            "/api/v2/actions/triggers/post-login/bindings",
            json!({"bindings": [{"ref": {"type": "action_id", "value": id}}]}),
        )
        .await;
    assert!(
        r.assert_error(400, "invalid_body")
            .contains("has not been deployed")
    );

    // The test run shows the commands and the console with the secret masked.
    let trial = s
        .post(
            &format!("/api/v2/actions/actions/{id}/test"),
            json!({"payload": {"user": {"user_id": "auth0|1", "user_metadata": {}, "app_metadata": {}}}}),
        )
        .await;
    let trial = trial.assert_status(200).clone();
    assert_eq!(
        trial["payload"]["commands"]["id_claims"]["https://x.example/a"],
        1
    );
    assert!(!trial.to_string().contains("top-secret-value"), "{trial}");
    assert!(trial["payload"]["logs"].as_str().unwrap().contains("hi "));

    // Versions: each deployment is numbered; an earlier one can be deployed again.
    let v1 = s
        .post(&format!("/api/v2/actions/actions/{id}/deploy"), json!({}))
        .await;
    let v1 = v1.assert_status(202).clone();
    assert_eq!(
        (v1["number"].clone(), v1["deployed"].clone()),
        (json!(1), json!(true))
    );
    s.patch(
        &format!("/api/v2/actions/actions/{id}"),
        json!({"code": "exports.onExecutePostLogin = async () => {};", "secrets": [{"name": "K"}]}),
    )
    .await
    .assert_status(200);
    let read = s.get(&format!("/api/v2/actions/actions/{id}")).await;
    assert_eq!(read.assert_status(200)["all_changes_deployed"], false);
    let v2 = s
        .post(&format!("/api/v2/actions/actions/{id}/deploy"), json!({}))
        .await;
    assert_eq!(v2.assert_status(202)["number"], 2);
    let versions = s
        .get(&format!("/api/v2/actions/actions/{id}/versions"))
        .await;
    let versions = versions.assert_status(200).clone();
    assert_eq!(versions["total"], 2);
    assert_eq!(versions["versions"][0]["number"], 2);
    assert_eq!(versions["versions"][1]["deployed"], false);
    let v1_id = v1["id"].as_str().unwrap();
    let again = s
        .post(
            &format!("/api/v2/actions/actions/{id}/versions/{v1_id}/deploy"),
            json!({}),
        )
        .await;
    assert_eq!(again.assert_status(202)["deployed"], true);

    // Bound: deleting needs force, which removes the binding.
    bind(&mut s, "post-login", &["Ünïcode action"]).await;
    s.delete(&format!("/api/v2/actions/actions/{id}"))
        .await
        .assert_error(409, "auth0_idp_error");
    let r = s
        .raw(
            Method::DELETE,
            &format!("/api/v2/actions/actions/{id}?force=true"),
            Some(&s.token_with_scope(None).await),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    let bindings = s.get("/api/v2/actions/triggers/post-login/bindings").await;
    assert_eq!(bindings.assert_status(200)["total"], 0);
    s.get(&format!("/api/v2/actions/actions/{id}"))
        .await
        .assert_error(404, "inexistent_action");
    s.get("/api/v2/actions/triggers/send-phone-message/bindings")
        .await
        .assert_error(404, "inexistent_trigger");
}

/// One of Auth0's published actions, unchanged (tests/fixtures/actions/README.md names where
/// each comes from).
fn published(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../tests/fixtures/actions/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

#[tokio::test(flavor = "multi_thread")]
async fn auth0s_published_actions_run_unchanged() {
    let mut s = TestServer::start().await;
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "My SPA", "app_type": "regular_web", "callbacks": [CALLBACK],
                   "grant_types": [REALM, "client_credentials"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://api.example", "scopes": [{"value": "foo"}, {"value": "bar"}]}),
    )
    .await
    .assert_status(201);
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": cid, "audience": "https://api.example", "scope": ["foo"]}),
    )
    .await
    .assert_status(201);
    let ada = s
        .create_user(
            "ada@example.org",
            json!({"email_verified": true,
                   "user_metadata": {"favorite_color": "vert émeraude", "preferred_contact": "email"}}),
        )
        .await;
    s.create_user("bob@example.com", json!({"email_verified": true}))
        .await;
    s.create_user("cy@example.org", json!({"email_verified": false}))
        .await;
    s.create_user("dee@evil.example", json!({"email_verified": true}))
        .await;
    let role = s
        .post("/api/v2/roles", json!({"name": "Rédacteur"}))
        .await
        .assert_status(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(
        &format!(
            "/api/v2/users/{}/roles",
            enc(ada["user_id"].as_str().unwrap())
        ),
        json!({"roles": [role]}),
    )
    .await
    .assert_status(204);

    let chain = [
        (
            "Email verified",
            "template-email-verified-post-login.js",
            json!([]),
        ),
        (
            "Deny for My SPA",
            "post-login-deny-email-domain-for-client.js",
            json!([]),
        ),
        (
            "Domain allow-list",
            "template-simple-domain-allowlist-post-login.js",
            json!([{"name": "ALLOWED_DOMAINS", "value": "example.org, Example.com"}]),
        ),
        (
            "Roles in tokens",
            "post-login-add-roles-to-tokens.js",
            json!([]),
        ),
        (
            "Metadata claims",
            "post-login-user-metadata-claims.js",
            json!([]),
        ),
        (
            "Claims and scopes",
            "post-login-custom-claims-and-scopes.js",
            json!([]),
        ),
        (
            "Email in access token",
            "template-add-email-to-access-token-post-login.js",
            json!([{"name": "NAMESPACE", "value": "https://ns.example"}]),
        ),
    ];
    for (name, file, secrets) in &chain {
        deployed_action(
            &mut s,
            name,
            "post-login",
            &published(file),
            secrets.clone(),
        )
        .await;
    }
    let names: Vec<&str> = chain.iter().map(|(n, _, _)| *n).collect();
    bind(&mut s, "post-login", &names).await;
    deployed_action(
        &mut s,
        "Request IP",
        "credentials-exchange",
        &published("credentials-exchange-request-ip-claim.js"),
        json!([]),
    )
    .await;
    bind(&mut s, "credentials-exchange", &["Request IP"]).await;

    let extra = json!({"audience": "https://api.example", "scope": "openid foo"});
    let ok = realm_login(&s, &cid, &secret, "ada@example.org", extra.clone()).await;
    let ok = ok.assert_status(200).clone();
    let id = verified(&s, ok["id_token"].as_str().unwrap()).await;
    let access = verified(&s, ok["access_token"].as_str().unwrap()).await;
    assert_eq!(id["https://my-app.example.com/roles"], json!(["Rédacteur"]));
    assert_eq!(
        access["https://my-app.example.com/roles"],
        json!(["Rédacteur"])
    );
    assert_eq!(
        id["https://myapp.example.com/favorite_color"],
        "vert émeraude"
    );
    assert_eq!(id["https://myapp.example.com/preferred_contact"], "email");
    assert_eq!(access["https://foo/bar"], "value");
    assert_eq!(id["https://fiz/baz"], "some other value");
    assert_eq!(access["https://ns.example/email"], "ada@example.org");
    let scopes: Vec<&str> = access["scope"].as_str().unwrap().split(' ').collect();
    assert!(
        scopes.contains(&"foo") && scopes.contains(&"bar"),
        "{scopes:?}"
    );

    for (user, reason) in [
        ("bob@example.com", "Access to My SPA is not allowed."),
        (
            "cy@example.org",
            "Please verify your email before logging in.",
        ),
        ("dee@evil.example", "Email domain is prohibited"),
    ] {
        let r = realm_login(&s, &cid, &secret, user, extra.clone()).await;
        assert_eq!(r.status.as_u16(), 403, "{user}: {}", r.body);
        assert_eq!(r.body["error"], "access_denied");
        assert_eq!(r.body["error_description"], reason, "{user}");
    }

    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret,
                        "audience": "https://api.example"})),
        )
        .await;
    let token = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let claims = verified(&s, &token).await;
    assert_eq!(
        claims["https://my-api.exampleco.com/request-ip"],
        "127.0.0.1"
    );
}

/// Rules in order 1, 2, 3 (created out of order), one disabled that would fail every login.
const RULE_FIRST: &str = r#"function first(user, context, callback) {
  context.idToken['https://gatehouse.example/order'] = ['first'];
  callback(null, user, context);
}"#;

const RULE_SECOND: &str = r#"function second(user, context, callback) {
  const ns = 'https://gatehouse.example/';
  context.idToken[ns + 'order'].push('second');
  // app_metadata's keys are also on the user's root, as in Auth0.
  context.idToken[ns + 'plan'] = user.plan;
  context.accessToken[ns + 'greeting'] = configuration.GREETING;
  context.idToken[ns + 'protocol'] = context.protocol;
  context.idToken['sub'] = 'auth0|forged';
  user.user_metadata = user.user_metadata || {};
  user.user_metadata.rule_runs = (user.user_metadata.rule_runs || 0) + 1;
  auth0.users.updateUserMetadata(user.user_id, user.user_metadata)
    .then(function () { callback(null, user, context); })
    .catch(function (err) { callback(err); });
}"#;

const RULE_THIRD: &str = r#"function third(user, context, callback) {
  if (context.clientName === 'Blocked app') {
    return callback(new UnauthorizedError('Blocked by a rule for ' + context.clientName));
  }
  if (context.clientMetadata.narrow === 'yes') {
    context.accessToken.scope = ['read:things'];
  }
  callback(null, user, context);
}"#;

const RULE_DISABLED: &str =
    "function broken(user, context, callback) { callback(new Error('must never run')); }";

const AFTER_RULES_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://gatehouse.example/rule_runs_seen', event.user.user_metadata.rule_runs);
};"#;

#[tokio::test(flavor = "multi_thread")]
async fn rules_run_in_order_before_actions() {
    let mut s = TestServer::start().await;
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://api.example",
               "scopes": [{"value": "read:things"}, {"value": "write:things"}]}),
    )
    .await
    .assert_status(201);
    let (cid, secret) = app(&mut s, json!({"narrow": "yes"})).await;
    let blocked = s
        .post(
            "/api/v2/clients",
            json!({"name": "Blocked app", "callbacks": [CALLBACK],
                   "grant_types": [REALM, "authorization_code"]}),
        )
        .await;
    let blocked = blocked.assert_status(201).clone();
    let user = s
        .create_user(
            "rita@example.com",
            json!({"app_metadata": {"plan": "gold"}}),
        )
        .await;
    let uid = user["user_id"].as_str().unwrap().to_string();

    for (name, script, order, enabled) in [
        ("Third", RULE_THIRD, 30, true),
        ("First", RULE_FIRST, 10, true),
        ("Broken", RULE_DISABLED, 5, false),
        ("Second", RULE_SECOND, 20, true),
    ] {
        let r = s
            .post(
                "/api/v2/rules",
                json!({"name": name, "script": script, "order": order, "enabled": enabled}),
            )
            .await;
        let r = r.assert_status(201);
        assert_eq!(r["stage"], "login_success");
        assert!(r["id"].as_str().unwrap().starts_with("rul_"));
    }
    s.put_json(
        "/api/v2/rules-configs/GREETING",
        json!({"value": "Grüß dich"}),
    )
    .await
    .assert_status(200);
    deployed_action(
        &mut s,
        "After rules",
        "post-login",
        AFTER_RULES_ACTION,
        json!([]),
    )
    .await;
    bind(&mut s, "post-login", &["After rules"]).await;

    let r = realm_login(
        &s,
        &cid,
        &secret,
        "rita@example.com",
        json!({"audience": "https://api.example", "scope": "openid read:things write:things"}),
    )
    .await;
    let body = r.assert_status(200).clone();
    let id = verified(&s, body["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/order")], json!(["first", "second"]));
    assert_eq!(id[format!("{NS}/plan")], "gold");
    assert_eq!(id[format!("{NS}/protocol")], "oauth2-password");
    assert_eq!(id["sub"], uid.as_str(), "a restricted claim is dropped");
    assert_eq!(
        id[format!("{NS}/rule_runs_seen")],
        1,
        "actions run after rules"
    );
    let access = verified(&s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(access[format!("{NS}/greeting")], "Grüß dich");
    assert_eq!(
        access["scope"], "read:things",
        "context.accessToken.scope replaces the scope"
    );
    let stored = s.get(&format!("/api/v2/users/{}", enc(&uid))).await;
    assert_eq!(stored.assert_status(200)["user_metadata"]["rule_runs"], 1);

    // UnauthorizedError goes to the application as `unauthorized`, with the rule's message.
    let r = realm_login(
        &s,
        blocked["client_id"].as_str().unwrap(),
        blocked["client_secret"].as_str().unwrap(),
        "rita@example.com",
        json!({}),
    )
    .await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.body);
    assert_eq!(r.body["error"], "unauthorized");
    assert_eq!(
        r.body["error_description"],
        "Blocked by a rule for Blocked app"
    );
    let url = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        blocked["client_id"].as_str().unwrap(),
        enc(CALLBACK)
    );
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    let answer = b.submit_login(&page, "rita@example.com", PASSWORD).await;
    assert_eq!(
        answer.callback_param("error").as_deref(),
        Some("unauthorized")
    );
    assert_eq!(answer.callback_param("state").as_deref(), Some("s1"));

    // The rules-config value is never read back.
    let keys = s.get("/api/v2/rules-configs").await;
    assert_eq!(
        keys.assert_status(200).clone(),
        json!([{"key": "GREETING"}])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_api_answers_as_auth0s() {
    let mut s = TestServer::start().await;
    let script = "function (user, context, callback) { callback(null, user, context); }";
    let a = s
        .post("/api/v2/rules", json!({"name": "Rule A", "script": script}))
        .await;
    let a = a.assert_status(201).clone();
    assert_eq!(
        (a["order"].clone(), a["enabled"].clone()),
        (json!(1), json!(true))
    );
    let b = s
        .post("/api/v2/rules", json!({"name": "Rule-B", "script": script}))
        .await;
    assert_eq!(b.assert_status(201)["order"], 2, "a new rule goes last");
    let taken_name = s
        .post(
            "/api/v2/rules",
            json!({"name": "Rule A", "script": script, "order": 9}),
        )
        .await
        .assert_error(409, "auth0_idp_error");
    assert!(taken_name.contains("same name"), "{taken_name}");
    let taken_order = s
        .post(
            "/api/v2/rules",
            json!({"name": "Rule C", "script": script, "order": 1}),
        )
        .await
        .assert_error(409, "auth0_idp_error");
    assert!(taken_order.contains("same order"), "{taken_order}");
    for bad in [
        json!({"name": "Règle", "script": script}),
        json!({"name": "ok", "script": "function (user, context, callback) {"}),
        json!({"name": "ok", "script": script, "stage": "pre_authorize"}),
        json!({"name": "ok"}),
    ] {
        s.post("/api/v2/rules", bad)
            .await
            .assert_error(400, "invalid_body");
    }
    let id = a["id"].as_str().unwrap();
    let patched = s
        .patch(
            &format!("/api/v2/rules/{id}"),
            json!({"enabled": false, "order": 7}),
        )
        .await;
    assert_eq!(patched.assert_status(200)["enabled"], false);
    let enabled = s
        .get("/api/v2/rules?enabled=true&include_totals=true")
        .await;
    let enabled = enabled.assert_status(200).clone();
    assert_eq!(enabled["total"], 1);
    assert_eq!(enabled["rules"][0]["name"], "Rule-B");
    let only = s
        .get(&format!("/api/v2/rules/{id}?fields=name,order"))
        .await;
    assert_eq!(
        only.assert_status(200).clone(),
        json!({"name": "Rule A", "order": 7})
    );
    s.delete(&format!("/api/v2/rules/{id}"))
        .await
        .assert_status(204);
    s.get(&format!("/api/v2/rules/{id}"))
        .await
        .assert_error(404, "inexistent_rule");
    s.put_json("/api/v2/rules-configs/bad%20key", json!({"value": "x"}))
        .await
        .assert_error(400, "invalid_body");
    s.delete("/api/v2/rules-configs/MISSING")
        .await
        .assert_error(404, "inexistent_rules_config");
}

/// Asks for the user's company on an external page the first time (progressive profiling
/// through Auth0's redirect contract), then resumes.
const PROFILE_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  if (event.user.user_metadata.company) {
    return;
  }
  const token = api.redirect.encodeToken({
    secret: event.secrets.SHARED,
    expiresInSeconds: 60,
    payload: { continue_uri: `https://${event.request.hostname}/continue` },
  });
  api.redirect.sendUserTo('https://profile.example/ask', {
    query: { session_token: token, fields: 'company' },
  });
};

exports.onContinuePostLogin = async (event, api) => {
  const payload = api.redirect.validateToken({
    secret: event.secrets.SHARED,
    tokenParameterName: 'profile_token',
  });
  api.user.setUserMetadata('company', payload.company);
  api.idToken.setCustomClaim('https://gatehouse.example/company', payload.company);
};
"#;

const AFTER_PROFILE_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://gatehouse.example/after', event.user.user_metadata.company || 'none');
};"#;

/// An HS256 token as the external page makes it.
fn hs256(secret: &str, claims: &Value) -> String {
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = ring::hmac::sign(&key, format!("{head}.{body}").as_bytes());
    format!("{head}.{body}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_redirect_resumes_at_continue_even_from_another_site() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(&mut s, json!({})).await;
    let shared = "shared-secret-Ωmega-123";
    let ada = s.create_user("ada@example.com", json!({})).await;
    s.create_user("bo@example.com", json!({})).await;
    deployed_action(
        &mut s,
        "Ask for company",
        "post-login",
        PROFILE_ACTION,
        json!([{"name": "SHARED", "value": shared}]),
    )
    .await;
    deployed_action(
        &mut s,
        "After profile",
        "post-login",
        AFTER_PROFILE_ACTION,
        json!([]),
    )
    .await;
    bind(&mut s, "post-login", &["Ask for company", "After profile"]).await;
    let url = format!(
        "/authorize?response_type=code&client_id={cid}&redirect_uri={}&scope=openid&state=app-state-1",
        enc(CALLBACK)
    );

    // The login goes to the external page with the action's query and `state`.
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    let away = b.submit_login(&page, "ada@example.com", PASSWORD).await;
    let location = away.location.clone().expect("sent away");
    assert!(
        location.starts_with("https://profile.example/ask?"),
        "{location}"
    );
    assert_eq!(away.callback_param("fields").as_deref(), Some("company"));
    let state = away.callback_param("state").expect("state");
    let session_token = away.callback_param("session_token").expect("session_token");
    // The action's token is HS256 with the shared secret and bound to this state.
    let parts: Vec<&str> = session_token.split('.').collect();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, shared.as_bytes());
    ring::hmac::verify(
        &key,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
    .expect("signed with the shared secret");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["state"], state.as_str());
    assert_eq!(claims["sub"], ada["user_id"]);
    assert!(claims["exp"].as_i64().unwrap() <= now_seconds() + 61);

    // The external site posts back from another origin: no cookie comes with it.
    let answer = hs256(
        shared,
        &json!({"state": state, "company": "Ünïcode GmbH", "exp": now_seconds() + 60}),
    );
    let cross_site = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resumed = cross_site
        .post(format!("{}/continue", s.url))
        .form(&[
            ("state", state.as_str()),
            ("profile_token", answer.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status().as_u16(), 302);
    let callback = resumed.headers()["location"].to_str().unwrap().to_string();
    let code =
        common::browser::param(&callback, "code").unwrap_or_else(|| panic!("a code: {callback}"));
    assert_eq!(
        common::browser::param(&callback, "state").as_deref(),
        Some("app-state-1")
    );
    let tokens = exchange_code(&s, &cid, &secret, &code).await;
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/company")], "Ünïcode GmbH");
    assert_eq!(
        id[format!("{NS}/after")],
        "Ünïcode GmbH",
        "later actions ran after the resume"
    );
    let stored = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(ada["user_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(
        stored.assert_status(200)["user_metadata"]["company"],
        "Ünïcode GmbH"
    );

    // The state is single-use.
    let again = cross_site
        .post(format!("{}/continue", s.url))
        .form(&[
            ("state", state.as_str()),
            ("profile_token", answer.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 400);

    // A token signed with another secret, or expired, fails the login at the callback.
    for (forged, why) in [(true, "invalid signature"), (false, "has expired")] {
        let mut b = Browser::new(&s.url);
        let page = b.visit(&url).await;
        let away = b.submit_login(&page, "bo@example.com", PASSWORD).await;
        let state = away.callback_param("state").expect("state");
        let token = if forged {
            hs256(
                "not-the-secret",
                &json!({"state": state, "company": "Evil", "exp": now_seconds() + 60}),
            )
        } else {
            hs256(
                shared,
                &json!({"state": state, "company": "Late", "exp": now_seconds() - 5}),
            )
        };
        let p = b
            .post_form("/continue", &[("state", &state), ("profile_token", &token)])
            .await;
        assert_eq!(
            p.callback_param("error").as_deref(),
            Some("access_denied"),
            "{why}"
        );
        let description = p.callback_param("error_description").unwrap();
        assert!(description.contains(why), "{description}");
        assert!(p.callback_param("code").is_none());
    }

    // A silent login that an action would redirect answers interaction_required.
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    b.submit_login(&page, "bo@example.com", PASSWORD).await;
    let silent = b.get(&format!("{url}&prompt=none")).await;
    assert_eq!(
        silent.callback_param("error").as_deref(),
        Some("interaction_required")
    );
    assert_eq!(
        silent.callback_param("state").as_deref(),
        Some("app-state-1")
    );

    // Token grants cannot redirect: the action's sendUserTo fails that login.
    let r = realm_login(&s, &cid, &secret, "bo@example.com", json!({})).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("cannot be redirected"),
        "{}",
        r.body
    );
}

/// Links the identity logging in to the primary user (Auth0's "link accounts with the same
/// verified email", through the Management API with a client's credentials kept in the
/// action's secrets), then makes this login the primary's.
const LINK_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  if (event.user.user_id === event.secrets.PRIMARY || !event.user.email_verified) {
    return;
  }
  const base = event.secrets.BASE;
  const token = await fetch(base + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: event.secrets.CLIENT_ID,
      client_secret: event.secrets.CLIENT_SECRET, audience: base + '/api/v2/' }),
  }).then((r) => r.json());
  const linked = await fetch(`${base}/api/v2/users/${encodeURIComponent(event.secrets.PRIMARY)}/identities`, {
    method: 'POST',
    headers: { authorization: 'Bearer ' + token.access_token, 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'auth0', user_id: event.user.user_id.split('|')[1] }),
  });
  if (!linked.ok) {
    throw new Error('linking failed: ' + linked.status);
  }
  api.user.setUserMetadata('lost', true);
  api.authentication.setPrimaryUser(event.secrets.PRIMARY);
};"#;

#[tokio::test(flavor = "multi_thread")]
async fn set_primary_user_moves_the_login_to_the_identity_it_was_linked_to() {
    let mut s = TestServer::start_with(|c| c.script_allowed_hosts = vec!["127.0.0.1".into()]).await;
    let (cid, secret) = app(&mut s, json!({})).await;
    let primary = s
        .create_user(
            "main@example.com",
            json!({"email_verified": true, "name": "Main"}),
        )
        .await;
    let primary_id = primary["user_id"].as_str().unwrap().to_string();
    let other = s
        .create_user("second@example.com", json!({"email_verified": true}))
        .await;
    s.create_user("unverified@example.com", json!({"email_verified": false}))
        .await;
    let (m2m, m2m_secret) = s.app_with_grants(&["client_credentials"]).await;
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": m2m, "audience": format!("{}/api/v2/", s.url), "scope": ["update:users"]}),
    )
    .await
    .assert_status(201);
    let base = s.url.clone();
    deployed_action(
        &mut s,
        "Link accounts",
        "post-login",
        LINK_ACTION,
        json!([
            {"name": "BASE", "value": base},
            {"name": "PRIMARY", "value": primary_id},
            {"name": "CLIENT_ID", "value": m2m},
            {"name": "CLIENT_SECRET", "value": m2m_secret},
        ]),
    )
    .await;
    bind(&mut s, "post-login", &["Link accounts"]).await;

    let r = realm_login(
        &s,
        &cid,
        &secret,
        "second@example.com",
        json!({"scope": "openid profile"}),
    )
    .await;
    let body = r.assert_status(200).clone();
    let id = verified(&s, body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        id["sub"],
        primary_id.as_str(),
        "the tokens are the primary user's"
    );
    assert_eq!(id["name"], "Main");
    let stored = s.get(&format!("/api/v2/users/{}", enc(&primary_id))).await;
    let stored = stored.assert_status(200).clone();
    let linked: Vec<&str> = stored["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect();
    let other_id = other["user_id"].as_str().unwrap();
    assert!(
        linked.contains(&other_id.trim_start_matches("auth0|")),
        "{linked:?}"
    );
    assert!(stored["user_metadata"].get("lost").is_none(), "{stored}");

    // Naming a primary the identity is not linked to fails the login.
    let bad = r#"exports.onExecutePostLogin = async (event, api) => {
      api.authentication.setPrimaryUser(event.secrets.PRIMARY);
    };"#;
    let patched = s
        .post(
            "/api/v2/actions/actions",
            json!({"name": "Bad primary", "supported_triggers": [{"id": "post-login"}],
            "code": bad, "secrets": [{"name": "PRIMARY", "value": primary_id}]}),
        )
        .await;
    let bad_id = patched.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(
        &format!("/api/v2/actions/actions/{bad_id}/deploy"),
        json!({}),
    )
    .await
    .assert_status(202);
    bind(&mut s, "post-login", &["Bad primary"]).await;
    let r = realm_login(&s, &cid, &secret, "unverified@example.com", json!({})).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("is not linked to"),
        "{}",
        r.body
    );
}

/// docs/actions.md's progressive-profiling example: from the second login, ask for what is
/// missing on Gatehouse's own `/u/profile` page.
const PROFILING_ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  if (event.stats.logins_count < 2) {
    return;
  }
  const wanted = ['company', 'job_title'].filter((f) => !event.user.user_metadata[f] && !event.user[f]);
  if (wanted.length === 0 || !api.redirect.canRedirect()) {
    return;
  }
  api.redirect.sendUserTo('/u/profile', { query: { fields: wanted.join(',') } });
};

exports.onContinuePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://gatehouse.example/company', event.user.user_metadata.company);
};"#;

#[tokio::test(flavor = "multi_thread")]
async fn progressive_profiling_asks_on_the_second_login_for_what_is_missing() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(&mut s, json!({})).await;
    let ada = s.create_user("ada@example.com", json!({})).await;
    s.create_user(
        "bo@example.com",
        json!({"user_metadata": {"company": "Known Ltd"}}),
    )
    .await;
    deployed_action(
        &mut s,
        "Profiling",
        "post-login",
        PROFILING_ACTION,
        json!([]),
    )
    .await;
    bind(&mut s, "post-login", &["Profiling"]).await;
    let url = format!(
        "/authorize?response_type=code&client_id={cid}&redirect_uri={}&scope=openid&state=p1",
        enc(CALLBACK)
    );
    let server = s.url.clone();
    let login = |who: &'static str| {
        let base = server.clone();
        let url = url.clone();
        async move {
            let mut b = Browser::new(&base);
            let page = b.visit(&url).await;
            let after = b.submit_login(&page, who, PASSWORD).await;
            (b, after)
        }
    };

    // First login: nothing asked.
    let (_, first) = login("ada@example.com").await;
    assert!(
        first.callback_param("code").is_some(),
        "{:?}",
        first.location
    );

    // Second login: the page asks for both fields.
    let (mut b, page) = login("ada@example.com").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Company") && page.body.contains("Job title"),
        "{}",
        page.body
    );
    let state = page.input("state").unwrap();
    let csrf = page.input("_csrf").unwrap();
    let fields = page.input("fields").unwrap();
    assert_eq!(fields, "company,job_title");
    // Fields the page cannot show (markup, a path, more than it asks at once) are refused
    // with a page saying so; a posted form whose fields were changed is refused as stale.
    // The login still waits for the real answer.
    let many: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
    for bad in [
        "company,<b>x</b>",
        "../app_metadata",
        " , ",
        &many.join(","),
    ] {
        let refused = b
            .get(&format!(
                "/u/profile?state={}&fields={}",
                enc(&state),
                enc(bad)
            ))
            .await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
        assert!(
            refused.body.contains("asked for fields it cannot show"),
            "{bad}: {}",
            refused.body
        );
        assert!(!refused.body.contains("<b>x</b>"), "{bad}");
    }
    let tampered = b
        .post_form(
            "/u/profile",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("fields", "company,job title"),
                ("field_company", "X"),
            ],
        )
        .await;
    assert_ne!(tampered.status, 200, "{}", tampered.body);
    assert!(tampered.callback_param("code").is_none());
    // An empty answer shows the page again with the problem.
    let again = b
        .post_form(
            "/u/profile",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("fields", &fields),
                ("field_company", "  "),
                ("field_job_title", "Ingénieure"),
            ],
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(
        again.body.contains("Company is required."),
        "{}",
        again.body
    );
    // A forged CSRF token is refused.
    let forged = b
        .post_form(
            "/u/profile",
            &[
                ("state", &state),
                ("_csrf", "forged"),
                ("fields", &fields),
                ("field_company", "X"),
                ("field_job_title", "Y"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    let csrf = again.input("_csrf").unwrap();
    let done = b
        .post_form(
            "/u/profile",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("fields", &fields),
                ("field_company", "Ünïcode GmbH"),
                ("field_job_title", "Ingénieure"),
            ],
        )
        .await;
    let code = done
        .callback_param("code")
        .unwrap_or_else(|| panic!("{:?} {}", done.location, done.body));
    assert_eq!(done.callback_param("state").as_deref(), Some("p1"));
    let tokens = exchange_code(&s, &cid, &secret, &code).await;
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/company")], "Ünïcode GmbH");
    let stored = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(ada["user_id"].as_str().unwrap())
        ))
        .await;
    let metadata = stored.assert_status(200)["user_metadata"].clone();
    assert_eq!(
        metadata,
        json!({"company": "Ünïcode GmbH", "job_title": "Ingénieure"})
    );

    // Third login: nothing left to ask.
    let (_, third) = login("ada@example.com").await;
    assert!(
        third.callback_param("code").is_some(),
        "{:?}",
        third.location
    );

    // A user who has a company is asked only for the job title.
    login("bo@example.com").await;
    let (_, page) = login("bo@example.com").await;
    assert_eq!(page.input("fields").as_deref(), Some("job_title"));
    assert!(!page.body.contains("field_company"));
}

const PRE_REGISTRATION_ACTION: &str = r#"exports.onExecutePreUserRegistration = async (event, api) => {
  if (event.user.email.endsWith('@blocked.example')) {
    api.access.deny('domain_blocked', 'Sign-ups from this domain are closed.');
    return;
  }
  api.user.setUserMetadata('source', `sign-up via ${event.client.name}`);
  api.user.setAppMetadata('plan', 'trial');
};"#;

/// What a notification action does in practice: calls the Management API (here, marks the
/// user) with a client's credentials from its secrets.
fn marking_action(handler: &str, mark: &str) -> String {
    format!(
        r#"exports.{handler} = async (event, api) => {{
  const base = event.secrets.BASE;
  const token = await fetch(base + '/oauth/token', {{
    method: 'POST',
    headers: {{ 'content-type': 'application/json' }},
    body: JSON.stringify({{ grant_type: 'client_credentials', client_id: event.secrets.CLIENT_ID,
      client_secret: event.secrets.CLIENT_SECRET, audience: base + '/api/v2/' }}),
  }}).then((r) => r.json());
  const r = await fetch(`${{base}}/api/v2/users/${{encodeURIComponent(event.user.user_id)}}`, {{
    method: 'PATCH',
    headers: {{ authorization: 'Bearer ' + token.access_token, 'content-type': 'application/json' }},
    body: JSON.stringify({{ app_metadata: {{ {mark}: true }} }}),
  }});
  if (!r.ok) throw new Error('marking failed: ' + r.status);
}};"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_and_password_change_triggers_run() {
    let mut s = TestServer::start_with(|c| c.script_allowed_hosts = vec!["127.0.0.1".into()]).await;
    let (cid, _) = app(&mut s, json!({})).await;
    let (m2m, m2m_secret) = s.app_with_grants(&["client_credentials"]).await;
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": m2m, "audience": format!("{}/api/v2/", s.url), "scope": ["update:users"]}),
    )
    .await
    .assert_status(201);
    let secrets = json!([
        {"name": "BASE", "value": s.url.clone()},
        {"name": "CLIENT_ID", "value": m2m},
        {"name": "CLIENT_SECRET", "value": m2m_secret},
    ]);
    deployed_action(
        &mut s,
        "Gate sign-ups",
        "pre-user-registration",
        PRE_REGISTRATION_ACTION,
        json!([]),
    )
    .await;
    deployed_action(
        &mut s,
        "Welcome",
        "post-user-registration",
        &marking_action("onExecutePostUserRegistration", "welcomed"),
        secrets.clone(),
    )
    .await;
    deployed_action(
        &mut s,
        "Password changed",
        "post-change-password",
        &marking_action("onExecutePostChangePassword", "password_changed"),
        secrets,
    )
    .await;
    bind(&mut s, "pre-user-registration", &["Gate sign-ups"]).await;
    bind(&mut s, "post-user-registration", &["Welcome"]).await;
    bind(&mut s, "post-change-password", &["Password changed"]).await;

    let signup = |email: &str| {
        json!({"client_id": cid, "email": email, "password": PASSWORD,
               "connection": "Username-Password-Authentication"})
    };
    let r = s
        .raw(
            Method::POST,
            "/dbconnections/signup",
            None,
            Some(signup("Zoë@ok.example")),
        )
        .await;
    r.assert_status(200);
    let found = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("zoë@ok.example")
        ))
        .await;
    let user = found.assert_status(200)[0].clone();
    assert_eq!(user["user_metadata"]["source"], "sign-up via Shop Ünïcode");
    assert_eq!(user["app_metadata"]["plan"], "trial");
    assert_eq!(user["app_metadata"]["welcomed"], true, "{user}");

    // A denied sign-up: Auth0's error with the action's message, and no user.
    let r = s
        .raw(
            Method::POST,
            "/dbconnections/signup",
            None,
            Some(signup("eve@blocked.example")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_eq!(r.body["code"], "extensibility_error");
    assert_eq!(
        r.body["description"],
        "Sign-ups from this domain are closed."
    );
    let none = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("eve@blocked.example")
        ))
        .await;
    assert_eq!(none.assert_status(200).clone(), json!([]));
    let logs = s.get("/api/v2/logs?q=type:fs&per_page=10").await;
    assert!(
        logs.assert_status(200)
            .to_string()
            .contains("domain_blocked")
    );

    // A password change runs post-change-password.
    let uid = user["user_id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/users/{}", enc(&uid)),
        json!({"password": "An0ther-passw0rd!", "connection": "Username-Password-Authentication"}),
    )
    .await
    .assert_status(200);
    let after = s.get(&format!("/api/v2/users/{}", enc(&uid))).await;
    assert_eq!(
        after.assert_status(200)["app_metadata"]["password_changed"],
        true
    );
}

/// Auth0's "redirect for consent" as a rule: ask once, then record the answer when the rules
/// run again as `redirect-callback`.
const CONSENT_RULE: &str = r#"function askConsent(user, context, callback) {
  user.app_metadata = user.app_metadata || {};
  if (context.protocol === 'redirect-callback') {
    user.app_metadata.consented = context.request.body.answer === 'yes';
    context.idToken['https://gatehouse.example/consented'] = user.app_metadata.consented;
    auth0.users.updateAppMetadata(user.user_id, user.app_metadata)
      .then(function () { callback(null, user, context); })
      .catch(function (err) { callback(err); });
    return;
  }
  if (user.app_metadata.consented === undefined) {
    context.redirect = { url: 'https://consent.example/ask' };
  }
  context.idToken['https://gatehouse.example/consented'] = user.app_metadata.consented === true;
  callback(null, user, context);
}"#;

/// A rule that answers through the wrapper's own callback instead of its own.
const ODD_RULE: &str = r#"function odd(user, context, done) {
  if (context.clientName === 'Odd app') { return callback(null, 5); }
  done(null, user, context);
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_redirect_runs_the_rules_again_as_redirect_callback() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(&mut s, json!({})).await;
    let user = s.create_user("cleo@example.com", json!({})).await;
    for (name, script, order) in [("Consent", CONSENT_RULE, 1), ("Odd", ODD_RULE, 2)] {
        s.post(
            "/api/v2/rules",
            json!({"name": name, "script": script, "order": order}),
        )
        .await
        .assert_status(201);
    }
    deployed_action(
        &mut s,
        "After profile",
        "post-login",
        AFTER_PROFILE_ACTION,
        json!([]),
    )
    .await;
    bind(&mut s, "post-login", &["After profile"]).await;
    let url = format!(
        "/authorize?response_type=code&client_id={cid}&redirect_uri={}&scope=openid&state=r1",
        enc(CALLBACK)
    );
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    let away = b.submit_login(&page, "cleo@example.com", PASSWORD).await;
    let location = away.location.clone().expect("sent away");
    assert!(
        location.starts_with("https://consent.example/ask?state="),
        "{location}"
    );
    let state = away.callback_param("state").unwrap();
    let back = b
        .post_form("/continue", &[("state", &state), ("answer", "yes")])
        .await;
    let code = back
        .callback_param("code")
        .unwrap_or_else(|| panic!("{:?}", back.location));
    let tokens = exchange_code(&s, &cid, &secret, &code).await;
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/consented")], true);
    assert_eq!(
        id[format!("{NS}/after")],
        "none",
        "actions ran after the rules"
    );
    let stored = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(user["user_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(stored.assert_status(200)["app_metadata"]["consented"], true);
    // Asked once: the next login goes straight to the callback.
    let mut b = Browser::new(&s.url);
    let page = b.visit(&url).await;
    let again = b.submit_login(&page, "cleo@example.com", PASSWORD).await;
    assert!(
        again.callback_param("code").is_some(),
        "{:?}",
        again.location
    );
    // A password grant cannot redirect; the rule's redirect is not followed there.
    s.create_user("dan@example.com", json!({})).await;
    let r = realm_login(&s, &cid, &secret, "dan@example.com", json!({})).await;
    r.assert_status(200);

    // A rule answering through the wrapper's callback fails its login, never the server.
    let odd = s
        .post(
            "/api/v2/clients",
            json!({"name": "Odd app", "grant_types": [REALM]}),
        )
        .await;
    let odd = odd.assert_status(201).clone();
    let r = realm_login(
        &s,
        odd["client_id"].as_str().unwrap(),
        odd["client_secret"].as_str().unwrap(),
        "cleo@example.com",
        json!({}),
    )
    .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    assert_eq!(
        r.body["error_description"],
        "The rule 'Odd' answered something unreadable."
    );
}
