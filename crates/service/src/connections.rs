//! Connections: database connections and their settings.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::payload::Payload;
use gatehouse_crypto::random;
use gatehouse_store::{StoreError, StoredConnection};

/// A connection as the service hands it out (its id and settings); the Auth0 JSON is rendered
/// at the HTTP edge.
pub use gatehouse_store::StoredConnection as Connection;

fn not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_connection",
        message: "The connection does not exist".into(),
    }
}

/// Connection ids are `con_` and alphanumerics; anything else is a malformed path (400),
/// not a missing connection.
fn check_id(id: &str) -> Result<()> {
    let ok = id.len() <= 64
        && id.strip_prefix("con_").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(())
    } else {
        Err(ServiceError::InvalidUri(format!(
            "Path validation error: 'String does not match pattern ^con_[A-Za-z0-9]+$: {}' on property id.",
            id.chars().take(64).collect::<String>()
        )))
    }
}

/// Whether an application may sign users in, up or back through this connection: it is in
/// the connection's `enabled_clients` (Auth0's rule; security review M5), or it is the
/// dashboard, which admits administrators whatever their connection, or the account page,
/// which admits every user.
pub(crate) fn connection_serves(conn: &StoredConnection, client_id: &str) -> bool {
    client_id == crate::clients::DASHBOARD_CLIENT_ID
        || client_id == crate::clients::ACCOUNT_CLIENT_ID
        || conn.settings.enabled_clients.iter().any(|c| c == client_id)
}

/// What an application that is not enabled on a connection is told.
pub(crate) const CONNECTION_NOT_ENABLED: &str = "the connection is not enabled for this client";

pub(crate) fn connection_not_enabled() -> ServiceError {
    ServiceError::NotAllowed {
        code: "invalid_request",
        message: CONNECTION_NOT_ENABLED.into(),
    }
}

/// The purpose a connection's secrets are sealed for: bound to the connection, so a sealed
/// secret copied into another connection's row does not open.
fn secret_purpose(connection_id: &str, option: &str) -> String {
    format!("connection-secret/{connection_id}/{option}")
}

/// Compiles every custom-database script when a connection is saved: a syntax error is a
/// 400 naming the script and its line.
fn check_scripts(settings: &ConnectionSettings) -> Result<()> {
    let Some(scripts) = settings
        .options
        .get("customScripts")
        .and_then(serde_json::Value::as_object)
    else {
        return Ok(());
    };
    for (name, source) in scripts {
        let Some(source) = source.as_str().filter(|s| !s.trim().is_empty()) else {
            continue;
        };
        if let Err(problem) = gatehouse_scripts::check_syntax(name, source) {
            return Err(gatehouse_core::payload::InvalidBody::on_property(
                format!(
                    "the {name} script does not compile{}: {}",
                    problem
                        .line
                        .map(|l| format!(" (line {l})"))
                        .unwrap_or_default(),
                    problem.message
                ),
                &format!("options.customScripts.{name}"),
            )
            .into());
        }
    }
    Ok(())
}

impl Gatehouse {
    /// Moves secret options (`client_secret`, Apple's `app_secret`) out of `options` into
    /// their sealed form. A secret left out of a PATCH's `options` keeps its sealed value
    /// (the API never shows it, so a caller cannot send it back); `null` removes it.
    fn seal_connection_secrets(
        &self,
        connection_id: &str,
        settings: &mut ConnectionSettings,
    ) -> Result<()> {
        for (option, secret) in settings.take_secrets() {
            match secret {
                Some(text) => {
                    let sealed = self
                        .inner
                        .secrets
                        .seal_text(&secret_purpose(connection_id, &option), &text)
                        .map_err(ServiceError::internal)?;
                    settings
                        .sealed_secrets
                        .insert(option, serde_json::Value::String(sealed));
                }
                None => {
                    settings.sealed_secrets.remove(&option);
                }
            }
        }
        Ok(())
    }

    /// A connection's secret option in clear, for talking to its provider.
    pub(crate) fn connection_secret(
        &self,
        c: &StoredConnection,
        option: &str,
    ) -> Result<Option<String>> {
        let Some(sealed) = c
            .settings
            .sealed_secrets
            .get(option)
            .and_then(|v| v.as_str())
        else {
            return Ok(None);
        };
        self.inner
            .secrets
            .open_text(&secret_purpose(&c.id, option), sealed)
            .map(Some)
            .map_err(ServiceError::internal)
    }

    pub async fn create_connection(&self, settings: ConnectionSettings) -> Result<Connection> {
        self.insert_connection(settings).await
    }

    pub(crate) async fn insert_connection(
        &self,
        mut settings: ConnectionSettings,
    ) -> Result<StoredConnection> {
        let id = format!("con_{}", random::alnum(16).map_err(ServiceError::internal)?);
        check_scripts(&settings)?;
        self.settle_saml(&mut settings).await?;
        self.seal_connection_secrets(&id, &mut settings)?;
        self.seal_configuration(&id, &mut settings.options)?;
        let c = StoredConnection { id, settings };
        self.inner
            .connections
            .insert(self.tenant(), &c, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ServiceError::Conflict("A connection with the same name already exists".into())
                }
                other => other.into(),
            })?;
        Ok(c)
    }

    pub(crate) async fn stored_connection(&self, id: &str) -> Result<StoredConnection> {
        check_id(id)?;
        self.inner
            .connections
            .get(self.tenant(), id)
            .await?
            .ok_or_else(not_found)
    }

    pub(crate) async fn connection_by_name(&self, name: &str) -> Result<Option<StoredConnection>> {
        Ok(self
            .inner
            .connections
            .get_by_name(self.tenant(), name)
            .await?)
    }

    /// A connection's id from its name (the CLI names connections as operators do).
    pub async fn connection_id_by_name(&self, name: &str) -> Result<Option<String>> {
        Ok(self.connection_by_name(name).await?.map(|c| c.id))
    }

    pub async fn get_connection(&self, id: &str) -> Result<Connection> {
        self.stored_connection(id).await
    }

    pub async fn list_connections(
        &self,
        strategy: Option<&str>,
        name: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Connection>, i64)> {
        if let Some(name) = name {
            let found: Vec<Connection> = self
                .connection_by_name(name)
                .await?
                .filter(|c| strategy.is_none_or(|s| c.settings.strategy == s))
                .into_iter()
                .collect();
            let total = found.len() as i64;
            return Ok((found, total));
        }
        let (list, total) = self
            .inner
            .connections
            .list(self.tenant(), strategy, page * per_page, per_page)
            .await?;
        Ok((list, total))
    }

    /// Checkpoint paging: up to `take` connections whose id sorts after `from`, in id order,
    /// and the id to continue from when more follow.
    pub async fn connections_after(
        &self,
        strategy: Option<&str>,
        name: Option<&str>,
        from: Option<&str>,
        take: i64,
    ) -> Result<(Vec<Connection>, Option<String>)> {
        // A tenant has tens of connections, not thousands: one read, ordered here.
        let (mut all, _) = self
            .inner
            .connections
            .list(self.tenant(), strategy, 0, i64::MAX)
            .await?;
        all.retain(|c| name.is_none_or(|n| c.settings.name == n));
        all.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<_> = all
            .into_iter()
            .filter(|c| from.is_none_or(|f| c.id.as_str() > f))
            .collect();
        let take = take.max(1) as usize;
        let next = (rest.len() > take).then(|| rest[take - 1].id.clone());
        Ok((rest.into_iter().take(take).collect(), next))
    }

    pub async fn update_connection(&self, id: &str, body: Payload) -> Result<Connection> {
        let mut c = self.stored_connection(id).await?;
        c.settings.patch(body)?;
        check_scripts(&c.settings)?;
        self.settle_saml(&mut c.settings).await?;
        self.seal_connection_secrets(&c.id, &mut c.settings)?;
        self.seal_configuration(&c.id, &mut c.settings.options)?;
        if !self
            .inner
            .connections
            .update(self.tenant(), &c, self.now())
            .await?
        {
            return Err(not_found());
        }
        Ok(c)
    }

    /// Removes the users of a database connection's own store with this email; scripts do
    /// not run (a custom database still holds the user, who moves again at the next login).
    pub async fn delete_connection_user(&self, id: &str, email: &str) -> Result<()> {
        if email.trim().is_empty() {
            return Err(ServiceError::InvalidQuery(
                "Query validation error: 'Missing required property: email' on property email."
                    .into(),
            ));
        }
        let c = self.stored_connection(id).await?;
        if c.settings.strategy != gatehouse_core::connection::DATABASE_STRATEGY {
            return Err(ServiceError::InvalidQuery(
                "Connection must be a database connection".into(),
            ));
        }
        let email = email.trim().to_lowercase();
        let found = self
            .inner
            .users
            .by_identifier(self.tenant(), &email, Some(&c.id))
            .await?;
        for v in found
            .into_iter()
            .filter(|v| v.user.email.as_deref() == Some(email.as_str()))
        {
            if self
                .inner
                .users
                .delete(self.tenant(), &v.user.user_id)
                .await?
            {
                self.record(gatehouse_core::log_event::LogEvent {
                    kind: gatehouse_core::log_event::codes::SUCCESS_USER_DELETION.into(),
                    description: Some(format!(
                        "User deleted from the connection {} by email",
                        c.settings.name
                    )),
                    user_id: Some(v.user.user_id.clone()),
                    connection: Some(c.settings.name.clone()),
                    ..Default::default()
                })
                .await;
            }
        }
        Ok(())
    }

    /// Deletes the connection and its users (Auth0 does the same, asynchronously).
    pub async fn delete_connection(&self, id: &str) -> Result<()> {
        check_id(id)?;
        if !self.inner.connections.delete(self.tenant(), id).await? {
            return Err(not_found());
        }
        Ok(())
    }
}
