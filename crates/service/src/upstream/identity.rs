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

/// Another user of the connection has the email address the login brought.
fn email_taken(connection: &str) -> UpstreamError {
    UpstreamError::Refused(format!(
        "another user of the connection {connection} has the email address this provider gave"
    ))
}

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

/// Who an external login proved (a provider's or a directory's), as Gatehouse keys them.
pub(crate) struct ExternalIdentity<'a> {
    pub strategy: &'a str,
    /// `identities[].user_id` (`583231`, `acme-sso|248289761001`).
    pub identity_user_id: String,
    pub root_sync: RootSync,
    /// Sign in with Apple names the user on the first login only: later logins keep it.
    pub name_on_first_login_only: bool,
}

impl ExternalIdentity<'_> {
    fn user_id(&self) -> String {
        format!("{}|{}", self.strategy, self.identity_user_id)
    }
}

impl Gatehouse {
    /// Finds or creates the user of an external login and brings the profile up to date as
    /// `set_user_root_attributes` says; answers the identity's user id and whether this
    /// login created it. Deny-listed attributes must already be split off.
    pub(crate) async fn keep_external_user(
        &self,
        c: &StoredConnection,
        who: &ExternalIdentity<'_>,
        mut profile: UpstreamProfile,
    ) -> Result<(String, bool), UpstreamError> {
        let name = &c.settings.name;
        let user_id = who.user_id();
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
                if who.root_sync == RootSync::NeverOnLogin {
                    return Err(UpstreamError::Refused(format!(
                        "the user does not exist and the connection ({name}) does not create users at login (set_user_root_attributes: never_on_login)"
                    )));
                }
                let now = self.now();
                let mut u = User::new(who.strategy, &who.identity_user_id, &c.id, name, "", now);
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
                        return Err(email_taken(name));
                    }
                    Err(StoreError::Conflict(_)) => return Err(email_taken(name)),
                    Err(e) => return Err(ServiceError::from(e).into()),
                }
            };
            if who.root_sync != RootSync::OnEachLogin {
                break;
            }
            let mut u = existing.user;
            if who.name_on_first_login_only
                && profile.given_name.is_none()
                && profile.family_name.is_none()
            {
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
                        "a user kept changing during an external login",
                    )
                    .into());
                }
                Err(StoreError::Conflict(_)) => return Err(email_taken(name)),
                Err(e) => return Err(ServiceError::from(e).into()),
            }
        }
        Ok((user_id, created))
    }

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
        let who = ExternalIdentity {
            strategy: &o.strategy,
            identity_user_id: o.identity_user_id(&c.settings.name, &profile.id),
            root_sync: o.root_sync,
            name_on_first_login_only: o.profile == ProfileShape::Apple,
        };
        let (user_id, created) = self.keep_external_user(c, &who, profile).await?;
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

    /// The providers' tokens of a user's identities, by position in `identities[]`, for
    /// callers allowed `read:user_idp_tokens`.
    pub async fn identity_provider_tokens(
        &self,
        user: &User,
    ) -> Result<Vec<(usize, Map<String, Value>)>, ServiceError> {
        let mut out = vec![];
        let ids = std::iter::once(user.user_id.clone()).chain(
            user.linked_identities
                .iter()
                .map(|l| format!("{}|{}", l.provider, l.user_id)),
        );
        for (i, id) in ids.enumerate() {
            if let Some(t) = self.idp_tokens(&id).await? {
                out.push((i, t));
            }
        }
        Ok(out)
    }

    /// The provider's tokens of a user's identity.
    async fn idp_tokens(&self, user_id: &str) -> Result<Option<Map<String, Value>>, ServiceError> {
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
