-- User search walks a broad clause's users in page order (created_at, user_id) and checks the
-- rest of the query per user, stopping at the end of the page: `family_name:Williams AND
-- app_metadata.plan:gold` reads about 200 Williamses instead of every user until 50 match.
-- Equality on these indexes lists users already in page order; a metadata range is sorted
-- from the index alone. user_metadata_index keeps each user's created_at for that, written
-- with its rows (a user's created_at never changes).
ALTER TABLE user_metadata_index ADD COLUMN created_at BIGINT;
UPDATE user_metadata_index SET created_at = (
    SELECT u.created_at FROM users u
    WHERE u.tenant_id = user_metadata_index.tenant_id AND u.user_id = user_metadata_index.user_id
);
DROP INDEX user_metadata_index_text;
DROP INDEX user_metadata_index_num;
CREATE INDEX user_metadata_index_text ON user_metadata_index (tenant_id, kind, path, v_text, created_at, user_id);
CREATE INDEX user_metadata_index_num ON user_metadata_index (tenant_id, kind, path, v_num, created_at, user_id);

DROP INDEX users_name_ci;
DROP INDEX users_given_name_ci;
DROP INDEX users_family_name_ci;
DROP INDEX users_nickname_ci;
DROP INDEX users_email_domain;
CREATE INDEX users_name_ci ON users (tenant_id, lower(name) text_pattern_ops, created_at, user_id);
CREATE INDEX users_given_name_ci ON users (tenant_id, lower(given_name) text_pattern_ops, created_at, user_id);
CREATE INDEX users_family_name_ci ON users (tenant_id, lower(family_name) text_pattern_ops, created_at, user_id);
CREATE INDEX users_nickname_ci ON users (tenant_id, lower(nickname) text_pattern_ops, created_at, user_id);
CREATE INDEX users_email_domain ON users (tenant_id, email_domain, created_at, user_id);
