//! GDPR self-service (docs/gdpr.md): the terms a user accepts and withdraws (recorded in
//! `user_metadata.consent`, rules in `gatehouse_core::gdpr`), their data as one download,
//! and erasure: deleting a user pseudonymises their log events in the same transaction.
//! The hosted account page's use cases are in `account`; the terms step of the login flow
//! is `crate::browser::terms`.

pub mod account;

use crate::Gatehouse;
use crate::error::Result;
use gatehouse_core::gdpr::{ConsentSettings, Erasure, accepted, withdrawn};
use gatehouse_core::log_event::LogFilter;
use gatehouse_core::payload::Payload;
use gatehouse_core::time::iso8601;
use gatehouse_core::user::{User, UserPatch};
use gatehouse_store::LogQuery;
use serde_json::{Value, json};

/// Events per page while collecting a user's logs for their download.
const LOG_PAGE: i64 = 500;
/// A download holds at most this many log events (the newest are kept by retention anyway).
const MAX_LOGS_IN_DOWNLOAD: usize = 20_000;

/// The user ids a user answers to: their own and their linked identities'.
fn user_ids(user: &User) -> Vec<String> {
    let mut ids = vec![user.user_id.clone()];
    ids.extend(
        user.linked_identities
            .iter()
            .map(|l| format!("{}|{}", l.provider, l.user_id)),
    );
    ids
}

impl Gatehouse {
    /// The pseudonym replacing a user's id in the tenant log: a keyed hash, the same for all
    /// their events, which nobody without the server key can link back to the id.
    pub(crate) fn log_pseudonym(&self, user_id: &str) -> String {
        let tag = self.inner.secrets.mac("log-pseudonym", user_id.as_bytes());
        let hex: String = tag.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("erased|{hex}")
    }

    /// What names `user` in the tenant log, for their erasure.
    pub(crate) fn erasure_of(&self, user: &User) -> Erasure {
        let mut ids = user_ids(user);
        // Request paths in `sapi` events carry the id percent-encoded (`auth0%7Cabc`).
        let encoded: Vec<String> = ids
            .iter()
            .map(|id| gatehouse_core::authorize::percent_encode(id))
            .filter(|e| !ids.contains(e))
            .collect();
        ids.extend(encoded);
        let mut emails: Vec<String> = user.email.iter().cloned().collect();
        let mut usernames: Vec<String> = user.username.iter().cloned().collect();
        for l in &user.linked_identities {
            if let Some(e) = l.profile_data.get("email").and_then(Value::as_str) {
                emails.push(e.to_string());
            }
            if let Some(u) = l.profile_data.get("username").and_then(Value::as_str) {
                usernames.push(u.to_string());
            }
        }
        for list in [&mut emails, &mut usernames] {
            list.sort_by_key(|s| s.to_lowercase());
            list.dedup_by_key(|s| s.to_lowercase());
        }
        Erasure {
            pseudonym: self.log_pseudonym(&user.user_id),
            user_ids: ids,
            emails,
            usernames,
        }
    }

    /// Records that the user accepted `terms` now (keeping the history).
    pub(crate) async fn record_consent(
        &self,
        user: &User,
        terms: &ConsentSettings,
    ) -> Result<User> {
        let record = accepted(&user.user_metadata, terms, &iso8601(self.now()));
        self.set_consent_record(&user.user_id, record).await
    }

    /// Records that the user withdrew their consent now; their next login asks again. False
    /// when there was no consent to withdraw.
    pub async fn withdraw_consent(&self, user: &User) -> Result<bool> {
        match withdrawn(&user.user_metadata, &iso8601(self.now())) {
            Some(record) => {
                self.set_consent_record(&user.user_id, record).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn set_consent_record(&self, user_id: &str, record: Value) -> Result<User> {
        let body = json!({"user_metadata": {gatehouse_core::gdpr::CONSENT_KEY: record}});
        let patch = UserPatch::from_payload(Payload::from_value(body)?)?;
        self.update_user(user_id, patch).await
    }

    /// Everything Gatehouse holds about a user, as they download it: the profile exactly as
    /// a JSON users export writes it, plus `logs`, the events recorded under their ids
    /// (oldest first).
    pub async fn personal_data(&self, user: &User) -> Result<Value> {
        let mut doc = user.to_json();
        self.flush_logs().await;
        let mut logs = Vec::new();
        for id in user_ids(user) {
            let mut from: Option<String> = None;
            loop {
                let q = LogQuery {
                    filter: LogFilter {
                        user_id: Some(id.clone()),
                        ..Default::default()
                    },
                    from: from.clone(),
                    offset: 0,
                    limit: LOG_PAGE,
                    ascending: true,
                    with_total: false,
                };
                let (page, _) = self.inner.logs.list(self.tenant(), &q).await?;
                let done = (page.len() as i64) < LOG_PAGE;
                from = page.last().map(|e| e.log_id.clone());
                logs.extend(page);
                if done || logs.len() >= MAX_LOGS_IN_DOWNLOAD {
                    break;
                }
            }
        }
        logs.sort_by(|a, b| a.log_id.cmp(&b.log_id));
        logs.truncate(MAX_LOGS_IN_DOWNLOAD);
        doc["logs"] = Value::Array(logs.iter().map(|e| e.to_json()).collect());
        Ok(doc)
    }
}
