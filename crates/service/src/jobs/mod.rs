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
use gatehouse_core::time::iso8601;
use gatehouse_store::Job;
use serde_json::{Map, Value, json};

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
    ) -> Result<Value> {
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

    /// `GET /api/v2/jobs/{id}` in Auth0's shape.
    pub async fn job(&self, id: &str) -> Result<Value> {
        let job = self.stored_job(id).await?;
        let params: Map<String, Value> = serde_json::from_str(&job.params).unwrap_or_default();
        let mut m = Map::new();
        m.insert("status".into(), json!(job.status));
        m.insert("type".into(), json!(job.kind));
        m.insert("created_at".into(), json!(iso8601(job.created_at)));
        m.insert("id".into(), json!(job.id));
        match job.kind.as_str() {
            USERS_IMPORT => {
                for key in [
                    "connection_id",
                    "connection",
                    "upsert",
                    "external_id",
                    "send_completion_email",
                ] {
                    if let Some(v) = params.get(key).filter(|v| !v.is_null()) {
                        m.insert(key.into(), v.clone());
                    }
                }
            }
            USERS_EXPORT => {
                for key in [
                    "connection_id",
                    "connection",
                    "format",
                    "limit",
                    "fields",
                    "q",
                ] {
                    if let Some(v) = params.get(key).filter(|v| !v.is_null()) {
                        m.insert(key.into(), v.clone());
                    }
                }
                if job.status == "completed" {
                    m.insert(
                        "location".into(),
                        json!(self.export_location(&job, &params)?),
                    );
                }
            }
            _ => {}
        }
        if let Some(total) = job.total.filter(|t| *t > 0) {
            if job.status == "processing" || job.status == "pending" {
                let pct = (job.processed * 100 / total).clamp(0, 100);
                m.insert("percentage_done".into(), json!(pct));
                if let Some(started) = job.started_at
                    && job.processed > 0
                {
                    let elapsed = (self.now() - started).max(0);
                    let left = elapsed * (total - job.processed).max(0) / job.processed / 1000;
                    m.insert("time_left_seconds".into(), json!(left));
                }
            }
        } else if job.status == "processing" || job.status == "pending" {
            m.insert("percentage_done".into(), json!(0));
        }
        if job.kind == USERS_IMPORT && matches!(job.status.as_str(), "completed" | "failed") {
            m.insert(
                "summary".into(),
                json!({"failed": job.failed, "updated": job.updated, "inserted": job.inserted,
                       "total": job.inserted + job.updated + job.failed}),
            );
        }
        // Progress as Gatehouse counts it, for the CLI's bars and operators.
        m.insert("processed".into(), json!(job.processed));
        if let Some(total) = job.total {
            m.insert("total".into(), json!(total));
        }
        if let Some(d) = &job.status_details {
            m.insert("status_details".into(), json!(d));
        }
        Ok(Value::Object(m))
    }

    /// `GET /api/v2/jobs/{id}/errors`: the refused rows with their reasons; 204 (None) when
    /// there are none.
    pub async fn job_errors(&self, id: &str) -> Result<Option<Value>> {
        let job = self.stored_job(id).await?;
        let errors = self.inner.jobs.errors(&job.id).await?;
        if errors.is_empty() {
            return Ok(None);
        }
        Ok(Some(Value::Array(
            errors
                .into_iter()
                .map(|e| {
                    json!({
                        "user": serde_json::from_str::<Value>(&e.user_row).unwrap_or(Value::Null),
                        "errors": serde_json::from_str::<Value>(&e.errors).unwrap_or(Value::Null),
                        "index": e.row_index,
                    })
                })
                .collect(),
        )))
    }
}
