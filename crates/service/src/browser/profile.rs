//! Progressive profiling, hosted: `/u/profile`, the page an action sends a user to
//! (`api.redirect.sendUserTo('/u/profile', {query: {fields: 'company,title'}})`) to collect the
//! named `user_metadata` fields before the login goes on. The answers are checked, written to
//! the user's `user_metadata`, and the login resumes as through `/continue`, so the action's
//! `onContinuePostLogin` and the actions after it see them in `event.user`. Fields the user
//! already has (in `user_metadata`, or at the profile's root, as an identity provider gives
//! them) are never asked.

use super::{ActionContinuation, Branding, Browser, Outcome, Step, error_page, expired};
use crate::Gatehouse;
use gatehouse_core::payload::Payload;
use gatehouse_core::user::{User, UserPatch};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Fields one page may ask for, and the longest answer.
const MAX_FIELDS: usize = 10;
const MAX_ANSWER: usize = 300;

/// One question of the page.
#[derive(Debug, Clone)]
pub struct ProfileField {
    /// The `user_metadata` key.
    pub name: String,
    /// What the page shows: the key with `_` as spaces, first letter capital.
    pub label: String,
    pub value: String,
}

/// The progressive-profiling page.
#[derive(Debug, Clone)]
pub struct ProfileScreen {
    pub state: String,
    pub fields: Vec<ProfileField>,
    pub user_email: Option<String>,
    pub branding: Branding,
    pub error: Option<String>,
}

/// The field names of `fields=` (comma-separated `user_metadata` keys), checked.
fn wanted_fields(fields: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    (!out.is_empty() && out.len() <= MAX_FIELDS).then_some(out)
}

fn label(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// The fields the user does not have yet (asked before, or given by the provider, as
/// `user_metadata` or the profile's own fields); the profile is rendered once for all.
fn still_missing(user: &User, names: Vec<String>) -> Vec<String> {
    let present = |v: Option<&Value>| v.is_some_and(|v| !v.is_null() && v != &json!(""));
    let profile = user.to_json();
    names
        .into_iter()
        .filter(|n| !present(user.user_metadata.get(n)) && !present(profile.get(n)))
        .collect()
}

impl Gatehouse {
    /// The waiting login behind `state`, for this browser's session, without taking it.
    async fn waiting_login(
        &self,
        state: &str,
        browser: &Browser,
    ) -> Result<(ActionContinuation, super::sessions::ActiveSession), Step> {
        let hash = gatehouse_crypto::sha256_hex(state.as_bytes());
        let sealed = match self
            .inner
            .actions
            .peek_continuation(self.tenant(), &hash, self.now())
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => return Err(expired()),
            Err(e) => return Err(Step::Failed(e.into())),
        };
        let Ok(cont) = self.unseal::<ActionContinuation>(&sealed) else {
            return Err(expired());
        };
        // Gatehouse's own page: the browser brings its session cookie, which must be the
        // login's.
        match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) if cont.session_hash.as_deref() == Some(s.session.cookie_hash.as_str()) => {
                Ok((cont, s))
            }
            Ok(_) => Err(error_page(
                400,
                "This login was started in another browser session. Go back to the application and sign in again.",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /u/profile?state=…&fields=…`.
    pub async fn profile_screen(&self, state: &str, fields: &str, browser: &Browser) -> Outcome {
        let (_, session) = match self.waiting_login(state, browser).await {
            Ok(found) => found,
            Err(step) => return step.into(),
        };
        let Some(names) = wanted_fields(fields) else {
            return error_page(
                400,
                "This page was asked for fields it cannot show. Go back to the application and sign in again.",
            )
            .into();
        };
        let missing = still_missing(&session.user, names);
        if missing.is_empty() {
            return self.resume(state, &HashMap::new(), true, browser).await;
        }
        self.profile_page(state, &session.user, missing, &HashMap::new(), None)
            .await
    }

    async fn profile_page(
        &self,
        state: &str,
        user: &User,
        names: Vec<String>,
        answers: &HashMap<String, String>,
        error: Option<String>,
    ) -> Outcome {
        let branding = match self.branding().await {
            Ok(b) => b,
            Err(e) => return Step::from(e).into(),
        };
        Step::Profile(ProfileScreen {
            state: state.to_string(),
            fields: names
                .into_iter()
                .map(|name| ProfileField {
                    label: label(&name),
                    value: answers.get(&name).cloned().unwrap_or_default(),
                    name,
                })
                .collect(),
            user_email: user.email.clone(),
            branding,
            error,
        })
        .into()
    }

    /// `POST /u/profile`: every asked field answered (trimmed, at most 300 characters, no
    /// control characters), written to `user_metadata`, then the login resumes.
    pub async fn submit_profile(
        &self,
        state: &str,
        form: &HashMap<String, String>,
        browser: &Browser,
    ) -> Outcome {
        let (_, session) = match self.waiting_login(state, browser).await {
            Ok(found) => found,
            Err(step) => return step.into(),
        };
        let Some(names) = wanted_fields(form.get("fields").map_or("", String::as_str)) else {
            return expired().into();
        };
        let names = still_missing(&session.user, names);
        let mut answers = HashMap::new();
        let mut problem = None;
        for name in &names {
            let value = form
                .get(&format!("field_{name}"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            if value.is_empty() {
                problem.get_or_insert_with(|| format!("{} is required.", label(name)));
            } else if value.chars().count() > MAX_ANSWER || value.chars().any(char::is_control) {
                problem.get_or_insert_with(|| {
                    format!(
                        "{} must be at most {MAX_ANSWER} characters of text.",
                        label(name)
                    )
                });
            }
            answers.insert(name.clone(), value);
        }
        if problem.is_some() {
            return self
                .profile_page(state, &session.user, names, &answers, problem)
                .await;
        }
        if !answers.is_empty() {
            let metadata: Map<String, Value> =
                answers.into_iter().map(|(k, v)| (k, json!(v))).collect();
            let patch = Payload::from_value(json!({ "user_metadata": metadata }))
                .and_then(UserPatch::from_payload);
            let written = match patch {
                Ok(p) => self.update_user(&session.user.user_id, p).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = written {
                return Step::from(e).into();
            }
        }
        self.resume(state, &HashMap::new(), true, browser).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_keys_at_most_ten() {
        assert_eq!(
            wanted_fields("company, job_title,company"),
            Some(vec!["company".to_string(), "job_title".to_string()])
        );
        assert_eq!(wanted_fields("a.b"), None);
        assert_eq!(wanted_fields(""), None);
        let eleven: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
        assert_eq!(wanted_fields(&eleven.join(",")), None);
        assert_eq!(label("job_title"), "Job title");
    }
}
