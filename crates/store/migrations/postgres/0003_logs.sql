-- Tenant log events (Auth0's log event shape). log_id sorts by time: checkpoints walk it.
CREATE TABLE logs (
    tenant_id    TEXT NOT NULL,
    log_id       TEXT NOT NULL,
    date         BIGINT NOT NULL,
    type         TEXT NOT NULL,
    description  TEXT,
    client_id    TEXT,
    connection   TEXT,
    user_id      TEXT,
    user_name    TEXT,
    ip           TEXT,
    user_agent   TEXT,
    details      JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, log_id)
);
CREATE INDEX logs_by_user ON logs (tenant_id, user_id, log_id);
CREATE INDEX logs_by_type ON logs (tenant_id, type, log_id);
CREATE INDEX logs_by_date ON logs (tenant_id, date);
