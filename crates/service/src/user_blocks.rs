//! Brute-force blocks as the Management API shows and lifts them (`/api/v2/user-blocks`).

use crate::Gatehouse;
use crate::error::Result;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;

/// A user held back from one address by the brute-force protection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBlock {
    /// The user's email, else username, else id.
    pub identifier: String,
    pub ip: String,
    pub connection: String,
}

impl Gatehouse {
    async fn blocks_of(&self, users: &[User]) -> Result<Vec<UserBlock>> {
        let mut blocked_for = vec![];
        for u in users {
            for ip in self
                .inner
                .login_failures
                .blocked_ips(self.tenant(), &u.user_id)
                .await?
            {
                let identifier = u
                    .email
                    .clone()
                    .or_else(|| u.username.clone())
                    .unwrap_or_else(|| u.user_id.clone());
                blocked_for.push(UserBlock {
                    identifier,
                    ip,
                    connection: u.connection.clone(),
                });
            }
        }
        Ok(blocked_for)
    }

    async fn unblock(&self, users: &[User]) -> Result<()> {
        for u in users {
            if self
                .inner
                .login_failures
                .clear_user(self.tenant(), &u.user_id)
                .await?
                > 0
            {
                self.record(LogEvent {
                    kind: codes::BLOCK_RELEASED.into(),
                    description: Some("Brute-force blocks lifted".into()),
                    user_id: Some(u.user_id.clone()),
                    connection: Some(u.connection.clone()),
                    ..Default::default()
                })
                .await;
            }
        }
        Ok(())
    }

    async fn users_by_identifier(&self, identifier: &str) -> Result<Vec<User>> {
        let found = self
            .inner
            .users
            .by_identifier(self.tenant(), identifier, None)
            .await?;
        Ok(found.into_iter().map(|v| v.user).collect())
    }

    pub async fn user_blocks(&self, user_id: &str) -> Result<Vec<UserBlock>> {
        let user = self.get_user(user_id).await?;
        self.blocks_of(&[user]).await
    }

    pub async fn unblock_user(&self, user_id: &str) -> Result<()> {
        let user = self.get_user(user_id).await?;
        self.unblock(&[user]).await
    }

    /// By email or username, across connections; unknown identifiers have no blocks.
    pub async fn user_blocks_by_identifier(&self, identifier: &str) -> Result<Vec<UserBlock>> {
        let users = self.users_by_identifier(identifier).await?;
        self.blocks_of(&users).await
    }

    pub async fn unblock_identifier(&self, identifier: &str) -> Result<()> {
        let users = self.users_by_identifier(identifier).await?;
        self.unblock(&users).await
    }
}
