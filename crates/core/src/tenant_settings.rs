//! A tenant's settings (`/api/v2/tenants/settings`): the name and logo on the hosted pages,
//! the tenant-wide Allowed Logout URLs, browser session lifetimes, the post-login
//! redirect hook, and what delegated administrators may see and do (`delegated_admin`,
//! read and checked in `crate::delegated_admin`), the terms users accept (`consent`) and
//! their default picture (`default_picture`), both read in `crate::gdpr`.

use crate::payload::{InvalidBody, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Auth0's defaults: sessions end after 3 days without activity and 7 days at most (hours).
pub const DEFAULT_IDLE_SESSION_HOURS: f64 = 72.0;
pub const DEFAULT_SESSION_HOURS: f64 = 168.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    pub friendly_name: Option<String>,
    pub picture_url: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    /// Where `/v2/logout` may send a browser when no `client_id` is given.
    pub allowed_logout_urls: Vec<String>,
    /// Absolute session lifetime, in hours.
    pub session_lifetime: f64,
    /// Lifetime of an unused session, in hours.
    pub idle_session_lifetime: f64,
    pub default_redirection_uri: Option<String>,
    /// Gatehouse's redirect hook: after authentication the browser is sent here with a signed
    /// `state`, and the flow resumes at `/continue?state=...`. Auth0 does this from a rule or
    /// action (`context.redirect`); until scripts land, a tenant setting turns it on.
    pub post_login_redirect_url: Option<String>,
    /// Gatehouse extension: keep a user's sessions and refresh tokens when their password
    /// changes (by default they end).
    pub keep_sessions_on_password_change: bool,
    /// Gatehouse extension: after a first login through an identity provider whose verified
    /// email belongs to an existing database user, offer to link the two (the user proves the
    /// existing account with its password first). Off by default.
    pub suggest_account_linking: bool,
    /// Gatehouse extension standing in for the hooks of Auth0's Delegated Administration
    /// Extension: the filter, create fields and defaults, and memberships that apply to
    /// dashboard users holding a `Delegated Admin - …` role. Unset, they see nobody.
    pub delegated_admin: Option<crate::delegated_admin::DelegatedAdminSettings>,
    /// Set through `/api/v2/attack-protection/breached-password-detection`, not here.
    pub breached_password_detection: crate::breached::BreachedPasswordSettings,
    /// Set through `/api/v2/email-templates`, not here; keyed by template name.
    pub email_templates: std::collections::BTreeMap<String, crate::email::CustomTemplate>,
    pub flags: TenantFlags,
    /// Which groups, roles and permissions reach tokens and `app_metadata.authorization`
    /// (the Authorization Extension's configuration).
    pub authorization: crate::authorization::AuthorizationSettings,
    /// Gatehouse extension: the terms a sign-up must accept, asked again at login when
    /// their version changes (`{terms_url, terms_version}`). Unset, nobody is asked.
    pub consent: Option<crate::gdpr::ConsentSettings>,
    /// Gatehouse extension: Auth0's Gravatar (default) or Gatehouse's own initials image.
    pub default_picture: crate::gdpr::DefaultPicture,
}

/// Auth0's tenant `flags` that Gatehouse honours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantFlags {
    /// A new application is enabled on every connection there is (Auth0's default). Off,
    /// an application serves only connections whose `enabled_clients` name it.
    pub enable_client_connections: bool,
}

impl Default for TenantFlags {
    fn default() -> Self {
        Self {
            enable_client_connections: true,
        }
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            friendly_name: None,
            picture_url: None,
            support_email: None,
            support_url: None,
            allowed_logout_urls: vec![],
            session_lifetime: DEFAULT_SESSION_HOURS,
            idle_session_lifetime: DEFAULT_IDLE_SESSION_HOURS,
            default_redirection_uri: None,
            post_login_redirect_url: None,
            keep_sessions_on_password_change: false,
            suggest_account_linking: false,
            delegated_admin: None,
            breached_password_detection: Default::default(),
            email_templates: Default::default(),
            flags: TenantFlags::default(),
            authorization: Default::default(),
            consent: None,
            default_picture: Default::default(),
        }
    }
}

const PROPERTIES: &[&str] = &[
    "friendly_name",
    "picture_url",
    "support_email",
    "support_url",
    "allowed_logout_urls",
    "session_lifetime",
    "idle_session_lifetime",
    "default_redirection_uri",
    "post_login_redirect_url",
    "keep_sessions_on_password_change",
    "suggest_account_linking",
    "delegated_admin",
    "flags",
    "authorization",
    "consent",
    "default_picture",
];

fn absolute_url(field: &str, v: &str) -> Result<(), InvalidBody> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(())
    } else {
        Err(InvalidBody::on_property(
            format!("{field} must be an absolute http(s) URL"),
            field,
        ))
    }
}

fn hours(p: &mut Payload, key: &str) -> Result<Option<f64>, InvalidBody> {
    match p.raw(key) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            // Auth0 accepts from one minute up to 100 days.
            Some(h) if (1.0 / 60.0..=2400.0).contains(&h) => Ok(Some(h)),
            _ => Err(InvalidBody::on_property(
                format!("{key} must be between 0.0167 and 2400 hours"),
                key,
            )),
        },
        Some(_) => Err(InvalidBody::on_property(
            format!("{key} must be a number"),
            key,
        )),
    }
}

impl TenantSettings {
    /// Applies a PATCH body; a `null` clears an optional string. On error nothing changes.
    pub fn patch(&mut self, p: Payload) -> Result<(), InvalidBody> {
        let mut next = self.clone();
        next.apply(p)?;
        *self = next;
        Ok(())
    }

    fn apply(&mut self, mut p: Payload) -> Result<(), InvalidBody> {
        p.require_some()?;
        p.allow_only(PROPERTIES)?;
        for (key, slot) in [
            ("friendly_name", &mut self.friendly_name),
            ("picture_url", &mut self.picture_url),
            ("support_email", &mut self.support_email),
            ("support_url", &mut self.support_url),
            ("default_redirection_uri", &mut self.default_redirection_uri),
            ("post_login_redirect_url", &mut self.post_login_redirect_url),
        ] {
            match p.nullable_string(key)? {
                crate::payload::Field::Absent => {}
                crate::payload::Field::Null => *slot = None,
                crate::payload::Field::Set(v) => {
                    if key.ends_with("_url") || key.ends_with("_uri") {
                        absolute_url(key, &v)?;
                    }
                    *slot = Some(v);
                }
            }
        }
        if let Some(list) = p.string_array("allowed_logout_urls")? {
            if let Some(bad) = list.iter().find(|u| !crate::redirect::is_valid_app_url(u)) {
                return Err(InvalidBody::on_property(
                    format!(
                        "Object didn't pass validation for format absolute-uri-or-empty: {bad}"
                    ),
                    "allowed_logout_urls",
                ));
            }
            self.allowed_logout_urls = list;
        }
        if let Some(flags) = p.object("flags")? {
            let mut f = Payload::from_value(Value::Object(flags))?;
            f.allow_only(&["enable_client_connections"])?;
            if let Some(b) = f.bool("enable_client_connections")? {
                self.flags.enable_client_connections = b;
            }
        }
        if let Some(raw) = p.raw("authorization") {
            self.authorization.patch(raw)?;
        }
        if let Some(b) = p.bool("keep_sessions_on_password_change")? {
            self.keep_sessions_on_password_change = b;
        }
        if let Some(b) = p.bool("suggest_account_linking")? {
            self.suggest_account_linking = b;
        }
        // The whole setting is replaced (a template is read as one piece); `null` removes it.
        match p.raw("delegated_admin") {
            None => {}
            Some(Value::Null) => self.delegated_admin = None,
            Some(v) => {
                self.delegated_admin = Some(
                    crate::delegated_admin::DelegatedAdminSettings::from_value(v)?,
                )
            }
        }
        match p.raw("consent") {
            None => {}
            Some(Value::Null) => self.consent = None,
            Some(v) => self.consent = Some(crate::gdpr::ConsentSettings::from_value(v)?),
        }
        if let Some(v) = p.raw("default_picture") {
            self.default_picture = crate::gdpr::DefaultPicture::parse(&v)?;
        }
        if let Some(h) = hours(&mut p, "session_lifetime")? {
            self.session_lifetime = h;
        }
        if let Some(h) = hours(&mut p, "idle_session_lifetime")? {
            self.idle_session_lifetime = h;
        }
        Ok(())
    }

    /// The Management API view; unset optional fields are left out, as Auth0 does.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("friendly_name", &self.friendly_name),
            ("picture_url", &self.picture_url),
            ("support_email", &self.support_email),
            ("support_url", &self.support_url),
            ("default_redirection_uri", &self.default_redirection_uri),
            ("post_login_redirect_url", &self.post_login_redirect_url),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        m.insert(
            "allowed_logout_urls".into(),
            json!(self.allowed_logout_urls),
        );
        m.insert("session_lifetime".into(), json!(self.session_lifetime));
        m.insert(
            "keep_sessions_on_password_change".into(),
            json!(self.keep_sessions_on_password_change),
        );
        m.insert(
            "suggest_account_linking".into(),
            json!(self.suggest_account_linking),
        );
        m.insert(
            "idle_session_lifetime".into(),
            json!(self.idle_session_lifetime),
        );
        if let Some(d) = &self.delegated_admin {
            m.insert("delegated_admin".into(), d.to_json());
        }
        m.insert(
            "flags".into(),
            json!({"enable_client_connections": self.flags.enable_client_connections}),
        );
        m.insert(
            "authorization".into(),
            serde_json::to_value(&self.authorization).unwrap_or(Value::Null),
        );
        if let Some(c) = &self.consent {
            m.insert("consent".into(), c.to_json());
        }
        m.insert(
            "default_picture".into(),
            json!(self.default_picture.as_str()),
        );
        Value::Object(m)
    }

    pub fn session_lifetime_ms(&self) -> i64 {
        (self.session_lifetime * 3_600_000.0) as i64
    }

    pub fn idle_session_lifetime_ms(&self) -> i64 {
        (self.idle_session_lifetime * 3_600_000.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_and_validates() {
        let mut s = TenantSettings::default();
        s.patch(
            Payload::from_value(json!({"friendly_name": "Acme", "session_lifetime": 24, "allowed_logout_urls": ["https://a.example/bye"]}))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(s.friendly_name.as_deref(), Some("Acme"));
        assert_eq!(s.session_lifetime_ms(), 86_400_000);
        for bad in [
            json!({"session_lifetime": 0}),
            json!({"idle_session_lifetime": "1"}),
            json!({"picture_url": "javascript:alert(1)"}),
            json!({"nope": 1}),
            json!({}),
            json!({"friendly_name": "Changed", "session_lifetime": -1}),
            json!({"friendly_name": "Changed", "consent": {"terms_url": "https://x.example/t"}}),
            json!({"default_picture": "identicon"}),
        ] {
            let before = s.clone();
            assert!(
                s.patch(Payload::from_value(bad.clone()).unwrap()).is_err(),
                "{bad}"
            );
            assert_eq!(s, before);
        }
    }
}
