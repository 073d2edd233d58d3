//! First-start set-up: the default database connection, the Management API, a
//! machine-to-machine client allowed every Management API scope but the opt-in ones
//! (`impersonate:users`, `gatehouse_core::scopes::OPT_IN_SCOPES`), and optionally a first
//! administrator. Runs at every start and only fills in what is missing.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::client::ClientSettings;
use gatehouse_core::connection::{ConnectionSettings, DEFAULT_DATABASE_CONNECTION};
use gatehouse_core::metadata::{MetadataKind, MetadataPatch};
use gatehouse_core::password_policy::StrengthLevel;
use gatehouse_core::payload::Field;
use gatehouse_core::resource_server::ResourceServerSettings;
use gatehouse_core::scopes::{ALL_MANAGEMENT_SCOPES, OPT_IN_SCOPES, management_api_scopes};
use gatehouse_core::user::{NewUser, UserPatch};
use gatehouse_crypto::random;
use gatehouse_store::ClientGrant;
use serde_json::{Map, json};

pub const BOOTSTRAP_CLIENT_NAME: &str = "Gatehouse Management Client";

#[derive(Debug, Default, Clone)]
pub struct BootstrapOptions {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
}

/// Credentials generated at this start, to be shown once to the operator.
#[derive(Debug, Clone)]
pub struct GeneratedClient {
    pub client_id: String,
    pub client_secret: String,
}

impl Gatehouse {
    pub async fn bootstrap(&self, opts: &BootstrapOptions) -> Result<Option<GeneratedClient>> {
        let tenant = self.tenant().to_string();
        self.ensure_default_connection().await?;
        let audience = self.config().management_audience();
        let rs = gatehouse_store::StoredResourceServer {
            id: random::hex(12).map_err(ServiceError::internal)?,
            settings: ResourceServerSettings::management_api(&audience, &management_api_scopes()),
        };
        self.inner
            .resource_servers
            .upsert_by_identifier(&tenant, &rs, self.now())
            .await?;

        let mut generated = None;
        let client_id = match (&opts.client_id, &opts.client_secret) {
            (Some(id), Some(secret)) => {
                match self.inner.clients.get(&tenant, id).await? {
                    Some(mut c) => {
                        c.sealed_secret = Some(self.seal_secret(id, secret)?);
                        if !c.settings.allows_grant("client_credentials") {
                            c.settings.grant_types.push("client_credentials".into());
                        }
                        self.inner.clients.update(&tenant, &c, self.now()).await?;
                    }
                    None => {
                        self.new_client(m2m_settings(), Some((id, secret))).await?;
                    }
                }
                id.clone()
            }
            (None, None) => {
                if self.has_any_client().await? {
                    return self.bootstrap_admin(opts).await.map(|_| None);
                }
                let c = self.new_client(m2m_settings(), None).await?;
                let secret = self
                    .open_secret(&c)?
                    .ok_or_else(|| ServiceError::broken("client has no secret"))?;
                generated = Some(GeneratedClient {
                    client_id: c.client_id.clone(),
                    client_secret: secret,
                });
                c.client_id
            }
            _ => {
                return Err(ServiceError::broken(
                    "set both GATEHOUSE_BOOTSTRAP_CLIENT_ID and GATEHOUSE_BOOTSTRAP_CLIENT_SECRET, or neither",
                ));
            }
        };
        // Opt-in scopes (impersonation) are never granted here, but an operator who granted
        // one to the bootstrap client keeps it: this grant is rewritten at every start.
        let kept: Vec<String> = self
            .inner
            .clients
            .grant(&tenant, &client_id, &audience)
            .await?
            .map(|g| g.scope)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| OPT_IN_SCOPES.contains(&s.as_str()))
            .collect();
        let grant = ClientGrant {
            id: format!("cgr_{}", random::alnum(16).map_err(ServiceError::internal)?),
            client_id,
            audience,
            scope: ALL_MANAGEMENT_SCOPES
                .iter()
                .map(|s| s.to_string())
                .chain(kept)
                .collect(),
        };
        self.inner
            .clients
            .upsert_grant(&tenant, &grant, self.now())
            .await?;
        self.bootstrap_admin(opts).await?;
        Ok(generated)
    }

    /// A new tenant's default database connection (Auth0's `Username-Password-Authentication`),
    /// created once: a tenant whose operators deleted it keeps it deleted.
    pub async fn ensure_default_connection(&self) -> Result<()> {
        if self
            .connection_by_name(DEFAULT_DATABASE_CONNECTION)
            .await?
            .is_none()
            && !self.has_any_client().await?
        {
            self.insert_connection(ConnectionSettings::database(
                DEFAULT_DATABASE_CONNECTION,
                StrengthLevel::Good,
            ))
            .await?;
        }
        Ok(())
    }

    async fn has_any_client(&self) -> Result<bool> {
        Ok(self.inner.clients.list(self.tenant(), 0, 1).await?.1 > 0)
    }

    /// Ensures the administrator exists on the default connection with this password and
    /// `app_metadata.roles` containing `admin`.
    async fn bootstrap_admin(&self, opts: &BootstrapOptions) -> Result<()> {
        let (Some(email), Some(password)) = (&opts.admin_email, &opts.admin_password) else {
            return Ok(());
        };
        let email = email.to_lowercase();
        let mut roles = Map::new();
        roles.insert("roles".into(), json!(["admin"]));
        let existing = self
            .users_by_email(&email)
            .await?
            .into_iter()
            .find(|u| u.connection == DEFAULT_DATABASE_CONNECTION);
        match existing {
            Some(u) => {
                let patch = UserPatch {
                    email: None,
                    email_verified: Some(true),
                    verify_email: None,
                    username: Field::Absent,
                    phone_number: Field::Absent,
                    phone_verified: None,
                    given_name: Field::Absent,
                    family_name: Field::Absent,
                    name: Field::Absent,
                    nickname: Field::Absent,
                    picture: Field::Absent,
                    blocked: Some(false),
                    password: Some(password.clone()),
                    connection: None,
                    user_metadata: None,
                    app_metadata: Some(MetadataPatch::parse(MetadataKind::App, roles)?),
                };
                match self.update_user(&u.user_id, patch).await {
                    // The same password again is fine at start-up.
                    Ok(_)
                    | Err(ServiceError::Password(
                        gatehouse_core::password_policy::PasswordRejection::PreviouslyUsed,
                    )) => {}
                    Err(e) => return Err(e),
                }
            }
            None => {
                let req = NewUser {
                    email_verified: Some(true),
                    verify_email: Some(false),
                    app_metadata: Some(MetadataPatch::parse(MetadataKind::App, roles)?),
                    ..NewUser::with_password(DEFAULT_DATABASE_CONNECTION, &email, password.clone())
                };
                self.create_user(req).await?;
            }
        }
        Ok(())
    }
}

fn m2m_settings() -> ClientSettings {
    let mut s = ClientSettings::new(BOOTSTRAP_CLIENT_NAME.into());
    s.app_type = Some("non_interactive".into());
    s.grant_types = vec!["client_credentials".into()];
    s.description =
        Some("Created at first start; authorised for every Management API scope.".into());
    s
}
