-- Foundation schema (SQLite). Timestamps are epoch milliseconds; JSON documents are TEXT.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    algorithm    TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE clients (
    client_id      TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    settings       TEXT NOT NULL,
    client_secret  BLOB,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX clients_by_tenant ON clients (tenant_id, created_at);

CREATE TABLE resource_servers (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    identifier  TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, identifier)
);

CREATE TABLE client_grants (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    client_id   TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    audience    TEXT NOT NULL,
    scope       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, client_id, audience)
);

CREATE TABLE users (
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    user_id              TEXT NOT NULL,
    connection_id        TEXT NOT NULL REFERENCES connections(id),
    connection_name      TEXT NOT NULL,
    provider             TEXT NOT NULL,
    email                TEXT,
    email_verified       BOOLEAN NOT NULL DEFAULT FALSE,
    username             TEXT,
    phone_number         TEXT,
    phone_verified       BOOLEAN NOT NULL DEFAULT FALSE,
    given_name           TEXT,
    family_name          TEXT,
    name                 TEXT,
    nickname             TEXT,
    picture              TEXT,
    blocked              BOOLEAN,
    user_metadata        TEXT NOT NULL DEFAULT '{}',
    app_metadata         TEXT NOT NULL DEFAULT '{}',
    password_hash        TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    last_login           BIGINT,
    last_ip              TEXT,
    logins_count         BIGINT NOT NULL DEFAULT 0,
    last_password_reset  BIGINT,
    password_set_date    BIGINT,
    version              BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE UNIQUE INDEX users_email_per_connection ON users (tenant_id, connection_id, email);
CREATE UNIQUE INDEX users_username_per_connection ON users (tenant_id, connection_id, username);
CREATE INDEX users_by_email ON users (tenant_id, email);
CREATE INDEX users_by_created ON users (tenant_id, created_at, user_id);
CREATE INDEX users_by_connection ON users (tenant_id, connection_id, created_at);

CREATE TABLE password_history (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    hash        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX password_history_by_user ON password_history (tenant_id, user_id, created_at);
