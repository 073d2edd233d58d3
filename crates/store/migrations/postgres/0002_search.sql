-- User search (PostgreSQL): text_pattern_ops expression indexes serve equality and prefix
-- (LIKE 'abc%') on the case-insensitive fields; pg_trgm GIN indexes serve suffix and infix
-- wildcards; the metadata index holds one row per (path, scalar) of each user's metadata.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE users ADD COLUMN email_domain TEXT;
UPDATE users SET email_domain = lower(substr(email, strpos(email, '@') + 1)) WHERE email IS NOT NULL;

CREATE INDEX users_email_ci ON users (tenant_id, lower(email) text_pattern_ops);
CREATE INDEX users_name_ci ON users (tenant_id, lower(name) text_pattern_ops);
CREATE INDEX users_given_name_ci ON users (tenant_id, lower(given_name) text_pattern_ops);
CREATE INDEX users_family_name_ci ON users (tenant_id, lower(family_name) text_pattern_ops);
CREATE INDEX users_nickname_ci ON users (tenant_id, lower(nickname) text_pattern_ops);
CREATE INDEX users_user_id_pattern ON users (tenant_id, user_id text_pattern_ops);
CREATE INDEX users_username ON users (tenant_id, username text_pattern_ops);
CREATE INDEX users_phone_number ON users (tenant_id, phone_number text_pattern_ops);
CREATE INDEX users_email_domain ON users (tenant_id, email_domain);
CREATE INDEX users_logins_count ON users (tenant_id, logins_count);
CREATE INDEX users_updated_at ON users (tenant_id, updated_at);
CREATE INDEX users_last_login ON users (tenant_id, last_login);
CREATE INDEX users_connection_name ON users (tenant_id, connection_name);

CREATE INDEX users_email_trgm ON users USING gin (lower(email) gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);
CREATE INDEX users_given_name_trgm ON users USING gin (lower(given_name) gin_trgm_ops);
CREATE INDEX users_family_name_trgm ON users USING gin (lower(family_name) gin_trgm_ops);
CREATE INDEX users_nickname_trgm ON users USING gin (lower(nickname) gin_trgm_ops);

CREATE TABLE user_metadata_index (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    path       TEXT NOT NULL,
    v_text     TEXT COLLATE "C",
    v_num      DOUBLE PRECISION
);
CREATE INDEX user_metadata_index_text ON user_metadata_index (tenant_id, kind, path, v_text, user_id);
CREATE INDEX user_metadata_index_num ON user_metadata_index (tenant_id, kind, path, v_num, user_id);
CREATE INDEX user_metadata_index_user ON user_metadata_index (tenant_id, user_id);
