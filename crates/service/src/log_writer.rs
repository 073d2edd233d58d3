//! The tenant log's writer: events recorded by requests go through a bounded queue to one
//! task per server that writes them in batches (one transaction per batch: group commit), so
//! the token path never waits for a log row. A full queue makes `record` wait (back-pressure,
//! never loss); a failed batch is retried with backoff; `flush` waits until everything queued
//! before it is in the table, and the server flushes at shutdown.
//!
//! Ids are handed out and events queued under one lock, so this server's events reach the
//! table in id order and a reader paging `GET /api/v2/logs` by checkpoint never sees a later
//! id before an earlier one of the same server.

use gatehouse_core::log_event::{LogEvent, log_id};
use gatehouse_store::LogStore;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Events that may wait for the writer before `record` waits too.
pub const QUEUE: usize = 8192;
/// Events written per transaction at most.
pub const BATCH: usize = 512;
/// The first retry of a failed batch, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

enum Command {
    Event(Box<LogEvent>),
    /// Answered once every event queued before it is written (or given up).
    Flush(oneshot::Sender<()>),
}

/// The last (millisecond, sequence) this server handed out, so that its log ids only
/// increase even when the clock stands still or steps back.
#[derive(Default)]
struct Instants {
    last: (i64, u32),
}

impl Instants {
    fn next(&mut self, now: i64) -> (i64, u32) {
        self.last = if now > self.last.0 {
            (now, 0)
        } else {
            (self.last.0, self.last.1 + 1)
        };
        self.last
    }
}

/// The sending side, held by the service; the writing task ends when it is dropped.
pub(crate) struct LogWriter {
    queue: mpsc::Sender<Command>,
    instants: Mutex<Instants>,
}

impl LogWriter {
    /// Starts the writing task for `tenant` on the current runtime.
    pub(crate) fn start(store: LogStore, tenant: String) -> Self {
        let (queue, commands) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, tenant, commands));
        Self {
            queue,
            instants: Mutex::new(Instants::default()),
        }
    }

    /// Queues an event, giving it an id and date (`now`, epoch ms) unless it has one.
    pub(crate) async fn send(&self, mut event: LogEvent, now: i64) {
        // Waiting for room happens before the id is taken, so ids and queue order agree.
        let Ok(slot) = self.queue.reserve().await else {
            tracing::warn!(kind = %event.kind, "tenant log writer has stopped; event not recorded");
            return;
        };
        let suffix = if event.log_id.is_empty() {
            gatehouse_crypto::random::hex(3).unwrap_or_default()
        } else {
            String::new()
        };
        let mut instants = self.instants.lock().unwrap_or_else(|p| p.into_inner());
        if event.log_id.is_empty() {
            let (date, sequence) = instants.next(now);
            event.date = date;
            event.log_id = log_id(date, sequence, &suffix);
        }
        slot.send(Command::Event(Box::new(event)));
        drop(instants);
    }

    /// Waits until every event queued before this call has been written.
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            // The writer answers after the batch holding everything before the marker; an
            // ended writer drops the sender, which ends the wait too.
            let _ = written.await;
        }
    }

    /// Events waiting in the queue (for the operator's metrics).
    pub(crate) fn backlog(&self) -> usize {
        QUEUE - self.queue.capacity()
    }
}

async fn write_batches(store: LogStore, tenant: String, mut commands: mpsc::Receiver<Command>) {
    let mut batch: Vec<LogEvent> = Vec::with_capacity(BATCH);
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = commands.recv().await {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Event(e) => batch.push(*e),
                Command::Flush(done) => flushes.push(done),
            }
            if batch.len() < BATCH {
                next = commands.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            write_with_retry(&store, &tenant, &mut batch).await;
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes the batch, retrying while the database fails. When the batch as a whole is
/// refused for its content (a duplicate id, say), events are written one by one and only
/// the refused ones are dropped, each reported in the server's log.
async fn write_with_retry(store: &LogStore, tenant: &str, batch: &mut Vec<LogEvent>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match store.insert_batch(tenant, batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, events = batch.len(), retry_in_ms = backoff.as_millis() as u64,
                    "could not write tenant log events; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "a batch of tenant log events was refused; writing them one by one");
                write_one_by_one(store, tenant, batch).await;
                return;
            }
        }
    }
}

async fn write_one_by_one(store: &LogStore, tenant: &str, batch: &mut Vec<LogEvent>) {
    for event in batch.drain(..) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match store.insert(tenant, &event).await {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::warn!(error = %e, kind = %event.kind, log_id = %event.log_id, "tenant log event refused by the database; dropped");
                    break;
                }
            }
        }
    }
}
