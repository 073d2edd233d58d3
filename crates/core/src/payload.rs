//! Reading a JSON request body field by field, with Auth0's "Payload validation error" wording.
//!
//! Handlers declare which properties a body may have, then take each one with its expected
//! type. Anything else (unknown properties, wrong types, malformed JSON) becomes an
//! [`InvalidBody`] naming the offending property, which the HTTP edge maps to a 400.

use serde_json::{Map, Value};

/// A request body that failed validation; the message is what the caller sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidBody {
    pub message: String,
}

impl InvalidBody {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// `Payload validation error: '<what>' on property <field>.`
    pub fn on_property(what: impl AsRef<str>, field: &str) -> Self {
        Self::new(format!(
            "Payload validation error: '{}' on property {field}.",
            what.as_ref()
        ))
    }
}

/// A property that may be absent, explicitly `null`, or set (PATCH semantics).
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }
    pub fn set(self) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// JSON type names as JSON Schema spells them in error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(expected: &str, found: &Value, field: &str) -> InvalidBody {
    InvalidBody::on_property(
        format!(
            "Expected type {expected} but found type {}",
            type_name(found)
        ),
        field,
    )
}

/// A JSON object body being validated.
#[derive(Debug, Clone)]
pub struct Payload {
    map: Map<String, Value>,
}

impl Payload {
    /// Parses bytes that must hold one JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidBody> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            InvalidBody::new(format!("Payload validation error: 'Invalid JSON: {e}'."))
        })?;
        Self::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Self, InvalidBody> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            other => Err(InvalidBody::new(format!(
                "Payload validation error: 'Expected type object but found type {}'.",
                type_name(&other)
            ))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The object as read, for bodies whose forms are checked as a whole.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Fails on any property not in `allowed`, listing them as Auth0 does.
    pub fn allow_only(&self, allowed: &[&str]) -> Result<(), InvalidBody> {
        let extra: Vec<&str> = self
            .map
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(InvalidBody::new(format!(
                "Payload validation error: 'Additional properties not allowed: {}'.",
                extra.join(",")
            )))
        }
    }

    /// Fails when the object has fewer than `min` properties (an empty PATCH).
    pub fn require_some(&self) -> Result<(), InvalidBody> {
        if self.map.is_empty() {
            Err(InvalidBody::new(
                "Payload validation error: 'Too few properties defined (0), minimum 1'.",
            ))
        } else {
            Ok(())
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, InvalidBody> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type("string", &other, key)),
        }
    }

    pub fn required_string(&mut self, key: &str) -> Result<String, InvalidBody> {
        self.string(key)?.ok_or_else(|| {
            InvalidBody::new(format!(
                "Payload validation error: 'Missing required property: {key}'."
            ))
        })
    }

    pub fn nullable_string(&mut self, key: &str) -> Result<Field<String>, InvalidBody> {
        match self.take(key) {
            None => Ok(Field::Absent),
            Some(Value::Null) => Ok(Field::Null),
            Some(Value::String(s)) => Ok(Field::Set(s)),
            Some(other) => Err(wrong_type("string", &other, key)),
        }
    }

    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, InvalidBody> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(wrong_type("boolean", &other, key)),
        }
    }

    pub fn integer(&mut self, key: &str) -> Result<Option<i64>, InvalidBody> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(other) => Err(wrong_type("integer", &other, key)),
        }
    }

    /// An object property; `null` is reported as absent only when `allow_null`.
    pub fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, InvalidBody> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(wrong_type("object", &other, key)),
        }
    }

    pub fn string_array(&mut self, key: &str) -> Result<Option<Vec<String>>, InvalidBody> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(wrong_type("string", &other, key)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(wrong_type("array", &other, key)),
        }
    }

    /// Takes a property whatever its type (for nested documents validated elsewhere).
    pub fn raw(&mut self, key: &str) -> Option<Value> {
        self.take(key)
    }
}

/// An address (`addr-spec`), never a mailbox: exactly one `@`; a dot-atom local part
/// (letters, digits, ``!#$%&'*+/=?^_`{|}~-``, non-ASCII letters, dots between atoms); a
/// domain of letter-digit-hyphen labels. Display names, comments, quoted local parts and
/// lists are refused: mail parsers read `"a@x"<b@y>` as an address at `y` (security review
/// L1). Deliverability is the verification email's job.
pub fn is_email(s: &str) -> bool {
    const ATEXT: &str = "!#$%&'*+/=?^_`{|}~-";
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atom_ok = |a: &str| {
        !a.is_empty()
            && a.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || ATEXT.contains(c)
                    || (!c.is_ascii() && c.is_alphanumeric())
            })
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    s.len() <= 254
        && local.len() <= 64
        && local.split('.').all(atom_ok)
        && domain.split('.').all(label_ok)
}

/// E.164: a `+`, then 2 to 15 digits not starting with 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_unknown_properties_listing_them() {
        let p = Payload::from_value(json!({"email": "a@b.c", "foo": 1, "bar": 2})).unwrap();
        let err = p.allow_only(&["email"]).unwrap_err();
        assert!(err.message.contains("Additional properties not allowed"));
        assert!(err.message.contains("foo") && err.message.contains("bar"));
    }

    #[test]
    fn wrong_type_names_the_property() {
        let mut p = Payload::from_value(json!({"email": 5})).unwrap();
        let err = p.string("email").unwrap_err();
        assert_eq!(
            err.message,
            "Payload validation error: 'Expected type string but found type integer' on property email."
        );
    }

    #[test]
    fn tri_state_fields() {
        let mut p = Payload::from_value(json!({"a": null, "b": "x"})).unwrap();
        assert_eq!(p.nullable_string("a").unwrap(), Field::Null);
        assert_eq!(p.nullable_string("b").unwrap(), Field::Set("x".into()));
        assert_eq!(p.nullable_string("c").unwrap(), Field::Absent);
    }

    #[test]
    fn malformed_and_non_object_bodies() {
        assert!(Payload::parse(b"{").is_err());
        assert!(
            Payload::parse(b"[]")
                .unwrap_err()
                .message
                .contains("found type array")
        );
    }

    #[test]
    fn email_and_phone_syntax() {
        assert!(is_email("jane@example.com"));
        assert!(!is_email("jane"));
        assert!(!is_email("jane doe@example.com"));
        assert!(!is_email("@example.com"));
        // Security review L1: what mail parsers read as another address is not an address.
        for bad in [
            "\"ceo@corp.example\"<attacker@evil.test>",
            "attacker@evil.test(ceo@corp.example)",
            "a@x,b@y",
            "a@b@c.example",
            "<a@b.example>",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a@example.com.",
            "a;b@example.com",
            "a\\b@example.com",
            "a@[127.0.0.1]",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        for good in [
            "jane.doe+tag@example.com",
            "o'brien@example.co.uk",
            "user@localhost",
            "zoë@exämple.de",
            "x_y-z@sub-domain.example.org",
        ] {
            assert!(is_email(good), "{good}");
        }
        assert!(is_e164("+14155550100"));
        assert!(!is_e164("14155550100"));
        assert!(!is_e164("+0123"));
    }
}
