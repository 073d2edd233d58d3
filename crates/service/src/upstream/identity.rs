//! A provider's user as a Gatehouse user: found by the user id the provider's id makes
//! (`github|583231`, `oidc|acme-sso|248289761001`), created on the first login, and kept in
//! step with the provider as the connection's `set_user_root_attributes` says. Attributes on
//! the connection's deny list (`non_persistent_attrs`) are split off before anything is
//! written; the provider's tokens are sealed onto the identity.

use super::UpstreamError;
use super::UpstreamLogin;
use crate::Gatehouse;
use crate::error::ServiceError;
use gatehouse_core::upstream::profile::UpstreamProfile;
use gatehouse_core::upstream::{ProfileShape, RootSync, UpstreamOptions};
use gatehouse_core::user::User;
use gatehouse_store::{StoreError, StoredConnection};
use serde_json::{Map, Value, json};

/// Tries at updating a user another login is updating at the same moment.
const UPDATE_ATTEMPTS: usize = 3;

/// The user a provider's login proved, and what must not be stored.
pub(crate) struct UpstreamUser {
    /// The user who logs in: the identity's own user, or the primary it is linked to.
    pub user_id: String,
    /// Deny-listed attributes: for this login's tokens only.
    pub denied: Map<String, Value>,
    /// The user was created by this login.
    pub created: bool,
}

fn apply_profile(u: &mut User, p: &UpstreamProfile) {
    u.name = p.name.clone();
    u.nickname = p.nickname.clone();
    u.given_name = p.given_name.clone();
    u.family_name = p.family_name.clone();
    u.picture = p.picture.clone();
}

fn identity_changed(u: &User, p: &UpstreamProfile) -> bool {
    u.name != p.name
        || u.nickname != p.nickname
        || u.given_name != p.given_name
        || u.family_name != p.family_name
        || u.picture != p.picture
        || u.email != p.email
        || u.email_verified != p.email_verified
        || u.idp_attributes != p.other
}

impl Gatehouse {
    /// Finds or creates the user of a provider's login and brings the profile up to date.
    pub(crate) async fn upstream_user(
        &self,
        c: &StoredConnection,
        o: &UpstreamOptions,
        login: UpstreamLogin,
    ) -> Result<UpstreamUser, UpstreamError> {
        let UpstreamLogin {
            mut profile,
            access_token,
            refresh_token,
            expires_in,
        } = login;
        let denied = profile.split_off_denied(&o.non_persistent_attrs);
        let name = &c.settings.name;
        let user_id = o.user_id(name, &profile.id);
        let mut created = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let existing = self
                .inner
                .users
                .get(self.tenant(), &user_id)
                .await
                .map_err(ServiceError::from)?;
            let Some(existing) = existing else {
                if o.root_sync == RootSync::NeverOnLogin {
                    return Err(UpstreamError::Refused(format!(
                        "the user does not exist and the connection ({name}) does not create users at login (set_user_root_attributes: never_on_login)"
                    )));
                }
                let now = self.now();
                let mut u = User::new(
                    &o.strategy,
                    &o.identity_user_id(name, &profile.id),
                    &c.id,
                    name,
                    "",
                    now,
                );
                u.email = profile.email.clone();
                u.email_verified = profile.email_verified;
                apply_profile(&mut u, &profile);
                u.idp_attributes = profile.other.clone();
                match self.inner.users.insert(self.tenant(), &u, None, &[]).await {
                    Ok(()) => {
                        created = true;
                        break;
                    }
                    // Two first logins at once: the other one created the user.
                    Err(StoreError::Conflict(_)) if attempt < UPDATE_ATTEMPTS => {
                        if self
                            .inner
                            .users
                            .get(self.tenant(), &user_id)
                            .await
                            .map_err(ServiceError::from)?
                            .is_some()
                        {
                            continue;
                        }
                        return Err(UpstreamError::Refused(format!(
                            "another user of the connection {name} has the email address this provider gave"
                        )));
                    }
                    Err(StoreError::Conflict(_)) => {
                        return Err(UpstreamError::Refused(format!(
                            "another user of the connection {name} has the email address this provider gave"
                        )));
                    }
                    Err(e) => return Err(ServiceError::from(e).into()),
                }
            };
            if o.root_sync != RootSync::OnEachLogin {
                break;
            }
            let mut u = existing.user;
            if o.profile == ProfileShape::Apple
                && profile.given_name.is_none()
                && profile.family_name.is_none()
            {
                // Apple sends the name on the first login only: later logins keep it.
                profile.name = u.name.clone();
                profile.nickname = u.nickname.clone().or(profile.nickname);
                profile.given_name = u.given_name.clone();
                profile.family_name = u.family_name.clone();
            }
            if !identity_changed(&u, &profile) {
                break;
            }
            apply_profile(&mut u, &profile);
            u.email = profile.email.clone();
            u.email_verified = profile.email_verified;
            u.idp_attributes = profile.other.clone();
            u.updated_at = self.now();
            match self
                .inner
                .users
                .update(self.tenant(), &u, existing.version, None, &[])
                .await
            {
                Ok(true) => break,
                Ok(false) if attempt < UPDATE_ATTEMPTS => continue,
                Ok(false) => {
                    return Err(ServiceError::broken(
                        "a user kept changing during an upstream login",
                    )
                    .into());
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(UpstreamError::Refused(format!(
                        "another user of the connection {name} has the email address this provider gave"
                    )));
                }
                Err(e) => return Err(ServiceError::from(e).into()),
            }
        }
        let tokens = json!({"access_token": access_token, "refresh_token": refresh_token, "expires_in": expires_in});
        let sealed = self
            .inner
            .secrets
            .seal_text(&idp_tokens_purpose(&user_id), &tokens.to_string())
            .map_err(ServiceError::internal)?;
        self.inner
            .users
            .set_idp_tokens(self.tenant(), &user_id, Some(&sealed))
            .await
            .map_err(ServiceError::from)?;
        let primary = self
            .inner
            .users
            .primary_of(self.tenant(), &user_id)
            .await
            .map_err(ServiceError::from)?
            .unwrap_or(user_id);
        Ok(UpstreamUser {
            user_id: primary,
            denied,
            created,
        })
    }

    /// The provider's tokens of a user's identity, for callers allowed `read:user_idp_tokens`.
    #[expect(
        dead_code,
        reason = "the Management API does not serve read:user_idp_tokens yet"
    )]
    pub(crate) async fn idp_tokens(
        &self,
        user_id: &str,
    ) -> Result<Option<Map<String, Value>>, ServiceError> {
        let Some(sealed) = self.inner.users.idp_tokens(self.tenant(), user_id).await? else {
            return Ok(None);
        };
        let text = self
            .inner
            .secrets
            .open_text(&idp_tokens_purpose(user_id), &sealed)
            .map_err(ServiceError::internal)?;
        let tokens: Map<String, Value> =
            serde_json::from_str(&text).map_err(ServiceError::internal)?;
        Ok(Some(
            tokens.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        ))
    }
}

/// Sealed for one user, so a sealed value copied onto another row does not open.
fn idp_tokens_purpose(user_id: &str) -> String {
    format!("idp-tokens/{user_id}")
}
