//! Directory connections (`strategy: "ad"`): users whose passwords a corporate directory
//! checks, Active Directory or a plain LDAP server such as OpenLDAP. What is pure lives here:
//! the options a connection keeps (the server, the service account, where users and groups
//! are, how a user is found) with their defaults, checked when the connection is saved, and
//! the normalized profile of a directory entry, mapped as Auth0's AD/LDAP connector maps it.
//!
//! Auth0 reaches a directory through its AD/LDAP Connector, an agent whose `config.json`
//! holds these settings; Gatehouse talks LDAP itself, so they are connection options here
//! (the bind password sealed apart, like an OpenID Connect client secret).

use crate::payload::InvalidBody;
use crate::upstream::profile::UpstreamProfile;
use crate::upstream::{RootSync, bad, deny_list, is_loopback, opt_string, string_list};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Auth0's strategy name for AD/LDAP connections.
pub const DIRECTORY_STRATEGY: &str = "ad";
/// The option holding the service account's password (sealed apart, never read back).
pub const BIND_PASSWORD: &str = "bind_password";

/// Which directory answers: it decides the default user filter and how nested groups are
/// found (Active Directory's in-chain matching rule, or walking `member` on other servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryKind {
    ActiveDirectory,
    Ldap,
}

/// The options of a directory connection, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryOptions {
    pub kind: DirectoryKind,
    /// `ldaps://host[:636]`, or `ldap://host[:389]` with StartTLS (plain only on loopback).
    pub url: String,
    pub start_tls: bool,
    /// The service account that searches; `None` searches anonymously.
    pub bind_dn: Option<String>,
    pub base_dn: String,
    /// An LDAP filter with `{0}` where the escaped username goes.
    pub user_filter: String,
    pub groups_base_dn: String,
    /// The attribute of a group entry that names it in `groups` (`cn`).
    pub group_name_attribute: String,
    /// Groups of groups count too.
    pub nested_groups: bool,
    /// Each directory operation (connect, bind, search) ends with an outage after this.
    pub timeout_ms: u64,
    pub root_sync: RootSync,
    pub non_persistent_attrs: Vec<String>,
    pub domain_aliases: Vec<String>,
}

/// Attributes read from a user's entry besides the ones the profile maps by name: kept on the
/// profile as the connector passes them through.
pub const PASSED_THROUGH: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "uid",
    "department",
    "company",
    "title",
    "manager",
    "telephoneNumber",
    "employeeID",
    "employeeNumber",
];

/// Every attribute a user search asks for.
pub fn user_attributes() -> Vec<&'static str> {
    let mut a = vec![
        "objectGUID",
        "cn",
        "displayName",
        "givenName",
        "sn",
        "mail",
        "memberOf",
    ];
    a.extend_from_slice(PASSED_THROUGH);
    a
}

const MIN_TIMEOUT_MS: u64 = 100;
const MAX_TIMEOUT_MS: u64 = 60_000;

/// Whether the URL names a loopback host. `ldap:` is not a scheme the URL standard knows, so
/// its host is kept as text: an address written there is read here.
fn on_loopback(url: &url::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => is_loopback(url),
    }
}

fn checked_url(raw: &str, start_tls: bool) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{raw} is not a valid URL ({e})"))?;
    if url.host().is_none() {
        return Err(format!("{raw} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{raw} must not carry credentials"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{raw} must name a server only (ldaps://host:636), without a path or query"
        ));
    }
    match url.scheme() {
        "ldaps" => Ok(()),
        "ldap" if start_tls || on_loopback(&url) => Ok(()),
        "ldap" => Err(format!(
            "{raw} would send passwords in clear: use ldaps://, or set start_tls (plain ldap:// is allowed only on loopback hosts)"
        )),
        other => Err(format!("{raw} has the unsupported scheme {other}")),
    }
}

fn required(o: &Map<String, Value>, key: &str) -> Result<String, InvalidBody> {
    opt_string(o, key)?.ok_or_else(|| bad("Missing required property", key))
}

fn flag(o: &Map<String, Value>, key: &str, default: bool) -> Result<bool, InvalidBody> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad("Expected type boolean", key)),
    }
}

impl DirectoryOptions {
    /// Reads and checks a directory connection's options. The bind password is not read:
    /// the service seals it apart.
    pub fn parse(o: &Map<String, Value>) -> Result<Self, InvalidBody> {
        let kind = match opt_string(o, "directory_type")?.as_deref() {
            None | Some("active_directory") => DirectoryKind::ActiveDirectory,
            Some("ldap") => DirectoryKind::Ldap,
            Some(_) => {
                return Err(bad(
                    "No enum match (active_directory, ldap)",
                    "directory_type",
                ));
            }
        };
        let start_tls = flag(o, "start_tls", false)?;
        let url = required(o, "ldap_url")?;
        checked_url(&url, start_tls).map_err(|why| bad(why, "ldap_url"))?;
        let base_dn = required(o, "base_dn")?;
        let user_filter = match opt_string(o, "user_filter")? {
            Some(f) => f,
            None => match kind {
                DirectoryKind::ActiveDirectory => {
                    "(&(objectClass=user)(|(sAMAccountName={0})(userPrincipalName={0})(mail={0})))"
                        .into()
                }
                DirectoryKind::Ldap => "(|(uid={0})(mail={0}))".into(),
            },
        };
        if !user_filter.starts_with('(') || !user_filter.ends_with(')') {
            return Err(bad(
                "An LDAP filter in parentheses, such as (sAMAccountName={0})",
                "user_filter",
            ));
        }
        if !user_filter.contains("{0}") {
            return Err(bad(
                "The filter must contain {0} where the username goes",
                "user_filter",
            ));
        }
        let timeout_ms = match o.get("timeout_ms") {
            None | Some(Value::Null) => 5_000,
            Some(v) => v
                .as_u64()
                .filter(|t| (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(t))
                .ok_or_else(|| {
                    bad(
                        format!("A whole number of milliseconds from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}"),
                        "timeout_ms",
                    )
                })?,
        };
        Ok(Self {
            kind,
            url,
            start_tls,
            bind_dn: opt_string(o, "bind_dn")?,
            groups_base_dn: opt_string(o, "groups_base_dn")?.unwrap_or_else(|| base_dn.clone()),
            base_dn,
            user_filter,
            group_name_attribute: opt_string(o, "group_name_attribute")?
                .unwrap_or_else(|| "cn".into()),
            nested_groups: flag(o, "nested_groups", true)?,
            timeout_ms,
            root_sync: RootSync::of_options(o)?,
            non_persistent_attrs: deny_list(o)?,
            domain_aliases: string_list(o, "domain_aliases")?,
        })
    }

    /// The user filter for what was typed (escaped as RFC 4515 requires).
    pub fn filter_for(&self, username: &str) -> String {
        self.user_filter
            .replace("{0}", &escape_filter_value(username))
    }

    /// `identities[].user_id`: the enterprise form, `<connection>|<id>`.
    pub fn identity_user_id(connection: &str, id: &str) -> String {
        format!("{connection}|{id}")
    }
}

/// Escapes a value for an LDAP filter (RFC 4515): `\ * ( )` and NUL as `\xx`.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\5c"),
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// The first value of an attribute, its name matched without regard to case (directories
/// answer `mail`, `Mail` or `MAIL`).
fn first<'a>(attrs: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a String> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .filter(|v| !v.is_empty())
}

/// Active Directory's `objectGUID` (16 bytes, the first three fields little-endian) as the
/// GUID's usual text.
pub fn guid_text(bytes: &[u8]) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// A user entry as the normalized profile, as Auth0's connector maps it: the id from
/// `objectGUID`, else `uid`, else `cn`; `displayName` (else `cn`) as the name, `givenName`,
/// `sn`, `sAMAccountName` (else `uid`, `cn`) as the nickname, `mail`; the entry's `dn`, its
/// `groups` and the passed-through attributes at the root. The email is not marked verified,
/// as the connector leaves it.
pub fn profile_of(
    dn: &str,
    attrs: &HashMap<String, Vec<String>>,
    guid: Option<String>,
    groups: Vec<String>,
) -> Option<UpstreamProfile> {
    let id = guid
        .or_else(|| first(attrs, "uid").cloned())
        .or_else(|| first(attrs, "cn").cloned())?;
    let mut other = Map::new();
    other.insert("dn".into(), Value::String(dn.to_string()));
    other.insert(
        "groups".into(),
        Value::Array(groups.into_iter().map(Value::String).collect()),
    );
    for name in PASSED_THROUGH {
        if let Some(v) = first(attrs, name) {
            other.insert((*name).to_string(), Value::String(v.clone()));
        }
    }
    Some(UpstreamProfile {
        id,
        email: first(attrs, "mail").cloned(),
        email_verified: false,
        name: first(attrs, "displayName")
            .or_else(|| first(attrs, "cn"))
            .cloned(),
        nickname: first(attrs, "sAMAccountName")
            .or_else(|| first(attrs, "uid"))
            .or_else(|| first(attrs, "cn"))
            .cloned(),
        given_name: first(attrs, "givenName").cloned(),
        family_name: first(attrs, "sn").cloned(),
        picture: None,
        other,
    })
}

/// What Active Directory's answer to a refused bind says (`…, data 775, …`), in Auth0's
/// connector's words; a wrong password (or anything else) is `None`.
pub fn ad_bind_refusal(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    [
        ("data 532", "password_expired"),
        ("data 533", "account_disabled"),
        ("data 534", "account_disabled"),
        ("data 701", "account_expired"),
        ("data 773", "password_change_required"),
        ("data 775", "account_locked"),
    ]
    .into_iter()
    .find(|(code, _)| m.contains(code))
    .map(|(_, why)| why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(v: Value) -> Result<DirectoryOptions, InvalidBody> {
        DirectoryOptions::parse(v.as_object().expect("object"))
    }

    #[test]
    fn urls_must_protect_passwords_off_loopback() {
        for ok in [
            json!({"ldap_url": "ldaps://dc1.corp.example.com", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldap://dc1.corp.example.com:389", "start_tls": true, "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldap://127.0.0.1:3890", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldap://[::1]:3890", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldap://localhost", "base_dn": "dc=corp"}),
        ] {
            assert!(options(ok.clone()).is_ok(), "{ok}");
        }
        for bad in [
            json!({"ldap_url": "ldap://dc1.corp.example.com", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldap://10.0.0.7", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldap://127.0.0.1.evil.example", "base_dn": "dc=corp"}),
            json!({"ldap_url": "https://dc1.corp.example.com", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldaps://admin:pw@dc1", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldaps://dc1/dc=corp?cn", "base_dn": "dc=corp"}),
            json!({"ldap_url": "ldaps://dc1"}),
            json!({"base_dn": "dc=corp"}),
            json!({"ldap_url": "ldaps://dc1", "base_dn": "dc=corp", "user_filter": "uid={0}"}),
            json!({"ldap_url": "ldaps://dc1", "base_dn": "dc=corp", "user_filter": "(uid=admin)"}),
            json!({"ldap_url": "ldaps://dc1", "base_dn": "dc=corp", "timeout_ms": 5}),
            json!({"ldap_url": "ldaps://dc1", "base_dn": "dc=corp", "directory_type": "novell"}),
        ] {
            assert!(options(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_follow_the_directory_kind() {
        let ad = options(json!({"ldap_url": "ldaps://dc1", "base_dn": "dc=corp"})).unwrap();
        assert_eq!(ad.kind, DirectoryKind::ActiveDirectory);
        assert!(ad.user_filter.contains("sAMAccountName={0}"));
        assert_eq!(ad.groups_base_dn, "dc=corp");
        assert!(ad.nested_groups);
        let ldap = options(
            json!({"ldap_url": "ldaps://ldap", "base_dn": "dc=org", "directory_type": "ldap"}),
        )
        .unwrap();
        assert_eq!(ldap.user_filter, "(|(uid={0})(mail={0}))");
    }

    #[test]
    fn typed_usernames_cannot_change_the_filter() {
        let o = options(
            json!({"ldap_url": "ldaps://ldap", "base_dn": "dc=org", "user_filter": "(uid={0})"}),
        )
        .unwrap();
        assert_eq!(o.filter_for("*)(uid=admin"), "(uid=\\2a\\29\\28uid=admin)");
        assert_eq!(o.filter_for("back\\slash\0"), "(uid=back\\5cslash\\00)");
        assert_eq!(o.filter_for("åsa.lind"), "(uid=åsa.lind)");
    }

    #[test]
    fn an_entry_maps_as_auth0s_connector_maps_it() {
        let attrs: HashMap<String, Vec<String>> = [
            ("uid", "åsa"),
            ("CN", "Åsa Lind"),
            ("mail", "asa@corp.example"),
            ("givenName", "Åsa"),
            ("sn", "Lind"),
            ("department", "Sales"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect();
        let p = profile_of(
            "uid=åsa,ou=people,dc=org",
            &attrs,
            None,
            vec!["sales".into()],
        )
        .unwrap();
        assert_eq!(p.id, "åsa");
        assert_eq!(p.name.as_deref(), Some("Åsa Lind"));
        assert_eq!(p.nickname.as_deref(), Some("åsa"));
        assert_eq!(p.email.as_deref(), Some("asa@corp.example"));
        assert!(!p.email_verified);
        assert_eq!(p.other["groups"], json!(["sales"]));
        assert_eq!(p.other["department"], json!("Sales"));
        assert_eq!(p.other["dn"], json!("uid=åsa,ou=people,dc=org"));
        let with_guid = profile_of(
            "cn=x",
            &attrs,
            guid_text(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
            vec![],
        )
        .unwrap();
        assert_eq!(with_guid.id, "04030201-0605-0807-090a-0b0c0d0e0f10");
        assert!(profile_of("cn=x", &HashMap::new(), None, vec![]).is_none());
    }

    #[test]
    fn active_directory_bind_refusals_are_read() {
        let m = "80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 775, v893";
        assert_eq!(ad_bind_refusal(m), Some("account_locked"));
        assert_eq!(ad_bind_refusal("…, data 52e, v893"), None);
    }
}
