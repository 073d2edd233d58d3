//! Who is asking at the token endpoint: a confidential client by its secret (compared in
//! constant time), a public client by its id alone, and whether it may use the grant.

use super::{OAuthError, TokenRequest};
use crate::Gatehouse;
use crate::clients::plausible_id;
use gatehouse_store::StoredClient;
use std::sync::Arc;

impl Gatehouse {
    /// The client of a grant made for a user (password, refresh token, authorization code):
    /// `client_id` present, confidential clients authenticated by their secret (public ones,
    /// `token_endpoint_auth_method: none`, have none to present), and `grant` allowed.
    pub(crate) async fn client_for_user_grant(
        &self,
        req: &TokenRequest,
        grant: &str,
    ) -> Result<Arc<StoredClient>, OAuthError> {
        let client_id = req
            .client_id
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
        let unauthorized = || OAuthError::new(401, "access_denied", "Unauthorized");
        let client = match req.client_secret.as_deref() {
            Some(secret) => self.authenticate_client(client_id, secret).await?,
            None => {
                if !plausible_id(client_id) {
                    return Err(unauthorized());
                }
                let c = self
                    .cached_client(client_id)
                    .await?
                    .ok_or_else(unauthorized)?;
                if c.settings.token_endpoint_auth_method != "none" {
                    return Err(unauthorized());
                }
                c
            }
        };
        if !client.settings.allows_grant(grant) {
            return Err(OAuthError::new(
                403,
                "unauthorized_client",
                format!("Grant type '{grant}' not allowed for the client."),
            ));
        }
        Ok(client)
    }

    /// Checks a client's secret in constant time. Unknown clients and wrong secrets give the
    /// same answer, so callers cannot probe for client ids.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Arc<StoredClient>, OAuthError> {
        let unauthorized = || OAuthError::new(401, "access_denied", "Unauthorized");
        if !plausible_id(client_id) {
            return Err(unauthorized());
        }
        let client = self
            .cached_client(client_id)
            .await?
            .ok_or_else(unauthorized)?;
        let expected = self
            .open_secret(&client)
            .map_err(OAuthError::failed)?
            .ok_or_else(unauthorized)?;
        if gatehouse_crypto::ct_eq(expected.as_bytes(), secret.as_bytes()) {
            Ok(client)
        } else {
            Err(unauthorized())
        }
    }
}
