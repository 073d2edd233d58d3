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
    room: usize,
    instants: Mutex<Instants>,
}

impl LogWriter {
    /// Starts the writing task for `tenant` on the current runtime.
    pub(crate) fn start(store: LogStore, tenant: String) -> Self {
        Self::with_queue(store, tenant, QUEUE)
    }

    /// [`Self::start`] with room for `room` events in the queue instead of [`QUEUE`].
    fn with_queue(store: LogStore, tenant: String, room: usize) -> Self {
        let (queue, commands) = mpsc::channel(room);
        tokio::spawn(write_batches(store, tenant, commands));
        Self {
            queue,
            room,
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
        self.room - self.queue.capacity()
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

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::Db;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(i: usize) -> LogEvent {
        LogEvent {
            log_id: String::new(),
            date: 0,
            kind: "s".into(),
            description: Some(format!("connexion réussie n° {i} — 成功")),
            client_id: None,
            connection: None,
            user_id: Some(format!("auth0|{:x}", (i * 7919) % 1013)),
            user_name: None,
            ip: None,
            user_agent: None,
            details: Default::default(),
        }
    }

    /// A database that cannot take writes for a while: senders beyond the queue's room wait
    /// (none is turned away, none is dropped), and once it takes writes again every event is
    /// in the table, in the order its id says.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_senders_wait_and_loses_nothing() {
        let path = std::env::temp_dir().join(format!(
            "gatehouse-log-writer-{}.db",
            gatehouse_crypto::random::hex(8).unwrap()
        ));
        let url = format!("sqlite://{}", path.display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            unreachable!("a sqlite URL")
        };
        // Another connection holds the write lock: every batch fails as busy and is retried.
        let mut blocker = pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *blocker)
            .await
            .unwrap();

        let room = 8;
        let writer = Arc::new(LogWriter::with_queue(
            LogStore::new(db.clone()),
            "default".into(),
            room,
        ));
        // More than one batch and the queue can hold, so some must wait whatever the order.
        let senders = BATCH + 3 * room;
        let sent = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..senders)
            .map(|i| {
                let (writer, sent) = (writer.clone(), sent.clone());
                tokio::spawn(async move {
                    writer.send(event(i), 1_700_000_000_000 + i as i64).await;
                    sent.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // The writer holds at most one batch and the queue its room; the rest must wait.
        let mut settled = usize::MAX;
        while settled != sent.load(Ordering::SeqCst) {
            settled = sent.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(settled >= room, "the queue's room is used: {settled}");
        assert!(settled < senders, "senders past the room wait: {settled}");
        assert_eq!(writer.backlog(), room, "the queue is full");
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM logs")
            .fetch_one(&mut *blocker)
            .await
            .unwrap();
        assert_eq!(stored, 0);

        sqlx::query("ROLLBACK")
            .execute(&mut *blocker)
            .await
            .unwrap();
        drop(blocker);
        for t in tasks {
            t.await.unwrap();
        }
        writer.flush().await;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT log_id, description FROM logs ORDER BY log_id")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(rows.len(), senders, "no event lost");
        let mut seen: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), senders, "each event once");
        drop(db);
        let _ = std::fs::remove_file(&path);
    }
}
