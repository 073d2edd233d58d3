//! Background jobs: the job rows, their data blocks and per-row errors. A worker leases a
//! job (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer) and commits each batch
//! together with the job's cursor and counters, after checking it still holds the lease, so
//! a crash or a lost lease redoes at most one batch and never writes one twice.

use crate::bulk::BulkInsert;
use crate::outbox::{OutboxMessage, insert_outbox};
use crate::users::replace_metadata_index;
use crate::{BeginWrite, Db, Dialect, StoreError, on_pool};
use gatehouse_core::user::User;
use sqlx::types::Json;

/// Stores one block of a job inside the caller's transaction.
macro_rules! insert_block {
    ($tx:expr, $job_id:expr, $block:expr) => {
        sqlx::query("INSERT INTO job_blocks (job_id, seq, first_row, row_count, data) VALUES ($1, $2, $3, $4, $5)")
            .bind($job_id)
            .bind($block.seq)
            .bind($block.first_row)
            .bind($block.row_count)
            .bind(&$block.data)
            .execute(&mut *$tx)
            .await?
    };
}

/// A job as stored. `params` is the job's request document (JSON).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub status: String,
    pub params: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub total: Option<i64>,
    pub processed: i64,
    pub inserted: i64,
    pub updated: i64,
    pub failed: i64,
    pub cursor: Option<String>,
    pub status_details: Option<String>,
}

const JOB_COLUMNS: &str = "id, tenant_id, kind, status, params, created_at, updated_at, started_at, finished_at, \
    total, processed, inserted, updated, failed, cursor, status_details";

/// Unfinished jobs of one kind and status.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobProgress {
    pub kind: String,
    pub status: String,
    pub jobs: i64,
    pub processed: i64,
}

/// One block of a job's data.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobBlock {
    pub seq: i64,
    pub first_row: i64,
    pub row_count: i64,
    pub data: Vec<u8>,
}

/// A row an import refused: its index in the file, the row with secrets redacted, and the
/// reasons (JSON array of `{code, message, path}`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobError {
    pub row_index: i64,
    pub user_row: String,
    pub errors: String,
}

/// An existing user an import row updates (`upsert`): the whole new profile, and a new
/// password hash when the row brings one.
#[derive(Clone, Debug)]
pub struct ImportUpdate {
    pub user: User,
    pub password_hash: Option<String>,
}

/// An MFA enrollment an import brings: `kind` is totp (with its sealed secret), phone or
/// email (with the value codes go to).
#[derive(Clone, Debug)]
pub struct ImportedFactor {
    pub user_id: String,
    pub id: String,
    pub kind: &'static str,
    pub secret: Option<Vec<u8>>,
    pub value: Option<String>,
}

/// What one import batch writes, atomically with the job's progress.
#[derive(Clone, Debug, Default)]
pub struct ImportBatch {
    pub inserts: Vec<User>,
    pub insert_hashes: Vec<Option<String>>,
    pub updates: Vec<ImportUpdate>,
    pub errors: Vec<JobError>,
    pub factors: Vec<ImportedFactor>,
    /// Rows this batch covered (inserted + updated + failed).
    pub rows: i64,
    pub next_cursor: String,
}

#[derive(Clone, Debug)]
pub struct JobStore {
    db: Db,
}

impl JobStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a job, with the emails it sends when it is done at once (in one transaction,
    /// so they go out exactly once).
    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        &self,
        tenant: &str,
        id: &str,
        kind: &str,
        status: &str,
        params: &str,
        now: i64,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let finished_at = (status == "completed").then_some(now);
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO jobs (id, tenant_id, kind, status, params, created_at, updated_at, finished_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
            )
            .bind(id)
            .bind(tenant)
            .bind(kind)
            .bind(status)
            .bind(params)
            .bind(now)
            .bind(finished_at)
            .execute(&mut *tx)
            .await?;
            insert_outbox!(tx, tenant, outbox);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores one block of an upload; the job's `updated_at` shows the upload is alive.
    pub async fn append_block(
        &self,
        job_id: &str,
        block: &JobBlock,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            insert_block!(tx, job_id, block);
            sqlx::query("UPDATE jobs SET updated_at = $2 WHERE id = $1").bind(job_id).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// An upload finished: the job, with its parameters, is ready for a worker.
    pub async fn mark_pending(
        &self,
        job_id: &str,
        params: &str,
        total: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE jobs SET status = 'pending', params = $2, total = $3, cursor = '0', updated_at = $4 WHERE id = $1")
                .bind(job_id)
                .bind(params)
                .bind(total)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Removes a job and everything it holds (an upload that failed half-way, expiry).
    pub async fn delete(&self, job_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for table in ["job_blocks", "job_errors"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE job_id = $1"))
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM jobs WHERE id = $1").bind(job_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, Job>(&sql).bind(tenant).bind(id).fetch_optional(pool).await?)
        })
    }

    /// Jobs of a kind that are still being received, waiting or running.
    pub async fn active_count(&self, tenant: &str, kind: &str) -> Result<i64, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND kind = $2 AND status IN ('receiving', 'pending', 'processing')",
            )
            .bind(tenant)
            .bind(kind)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Unfinished jobs (every tenant's) by kind and status, with the rows they processed so
    /// far, for `/metrics`.
    pub async fn progress(&self) -> Result<Vec<JobProgress>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, JobProgress>(
                "SELECT kind, status, COUNT(*) AS jobs, CAST(COALESCE(SUM(processed), 0) AS BIGINT) AS processed
                 FROM jobs WHERE status IN ('receiving', 'pending', 'processing')
                 GROUP BY kind, status ORDER BY kind, status",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Leases the oldest job that is waiting, or whose worker's lease ran out (a crash).
    pub async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        let skip_locked = match self.db.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'processing', lease_owner = $1, lease_until = $2 + $3,
                started_at = COALESCE(started_at, $2), updated_at = $2
             WHERE id = (SELECT id FROM jobs WHERE status IN ('pending', 'processing')
                           AND (lease_until IS NULL OR lease_until < $2)
                         ORDER BY created_at LIMIT 1{skip_locked})
               AND status IN ('pending', 'processing') AND (lease_until IS NULL OR lease_until < $2)
             RETURNING {JOB_COLUMNS}"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, Job>(&sql)
                .bind(owner)
                .bind(now)
                .bind(lease_ms)
                .fetch_optional(pool)
                .await?)
        })
    }

    pub async fn block(&self, job_id: &str, seq: i64) -> Result<Option<JobBlock>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, JobBlock>(
                "SELECT seq, first_row, row_count, data FROM job_blocks WHERE job_id = $1 AND seq = $2",
            )
            .bind(job_id)
            .bind(seq)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Commits one import batch with the job's progress. Returns false, writing nothing,
    /// when `owner` no longer holds the job's lease.
    pub async fn commit_import_batch(
        &self,
        tenant: &str,
        job_id: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
        batch: &ImportBatch,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let held = sqlx::query(
                "UPDATE jobs SET cursor = $3, processed = processed + $4, inserted = inserted + $5, updated = updated + $6,
                    failed = failed + $7, lease_until = $8, updated_at = $9
                 WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
            )
            .bind(job_id)
            .bind(owner)
            .bind(&batch.next_cursor)
            .bind(batch.rows)
            .bind(batch.inserts.len() as i64)
            .bind(batch.updates.len() as i64)
            .bind(batch.errors.len() as i64)
            .bind(now + lease_ms)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !held {
                return Ok(false);
            }
            BulkInsert::bulk_insert_users(&mut *tx, tenant, &batch.inserts, &batch.insert_hashes).await?;
            for u in &batch.updates {
                let user = &u.user;
                sqlx::query(
                    "UPDATE users SET email_verified = $3, given_name = $4, family_name = $5, name = $6, nickname = $7,
                        picture = $8, user_metadata = $9, app_metadata = $10, updated_at = $11,
                        password_hash = COALESCE($12, password_hash), version = version + 1
                     WHERE tenant_id = $1 AND user_id = $2",
                )
                .bind(tenant)
                .bind(&user.user_id)
                .bind(user.email_verified)
                .bind(&user.given_name)
                .bind(&user.family_name)
                .bind(&user.name)
                .bind(&user.nickname)
                .bind(&user.picture)
                .bind(Json(&user.user_metadata))
                .bind(Json(&user.app_metadata))
                .bind(user.updated_at)
                .bind(u.password_hash.as_deref())
                .execute(&mut *tx)
                .await?;
                replace_metadata_index!(tx, tenant, &user.user_id, &user.user_metadata, &user.app_metadata);
            }
            for f in &batch.factors {
                sqlx::query(
                    "INSERT INTO mfa_enrollments (tenant_id, user_id, id, kind, secret, value, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(tenant)
                .bind(&f.user_id)
                .bind(&f.id)
                .bind(f.kind)
                .bind(f.secret.as_deref())
                .bind(f.value.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for e in &batch.errors {
                sqlx::query("INSERT INTO job_errors (job_id, row_index, user_row, errors) VALUES ($1, $2, $3, $4)")
                    .bind(job_id)
                    .bind(e.row_index)
                    .bind(&e.user_row)
                    .bind(&e.errors)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Commits one export block (the next gzip member) with the job's progress; false when
    /// `owner` no longer holds the lease.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_export_block(
        &self,
        job_id: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
        block: &JobBlock,
        next_cursor: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let held = sqlx::query(
                "UPDATE jobs SET cursor = $3, processed = processed + $4, lease_until = $5, updated_at = $6
                 WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
            )
            .bind(job_id)
            .bind(owner)
            .bind(next_cursor)
            .bind(block.row_count)
            .bind(now + lease_ms)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !held {
                return Ok(false);
            }
            insert_block!(tx, job_id, block);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Sets the total an export will write, once counted.
    pub async fn set_total(&self, job_id: &str, owner: &str, total: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE jobs SET total = $3 WHERE id = $1 AND lease_owner = $2")
                .bind(job_id)
                .bind(owner)
                .bind(total)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Ends a job (`completed` or `failed`); the import's uploaded blocks are dropped, an
    /// export's output is kept for download.
    pub async fn finish(
        &self,
        job_id: &str,
        owner: &str,
        status: &str,
        details: Option<&str>,
        drop_blocks: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE jobs SET status = $3, status_details = $4, finished_at = $5, updated_at = $5, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
            )
            .bind(job_id)
            .bind(owner)
            .bind(status)
            .bind(details)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if done && drop_blocks {
                sqlx::query("DELETE FROM job_blocks WHERE job_id = $1").bind(job_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(done)
        })
    }

    /// Keeps the lease alive during a long step that commits nothing.
    pub async fn renew(&self, job_id: &str, owner: &str, until: i64) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'processing'")
                .bind(job_id)
                .bind(owner)
                .bind(until)
                .execute(pool)
                .await?
                .rows_affected()
                == 1)
        })
    }

    pub async fn errors(&self, job_id: &str) -> Result<Vec<JobError>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, JobError>(
                "SELECT row_index, user_row, errors FROM job_errors WHERE job_id = $1 ORDER BY row_index",
            )
            .bind(job_id)
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn block_count(&self, job_id: &str) -> Result<i64, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM job_blocks WHERE job_id = $1")
                .bind(job_id)
                .fetch_one(pool)
                .await?)
        })
    }

    /// Refreshes the planner's statistics of the user tables after a large import: until
    /// autovacuum gets to it, PostgreSQL plans with the old row counts (an export of 1,000,000
    /// freshly imported users sorted each page instead of walking the primary key).
    /// Refreshes PostgreSQL's statistics part-way through a large import. Without them a
    /// table that grew from empty keeps the plans of an empty table (where autovacuum is
    /// off or behind), and the import's look-ups slow down as it grows: 300,000 users into
    /// a fresh database took 167 s without, against ~80 s with. SQLite's planner picks the
    /// unique indexes without statistics, so nothing is done there.
    pub async fn analyze_users_while_importing(&self) -> Result<(), StoreError> {
        match self.db.dialect() {
            Dialect::Postgres => self.analyze_users().await,
            Dialect::Sqlite => Ok(()),
        }
    }

    pub async fn analyze_users(&self) -> Result<(), StoreError> {
        let sql = match self.db.dialect() {
            Dialect::Postgres => "ANALYZE users, user_metadata_index",
            Dialect::Sqlite => "ANALYZE users",
        };
        on_pool!(&self.db, pool => {
            sqlx::query(sql).execute(pool).await?;
            Ok(())
        })
    }

    /// Housekeeping: jobs (with their data) that ended before `finished_before`, uploads
    /// abandoned before `abandoned_before`.
    pub async fn sweep(
        &self,
        finished_before: i64,
        abandoned_before: i64,
    ) -> Result<u64, StoreError> {
        let ids: Vec<String> = on_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT id FROM jobs WHERE (finished_at IS NOT NULL AND finished_at < $1)
                    OR (status = 'receiving' AND updated_at < $2)",
            )
            .bind(finished_before)
            .bind(abandoned_before)
            .fetch_all(pool)
            .await?
        });
        for id in &ids {
            self.delete(id).await?;
        }
        Ok(ids.len() as u64)
    }
}
