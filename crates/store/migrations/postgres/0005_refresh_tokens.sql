-- Rotating refresh tokens. Only a SHA-256 of each token is stored; tokens of one login share a
-- family, and reusing a rotated token revokes the whole family.
CREATE TABLE refresh_tokens (
    tenant_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    audience    TEXT,
    scope       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (tenant_id, user_id);
