-- Brute-force protection: consecutive failed logins per user and source IP.
CREATE TABLE login_failures (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    failures    BIGINT NOT NULL,
    blocked_at  BIGINT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, ip)
);
