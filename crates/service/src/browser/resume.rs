//! `/continue`: the flow resumes after the tenant's post-login redirect hook, in the same
//! browser session that started it, or after an action sent the user away
//! (`api.redirect.sendUserTo`): then that action's `onContinuePostLogin` and the actions after
//! it run, and the login ends at the application's callback.

use super::authorize::{Answered, Grantee};
use super::{
    ActionContinuation, Browser, Continuation, Outcome, Step, error_page, expired, problem_answer,
};
use crate::Gatehouse;
use gatehouse_store::SessionKind;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// A `state` an action's redirect handed out: random, base64url.
fn looks_like_action_state(state: &str) -> bool {
    state.len() == 32
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Gatehouse {
    /// `GET|POST /continue?state=...`: resumes after the redirect hook or an action's
    /// redirect. `params` is what came with it (the query, or the posted form), which an
    /// action reads as `event.request.query` / `.body`.
    pub async fn resume(
        &self,
        state: &str,
        params: &HashMap<String, String>,
        posted: bool,
        browser: &Browser,
    ) -> Outcome {
        if let Ok(cont) = self.unseal::<Continuation>(state) {
            let session = match self.active_session(browser.session_cookie.as_deref()).await {
                Ok(Some(s)) if s.session.session_id == cont.session_id => s,
                Ok(_) => return error_page(400, "This login was started in another browser session. Go back to the application and sign in again.").into(),
                Err(e) => return Step::from(e).into(),
            };
            return self.proceed(cont.tx, Some(session), browser).await.into();
        }
        if !looks_like_action_state(state) {
            return expired().into();
        }
        self.resume_action(state, params, posted, browser)
            .await
            .into()
    }

    /// Back from an action's redirect: the waiting login is taken once (by the digest of its
    /// state), its session must still be live, and the browser's own session, if it brings
    /// one, must be that one. A cross-site POST brings no cookie (`SameSite=Lax`), so the
    /// state itself, random and single-use, binds the resume to the login.
    async fn resume_action(
        &self,
        state: &str,
        params: &HashMap<String, String>,
        posted: bool,
        browser: &Browser,
    ) -> Step {
        let hash = gatehouse_crypto::sha256_hex(state.as_bytes());
        let sealed = match self
            .inner
            .actions
            .take_continuation(self.tenant(), &hash, self.now())
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => return expired(),
            Err(e) => return Step::Failed(e.into()),
        };
        let Ok(cont) = self.unseal::<ActionContinuation>(&sealed) else {
            return expired();
        };
        let Some(session_hash) = cont.session_hash.as_deref() else {
            return expired();
        };
        let brought = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(s) => s,
            Err(e) => return e.into(),
        };
        if let Some(other) = &brought
            && other.session.cookie_hash != session_hash
        {
            return error_page(
                400,
                "This login was started in another browser session. Go back to the application and sign in again.",
            );
        }
        let session = match brought {
            Some(s) => s,
            None => match self
                .live_session_by_hash(session_hash, SessionKind::Sso)
                .await
            {
                Ok(Some(s)) => s,
                Ok(None) => return expired(),
                Err(e) => return e.into(),
            },
        };
        if session.user.user_id != cont.user_id {
            return expired();
        }
        let client = match self.stored_client(&cont.req.client_id).await {
            Ok(c) => c,
            Err(e) => return super::expired_or_failed(e),
        };
        let fields: Map<String, Value> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "state")
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let request = if posted {
            json!({"method": "POST", "query": {}, "body": fields, "state": state})
        } else {
            json!({"method": "GET", "query": fields, "body": {}, "state": state})
        };
        let grantee = Grantee {
            user: &session.user,
            session_id: Some(&session.session.session_id),
            auth_time: cont.auth_time,
            impersonator: None,
            ip: browser.ip.as_deref(),
            user_agent: browser.user_agent.as_deref(),
            session_hash: Some(&session.session.cookie_hash),
        };
        match self
            .answer(
                &client,
                &cont.req,
                grantee,
                &cont.login_claims,
                Some((cont.changes, &request)),
            )
            .await
        {
            Ok(Answered::Callback(answer)) => Step::Callback(answer),
            Ok(Answered::Away(url)) => Step::External(url),
            Err(super::Halt::Refused(p)) => problem_answer(&cont.req, p),
            Err(super::Halt::Failed(f)) => Step::Failed(f),
        }
    }
}
