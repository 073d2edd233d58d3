//! The email outbox and used tickets. Messages are leased to one sender at a time by moving
//! `next_attempt_at` forward, so several nodes can drain the same outbox without sending a
//! message twice while its lease holds.

use crate::{Db, StoreError, on_pool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: String,
    pub template: String,
    pub recipient: String,
    /// The template's own `from`, else the server's sender.
    pub sender: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: i64,
    pub attempts: i32,
}

/// Inserts outbox rows on a transaction or connection; used inside other stores' writes so
/// the message commits with the change that causes it.
macro_rules! insert_outbox {
    ($conn:expr, $tenant:expr, $messages:expr) => {
        for m in $messages {
            sqlx::query(
                "INSERT INTO outbox (id, tenant_id, template, recipient, subject, text_body, html_body, created_at, next_attempt_at, sender)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
            )
            .bind(&m.id)
            .bind($tenant)
            .bind(&m.template)
            .bind(&m.recipient)
            .bind(&m.subject)
            .bind(&m.text_body)
            .bind(&m.html_body)
            .bind(m.created_at)
            .bind(&m.sender)
            .execute(&mut *$conn)
            .await?;
        }
    };
}
pub(crate) use insert_outbox;

#[derive(Clone, Debug)]
pub struct OutboxStore {
    db: Db,
}

impl OutboxStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn enqueue(
        &self,
        tenant: &str,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            insert_outbox!(tx, tenant, messages);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Leases up to `limit` due messages for `lease_ms`; a crashed sender's lease runs out
    /// and another sender picks the message up.
    pub async fn claim_due(
        &self,
        now: i64,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, OutboxMessage>(
                "UPDATE outbox SET next_attempt_at = $2 + $3
                 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $1)
                   AND sent_at IS NULL AND next_attempt_at <= $2
                 RETURNING id, template, recipient, sender, subject, text_body, html_body, created_at, attempts",
            )
            .bind(limit)
            .bind(now)
            .bind(lease_ms)
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn mark_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn mark_failed(
        &self,
        id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1")
                .bind(id)
                .bind(retry_at)
                .bind(error)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Marks a ticket used; false when it already was.
    pub async fn use_ticket(
        &self,
        tenant: &str,
        ticket_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "INSERT INTO used_tickets (tenant_id, ticket_id, used_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(tenant)
            .bind(ticket_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Housekeeping: sent messages after a week, used tickets once expired.
    pub async fn sweep(&self, now: i64) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let a = sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
                .bind(now - 7 * 86_400_000)
                .execute(pool)
                .await?
                .rows_affected();
            let b = sqlx::query("DELETE FROM used_tickets WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(a + b)
        })
    }
}

/// A passwordless code as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PasswordlessCode {
    pub code_hash: String,
    pub expires_at: i64,
    pub attempts: i32,
    pub window_start: i64,
    pub sends: i32,
}

#[derive(Clone, Debug)]
pub struct PasswordlessStore {
    db: Db,
}

impl PasswordlessStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn get(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
    ) -> Result<Option<PasswordlessCode>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, PasswordlessCode>(
                "SELECT code_hash, expires_at, attempts, window_start, sends FROM passwordless_codes
                 WHERE tenant_id = $1 AND connection_id = $2 AND email = $3",
            )
            .bind(tenant)
            .bind(connection_id)
            .bind(email)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Replaces the live code (wrong guesses reset), keeping the send counter of the window.
    #[allow(clippy::too_many_arguments)]
    pub async fn put(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
        code_hash: &str,
        expires_at: i64,
        window_start: i64,
        sends: i32,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO passwordless_codes (tenant_id, connection_id, email, code_hash, expires_at, attempts, window_start, sends)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7)
                 ON CONFLICT (tenant_id, connection_id, email) DO UPDATE SET code_hash = excluded.code_hash,
                   expires_at = excluded.expires_at, attempts = 0, window_start = excluded.window_start, sends = excluded.sends",
            )
            .bind(tenant)
            .bind(connection_id)
            .bind(email)
            .bind(code_hash)
            .bind(expires_at)
            .bind(window_start)
            .bind(sends)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn count_attempt(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE passwordless_codes SET attempts = attempts + 1 WHERE tenant_id = $1 AND connection_id = $2 AND email = $3")
                .bind(tenant)
                .bind(connection_id)
                .bind(email)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Uses up the code: true when this call removed it (single use under concurrency).
    pub async fn consume(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE passwordless_codes SET code_hash = '', expires_at = 0 WHERE tenant_id = $1 AND connection_id = $2 AND email = $3 AND code_hash = $4")
                .bind(tenant)
                .bind(connection_id)
                .bind(email)
                .bind(code_hash)
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
