//! GDPR self-service rules, pure: the tenant's terms (`consent` setting), the consent record a
//! user carries in `user_metadata.consent` (Auth0's documented shape `{given, date,
//! text_details}` plus the terms `version` and a `history` of every change), and how a
//! deleted user's log events are pseudonymised (`Erasure`).

use crate::log_event::LogEvent;
use crate::payload::{InvalidBody, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The `user_metadata` key holding the consent record.
pub const CONSENT_KEY: &str = "consent";
/// The oldest entries of a long history are dropped, so `user_metadata` stays small.
pub const MAX_CONSENT_HISTORY: usize = 50;
const MAX_VERSION_LEN: usize = 64;

/// Gatehouse extension (tenant setting `consent`): the terms users accept at sign-up and
/// accept again at login when `terms_version` changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentSettings {
    pub terms_url: String,
    pub terms_version: String,
}

impl ConsentSettings {
    /// Reads the setting property by property; `consent.<name>` names the culprit.
    pub fn from_value(v: Value) -> Result<Self, InvalidBody> {
        let Value::Object(m) = v else {
            return Err(InvalidBody::on_property(
                format!(
                    "Expected type object but found type {}",
                    crate::payload::type_name(&v)
                ),
                "consent",
            ));
        };
        let mut p = Payload::from_value(Value::Object(m))?;
        p.allow_only(&["terms_url", "terms_version"])?;
        let terms_url = p
            .string("terms_url")
            .map_err(|_| {
                InvalidBody::on_property("terms_url must be a string", "consent.terms_url")
            })?
            .ok_or_else(|| {
                InvalidBody::on_property("Missing required property", "consent.terms_url")
            })?;
        // An http(s) URL without wildcards: it becomes a link on the sign-up page.
        if crate::redirect::web_origin(&terms_url).is_none() {
            return Err(InvalidBody::on_property(
                "terms_url must be an absolute http(s) URL",
                "consent.terms_url",
            ));
        }
        let terms_version = p
            .string("terms_version")
            .map_err(|_| {
                InvalidBody::on_property("terms_version must be a string", "consent.terms_version")
            })?
            .ok_or_else(|| {
                InvalidBody::on_property("Missing required property", "consent.terms_version")
            })?;
        let trimmed = terms_version.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > MAX_VERSION_LEN
            || trimmed.chars().any(char::is_control)
        {
            return Err(InvalidBody::on_property(
                format!(
                    "terms_version must be 1 to {MAX_VERSION_LEN} characters without control characters"
                ),
                "consent.terms_version",
            ));
        }
        Ok(Self {
            terms_url,
            terms_version: trimmed.to_string(),
        })
    }

    pub fn to_json(&self) -> Value {
        json!({"terms_url": self.terms_url, "terms_version": self.terms_version})
    }
}

/// Which picture a user gets when nobody gave one (tenant setting `default_picture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultPicture {
    /// Auth0's: Gravatar for the email, Auth0's initials image as its fallback.
    #[default]
    Gravatar,
    /// An initials image served by Gatehouse itself (`/u/avatars/<initials>.svg`): no
    /// email hash leaves the server.
    Initials,
}

impl DefaultPicture {
    pub fn parse(v: &Value) -> Result<Self, InvalidBody> {
        match v.as_str() {
            Some("gravatar") => Ok(Self::Gravatar),
            Some("initials") => Ok(Self::Initials),
            _ => Err(InvalidBody::on_property(
                "default_picture must be \"gravatar\" or \"initials\"",
                "default_picture",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gravatar => "gravatar",
            Self::Initials => "initials",
        }
    }
}

/// A user's consent as read from `user_metadata.consent`, leniently: `given` may be the
/// string `"true"` as Auth0's custom-UI guide stores it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsentState {
    pub given: bool,
    pub date: Option<String>,
    pub version: Option<String>,
    pub text_details: Option<String>,
    /// Every change, oldest first (the current state is the last entry).
    pub history: Vec<ConsentChange>,
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub given: bool,
    pub date: Option<String>,
    pub version: Option<String>,
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(String::from)
}

impl ConsentState {
    /// The record in a user's metadata, if there is one.
    pub fn of(user_metadata: &Map<String, Value>) -> Option<Self> {
        let c = user_metadata.get(CONSENT_KEY)?.as_object()?;
        let history = c
            .get("history")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|h| ConsentChange {
                        given: truthy(h.get("given")),
                        date: text(h.get("date")),
                        version: text(h.get("version")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            given: truthy(c.get("given")),
            date: text(c.get("date")),
            version: text(c.get("version")),
            text_details: text(c.get("text_details")),
            history,
        })
    }
}

/// Whether a user must accept `terms` (again): no consent, a withdrawn one, or one given to
/// another version.
pub fn must_accept(user_metadata: &Map<String, Value>, terms: &ConsentSettings) -> bool {
    match ConsentState::of(user_metadata) {
        Some(c) => !c.given || c.version.as_deref() != Some(terms.terms_version.as_str()),
        None => true,
    }
}

fn history_of(user_metadata: &Map<String, Value>) -> Vec<Value> {
    user_metadata
        .get(CONSENT_KEY)
        .and_then(|c| c.get("history"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn with_history(mut history: Vec<Value>, entry: Value) -> Value {
    history.push(entry);
    let excess = history.len().saturating_sub(MAX_CONSENT_HISTORY);
    history.drain(..excess);
    Value::Array(history)
}

/// The record after the user accepted `terms` at `date` (ISO 8601).
pub fn accepted(user_metadata: &Map<String, Value>, terms: &ConsentSettings, date: &str) -> Value {
    let entry = json!({"given": true, "date": date, "version": terms.terms_version});
    json!({
        "given": true,
        "date": date,
        "version": terms.terms_version,
        "text_details": terms.terms_url,
        "history": with_history(history_of(user_metadata), entry),
    })
}

/// The record after the user withdrew their consent at `date`; `None` when there was none
/// to withdraw.
pub fn withdrawn(user_metadata: &Map<String, Value>, date: &str) -> Option<Value> {
    let current = ConsentState::of(user_metadata).filter(|c| c.given)?;
    let entry = json!({"given": false, "date": date, "version": current.version});
    let mut record = json!({
        "given": false,
        "date": date,
        "history": with_history(history_of(user_metadata), entry),
    });
    if let Some(v) = current.version {
        record["version"] = json!(v);
    }
    if let Some(t) = current.text_details {
        record["text_details"] = json!(t);
    }
    Some(record)
}

/// What names a user in the tenant log, for their erasure: their ids (the user's and its
/// linked identities'), email addresses and usernames, and the pseudonym replacing the id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    pub user_ids: Vec<String>,
    pub emails: Vec<String>,
    pub usernames: Vec<String>,
    /// A keyed hash of the user id, the same for every event of the user, so their
    /// history stays one history without naming them.
    pub pseudonym: String,
}

/// What replaces an email, username or address in a pseudonymised event.
pub const ERASED: &str = "[erased]";

impl Erasure {
    /// Is this event the user's own (by id or by the name they logged in with)?
    /// An event naming another user (an account of another connection with the same
    /// email) is that user's, even when its login name is the same.
    pub fn owns(&self, e: &LogEvent) -> bool {
        match e.user_id.as_deref() {
            Some(id) => self.user_ids.iter().any(|u| u == id),
            None => e.user_name.as_deref().is_some_and(|n| {
                self.emails
                    .iter()
                    .chain(&self.usernames)
                    .any(|x| x.eq_ignore_ascii_case(n.trim()))
            }),
        }
    }

    fn someone_elses(&self, e: &LogEvent) -> bool {
        e.user_id
            .as_deref()
            .is_some_and(|id| !self.user_ids.iter().any(|u| u == id))
    }

    /// Search terms for events that mention the user anywhere (ids and emails; usernames
    /// are too short to look for inside other text).
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.user_ids
            .iter()
            .chain(&self.emails)
            .map(String::as_str)
            .filter(|t| t.len() >= 3)
    }

    /// Pseudonymises one event. An event of the user's own loses the name, address and
    /// browser; any event has the user's ids, emails (and, if it is theirs, `ips`) replaced
    /// in its text. Type, date, client and connection stay. True when anything changed.
    pub fn scrub(&self, e: &mut LogEvent, ips: &[String]) -> bool {
        let before = e.clone();
        let own = self.owns(e);
        if e.user_id
            .as_deref()
            .is_some_and(|id| self.user_ids.iter().any(|u| u == id))
        {
            e.user_id = Some(self.pseudonym.clone());
        }
        if own {
            e.user_name = None;
            e.ip = None;
            e.user_agent = None;
        }
        let mut replacements: Vec<(&str, &str)> = self
            .user_ids
            .iter()
            .map(|id| (id.as_str(), self.pseudonym.as_str()))
            .chain(self.emails.iter().map(|m| (m.as_str(), ERASED)))
            .collect();
        if own {
            replacements.extend(ips.iter().map(|ip| (ip.as_str(), ERASED)));
            replacements.extend(self.usernames.iter().map(|u| (u.as_str(), ERASED)));
        }
        let scrub_text = |s: &str| {
            replacements.iter().fold(s.to_string(), |acc, (from, to)| {
                replace_whole(&acc, from, to)
            })
        };
        // Another user's login name is theirs to keep.
        if !self.someone_elses(e)
            && let Some(name) = &e.user_name
        {
            e.user_name = Some(scrub_text(name));
        }
        if let Some(d) = &e.description {
            e.description = Some(scrub_text(d));
        }
        let mut details = Value::Object(std::mem::take(&mut e.details));
        scrub_strings(&mut details, &scrub_text);
        if let Value::Object(m) = details {
            e.details = m;
        }
        *e != before
    }
}

fn scrub_strings(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|i| scrub_strings(i, f)),
        Value::Object(m) => {
            // Keys may name the user too (`{"<email>": …}`): rebuild the map.
            let old = std::mem::take(m);
            for (k, mut val) in old {
                scrub_strings(&mut val, f);
                m.insert(f(&k), val);
            }
        }
        _ => {}
    }
}

/// Characters that continue an address, a user id or an IP: a match next to one of them is
/// part of something longer (`ann@x.io` inside `joann@x.io`), not the user's.
fn continues(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '_' | '+' | '%' | '|' | '-' | ':')
}

/// `hay` with every whole occurrence of `needle` (ASCII case ignored) replaced by `with`.
pub fn replace_whole(hay: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() || hay.len() < needle.len() {
        return hay.to_string();
    }
    let mut out = String::with_capacity(hay.len());
    let mut rest = hay;
    let mut prev: Option<char> = None;
    loop {
        let found = rest.char_indices().map(|(i, _)| i).find(|&i| {
            rest.get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
                && {
                    let before = if i == 0 {
                        prev
                    } else {
                        rest[..i].chars().last()
                    };
                    let after = rest[i + needle.len()..].chars().next();
                    // A dot ends a sentence after an address, but continues a domain.
                    let dot_continues = rest[i + needle.len()..]
                        .strip_prefix('.')
                        .is_some_and(|r| r.chars().next().is_some_and(char::is_alphanumeric));
                    !before.is_some_and(|c| continues(c) || c == '.')
                        && !after.is_some_and(continues)
                        && !dot_continues
                }
        });
        match found {
            Some(i) => {
                out.push_str(&rest[..i]);
                out.push_str(with);
                prev = needle.chars().last();
                rest = &rest[i + needle.len()..];
            }
            None => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(v: &str) -> ConsentSettings {
        ConsentSettings {
            terms_url: "https://example.com/terms".into(),
            terms_version: v.into(),
        }
    }

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn consent_is_asked_again_for_a_new_version_and_after_withdrawal() {
        let empty = Map::new();
        assert!(must_accept(&empty, &terms("1")));
        let record = accepted(&empty, &terms("1"), "2024-01-01T00:00:00.000Z");
        let m = meta(json!({ "consent": record }));
        assert!(!must_accept(&m, &terms("1")));
        assert!(must_accept(&m, &terms("2")));
        let again = accepted(&m, &terms("2"), "2024-02-01T00:00:00.000Z");
        let m = meta(json!({ "consent": again }));
        let state = ConsentState::of(&m).unwrap();
        assert_eq!(state.version.as_deref(), Some("2"));
        assert_eq!(state.history.len(), 2);
        let gone = withdrawn(&m, "2024-03-01T00:00:00.000Z").unwrap();
        let m = meta(json!({ "consent": gone }));
        assert!(must_accept(&m, &terms("2")));
        let state = ConsentState::of(&m).unwrap();
        assert!(!state.given);
        assert_eq!(state.history.len(), 3);
        assert_eq!(
            state.text_details.as_deref(),
            Some("https://example.com/terms")
        );
        assert!(withdrawn(&m, "2024-04-01T00:00:00.000Z").is_none());
        // Auth0's custom-UI guide stores strings.
        let m = meta(json!({"consent": {"given": "true", "version": "2"}}));
        assert!(!must_accept(&m, &terms("2")));
    }

    #[test]
    fn history_is_capped() {
        let mut m = Map::new();
        for i in 0..(MAX_CONSENT_HISTORY + 5) {
            let r = accepted(&m, &terms(&i.to_string()), "2024-01-01T00:00:00.000Z");
            m = meta(json!({ "consent": r }));
        }
        let state = ConsentState::of(&m).unwrap();
        assert_eq!(state.history.len(), MAX_CONSENT_HISTORY);
        assert_eq!(state.history[0].version.as_deref(), Some("5"));
    }

    #[test]
    fn settings_are_checked_property_by_property() {
        let ok = ConsentSettings::from_value(
            json!({"terms_url": "https://example.com/t", "terms_version": " 2024-05 "}),
        )
        .unwrap();
        assert_eq!(ok.terms_version, "2024-05");
        for (bad, property) in [
            (json!("x"), "consent"),
            (
                json!({"terms_url": "ftp://x/t", "terms_version": "1"}),
                "consent.terms_url",
            ),
            (json!({"terms_url": "https://x/t"}), "consent.terms_version"),
            (
                json!({"terms_url": "https://x/t", "terms_version": ""}),
                "consent.terms_version",
            ),
            (
                json!({"terms_url": "https://x/t", "terms_version": 3}),
                "consent.terms_version",
            ),
            (json!({"terms_version": "1"}), "consent.terms_url"),
        ] {
            let e = ConsentSettings::from_value(bad.clone()).unwrap_err();
            assert!(e.message.contains(property), "{bad}: {}", e.message);
        }
        let e = ConsentSettings::from_value(
            json!({"terms_url": "https://x/t", "terms_version": "1", "extra": 1}),
        )
        .unwrap_err();
        assert!(e.message.contains("extra"), "{}", e.message);
        assert!(DefaultPicture::parse(&json!("initials")).is_ok());
        assert!(DefaultPicture::parse(&json!("robohash")).is_err());
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(
            replace_whole("ann@x.io logged in", "ann@x.io", "[e]"),
            "[e] logged in"
        );
        assert_eq!(replace_whole("JOANN@X.IO", "ann@x.io", "[e]"), "JOANN@X.IO");
        assert_eq!(replace_whole("Ann@X.io.", "ann@x.io", "[e]"), "[e].");
        assert_eq!(
            replace_whole("ann@x.io.com", "ann@x.io", "[e]"),
            "ann@x.io.com"
        );
        assert_eq!(replace_whole("10.0.0.12", "10.0.0.1", "[e]"), "10.0.0.12");
        assert_eq!(
            replace_whole("from 10.0.0.1, ok", "10.0.0.1", "[e]"),
            "from [e], ok"
        );
        assert_eq!(
            replace_whole("/users/auth0|abc/x auth0|abcd", "auth0|abc", "p"),
            "/users/p/x auth0|abcd"
        );
        assert_eq!(replace_whole("ééann@x.io", "ann@x.io", "[e]"), "ééann@x.io");
    }

    #[test]
    fn an_event_loses_what_names_the_user() {
        let erasure = Erasure {
            user_ids: vec!["auth0|abc".into()],
            emails: vec!["zoë@example.com".into()],
            usernames: vec!["zoe".into()],
            pseudonym: "erased|123".into(),
        };
        let mut own = LogEvent {
            kind: "s".into(),
            user_id: Some("auth0|abc".into()),
            user_name: Some("Zoë@example.com".into()),
            ip: Some("203.0.113.9".into()),
            user_agent: Some("Firefox".into()),
            client_id: Some("app".into()),
            description: Some("zoë@example.com from 203.0.113.9".into()),
            details: meta(json!({"session": {"ip": "203.0.113.9", "who": ["zoë@example.com"]}})),
            ..Default::default()
        };
        assert!(erasure.scrub(&mut own, &["203.0.113.9".into()]));
        assert_eq!(own.user_id.as_deref(), Some("erased|123"));
        assert_eq!(own.user_name, None);
        assert_eq!(own.ip, None);
        assert_eq!(own.client_id.as_deref(), Some("app"));
        let text = format!("{:?}", own);
        assert!(
            !text.contains("203.0.113.9") && !text.to_lowercase().contains("zoë@"),
            "{text}"
        );
        // Someone else's event keeps its own address; only the mention goes.
        let mut other = LogEvent {
            kind: "sapi".into(),
            user_id: Some("auth0|admin".into()),
            ip: Some("203.0.113.9".into()),
            description: Some("DELETE /api/v2/users/auth0|abc".into()),
            ..Default::default()
        };
        assert!(erasure.scrub(&mut other, &["203.0.113.9".into()]));
        assert_eq!(other.ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(
            other.description.as_deref(),
            Some("DELETE /api/v2/users/erased|123")
        );
        let mut unrelated = LogEvent {
            kind: "s".into(),
            user_id: Some("auth0|zzz".into()),
            user_name: Some("zoe2@example.com".into()),
            ..Default::default()
        };
        assert!(!erasure.scrub(&mut unrelated, &[]));
        // An account of another connection with the same address keeps its events.
        let mut namesake = LogEvent {
            kind: "s".into(),
            user_id: Some("google-oauth2|1077".into()),
            user_name: Some("zoë@example.com".into()),
            ip: Some("198.51.100.3".into()),
            ..Default::default()
        };
        let kept = namesake.clone();
        assert!(!erasure.owns(&namesake));
        assert!(!erasure.scrub(&mut namesake, &["198.51.100.3".into()]));
        assert_eq!(namesake, kept);
    }
}
