//! Home-realm discovery, as Auth0's identifier-first login does it: an email whose domain
//! is in the `domain_aliases` of a SAML or upstream connection the application may use logs
//! in at that connection's identity provider, never with a password here. When the
//! application has such a connection, the login page asks for the email first and shows the
//! password field only for other addresses.

use super::{Browser, Outcome, Step, Transaction};
use crate::Gatehouse;
use crate::connections::connection_serves;
use crate::error::ServiceError;
use gatehouse_store::StoredConnection;
use serde_json::Value;

/// Connections whose users log in elsewhere and may claim email domains.
fn redirects_elsewhere(c: &StoredConnection) -> bool {
    c.settings.is_saml() || c.settings.is_upstream()
}

fn domain_aliases(c: &StoredConnection) -> impl Iterator<Item = &str> {
    c.settings
        .options
        .get("domain_aliases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

impl Gatehouse {
    async fn realm_connections(
        &self,
        client_id: &str,
    ) -> Result<Vec<StoredConnection>, ServiceError> {
        let (all, _) = self
            .inner
            .connections
            .list(self.tenant(), None, 0, i64::MAX)
            .await?;
        Ok(all
            .into_iter()
            .filter(|c| redirects_elsewhere(c) && connection_serves(c, client_id))
            .filter(|c| domain_aliases(c).next().is_some())
            .collect())
    }

    /// Whether the login page asks for the email first (the application has a connection
    /// that claims email domains).
    pub(super) async fn has_home_realms(&self, client_id: &str) -> Result<bool, ServiceError> {
        Ok(!self.realm_connections(client_id).await?.is_empty())
    }

    /// Sends a login form's email to its home realm's identity provider, when it has one
    /// (a connection whose `domain_aliases` hold the email's domain, case-insensitive).
    /// Otherwise the transaction comes back for the password login, with whether the page
    /// asked for the email first (the application has such connections at all).
    pub(super) async fn to_home_realm(
        &self,
        tx: Transaction,
        username: &str,
        browser: &Browser,
    ) -> Result<Outcome, (Transaction, bool)> {
        let realms = match self.realm_connections(&tx.req.client_id).await {
            Ok(r) => r,
            Err(e) => return Ok(Step::from(e).into()),
        };
        let domain = username
            .trim()
            .rsplit_once('@')
            .map(|(_, d)| d)
            .filter(|d| !d.is_empty());
        let home = domain.and_then(|domain| {
            realms
                .iter()
                .find(|c| domain_aliases(c).any(|a| a.eq_ignore_ascii_case(domain)))
        });
        match home {
            Some(c) if c.settings.is_saml() => Ok(self.to_saml_idp(tx, c).await.into()),
            Some(c) => Ok(self.to_provider(tx, c, browser).await.into()),
            None => Err((tx, !realms.is_empty())),
        }
    }
}
