//! The dashboard's page frame and small HTML helpers. Every value that reaches a page goes
//! through `esc`; the only script is `/admin/assets/admin.js` (the pages work without it).

pub use gatehouse_core::email::escape_html as esc;
use serde_json::Value;

const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#111827;background:#f3f4f6;line-height:1.45}\
a{color:#1d4ed8}a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus{outline:3px solid #2563eb;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.5rem;z-index:2}\
header.top{background:#111827;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}\
header.top a{color:#e5e7eb;text-decoration:none;padding:.2rem .1rem}header.top a[aria-current=page]{color:#fff;border-bottom:2px solid #60a5fa}\
header.top .brand{font-weight:700;color:#fff;margin-right:.5rem}header.top form{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.85rem}\
header.top button{background:#374151;margin:0;padding:.3rem .7rem}\
main{max-width:72rem;margin:1rem auto;padding:0 1rem}h1{font-size:1.45rem;margin:.6rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}\
section.card{background:#fff;border-radius:.6rem;padding:1rem;margin:1rem 0;box-shadow:0 1px 3px rgba(0,0,0,.1)}\
label{display:block;font-weight:600;font-size:.9rem;margin:.6rem 0 .2rem}\
input[type=text],input[type=email],input[type=password],input[type=url],input[type=search],input[type=number],input[type=date],select,textarea{width:100%;padding:.5rem;border:1px solid #9ca3af;border-radius:.35rem;font:inherit}\
textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;min-height:8rem}\
button,.button{display:inline-block;font:inherit;padding:.5rem .9rem;border:0;border-radius:.35rem;background:#1d4ed8;color:#fff;cursor:pointer;text-decoration:none;margin:.4rem .3rem .2rem 0}\
button.secondary,.button.secondary{background:#e5e7eb;color:#111827}button.danger{background:#b91c1c}button:disabled{opacity:.5;cursor:not-allowed}\
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}.row>*{flex:1 1 14rem}.row>button{flex:0 0 auto}\
.actions{display:flex;flex-wrap:wrap;gap:.4rem}.actions form{display:inline}\
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}\
th{background:#f9fafb;white-space:nowrap}td.num{text-align:right}\
dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.3rem 1rem;margin:0}dt{font-weight:600;color:#374151}dd{margin:0;word-break:break-all}\
.error{background:#fef2f2;border:1px solid #fca5a5;color:#991b1b;padding:.6rem .8rem;border-radius:.35rem;white-space:pre-wrap}\
.notice{background:#ecfdf5;border:1px solid #6ee7b7;color:#065f46;padding:.6rem .8rem;border-radius:.35rem}\
.warn{background:#fffbeb;border:1px solid #fcd34d;color:#92400e;padding:.6rem .8rem;border-radius:.35rem}\
.muted{color:#4b5563;font-size:.88rem}.badge{display:inline-block;padding:.05rem .45rem;border-radius:1rem;font-size:.78rem;background:#e5e7eb}\
.badge.bad{background:#fee2e2;color:#991b1b}.badge.good{background:#d1fae5;color:#065f46}\
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}pre{background:#f9fafb;padding:.6rem;overflow-x:auto}\
progress{width:100%;height:1.2rem}.pager{display:flex;gap:.6rem;align-items:center;margin-top:.6rem}\
img.avatar{width:4rem;height:4rem;border-radius:50%;object-fit:cover;background:#e5e7eb}.user-head{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}\
@media (max-width:40rem){main{padding:0 .5rem}.wide{display:none}section.card{padding:.7rem}dl{grid-template-columns:1fr}dt{margin-top:.4rem}}";

/// The dashboard's sections, for the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Users,
    Applications,
    Connections,
    Jobs,
    Logs,
}

/// A whole dashboard page: navigation, who is signed in, sign-out, and the body.
pub fn layout(title: &str, nav: Nav, admin_email: &str, csrf: &str, body: &str) -> String {
    let link = |href: &str, label: &str, me: Nav| {
        let current = if me == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title} · Gatehouse</title><style>{STYLE}</style>\
<script src=\"/admin/assets/admin.js\" defer></script></head><body>\
<a class=\"skip\" href=\"#main\">Skip to content</a>\
<header class=\"top\"><span class=\"brand\">Gatehouse</span><nav aria-label=\"Dashboard\" class=\"actions\">{users}{apps}{conns}{jobs}{logs}</nav>\
<form method=\"post\" action=\"/admin/signout\"><span>{who}</span>{csrf_input}<button type=\"submit\">Sign out</button></form></header>\
<main id=\"main\">{body}</main></body></html>",
        title = esc(title),
        users = link("/admin/users", "Users", Nav::Users),
        apps = link("/admin/applications", "Applications", Nav::Applications),
        conns = link("/admin/connections", "Connections", Nav::Connections),
        jobs = link("/admin/jobs", "Import &amp; export", Nav::Jobs),
        logs = link("/admin/logs", "Logs", Nav::Logs),
        who = esc(admin_email),
        csrf_input = csrf_input(csrf),
    )
}

/// A bare page (sign-in problems), without navigation.
pub fn bare(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{t} · Gatehouse</title><style>{STYLE}</style></head><body>\
<main id=\"main\"><section class=\"card\"><h1>{t}</h1>{body}</section></main></body></html>",
        t = esc(title)
    )
}

pub fn csrf_input(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        esc(csrf)
    )
}

pub fn error_box(message: Option<&str>) -> String {
    message
        .map(|m| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
                esc(m)
            )
        })
        .unwrap_or_default()
}

pub fn notice(message: Option<&str>) -> String {
    message
        .map(|m| {
            format!(
                "<p class=\"notice\" role=\"status\" id=\"notice\">{}</p>",
                esc(m)
            )
        })
        .unwrap_or_default()
}

/// A one-button form posting to `action` (with the CSRF token).
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\">{}<button type=\"submit\" class=\"{class}\">{}</button></form>",
        esc(action),
        csrf_input(csrf),
        esc(label)
    )
}

/// An epoch-millisecond time as `2026-12-02 10:04:05 UTC`.
pub fn time(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => {
            let iso = gatehouse_core::time::iso8601(ms);
            format!("{} UTC", iso.get(..19).unwrap_or(&iso).replace('T', " "))
        }
        None => "never".into(),
    }
}

/// An ISO 8601 string from a JSON document, shown like [`time`].
pub fn json_time(v: &Value) -> String {
    match v.as_str() {
        Some(s) => format!("{} UTC", s.get(..19).unwrap_or(s).replace('T', " ")),
        None => "never".into(),
    }
}

/// A JSON value as text for a cell: strings bare, the rest as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `1 user`, `2 users`: a count with its noun.
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a=b&c=d` with each value percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", gatehouse_core::authorize::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a path segment (user ids carry `|`).
pub fn seg(s: &str) -> String {
    gatehouse_core::authorize::percent_encode(s)
}
