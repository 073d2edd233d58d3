//! Users imports: the upload (the file is cut into records as it streams in and stored in
//! blocks, so its size never reaches memory) and the batch step that turns one block into
//! inserted, updated and refused users.

use super::{MAX_ACTIVE_IMPORTS, USERS_IMPORT, new_job_id};
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::import::{
    ImportRow, MfaFactor, Record, RecordSplitter, RowError, pack_record, redact_row, unpack_records,
};
use gatehouse_core::metadata::{MetadataKind, MetadataPatch};
use gatehouse_core::payload::InvalidBody;
use gatehouse_core::user::{DATABASE_PROVIDER, User};
use gatehouse_store::{ImportBatch, ImportUpdate, ImportedFactor, JobBlock, JobError};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// Bytes of records per stored block; one block is one batch of the import.
const BLOCK_BYTES: usize = 512 * 1024;

/// Longest record kept; longer ones are refused rows (metadata is capped far below this).
const MAX_RECORD_BYTES: usize = 256 * 1024;

/// The import job's options, as `POST /api/v2/jobs/users-imports` takes them.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ImportParams {
    pub connection_id: String,
    /// Filled in by the server from the connection.
    #[serde(default)]
    pub connection: String,
    #[serde(default)]
    pub upsert: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default = "yes")]
    pub send_completion_email: bool,
}

fn yes() -> bool {
    true
}

/// An import whose file is being received.
pub struct ImportUpload {
    gatehouse: Gatehouse,
    job_id: String,
    splitter: RecordSplitter,
    block: Vec<u8>,
    block_rows: i64,
    seq: i64,
    rows: i64,
}

fn too_many_imports() -> ServiceError {
    ServiceError::TooManyRequests(format!(
        "There are {MAX_ACTIVE_IMPORTS} active import users jobs, please wait until some of them are finished and try again"
    ))
}

impl Gatehouse {
    /// Starts receiving an import file. The job is invisible until [`ImportUpload::finish`].
    pub async fn begin_import(&self) -> Result<ImportUpload> {
        if self
            .inner
            .jobs
            .active_count(self.tenant(), USERS_IMPORT)
            .await?
            >= MAX_ACTIVE_IMPORTS
        {
            return Err(too_many_imports());
        }
        let job_id = new_job_id()?;
        self.inner
            .jobs
            .create(
                self.tenant(),
                &job_id,
                USERS_IMPORT,
                "receiving",
                "{}",
                self.now(),
                &[],
            )
            .await?;
        Ok(ImportUpload {
            gatehouse: self.clone(),
            job_id,
            splitter: RecordSplitter::new(MAX_RECORD_BYTES),
            block: Vec::with_capacity(BLOCK_BYTES + 1024),
            block_rows: 0,
            seq: 0,
            rows: 0,
        })
    }
}

impl ImportUpload {
    /// Takes the next chunk of the file.
    pub async fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let mut block = std::mem::take(&mut self.block);
        let mut rows = 0i64;
        let split = self.splitter.feed(chunk, &mut |r: Record<'_>| {
            pack_record(&mut block, &r);
            rows += 1;
        });
        self.block = block;
        self.block_rows += rows;
        split.map_err(|e| InvalidBody::on_property(e.to_string(), "users"))?;
        if self.block.len() >= BLOCK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.block_rows == 0 {
            return Ok(());
        }
        let block = JobBlock {
            seq: self.seq,
            first_row: self.rows,
            row_count: self.block_rows,
            data: std::mem::take(&mut self.block),
        };
        self.gatehouse
            .inner
            .jobs
            .append_block(&self.job_id, &block, self.gatehouse.now())
            .await?;
        self.seq += 1;
        self.rows += self.block_rows;
        self.block_rows = 0;
        self.block = Vec::with_capacity(BLOCK_BYTES + 1024);
        Ok(())
    }

    /// The file is complete: checks the options and queues the job; returns its JSON.
    pub async fn finish(mut self, mut params: ImportParams) -> Result<super::JobView> {
        let done = async {
            self.splitter
                .finish()
                .map_err(|e| InvalidBody::on_property(e.to_string(), "users"))?;
            self.flush().await?;
            let g = &self.gatehouse;
            let conn = g
                .inner
                .connections
                .get(g.tenant(), &params.connection_id)
                .await?
                .ok_or_else(|| ServiceError::BadReference {
                    code: "inexistent_connection",
                    message: "The connection does not exist.".into(),
                })?;
            if conn.settings.strategy != DATABASE_PROVIDER {
                return Err(ServiceError::NotSupported(format!(
                    "Users can only be imported into database connections; {} is a {} connection",
                    conn.settings.name, conn.settings.strategy
                )));
            }
            if self.rows == 0 {
                return Err(
                    InvalidBody::on_property("The users file has no users.", "users").into(),
                );
            }
            params.connection = conn.settings.name.clone();
            let doc = serde_json::to_string(&params).map_err(ServiceError::internal)?;
            g.inner
                .jobs
                .mark_pending(&self.job_id, &doc, self.rows, self.gatehouse.now())
                .await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        match done {
            Ok(()) => {
                tracing::info!(job_id = %self.job_id, rows = self.rows, "users import queued");
                self.gatehouse.job(&self.job_id).await
            }
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    /// Drops what was received (a refused or broken upload).
    pub async fn abort(&self) {
        if let Err(e) = self.gatehouse.inner.jobs.delete(&self.job_id).await {
            tracing::warn!(error = %e, job_id = %self.job_id, "could not remove an abandoned import");
        }
    }
}

/// A row that passed validation, ready to be matched against existing users.
struct Candidate {
    index: i64,
    raw: Value,
    row: ImportRow,
    /// The validated stored form of the row's password hash.
    hash: Option<String>,
}

fn row_error(index: i64, raw: &Value, errors: &[RowError]) -> JobError {
    JobError {
        row_index: index,
        user_row: redact_row(raw).to_string(),
        errors: Value::Array(errors.iter().map(RowError::to_json).collect()).to_string(),
    }
}

fn duplicated(index: i64, raw: &Value, what: &str) -> JobError {
    row_error(
        index,
        raw,
        &[RowError::new(
            "DUPLICATED_USER",
            format!("The user already exists ({what})."),
            what,
        )],
    )
}

impl Gatehouse {
    /// Builds one batch from one block of an import: validates the rows, matches them to
    /// existing users of the connection, and decides insert, update or refusal for each.
    pub(crate) async fn import_batch(
        &self,
        params: &ImportParams,
        connection_id: &str,
        requires_username: bool,
        block: &JobBlock,
    ) -> Result<ImportBatch> {
        let max_metadata = self.config().max_metadata_bytes;
        let mut batch = ImportBatch {
            rows: block.row_count,
            next_cursor: (block.seq + 1).to_string(),
            ..ImportBatch::default()
        };
        let mut candidates = Vec::new();
        for (i, record) in unpack_records(&block.data).into_iter().enumerate() {
            let index = block.first_row + i as i64;
            let raw = match record {
                Record::Oversize(n) => {
                    batch.errors.push(row_error(
                        index,
                        &Value::Null,
                        &[RowError::new(
                            "INVALID_FORMAT",
                            format!(
                                "The user is {n} bytes; at most {MAX_RECORD_BYTES} are accepted."
                            ),
                            "",
                        )],
                    ));
                    continue;
                }
                Record::Json(bytes) => match serde_json::from_slice::<Value>(bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        batch.errors.push(row_error(
                            index,
                            &json!(String::from_utf8_lossy(&bytes[..bytes.len().min(200)])),
                            &[RowError::new(
                                "INVALID_FORMAT",
                                format!("Not valid JSON: {e}"),
                                "",
                            )],
                        ));
                        continue;
                    }
                },
            };
            let mut row = match ImportRow::parse(&raw, max_metadata) {
                Ok(r) => r,
                Err(errors) => {
                    batch.errors.push(row_error(index, &raw, &errors));
                    continue;
                }
            };
            if requires_username && row.username.is_none() {
                batch.errors.push(row_error(
                    index,
                    &raw,
                    &[RowError::new(
                        "OBJECT_MISSING_REQUIRED_PROPERTY",
                        "Missing required property: username (the connection requires usernames)",
                        "username",
                    )],
                ));
                continue;
            }
            let hash = match (&row.password_hash, &row.custom_password_hash) {
                (Some(h), _) => gatehouse_crypto::imported::from_password_hash(h)
                    .map(Some)
                    .map_err(|e| ("password_hash", e)),
                (None, Some(c)) => gatehouse_crypto::imported::from_custom(c)
                    .map(Some)
                    .map_err(|e| ("custom_password_hash", e)),
                (None, None) => Ok(None),
            };
            let hash = match hash {
                Ok(h) => h,
                Err((path, e)) => {
                    batch.errors.push(row_error(
                        index,
                        &raw,
                        &[RowError::new("INVALID_FORMAT", e.0, path)],
                    ));
                    continue;
                }
            };
            row.password_hash = None;
            candidates.push(Candidate {
                index,
                raw,
                row,
                hash,
            });
        }
        let emails: Vec<String> = candidates.iter().map(|c| c.row.email.clone()).collect();
        let ids: Vec<String> = candidates
            .iter()
            .filter_map(|c| {
                c.row
                    .user_id
                    .as_ref()
                    .map(|id| format!("{DATABASE_PROVIDER}|{id}"))
            })
            .collect();
        let usernames: Vec<String> = candidates
            .iter()
            .filter_map(|c| c.row.username.clone())
            .collect();
        let existing = self
            .inner
            .users
            .import_matches(self.tenant(), connection_id, &emails, &ids, &usernames)
            .await?;
        tracing::debug!(
            rows = block.row_count,
            candidates = emails.len(),
            existing = existing.len(),
            "import batch matched"
        );
        let now = self.now();
        let picture_style = self.picture_style().await?;
        // Keys taken by earlier rows of this batch, so a file naming one user twice gets one
        // user and one DUPLICATED_USER, as across batches.
        let mut taken: HashSet<String> = HashSet::new();
        for c in candidates {
            let user_id = c
                .row
                .user_id
                .as_ref()
                .map(|id| format!("{DATABASE_PROVIDER}|{id}"));
            let keys: Vec<String> = [
                Some(format!("e:{}", c.row.email)),
                user_id.as_ref().map(|id| format!("i:{id}")),
                c.row.username.as_ref().map(|u| format!("u:{u}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            if let Some(k) = keys.iter().find(|k| taken.contains(*k)) {
                let what = match &k[..1] {
                    "e" => "email",
                    "i" => "user_id",
                    _ => "username",
                };
                batch.errors.push(duplicated(c.index, &c.raw, what));
                continue;
            }
            let matched = existing.iter().find(|(u, _)| {
                Some(&u.user.user_id) == user_id.as_ref()
                    || (u.user.connection_id == connection_id
                        && (u.user.email.as_deref() == Some(c.row.email.as_str())
                            || (c.row.username.is_some() && u.user.username == c.row.username)))
            });
            match matched {
                Some((found, _)) if !params.upsert => {
                    let what = if Some(&found.user.user_id) == user_id.as_ref() {
                        "user_id"
                    } else if found.user.email.as_deref() == Some(c.row.email.as_str()) {
                        "email"
                    } else {
                        "username"
                    };
                    batch.errors.push(duplicated(c.index, &c.raw, what));
                    continue;
                }
                Some((found, _)) if found.user.connection_id != connection_id => {
                    // The id belongs to a user of another connection: not this import's to change.
                    batch.errors.push(duplicated(c.index, &c.raw, "user_id"));
                    continue;
                }
                Some((found, stored_hash)) => {
                    let max = self.config().max_metadata_bytes;
                    match upserted(&found.user, &c, stored_hash.as_deref(), now, max) {
                        Ok(update) => batch.updates.push(update),
                        Err(e) => {
                            batch.errors.push(row_error(c.index, &c.raw, &[e]));
                            continue;
                        }
                    }
                }
                None => {
                    let user = self.imported_user(
                        &c,
                        connection_id,
                        &params.connection,
                        now,
                        picture_style,
                    )?;
                    for (i, factor) in c.row.mfa_factors.iter().enumerate() {
                        batch
                            .factors
                            .push(self.imported_factor(&user.user_id, i, factor)?);
                    }
                    batch.inserts.push(user);
                    batch.insert_hashes.push(c.hash.clone());
                }
            }
            taken.extend(keys);
        }
        Ok(batch)
    }

    /// An MFA factor as stored; TOTP secrets are sealed like every other secret at rest.
    fn imported_factor(&self, user_id: &str, i: usize, f: &MfaFactor) -> Result<ImportedFactor> {
        let id = format!("imported-{i}");
        Ok(match f {
            MfaFactor::Totp(secret) => ImportedFactor {
                user_id: user_id.to_string(),
                id,
                kind: "totp",
                secret: Some(
                    self.inner
                        .secrets
                        .seal(&format!("mfa-totp:{user_id}"), secret.as_bytes())
                        .map_err(ServiceError::internal)?,
                ),
                value: None,
            },
            MfaFactor::Phone(v) | MfaFactor::Email(v) => ImportedFactor {
                user_id: user_id.to_string(),
                id,
                kind: if matches!(f, MfaFactor::Phone(_)) {
                    "phone"
                } else {
                    "email"
                },
                secret: None,
                value: Some(v.clone()),
            },
        })
    }

    fn imported_user(
        &self,
        c: &Candidate,
        connection_id: &str,
        connection: &str,
        now: i64,
        picture_style: gatehouse_core::gdpr::DefaultPicture,
    ) -> Result<User> {
        let r = &c.row;
        let id = match &r.user_id {
            Some(id) => id.clone(),
            None => gatehouse_crypto::random::hex(12).map_err(ServiceError::internal)?,
        };
        let base = User::new(
            DATABASE_PROVIDER,
            &id,
            connection_id,
            connection,
            &r.email,
            now,
        );
        Ok(User {
            email_verified: r.email_verified.unwrap_or(false),
            username: r.username.clone(),
            phone_verified: r.phone_verified.unwrap_or(false) && r.phone_number.is_some(),
            phone_number: r.phone_number.clone(),
            given_name: r.given_name.clone(),
            family_name: r.family_name.clone(),
            name: r.name.clone().or(base.name.clone()),
            nickname: r.nickname.clone().or(base.nickname.clone()),
            picture: Some(r.picture.clone().unwrap_or_else(|| {
                let who = crate::pictures::Who {
                    email: &r.email,
                    given_name: r.given_name.as_deref(),
                    family_name: r.family_name.as_deref(),
                    name: r.name.as_deref(),
                };
                self.picture_for(picture_style, who)
            })),
            blocked: r.blocked,
            user_metadata: r.user_metadata.clone().unwrap_or_default(),
            app_metadata: r.app_metadata.clone().unwrap_or_default(),
            password_set_date: r.password_set_date.or(c.hash.as_ref().map(|_| now)),
            ..base
        })
    }
}

/// An upsert: only the upsertable fields the row gives change. Metadata merges at the top
/// level like a PATCH (nothing the row does not name is lost); `email_verified` keeps its
/// value unless the row gives one; a `custom_password_hash` replaces the stored hash only
/// while the user has not yet logged in with the imported one (it is still not argon2id).
fn upserted(
    current: &User,
    c: &Candidate,
    stored_hash: Option<&str>,
    now: i64,
    max_metadata: usize,
) -> Result<ImportUpdate, RowError> {
    let r = &c.row;
    // The same first-level merge and size rule as PATCH /api/v2/users; a row's empty
    // document changes nothing (it does not clear, as an empty PATCH would).
    let merge =
        |kind: MetadataKind, current: &Map<String, Value>, with: &Option<Map<String, Value>>| {
            match with {
                Some(w) if !w.is_empty() => MetadataPatch::parse(kind, w.clone())
                    .and_then(|p| p.merge_into(current.clone(), max_metadata))
                    .map_err(|e| RowError::new("INVALID_FORMAT", e.message, kind.field())),
                _ => Ok(current.clone()),
            }
        };
    let user = User {
        email_verified: r.email_verified.unwrap_or(current.email_verified),
        given_name: r.given_name.clone().or(current.given_name.clone()),
        family_name: r.family_name.clone().or(current.family_name.clone()),
        name: r.name.clone().or(current.name.clone()),
        nickname: r.nickname.clone().or(current.nickname.clone()),
        picture: r.picture.clone().or(current.picture.clone()),
        user_metadata: merge(MetadataKind::User, &current.user_metadata, &r.user_metadata)?,
        app_metadata: merge(MetadataKind::App, &current.app_metadata, &r.app_metadata)?,
        updated_at: now,
        ..current.clone()
    };
    let replace_hash = r.custom_password_hash.is_some()
        && stored_hash.is_none_or(gatehouse_crypto::password::needs_rehash);
    Ok(ImportUpdate {
        user,
        password_hash: if replace_hash { c.hash.clone() } else { None },
    })
}
