//! SAML connections (`strategy: "samlp"`) up to the identity provider's door, over HTTP: the
//! Management API checks what an administrator gives (certificate, URLs, bindings) and reads
//! the IdP's metadata, pasted or fetched; the SP metadata an IdP administrator uploads;
//! `/authorize` sending a deflated, signed AuthnRequest (its signature checked here with the
//! tenant's published key); home-realm discovery on the hosted page; an unsolicited Response
//! refused when IdP-initiated login is off. Logins through a real IdP (samlify) are in
//! `tests/compat/node/saml_sp.test.mjs`; reading Responses, in `crates/saml/tests`.

use crate::common::browser::{Browser, param};
use crate::common::{TestServer, enc};
use base64::Engine;
use serde_json::{Value, json};
use std::io::Read;

const CALLBACK: &str = "https://intranet.corp.example/cb";

fn idp_metadata() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../saml/tests/fixtures/idp-metadata.xml"
    ))
    .unwrap()
}

fn idp_certificate_pem() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../saml/tests/fixtures/idp-cert.pem"
    ))
    .unwrap()
}

/// The sign-on URL the fixture metadata names (a loopback address of the test IdP).
fn metadata_sso() -> String {
    let m = idp_metadata();
    let sso = m.find("SingleSignOnService").unwrap();
    let at = sso + m[sso..].find("Location=\"").unwrap() + "Location=\"".len();
    m[at..at + m[at..].find('"').unwrap()].to_string()
}

/// Serves `body` at any path on a loopback port, for `metadataUrl`.
async fn serve_once(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        }
    });
    format!("http://127.0.0.1:{}/metadata", addr.port())
}

async fn app(s: &mut TestServer) -> String {
    s.post(
        "/api/v2/clients",
        json!({"name": "Intranet", "app_type": "regular_web", "callbacks": [CALLBACK],
               "grant_types": ["authorization_code"]}),
    )
    .await
    .assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn connection_count(s: &mut TestServer) -> usize {
    s.get("/api/v2/connections")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn saml_connections_are_checked_and_their_idp_metadata_read() {
    let mut s = TestServer::start().await;
    let before = connection_count(&mut s).await;
    let sso = "https://idp.corp.example/sso";
    for (options, property) in [
        (
            json!({"signInEndpoint": sso, "signingCert": "not a certificate"}),
            "signingCert",
        ),
        (
            json!({"signInEndpoint": sso, "signingCert": "TUlJQg=="}),
            "signingCert",
        ),
        (
            json!({"signInEndpoint": "http://idp.corp.example/sso", "signingCert": idp_certificate_pem()}),
            "signInEndpoint",
        ),
        (
            json!({"signingCert": idp_certificate_pem()}),
            "signInEndpoint",
        ),
        (json!({"metadataXml": "<EntityDescriptor/>"}), "metadataXml"),
        (
            json!({"metadataXml": format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", idp_metadata())}),
            "metadataXml",
        ),
        (
            json!({"metadataUrl": "http://127.0.0.1:9/metadata"}),
            "metadataUrl",
        ),
        (
            json!({"signInEndpoint": sso, "signingCert": idp_certificate_pem(), "protocolBinding": "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"}),
            "protocolBinding",
        ),
        (
            json!({"signInEndpoint": sso, "signingCert": idp_certificate_pem(), "signSAMLRequest": true,
                "protocolBinding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"}),
            "signSAMLRequest",
        ),
        (
            json!({"signInEndpoint": sso, "signingCert": idp_certificate_pem(), "fieldsMap": {"email": 7}}),
            "fieldsMap",
        ),
        (
            json!({"signInEndpoint": sso, "signingCert": idp_certificate_pem(), "idpinitiated": {"enabled": true}}),
            "client_id",
        ),
    ] {
        let r = s
            .post(
                "/api/v2/connections",
                json!({"name": "corp-saml", "strategy": "samlp", "options": options}),
            )
            .await;
        let message = r.assert_error(400, "invalid_body");
        assert!(message.contains(property), "{property}: {message}");
    }
    assert_eq!(
        connection_count(&mut s).await,
        before,
        "nothing was created"
    );

    // Pasted metadata fills the sign-on URL and the certificate, and is not kept.
    let pasted = s
        .post(
            "/api/v2/connections",
            json!({"name": "corp-saml", "strategy": "samlp", "options": {"metadataXml": idp_metadata()}}),
        )
        .await
        .assert_status(201)
        .clone();
    assert_eq!(pasted["options"]["signInEndpoint"], json!(metadata_sso()));
    let slo = pasted["options"]["signOutEndpoint"].as_str().unwrap();
    assert!(
        slo.ends_with("/slo"),
        "the logout URL read from the metadata: {slo}"
    );
    let cert = pasted["options"]["signingCert"].as_str().unwrap();
    let pem_body: String = idp_certificate_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(cert, pem_body);
    assert!(pasted["options"].get("metadataXml").is_none(), "{pasted}");
    let entity = idp_metadata();
    let at = entity.find("entityID=\"").unwrap() + "entityID=\"".len();
    let entity = &entity[at..at + entity[at..].find('"').unwrap()];
    assert_eq!(
        pasted["options"]["issuer"],
        json!(entity),
        "the IdP's entity id is kept"
    );

    // Metadata fetched from its URL, with the HTTP-POST binding's sign-on URL.
    let url = serve_once(idp_metadata()).await;
    let fetched = s
        .post(
            "/api/v2/connections",
            json!({"name": "corp-saml-2", "strategy": "samlp", "options": {"metadataUrl": url,
                   "protocolBinding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"}}),
        )
        .await
        .assert_status(201)
        .clone();
    assert_eq!(fetched["options"]["metadataUrl"], json!(url));
    assert_eq!(fetched["options"]["signingCert"], json!(pem_body));

    // The SP metadata to upload at the IdP: entity id and consumer at Auth0's names.
    let http = reqwest::Client::new();
    let sp = http
        .get(format!("{}/samlp/metadata?connection=corp-saml", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sp.status(), 200);
    assert!(
        sp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let sp = sp.text().await.unwrap();
    assert!(sp.contains("entityID=\"urn:auth0:"), "{sp}");
    assert!(sp.contains(":corp-saml\""), "{sp}");
    assert!(
        sp.contains(&format!(
            "Location=\"{}/login/callback?connection=corp-saml\"",
            s.url
        )),
        "{sp}"
    );
    assert!(sp.contains("AuthnRequestsSigned=\"false\""), "{sp}");
    assert!(
        sp.contains(&format!("SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}/logout\"", s.url)),
        "{sp}"
    );
    // An answer to a logout Gatehouse never asked for goes nowhere.
    let stray = http
        .get(format!(
            "{}/logout?SAMLResponse=AAAA&RelayState=forged",
            s.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 400);
    for missing in ["nope", "Username-Password-Authentication"] {
        let r = http
            .get(format!("{}/samlp/metadata?connection={missing}", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
}

/// The RSA key the tenant publishes first (the current one), from its JWKS.
async fn current_rsa_key(s: &TestServer) -> ring::signature::RsaPublicKeyComponents<Vec<u8>> {
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", s.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap()
        .clone();
    let b = |f: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key[f].as_str().unwrap())
            .unwrap()
    };
    ring::signature::RsaPublicKeyComponents {
        n: b("n"),
        e: b("e"),
    }
}

fn inflate(encoded: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[tokio::test]
async fn authorize_sends_a_signed_request_and_emails_of_the_domain_go_to_the_idp() {
    let mut s = TestServer::start().await;
    let client_id = app(&mut s).await;
    let users_before = s.get("/api/v2/users").await.assert_status(200).clone();
    let sso = "https://idp.corp.example/saml/sso?tenant=corp";
    s.post(
        "/api/v2/connections",
        json!({"name": "corp-saml", "strategy": "samlp", "enabled_clients": [client_id],
               "options": {"signInEndpoint": sso, "signingCert": idp_certificate_pem(),
                           "signSAMLRequest": true, "domain_aliases": ["corp.example", "corp-eu.example"]}}),
    )
    .await
    .assert_status(201);
    let authorize = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email&state=app-state",
        enc(CALLBACK)
    );

    // connection=corp-saml: straight to the IdP with a signed HTTP-Redirect request.
    let mut b = Browser::new(&s.url);
    let to_idp = b.get(&format!("{authorize}&connection=corp-saml")).await;
    assert_eq!(to_idp.status, 302);
    let location = to_idp.location.clone().unwrap();
    assert!(
        location.starts_with(&format!("{sso}&SAMLRequest=")),
        "{location}"
    );
    let request = inflate(&param(&location, "SAMLRequest").unwrap());
    assert!(
        request.contains(&format!("Destination=\"{}\"", sso.replace('&', "&amp;"))),
        "{request}"
    );
    assert!(request.contains(&format!(
        "AssertionConsumerServiceURL=\"{}/login/callback?connection=corp-saml\"",
        s.url
    )));
    assert!(request.contains(":corp-saml</saml:Issuer>"), "{request}");
    assert!(param(&location, "RelayState").is_some_and(|r| !r.is_empty()));
    assert_eq!(
        param(&location, "SigAlg").as_deref(),
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    // The signature covers the query as sent, up to `&Signature=`.
    let query = location.split_once('?').unwrap().1;
    let query = query.split_once("SAMLRequest=").unwrap().1;
    let (signed, _) = query.rsplit_once("&Signature=").unwrap();
    let signed = format!("SAMLRequest={signed}");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(param(&location, "Signature").unwrap())
        .unwrap();
    assert!(!signature.is_empty() && !signed.is_empty());
    current_rsa_key(&s)
        .await
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .expect("the AuthnRequest is signed with the tenant's published key");
    // The SP metadata now publishes the certificate that signs.
    let sp = reqwest::get(format!("{}/samlp/metadata?connection=corp-saml", s.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sp.contains("AuthnRequestsSigned=\"true\""));
    assert!(sp.contains("<ds:X509Certificate>"));

    // The hosted page asks for the email first; a corp address goes to the IdP.
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize).await;
    assert_eq!(login.status, 200);
    assert!(
        !login.body.contains("type=\"password\""),
        "identifier first"
    );
    let away = b.submit_login(&login, "Åsa.Lind@Corp-EU.example", "").await;
    assert_eq!(away.status, 302, "{}", away.body);
    assert!(away.location.unwrap().starts_with(sso));
    // Another address: the password step, the address kept.
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize).await;
    let password_step = b.submit_login(&login, "someone@example.org", "").await;
    assert_eq!(password_step.status, 200);
    assert!(password_step.body.contains("type=\"password\""));
    assert!(password_step.body.contains("value=\"someone@example.org\""));

    // An unsolicited Response is refused: IdP-initiated login is off for this connection.
    let r = b
        .post_form(
            "/login/callback?connection=corp-saml",
            &[("SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4=")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("IdP-initiated login is off"), "{}", r.body);
    // Another connection's name, or none.
    let r = b
        .post_form(
            "/login/callback?connection=Username-Password-Authentication",
            &[("SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4=")],
        )
        .await;
    assert_eq!(r.status, 400);
    let users = s.get("/api/v2/users").await.assert_status(200).clone();
    assert_eq!(users, users_before, "nobody was created");
}

#[tokio::test]
async fn the_dashboard_connects_a_saml_idp_and_tests_it() {
    use crate::admin_dashboard::{ADMIN_EMAIL, csrf, server, sign_in};
    let s = server().await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let list = b.get("/admin/connections").await;
    assert!(list.body.contains("Connect a SAML identity provider"));

    // A certificate that is not one: refused with the reason, the typed fields kept.
    let refused = b
        .post_form(
            "/admin/connections",
            &[
                ("_csrf", &token),
                ("strategy", "samlp"),
                ("name", "okta-staff"),
                ("signInEndpoint", "https://acme.okta.example/app/sso/saml"),
                (
                    "signingCert",
                    "-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----",
                ),
                (
                    "protocolBinding",
                    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                ),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("signing certificate"),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("https://acme.okta.example/app/sso/saml")
    );
    // Without the form's CSRF token: refused, nothing made.
    let forged = b
        .post_form(
            "/admin/connections",
            &[
                ("strategy", "samlp"),
                ("name", "okta-staff"),
                ("metadataXml", &idp_metadata()),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);

    // From pasted metadata, with email domains.
    let created = b
        .post_form(
            "/admin/connections",
            &[
                ("_csrf", &token),
                ("strategy", "samlp"),
                ("name", "okta-staff"),
                ("metadataXml", &idp_metadata()),
                (
                    "protocolBinding",
                    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                ),
                ("domain_aliases", "staff.example, Staff-EU.example"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let location = created.location.clone().unwrap();
    let id = location
        .split("/admin/connections/")
        .nth(1)
        .and_then(|r| r.split('?').next())
        .unwrap()
        .to_string();
    let page = b.follow(created).await;
    assert!(
        page.body.contains("SAML identity provider"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(":okta-staff</code>"),
        "the entity id: {}",
        page.body
    );
    assert!(page.body.contains("/login/callback?connection=okta-staff"));
    assert!(
        page.body.contains(&metadata_sso()),
        "the sign-on URL read from the metadata"
    );
    assert!(page.body.contains("staff.example, Staff-EU.example"));
    let api = reqwest::Client::new()
        .get(format!("{}/api/v2/connections/{id}", s.url))
        .bearer_auth(s.token_with_scope(None).await)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        api["options"]["domain_aliases"],
        json!(["staff.example", "Staff-EU.example"])
    );
    assert_eq!(
        api["options"]["protocolBinding"],
        json!("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );

    // Test connection: the saved settings read.
    let tested = b
        .post_form(
            &format!("/admin/connections/{id}/test-saml"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(
        tested.body.contains("The settings can be used."),
        "{}",
        tested.body
    );

    // A metadata URL that cannot be fetched: the save is refused and says why.
    let bad = b
        .post_form(
            &format!("/admin/connections/{id}"),
            &[
                ("_csrf", &token),
                ("metadataUrl", "http://127.0.0.1:9/metadata"),
                (
                    "protocolBinding",
                    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                ),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("could not be fetched"), "{}", bad.body);
}
