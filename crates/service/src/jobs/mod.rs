//! Background jobs, Auth0's `/api/v2/jobs`: users imports, users exports and verification
//! emails. A job is a database row any node's worker can lease; its work advances in
//! batches, each committed with the job's progress, so a crash or restart resumes where the
//! last committed batch ended. The job's JSON is Auth0's shape.

pub mod export;
pub mod import;
mod worker;

pub use export::{DEFAULT_EXPORT_PAGE, ExportDownload, ExportFormat, ExportParams};
pub use import::{ImportParams, ImportUpload};
pub use worker::{DEFAULT_LEASE_MS, JobWorker};

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::payload::{InvalidBody, Payload};
use gatehouse_store::Job;
use serde_json::{Map, Value};

/// A job as the service hands it out; the Management API renders it in Auth0's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub id: String,
    /// `users_import`, `users_export` or `verification_email`.
    pub kind: String,
    pub status: String,
    pub created_at: i64,
    /// What the job was started with that Auth0 echoes back (connection, upsert, format, …).
    pub params: Map<String, Value>,
    /// Where a completed export is downloaded (a signed link valid for a minute).
    pub location: Option<String>,
    /// While it runs: how far it got, and the seconds left at its pace so far.
    pub percentage_done: Option<i64>,
    pub time_left_seconds: Option<i64>,
    /// What a finished import did.
    pub summary: Option<ImportSummary>,
    /// Rows (users) done and in all, as Gatehouse counts them.
    pub processed: i64,
    pub total: Option<i64>,
    pub status_details: Option<String>,
}

impl JobView {
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "processing")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub inserted: i64,
    pub updated: i64,
    pub failed: i64,
}

/// A row an import refused: its place in the file (from 0), the row as given, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedRow {
    pub index: i64,
    pub user: Value,
    pub reasons: Vec<RefusalReason>,
}

/// One reason a row was refused (`code`, `message` and the property's `path`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RefusalReason {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub path: String,
}

pub const USERS_IMPORT: &str = "users_import";
pub const USERS_EXPORT: &str = "users_export";
pub const VERIFICATION_EMAIL: &str = "verification_email";

/// Import jobs a tenant may have waiting or running at once (Auth0's limit).
pub const MAX_ACTIVE_IMPORTS: i64 = 2;

/// Completed jobs and their data are deleted after this long (Auth0: 24 hours).
pub const JOB_RETENTION_MS: i64 = 24 * 3_600_000;

fn new_job_id() -> Result<String> {
    Ok(format!(
        "job_{}",
        gatehouse_crypto::random::alnum(16).map_err(ServiceError::internal)?
    ))
}

fn job_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_job",
        message: "The job does not exist.".into(),
    }
}

/// Auth0's job ids are `job_` and 16 alphanumerics; anything else cannot exist.
fn check_job_id(id: &str) -> Result<()> {
    let ok = id.strip_prefix("job_").is_some_and(|r| {
        !r.is_empty() && r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err(ServiceError::InvalidUri(format!(
            "Path validation error: 'String does not match pattern ^job_[A-Za-z0-9]+$' on property id (The id of the job): {}",
            id.chars().take(64).collect::<String>()
        )))
    }
}

/// The verification-email job's request body.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VerificationEmailParams {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl VerificationEmailParams {
    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&["user_id", "client_id", "identity", "organization_id"])?;
        let user_id = p.required_string("user_id")?;
        let client_id = p.string("client_id")?;
        // `identity` picks a secondary identity and `organization_id` an organization;
        // neither exists here yet, so a user's primary identity is the only one.
        let _ = p.raw("identity");
        let _ = p.string("organization_id")?;
        Ok(Self { user_id, client_id })
    }
}

impl Gatehouse {
    /// `POST /api/v2/jobs/verification-email`: the user's verification email, queued in
    /// the outbox in the same transaction as the job, which is therefore done at once.
    pub async fn create_verification_email_job(
        &self,
        params: VerificationEmailParams,
    ) -> Result<JobView> {
        crate::users::check_user_id(&params.user_id)?;
        let user = self.get_user(&params.user_id).await?;
        if user.email.is_none() {
            return Err(InvalidBody::new("The user has no email address.").into());
        }
        if user.email_verified {
            return Err(InvalidBody::new("The user's email address is already verified.").into());
        }
        let outbox = self.verification_email(&user).await?;
        let id = new_job_id()?;
        let doc = serde_json::to_string(&params).map_err(ServiceError::internal)?;
        self.inner
            .jobs
            .create(
                self.tenant(),
                &id,
                VERIFICATION_EMAIL,
                "completed",
                &doc,
                self.now(),
                outbox.as_slice(),
            )
            .await?;
        self.job(&id).await
    }

    async fn stored_job(&self, id: &str) -> Result<Job> {
        check_job_id(id)?;
        self.inner
            .jobs
            .get(self.tenant(), id)
            .await?
            .filter(|j| j.status != "receiving")
            .ok_or_else(job_not_found)
    }

    /// `GET /api/v2/jobs/{id}`: what the job is and how far it got.
    pub async fn job(&self, id: &str) -> Result<JobView> {
        let job = self.stored_job(id).await?;
        // Written by us when the job was created: unreadable means something broke.
        let stored: Map<String, Value> =
            serde_json::from_str(&job.params).map_err(ServiceError::internal)?;
        let echoed: &[&str] = match job.kind.as_str() {
            USERS_IMPORT => &[
                "connection_id",
                "connection",
                "upsert",
                "external_id",
                "send_completion_email",
            ],
            USERS_EXPORT => &[
                "connection_id",
                "connection",
                "format",
                "limit",
                "fields",
                "q",
            ],
            _ => &[],
        };
        let params = echoed
            .iter()
            .filter_map(|k| {
                let v = stored.get(*k).filter(|v| !v.is_null())?;
                Some((k.to_string(), v.clone()))
            })
            .collect();
        let location = if job.kind == USERS_EXPORT && job.status == "completed" {
            Some(self.export_location(&job, &stored)?)
        } else {
            None
        };
        let running = job.status == "processing" || job.status == "pending";
        let (percentage_done, time_left_seconds) = match job.total.filter(|t| *t > 0) {
            Some(total) if running => {
                let left = job.started_at.filter(|_| job.processed > 0).map(|started| {
                    let elapsed = (self.now() - started).max(0);
                    elapsed * (total - job.processed).max(0) / job.processed / 1000
                });
                (Some((job.processed * 100 / total).clamp(0, 100)), left)
            }
            None if running => (Some(0), None),
            _ => (None, None),
        };
        let summary = (job.kind == USERS_IMPORT
            && matches!(job.status.as_str(), "completed" | "failed"))
        .then_some(ImportSummary {
            inserted: job.inserted,
            updated: job.updated,
            failed: job.failed,
        });
        Ok(JobView {
            id: job.id,
            kind: job.kind,
            status: job.status,
            created_at: job.created_at,
            params,
            location,
            percentage_done,
            time_left_seconds,
            summary,
            processed: job.processed,
            total: job.total,
            status_details: job.status_details,
        })
    }

    /// `GET /api/v2/jobs/{id}/errors`: the refused rows with their reasons; 204 (None) when
    /// there are none.
    pub async fn job_errors(&self, id: &str) -> Result<Option<Vec<RefusedRow>>> {
        let job = self.stored_job(id).await?;
        let errors = self.inner.jobs.errors(&job.id).await?;
        if errors.is_empty() {
            return Ok(None);
        }
        let rows = errors
            .into_iter()
            .map(|e| {
                Ok(RefusedRow {
                    index: e.row_index,
                    user: serde_json::from_str(&e.user_row).map_err(ServiceError::internal)?,
                    reasons: serde_json::from_str(&e.errors).map_err(ServiceError::internal)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(rows))
    }
}
