//! Tenant log events: appended by every surface, read by `GET /api/v2/logs`.

use crate::{BeginWrite, Db, Dialect, StoreError, on_pool};
use gatehouse_core::log_event::{LogEvent, LogFilter};
use serde_json::{Map, Value};
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    log_id: String,
    date: i64,
    #[sqlx(rename = "type")]
    kind: String,
    description: Option<String>,
    client_id: Option<String>,
    connection: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: Json<Map<String, Value>>,
}

impl From<Row> for LogEvent {
    fn from(r: Row) -> Self {
        LogEvent {
            log_id: r.log_id,
            date: r.date,
            kind: r.kind,
            description: r.description,
            client_id: r.client_id,
            connection: r.connection,
            user_id: r.user_id,
            user_name: r.user_name,
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details.0,
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// The event types of the dashboard's activity charts: logins, sign-ups, failed logins.
pub const ACTIVITY_KINDS: [&str; 6] = ["s", "sepft", "ss", "f", "fp", "fu"];
/// The condition of the partial index `logs_activity`, word for word: SQLite uses a partial
/// index only for a query that names its condition, and PostgreSQL proves it from literals,
/// not from parameters.
const ACTIVITY_CONDITION: &str = "type IN ('s', 'sepft', 'ss', 'f', 'fp', 'fu')";

/// Events of one type on one UTC day (days since the epoch).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DayActivity {
    pub day: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub events: i64,
}

/// A page of log events: newest first by offset, or (checkpoint) oldest first after `from`.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub filter: LogFilter,
    pub from: Option<String>,
    pub offset: i64,
    pub limit: i64,
    pub ascending: bool,
    pub with_total: bool,
}

pub(crate) const COLUMNS: &str = "log_id, date, type, description, client_id, connection, user_id, user_name, ip, user_agent, details";
const CONDITION: &str = "tenant_id = $1 AND ($2 IS NULL OR type = $2) AND ($3 IS NULL OR user_id = $3) AND ($4 IS NULL OR client_id = $4)
    AND ($5 IS NULL OR connection = $5) AND ($6 IS NULL OR ip = $6) AND ($7 IS NULL OR date >= $7) AND ($8 IS NULL OR date <= $8)
    AND ($9 IS NULL OR log_id > $9)";

/// Rows per statement in [`LogStore::insert_batch`]: 12 parameters each, far below both
/// databases' parameter limits.
pub const ROWS_PER_INSERT: usize = 64;

/// `INSERT INTO logs … VALUES (…), (…)` for `rows` rows of twelve parameters. PostgreSQL's
/// are numbered; SQLite's are anonymous (`?`): for every numbered parameter sqlx asks SQLite
/// its name, a walk of the statement's name list, which made binding a 64-row batch
/// quadratic (3 % of a token request's CPU went to `sqlite3_bind_parameter_name`).
fn batch_insert_sql(rows: usize, dialect: Dialect) -> String {
    let mut sql = String::from(
        "INSERT INTO logs (tenant_id, log_id, date, type, description, client_id, connection, user_id, user_name, ip, user_agent, details) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..12 {
            if c > 0 {
                sql.push_str(", ");
            }
            match dialect {
                Dialect::Sqlite => sql.push('?'),
                Dialect::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * 12 + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// A `LIKE` pattern finding `term` anywhere (lowercase; `\` escapes).
pub(crate) fn contains_pattern(term: &str) -> String {
    let mut p = String::from("%");
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// How far before the pre-scan's newest event the in-transaction pass looks again: log
/// writes are best-effort and can land a little after their date.
pub(crate) const ERASURE_RESCAN_MARGIN_MS: i64 = 60_000;

/// The condition (from `$2` on) matching events that mention any of `patterns` anywhere in
/// their description or details (`details_text`: the details column as text in the dialect).
pub(crate) fn mention_condition(details_text: &str, patterns: usize) -> String {
    (0..patterns)
        .map(|i| {
            format!(
                "lower(COALESCE(description, '')) LIKE ${n} ESCAPE '\\' OR lower({details_text}) LIKE ${n} ESCAPE '\\'",
                n = i + 2
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The events that mention an erased user anywhere, found by a scan of the tenant's log
/// *before* the deleting transaction, so the scan holds no lock (on SQLite a write
/// transaction blocks every other writer): their ids, and the date from which the
/// transaction looks again for what was written meanwhile.
macro_rules! find_log_mentions {
    ($pool:expr, $details_text:expr, $tenant:expr, $erasure:expr) => {{
        let erasure: &gatehouse_core::gdpr::Erasure = $erasure;
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(date) FROM logs WHERE tenant_id = $1")
                .bind($tenant)
                .fetch_one($pool)
                .await?;
        let since = newest.unwrap_or(0) - $crate::logs::ERASURE_RESCAN_MARGIN_MS;
        let patterns: Vec<String> = erasure
            .terms()
            .map($crate::logs::contains_pattern)
            .collect();
        let mut ids: Vec<String> = vec![];
        if !patterns.is_empty() {
            let sql = format!(
                "SELECT log_id FROM logs WHERE tenant_id = $1 AND ({})",
                $crate::logs::mention_condition($details_text, patterns.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind($tenant);
            for p in &patterns {
                q = q.bind(p);
            }
            ids = q.fetch_all($pool).await?;
        }
        (ids, since)
    }};
}
pub(crate) use find_log_mentions;

/// Pseudonymises, inside the caller's transaction `$tx`, every event that names a user being
/// erased (`gatehouse_core::gdpr::Erasure`): their own events (by id, or by the email or
/// username they logged in with, both indexed) lose email, name, IP and user agent and keep
/// type, date, client and a pseudonymous id; other events that mention their id or email
/// anywhere (an administrator's `sapi` path, an impersonation's details) have the mention
/// replaced. Those mentions come from `$mentions` (log ids, [`find_log_mentions`]) plus a
/// scan of the events dated from `$since` on (the `logs_by_date` index), so the transaction
/// never scans the whole log. `$details_text` is the details column as text in the dialect.
macro_rules! erase_from_logs {
    ($tx:expr, $details_text:expr, $tenant:expr, $erasure:expr, $mentions:expr, $since:expr) => {{
        let erasure: &gatehouse_core::gdpr::Erasure = $erasure;
        let mentions: &[String] = $mentions;
        let cols = $crate::logs::COLUMNS;
        let mut found: std::collections::BTreeMap<String, gatehouse_core::log_event::LogEvent> =
            std::collections::BTreeMap::new();
        let by_id = format!("SELECT {cols} FROM logs WHERE tenant_id = $1 AND user_id = $2");
        let by_name =
            format!("SELECT {cols} FROM logs WHERE tenant_id = $1 AND lower(user_name) = $2");
        let by_log_id = format!("SELECT {cols} FROM logs WHERE tenant_id = $1 AND log_id = $2");
        let mut lookups: Vec<(&str, String)> = vec![];
        for id in &erasure.user_ids {
            lookups.push((&by_id, id.clone()));
        }
        for name in erasure.emails.iter().chain(&erasure.usernames) {
            lookups.push((&by_name, name.to_lowercase()));
        }
        for log_id in mentions {
            lookups.push((&by_log_id, log_id.clone()));
        }
        for (sql, value) in lookups {
            let rows = sqlx::query_as::<_, $crate::logs::Row>(sql)
                .bind($tenant)
                .bind(&value)
                .fetch_all(&mut *$tx)
                .await?;
            for r in rows {
                let e: gatehouse_core::log_event::LogEvent = r.into();
                found.insert(e.log_id.clone(), e);
            }
        }
        // Mentions written since the pre-scan: only the newest events are read again.
        let patterns: Vec<String> = erasure.terms().map($crate::logs::contains_pattern).collect();
        if !patterns.is_empty() {
            let n = patterns.len();
            let sql = format!(
                "SELECT {cols} FROM logs WHERE tenant_id = $1 AND date >= ${} AND ({})",
                n + 2,
                $crate::logs::mention_condition($details_text, n)
            );
            let mut q = sqlx::query_as::<_, $crate::logs::Row>(&sql).bind($tenant);
            for p in &patterns {
                q = q.bind(p);
            }
            for r in q.bind($since).fetch_all(&mut *$tx).await? {
                let e: gatehouse_core::log_event::LogEvent = r.into();
                found.insert(e.log_id.clone(), e);
            }
        }
        // The addresses the user came from: their own events' (other users' events from the
        // same address, a shared network, keep theirs).
        let mut ips: Vec<String> = found
            .values()
            .filter(|e| erasure.owns(e))
            .filter_map(|e| e.ip.clone())
            .collect();
        ips.sort();
        ips.dedup();
        for mut e in found.into_values() {
            if !erasure.scrub(&mut e, &ips) {
                continue;
            }
            sqlx::query(
                "UPDATE logs SET user_id = $3, user_name = $4, ip = $5, user_agent = $6, description = $7, details = $8
                 WHERE tenant_id = $1 AND log_id = $2",
            )
            .bind($tenant)
            .bind(&e.log_id)
            .bind(&e.user_id)
            .bind(&e.user_name)
            .bind(&e.ip)
            .bind(&e.user_agent)
            .bind(&e.description)
            .bind(sqlx::types::Json(&e.details))
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use erase_from_logs;

#[derive(Clone, Debug)]
pub struct LogStore {
    db: Db,
}

impl LogStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Writes one event (the log writer's fallback when a batch is refused).
    pub async fn insert(&self, tenant: &str, e: &LogEvent) -> Result<(), StoreError> {
        self.insert_batch(tenant, std::slice::from_ref(e)).await
    }

    /// Writes events in one transaction, in the order given (the log writer's batches), as
    /// multi-row inserts of at most [`ROWS_PER_INSERT`] rows.
    pub async fn insert_batch(&self, tenant: &str, events: &[LogEvent]) -> Result<(), StoreError> {
        let dialect = self.db.dialect();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in events.chunks(ROWS_PER_INSERT) {
                let sql = batch_insert_sql(chunk.len(), dialect);
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(tenant)
                        .bind(&e.log_id)
                        .bind(e.date)
                        .bind(&e.kind)
                        .bind(&e.description)
                        .bind(&e.client_id)
                        .bind(&e.connection)
                        .bind(&e.user_id)
                        .bind(&e.user_name)
                        .bind(&e.ip)
                        .bind(&e.user_agent)
                        .bind(Json(&e.details));
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn get(&self, tenant: &str, log_id: &str) -> Result<Option<LogEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM logs WHERE tenant_id = $1 AND log_id = $2");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, Row>(&sql).bind(tenant).bind(log_id).fetch_optional(pool).await?.map(Into::into))
        })
    }

    pub async fn list(
        &self,
        tenant: &str,
        q: &LogQuery,
    ) -> Result<(Vec<LogEvent>, Option<i64>), StoreError> {
        let dir = if q.ascending { "ASC" } else { "DESC" };
        // A fixed fragment, not a value: the two codes are constants.
        let api = if q.filter.exclude_api_operations {
            " AND type NOT IN ('sapi', 'fapi')"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM logs WHERE {CONDITION}{api} ORDER BY log_id {dir} LIMIT $10 OFFSET $11"
        );
        let count_sql = format!("SELECT COUNT(*) FROM logs WHERE {CONDITION}{api}");
        let f = &q.filter;
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(&sql)
                .bind(tenant)
                .bind(&f.kind)
                .bind(&f.user_id)
                .bind(&f.client_id)
                .bind(&f.connection)
                .bind(&f.ip)
                .bind(f.date_from)
                .bind(f.date_to)
                .bind(&q.from)
                .bind(q.limit)
                .bind(q.offset)
                .fetch_all(pool)
                .await?;
            let total = if q.with_total {
                Some(
                    sqlx::query_scalar::<_, i64>(&count_sql)
                        .bind(tenant)
                        .bind(&f.kind)
                        .bind(&f.user_id)
                        .bind(&f.client_id)
                        .bind(&f.connection)
                        .bind(&f.ip)
                        .bind(f.date_from)
                        .bind(f.date_to)
                        .bind(&q.from)
                        .fetch_one(pool)
                        .await?,
                )
            } else {
                None
            };
            Ok((rows.into_iter().map(Into::into).collect(), total))
        })
    }

    /// Events of the activity types ([`ACTIVITY_KINDS`]) per UTC day and type in
    /// `[from, to)` (epoch ms): the dashboard's charts, read from the partial index
    /// `logs_activity` alone (migration `0017`).
    pub async fn activity_by_day(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<DayActivity>, StoreError> {
        let sql = format!(
            "SELECT date / {DAY_MS} AS day, type, COUNT(*) AS events
             FROM logs WHERE tenant_id = $1 AND {ACTIVITY_CONDITION} AND date >= $2 AND date < $3
             GROUP BY date / {DAY_MS}, type"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, DayActivity>(&sql)
                .bind(tenant)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Distinct users who logged in (`s`, `sepft`) in `[from, to)` per period of
    /// `period_days` days counted from day `offset_days` (7 and 3: weeks starting on Mondays,
    /// as the epoch began on a Thursday), from the same index as
    /// [`LogStore::activity_by_day`].
    pub async fn active_users_by_period(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
        period_days: i64,
        offset_days: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        // Numbers of ours, not input: written into the text so both sides of GROUP BY match.
        let period = format!("(date / {DAY_MS} + {offset_days}) / {}", period_days.max(1));
        let sql = format!(
            "SELECT {period} AS period, COUNT(DISTINCT user_id) AS users
             FROM logs WHERE tenant_id = $1 AND {ACTIVITY_CONDITION} AND type IN ('s', 'sepft')
               AND date >= $2 AND date < $3
             GROUP BY {period}"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, (i64, i64)>(&sql)
                .bind(tenant)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Retention: deletes every tenant's events older than `before` (epoch ms).
    pub async fn delete_before(&self, before: i64) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query("DELETE FROM logs WHERE date < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_activity_condition_names_the_activity_kinds() {
        let listed: Vec<String> = ACTIVITY_KINDS.iter().map(|k| format!("'{k}'")).collect();
        assert_eq!(
            ACTIVITY_CONDITION,
            format!("type IN ({})", listed.join(", "))
        );
        let migration = include_str!("../migrations/sqlite/0017_log_activity.sql");
        assert!(migration.contains(&format!("WHERE {ACTIVITY_CONDITION};")));
        let migration = include_str!("../migrations/postgres/0017_log_activity.sql");
        assert!(migration.contains(&format!("WHERE {ACTIVITY_CONDITION};")));
    }
}
