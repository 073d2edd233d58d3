-- Users from upstream identity providers (issue 16).
-- Every attribute a provider returns beyond the normalized profile, kept at the profile's root.
ALTER TABLE users ADD COLUMN idp_attributes TEXT NOT NULL DEFAULT '{}';
-- The provider's access and refresh tokens for the user's identity, sealed with the server key.
ALTER TABLE users ADD COLUMN idp_tokens TEXT;
-- A linked (secondary) identity names its primary user; it leaves the user list and logs in
-- as the primary.
ALTER TABLE users ADD COLUMN linked_to TEXT;
-- Partial: only linked rows are in it, so it never competes with the primary key for the
-- "linked_to IS NULL" of every list and export page.
CREATE INDEX users_linked_to ON users (tenant_id, linked_to) WHERE linked_to IS NOT NULL;
-- A login sent to a provider, until its callback consumes it: a replayed callback finds it gone.
CREATE TABLE upstream_states (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Deny-listed attributes of the login a code was issued for, sealed: they reach that login's
-- ID token and are never stored in the profile.
ALTER TABLE authorization_codes ADD COLUMN login_claims TEXT;
-- Two accounts at a provider may share an email address: one address per connection holds
-- for database and passwordless connections only.
DROP INDEX users_email_per_connection;
CREATE UNIQUE INDEX users_email_per_connection ON users (tenant_id, connection_id, email) WHERE provider IN ('auth0', 'email');
