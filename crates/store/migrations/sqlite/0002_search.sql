-- User search (SQLite): expression indexes on the case-insensitive fields, plain indexes on
-- the others, and the metadata index: one row per (path, scalar) of each user's metadata.
ALTER TABLE users ADD COLUMN email_domain TEXT;
UPDATE users SET email_domain = lower(substr(email, instr(email, '@') + 1)) WHERE email IS NOT NULL;

CREATE INDEX users_email_ci ON users (tenant_id, lower(email));
CREATE INDEX users_name_ci ON users (tenant_id, lower(name));
CREATE INDEX users_given_name_ci ON users (tenant_id, lower(given_name));
CREATE INDEX users_family_name_ci ON users (tenant_id, lower(family_name));
CREATE INDEX users_nickname_ci ON users (tenant_id, lower(nickname));
CREATE INDEX users_username ON users (tenant_id, username);
CREATE INDEX users_phone_number ON users (tenant_id, phone_number);
CREATE INDEX users_email_domain ON users (tenant_id, email_domain);
CREATE INDEX users_logins_count ON users (tenant_id, logins_count);
CREATE INDEX users_updated_at ON users (tenant_id, updated_at);
CREATE INDEX users_last_login ON users (tenant_id, last_login);
CREATE INDEX users_connection_name ON users (tenant_id, connection_name);

CREATE TABLE user_metadata_index (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    path       TEXT NOT NULL,
    v_text     TEXT,
    v_num      REAL
);
CREATE INDEX user_metadata_index_text ON user_metadata_index (tenant_id, kind, path, v_text, user_id);
CREATE INDEX user_metadata_index_num ON user_metadata_index (tenant_id, kind, path, v_num, user_id);
CREATE INDEX user_metadata_index_user ON user_metadata_index (tenant_id, user_id);
