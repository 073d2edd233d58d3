-- What a federated logout needs of the login that started a session: for a SAML login, the
-- connection, the NameID (and its format) and the IdP's session index, as JSON. NULL for
-- every other login.
ALTER TABLE sessions ADD COLUMN federated TEXT;
