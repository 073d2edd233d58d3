//! Actions and rules in the admin dashboard over HTTP: created, edited, tested, deployed and
//! bound through the forms, with the Management API and real password-realm logins reading
//! the result; a Test or Try runs the code as edited, shows the changes and the tokens a login
//! would get and writes nothing; secrets and rules-config values are never shown again.

use crate::actions::{app, realm_login, verified};
use crate::admin_dashboard::{ADMIN_EMAIL, csrf, element_text, escaped, server, sign_in};
use crate::common;
use common::browser::{Browser, Page};
use serde_json::{Value, json};

const NS: &str = "https://gatehouse.example";
const CRM_KEY: &str = "sk_live_Ünïcode-7f3a9c";

/// The id at the end of a redirect to `/admin/{area}/{id}?…`.
fn id_in(page: &Page, area: &str) -> String {
    let loc = page.location.as_deref().expect("a redirect");
    let path = loc.split('?').next().unwrap_or(loc);
    let (_, id) = path
        .rsplit_once(&format!("/admin/{area}/"))
        .expect("to the new page");
    id.to_string()
}

/// The editor's form as the browser posts it: the token, the fields given.
fn with_token<'a>(token: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("_csrf", token)];
    form.extend_from_slice(fields);
    form
}

/// The action's JSON as the Management API reads it.
async fn action_json(s: &mut common::TestServer, id: &str) -> Value {
    s.get(&format!("/api/v2/actions/actions/{id}"))
        .await
        .assert_status(200)
        .clone()
}

/// The id of the action's version that runs.
async fn live_version(s: &mut common::TestServer, id: &str) -> String {
    let versions = s
        .get(&format!("/api/v2/actions/actions/{id}/versions"))
        .await
        .assert_status(200)
        .clone();
    let live: Vec<&Value> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["deployed"] == json!(true))
        .collect();
    assert_eq!(live.len(), 1, "{versions}");
    live[0]["id"].as_str().unwrap().to_string()
}

/// The names of the actions bound to post-login, in order.
async fn bound_names(s: &mut common::TestServer) -> Vec<String> {
    s.get("/api/v2/actions/triggers/post-login/bindings")
        .await
        .assert_status(200)["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action"]["name"].as_str().unwrap().to_string())
        .collect()
}

const TESTED_CODE: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://gatehouse.example/roles', event.authorization.roles);
  api.idToken.setCustomClaim('sub', 'auth0|someone-else');
  api.accessToken.setCustomClaim('https://gatehouse.example/plan', event.user.app_metadata.plan || 'basic');
  api.accessToken.addScope('read:reports');
  api.user.setUserMetadata('greeted', 'Hej Zoë');
  console.log('CRM key is ' + event.secrets.CRM_KEY);
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn actions_are_written_tested_deployed_and_ordered_in_the_dashboard() {
    let mut s = server().await;
    let user = s.create_user("ågot.lind@example.com", json!({})).await;
    let user_id = user["user_id"].as_str().unwrap().to_string();
    let (cid, secret) = app(&mut s, json!({})).await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    assert!(
        home.body.contains("href=\"/admin/actions\""),
        "{}",
        home.body
    );

    let list = b.get("/admin/actions").await;
    assert_eq!(list.status, 200, "{}", list.body);
    for t in [
        "post-login",
        "credentials-exchange",
        "pre-user-registration",
        "post-user-registration",
        "post-change-password",
    ] {
        assert!(
            list.body
                .contains(&format!("href=\"/admin/actions/triggers/{t}\"")),
            "{t}"
        );
    }
    assert!(list.body.contains("No actions yet."));

    // A name the API refuses: the list again with why, nothing created.
    let refused = b
        .post_form(
            "/admin/actions",
            &with_token(&token, &[("name", "  "), ("trigger", "post-login")]),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("String length must be between 1 and 255 characters"),
        "{}",
        refused.body
    );
    let unknown = b
        .post_form(
            "/admin/actions",
            &with_token(&token, &[("name", "x"), ("trigger", "pre-login")]),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(
        s.get("/api/v2/actions/actions").await.assert_status(200)["total"],
        json!(0)
    );

    // Created from its trigger's starter code, then opened.
    let created = b
        .post_form(
            "/admin/actions",
            &with_token(
                &token,
                &[("name", "Roles — Zoë"), ("trigger", "post-login")],
            ),
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let roles = id_in(&created, "actions");
    let page = b.follow(created).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Action created."), "{}", page.body);
    let starter = element_text(&page, "code", "</textarea>").unwrap();
    assert!(
        starter.contains("exports.onExecutePostLogin = async (event, api) => {"),
        "{starter}"
    );
    assert_eq!(
        action_json(&mut s, &roles).await["code"].as_str(),
        Some(starter.as_str())
    );
    // The example event is the trigger's, shaped as a real run's.
    let event = element_text(&page, "event", "</textarea>").unwrap();
    let example: Value = serde_json::from_str(&event).expect("the example event is JSON");
    assert_eq!(example["authorization"]["roles"], json!(["editor"]));
    assert_eq!(
        example["transaction"]["requested_scopes"][0],
        json!("openid")
    );

    // A secret: saved sealed, its value never on a page again.
    let path = format!("/admin/actions/{roles}");
    let saved = b
        .post_form(
            &path,
            &with_token(
                &token,
                &[
                    ("name", "Roles — Zoë"),
                    ("code", &starter),
                    ("secret_new_name", "CRM_KEY"),
                    ("secret_new_value", CRM_KEY),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = b.follow(saved).await;
    assert!(page.body.contains("<code>CRM_KEY</code>"), "{}", page.body);
    assert!(!page.body.contains(CRM_KEY));
    let stored = action_json(&mut s, &roles).await;
    assert_eq!(stored["secrets"][0]["name"], json!("CRM_KEY"));
    assert!(!stored.to_string().contains(CRM_KEY));

    // Test: the code as edited (CRLF, as browsers post it) runs on the event; the page shows
    // the tokens, the changes, the claim left out and the console with the secret masked.
    let edited = TESTED_CODE.replace('\n', "\r\n");
    let tested = b
        .post_form(
            &format!("{path}/test"),
            &with_token(
                &token,
                &[
                    ("name", "Roles — Zoë"),
                    ("code", &edited),
                    ("event", &event),
                ],
            ),
        )
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    let id_token: Value =
        serde_json::from_str(&element_text(&tested, "trial-id-token", "</pre>").unwrap()).unwrap();
    assert_eq!(id_token[format!("{NS}/roles")], json!(["editor"]));
    assert_eq!(id_token["sub"], example["user"]["user_id"]);
    assert_eq!(id_token["name"], json!("Zoë Ångström"));
    assert_eq!(id_token["aud"], json!("example-client-id"));
    let access: Value =
        serde_json::from_str(&element_text(&tested, "trial-access-token", "</pre>").unwrap())
            .unwrap();
    assert_eq!(access[format!("{NS}/plan")], json!("gold"));
    assert_eq!(access["aud"], json!("https://api.example.com"));
    assert_eq!(access["scope"], json!("openid profile email read:reports"));
    let dropped = element_text(&tested, "trial-dropped", "</p>").unwrap();
    assert!(dropped.contains("<code>sub</code>"), "{dropped}");
    let changes = element_text(&tested, "trial-changes", "</dl>").unwrap();
    assert!(changes.contains("Hej Zoë"), "{changes}");
    let console = element_text(&tested, "trial-console", "</pre>").unwrap();
    assert_eq!(console, "CRM key is [redacted]");
    assert!(!tested.body.contains(CRM_KEY));
    // What was typed is shown again as typed; nothing was saved or written.
    assert_eq!(
        element_text(&tested, "code", "</textarea>").as_deref(),
        Some(TESTED_CODE)
    );
    assert_eq!(
        action_json(&mut s, &roles).await["code"].as_str(),
        Some(starter.as_str())
    );
    assert_eq!(
        s.get(&format!("/api/v2/users/{}", common::enc(&user_id)))
            .await
            .assert_status(200)
            .get("user_metadata"),
        None
    );

    // A syntax error names its line; an event that is not JSON is refused before any run.
    let broken = "exports.onExecutePostLogin = async (event, api) => {\n  api.idToken.setCustomClaim('x', ;\n};";
    let tried = b
        .post_form(
            &format!("{path}/test"),
            &with_token(
                &token,
                &[("name", "x"), ("code", broken), ("event", &event)],
            ),
        )
        .await;
    assert_eq!(tried.status, 200, "{}", tried.body);
    let error = element_text(&tried, "trial-error", "</p>").unwrap();
    assert!(error.contains("(line 2)"), "{error}");
    let not_json = b
        .post_form(
            &format!("{path}/test"),
            &with_token(
                &token,
                &[
                    ("name", "x"),
                    ("code", TESTED_CODE),
                    ("event", "{\"user\": "),
                ],
            ),
        )
        .await;
    assert_eq!(not_json.status, 400, "{}", not_json.body);
    assert!(
        not_json.body.contains("The event is not valid JSON"),
        "{}",
        not_json.body
    );
    assert!(
        not_json
            .body
            .contains(&escaped(TESTED_CODE.lines().next().unwrap()))
    );

    // Save and deploy: version 1 live; the secret kept (left empty).
    let deployed = b
        .post_form(
            &path,
            &with_token(&token, &[("name", "Roles — Zoë"), ("code", TESTED_CODE)]),
        )
        .await;
    assert_eq!(deployed.status, 303, "{}", deployed.body);
    let deployed = b
        .post_form(
            &path,
            &with_token(
                &token,
                &[
                    ("name", "Roles — Zoë"),
                    ("code", TESTED_CODE),
                    ("deploy", "on"),
                ],
            ),
        )
        .await;
    assert_eq!(deployed.status, 303, "{}", deployed.body);
    let page = b.follow(deployed).await;
    assert!(page.body.contains("Deployed: the trigger"), "{}", page.body);
    let stored = action_json(&mut s, &roles).await;
    assert_eq!(stored["secrets"][0]["name"], json!("CRM_KEY"));
    let versions = s
        .get(&format!("/api/v2/actions/actions/{roles}/versions"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(versions["total"], json!(1), "{versions}");
    let v1 = versions["versions"][0]["id"].as_str().unwrap().to_string();

    // A second action that sets the same claim: the last to run wins.
    let created = b
        .post_form(
            "/admin/actions",
            &with_token(
                &token,
                &[("name", "Plan override"), ("trigger", "post-login")],
            ),
        )
        .await;
    let plan = id_in(&created, "actions");
    let override_code = "exports.onExecutePostLogin = async (event, api) => {\n  api.accessToken.setCustomClaim('https://gatehouse.example/plan', 'platinum');\n};\n";
    let r = b
        .post_form(
            &format!("/admin/actions/{plan}"),
            &with_token(
                &token,
                &[
                    ("name", "Plan override"),
                    ("code", override_code),
                    ("deploy", "on"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Bound on the trigger's page, in the order added; then moved.
    let trigger = "/admin/actions/triggers/post-login";
    let page = b.get(trigger).await;
    assert!(page.body.contains("No action is bound"), "{}", page.body);
    for id in [&roles, &plan] {
        let r = b
            .post_form(
                trigger,
                &with_token(&token, &[("op", "add"), ("action_id", id)]),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    assert_eq!(bound_names(&mut s).await, ["Roles — Zoë", "Plan override"]);
    let login = realm_login(&s, &cid, &secret, "ågot.lind@example.com", json!({})).await;
    let tokens = login.assert_status(200).clone();
    let at = verified(&s, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(at[format!("{NS}/plan")], json!("platinum"));
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/roles")], json!([]));
    assert_eq!(id["sub"], json!(user_id));

    let up = b
        .post_form(trigger, &with_token(&token, &[("op", "up"), ("at", "1")]))
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    let page = b.follow(up).await;
    let list = element_text(&page, "bindings", "</ol>").unwrap();
    let (first, second) = (
        list.find("Plan override").unwrap(),
        list.find("Roles — Zoë").unwrap(),
    );
    assert!(first < second, "{list}");
    assert_eq!(bound_names(&mut s).await, ["Plan override", "Roles — Zoë"]);
    let tokens = realm_login(&s, &cid, &secret, "ågot.lind@example.com", json!({}))
        .await
        .assert_status(200)
        .clone();
    let at = verified(&s, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(at[format!("{NS}/plan")], json!("basic"), "{at}");

    // A step from a stale page (an index past the end) changes nothing.
    let stale = b
        .post_form(trigger, &with_token(&token, &[("op", "down"), ("at", "1")]))
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(bound_names(&mut s).await, ["Plan override", "Roles — Zoë"]);

    // The dashboard's log names the actions each login ran, in order.
    let logs = b.get("/admin/logs").await;
    assert!(
        logs.body.contains("Actions: Plan override → Roles — Zoë"),
        "{}",
        logs.body
    );

    // A new version, then back to version 1 from the versions list.
    let r = b
        .post_form(
            &path,
            &with_token(
                &token,
                &[
                    ("name", "Roles — Zoë"),
                    ("code", override_code),
                    ("deploy", "on"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_ne!(live_version(&mut s, &roles).await, v1);
    let r = b
        .post_form(
            &format!("{path}/versions/{v1}/deploy"),
            &with_token(&token, &[]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(live_version(&mut s, &roles).await, v1);

    // Removed from the trigger; then the other deleted outright (its binding goes too).
    let r = b
        .post_form(
            trigger,
            &with_token(&token, &[("op", "remove"), ("at", "1")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(bound_names(&mut s).await, ["Plan override"]);
    let r = b
        .post_form(
            &format!("/admin/actions/{plan}/delete"),
            &with_token(&token, &[]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    s.get(&format!("/api/v2/actions/actions/{plan}"))
        .await
        .assert_status(404);
    assert!(bound_names(&mut s).await.is_empty());

    // Without the CSRF token nothing changes.
    let forged = b
        .post_form(
            &path,
            &[("_csrf", "forged"), ("name", "Hijacked"), ("code", "")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(
        action_json(&mut s, &roles).await["name"],
        json!("Roles — Zoë")
    );
}

const PLAN_RULE: &str = r#"function (user, context, callback) {
  const namespace = 'https://gatehouse.example/';
  context.idToken[namespace + 'tier'] = configuration.TIER;
  context.accessToken.scope = ['openid', 'read:reports'];
  console.log('tier from ' + configuration.TIER);
  auth0.users.updateAppMetadata(user.user_id, { tier: configuration.TIER })
    .then(function () { callback(null, user, context); })
    .catch(callback);
}
"#;

/// Posts the rule editor's form to Try, with the script, `user` and `context` given.
async fn try_rule(
    b: &mut Browser,
    path: &str,
    token: &str,
    script: &str,
    user: &str,
    context: &str,
) -> Page {
    let fields = [
        ("name", "Add tier"),
        ("order", "1"),
        ("enabled", "on"),
        ("script", script),
        ("user", user),
        ("context", context),
    ];
    b.post_form(&format!("{path}/try"), &with_token(token, &fields))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_are_written_tried_and_configured_in_the_dashboard() {
    let mut s = server().await;
    let user = s.create_user("ågot.lind@example.com", json!({})).await;
    let user_id = user["user_id"].as_str().unwrap().to_string();
    let (cid, secret) = app(&mut s, json!({})).await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);

    // A configuration value: its key listed, its value never.
    let r = b
        .post_form(
            "/admin/rules/configs",
            &with_token(&token, &[("key", "TIER"), ("value", "platinum-Ω")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let list = b.follow(r).await;
    assert!(list.body.contains("<code>TIER</code>"), "{}", list.body);
    assert!(!list.body.contains("platinum-Ω"));
    let bad_key = b
        .post_form(
            "/admin/rules/configs",
            &with_token(&token, &[("key", "has space"), ("value", "v")]),
        )
        .await;
    assert_eq!(bad_key.status, 400, "{}", bad_key.body);
    assert_eq!(
        s.get("/api/v2/rules-configs").await.assert_status(200),
        &json!([{"key": "TIER"}])
    );

    // Auth0's name pattern, then a rule created enabled with the starter script.
    let refused = b
        .post_form(
            "/admin/rules",
            &with_token(&token, &[("name", "no_underscores")]),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let created = b
        .post_form("/admin/rules", &with_token(&token, &[("name", "Add tier")]))
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let rule = id_in(&created, "rules");
    let page = b.follow(created).await;
    assert!(
        page.body.contains("Rule created and enabled"),
        "{}",
        page.body
    );
    let user_json = element_text(&page, "user", "</textarea>").unwrap();
    let context_json = element_text(&page, "context", "</textarea>").unwrap();
    let stored = s
        .get(&format!("/api/v2/rules/{rule}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(stored["enabled"], json!(true));
    assert_eq!(
        element_text(&page, "script", "</textarea>").as_deref(),
        stored["script"].as_str()
    );

    // Try: the script as edited, with the configuration; claims, scope and metadata shown,
    // the value masked in the console; nothing written.
    let path = format!("/admin/rules/{rule}");
    let tried = try_rule(&mut b, &path, &token, PLAN_RULE, &user_json, &context_json).await;
    assert_eq!(tried.status, 200, "{}", tried.body);
    let id_token: Value =
        serde_json::from_str(&element_text(&tried, "trial-id-token", "</pre>").unwrap()).unwrap();
    assert_eq!(id_token[format!("{NS}/tier")], json!("platinum-Ω"));
    let access: Value =
        serde_json::from_str(&element_text(&tried, "trial-access-token", "</pre>").unwrap())
            .unwrap();
    assert_eq!(access["scope"], json!("openid read:reports"));
    let changes = element_text(&tried, "trial-changes", "</dl>").unwrap();
    assert!(changes.contains("app_metadata written"), "{changes}");
    assert_eq!(
        element_text(&tried, "trial-console", "</pre>").as_deref(),
        Some("tier from [redacted]")
    );
    assert_ne!(
        s.get(&format!("/api/v2/rules/{rule}"))
            .await
            .assert_status(200)["script"],
        json!(PLAN_RULE)
    );

    // An UnauthorizedError is shown as the refusal the application would get; a redirect as
    // where the user would go.
    let deny = "function (user, context, callback) {\n  return callback(new UnauthorizedError('Only staff, ' + user.given_name));\n}";
    let tried = try_rule(&mut b, &path, &token, deny, &user_json, &context_json).await;
    let denied = element_text(&tried, "trial-denied", "</p>").unwrap();
    assert!(denied.contains("<code>unauthorized</code>"), "{denied}");
    assert!(denied.contains("Only staff, Zoë"), "{denied}");
    let away = "function (user, context, callback) {\n  context.redirect = { url: 'https://consent.example.com/terms' };\n  callback(null, user, context);\n}";
    let tried = try_rule(&mut b, &path, &token, away, &user_json, &context_json).await;
    let redirect = element_text(&tried, "trial-redirect", "</p>").unwrap();
    assert!(
        redirect.contains("https://consent.example.com/terms"),
        "{redirect}"
    );
    let bad_user = try_rule(&mut b, &path, &token, away, "[1]", &context_json).await;
    assert_eq!(bad_user.status, 400, "{}", bad_user.body);
    assert!(
        bad_user.body.contains("The user must be a JSON object"),
        "{}",
        bad_user.body
    );

    // A save the API refuses changes nothing and keeps what was typed.
    let refused = b
        .post_form(
            &path,
            &with_token(
                &token,
                &[
                    ("name", "Add tier"),
                    ("order", "first"),
                    ("enabled", "on"),
                    ("script", PLAN_RULE),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("The order must be a whole number"),
        "{}",
        refused.body
    );
    assert_eq!(
        element_text(&refused, "script", "</textarea>").as_deref(),
        Some(PLAN_RULE)
    );

    // Saved: the next real login runs it.
    let saved = b
        .post_form(
            &path,
            &with_token(
                &token,
                &[
                    ("name", "Add tier"),
                    ("order", "3"),
                    ("enabled", "on"),
                    ("script", PLAN_RULE),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let stored = s
        .get(&format!("/api/v2/rules/{rule}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(stored["order"], json!(3));
    assert_eq!(stored["script"], json!(PLAN_RULE));
    let tokens = realm_login(&s, &cid, &secret, "ågot.lind@example.com", json!({}))
        .await
        .assert_status(200)
        .clone();
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id[format!("{NS}/tier")], json!("platinum-Ω"));
    let u = s
        .get(&format!("/api/v2/users/{}", common::enc(&user_id)))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(u["app_metadata"]["tier"], json!("platinum-Ω"));

    // Disabled (the box left unticked): the next login runs nothing.
    let r = b
        .post_form(
            &path,
            &with_token(
                &token,
                &[("name", "Add tier"), ("order", "3"), ("script", PLAN_RULE)],
            ),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let tokens = realm_login(&s, &cid, &secret, "ågot.lind@example.com", json!({}))
        .await
        .assert_status(200)
        .clone();
    let id = verified(&s, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id.get(format!("{NS}/tier")), None);

    // The configuration key removed; the rule deleted.
    let r = b
        .post_form(
            "/admin/rules/configs/delete",
            &with_token(&token, &[("key", "TIER")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        s.get("/api/v2/rules-configs").await.assert_status(200),
        &json!([])
    );
    let r = b
        .post_form(&format!("{path}/delete"), &with_token(&token, &[]))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    s.get(&format!("/api/v2/rules/{rule}"))
        .await
        .assert_status(404);
}
