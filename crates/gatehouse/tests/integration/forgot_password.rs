//! "Forgot password?" on the hosted login page over HTTP with a real SMTP listener: the
//! request page of a login transaction (the tenant's branding, CSRF, the same answer for any
//! address, one email only for an account), the emailed link, and the way back to the
//! application's login after the new password is set, even once the first login page has
//! expired; the request is limited per IP with a page.

use crate::common;

use common::browser::{Browser, Page};
use common::smtp::SmtpServer;
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::json;

const CALLBACK: &str = "https://sklep.example.com/callback";
/// What `TestServer::create_user` sets.
const OLD_PASSWORD: &str = "Sup3r-secret!";
const NEW_PASSWORD: &str = "Nowe-hasł0-długie";
// RFC 7636's example verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const TENANT_NAME: &str = "Zielona Łąka";
const LOGO: &str = "https://cdn.example/zielona.png";

struct App {
    id: String,
    secret: String,
}

async fn start(smtp: &SmtpServer, scale: f64) -> TestServer {
    let url = smtp.url();
    let mut s = TestServer::start_with_manual_clock_and(|c| {
        c.smtp_url = Some(url);
        c.mail_poll_ms = 100;
        c.auth_rate_limit_scale = scale;
    })
    .await;
    s.patch(
        "/api/v2/tenants/settings",
        json!({"friendly_name": TENANT_NAME, "picture_url": LOGO}),
    )
    .await
    .assert_status(200);
    s
}

async fn app(s: &mut TestServer) -> App {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Sklep Żółw", "callbacks": [CALLBACK],
                "grant_types": ["authorization_code"]}),
        )
        .await;
    let c = c.assert_status(201);
    App {
        id: c["client_id"].as_str().unwrap().into(),
        secret: c["client_secret"].as_str().unwrap().into(),
    }
}

fn authorize_url(app: &App) -> String {
    format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email&state=koszyk-%C5%BC&code_challenge={CHALLENGE}&code_challenge_method=S256",
        app.id,
        enc(CALLBACK)
    )
}

fn random_email() -> String {
    format!(
        "grazyna-{}@forgot.example",
        gatehouse_crypto::random::hex(6).unwrap()
    )
}

/// The href of the link whose text is `text`.
fn link(page: &Page, text: &str) -> String {
    let end = page
        .body
        .find(&format!("\">{text}"))
        .unwrap_or_else(|| panic!("a link {text:?} in {}", page.body));
    let start = page.body[..end].rfind("href=\"").unwrap() + "href=\"".len();
    page.body[start..end].replace("&amp;", "&")
}

async fn ask(b: &mut Browser, form: &Page, email: &str) -> Page {
    let (state, csrf) = (form.input("state").unwrap(), form.input("_csrf").unwrap());
    b.post_form(
        "/u/reset-password",
        &[("state", &state), ("_csrf", &csrf), ("email", email)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn forgot_password_emails_a_link_that_leads_back_to_the_applications_login() {
    let smtp = SmtpServer::start().await;
    let mut s = start(&smtp, 1.0).await;
    let app = app(&mut s).await;
    let email = random_email();
    s.create_user(
        &email,
        json!({"name": "Grażyna Żak", "email_verified": true}),
    )
    .await;

    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&app)).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let forgot = link(&login, "Forgot password?");
    assert!(forgot.starts_with("/u/reset-password?state="), "{forgot}");

    let form = b.get(&forgot).await;
    assert_eq!(form.status, 200, "{}", form.body);
    for shown in [
        TENANT_NAME,
        LOGO,
        "action=\"/u/reset-password\"",
        "name=\"email\"",
    ] {
        assert!(form.body.contains(shown), "{shown} in {}", form.body);
    }
    assert!(!form.body.contains("<script"), "works without JavaScript");
    let back_link = format!("href=\"/u/login?state={}\"", form.input("state").unwrap());
    assert!(
        form.body.contains(&back_link),
        "a way back to the login: {}",
        form.body
    );

    // The same answer whether or not the address has an account; one email, to the account.
    let unknown = ask(&mut b, &form, &random_email()).await;
    let known = ask(&mut b, &form, &format!("  {}  ", email.to_uppercase())).await;
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
    assert_eq!(known.status, 200);
    assert!(known.body.contains("Check your email"), "{}", known.body);
    assert!(known.body.contains(TENANT_NAME));
    let mail = smtp.wait_for(1).await;
    s.wait_outbox_settled().await;
    assert_eq!(smtp.messages().len(), 1, "no email for the unknown address");
    assert_eq!(mail[0].to, vec![email.clone()]);
    let reset_link = mail[0]
        .link(&format!("{}/lo/reset?ticket=", s.url))
        .expect("a reset link");

    // No CSRF token, no email; a blank address is asked again.
    let r = b
        .post_form(
            "/u/reset-password",
            &[("state", &form.input("state").unwrap()), ("email", &email)],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = ask(&mut b, &form, "   ").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Enter the email address"), "{}", r.body);
    s.wait_outbox_settled().await;
    assert_eq!(smtp.messages().len(), 1);
    // A transaction that is not ours is the usual expired page.
    let r = b.get("/u/reset-password?state=not-a-transaction").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("expired"), "{}", r.body);

    // Two hours later the first login page has expired; the emailed link still leads back.
    s.clock().advance(2 * 3600 * 1000);
    assert_eq!(b.get(&forgot).await.status, 400, "the transaction expired");
    let mut b = Browser::new(&s.url);
    let reset = b.get(&reset_link).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let (ticket, csrf) = (
        reset.input("ticket").unwrap(),
        reset.input("_csrf").unwrap(),
    );
    let done = b
        .post_form(
            "/lo/reset",
            &[
                ("ticket", &ticket),
                ("_csrf", &csrf),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("password was changed"), "{}", done.body);
    let back = link(&done, "Back to login");
    assert!(back.starts_with("/u/login?state="), "{back}");

    let login = b.visit(&back).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.contains("Sklep Żółw"), "the application's login");
    let wrong = b.submit_login(&login, &email, OLD_PASSWORD).await;
    assert_eq!(wrong.status, 400, "the old password is gone");
    let login = b.visit(&back).await;
    let callback = b.submit_login(&login, &email, NEW_PASSWORD).await;
    let location = callback.location.clone().unwrap_or_default();
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(
        callback.callback_param("state").as_deref(),
        Some("koszyk-ż")
    );
    let code = callback.callback_param("code").expect("a code");
    let tokens = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "authorization_code", "client_id": app.id,
                "client_secret": app.secret, "code": code, "redirect_uri": CALLBACK,
                "code_verifier": VERIFIER}),
            ),
        )
        .await;
    tokens.assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_requests_from_the_login_page_are_limited_per_ip() {
    let smtp = SmtpServer::start().await;
    // A tenth of the default buckets: one reset request per address.
    let mut s = start(&smtp, 0.1).await;
    let app = app(&mut s).await;
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&app)).await;
    let form = b.get(&link(&login, "Forgot password?")).await;
    assert_eq!(ask(&mut b, &form, &random_email()).await.status, 200);
    let r = b
        .post_form(
            "/u/reset-password",
            &[
                ("state", &form.input("state").unwrap()),
                ("_csrf", &form.input("_csrf").unwrap()),
                ("email", &random_email()),
            ],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        r.body.contains("Please wait") && !r.body.contains("<form"),
        "{}",
        r.body
    );
    // The same bucket as /dbconnections/change_password: both send reset emails.
    let r = s
        .raw(
            Method::POST,
            "/dbconnections/change_password",
            None,
            Some(json!({"client_id": app.id, "connection": common::DB_CONNECTION, "email": random_email()})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 429);
}
