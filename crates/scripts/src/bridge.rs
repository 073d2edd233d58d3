//! What the `pg` and `mysql` bridges share: a connection URL's password kept out of every
//! message, and Node's `Buffer` as JSON (`{"type": "Buffer", "data": [..]}`).

use serde_json::{Value, json};

/// The password of a connection URL, in every spelling a message could repeat it in (as
/// written, percent-decoded, or as a `password=` query parameter).
pub(crate) struct UrlSecrets(Vec<String>);

impl UrlSecrets {
    pub(crate) fn of(url: &str) -> Self {
        let mut secrets = Vec::new();
        if let Ok(parsed) = url::Url::parse(url) {
            if let Some(password) = parsed.password() {
                secrets.push(password.to_owned());
                secrets.push(percent_decode(password));
            }
            for (key, value) in parsed.query_pairs() {
                if key == "password" {
                    secrets.push(value.into_owned());
                }
            }
        }
        secrets.retain(|secret| !secret.is_empty());
        // Longest first, so a password containing another spelling is removed whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        Self(secrets)
    }

    /// `text` with every spelling of the password replaced.
    pub(crate) fn redact(&self, mut text: String) -> String {
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "********");
            }
        }
        text
    }
}

/// `%40` → `@`; invalid escapes stay as they are.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes.get(i + 1..i + 3).and_then(|pair| {
                let pair = std::str::from_utf8(pair).ok()?;
                u8::from_str_radix(pair, 16).ok()
            })
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bytes of a serialised Node `Buffer`.
pub(crate) fn buffer_bytes(value: &Value) -> Option<Vec<u8>> {
    let object = value.as_object()?;
    if object.get("type")?.as_str()? != "Buffer" {
        return None;
    }
    object
        .get("data")?
        .as_array()?
        .iter()
        .map(|byte| byte.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}

/// Bytes as a serialised Node `Buffer`, which the prelude turns back into one.
pub(crate) fn buffer_value(bytes: &[u8]) -> Value {
    json!({ "type": "Buffer", "data": bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_password_is_redacted() {
        let secrets = UrlSecrets::of("postgres://me:p%40ss%20word@host/db?password=other-pw");
        assert_eq!(
            secrets.redact("bad p@ss word, p%40ss%20word and other-pw".into()),
            "bad ********, ******** and ********"
        );
        assert_eq!(
            buffer_bytes(&buffer_value(&[0, 255, 7])),
            Some(vec![0, 255, 7])
        );
        assert_eq!(
            buffer_bytes(&json!({"type": "Buffer", "data": [256]})),
            None
        );
    }
}
