//! The hosted pages' HTML: server-rendered, no JavaScript needed, every value escaped.

use gatehouse_service::browser::{Branding, ConsentScreen, LoginScreen, describe_scope};

pub use gatehouse_core::email::escape_html as escape;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f3f4f6;margin:0;color:#111827}\
main{max-width:24rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
header{text-align:center}header img{max-height:3.5rem;max-width:100%}h1{font-size:1.4rem;margin:.5rem 0}\
label{display:block;margin-top:1rem;font-weight:600;font-size:.9rem}\
input[type=text],input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.65rem;margin-top:.3rem;border:1px solid #9ca3af;border-radius:.375rem;font-size:1rem}\
input:focus,button:focus,a:focus{outline:3px solid #2563eb;outline-offset:2px}\
button{font:inherit;width:100%;margin-top:1.5rem;padding:.75rem;border:0;border-radius:.375rem;background:#1d4ed8;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e5e7eb;color:#111827;margin-top:.5rem}\
.error{background:#fef2f2;border:1px solid #fca5a5;color:#991b1b;padding:.75rem;border-radius:.375rem}\
.muted{color:#4b5563;font-size:.9rem;text-align:center}ul{padding-left:1.2rem}";

/// The page frame with the tenant's name and logo.
pub fn layout(title: &str, branding: Option<&Branding>, body: &str) -> String {
    let header = match branding {
        Some(b) => {
            let logo = b
                .logo_url
                .as_deref()
                .map(|u| format!("<img src=\"{}\" alt=\"\">", escape(u)))
                .unwrap_or_default();
            format!(
                "<header>{logo}<p class=\"muted\">{}</p></header>",
                escape(&b.tenant_name)
            )
        }
        None => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{header}{body}</main></body></html>",
        escape(title)
    )
}

fn error_box(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default()
}

pub fn login(s: &LoginScreen, csrf: &str) -> String {
    let tx = escape(&s.transaction);
    let username = escape(s.username.as_deref().unwrap_or(""));
    let body = if s.signup {
        format!(
            "<h1>Create your account</h1><p class=\"muted\">Sign up to continue to {client}.</p>{error}\
<form method=\"post\" action=\"/u/signup\">\
<input type=\"hidden\" name=\"state\" value=\"{tx}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
<label for=\"email\">Email address</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required autofocus value=\"{username}\">\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
<button type=\"submit\">Continue</button></form>\
<p class=\"muted\">Already have an account? <a href=\"/u/login?state={tx}\">Log in</a></p>",
            client = escape(&s.client_name),
            error = error_box(s.error.as_deref()),
            csrf = escape(csrf),
        )
    } else {
        let signup = if s.signup_allowed {
            format!(
                "<p class=\"muted\">Don\u{2019}t have an account? <a href=\"/u/signup?state={tx}\">Sign up</a></p>"
            )
        } else {
            String::new()
        };
        format!(
            "<h1>Welcome</h1><p class=\"muted\">Log in to continue to {client}.</p>{error}\
<form method=\"post\" action=\"/u/login\">\
<input type=\"hidden\" name=\"state\" value=\"{tx}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
<label for=\"username\">Email address or username</label>\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus value=\"{username}\">\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Continue</button></form>{signup}",
            client = escape(&s.client_name),
            error = error_box(s.error.as_deref()),
            csrf = escape(csrf),
        )
    };
    layout(
        if s.signup { "Sign up" } else { "Log in" },
        Some(&s.branding),
        &body,
    )
}

pub fn consent(s: &ConsentScreen, csrf: &str) -> String {
    let items: String = s
        .scopes
        .iter()
        .map(|sc| format!("<li>{}</li>", escape(&describe_scope(sc))))
        .collect();
    let who = s
        .user_email
        .as_deref()
        .map(|e| format!("<p class=\"muted\">Signed in as {}</p>", escape(e)))
        .unwrap_or_default();
    let api = s
        .audience
        .as_deref()
        .map(|a| format!("<p class=\"muted\">For the API {}</p>", escape(a)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Authorize {client}</h1>{who}<p>{client} is asking to:</p><ul>{items}</ul>{api}\
<form method=\"post\" action=\"/u/consent\">\
<input type=\"hidden\" name=\"state\" value=\"{tx}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
<button type=\"submit\" name=\"action\" value=\"accept\">Accept</button>\
<button type=\"submit\" name=\"action\" value=\"deny\" class=\"secondary\">Decline</button></form>",
        client = escape(&s.client_name),
        tx = escape(&s.transaction),
        csrf = escape(csrf),
    );
    layout("Authorize application", Some(&s.branding), &body)
}

pub fn message(title: &str, text: &str) -> String {
    layout(
        title,
        None,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}

/// A failure of ours, with the request id to quote.
pub fn failure(text: &str, request_id: &str) -> String {
    layout(
        "Something went wrong",
        None,
        &format!(
            "<h1>Something went wrong</h1><p>{}</p><p class=\"muted\">Reference: {}</p>",
            escape(text),
            escape(request_id)
        ),
    )
}

/// `response_mode=form_post`: a form posting the answer to the callback. It submits itself
/// when scripts run and shows a button when they do not.
pub fn form_post(action: &str, params: &[(String, String)]) -> String {
    let inputs: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Submit this form</title></head>\
<body><form method=\"post\" action=\"{}\">{inputs}\
<noscript><button type=\"submit\">Continue</button></noscript></form><script>{FORM_POST_SCRIPT}</script></body></html>",
        escape(action)
    )
}

/// The `form_post` page's only script; its hash is the one script the page's CSP allows, so
/// nothing else runs there, a `javascript:` form action included.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";
/// `script-src` for [`FORM_POST_SCRIPT`] (base64 SHA-256; a test recomputes it).
pub const FORM_POST_CSP: &str = "default-src 'none'; script-src 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE='; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// The password-reset form of a ticket.
pub fn reset(
    email: Option<&str>,
    policy: &str,
    ticket: &str,
    csrf: &str,
    error: Option<&str>,
) -> String {
    let who = email
        .map(|e| format!("<p class=\"muted\">for {}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Change your password</h1>{who}{error}<p class=\"muted\">{policy}</p>\
<form method=\"post\" action=\"/lo/reset\">\
<input type=\"hidden\" name=\"ticket\" value=\"{ticket}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
<label for=\"password\">New password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required autofocus>\
<label for=\"confirm\">Confirm the new password</label>\
<input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\
<button type=\"submit\">Change password</button></form>",
        error = error_box(error),
        policy = escape(policy),
        ticket = escape(ticket),
        csrf = escape(csrf),
    );
    layout("Change your password", None, &body)
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
        let page = form_post("https://app.example.com/cb", &[]);
        assert!(page.contains(&format!("<script>{FORM_POST_SCRIPT}</script>")));
        assert!(!page.contains("onload"));
    }
}
