//! A small browser for tests: keeps cookies, follows redirects inside the server, stops at
//! the first redirect elsewhere (an application's callback), and reads forms' hidden fields.

use reqwest::Url;
use std::collections::HashMap;

pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
    /// Sent with every request (`X-Forwarded-For` to come from another address).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// Where a redirect points (absolute).
    pub location: Option<String>,
    pub body: String,
    pub set_cookies: Vec<String>,
    /// The `x-request-id` the server answered with.
    pub request_id: Option<String>,
}

impl Page {
    /// The value of a hidden (or any) input named `name`.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// A parameter of the redirect target's query or fragment.
    pub fn callback_param(&self, name: &str) -> Option<String> {
        let loc = self.location.as_deref()?;
        param(loc, name)
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A query or fragment parameter of a URL, decoded.
pub fn param(url: &str, name: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    if let Some((_, v)) = u.query_pairs().find(|(k, _)| k == name) {
        return Some(v.into_owned());
    }
    let frag = Url::parse(&format!("http://x/?{}", u.fragment()?)).ok()?;
    frag.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
            cookies: HashMap::new(),
            headers: Vec::new(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        }
    }

    /// The browser's cookies as a `Cookie` header value.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let mut set_cookies = vec![];
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().expect("ascii cookie").to_string();
            let (pair, attrs) = v.split_once(';').unwrap_or((&v, ""));
            let (k, val) = pair.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
            set_cookies.push(v.clone());
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| self.absolute(l));
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = resp.text().await.expect("body");
        Page {
            status,
            location,
            body,
            set_cookies,
            request_id,
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let mut req = self
            .http
            .get(self.absolute(url))
            .header("cookie", self.cookie_header());
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.expect("GET");
        self.read(resp).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", super::enc(k), super::enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = self
            .http
            .post(self.absolute(url))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let resp = req.body(body).send().await.expect("POST");
        self.read(resp).await
    }

    /// Follows redirects while they stay on the server; returns the first page that is not
    /// such a redirect.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            match &page.location {
                Some(l) if l.starts_with(&self.base) && (300..400).contains(&page.status) => {
                    let l = l.clone();
                    page = self.get(&l).await;
                }
                _ => return page,
            }
        }
        panic!("redirect loop");
    }

    /// GET and follow.
    pub async fn visit(&mut self, url: &str) -> Page {
        let p = self.get(url).await;
        self.follow(p).await
    }

    /// Submits the login form shown on `page`.
    pub async fn submit_login(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let state = page.input("state").expect("login form has state");
        let csrf = page.input("_csrf").expect("login form has a CSRF token");
        let p = self
            .post_form(
                "/u/login",
                &[
                    ("state", &state),
                    ("_csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        self.follow(p).await
    }
}
