//! The hosts scripts may reach (`GATEHOUSE_SCRIPT_ALLOWED_HOSTS`, empty by default): one list
//! for HTTP (`fetch`, `request`, `axios`), PostgreSQL (`pg`) and MySQL (`mysql`), so an
//! operator reads in one place where customer code can go.

/// Hosts, optionally with a port (`api.example.com`, `db.internal:5432`), or a wildcard for
/// subdomains (`*.example.com`). Comparison ignores case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<(String, Option<u16>)>,
}

impl AllowedHosts {
    /// Reads a comma- or space-separated list; empty entries are skipped.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut entries = vec![];
        for item in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let item = item.to_ascii_lowercase();
            let (host, port) = match item.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                    Ok(port) => (h.to_string(), Some(port)),
                    Err(_) => return Err(format!("\"{item}\": the port is not a number")),
                },
                _ => (item.clone(), None),
            };
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            if host.is_empty() || host.contains('/') {
                return Err(format!("\"{item}\" is not a host name"));
            }
            entries.push((host, port));
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a script may connect to `host` on `port`.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.entries.iter().any(|(allowed, p)| {
            let host_ok = match allowed.strip_prefix("*.") {
                Some(parent) => host.ends_with(&format!(".{parent}")),
                None => *allowed == host,
            };
            host_ok && p.is_none_or(|p| p == port)
        })
    }

    /// The refusal a script sees for a host not on the list.
    pub fn refusal(host: &str) -> String {
        format!(
            "scripts may not connect to {host}: the server's operator allows only the hosts in GATEHOUSE_SCRIPT_ALLOWED_HOSTS"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_and_wildcards() {
        let h = AllowedHosts::parse("api.example.com, db.internal:5432 *.corp.example").unwrap();
        assert!(h.allows("API.example.com", 443));
        assert!(h.allows("db.internal", 5432));
        assert!(!h.allows("db.internal", 5433));
        assert!(h.allows("a.b.corp.example", 80));
        assert!(!h.allows("corp.example", 80));
        assert!(!h.allows("evil-api.example.com", 443));
        assert!(AllowedHosts::parse("").unwrap().is_empty());
        assert!(!AllowedHosts::default().allows("localhost", 80));
        assert!(AllowedHosts::parse("a:b").is_err());
        let v6 = AllowedHosts::parse("[::1]:8080").unwrap();
        assert!(v6.allows("[::1]", 8080));
    }
}
