//! The Auth0 user profile: the stored record, its JSON shape, and the validated create and
//! update requests.

use crate::metadata::{MetadataKind, MetadataPatch};
use crate::payload::{Field, InvalidBody, Payload, is_e164, is_email};
use crate::time::{EpochMillis, iso8601};
use serde_json::{Map, Value, json};

/// Provider (strategy) name of Gatehouse's own database connections, as in Auth0.
pub const DATABASE_PROVIDER: &str = "auth0";

/// A user as stored: one primary identity on one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user_id: String,
    pub connection_id: String,
    pub connection: String,
    pub provider: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub phone_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub blocked: Option<bool>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
    pub last_login: Option<EpochMillis>,
    pub last_ip: Option<String>,
    pub logins_count: i64,
    pub last_password_reset: Option<EpochMillis>,
    pub password_set_date: Option<EpochMillis>,
}

impl User {
    /// A new user of a connection with an email and nothing else set yet, created `now`.
    /// `user_id` is `provider|id`.
    pub fn new(
        provider: &str,
        id: &str,
        connection_id: &str,
        connection: &str,
        email: &str,
        now: EpochMillis,
    ) -> Self {
        Self {
            user_id: format!("{provider}|{id}"),
            connection_id: connection_id.to_string(),
            connection: connection.to_string(),
            provider: provider.to_string(),
            email: Some(email.to_string()),
            email_verified: false,
            username: None,
            phone_number: None,
            phone_verified: false,
            given_name: None,
            family_name: None,
            name: Some(email.to_string()),
            nickname: email.split('@').next().map(String::from),
            picture: None,
            blocked: None,
            user_metadata: Map::new(),
            app_metadata: Map::new(),
            created_at: now,
            updated_at: now,
            last_login: None,
            last_ip: None,
            logins_count: 0,
            last_password_reset: None,
            password_set_date: None,
        }
    }

    /// The id at the provider: `user_id` without its `provider|` prefix.
    pub fn provider_user_id(&self) -> &str {
        self.user_id
            .split_once('|')
            .map(|(_, id)| id)
            .unwrap_or(&self.user_id)
    }

    /// The Auth0 JSON representation (what GET /api/v2/users/{id} returns).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("user_id", json!(self.user_id));
        if let Some(e) = &self.email {
            put("email", json!(e));
        }
        put("email_verified", json!(self.email_verified));
        for (key, value) in [
            ("username", &self.username),
            ("phone_number", &self.phone_number),
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("name", &self.name),
            ("nickname", &self.nickname),
            ("picture", &self.picture),
        ] {
            if let Some(v) = value {
                put(key, json!(v));
            }
        }
        if self.phone_number.is_some() {
            put("phone_verified", json!(self.phone_verified));
        }
        if let Some(b) = self.blocked {
            put("blocked", json!(b));
        }
        put(
            "identities",
            json!([{
                "connection": self.connection,
                "provider": self.provider,
                "user_id": self.provider_user_id(),
                "isSocial": false,
            }]),
        );
        if !self.user_metadata.is_empty() {
            put("user_metadata", Value::Object(self.user_metadata.clone()));
        }
        if !self.app_metadata.is_empty() {
            put("app_metadata", Value::Object(self.app_metadata.clone()));
        }
        put("created_at", json!(iso8601(self.created_at)));
        put("updated_at", json!(iso8601(self.updated_at)));
        if let Some(t) = self.last_login {
            put("last_login", json!(iso8601(t)));
        }
        if let Some(ip) = &self.last_ip {
            put("last_ip", json!(ip));
        }
        put("logins_count", json!(self.logins_count));
        if let Some(t) = self.last_password_reset {
            put("last_password_reset", json!(iso8601(t)));
        }
        if let Some(t) = self.password_set_date {
            put("password_set_date", json!(iso8601(t)));
        }
        Value::Object(m)
    }
}

/// `fields` + `include_fields` projection, applied to the JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelection {
    fields: Vec<String>,
    include: bool,
}

impl FieldSelection {
    pub fn new(fields: Option<&str>, include_fields: bool) -> Self {
        let fields = fields
            .map(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            fields,
            include: include_fields,
        }
    }

    pub fn apply(&self, value: Value) -> Value {
        if self.fields.is_empty() {
            return value;
        }
        match value {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(k, _)| self.fields.contains(k) == self.include)
                    .collect(),
            ),
            other => other,
        }
    }
}

pub(crate) const NAME_MAX: usize = 300;
const URL_MAX: usize = 2048;
pub(crate) const USER_ID_MAX: usize = 255;

fn check_len(field: &str, s: &str, max: usize) -> Result<(), InvalidBody> {
    let n = s.chars().count();
    if n > max {
        return Err(InvalidBody::on_property(
            format!("String is too long ({n} chars), maximum {max}"),
            field,
        ));
    }
    if n == 0 {
        return Err(InvalidBody::on_property(
            "String is too short (0 chars), minimum 1",
            field,
        ));
    }
    Ok(())
}

pub(crate) fn check_email(s: &str) -> Result<(), InvalidBody> {
    if is_email(s) {
        Ok(())
    } else {
        Err(InvalidBody::on_property(
            format!("Object didn't pass validation for format email: {s}"),
            "email",
        ))
    }
}

pub(crate) fn check_phone(s: &str) -> Result<(), InvalidBody> {
    if is_e164(s) {
        Ok(())
    } else {
        Err(InvalidBody::on_property(
            format!("Object didn't pass validation for format phone_number (E.164): {s}"),
            "phone_number",
        ))
    }
}

pub(crate) fn check_picture(s: &str) -> Result<(), InvalidBody> {
    check_len("picture", s, URL_MAX)?;
    if s.starts_with("https://") || s.starts_with("http://") {
        Ok(())
    } else {
        Err(InvalidBody::on_property(
            format!("Object didn't pass validation for format url: {s}"),
            "picture",
        ))
    }
}

fn names_field(p: &mut Payload, key: &str) -> Result<Field<String>, InvalidBody> {
    let f = p.nullable_string(key)?;
    if let Field::Set(s) = &f {
        check_len(key, s, NAME_MAX)?;
    }
    Ok(f)
}

fn metadata(p: &mut Payload, kind: MetadataKind) -> Result<Option<MetadataPatch>, InvalidBody> {
    p.object(kind.field())?
        .map(|m| MetadataPatch::parse(kind, m))
        .transpose()
}

/// A validated `POST /api/v2/users` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub connection: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub verify_email: Option<bool>,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub phone_verified: Option<bool>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub blocked: Option<bool>,
    pub user_id: Option<String>,
    pub password: Option<String>,
    pub user_metadata: Option<MetadataPatch>,
    pub app_metadata: Option<MetadataPatch>,
}

impl NewUser {
    /// A user with only an email and a password on a database connection (sign-ups, the
    /// bootstrap administrator); everything else takes its default.
    pub fn with_password(connection: &str, email: &str, password: String) -> Self {
        Self {
            connection: connection.to_string(),
            email: Some(email.to_string()),
            email_verified: None,
            verify_email: None,
            username: None,
            phone_number: None,
            phone_verified: None,
            given_name: None,
            family_name: None,
            name: None,
            nickname: None,
            picture: None,
            blocked: None,
            user_id: None,
            password: Some(password),
            user_metadata: None,
            app_metadata: None,
        }
    }

    pub const PROPERTIES: &'static [&'static str] = &[
        "connection",
        "email",
        "email_verified",
        "verify_email",
        "username",
        "phone_number",
        "phone_verified",
        "given_name",
        "family_name",
        "name",
        "nickname",
        "picture",
        "blocked",
        "user_id",
        "password",
        "user_metadata",
        "app_metadata",
        "client_id",
    ];

    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(Self::PROPERTIES)?;
        let connection = p.required_string("connection")?;
        check_len("connection", &connection, NAME_MAX)?;
        let email = p.string("email")?;
        if let Some(e) = &email {
            check_email(e)?;
        }
        let phone_number = p.string("phone_number")?;
        if let Some(ph) = &phone_number {
            check_phone(ph)?;
        }
        let picture = p.string("picture")?;
        if let Some(pic) = &picture {
            check_picture(pic)?;
        }
        let user_id = p.string("user_id")?;
        if let Some(id) = &user_id {
            check_len("user_id", id, USER_ID_MAX)?;
            if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(InvalidBody::on_property(
                    "user_id must not contain white space",
                    "user_id",
                ));
            }
        }
        let username = p.string("username")?;
        if let Some(u) = &username {
            check_len("username", u, 128)?;
        }
        let password = p.string("password")?;
        // client_id is accepted for compatibility (it only selects email templates in Auth0).
        let _ = p.string("client_id")?;
        Ok(Self {
            connection,
            email,
            email_verified: p.bool("email_verified")?,
            verify_email: p.bool("verify_email")?,
            username,
            phone_number,
            phone_verified: p.bool("phone_verified")?,
            given_name: names_field(&mut p, "given_name")?.set(),
            family_name: names_field(&mut p, "family_name")?.set(),
            name: names_field(&mut p, "name")?.set(),
            nickname: names_field(&mut p, "nickname")?.set(),
            picture,
            blocked: p.bool("blocked")?,
            user_id,
            password,
            user_metadata: metadata(&mut p, MetadataKind::User)?,
            app_metadata: metadata(&mut p, MetadataKind::App)?,
        })
    }
}

/// A validated `PATCH /api/v2/users/{id}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPatch {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub verify_email: Option<bool>,
    pub username: Field<String>,
    pub phone_number: Field<String>,
    pub phone_verified: Option<bool>,
    pub given_name: Field<String>,
    pub family_name: Field<String>,
    pub name: Field<String>,
    pub nickname: Field<String>,
    pub picture: Field<String>,
    pub blocked: Option<bool>,
    pub password: Option<String>,
    pub connection: Option<String>,
    pub user_metadata: Option<MetadataPatch>,
    pub app_metadata: Option<MetadataPatch>,
}

impl UserPatch {
    pub const PROPERTIES: &'static [&'static str] = &[
        "email",
        "email_verified",
        "verify_email",
        "username",
        "phone_number",
        "phone_verified",
        "given_name",
        "family_name",
        "name",
        "nickname",
        "picture",
        "blocked",
        "password",
        "connection",
        "client_id",
        "user_metadata",
        "app_metadata",
        "verify_phone_number",
    ];

    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.require_some()?;
        p.allow_only(Self::PROPERTIES)?;
        let email = p.string("email")?;
        if let Some(e) = &email {
            check_email(e)?;
        }
        let phone_number = p.nullable_string("phone_number")?;
        if let Field::Set(ph) = &phone_number {
            check_phone(ph)?;
        }
        let picture = p.nullable_string("picture")?;
        if let Field::Set(pic) = &picture {
            check_picture(pic)?;
        }
        let username = p.nullable_string("username")?;
        if let Field::Set(u) = &username {
            check_len("username", u, 128)?;
        }
        let _ = p.string("client_id")?;
        let _ = p.bool("verify_phone_number")?;
        let patch = Self {
            email,
            email_verified: p.bool("email_verified")?,
            verify_email: p.bool("verify_email")?,
            username,
            phone_number,
            phone_verified: p.bool("phone_verified")?,
            given_name: names_field(&mut p, "given_name")?,
            family_name: names_field(&mut p, "family_name")?,
            name: names_field(&mut p, "name")?,
            nickname: names_field(&mut p, "nickname")?,
            picture,
            blocked: p.bool("blocked")?,
            password: p.string("password")?,
            connection: p.string("connection")?,
            user_metadata: metadata(&mut p, MetadataKind::User)?,
            app_metadata: metadata(&mut p, MetadataKind::App)?,
        };
        if patch.password.is_some() && patch.email.is_some() {
            return Err(InvalidBody::new(
                "Cannot update password and email simultaneously",
            ));
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> User {
        User {
            user_id: "auth0|5457edea1b8f22891a000004".into(),
            connection_id: "con_x".into(),
            connection: "Username-Password-Authentication".into(),
            provider: DATABASE_PROVIDER.into(),
            email: Some("jane@example.com".into()),
            email_verified: false,
            username: None,
            phone_number: None,
            phone_verified: false,
            given_name: None,
            family_name: None,
            name: Some("jane@example.com".into()),
            nickname: Some("jane".into()),
            picture: None,
            blocked: None,
            user_metadata: Map::new(),
            app_metadata: Map::new(),
            created_at: 0,
            updated_at: 0,
            last_login: None,
            last_ip: None,
            logins_count: 0,
            last_password_reset: None,
            password_set_date: None,
        }
    }

    #[test]
    fn identity_is_derived_from_user_id() {
        let v = sample().to_json();
        assert_eq!(v["identities"][0]["user_id"], "5457edea1b8f22891a000004");
        assert_eq!(v["identities"][0]["provider"], "auth0");
        assert!(v.get("user_metadata").is_none());
        assert_eq!(v["created_at"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn field_selection_includes_or_excludes() {
        let v = sample().to_json();
        let only = FieldSelection::new(Some("email,user_id"), true).apply(v.clone());
        assert_eq!(only.as_object().map(|m| m.len()), Some(2));
        let without = FieldSelection::new(Some("email"), false).apply(v);
        assert!(without.get("email").is_none() && without.get("user_id").is_some());
    }

    #[test]
    fn patch_rejects_empty_and_password_with_email() {
        let empty = Payload::from_value(json!({})).unwrap();
        assert!(UserPatch::from_payload(empty).is_err());
        let both = Payload::from_value(json!({"email": "a@b.co", "password": "x"})).unwrap();
        assert!(UserPatch::from_payload(both).is_err());
    }
}
