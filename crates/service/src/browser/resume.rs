//! `/continue`: the flow resumes after the tenant's post-login redirect hook, in the same
//! browser session that started it.

use super::{Browser, Continuation, Outcome, Step, error_page, expired};
use crate::Gatehouse;

impl Gatehouse {
    /// `GET|POST /continue?state=...`: resumes after the redirect hook, in the same browser
    /// session that started it.
    pub async fn resume(&self, state: &str, browser: &Browser) -> Outcome {
        let Some(cont) = self.unseal::<Continuation>(state).ok() else {
            return expired().into();
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) if s.session.session_id == cont.session_id => s,
            Ok(_) => return error_page(400, "This login was started in another browser session. Go back to the application and sign in again.").into(),
            Err(e) => return Step::from(e).into(),
        };
        self.proceed(cont.tx, Some(session), browser).await.into()
    }
}
