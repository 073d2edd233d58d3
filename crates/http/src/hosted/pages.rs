//! The hosted pages' HTML: server-rendered, no JavaScript needed (the `form_post` page aside),
//! drawn in the shared frame (`crate::templates`), every value escaped by maud.

use crate::templates::{
    Frame, Markup, Surface, csrf_input, error_box, hidden, html, provider_button,
};
use gatehouse_service::browser::cross_origin::VerifierRequest;
use gatehouse_service::browser::password_reset::ResetRequestScreen;
use gatehouse_service::browser::profile::ProfileScreen;
use gatehouse_service::browser::upstream::LinkScreen;
use gatehouse_service::browser::{Branding, ConsentScreen, LoginScreen, describe_scope};
use maud::{DOCTYPE, PreEscaped};

/// A hosted page: the shared frame, the tenant's branding (when known) on top of the card.
pub(super) fn layout(title: &str, branding: Option<&Branding>, body: Markup) -> Markup {
    let frame = Frame {
        title,
        surface: Surface::Hosted,
        banner: None,
        script: None,
    };
    frame.render(html! {
        @if let Some(b) = branding { (brand(b)) }
        (body)
    })
}

/// The tenant's logo and name.
fn brand(b: &Branding) -> Markup {
    html! {
        header {
            @if let Some(logo) = &b.logo_url { img src=(logo) alt=""; }
            p.muted { (b.tenant_name) }
        }
    }
}

/// The transaction and CSRF token every flow form posts back.
pub(super) fn flow_fields(transaction: &str, csrf: &str) -> Markup {
    html! { (hidden("state", transaction)) (csrf_input(csrf)) }
}

pub(super) fn password_input(id: &str, name: &str, autocomplete: &str, autofocus: bool) -> Markup {
    html! {
        input #(id) name=(name) type="password" autocomplete=(autocomplete) required autofocus[autofocus];
    }
}

pub fn login(s: &LoginScreen, csrf: &str) -> Markup {
    let (title, body) = if s.signup {
        ("Sign up", signup_form(s, csrf))
    } else {
        ("Log in", login_form(s, csrf))
    };
    layout(title, Some(&s.branding), body)
}

fn login_form(s: &LoginScreen, csrf: &str) -> Markup {
    if s.identifier_first {
        return email_first_form(s, csrf);
    }
    html! {
        (login_heading(s))
        form method="post" action="/u/login" {
            (flow_fields(&s.transaction, csrf))
            (username_input(s))
            label for="password" { "Password" }
            (password_input("password", "password", "current-password", false))
            p.muted { a href={ "/u/reset-password?state=" (s.transaction) } { "Forgot password?" } }
            button type="submit" { "Continue" }
        }
        (login_alternatives(s))
    }
}

fn login_heading(s: &LoginScreen) -> Markup {
    html! {
        h1 { "Welcome" }
        p.muted { "Log in to continue to " (s.client_name) "." }
        (error_box(s.error.as_deref()))
    }
}

fn username_input(s: &LoginScreen) -> Markup {
    html! {
        label for="username" { "Email address or username" }
        input #username name="username" type="text" autocomplete="username" required autofocus
            value=(s.username.as_deref().unwrap_or(""));
    }
}

/// The providers' buttons and the way to sign up, under both login forms.
fn login_alternatives(s: &LoginScreen) -> Markup {
    html! {
        (provider_buttons(s))
        @if s.signup_allowed {
            p.muted {
                "Don\u{2019}t have an account? "
                a href={ "/u/signup?state=" (s.transaction) } { "Sign up" }
            }
        }
    }
}

/// Identifier-first: the email alone, so an address of a connection's domain can go to its
/// identity provider before any password is typed here.
fn email_first_form(s: &LoginScreen, csrf: &str) -> Markup {
    html! {
        (login_heading(s))
        form method="post" action="/u/login" {
            (flow_fields(&s.transaction, csrf))
            (username_input(s))
            p.muted { "Your organization's single sign-on is used when your email belongs to it." }
            button type="submit" { "Continue" }
        }
        (login_alternatives(s))
    }
}

/// "Continue with Google" and the like: one link per upstream provider of the application.
fn provider_buttons(s: &LoginScreen) -> Markup {
    html! {
        @if !s.providers.is_empty() {
            p.muted { "or" }
            @for p in &s.providers {
                (provider_button(
                    Some(&format!("/u/login/upstream?state={}&connection={}", s.transaction, p.connection)),
                    &p.label,
                ))
            }
        }
    }
}

fn signup_form(s: &LoginScreen, csrf: &str) -> Markup {
    html! {
        h1 { "Create your account" }
        p.muted { "Sign up to continue to " (s.client_name) "." }
        (error_box(s.error.as_deref()))
        form method="post" action="/u/signup" {
            (flow_fields(&s.transaction, csrf))
            label for="email" { "Email address" }
            input #email name="email" type="email" autocomplete="email" required autofocus
                value=(s.username.as_deref().unwrap_or(""));
            label for="password" { "Password" }
            (password_input("password", "password", "new-password", false))
            @if let Some(t) = &s.terms { (super::account::terms_checkbox(t)) }
            button type="submit" { "Continue" }
        }
        p.muted {
            "Already have an account? "
            a href={ "/u/login?state=" (s.transaction) } { "Log in" }
        }
    }
}

pub fn consent(s: &ConsentScreen, csrf: &str) -> Markup {
    let body = html! {
        h1 { "Authorize " (s.client_name) }
        @if let Some(e) = &s.user_email { p.muted { "Signed in as " (e) } }
        p { (s.client_name) " is asking to:" }
        ul { @for sc in &s.scopes { li { (describe_scope(sc)) } } }
        @if let Some(a) = &s.audience { p.muted { "For the API " (a) } }
        form method="post" action="/u/consent" {
            (flow_fields(&s.transaction, csrf))
            button type="submit" name="action" value="accept" { "Accept" }
            button.secondary type="submit" name="action" value="deny" { "Decline" }
        }
    };
    layout("Authorize application", Some(&s.branding), body)
}

/// Progressive profiling (`/u/profile`): the fields an action asked for.
pub fn profile(s: &ProfileScreen, csrf: &str) -> Markup {
    let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    let body = html! {
        h1 { "Tell us a little more" }
        @if let Some(e) = &s.user_email { p.muted { "Signed in as " (e) } }
        (error_box(s.error.as_deref()))
        form method="post" action="/u/profile" {
            (flow_fields(&s.state, csrf))
            (hidden("fields", &names.join(",")))
            @for (i, f) in s.fields.iter().enumerate() {
                label for=(format!("field_{}", f.name)) { (f.label) }
                input #(format!("field_{}", f.name)) name=(format!("field_{}", f.name)) type="text"
                    value=(f.value) maxlength="300" required autofocus[i == 0];
            }
            button type="submit" { "Continue" }
        }
    };
    layout("Your profile", Some(&s.branding), body)
}

/// "An account with this email already exists": link it (with its password) or go on.
pub fn suggest_link(s: &LinkScreen, csrf: &str) -> Markup {
    let body = html! {
        h1 { "You already have an account" }
        p { "An account with " strong { (s.email) } " already exists. Link it to your "
            (s.provider) " login, so both sign you in to the same account?" }
        (error_box(s.error.as_deref()))
        form method="post" action="/u/link" {
            (flow_fields(&s.state, csrf))
            input type="hidden" name="action" value="link";
            label for="password" { "Password of the existing account" }
            (password_input("password", "password", "current-password", true))
            button type="submit" { "Link accounts" }
        }
        form method="post" action="/u/link" {
            (flow_fields(&s.state, csrf))
            button.secondary type="submit" name="action" value="skip" { "Continue without linking" }
        }
    };
    layout("Link accounts", Some(&s.branding), body)
}

pub fn message(title: &str, text: &str) -> Markup {
    layout(title, None, html! { h1 { (title) } p { (text) } })
}

/// A failure of ours, with the request id to quote.
pub fn failure(text: &str, request_id: &str) -> Markup {
    let title = "Something went wrong";
    layout(
        title,
        None,
        html! { h1 { (title) } p { (text) } p.muted { "Reference: " (request_id) } },
    )
}

/// `response_mode=form_post`: a form posting the answer to the callback. It submits itself
/// when scripts run and shows a button when they do not. Not drawn in the frame: nobody
/// reads it, and its policy allows one script and nothing else.
pub fn form_post(action: &str, params: &[(String, String)]) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { "Submit this form" } }
            body {
                form method="post" action=(action) {
                    @for (k, v) in params { (hidden(k, v)) }
                    noscript { button type="submit" { "Continue" } }
                }
                // A compile-time constant whose hash is in the page's CSP.
                script { (PreEscaped(FORM_POST_SCRIPT)) }
            }
        }
    }
}

/// The `form_post` page's only script; its hash is the one script the page's CSP allows, so
/// nothing else runs there, a `javascript:` form action included.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";
/// `script-src` for [`FORM_POST_SCRIPT`] (base64 SHA-256; a test recomputes it).
pub const FORM_POST_CSP: &str = "default-src 'none'; script-src 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE='; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// The `web_message` answer: the callback's parameters as a JSON data block (never run) and
/// one constant script that posts them, in Auth0's message shape
/// (`{type: "authorization_response", response: {…}}`), to the popup's opener or the
/// silent-authentication iframe's parent, at `origin` only.
pub fn web_message(origin: &str, params: &[(String, String)]) -> Markup {
    let response: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let data = serde_json::json!({ "origin": origin, "response": response }).to_string();
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { "Authorization response" } }
            body {
                script type="application/json" id="authorization-response" {
                    (PreEscaped(json_in_html(&data)))
                }
                script { (PreEscaped(WEB_MESSAGE_SCRIPT)) }
            }
        }
    }
}

/// JSON made safe inside an HTML raw-text element: `<`, `>` and `&` become `\u` escapes,
/// so no value can close the element or open a comment, and `JSON.parse` reads it unchanged.
fn json_in_html(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The `web_message` page's only script (its hash is in [`web_message_csp`]).
pub const WEB_MESSAGE_SCRIPT: &str = r#"(function(){var d=JSON.parse(document.getElementById("authorization-response").textContent);var w=window.opener||window.parent;w.postMessage({type:"authorization_response",response:d.response},d.origin)})()"#;
const WEB_MESSAGE_SCRIPT_HASH: &str = "sha256-o4F5GOteVDSoYJnrYbCk8Ny9WG+VvOY/pShrpQWTkSM=";

/// The `web_message` page's policy: its one script, and framing by `origin` alone (the
/// callback's origin, checked against the application's web origins at `/authorize`).
pub fn web_message_csp(origin: &str) -> String {
    format!(
        "default-src 'none'; script-src '{WEB_MESSAGE_SCRIPT_HASH}'; frame-ancestors {origin}; base-uri 'none'"
    )
}

/// Auth0's fallback for a cross-origin login whose browser kept no `co_verifier` cookie: the
/// application's verification page in a frame hands the verifier back by message, and the
/// form posts it with the pending login (`/co/verify`). Without scripts nothing happens and
/// the pending login expires.
pub fn cross_origin_verification(r: &VerifierRequest, csrf: &str) -> Markup {
    let data = serde_json::json!({ "origin": r.frame_origin, "id": r.co_id }).to_string();
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { "Signing you in" } }
            body {
                script type="application/json" id="co-verify" { (PreEscaped(json_in_html(&data))) }
                script { (PreEscaped(CO_VERIFY_SCRIPT)) }
                form method="post" action="/co/verify" {
                    (hidden("state", &r.state))
                    (csrf_input(csrf))
                    input #co_verifier type="hidden" name="co_verifier" value="";
                }
                iframe #co-frame src=(r.frame_url) width="0" height="0" style="display:none" {}
            }
        }
    }
}

/// The verification page's only script (its hash is in [`cross_origin_verification_csp`]):
/// it answers only messages from the framed page's origin and window.
pub const CO_VERIFY_SCRIPT: &str = r#"(function(){var d=JSON.parse(document.getElementById("co-verify").textContent);window.addEventListener("message",function(e){var f=document.getElementById("co-frame");if(e.origin!==d.origin||!f||e.source!==f.contentWindow||!e.data)return;if(e.data.type==="ready"){f.contentWindow.postMessage({type:"co_verifier_request",request:{id:d.id}},d.origin)}else if(e.data.type==="co_verifier_response"){document.getElementById("co_verifier").value=(e.data.response&&e.data.response.verifier)||"";document.forms[0].submit()}})})()"#;
const CO_VERIFY_SCRIPT_HASH: &str = "sha256-uJHZ/3qI+YH+BZ1Od9rqwWZ6WPR2va6TUnQ60Fxrc2E=";

/// The verification page's policy: its script, the application's verification page as the
/// only frame, the form posted to us only (and on to the application's callback, since
/// browsers hold a form's redirects to `form-action` too), never framed itself.
pub fn cross_origin_verification_csp(r: &VerifierRequest) -> String {
    let form_action = match &r.callback_origin {
        Some(o) => format!("form-action 'self' {o}; "),
        None => String::new(),
    };
    format!(
        "default-src 'none'; script-src '{CO_VERIFY_SCRIPT_HASH}'; style-src 'unsafe-inline'; frame-src {}; {form_action}frame-ancestors 'none'; base-uri 'none'",
        r.frame_origin
    )
}

/// The password-reset form of a ticket.
pub fn reset(
    email: Option<&str>,
    policy: &str,
    ticket: &str,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    let body = html! {
        h1 { "Change your password" }
        @if let Some(e) = email { p.muted { "for " (e) } }
        (error_box(error))
        p.muted { (policy) }
        form method="post" action="/lo/reset" {
            (hidden("ticket", ticket))
            (csrf_input(csrf))
            label for="password" { "New password" }
            (password_input("password", "password", "new-password", true))
            label for="confirm" { "Confirm the new password" }
            (password_input("confirm", "confirm", "new-password", false))
            button type="submit" { "Change password" }
        }
    };
    layout("Change your password", None, body)
}

/// "Forgot password?": the email form of a login transaction, or (once posted) the same
/// "check your email" answer whether or not the address has an account.
pub fn reset_request(s: &ResetRequestScreen, csrf: &str) -> Markup {
    let back = html! {
        p.muted { a href={ "/u/login?state=" (s.transaction) } { "Back to " (s.client_name) } }
    };
    let body = if s.sent {
        html! {
            h1 { "Check your email" }
            p { "If an account uses that address, we sent it a link to set a new password. "
                "The link works once." }
            (back)
        }
    } else {
        html! {
            h1 { "Forgot your password?" }
            p.muted { "Enter your email address and we will send you a link to set a new password for "
                (s.client_name) "." }
            (error_box(s.error.as_deref()))
            form method="post" action="/u/reset-password" {
                (flow_fields(&s.transaction, csrf))
                label for="email" { "Email address" }
                input #email name="email" type="email" autocomplete="email" required autofocus;
                button type="submit" { "Continue" }
            }
            (back)
        }
    };
    layout("Reset your password", Some(&s.branding), body)
}

/// The answer of a reset ticket asked for from a login page: done, and back to that login.
pub fn reset_done(message: &str, back_to_login: &str) -> Markup {
    let title = "Password changed";
    let body = html! {
        h1 { (title) }
        p { (message) }
        p { a href=(back_to_login) { "Back to login" } }
    };
    layout(title, None, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn form_post_csp_allows_exactly_its_script() {
        let digest = gatehouse_crypto::sha256_hex(FORM_POST_SCRIPT.as_bytes());
        let bytes: Vec<u8> = (0..digest.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&digest[i..i + 2], 16).ok())
            .collect();
        let hash = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(
            FORM_POST_CSP.contains(&format!("script-src 'sha256-{hash}'")),
            "{FORM_POST_CSP}"
        );
        let page = form_post("https://app.example.com/cb", &[]).into_string();
        assert!(page.contains(&format!("<script>{FORM_POST_SCRIPT}</script>")));
        assert!(!page.contains("onload"));
    }

    fn csp_hash(script: &str) -> String {
        let digest = gatehouse_crypto::sha256_hex(script.as_bytes());
        let bytes: Vec<u8> = (0..digest.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&digest[i..i + 2], 16).ok())
            .collect();
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    #[test]
    fn web_message_page_runs_only_its_script_and_cannot_be_broken_out_of() {
        let csp = web_message_csp("https://app.example.com");
        assert!(
            csp.contains(&format!("script-src '{}'", csp_hash(WEB_MESSAGE_SCRIPT))),
            "{csp}"
        );
        assert!(
            csp.contains("frame-ancestors https://app.example.com;"),
            "{csp}"
        );
        let hostile = "</script><script>alert(1)</script><!--&";
        let page = web_message(
            "https://app.example.com",
            &[
                ("state".into(), hostile.into()),
                ("code".into(), "ç©".into()),
            ],
        )
        .into_string();
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(page.contains(&format!("<script>{WEB_MESSAGE_SCRIPT}</script>")));
        let needle = "id=\"authorization-response\">";
        let start = page.find(needle).unwrap() + needle.len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(data["response"]["state"], hostile);
        assert_eq!(data["response"]["code"], "ç©");
        assert_eq!(data["origin"], "https://app.example.com");
    }

    #[test]
    fn cross_origin_verification_page_runs_only_its_script() {
        let r = VerifierRequest {
            frame_url: "https://app.example.com/co#origin=x\"><b>".into(),
            frame_origin: "https://app.example.com".into(),
            co_id: "</script><b>".into(),
            state: "s".into(),
            callback_origin: Some("https://cb.example.com".into()),
        };
        let csp = cross_origin_verification_csp(&r);
        assert!(
            csp.contains(&format!("script-src '{}'", csp_hash(CO_VERIFY_SCRIPT))),
            "{csp}"
        );
        assert!(csp.contains("frame-src https://app.example.com;"));
        assert!(csp.contains("form-action 'self' https://cb.example.com;"));
        let page = cross_origin_verification(&r, "t").into_string();
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains(&format!("<script>{CO_VERIFY_SCRIPT}</script>")));
    }

    #[test]
    fn values_are_escaped_on_the_hosted_pages() {
        let page = message("<b>title</b>", "\"><img src=x onerror=alert(1)>").into_string();
        assert!(!page.contains("<b>") && !page.contains("<img"), "{page}");
        assert!(page.contains("&lt;b&gt;title&lt;/b&gt;"), "{page}");
        let page = form_post(
            "https://app.example.com/cb\"><x",
            &[("a\"".into(), "<v>".into())],
        )
        .into_string();
        assert!(!page.contains("<x") && !page.contains("<v>"), "{page}");
    }
}
