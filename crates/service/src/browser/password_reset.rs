//! "Forgot password?" on the hosted login page (Universal Login's reset request): the
//! request screen of a login transaction, its submit, and the way back to the
//! application's login once the new password is set.
//!
//! The submit sends the reset email through the path `/dbconnections/change_password`
//! takes (`crate::account`), on the transaction's database connection only, and answers the
//! same "check your email" whether or not the address has an account. The emailed ticket
//! carries the `/authorize` request, so the page that confirms the new password links to a
//! fresh login for the same application, callback, `state` and PKCE challenge, as Universal
//! Login's "Back to <application>" does.

use super::{Branding, Step, Transaction, error_page, expired, expired_or_failed};
use crate::Gatehouse;
use crate::browser::Browser;
use crate::error::ServiceError;
use gatehouse_core::authorize::AuthorizeRequest;
use gatehouse_core::redirect;

/// The reset request page: its form, or (`sent`) the "check your email" answer.
#[derive(Debug, Clone)]
pub struct ResetRequestScreen {
    /// The login transaction, for the form and the way back to the login page.
    pub transaction: String,
    pub client_name: String,
    pub branding: Branding,
    /// The request was taken; the same whether or not the address has an account.
    pub sent: bool,
    pub error: Option<String>,
}

/// Longest address the form takes (RFC 5321's path limit).
const EMAIL_MAX: usize = 254;

impl Gatehouse {
    /// `GET /u/reset-password?state=`: the form of a live login transaction.
    pub async fn reset_request_screen(
        &self,
        transaction: &str,
    ) -> Result<ResetRequestScreen, Step> {
        let tx = self.open_transaction(transaction).ok_or_else(expired)?;
        self.reset_request(transaction, &tx, false, None).await
    }

    /// `POST /u/reset-password`: emails a reset link when the address has an account on the
    /// transaction's database connection; the answer is the same either way.
    pub async fn submit_reset_request(
        &self,
        transaction: &str,
        email: &str,
        browser: &Browser,
    ) -> Result<ResetRequestScreen, Step> {
        let tx = self.open_transaction(transaction).ok_or_else(expired)?;
        let email = email.trim();
        if email.is_empty() || email.len() > EMAIL_MAX || !email.contains('@') {
            let error = Some("Enter the email address of your account.".to_string());
            return self.reset_request(transaction, &tx, false, error).await;
        }
        // An application logging in elsewhere (an upstream connection) has no password here:
        // nothing to send, and the answer does not say so.
        if let Some(connection) = self.login_connection(&tx.req).await? {
            let sent = self
                .send_password_reset(
                    Some(&tx.req.client_id),
                    email,
                    &connection.settings.name,
                    browser,
                    Some(&tx.req),
                )
                .await;
            match sent {
                Ok(()) => {}
                // The application may not use the connection: a setting to fix, not a secret.
                Err(ServiceError::NotAllowed { message, .. }) => {
                    return Err(error_page(400, message));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.reset_request(transaction, &tx, true, None).await
    }

    async fn reset_request(
        &self,
        transaction: &str,
        tx: &Transaction,
        sent: bool,
        error: Option<String>,
    ) -> Result<ResetRequestScreen, Step> {
        let client_name = match self.stored_client(&tx.req.client_id).await {
            Ok(c) => c.settings.name,
            Err(e) => return Err(expired_or_failed(e)),
        };
        Ok(ResetRequestScreen {
            transaction: transaction.to_string(),
            client_name,
            branding: self.branding().await?,
            sent,
            error,
        })
    }

    /// After a password set with a ticket asked for on the login page: the login page of a
    /// fresh transaction for the same `/authorize` request (the emailed link outlives the
    /// first one). `None` when the application or its callback is gone since, or nothing
    /// could be sealed: the user is told the password changed, without the way back.
    pub(crate) async fn login_again(&self, req: &AuthorizeRequest) -> Option<String> {
        let client = self.stored_client(&req.client_id).await.ok()?;
        if !redirect::is_registered_callback(&req.redirect_uri, &client.settings.callbacks) {
            return None;
        }
        let tx = Transaction {
            req: AuthorizeRequest {
                signup_first: false,
                ..req.clone()
            },
            created_at: self.now(),
            authenticated_sid: None,
            consented: false,
            login_claims: Default::default(),
        };
        let sealed = self.seal(&tx).ok()?;
        Some(format!("/u/login?state={sealed}"))
    }
}
