-- Email outbox: written in the same transaction as the change that causes the message,
-- delivered by a worker that leases due rows (next_attempt_at) and retries with backoff.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    sender           TEXT,
    subject          TEXT NOT NULL,
    text_body        TEXT NOT NULL,
    html_body        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    sent_at          BIGINT,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Tickets (password reset, email verification) are sealed tokens; a ticket's id lands here
-- when it is used, so each works once.
CREATE TABLE used_tickets (
    tenant_id   TEXT NOT NULL,
    ticket_id   TEXT NOT NULL,
    used_at     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id)
);

-- Passwordless email codes: one live code per (connection, email), stored as a SHA-256 hash,
-- with wrong-guess and resend counters.
CREATE TABLE passwordless_codes (
    tenant_id      TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    email          TEXT NOT NULL,
    code_hash      TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    window_start   BIGINT NOT NULL,
    sends          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, email)
);
