//! The one housekeeping sweep, run at start and every 10 minutes: ended sessions, old codes
//! and refresh tokens, jobs a day after they ended (and uploads abandoned for an hour), sent
//! emails, brute-force counters and log events past the retention period.

use crate::Gatehouse;
use crate::error::Result;

impl Gatehouse {
    /// Housekeeping, the one sweeper: deletes ended sessions, old codes and refresh tokens,
    /// jobs a day after they ended (and uploads abandoned for an hour), and log events past
    /// the retention period. Returns the number of rows removed.
    pub async fn sweep(&self) -> Result<u64> {
        let now = self.now();
        let mut n = self.inner.sessions.sweep(now).await?;
        n += self
            .inner
            .jobs
            .sweep(now - crate::jobs::JOB_RETENTION_MS, now - 3_600_000)
            .await?;
        n += self.inner.outbox.sweep(now).await?;
        n += self.inner.login_failures.sweep(now, 86_400_000).await?;
        let retention = self.config().log_retention_ms;
        if retention > 0 {
            n += self.inner.logs.delete_before(now - retention).await?;
        }
        Ok(n)
    }
}
