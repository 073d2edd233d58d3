//! Email delivery. Messages wait in the database outbox (written with the change that
//! causes them); [`Mailer::run`] leases due messages, sends them over SMTP and records the
//! outcome, retrying failures with exponential backoff. Without SMTP configured it writes
//! each message to the server log instead (development mode).

use gatehouse_store::{OutboxMessage, OutboxStore};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long a sender holds a message before another may retry it.
const LEASE_MS: i64 = 60_000;
/// Messages leased per round.
const BATCH: i64 = 20;
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
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    poll: Duration,
}

impl Mailer {
    /// `smtp_url` is lettre's URL form: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS from the start), `smtp://127.0.0.1:2525` (plain, local relays).
    pub fn new(
        outbox: OutboxStore,
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
            transport,
            from,
            poll,
        })
    }

    pub fn delivers(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends due messages until the future is dropped.
    pub async fn run(self) {
        loop {
            match self.drain().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: could not read due messages"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// One round: leases and sends due messages; returns how many were leased.
    pub async fn drain(&self) -> Result<usize, gatehouse_store::StoreError> {
        let now = now_millis();
        let due = self.outbox.claim_due(now, BATCH, LEASE_MS).await?;
        for m in &due {
            match self.send(m).await {
                Ok(()) => self.outbox.mark_sent(&m.id, now_millis()).await?,
                Err(e) => {
                    let retry = now_millis() + backoff_ms(m.attempts);
                    tracing::warn!(message_id = %m.id, attempts = m.attempts + 1, error = %e, "outbox: delivery failed; will retry");
                    self.outbox.mark_failed(&m.id, retry, &e).await?;
                }
            }
        }
        Ok(due.len())
    }

    async fn send(&self, m: &OutboxMessage) -> Result<(), String> {
        let Some(transport) = &self.transport else {
            // Development mode: the message, with its link, goes to the log.
            tracing::info!(
                to = %m.recipient,
                template = %m.template,
                subject = %m.subject,
                body = %m.text_body,
                "email (no GATEHOUSE_SMTP_URL: logged, not sent)"
            );
            return Ok(());
        };
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?;
        let from = match m.sender.as_deref().map(str::parse::<Mailbox>) {
            Some(Ok(f)) => f,
            _ => self.from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone())
            // One id per outbox row, so a receiver can drop a duplicate if a crash between
            // sending and recording ever makes us send twice.
            .message_id(Some(format!("<{}@gatehouse>", m.id)))
            .multipart(MultiPart::alternative_plain_html(
                m.text_body.clone(),
                m.html_body.clone(),
            ))
            .map_err(|e| format!("could not build the message: {e}"))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
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
