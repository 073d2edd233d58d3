//! Dashboard AD/LDAP connections (`strategy: "ad"`): the card that connects a directory from
//! the connections list, the settings form on the connection's page (the bind password
//! written, never shown), and "Test connection", which binds with the saved settings, reads
//! the base and counts the users a sample username finds, or says in words why it could not.
//!
//! Options the form does not show (`timeout_ms`, `domain_aliases`, `set_user_root_attributes`,
//! `non_persistent_attrs`…) are kept as they are on a save.

use super::format::seg;
use super::param;
use crate::templates::{Markup, check, csrf_input, html, options};
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::directory::{BIND_PASSWORD, DIRECTORY_STRATEGY};
use gatehouse_core::payload::Payload;
use gatehouse_service::ServiceError;
use gatehouse_service::directory::DirectoryProbe;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const KINDS: &[(&str, &str)] = &[
    ("active_directory", "Active Directory"),
    ("ldap", "LDAP (OpenLDAP and others)"),
];

/// The form's fields, as stored or as typed. The bind password is never among them.
#[derive(Default)]
pub(super) struct DirectoryFields {
    name: String,
    directory_type: String,
    ldap_url: String,
    start_tls: bool,
    base_dn: String,
    groups_base_dn: String,
    bind_dn: String,
    user_filter: String,
    nested_groups: bool,
}

fn text(o: &Map<String, Value>, key: &str) -> String {
    o.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

impl DirectoryFields {
    fn new_connection() -> Self {
        Self {
            directory_type: "active_directory".into(),
            nested_groups: true,
            ..Self::default()
        }
    }

    pub(super) fn stored(c: &ConnectionSettings) -> Self {
        let o = &c.options;
        Self {
            name: c.name.clone(),
            directory_type: match text(o, "directory_type").as_str() {
                "" => "active_directory".into(),
                t => t.into(),
            },
            ldap_url: text(o, "ldap_url"),
            start_tls: o.get("start_tls").and_then(Value::as_bool) == Some(true),
            base_dn: text(o, "base_dn"),
            groups_base_dn: text(o, "groups_base_dn"),
            bind_dn: text(o, "bind_dn"),
            user_filter: text(o, "user_filter"),
            nested_groups: o.get("nested_groups").and_then(Value::as_bool) != Some(false),
        }
    }

    pub(super) fn posted(f: &HashMap<String, String>) -> Self {
        let on = |k: &str| !param(f, k).is_empty();
        Self {
            name: param(f, "name").trim().to_string(),
            directory_type: param(f, "directory_type").to_string(),
            ldap_url: param(f, "ldap_url").trim().to_string(),
            start_tls: on("start_tls"),
            base_dn: param(f, "base_dn").trim().to_string(),
            groups_base_dn: param(f, "groups_base_dn").trim().to_string(),
            bind_dn: param(f, "bind_dn").trim().to_string(),
            user_filter: param(f, "user_filter").trim().to_string(),
            nested_groups: on("nested_groups"),
        }
    }

    /// The options: the stored ones with the form's written over them; the bind password
    /// only when one was typed (left out, the sealed one stays).
    fn options(&self, stored: &Map<String, Value>, bind_password: &str) -> Map<String, Value> {
        let mut o = stored.clone();
        let mut put = |k: &str, v: &str| {
            if v.is_empty() {
                o.remove(k);
            } else {
                o.insert(k.into(), json!(v));
            }
        };
        put("directory_type", &self.directory_type);
        put("ldap_url", &self.ldap_url);
        put("base_dn", &self.base_dn);
        put("groups_base_dn", &self.groups_base_dn);
        put("bind_dn", &self.bind_dn);
        put("user_filter", &self.user_filter);
        o.insert("start_tls".into(), json!(self.start_tls));
        o.insert("nested_groups".into(), json!(self.nested_groups));
        if !bind_password.is_empty() {
            o.insert(BIND_PASSWORD.into(), json!(bind_password));
        }
        o
    }
}

/// The fields every directory form has; `password_stored` says whether a bind password is
/// sealed already (then leaving the field empty keeps it).
fn fields(f: &DirectoryFields, password_stored: bool) -> Markup {
    html! {
        div.row {
            div {
                label for="directory_type" { "Directory" }
                select #directory_type name="directory_type" {
                    (options(KINDS.iter().map(|(v, l)| (Some(*v), *l)), &f.directory_type))
                }
            }
            div {
                label for="ldap_url" { "Server URL" }
                input #ldap_url name="ldap_url" type="text" required value=(f.ldap_url)
                    placeholder="ldaps://dc1.corp.example.com" spellcheck="false";
            }
        }
        (check("start_tls", None, f.start_tls, html! { "StartTLS on an ldap:// URL (plain ldap:// is allowed only on loopback)" }))
        div.row {
            div {
                label for="base_dn" { "Users under (base DN)" }
                input #base_dn name="base_dn" type="text" required value=(f.base_dn)
                    placeholder="ou=people,dc=corp,dc=example" spellcheck="false";
            }
            div {
                label for="groups_base_dn" { "Groups under (optional; the users' base DN otherwise)" }
                input #groups_base_dn name="groups_base_dn" type="text" value=(f.groups_base_dn) spellcheck="false";
            }
        }
        div.row {
            div {
                label for="bind_dn" { "Service account DN (optional; anonymous search otherwise)" }
                input #bind_dn name="bind_dn" type="text" value=(f.bind_dn) spellcheck="false"
                    placeholder="cn=gatehouse,ou=service,dc=corp,dc=example";
            }
            div {
                label for="bind_password" {
                    @if password_stored { "Service account password (set; type to replace)" }
                    @else { "Service account password" }
                }
                input #bind_password name="bind_password" type="password" autocomplete="new-password";
            }
        }
        label for="user_filter" { "User filter (optional; {0} is the username typed)" }
        input #user_filter name="user_filter" type="text" value=(f.user_filter) spellcheck="false"
            placeholder="(sAMAccountName={0}), or (|(uid={0})(mail={0})) for LDAP";
        (check("nested_groups", None, f.nested_groups, html! { "Read nested groups (groups of groups)" }))
    }
}

/// The connections list's card that connects a directory.
pub(super) fn create_card(
    csrf: &str,
    typed: Option<DirectoryFields>,
    error: Option<&str>,
) -> Markup {
    let f = typed.unwrap_or_else(DirectoryFields::new_connection);
    html! {
        section.card #directory {
            h2 { "Connect a directory (Active Directory / LDAP)" }
            p.muted { "Users sign in with their directory password on the login page; their groups come with them." }
            @if let Some(e) = error { p.error #directory-error role="alert" { (e) } }
            form method="post" action="/admin/connections#directory" {
                (csrf_input(csrf))
                input type="hidden" name="strategy" value=(DIRECTORY_STRATEGY);
                label for="directory-name" { "Name" }
                input #directory-name name="name" type="text" required value=(f.name);
                (fields(&f, false))
                button type="submit" { "Create" }
            }
        }
    }
}

/// The Management API body that creates the connection, checked there.
pub(super) fn create_settings(
    f: &HashMap<String, String>,
) -> Result<ConnectionSettings, ServiceError> {
    let typed = DirectoryFields::posted(f);
    let body = json!({
        "name": typed.name,
        "strategy": DIRECTORY_STRATEGY,
        "options": typed.options(&Map::new(), param(f, BIND_PASSWORD)),
    });
    Ok(ConnectionSettings::from_create(Payload::from_value(body)?)?)
}

/// The options a save of the settings form gives, over the stored ones.
pub(super) fn updated_options(
    stored: &ConnectionSettings,
    f: &HashMap<String, String>,
) -> Map<String, Value> {
    DirectoryFields::posted(f).options(&stored.options, param(f, BIND_PASSWORD))
}

/// The connection page's settings card, with "Test connection" and its outcome.
pub(super) fn settings_card(
    id: &str,
    c: &ConnectionSettings,
    csrf: &str,
    typed: Option<DirectoryFields>,
    probe: Option<&DirectoryProbe>,
    sample: &str,
) -> Markup {
    let f = typed.unwrap_or_else(|| DirectoryFields::stored(c));
    let base = format!("/admin/connections/{}", seg(id));
    html! {
        section.card #directory {
            h2 { "Directory" }
            form method="post" action=(base) {
                (csrf_input(csrf))
                (fields(&f, c.sealed_secrets.contains_key(BIND_PASSWORD)))
                (check("brute_force_protection", None, c.brute_force_protection(), html! { "Brute-force protection" }))
                button type="submit" { "Save" }
            }
            h3 { "Test connection" }
            form method="post" action={ (base) "/test-directory#directory" } {
                (csrf_input(csrf))
                label for="sample" { "A username to look up (optional)" }
                input #sample name="sample" type="text" value=(sample) spellcheck="false";
                button.secondary type="submit" { "Test connection" }
                span.muted { " Uses the saved settings: save first." }
            }
            @if let Some(p) = probe {
                @match &p.outcome {
                    Ok(found) => p.notice #directory-test role="status" {
                        "Connected and bound as the service account in " (p.elapsed_ms) " ms."
                        @if let Some(n) = found {
                            " The user filter finds " (n) @if *n == 1 { " entry" } @else { " entries" } " for " code { (sample) } "."
                        }
                    },
                    Err(why) => p.error #directory-test role="alert" {
                        "The directory could not be used: " (why)
                    },
                }
            }
        }
    }
}
