//! The job worker: leases one job at a time and runs it to the end, batch by batch. A job
//! whose worker died is picked up by any worker once the lease runs out.

use super::export::{
    DEFAULT_EXPORT_PAGE, ExportFormat, ExportParams, encode_page, export_block, gzip,
};
use super::import::ImportParams;
use super::{USERS_EXPORT, USERS_IMPORT};
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_store::{Job, JobBlock};
use serde_json::json;
use std::time::Duration;

/// How long a lease lasts without a committed batch by default; a crashed worker's job
/// waits this long before another worker takes it over.
pub const DEFAULT_LEASE_MS: i64 = 30_000;

/// Imports at least this large refresh the database's statistics when they finish.
const ANALYZE_AFTER_ROWS: i64 = 10_000;

/// A worker's identity in job leases.
pub struct JobWorker {
    gatehouse: Gatehouse,
    owner: String,
    poll: Duration,
    lease_ms: i64,
    export_page: i64,
    /// Counts committed batches and finished jobs, for whoever waits on the jobs.
    progress: Option<tokio::sync::watch::Sender<u64>>,
}

impl JobWorker {
    pub fn new(gatehouse: Gatehouse, poll: Duration, lease_ms: i64) -> Result<Self> {
        Ok(Self {
            gatehouse,
            owner: format!(
                "worker_{}",
                gatehouse_crypto::random::hex(8).map_err(ServiceError::internal)?
            ),
            poll,
            lease_ms: lease_ms.max(100),
            export_page: DEFAULT_EXPORT_PAGE,
            progress: None,
        })
    }

    /// Users per export page (one database read, one gzip member, one commit).
    pub fn with_export_page(mut self, users: i64) -> Self {
        self.export_page = users.clamp(1, 100_000);
        self
    }

    /// Announces each committed batch and finished job on `progress` (tests await it
    /// instead of polling).
    pub fn with_progress(mut self, progress: tokio::sync::watch::Sender<u64>) -> Self {
        self.progress = Some(progress);
        self
    }

    fn progressed(&self) {
        if let Some(p) = &self.progress {
            p.send_modify(|n| *n += 1);
        }
    }

    /// Runs jobs until the future is dropped.
    pub async fn run(self) {
        loop {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "job worker error"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Leases and runs one job; false when none was waiting.
    pub async fn run_one(&self) -> Result<bool> {
        let Some(job) = self
            .gatehouse
            .inner
            .jobs
            .claim(&self.owner, self.gatehouse.now(), self.lease_ms)
            .await?
        else {
            return Ok(false);
        };
        tracing::info!(job_id = %job.id, kind = %job.kind, processed = job.processed, "job started");
        let outcome = match job.kind.as_str() {
            USERS_IMPORT => self.run_import(&job).await,
            USERS_EXPORT => self.run_export(&job).await,
            other => Err(ServiceError::broken(format!("unknown job kind {other}"))),
        };
        match outcome {
            Ok(Some(())) => {}
            // The lease was lost to another worker: its job now, nothing to record.
            Ok(None) => tracing::warn!(job_id = %job.id, "job lease lost"),
            Err(e) => {
                tracing::warn!(job_id = %job.id, error = %e, "job failed");
                // Announced below, once the failure is written.
                self.gatehouse
                    .inner
                    .jobs
                    .finish(
                        &job.id,
                        &self.owner,
                        "failed",
                        Some(&e.to_string()),
                        true,
                        self.gatehouse.now(),
                    )
                    .await?;
                if job.kind == USERS_IMPORT {
                    self.log_import(&job.id, codes::FAILED_USERS_IMPORT).await;
                }
            }
        }
        self.progressed();
        Ok(true)
    }

    async fn run_import(&self, job: &Job) -> Result<Option<()>> {
        let g = &self.gatehouse;
        let params: ImportParams =
            serde_json::from_str(&job.params).map_err(ServiceError::internal)?;
        let conn = g
            .inner
            .connections
            .get(g.tenant(), &params.connection_id)
            .await?
            .ok_or_else(|| ServiceError::broken("the import's connection was deleted"))?;
        let requires_username = conn.settings.requires_username();
        let mut seq: i64 = job
            .cursor
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        // Statistics are refreshed each time this run has written twice as many rows.
        let (mut written, mut analyze_at) = (0i64, ANALYZE_AFTER_ROWS);
        while let Some(block) = g.inner.jobs.block(&job.id, seq).await? {
            let batch = g
                .import_batch(&params, &conn.id, requires_username, &block)
                .await?;
            let committed = match g
                .inner
                .jobs
                .commit_import_batch(
                    g.tenant(),
                    &job.id,
                    &self.owner,
                    self.gatehouse.now(),
                    self.lease_ms,
                    &batch,
                )
                .await
            {
                Ok(c) => c,
                // A user written since the batch was matched (an API create racing the
                // import): match again against what is there now.
                Err(gatehouse_store::StoreError::Conflict(_)) => {
                    tracing::info!(job_id = %job.id, seq, "import batch raced a write; retrying");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if !committed {
                return Ok(None);
            }
            seq += 1;
            written += batch.rows;
            self.progressed();
            if written >= analyze_at {
                analyze_at = written.saturating_mul(2);
                if let Err(e) = g.inner.jobs.analyze_users_while_importing().await {
                    tracing::warn!(error = %e, "could not refresh statistics during an import");
                }
            }
        }
        if !g
            .inner
            .jobs
            .finish(
                &job.id,
                &self.owner,
                "completed",
                None,
                true,
                self.gatehouse.now(),
            )
            .await?
        {
            return Ok(None);
        }
        self.log_import(&job.id, codes::SUCCESS_USERS_IMPORT).await;
        if job.total.unwrap_or(0) >= ANALYZE_AFTER_ROWS
            && let Err(e) = g.inner.jobs.analyze_users().await
        {
            tracing::warn!(error = %e, "could not refresh statistics after an import");
        }
        Ok(Some(()))
    }

    async fn log_import(&self, job_id: &str, kind: &str) {
        let g = &self.gatehouse;
        let Ok(Some(job)) = g.inner.jobs.get(g.tenant(), job_id).await else {
            return;
        };
        let params: ImportParams = serde_json::from_str(&job.params).unwrap_or_default();
        tracing::info!(job_id, inserted = job.inserted, updated = job.updated, failed = job.failed, status = %job.status, "users import finished");
        let mut event = LogEvent {
            kind: kind.into(),
            description: Some(match kind {
                codes::SUCCESS_USERS_IMPORT => format!(
                    "Import of {} users finished: {} inserted, {} updated, {} failed",
                    job.inserted + job.updated + job.failed,
                    job.inserted,
                    job.updated,
                    job.failed
                ),
                _ => job
                    .status_details
                    .clone()
                    .unwrap_or_else(|| "Users import failed".into()),
            }),
            connection: Some(params.connection.clone()),
            ..LogEvent::default()
        };
        event.details.insert("job_id".into(), json!(job.id));
        event.details.insert(
            "summary".into(),
            json!({"inserted": job.inserted, "updated": job.updated, "failed": job.failed}),
        );
        if let Some(x) = &params.external_id {
            event.details.insert("external_id".into(), json!(x));
        }
        g.record(event).await;
    }

    async fn run_export(&self, job: &Job) -> Result<Option<()>> {
        let g = &self.gatehouse;
        let params: ExportParams =
            serde_json::from_str(&job.params).map_err(ServiceError::internal)?;
        let mut job = job.clone();
        // The export is of the users there when it was asked for, walked in user_id order
        // from its first page to its last: the cursor then means the same thing on every
        // page and after a resume, so each user is written exactly once.
        let snapshot = job.created_at;
        if job.total.is_none() {
            let total = g.export_total(&params, snapshot).await?;
            g.inner.jobs.set_total(&job.id, &self.owner, total).await?;
            job.total = Some(total);
        }
        let mut seq = g.inner.jobs.block_count(&job.id).await?;
        let mut page = g
            .export_fetch(
                &params,
                snapshot,
                job.cursor.clone(),
                job.processed,
                self.export_page,
            )
            .await?;
        while let Some(users) = page {
            let cursor = users.last().map(|u| u.user_id.clone()).unwrap_or_default();
            let row_count = users.len() as i64;
            let (first, for_encoding) = (seq == 0, params.clone());
            let encoded =
                tokio::task::spawn_blocking(move || export_block(&for_encoding, &users, first));
            // The database reads the next page while this one is encoded and compressed.
            let (data, next) = tokio::join!(
                encoded,
                g.export_fetch(
                    &params,
                    snapshot,
                    Some(cursor.clone()),
                    job.processed + row_count,
                    self.export_page
                )
            );
            let block = JobBlock {
                seq,
                first_row: job.processed,
                row_count,
                data: data.map_err(ServiceError::internal)??,
            };
            if !g
                .inner
                .jobs
                .commit_export_block(
                    &job.id,
                    &self.owner,
                    self.gatehouse.now(),
                    self.lease_ms,
                    &block,
                    &cursor,
                )
                .await?
            {
                return Ok(None);
            }
            job.processed += row_count;
            job.cursor = Some(cursor);
            seq += 1;
            self.progressed();
            page = next?;
        }
        if seq == 0 {
            // No users: still a valid (empty, or header-only) gzip file.
            let header = encode_page(&params, &[], params.format == ExportFormat::Csv);
            let block = JobBlock {
                seq: 0,
                first_row: 0,
                row_count: 0,
                data: gzip(&header).map_err(ServiceError::internal)?,
            };
            if !g
                .inner
                .jobs
                .commit_export_block(
                    &job.id,
                    &self.owner,
                    self.gatehouse.now(),
                    self.lease_ms,
                    &block,
                    "",
                )
                .await?
            {
                return Ok(None);
            }
        }
        if job.total.is_some_and(|t| job.processed < t) {
            // Users deleted while the export ran: the finished job counts what the file holds.
            g.inner
                .jobs
                .set_total(&job.id, &self.owner, job.processed)
                .await?;
        }
        if !g
            .inner
            .jobs
            .finish(
                &job.id,
                &self.owner,
                "completed",
                None,
                false,
                self.gatehouse.now(),
            )
            .await?
        {
            return Ok(None);
        }
        tracing::info!(job_id = %job.id, users = job.processed, "users export finished");
        Ok(Some(()))
    }
}
