-- Signing-key rotation (docs/signing-keys.md): each key's certificate (kept after revocation,
-- when the private key is erased), when it started and stopped signing, when it was revoked.
-- `status` is now one of current, next, previous, revoked; `algorithm` names the key's family
-- (RS256 for RSA keys, which also sign PS256; ES256 for EC P-256 keys).
ALTER TABLE signing_keys ADD COLUMN cert TEXT;
ALTER TABLE signing_keys ADD COLUMN current_since BIGINT;
ALTER TABLE signing_keys ADD COLUMN current_until BIGINT;
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
UPDATE signing_keys SET current_since = created_at WHERE status = 'current';
