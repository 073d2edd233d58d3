-- Background jobs (users imports and exports, verification emails): one row per job, leased
-- by one worker at a time (lease_owner, lease_until) and advanced batch by batch, each batch
-- committed together with the job's cursor and counters so a crash redoes at most the batch
-- it interrupted.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    params          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    total           BIGINT,
    processed       BIGINT NOT NULL DEFAULT 0,
    inserted        BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    cursor          TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    status_details  TEXT
);
CREATE INDEX jobs_by_status ON jobs (status, created_at);
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, kind, status);

-- A job's data in blocks: an import's uploaded users (whole records, length-prefixed) or an
-- export's output (one gzip member per block; concatenated they are one .gz file).
CREATE TABLE job_blocks (
    job_id     TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    first_row  BIGINT NOT NULL,
    row_count  BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- Rows an import could not take, with the reasons (GET /api/v2/jobs/{id}/errors).
CREATE TABLE job_errors (
    job_id     TEXT NOT NULL,
    row_index  BIGINT NOT NULL,
    user_row   TEXT NOT NULL,
    errors     TEXT NOT NULL,
    PRIMARY KEY (job_id, row_index)
);

-- MFA enrollments carried over by imports (`mfa_factors`): a sealed TOTP secret, or the
-- phone number / email a code goes to. Kept for the MFA flows that will use them.
CREATE TABLE mfa_enrollments (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    secret      BYTEA,
    value       TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, id)
);
