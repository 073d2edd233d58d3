-- Hardening after the security review.
-- L2: a dashboard session is not an SSO session: each cookie is looked up as its own kind.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'sso';
-- M8: message bodies are sealed with the server's key until sent, and blanked once sent;
-- a message that can never be delivered (a malformed recipient) is given up, not retried.
ALTER TABLE outbox ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE outbox ADD COLUMN given_up_at BIGINT;
UPDATE outbox SET text_body = '', html_body = '' WHERE sent_at IS NOT NULL;
-- M6: a user's codes go with them; find them by user (refresh tokens already are).
CREATE INDEX authorization_codes_by_user ON authorization_codes (tenant_id, user_id);
