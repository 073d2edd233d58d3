//! Applications: create, read, update, delete and secret rotation. (Authenticating a client
//! at the token endpoint is `oauth::client_auth`.)

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::client::ClientSettings;
use gatehouse_core::payload::{InvalidBody, Payload};
use gatehouse_crypto::random;
use gatehouse_store::StoredClient;

/// An application as the service hands it out: its settings, and its secret only when the
/// caller may read it. The Auth0 JSON is rendered at the HTTP edge.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub settings: ClientSettings,
    pub secret: Option<String>,
}

/// The dashboard's client id: fixed, so a restart on another address finds it again.
pub const DASHBOARD_CLIENT_ID: &str = "gatehouse-dashboard";
/// The hosted account page's client id (`crate::gdpr::account`), fixed like the dashboard's.
pub const ACCOUNT_CLIENT_ID: &str = "gatehouse-account";

fn purpose(client_id: &str) -> String {
    format!("client_secret:{client_id}")
}

fn not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_client",
        message: "The client does not exist".into(),
    }
}

/// Client ids are letters, digits, `-` and `_` (32 alphanumerics when generated).
pub(crate) fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A malformed client id in a path is a 400, as Auth0 validates path parameters.
fn check_id(id: &str) -> Result<()> {
    if plausible_id(id) {
        Ok(())
    } else {
        Err(ServiceError::InvalidUri(format!(
            "Path validation error: 'String does not match pattern ^[A-Za-z0-9_-]{{1,128}}$: {}' on property id.",
            id.chars().take(64).collect::<String>()
        )))
    }
}

impl Gatehouse {
    pub(crate) fn seal_secret(&self, client_id: &str, secret: &str) -> Result<Vec<u8>> {
        self.inner
            .secrets
            .seal(&purpose(client_id), secret.as_bytes())
            .map_err(ServiceError::internal)
    }

    pub(crate) fn open_secret(&self, c: &StoredClient) -> Result<Option<String>> {
        c.sealed_secret
            .as_ref()
            .map(|s| {
                self.inner
                    .secrets
                    .open(&purpose(&c.client_id), s)
                    .map_err(ServiceError::internal)
                    .and_then(|b| String::from_utf8(b).map_err(ServiceError::internal))
            })
            .transpose()
    }

    fn client_view(&self, c: StoredClient, show_secret: bool) -> Result<Client> {
        let secret = if show_secret {
            self.open_secret(&c)?
        } else {
            None
        };
        Ok(Client {
            client_id: c.client_id,
            settings: c.settings,
            secret,
        })
    }

    /// Creates a client; the answer carries the generated secret, as Auth0's does.
    pub async fn create_client(&self, settings: ClientSettings) -> Result<Client> {
        self.check_login_requirement(&settings.login_requires)
            .await?;
        let client = self.new_client(settings, None).await?;
        self.client_view(client, true)
    }

    /// Inserts a client with the given id and secret, or generated ones.
    pub(crate) async fn new_client(
        &self,
        settings: ClientSettings,
        credentials: Option<(&str, &str)>,
    ) -> Result<StoredClient> {
        let (client_id, secret) = match credentials {
            Some((id, secret)) => (id.to_string(), secret.to_string()),
            None => (
                random::alnum(32).map_err(ServiceError::internal)?,
                random::b64url(48).map_err(ServiceError::internal)?,
            ),
        };
        let sealed = self.seal_secret(&client_id, &secret)?;
        let client = StoredClient {
            client_id,
            settings,
            sealed_secret: Some(sealed),
        };
        self.inner
            .clients
            .insert(self.tenant(), &client, self.now())
            .await
            .map_err(|e| match e {
                gatehouse_store::StoreError::Conflict(_) => {
                    ServiceError::Conflict("A client with this client_id already exists".into())
                }
                other => other.into(),
            })?;
        self.inner.cors_origins.invalidate();
        if self
            .tenant_settings()
            .await?
            .flags
            .enable_client_connections
        {
            self.inner
                .connections
                .enable_client_everywhere(self.tenant(), &client.client_id, self.now())
                .await?;
        }
        Ok(client)
    }

    pub(crate) async fn stored_client(&self, client_id: &str) -> Result<StoredClient> {
        check_id(client_id)?;
        self.inner
            .clients
            .get(self.tenant(), client_id)
            .await?
            .ok_or_else(not_found)
    }

    /// Ok when the client is registered (public endpoints name their application).
    pub async fn client_exists(&self, client_id: &str) -> Result<()> {
        self.stored_client(client_id).await.map(|_| ())
    }

    pub async fn get_client(&self, client_id: &str, show_secret: bool) -> Result<Client> {
        let c = self.stored_client(client_id).await?;
        self.client_view(c, show_secret)
    }

    pub async fn list_clients(
        &self,
        page: i64,
        per_page: i64,
        show_secret: bool,
    ) -> Result<(Vec<Client>, i64)> {
        let (clients, total) = self
            .inner
            .clients
            .list(self.tenant(), page * per_page, per_page)
            .await?;
        let views = clients
            .into_iter()
            .map(|c| self.client_view(c, show_secret))
            .collect::<Result<Vec<_>>>()?;
        Ok((views, total))
    }

    /// PATCH: settings are replaced property by property; `client_secret` sets a new secret.
    pub async fn update_client(
        &self,
        client_id: &str,
        mut body: Payload,
        show_secret: bool,
    ) -> Result<Client> {
        let mut c = self.stored_client(client_id).await?;
        let new_secret = body.string("client_secret")?;
        if let Some(s) = &new_secret
            && s.len() < 32
        {
            return Err(InvalidBody::on_property(
                "String is too short, minimum 32",
                "client_secret",
            )
            .into());
        }
        if new_secret.is_none() || !body.is_empty() {
            c.settings.patch(body)?;
            self.check_login_requirement(&c.settings.login_requires)
                .await?;
        }
        if let Some(s) = new_secret {
            c.sealed_secret = Some(self.seal_secret(client_id, &s)?);
        }
        if !self
            .inner
            .clients
            .update(self.tenant(), &c, self.now())
            .await?
        {
            return Err(not_found());
        }
        self.inner.cors_origins.invalidate();
        self.client_view(c, show_secret)
    }

    /// Gives the client a new secret; the answer shows it only when `reveal_secret` (the
    /// caller may read client keys).
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        reveal_secret: bool,
    ) -> Result<Client> {
        let mut c = self.stored_client(client_id).await?;
        let secret = random::b64url(48).map_err(ServiceError::internal)?;
        c.sealed_secret = Some(self.seal_secret(client_id, &secret)?);
        if !self
            .inner
            .clients
            .update(self.tenant(), &c, self.now())
            .await?
        {
            return Err(not_found());
        }
        self.client_view(c, reveal_secret)
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        check_id(client_id)?;
        self.inner.clients.delete(self.tenant(), client_id).await?;
        self.inner.cors_origins.invalidate();
        Ok(())
    }

    /// Creates one of the server's own applications (the dashboard's, the account page's)
    /// if it is missing, and points its callback and logout URLs at this server's address,
    /// which may have changed since it was created. Public, code flow only, first party.
    pub(crate) async fn ensure_own_client(&self, own: OwnClient<'_>) -> Result<()> {
        let callbacks = vec![own.callback];
        let logout_urls: Vec<String> = own.logout_url.into_iter().collect();
        match self.inner.clients.get(self.tenant(), own.client_id).await? {
            Some(mut c) => {
                if c.settings.callbacks != callbacks
                    || c.settings.allowed_logout_urls != logout_urls
                {
                    c.settings.callbacks = callbacks;
                    c.settings.allowed_logout_urls = logout_urls;
                    self.inner
                        .clients
                        .update(self.tenant(), &c, self.now())
                        .await?;
                    self.inner.cors_origins.invalidate();
                }
            }
            None => {
                let mut s = ClientSettings::new(own.name.into());
                s.description = Some(own.description.into());
                s.app_type = Some("regular_web".into());
                s.is_first_party = true;
                s.callbacks = callbacks;
                s.allowed_logout_urls = logout_urls;
                s.grant_types = vec!["authorization_code".into()];
                s.token_endpoint_auth_method = "none".into();
                let client = StoredClient {
                    client_id: own.client_id.into(),
                    settings: s,
                    sealed_secret: None,
                };
                match self
                    .inner
                    .clients
                    .insert(self.tenant(), &client, self.now())
                    .await
                {
                    // Another node created it first.
                    Ok(()) | Err(gatehouse_store::StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

/// One of the server's own applications, as [`Gatehouse::ensure_own_client`] keeps it.
pub(crate) struct OwnClient<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub callback: String,
    pub logout_url: Option<String>,
}
