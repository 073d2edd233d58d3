//! The normalized profile: what a provider answered (ID-token claims, its user-info JSON,
//! GitHub's e-mail list, Apple's first-login name) turned into Auth0's profile — `name`,
//! `nickname`, `picture`, `email`, `email_verified`, `given_name`, `family_name` — with
//! every other attribute kept at the root, shaped by the connection's `attribute_map`.

use super::{AttributeMap, MappingMode, ProfileShape};
use serde_json::{Map, Value};

/// Claims that describe the token or the account record rather than the person: never
/// mapped onto a profile, whatever the mapping says (they would overwrite Gatehouse's own).
const NEVER_MAPPED: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "azp",
    "sid",
    "jti",
    "amr",
    "acr",
    "auth_time",
    "sub",
    "user_id",
    "identities",
    "app_metadata",
    "user_metadata",
    "created_at",
    "updated_at",
    "last_login",
    "last_ip",
    "logins_count",
    "blocked",
    "connection",
    "provider",
    "isSocial",
    "password",
    "multifactor",
    "username",
    "phone_number",
    "phone_verified",
    "s_hash",
    "cnf",
    "email_verified",
];

/// At most this much JSON of other attributes is kept per user.
pub const MAX_EXTRA_BYTES: usize = 32 * 1024;

/// What a provider answered for one login.
#[derive(Debug, Default, Clone)]
pub struct ProviderAnswer {
    /// The verified ID token's claims (OpenID Connect).
    pub id_token: Option<Map<String, Value>>,
    /// The user-info endpoint's answer (GitHub's `/user`, Graph's `/me`, Facebook's `/me`).
    pub userinfo: Option<Map<String, Value>>,
    /// GitHub's `/user/emails`.
    pub emails: Option<Value>,
    /// Apple's `user` form field, posted on the first login only.
    pub apple_user: Option<Value>,
    pub access_token: Option<String>,
    pub connection_id: String,
    pub strategy: String,
}

/// A provider's user in Auth0's normalized shape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamProfile {
    /// The user's id at the provider.
    pub id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    /// Every other attribute, at the root of the profile.
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileProblem {
    #[error("the provider's profile has no user id ({0})")]
    NoUserId(&'static str),
    #[error("the provider's profile is larger than {MAX_EXTRA_BYTES} bytes")]
    TooLarge,
}

impl UpstreamProfile {
    /// Removes the attributes the connection's deny list names (`non_persistent_attrs`):
    /// they serve this login's tokens and are never stored. Returns what was removed.
    pub fn split_off_denied(&mut self, deny: &[String]) -> Map<String, Value> {
        let mut denied = Map::new();
        for key in deny {
            let taken = match key.as_str() {
                "email" => self.email.take().map(Value::String),
                "name" => self.name.take().map(Value::String),
                "nickname" => self.nickname.take().map(Value::String),
                "given_name" => self.given_name.take().map(Value::String),
                "family_name" => self.family_name.take().map(Value::String),
                "picture" => self.picture.take().map(Value::String),
                _ => self.other.remove(key),
            };
            if let Some(v) = taken {
                denied.insert(key.clone(), v);
            }
        }
        denied
    }
}

fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// `true`, or Apple's string `"true"`.
fn truthy(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

/// A provider's id as text: GitHub's and Facebook's are numbers or numeric strings.
fn id_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The provider's own claims in one map, before mapping, with its user id.
fn base_claims(
    shape: ProfileShape,
    a: &ProviderAnswer,
) -> Result<(String, Map<String, Value>, bool), ProfileProblem> {
    let empty = Map::new();
    let id_token = a.id_token.as_ref().unwrap_or(&empty);
    let info = a.userinfo.as_ref().unwrap_or(&empty);
    let mut claims = Map::new();
    let (id, verified) = match shape {
        ProfileShape::OidcClaims | ProfileShape::Apple => {
            for (k, v) in id_token.iter().chain(info.iter()) {
                claims.insert(k.clone(), v.clone());
            }
            let id = id_text(id_token.get("sub"))
                .or_else(|| id_text(info.get("sub")))
                .ok_or(ProfileProblem::NoUserId("sub"))?;
            let verified = truthy(claims.get("email_verified"));
            if shape == ProfileShape::Apple
                && let Some(name) = a.apple_user.as_ref().and_then(|u| u.get("name"))
            {
                let first = name.get("firstName").and_then(Value::as_str);
                let last = name.get("lastName").and_then(Value::as_str);
                if let Some(f) = first {
                    claims.insert("given_name".into(), Value::String(f.into()));
                }
                if let Some(l) = last {
                    claims.insert("family_name".into(), Value::String(l.into()));
                }
                let full: Vec<&str> = [first, last].into_iter().flatten().collect();
                if !full.is_empty() {
                    claims.insert("name".into(), Value::String(full.join(" ")));
                }
            }
            (id, verified)
        }
        ProfileShape::GitHub => {
            claims = info.clone();
            let id = id_text(info.get("id")).ok_or(ProfileProblem::NoUserId("id"))?;
            if let Some(login) = text(info, "login") {
                claims.insert("nickname".into(), Value::String(login.clone()));
                if text(info, "name").is_none() {
                    claims.insert("name".into(), Value::String(login));
                }
            }
            if let Some(p) = text(info, "avatar_url") {
                claims.insert("picture".into(), Value::String(p));
            }
            // Only the primary address GitHub has verified is the user's email.
            claims.remove("email");
            let primary = a
                .emails
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|list| {
                    list.iter()
                        .find(|e| truthy(e.get("primary")) && truthy(e.get("verified")))
                });
            let verified = match primary.and_then(|e| e.get("email")).and_then(Value::as_str) {
                Some(e) => {
                    claims.insert("email".into(), Value::String(e.into()));
                    true
                }
                None => false,
            };
            (id, verified)
        }
        ProfileShape::MicrosoftGraph => {
            claims = info.clone();
            let id = id_text(info.get("id")).ok_or(ProfileProblem::NoUserId("id"))?;
            for (from, to) in [
                ("displayName", "name"),
                ("givenName", "given_name"),
                ("surname", "family_name"),
            ] {
                if let Some(v) = text(info, from) {
                    claims.insert(to.into(), Value::String(v));
                }
            }
            if let Some(mail) = text(info, "mail").or_else(|| text(info, "userPrincipalName")) {
                claims.insert("email".into(), Value::String(mail));
            }
            // Graph's `mail` is set by whoever runs the directory, not proven by the user.
            (id, false)
        }
        ProfileShape::Facebook => {
            claims = info.clone();
            let id = id_text(info.get("id")).ok_or(ProfileProblem::NoUserId("id"))?;
            for (from, to) in [("first_name", "given_name"), ("last_name", "family_name")] {
                if let Some(v) = text(info, from) {
                    claims.insert(to.into(), Value::String(v));
                }
            }
            if let Some(url) = info
                .get("picture")
                .and_then(|p| p.get("data"))
                .and_then(|d| d.get("url"))
                .and_then(Value::as_str)
            {
                claims.insert("picture".into(), Value::String(url.into()));
            }
            // Facebook says nothing about verification; Auth0 then sets false.
            (id, false)
        }
        ProfileShape::Mapped => {
            claims = info.clone();
            let id = id_text(info.get("user_id"))
                .or_else(|| id_text(info.get("id")))
                .or_else(|| id_text(info.get("sub")))
                .unwrap_or_default();
            let verified = truthy(info.get("email_verified"));
            (id, verified)
        }
    };
    Ok((id, claims, verified))
}

/// Turns a provider's answer into the normalized profile, applying `attribute_map`.
pub fn normalize(
    shape: ProfileShape,
    map: &AttributeMap,
    a: &ProviderAnswer,
) -> Result<UpstreamProfile, ProfileProblem> {
    let (mut id, claims, mut verified) = base_claims(shape, a)?;
    let mut mapped: Map<String, Value> = match map.mode {
        MappingMode::BindAll => claims,
        MappingMode::UseMap => Map::new(),
    };
    let context = TemplateContext { answer: a };
    for (key, value) in &map.attributes {
        let resolved = match value {
            Value::String(t) => context.render(t),
            other => Some(other.clone()),
        };
        match key.as_str() {
            "user_id" => {
                if let Some(v) = id_text(resolved.as_ref()) {
                    id = v;
                }
            }
            "email_verified" => verified = truthy(resolved.as_ref()),
            _ => {
                if let Some(v) = resolved {
                    mapped.insert(key.clone(), v);
                }
            }
        }
    }
    if id.is_empty() {
        return Err(ProfileProblem::NoUserId("user_id"));
    }
    let take = |m: &mut Map<String, Value>, k: &str| match m.remove(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    };
    let email = take(&mut mapped, "email");
    let mut profile = UpstreamProfile {
        id,
        email_verified: verified && email.is_some(),
        name: take(&mut mapped, "name"),
        nickname: take(&mut mapped, "nickname"),
        given_name: take(&mut mapped, "given_name"),
        family_name: take(&mut mapped, "family_name"),
        picture: take(&mut mapped, "picture"),
        email,
        other: Map::new(),
    };
    // Auth0 always has a name and nickname: from the email when the provider gave none.
    if profile.nickname.is_none() {
        profile.nickname = profile
            .email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .map(String::from);
    }
    if profile.name.is_none() {
        profile.name = profile.email.clone().or_else(|| profile.nickname.clone());
    }
    profile.other = mapped
        .into_iter()
        .filter(|(k, v)| !NEVER_MAPPED.contains(&k.as_str()) && !v.is_null())
        .collect();
    if serde_json::to_vec(&profile.other).map_or(0, |v| v.len()) > MAX_EXTRA_BYTES {
        return Err(ProfileProblem::TooLarge);
    }
    Ok(profile)
}

/// Where `${context.…}` templates read from.
struct TemplateContext<'a> {
    answer: &'a ProviderAnswer,
}

impl TemplateContext<'_> {
    fn lookup(&self, path: &str) -> Option<Value> {
        let a = self.answer;
        let mut parts = path.split('.');
        if parts.next() != Some("context") {
            return None;
        }
        let root: Value = match parts.next()? {
            "tokenset" => {
                let mut m = a.id_token.clone().unwrap_or_default();
                if let Some(t) = &a.access_token {
                    m.insert("access_token".into(), Value::String(t.clone()));
                }
                Value::Object(m)
            }
            "userinfo" => Value::Object(a.userinfo.clone().unwrap_or_default()),
            "connection" => serde_json::json!({"id": a.connection_id, "strategy": a.strategy}),
            _ => return None,
        };
        let mut at = &root;
        for p in parts {
            at = at.get(p)?;
        }
        Some(at.clone())
    }

    /// A template that is one `${…}` keeps its value's type (a `groups` array stays an
    /// array); otherwise the pieces are joined as text. A missing claim yields nothing.
    fn render(&self, template: &str) -> Option<Value> {
        let pieces = split_template(template)?;
        if let [Piece::Expr(path)] = pieces.as_slice() {
            return self.lookup(path).filter(|v| !v.is_null());
        }
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Expr(path) => match self.lookup(path)? {
                    Value::String(s) => out.push_str(&s),
                    Value::Null => return None,
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Some(Value::String(out))
    }
}

enum Piece<'a> {
    Text(&'a str),
    Expr(&'a str),
}

fn split_template(t: &str) -> Option<Vec<Piece<'_>>> {
    let mut out = vec![];
    let mut rest = t;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        out.push(Piece::Expr(after[..end].trim()));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Some(out)
}

/// Checks a mapping template: every `${` closed, reading `context.tokenset`,
/// `context.userinfo` or `context.connection`.
pub fn check_template(t: &str) -> Result<(), String> {
    let pieces = split_template(t).ok_or_else(|| format!("unclosed ${{ in {t}"))?;
    for p in pieces {
        if let Piece::Expr(path) = p {
            let ok = [
                "context.tokenset.",
                "context.userinfo.",
                "context.connection.",
            ]
            .iter()
            .any(|prefix| path.starts_with(prefix) && path.len() > prefix.len());
            if !ok {
                return Err(format!(
                    "${{{path}}} must read context.tokenset.…, context.userinfo.… or context.connection.…"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn bind_all() -> AttributeMap {
        AttributeMap {
            mode: MappingMode::BindAll,
            attributes: Map::new(),
            userinfo_scope: None,
        }
    }

    #[test]
    fn oidc_claims_become_the_normalized_profile_with_the_rest_at_the_root() {
        let a = ProviderAnswer {
            id_token: Some(obj(
                json!({"iss": "https://idp", "sub": "248289761001", "aud": "x",
                "email": "Zoë.Ångström@example.org", "email_verified": true, "name": "Zoë Ångström",
                "given_name": "Zoë", "family_name": "Ångström", "locale": "sv-SE", "nonce": "n"}),
            )),
            userinfo: Some(obj(
                json!({"sub": "248289761001", "groups": ["staff", "ops"]}),
            )),
            ..Default::default()
        };
        let p = normalize(ProfileShape::OidcClaims, &bind_all(), &a).unwrap();
        assert_eq!(p.id, "248289761001");
        assert_eq!(p.email.as_deref(), Some("Zoë.Ångström@example.org"));
        assert!(p.email_verified);
        assert_eq!(p.nickname.as_deref(), Some("Zoë.Ångström"));
        assert_eq!(
            p.other,
            obj(json!({"locale": "sv-SE", "groups": ["staff", "ops"]}))
        );
    }

    #[test]
    fn github_uses_the_primary_verified_email() {
        let a = ProviderAnswer {
            userinfo: Some(obj(json!({"login": "octocat", "id": 583231, "name": null,
                "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "email": "public@example.com"}))),
            emails: Some(json!([
                {"email": "old@example.com", "primary": false, "verified": true},
                {"email": "octocat@example.com", "primary": true, "verified": true}
            ])),
            ..Default::default()
        };
        let p = normalize(ProfileShape::GitHub, &bind_all(), &a).unwrap();
        assert_eq!(
            (p.id.as_str(), p.nickname.as_deref(), p.name.as_deref()),
            ("583231", Some("octocat"), Some("octocat"))
        );
        assert_eq!(p.email.as_deref(), Some("octocat@example.com"));
        assert!(p.email_verified);
        let unverified = ProviderAnswer {
            emails: Some(json!([{"email": "x@example.com", "primary": true, "verified": false}])),
            ..a
        };
        let p = normalize(ProfileShape::GitHub, &bind_all(), &unverified).unwrap();
        assert_eq!(p.email, None);
        assert!(!p.email_verified);
    }

    #[test]
    fn apple_name_arrives_once_in_the_form() {
        let a = ProviderAnswer {
            id_token: Some(obj(
                json!({"sub": "001234.abcd", "email": "x@privaterelay.appleid.com",
                "email_verified": "true", "is_private_email": "true"}),
            )),
            apple_user: Some(json!({"name": {"firstName": "Siân", "lastName": "O'Brien"}})),
            ..Default::default()
        };
        let p = normalize(ProfileShape::Apple, &bind_all(), &a).unwrap();
        assert_eq!(p.name.as_deref(), Some("Siân O'Brien"));
        assert!(p.email_verified);
    }

    #[test]
    fn use_map_templates_keep_types_and_join_text() {
        let map = AttributeMap {
            mode: MappingMode::UseMap,
            attributes: obj(json!({
                "name": "${context.tokenset.name}",
                "groups": "${context.userinfo.groups}",
                "alt_id": "user_email|${context.tokenset.email}",
                "email": "${context.tokenset.email}",
                "from_connection": "${context.connection.strategy}",
                "sub": "${context.tokenset.sub}",
                "tier": "gold"
            })),
            userinfo_scope: None,
        };
        let a = ProviderAnswer {
            id_token: Some(obj(
                json!({"sub": "s-1", "name": "Ana", "email": "ana@example.com", "locale": "pt"}),
            )),
            userinfo: Some(obj(json!({"groups": ["a", "b"]}))),
            strategy: "oidc".into(),
            ..Default::default()
        };
        let p = normalize(ProfileShape::OidcClaims, &map, &a).unwrap();
        assert_eq!(p.name.as_deref(), Some("Ana"));
        assert_eq!(p.other["groups"], json!(["a", "b"]));
        assert_eq!(p.other["alt_id"], "user_email|ana@example.com");
        assert_eq!(p.other["from_connection"], "oidc");
        assert_eq!(p.other["tier"], "gold");
        assert!(
            !p.other.contains_key("locale"),
            "use_map keeps only mapped keys"
        );
        assert!(
            !p.other.contains_key("sub"),
            "token claims are never mapped"
        );
        assert!(!p.email_verified);
    }

    #[test]
    fn denied_attributes_are_split_off() {
        let mut p = UpstreamProfile {
            id: "1".into(),
            email: Some("a@example.com".into()),
            other: obj(json!({"https://acme.com/temporary_idtoken": "t", "locale": "en"})),
            ..Default::default()
        };
        let denied =
            p.split_off_denied(&["https://acme.com/temporary_idtoken".into(), "email".into()]);
        assert_eq!(denied.len(), 2);
        assert_eq!(p.email, None);
        assert_eq!(p.other, obj(json!({"locale": "en"})));
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_template("${context.tokenset.name}").is_ok());
        assert!(check_template("x-${context.userinfo.a.b}-y").is_ok());
        assert!(check_template("${context.tokenset.name").is_err());
        assert!(check_template("${process.env.SECRET}").is_err());
        assert!(check_template("${context.tokenset.}").is_err());
    }
}
