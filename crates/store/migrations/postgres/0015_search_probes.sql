-- User search checks a metadata term per user while it walks users in page order (a broad
-- range such as `app_metadata.seats:[100 TO 102]`): this index finds one user's value of one
-- path in a single seek, where the value-first indexes scan every user in the range. It
-- starts with (tenant_id, user_id), so it also serves what user_metadata_index_user did.
CREATE INDEX user_metadata_index_probe ON user_metadata_index (tenant_id, user_id, kind, path, v_num);
DROP INDEX user_metadata_index_user;
