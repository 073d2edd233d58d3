//! Breached-password detection at login, sign-up and password change: the bundled list of
//! common passwords and, when `GATEHOUSE_BREACHED_PASSWORDS_URL` is set, a Pwned Passwords
//! range service (only the first five hex characters of the SHA-1 are sent).

use crate::Gatehouse;
use crate::error::Result;
use gatehouse_core::breached::{self, BreachedPasswordSettings};
use gatehouse_core::email::EmailTemplate;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::password_policy::PasswordRejection;
use gatehouse_core::payload::Payload;
use gatehouse_core::user::User;

impl Gatehouse {
    pub(crate) async fn breached_settings(&self) -> Result<BreachedPasswordSettings> {
        Ok(self
            .cached_tenant_settings()
            .await?
            .breached_password_detection
            .clone())
    }

    /// `GET /api/v2/attack-protection/breached-password-detection`.
    pub async fn get_breached_detection(&self) -> Result<BreachedPasswordSettings> {
        self.breached_settings().await
    }

    /// `PATCH /api/v2/attack-protection/breached-password-detection`.
    pub async fn update_breached_detection(
        &self,
        body: Payload,
    ) -> Result<BreachedPasswordSettings> {
        let mut settings = self.tenant_settings().await?;
        settings.breached_password_detection.patch(body)?;
        self.save_settings(&settings).await?;
        Ok(settings.breached_password_detection)
    }

    /// True when the password is a common one or the range service lists it. A range
    /// service that cannot be reached does not block anyone: the bundled list still applies.
    pub(crate) async fn is_breached(&self, password: &str) -> bool {
        if breached::is_common(password) {
            return true;
        }
        let Some(base) = &self.config().breached_passwords_url else {
            return false;
        };
        let hash = gatehouse_crypto::sha1_hex_upper(password.as_bytes());
        let (prefix, suffix) = breached::range_parts(&hash);
        let url = format!("{}/{prefix}", base.trim_end_matches('/'));
        let answer = self
            .inner
            .http
            .get(&url)
            .header("Add-Padding", "true")
            .send()
            .await
            .and_then(|r| r.error_for_status());
        match answer {
            Ok(r) => match r.text().await {
                Ok(body) => breached::range_contains(&body, suffix),
                Err(e) => {
                    tracing::warn!(error = %e, "breached-password range service: unreadable answer");
                    false
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "breached-password range service unreachable; only the bundled list applies");
                false
            }
        }
    }

    /// Refuses a new password that appeared in a breach when the tenant blocks them at this
    /// stage (`signup` or password change).
    pub(crate) async fn refuse_breached(
        &self,
        password: &str,
        signup: bool,
        mut event: LogEvent,
    ) -> Result<()> {
        let settings = self.breached_settings().await?;
        let blocks = if signup {
            settings.blocks_signup()
        } else {
            settings.blocks_password_change()
        };
        if blocks && self.is_breached(password).await {
            event.kind = codes::BREACHED_PASSWORD.into();
            event.description = Some(if signup {
                "Sign-up with a breached password blocked".into()
            } else {
                "Password change to a breached password blocked".into()
            });
            self.record(event).await;
            return Err(PasswordRejection::Leaked.into());
        }
        Ok(())
    }

    /// At a successful password check: logs `pwd_leak`, emails the user a reset link when the
    /// tenant notifies, and says whether the login must be refused.
    pub(crate) async fn breached_at_login(
        &self,
        user: &User,
        password: &str,
        event: &LogEvent,
    ) -> Result<bool> {
        let settings = self.breached_settings().await?;
        if !settings.enabled || !self.is_breached(password).await {
            return Ok(false);
        }
        let mut e = event.clone();
        e.kind = codes::BREACHED_PASSWORD.into();
        e.user_id = Some(user.user_id.clone());
        e.description = Some(if settings.blocks_login() {
            "Login with a breached password blocked until the password is changed".into()
        } else {
            "Login with a breached password".into()
        });
        self.record(e).await;
        if settings.notifies_user() {
            let url = self.reset_link(user).await?;
            if let Some(m) = self
                .email_for(EmailTemplate::StolenCredentials, user, Some(&url))
                .await?
            {
                self.inner.outbox.enqueue(self.tenant(), &[m]).await?;
            }
        }
        Ok(settings.blocks_login())
    }
}
