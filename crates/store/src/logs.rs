//! Tenant log events: appended by every surface, read by `GET /api/v2/logs`.

use crate::{Db, StoreError, on_pool};
use gatehouse_core::log_event::{LogEvent, LogFilter};
use serde_json::{Map, Value};
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct Row {
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

const COLUMNS: &str = "log_id, date, type, description, client_id, connection, user_id, user_name, ip, user_agent, details";
const CONDITION: &str = "tenant_id = $1 AND ($2 IS NULL OR type = $2) AND ($3 IS NULL OR user_id = $3) AND ($4 IS NULL OR client_id = $4)
    AND ($5 IS NULL OR connection = $5) AND ($6 IS NULL OR ip = $6) AND ($7 IS NULL OR date >= $7) AND ($8 IS NULL OR date <= $8)
    AND ($9 IS NULL OR log_id > $9)";

#[derive(Clone, Debug)]
pub struct LogStore {
    db: Db,
}

impl LogStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, tenant: &str, e: &LogEvent) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO logs (tenant_id, log_id, date, type, description, client_id, connection, user_id, user_name, ip, user_agent, details)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
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
            .bind(Json(&e.details))
            .execute(pool)
            .await?;
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
