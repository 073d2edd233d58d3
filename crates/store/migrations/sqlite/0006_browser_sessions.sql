-- Browser sessions behind the SSO cookie, single-use authorization codes, the scopes users
-- consented to per application, and tenant settings. Cookies and codes are stored only as
-- SHA-256 hashes of their values.
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

CREATE TABLE sessions (
    tenant_id     TEXT NOT NULL,
    cookie_hash   TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    auth_time     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    PRIMARY KEY (tenant_id, cookie_hash)
);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE authorization_codes (
    tenant_id              TEXT NOT NULL,
    code_hash              TEXT NOT NULL,
    client_id              TEXT NOT NULL,
    user_id                TEXT NOT NULL,
    redirect_uri           TEXT NOT NULL,
    scope                  TEXT NOT NULL,
    audience               TEXT,
    nonce                  TEXT,
    code_challenge         TEXT,
    code_challenge_method  TEXT,
    session_id             TEXT NOT NULL,
    auth_time              BIGINT NOT NULL,
    family_id              TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    expires_at             BIGINT NOT NULL,
    used_at                BIGINT,
    PRIMARY KEY (tenant_id, code_hash)
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE user_grants (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    audience    TEXT NOT NULL,
    scope       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id, audience)
);

CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
