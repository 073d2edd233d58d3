-- GDPR erasure finds a deleted user's events by the name they logged in with, as well as by
-- their id (logs_by_user): failed logins of an unknown address carry only the name.
CREATE INDEX logs_by_user_name ON logs (tenant_id, lower(user_name));
