//! Email delivery. Messages wait in the database outbox (written with the change that
//! causes them, bodies sealed); [`Mailer::run`] leases due messages one at a time, sends them
//! over SMTP and records the outcome, retrying failures with exponential backoff. A lease is
//! short and renewed while its message is being sent, so a node that dies holds back one
//! message for a few seconds, not a batch for a minute. Without SMTP configured it writes
//! each message to the server log instead (development mode).

use gatehouse_crypto::secretbox::SecretBox;
use gatehouse_store::{BODY_PURPOSE, OutboxMessage, OutboxStore};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// How long a sender holds a message without renewing; another node sends it after that.
pub const DEFAULT_LEASE_MS: i64 = 3_000;
/// Messages sent per round before the queue is looked at again.
const BATCH: usize = 50;
/// Longest wait between two attempts at one message.
const MAX_BACKOFF_MS: i64 = 300_000;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("GATEHOUSE_SMTP_URL is not a valid SMTP URL: {0}")]
    Url(String),
    #[error("GATEHOUSE_SMTP_FROM is not a valid mailbox: {0}")]
    From(String),
}

/// The delay before retry number `attempts` (1, 2, 4 … seconds, at most five minutes).
pub fn backoff_ms(attempts: i32) -> i64 {
    1000_i64
        .saturating_mul(1_i64 << attempts.clamp(0, 20))
        .min(MAX_BACKOFF_MS)
}

pub struct Mailer {
    outbox: OutboxStore,
    secrets: Arc<SecretBox>,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    poll: Duration,
    lease_ms: i64,
    /// Counts messages handled (sent, failed, given up), for whoever waits on the outbox.
    progress: Option<tokio::sync::watch::Sender<u64>>,
}

/// Why a message was not sent.
enum SendError {
    /// Try again later (the server refused for now, the network failed).
    Retry(String),
    /// It can never be sent as it is (a recipient that is not an address, a body the key
    /// cannot open).
    Never(String),
}

impl Mailer {
    /// `smtp_url` is lettre's URL form: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS from the start), `smtp://127.0.0.1:2525` (plain, local relays).
    pub fn new(
        outbox: OutboxStore,
        secrets: Arc<SecretBox>,
        smtp_url: Option<&str>,
        from: &str,
        poll: Duration,
    ) -> Result<Self, MailError> {
        let transport = match smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The URL may hold a password: say what is wrong without echoing it.
                    .map_err(|e| MailError::Url(e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => None,
        };
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailError::From(e.to_string()))?;
        Ok(Self {
            outbox,
            secrets,
            transport,
            from,
            poll,
            lease_ms: DEFAULT_LEASE_MS,
            progress: None,
        })
    }

    /// How long a message is leased before another sender may take it (renewed while sent).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease_ms = (lease.as_millis() as i64).max(1_000);
        self
    }

    /// Announces each handled message on `progress` (tests await it instead of polling).
    pub fn with_progress(mut self, progress: tokio::sync::watch::Sender<u64>) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn delivers(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends due messages until the future is dropped.
    pub async fn run(self) {
        loop {
            match self.drain().await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: could not read due messages"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// One round: sends due messages one by one (at most a batch); returns how many.
    pub async fn drain(&self) -> Result<usize, gatehouse_store::StoreError> {
        let mut sent = 0;
        while sent < BATCH {
            let Some(m) = self.outbox.claim_next(now_millis(), self.lease_ms).await? else {
                break;
            };
            sent += 1;
            match self.send_leased(&m).await {
                Ok(()) => {
                    tracing::info!(message_id = %m.id, template = %m.template, attempts = m.attempts + 1, "outbox: sent");
                    self.outbox.mark_sent(&m.id, now_millis()).await?;
                }
                Err(SendError::Retry(e)) => {
                    let retry = now_millis() + backoff_ms(m.attempts);
                    tracing::warn!(message_id = %m.id, template = %m.template, attempts = m.attempts + 1, error = %e, "outbox: delivery failed; will retry");
                    self.outbox.mark_failed(&m.id, retry, &e).await?;
                }
                Err(SendError::Never(e)) => {
                    tracing::warn!(message_id = %m.id, template = %m.template, error = %e, "outbox: message given up");
                    self.outbox.give_up(&m.id, now_millis(), &e).await?;
                }
            }
            if let Some(p) = &self.progress {
                p.send_modify(|n| *n += 1);
            }
        }
        Ok(sent)
    }

    /// Sends a leased message, renewing the lease while the SMTP exchange lasts.
    async fn send_leased(&self, m: &OutboxMessage) -> Result<(), SendError> {
        let renew_every = Duration::from_millis((self.lease_ms / 3).max(300) as u64);
        let send = self.send(m);
        tokio::pin!(send);
        loop {
            tokio::select! {
                result = &mut send => return result,
                _ = tokio::time::sleep(renew_every) => {
                    if let Err(e) = self.outbox.renew(&m.id, now_millis() + self.lease_ms).await {
                        tracing::warn!(message_id = %m.id, error = %e, "outbox: could not renew a lease");
                    }
                }
            }
        }
    }

    fn body(&self, m: &OutboxMessage, body: &str) -> Result<String, SendError> {
        if !m.sealed {
            return Ok(body.to_string());
        }
        self.secrets
            .open_text(BODY_PURPOSE, body)
            .map_err(|e| SendError::Never(format!("the body could not be opened: {e}")))
    }

    async fn send(&self, m: &OutboxMessage) -> Result<(), SendError> {
        let text = self.body(m, &m.text_body)?;
        let Some(transport) = &self.transport else {
            // Development mode: the message, with its link, goes to the log.
            tracing::info!(
                to = %m.recipient,
                template = %m.template,
                subject = %m.subject,
                body = %text,
                "email (no GATEHOUSE_SMTP_URL: logged, not sent)"
            );
            return Ok(());
        };
        // The stored address is the recipient, never a mailbox parsed from it: a display
        // name could point the message elsewhere (security review L1).
        let to = m
            .recipient
            .parse::<Address>()
            .map(|a| Mailbox::new(None, a))
            .map_err(|e| SendError::Never(format!("bad recipient: {e}")))?;
        let from = match m.sender.as_deref().map(str::parse::<Mailbox>) {
            Some(Ok(f)) => f,
            _ => self.from.clone(),
        };
        let html = self.body(m, &m.html_body)?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone())
            // One id per outbox row, so a receiver can drop a duplicate if a crash between
            // sending and recording ever makes us send twice.
            .message_id(Some(format!("<{}@gatehouse>", m.id)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| SendError::Never(format!("could not build the message: {e}")))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            // Even a permanent SMTP answer may be the relay's configuration (a refused login),
            // not the message: keep retrying with backoff rather than drop mail.
            .map_err(|e| SendError::Retry(e.to_string()))
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(super::backoff_ms(0), 1000);
        assert_eq!(super::backoff_ms(3), 8000);
        assert_eq!(super::backoff_ms(40), 300_000);
    }
}
