//! Tenant logs: recording events (through the batched [`crate::log_writer`]) and reading
//! them back.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::log_event::LogEvent;
use gatehouse_store::LogQuery;

impl Gatehouse {
    /// Records an event, filling its id and date. The event is handed to the log writer
    /// ([`crate::log_writer`]), which writes it in the next batch; this waits only when the
    /// writer's queue is full (the database is slower than the events come), so events are
    /// held back rather than lost. A failure to write is reported in the server's own log and
    /// never fails the request that caused the event.
    pub async fn record(&self, event: LogEvent) {
        self.metrics()
            .observe_event(&event.kind, event.connection.as_deref());
        self.inner.log_writer.send(event, self.now()).await;
    }

    /// Waits until every event recorded on this node so far is in the table: what reads of
    /// the log (and the erasure of a user) do first, so a request sees the events of the
    /// requests answered before it.
    pub async fn flush_logs(&self) {
        self.inner.log_writer.flush().await;
    }

    /// Events recorded on this server and not yet written (for the operator's metrics).
    pub fn log_backlog(&self) -> usize {
        self.inner.log_writer.backlog()
    }

    pub async fn get_log(&self, id: &str) -> Result<LogEvent> {
        let not_found = || ServiceError::NotFound {
            code: "inexistent_log",
            message: "The log does not exist".into(),
        };
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(not_found());
        }
        self.flush_logs().await;
        self.inner
            .logs
            .get(self.tenant(), id)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn list_logs(&self, q: &LogQuery) -> Result<(Vec<LogEvent>, Option<i64>)> {
        self.flush_logs().await;
        Ok(self.inner.logs.list(self.tenant(), q).await?)
    }
}
