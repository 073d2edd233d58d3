//! The email outbox and used tickets. Messages are leased to one sender at a time by moving
//! `next_attempt_at` forward, so several nodes can drain the same outbox without sending a
//! message twice while its lease holds.

use crate::{BeginWrite, Db, StoreError, on_pool};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: String,
    pub template: String,
    pub recipient: String,
    /// The template's own `from`, else the server's sender.
    pub sender: Option<String>,
    pub subject: String,
    /// With `sealed`, the bodies are sealed with the server's key (purpose
    /// [`BODY_PURPOSE`]): links and codes are never in the database in clear.
    pub text_body: String,
    pub html_body: String,
    pub sealed: bool,
    pub created_at: i64,
    pub attempts: i32,
}

/// The sealing purpose of outbox bodies.
pub const BODY_PURPOSE: &str = "outbox-body";

/// Inserts outbox rows on a transaction or connection; used inside other stores' writes so
/// the message commits with the change that causes it.
macro_rules! insert_outbox {
    ($conn:expr, $tenant:expr, $messages:expr) => {
        for m in $messages {
            sqlx::query(
                "INSERT INTO outbox (id, tenant_id, template, recipient, subject, text_body, html_body, created_at, next_attempt_at, sender, sealed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)",
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
            .bind(m.sealed)
            .execute(&mut *$conn)
            .await?;
        }
    };
}
pub(crate) use insert_outbox;

/// The outbox's unsent messages: due now, waiting for a retry (or leased to a sender), and
/// the age of the oldest.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutboxBacklog {
    pub due: i64,
    pub waiting: i64,
    pub oldest_age_ms: i64,
}

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
            let mut tx = pool.begin_write().await?;
            insert_outbox!(tx, tenant, messages);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Leases the next due message for `lease_ms`: one at a time, so a sender that dies holds
    /// at most one message back, and only until its short lease runs out.
    pub async fn claim_next(
        &self,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, OutboxMessage>(
                "UPDATE outbox SET next_attempt_at = $1 + $2
                 WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $1
                             ORDER BY next_attempt_at LIMIT 1)
                   AND sent_at IS NULL AND next_attempt_at <= $1
                 RETURNING id, template, recipient, sender, subject, text_body, html_body, sealed, created_at, attempts",
            )
            .bind(now)
            .bind(lease_ms)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Messages not yet sent nor given up (every tenant's), for `/metrics`.
    pub async fn backlog(&self, now: i64) -> Result<OutboxBacklog, StoreError> {
        on_pool!(&self.db, pool => {
            let (due, all, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT), COUNT(*), MIN(created_at)
                 FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            Ok(OutboxBacklog {
                due,
                waiting: all - due,
                oldest_age_ms: oldest.map_or(0, |t| (now - t).max(0)),
            })
        })
    }

    /// Extends the lease of a message still being sent.
    pub async fn renew(&self, id: &str, until: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE outbox SET next_attempt_at = $2 WHERE id = $1 AND sent_at IS NULL")
                .bind(id)
                .bind(until)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Records delivery; the bodies are blanked at once (only metadata stays, for a week).
    pub async fn mark_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL, text_body = '', html_body = '' WHERE id = $1")
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

    /// Gives a message up for good (it can never be delivered, e.g. its recipient is not an
    /// address); its bodies are blanked.
    pub async fn give_up(&self, id: &str, now: i64, error: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE outbox SET given_up_at = $2, attempts = attempts + 1, last_error = $3, text_body = '', html_body = '' WHERE id = $1")
                .bind(id)
                .bind(now)
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
            let a = sqlx::query("DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) OR (given_up_at IS NOT NULL AND given_up_at < $1)")
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

    /// Counts a send for the address in one statement (a new window once `window_ms` has
    /// passed since the window began) and says whether it is within `max_sends`: concurrent
    /// requests cannot all read a low count (security review H3).
    pub async fn reserve_send(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
        now: i64,
        window_ms: i64,
        max_sends: i32,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let sends: i32 = sqlx::query_scalar(
                "INSERT INTO passwordless_codes (tenant_id, connection_id, email, code_hash, expires_at, attempts, window_start, sends)
                 VALUES ($1, $2, $3, '', 0, 0, $4, 1)
                 ON CONFLICT (tenant_id, connection_id, email) DO UPDATE SET
                   sends = CASE WHEN passwordless_codes.window_start <= $5 THEN 1 ELSE passwordless_codes.sends + 1 END,
                   window_start = CASE WHEN passwordless_codes.window_start <= $5 THEN $4 ELSE passwordless_codes.window_start END
                 RETURNING sends",
            )
            .bind(tenant)
            .bind(connection_id)
            .bind(email)
            .bind(now)
            .bind(now - window_ms)
            .fetch_one(pool)
            .await?;
            Ok(sends <= max_sends)
        })
    }

    /// Makes `code_hash` the address's live code, with a fresh guess budget.
    pub async fn set_code(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE passwordless_codes SET code_hash = $4, expires_at = $5, attempts = 0
                 WHERE tenant_id = $1 AND connection_id = $2 AND email = $3",
            )
            .bind(tenant)
            .bind(connection_id)
            .bind(email)
            .bind(code_hash)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Takes one guess at the live code: counts it and returns the code's hash to compare
    /// with, or None when there is no live code or its `max_guesses` are used up. Count and
    /// check are one statement, so concurrent guesses get exactly `max_guesses` comparisons
    /// (security review H3).
    pub async fn reserve_guess(
        &self,
        tenant: &str,
        connection_id: &str,
        email: &str,
        now: i64,
        max_guesses: i32,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar(
                "UPDATE passwordless_codes SET attempts = attempts + 1
                 WHERE tenant_id = $1 AND connection_id = $2 AND email = $3
                   AND code_hash <> '' AND expires_at > $4 AND attempts < $5
                 RETURNING code_hash",
            )
            .bind(tenant)
            .bind(connection_id)
            .bind(email)
            .bind(now)
            .bind(max_guesses)
            .fetch_optional(pool)
            .await?)
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
