-- The dashboard's activity charts (service::activity): login, sign-up and failed-login events
-- by type and date with their user, read from the index alone. Partial, so the events of the
-- token path and the Management API (most of the log) cost it nothing. The list of types is
-- repeated, word for word, in the queries of LogStore::activity_by_day and
-- active_users_by_period (SQLite uses a partial index only for a query naming its condition).
CREATE INDEX logs_activity ON logs (tenant_id, type, date, user_id)
    WHERE type IN ('s', 'sepft', 'ss', 'f', 'fp', 'fu');
