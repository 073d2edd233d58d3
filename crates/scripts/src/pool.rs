//! The bounded pool scripts run on: a fixed number of threads of their own, each with one
//! QuickJS runtime, fed from a bounded queue. A full queue answers `Busy` at once instead of
//! letting scripts pile up behind each other.

use crate::hosts::AllowedHosts;
use crate::mysql::MySqlPools;
use crate::outcome::{ScriptError, ScriptRun};
use crate::pg::PgPools;
use crate::worker::Worker;
use serde_json::{Map, Value};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// How much a script may take.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Wall-clock time from the start of a run to its callback (Auth0: about 20 s).
    pub time_limit: Duration,
    /// Heap of one sandbox thread's runtime, shared by its run and its `global` caches.
    pub memory_limit: usize,
    /// Threads running scripts at once. Scripts mostly wait on their database or HTTP, so
    /// there are more of them than cores.
    pub workers: usize,
    /// Runs waiting for a thread before new ones are refused.
    pub queue: usize,
    pub allowed_hosts: AllowedHosts,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            time_limit: Duration::from_secs(20),
            memory_limit: 64 * 1024 * 1024,
            workers: (cores * 4).clamp(4, 32),
            queue: 256,
            allowed_hosts: AllowedHosts::default(),
        }
    }
}

/// One run of one script.
#[derive(Debug, Clone)]
pub struct ScriptCall {
    /// Whose `global` cache the run sees: a connection's id and the version of its scripts,
    /// so edited scripts start with an empty cache.
    pub cache_key: String,
    /// The script's name (`login`), used as its file name in errors and stack traces.
    pub name: String,
    pub source: String,
    /// The arguments before the callback.
    pub args: Vec<Value>,
    /// The connection's `configuration`, in clear.
    pub configuration: Map<String, Value>,
    /// Texts masked wherever console output is kept or logged (passwords given as
    /// arguments); configuration values are masked without being listed here.
    pub secrets: Vec<String>,
    /// Keep this script's context between runs of the same `cache_key` (its top level
    /// evaluated once): for actions and rules, which run on every login. A run that fails,
    /// or leaves a timer or promise job behind, starts the next one afresh.
    pub keep_warm: bool,
}

struct Job {
    call: ScriptCall,
    reply: oneshot::Sender<ScriptRun>,
}

/// Handle to the pool; cheap to clone.
#[derive(Clone)]
pub struct ScriptPool {
    queue: SyncSender<Job>,
    limits: Arc<SandboxLimits>,
}

impl std::fmt::Debug for ScriptPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptPool")
            .field("limits", &self.limits)
            .finish()
    }
}

/// What every sandbox thread shares: database pools, the HTTP client, the tokio runtime the
/// I/O of scripts runs on.
pub(crate) struct Shared {
    pub limits: Arc<SandboxLimits>,
    pub pg: PgPools,
    pub mysql: MySqlPools,
    pub http: reqwest::Client,
    pub io: tokio::runtime::Handle,
}

impl ScriptPool {
    /// Starts the sandbox threads. Must be called inside a tokio runtime: the scripts' I/O
    /// runs on it while their threads wait.
    pub fn start(limits: SandboxLimits) -> Result<Self, ScriptError> {
        let io = tokio::runtime::Handle::try_current()
            .map_err(|e| ScriptError::Sandbox(format!("no tokio runtime: {e}")))?;
        let http =
            crate::http::client(limits.allowed_hosts.clone()).map_err(ScriptError::Sandbox)?;
        let limits = Arc::new(limits);
        let shared = Arc::new(Shared {
            limits: limits.clone(),
            pg: PgPools::new(),
            mysql: MySqlPools::new(),
            http,
            io,
        });
        let (queue, jobs) = sync_channel::<Job>(limits.queue.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..limits.workers.max(1) {
            let jobs = jobs.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("gatehouse-script-{n}"))
                // QuickJS's own stack limit is 1 MiB below this.
                .stack_size(4 * 1024 * 1024)
                .spawn(move || serve_jobs(&jobs, shared))
                .map_err(|e| ScriptError::Sandbox(format!("could not start a thread: {e}")))?;
        }
        Ok(Self { queue, limits })
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// Runs a script and waits for its answer.
    pub async fn run(&self, call: ScriptCall) -> ScriptRun {
        let (reply, answer) = oneshot::channel();
        let refused = |e: ScriptError| ScriptRun {
            outcome: Err(e),
            console: vec![],
            elapsed_ms: 0,
        };
        match self.queue.try_send(Job { call, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return refused(ScriptError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return refused(ScriptError::Sandbox("the sandbox threads stopped".into()));
            }
        }
        answer.await.unwrap_or_else(|_| {
            refused(ScriptError::Sandbox(
                "the sandbox thread stopped during the run".into(),
            ))
        })
    }
}

/// A sandbox thread: takes jobs one at a time until the pool is dropped.
fn serve_jobs(jobs: &Mutex<Receiver<Job>>, shared: Arc<Shared>) {
    let mut worker = Worker::new(shared);
    loop {
        let job = {
            let Ok(receiver) = jobs.lock() else { return };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let run = worker.run(&job.call);
        // The caller may have gone (its request ended); the run's answer is then dropped.
        let _ = job.reply.send(run);
    }
}
