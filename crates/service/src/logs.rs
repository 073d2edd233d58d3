//! Tenant logs: recording events (best effort) and reading them back.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::log_event::{LogEvent, log_id};
use gatehouse_store::LogQuery;
use std::sync::Mutex;

/// The last (millisecond, sequence) this node handed out, so that its log ids only increase
/// even when the clock stands still or steps back. One per server (not per process), so a
/// server's event dates follow its own clock.
#[derive(Default)]
pub(crate) struct LogInstants(Mutex<(i64, u32)>);

impl LogInstants {
    fn next(&self, now: i64) -> (i64, u32) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *last = if now > last.0 {
            (now, 0)
        } else {
            (last.0, last.1 + 1)
        };
        *last
    }
}

/// How long a request waits for its log event to be written.
const LOG_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(300);
/// Log writes that may be outstanding at once.
pub(crate) const LOG_WRITES_IN_FLIGHT: usize = 1024;

impl Gatehouse {
    /// Records an event, filling its id and date. A failure to write the log is reported in
    /// the server's own log and never fails the request that caused the event.
    pub async fn record(&self, mut event: LogEvent) {
        self.metrics()
            .observe_event(&event.kind, event.connection.as_deref());
        if event.log_id.is_empty() {
            let (date, sequence) = self.inner.log_instants.next(self.now());
            event.date = date;
            let suffix = gatehouse_crypto::random::hex(3).unwrap_or_default();
            event.log_id = log_id(date, sequence, &suffix);
        }
        // The write usually finishes at once and the next request sees the event. When the
        // database is slow or down the answer does not wait for it: the write carries on in
        // the background (at most LOG_WRITES_IN_FLIGHT of them; beyond that events are lost,
        // and the server log says so).
        let Ok(permit) = self.inner.log_writes.clone().try_acquire_owned() else {
            tracing::warn!(kind = %event.kind, "tenant log event dropped: too many writes waiting");
            return;
        };
        let logs = self.inner.logs.clone();
        let tenant = self.tenant().to_string();
        let write = tokio::spawn(async move {
            if let Err(e) = logs.insert(&tenant, &event).await {
                tracing::warn!(error = %e, kind = %event.kind, "could not record a tenant log event");
            }
            drop(permit);
        });
        let _ = tokio::time::timeout(LOG_WRITE_WAIT, write).await;
    }

    pub async fn get_log(&self, id: &str) -> Result<LogEvent> {
        let not_found = || ServiceError::NotFound {
            code: "inexistent_log",
            message: "The log does not exist".into(),
        };
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(not_found());
        }
        self.inner
            .logs
            .get(self.tenant(), id)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn list_logs(&self, q: &LogQuery) -> Result<(Vec<LogEvent>, Option<i64>)> {
        Ok(self.inner.logs.list(self.tenant(), q).await?)
    }
}
