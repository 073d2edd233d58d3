//! The Auth0 user profile: the stored record, its JSON shape, and the validated create and
//! update requests.

use crate::metadata::{MetadataKind, MetadataPatch};
use crate::payload::{Field, InvalidBody, Payload, is_e164, is_email};
use crate::time::{EpochMillis, Iso8601, iso8601};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

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
    /// Attributes an upstream provider returned beyond the normalized profile (`locale`,
    /// `groups`, ...), shown at the profile's root as Auth0 does.
    pub idp_attributes: Map<String, Value>,
    /// Identities linked to this user (account linking), after its own.
    pub linked_identities: Vec<LinkedIdentity>,
}

/// A secondary identity linked to a user: where it comes from and its profile
/// (`profileData`), as Auth0 shows it in `identities[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedIdentity {
    pub connection: String,
    #[serde(rename = "isSocial")]
    pub is_social: bool,
    #[serde(rename = "profileData", skip_serializing_if = "Map::is_empty")]
    pub profile_data: Map<String, Value>,
    pub provider: String,
    pub user_id: String,
}

impl LinkedIdentity {
    /// The identity of a (secondary) user, with its root profile as `profileData`: the
    /// person's attributes, not ids, metadata or statistics.
    pub fn of(u: &User) -> Self {
        let mut profile = Map::new();
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                profile.insert(k.into(), Value::String(v.clone()));
            }
        };
        put("email", u.email.as_ref());
        put("name", u.name.as_ref());
        put("username", u.username.as_ref());
        put("given_name", u.given_name.as_ref());
        put("family_name", u.family_name.as_ref());
        put("nickname", u.nickname.as_ref());
        put("picture", u.picture.as_ref());
        put("phone_number", u.phone_number.as_ref());
        if u.email.is_some() {
            profile.insert("email_verified".into(), Value::Bool(u.email_verified));
        }
        if u.phone_number.is_some() {
            profile.insert("phone_verified".into(), Value::Bool(u.phone_verified));
        }
        for (k, v) in &u.idp_attributes {
            profile.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Self {
            connection: u.connection.clone(),
            is_social: crate::upstream::is_social_provider(&u.provider),
            profile_data: profile,
            provider: u.provider.clone(),
            user_id: u.provider_user_id().to_string(),
        }
    }
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
            idp_attributes: Map::new(),
            linked_identities: vec![],
        }
    }

    /// The id at the provider: `user_id` without its `provider|` prefix.
    pub fn provider_user_id(&self) -> &str {
        self.user_id
            .split_once('|')
            .map(|(_, id)| id)
            .unwrap_or(&self.user_id)
    }

    /// The Auth0 JSON representation (what GET /api/v2/users/{id} returns): the document
    /// [`UserJson`] writes.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(UserJson(self)).unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

/// A user's Auth0 JSON, serialised straight from the struct so an export can write
/// millions without building a `Value` each. Keys come in sorted order, the order a
/// `Value`'s map keeps, so [`User::to_json`] prints the same bytes.
pub struct UserJson<'a>(pub &'a User);

#[derive(Serialize)]
struct IdentityJson<'a> {
    connection: &'a str,
    #[serde(rename = "isSocial")]
    is_social: bool,
    provider: &'a str,
    user_id: &'a str,
}

/// `identities[]`: the user's own identity first, then the linked ones.
struct Identities<'a>(&'a User);

impl Serialize for Identities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let u = self.0;
        let mut seq = s.serialize_seq(Some(1 + u.linked_identities.len()))?;
        seq.serialize_element(&IdentityJson {
            connection: &u.connection,
            is_social: crate::upstream::is_social_provider(&u.provider),
            provider: &u.provider,
            user_id: u.provider_user_id(),
        })?;
        for linked in &u.linked_identities {
            seq.serialize_element(linked)?;
        }
        seq.end()
    }
}

/// A timestamp serialised as Auth0's ISO 8601 string.
struct Timestamp(EpochMillis);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match Iso8601::new(self.0) {
            Some(t) => s.serialize_str(t.as_str()),
            None => s.serialize_str(&iso8601(self.0)),
        }
    }
}

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        if u.idp_attributes.is_empty() {
            return ProfileFields(u).serialize(s);
        }
        // A provider's extra attributes sit among the profile's keys in sorted order; they
        // never replace one of the profile's own.
        let mut doc = match serde_json::to_value(ProfileFields(u)) {
            Ok(Value::Object(m)) => m,
            _ => return Err(serde::ser::Error::custom("a user profile is a JSON object")),
        };
        for (k, v) in &u.idp_attributes {
            if !doc.contains_key(k) {
                doc.insert(k.clone(), v.clone());
            }
        }
        doc.serialize(s)
    }
}

/// The profile's own keys, in sorted order.
struct ProfileFields<'a>(&'a User);

impl Serialize for ProfileFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let mut m = s.serialize_map(None)?;
        if !u.app_metadata.is_empty() {
            m.serialize_entry("app_metadata", &u.app_metadata)?;
        }
        if let Some(b) = u.blocked {
            m.serialize_entry("blocked", &b)?;
        }
        m.serialize_entry("created_at", &Timestamp(u.created_at))?;
        if let Some(e) = &u.email {
            m.serialize_entry("email", e)?;
        }
        m.serialize_entry("email_verified", &u.email_verified)?;
        if let Some(v) = &u.family_name {
            m.serialize_entry("family_name", v)?;
        }
        if let Some(v) = &u.given_name {
            m.serialize_entry("given_name", v)?;
        }
        m.serialize_entry("identities", &Identities(u))?;
        if let Some(ip) = &u.last_ip {
            m.serialize_entry("last_ip", ip)?;
        }
        if let Some(t) = u.last_login {
            m.serialize_entry("last_login", &Timestamp(t))?;
        }
        if let Some(t) = u.last_password_reset {
            m.serialize_entry("last_password_reset", &Timestamp(t))?;
        }
        m.serialize_entry("logins_count", &u.logins_count)?;
        if let Some(v) = &u.name {
            m.serialize_entry("name", v)?;
        }
        if let Some(v) = &u.nickname {
            m.serialize_entry("nickname", v)?;
        }
        if let Some(t) = u.password_set_date {
            m.serialize_entry("password_set_date", &Timestamp(t))?;
        }
        if let Some(v) = &u.phone_number {
            m.serialize_entry("phone_number", v)?;
            m.serialize_entry("phone_verified", &u.phone_verified)?;
        }
        if let Some(v) = &u.picture {
            m.serialize_entry("picture", v)?;
        }
        m.serialize_entry("updated_at", &Timestamp(u.updated_at))?;
        m.serialize_entry("user_id", &u.user_id)?;
        if !u.user_metadata.is_empty() {
            m.serialize_entry("user_metadata", &u.user_metadata)?;
        }
        if let Some(v) = &u.username {
            m.serialize_entry("username", v)?;
        }
        m.end()
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
    use serde_json::json;

    #[test]
    fn the_streamed_json_is_the_document() {
        let minimal = sample();
        let mut full = sample();
        full.username = Some("jane_d".into());
        full.phone_number = Some("+14155550100".into());
        full.phone_verified = true;
        full.given_name = Some("Jane \"JD\"".into());
        full.family_name = Some("Doe".into());
        full.picture = Some("https://example.com/p.png".into());
        full.blocked = Some(true);
        full.user_metadata = serde_json::from_str(r#"{"b":[1,{"x":null}],"a":"\u00e9"}"#).unwrap();
        full.app_metadata = serde_json::from_str(r#"{"roles":["admin"]}"#).unwrap();
        full.created_at = 1_509_665_643_803;
        full.updated_at = 1_509_665_643_804;
        full.last_login = Some(1_600_000_000_000);
        full.last_ip = Some("10.0.0.1".into());
        full.logins_count = 7;
        full.last_password_reset = Some(1_500_000_000_000);
        full.password_set_date = Some(1_400_000_000_000);
        for u in [minimal, full] {
            let streamed = serde_json::to_string(&UserJson(&u)).unwrap();
            let document = serde_json::to_string(&u.to_json()).unwrap();
            assert_eq!(streamed, document);
            // The keys of the document, and nothing else.
            let keys: Vec<String> = u.to_json().as_object().unwrap().keys().cloned().collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted);
        }
        let full_doc = serde_json::to_value(UserJson(&sample())).unwrap();
        assert_eq!(
            full_doc["identities"],
            json!([{"connection": "Username-Password-Authentication", "isSocial": false,
                "provider": "auth0", "user_id": "5457edea1b8f22891a000004"}])
        );
        assert_eq!(full_doc["created_at"], json!("1970-01-01T00:00:00.000Z"));
    }

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
            idp_attributes: Map::new(),
            linked_identities: vec![],
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
