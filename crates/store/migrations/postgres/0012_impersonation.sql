-- Impersonation (issue 18, item 5): the administrator an authorization code was issued for
-- when an administrator logged in as its user. The code's exchange marks the tokens with it
-- (`act`, `impersonated`, `impersonator`); NULL for every ordinary login. The email is the
-- administrator's at the time, as the ID token's `impersonator.email` shows it.
ALTER TABLE authorization_codes ADD COLUMN impersonator_id TEXT;
ALTER TABLE authorization_codes ADD COLUMN impersonator_email TEXT;
