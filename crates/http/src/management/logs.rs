//! `/api/v2/logs`, `/api/v2/logs/{id}` and `/api/v2/users/{id}/logs`.

use super::{Caller, paged};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::log_event::{LogEvent, LogFilter};
use gatehouse_store::LogQuery;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/logs", get(list))
        .route("/logs/{id}", get(read))
        .route("/users/{id}/logs", get(user_logs))
}

fn descending(q: &QueryParams) -> ApiResult<bool> {
    match q.str("sort") {
        None | Some("date:-1") => Ok(true),
        Some("date:1") => Ok(false),
        Some(other) => Err(ApiError::invalid_query(format!(
            "Query validation error: 'sort must be date:1 or date:-1: {other}' on property sort."
        ))),
    }
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&["read:logs"])?;
    q.allow_only(&[
        "page",
        "per_page",
        "include_totals",
        "sort",
        "fields",
        "include_fields",
        "q",
        "from",
        "take",
    ])?;
    let filter = match q.str("q").map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => LogFilter::parse(text).map_err(|e| {
            ApiError::invalid_query(format!("Query validation error: '{e}' on property q."))
        })?,
        None => LogFilter::default(),
    };
    let fields = q.fields()?;
    // Checkpoint mode: events after `from`, oldest first, as Auth0's log API.
    if q.str("from").is_some() || q.str("take").is_some() {
        let query = LogQuery {
            filter,
            from: Some(q.str("from").unwrap_or("").to_string()),
            limit: q.int("take", 1, 100)?.unwrap_or(50),
            ascending: true,
            ..Default::default()
        };
        let (logs, _) = s.gatehouse.list_logs(&query).await?;
        return Ok(Json(Value::Array(
            logs.iter().map(|l| fields.apply(l.to_json())).collect(),
        )));
    }
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let query = LogQuery {
        filter,
        offset: page.saturating_mul(per_page),
        limit: per_page,
        ascending: !descending(&q)?,
        with_total: include_totals,
        ..Default::default()
    };
    let (logs, total) = s.gatehouse.list_logs(&query).await?;
    let logs = logs.iter().map(|l| fields.apply(l.to_json())).collect();
    Ok(paged(
        "logs",
        logs,
        include_totals,
        page,
        per_page,
        total.unwrap_or(0),
    ))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:logs"])?;
    Ok(Json(s.gatehouse.get_log(&id).await?.to_json()))
}

async fn user_logs(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:logs", "read:logs_users"])?;
    q.allow_only(&["page", "per_page", "include_totals", "sort"])?;
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let query = LogQuery {
        filter: LogFilter {
            user_id: Some(id),
            ..Default::default()
        },
        offset: page.saturating_mul(per_page),
        limit: per_page,
        ascending: !descending(&q)?,
        with_total: include_totals,
        ..Default::default()
    };
    let (logs, total) = s.gatehouse.list_logs(&query).await?;
    Ok(paged(
        "logs",
        logs.iter().map(LogEvent::to_json).collect(),
        include_totals,
        page,
        per_page,
        total.unwrap_or(0),
    ))
}
