//! Redirect allow-lists (logout `returnTo` and login callbacks): strict parsing and
//! matching so that a listed URL cannot be stretched into a redirect to somewhere else.
//!
//! Auth0's rules: scheme and host compare case-insensitively, the path case-sensitively, the
//! query and fragment of the candidate are ignored, and a listed host may start with `*.` to
//! allow one subdomain level.

/// The parts of an absolute URL that matching looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

/// Schemes a browser runs or reads locally instead of navigating to: never a callback,
/// logout URL or origin, whatever is stored (security review M7).
const SCRIPT_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "filesystem",
    "view-source",
];

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Parses `scheme://host[:port][/path][?query][#fragment]`, refusing everything browsers
/// might read differently from us: user info (`@`), backslashes, white space and control
/// characters, non-ASCII or percent-encoded hosts, empty hosts.
fn parse(url: &str, allow_wildcard: bool) -> Option<Parts> {
    if url
        .chars()
        .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let mut sc = scheme.chars();
    if !sc.next()?.is_ascii_alphabetic()
        || !sc.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return None;
    }
    if SCRIPT_SCHEMES.contains(&scheme.as_str()) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port: u16 = p.parse().ok()?;
            (h, Some(port))
        }
        _ => (authority, None),
    };
    let host = host.to_ascii_lowercase();
    let valid_label =
        |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let ok_host = if host.starts_with('[') {
        host.ends_with(']')
            && host[1..host.len() - 1]
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':')
    } else {
        let mut labels: Vec<&str> = host.split('.').collect();
        if allow_wildcard && labels.first() == Some(&"*") && labels.len() > 2 {
            labels.remove(0);
        }
        labels.iter().all(|l| valid_label(l))
    };
    if !ok_host {
        return None;
    }
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = if path_end == 0 {
        "/".to_string()
    } else {
        tail[..path_end].to_string()
    };
    let port = port.or_else(|| default_port(&scheme));
    Some(Parts {
        scheme,
        host,
        port,
        path,
    })
}

/// Whether `url` can be listed as an Allowed Callback or Logout URL: `http(s)` or a custom
/// scheme for a native app (`com.example.app://…`), with a host, no user info, no scheme a
/// browser would run.
pub fn is_valid_app_url(url: &str) -> bool {
    parse(url, true).is_some()
}

/// Whether `url` can be listed as an Allowed (Web) Origin: `http(s)` only.
pub fn is_valid_web_origin(url: &str) -> bool {
    parse(url, true).is_some_and(|p| p.scheme == "http" || p.scheme == "https")
}

/// The origin (`scheme://host[:port]`, the port only when not the scheme's default) of an
/// `http(s)` URL without wildcards, as a content security policy names it; `None` for
/// anything else. Hosts are checked as for callbacks, so the origin holds no character a
/// policy could read as syntax.
pub fn web_origin(url: &str) -> Option<String> {
    let p = parse(url, false)?;
    if p.scheme != "http" && p.scheme != "https" {
        return None;
    }
    Some(match p.port {
        Some(port) if Some(port) != default_port(&p.scheme) => {
            format!("{}://{}:{port}", p.scheme, p.host)
        }
        _ => format!("{}://{}", p.scheme, p.host),
    })
}

/// True when `candidate` is allowed by one of `allowed`.
pub fn is_allowed(candidate: &str, allowed: &[String]) -> bool {
    let Some(c) = parse(candidate, false) else {
        return false;
    };
    allowed.iter().filter_map(|a| parse(a, true)).any(|a| {
        let host_ok = match a.host.strip_prefix("*.") {
            // One subdomain level: `x.example.com` for `*.example.com`, not `a.b.example.com`.
            Some(suffix) => c
                .host
                .strip_suffix(suffix)
                .and_then(|h| h.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
            None => a.host == c.host,
        };
        host_ok && a.scheme == c.scheme && a.port == c.port && a.path == c.path
    })
}

/// True when `candidate` may receive an authorization response: it matches an Allowed
/// Callback URL as [`is_allowed`] does and, stricter than logout, carries no fragment and
/// exactly the listed entry's query string (usually none), so nothing can be smuggled in.
pub fn is_registered_callback(candidate: &str, allowed: &[String]) -> bool {
    if candidate.contains('#') {
        return false;
    }
    let query = |u: &str| u.split_once('?').map(|(_, q)| q.to_string());
    let wanted = query(candidate);
    allowed.iter().any(|a| {
        !a.contains('#') && query(a) == wanted && is_allowed(candidate, std::slice::from_ref(a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_origins_of_callbacks() {
        assert_eq!(
            web_origin("https://App.example.com/cb?x=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            web_origin("http://127.0.0.1:4000/callback").as_deref(),
            Some("http://127.0.0.1:4000")
        );
        assert_eq!(
            web_origin("https://a.example:443/").as_deref(),
            Some("https://a.example")
        );
        for not_one in [
            "https://*.example.com/cb",
            "com.example.app://callback",
            "https://a.example;script-src *",
            "javascript://x",
        ] {
            assert_eq!(web_origin(not_one), None, "{not_one}");
        }
    }

    fn list(urls: &[&str]) -> Vec<String> {
        urls.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn script_schemes_are_never_urls() {
        for bad in [
            "javascript://app.example.com/cb%0aalert(document.domain)",
            "JavaScript://app.example.com/cb",
            "data://app.example.com/x",
            "vbscript://a.example/x",
            "file://server/share",
            "blob://app.example.com/x",
            "https://user@app.example.com/cb",
            "https:///cb",
            "not a url",
        ] {
            assert!(!is_valid_app_url(bad), "{bad}");
            assert!(!is_valid_web_origin(bad), "{bad}");
            assert!(!is_registered_callback(bad, &list(&[bad])), "{bad}");
            assert!(!is_allowed(bad, &list(&[bad])), "{bad}");
        }
        for good in [
            "https://app.example.com/cb",
            "http://localhost:3000/callback",
            "https://*.example.com/cb",
            "com.example.app://tenant.example.com/ios/com.example.app/callback",
        ] {
            assert!(is_valid_app_url(good), "{good}");
        }
        assert!(is_valid_web_origin("https://app.example.com"));
        assert!(!is_valid_web_origin("com.example.app://tenant.example.com"));
    }

    #[test]
    fn matches_like_auth0() {
        let allowed = list(&[
            "https://app.example.com/logged-out",
            "http://localhost:3000",
            "https://*.tenant.example/bye",
        ]);
        for ok in [
            "https://app.example.com/logged-out",
            "HTTPS://APP.EXAMPLE.COM/logged-out",
            "https://app.example.com:443/logged-out?x=1#y",
            "http://localhost:3000/",
            "http://localhost:3000",
            "https://shop.tenant.example/bye",
        ] {
            assert!(is_allowed(ok, &allowed), "{ok}");
        }
    }

    #[test]
    fn refuses_bypass_attempts() {
        let allowed = list(&[
            "https://app.example.com/logged-out",
            "https://*.tenant.example/bye",
        ]);
        for bad in [
            "https://app.example.com/Logged-Out",
            "https://app.example.com/logged-out/../../evil",
            "https://app.example.com.evil.com/logged-out",
            "https://evil.com/https://app.example.com/logged-out",
            "https://app.example.com@evil.com/logged-out",
            "https://evil.com\\@app.example.com/logged-out",
            "https://evil.com%2f@app.example.com/logged-out",
            "https:/\\evil.com",
            "//evil.com",
            "javascript:alert(1)//https://app.example.com/logged-out",
            "http://app.example.com/logged-out",
            "https://app.example.com:8443/logged-out",
            "https://a.b.tenant.example/bye",
            "https://tenant.example/bye",
            "https://*.tenant.example/bye",
            "https://аpp.example.com/logged-out",
            "https://app.example.com%2eevil.com/logged-out",
            "https://app.example.com /logged-out",
            "",
        ] {
            assert!(!is_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn callbacks_match_exactly() {
        let allowed = list(&[
            "https://app.example.com/cb",
            "https://*.tenant.example/cb?v=2",
        ]);
        assert!(is_registered_callback(
            "https://app.example.com/cb",
            &allowed
        ));
        assert!(is_registered_callback(
            "https://x.tenant.example/cb?v=2",
            &allowed
        ));
        for bad in [
            "https://app.example.com/cb?next=https://evil.com",
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb/",
            "https://app.example.com/cb/../evil",
            "https://app.example.com/cb%2f..%2fevil",
            "https://x.tenant.example/cb",
            "https://x.tenant.example/cb?v=3",
            "https://evil.com/cb",
            "https://app.example.com@evil.com/cb",
            "https://evil.com\\@app.example.com/cb",
            "javascript://app.example.com/cb",
            "http://app.example.com/cb",
        ] {
            assert!(!is_registered_callback(bad, &allowed), "{bad}");
        }
    }
}
