//! `/api/v2/rules` and `/api/v2/rules-configs`: Auth0's legacy rules in run order (201 on
//! create, 409 on a taken name or order) and their configuration values, which are written
//! and listed by key but never read back.

use super::{Caller, page_slice, paged};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use gatehouse_core::rules::{NewRule, RulePatch, config_value_from_payload};
use gatehouse_core::scopes::{
    CREATE_RULES, DELETE_RULES, DELETE_RULES_CONFIGS, READ_RULES, READ_RULES_CONFIGS, UPDATE_RULES,
    UPDATE_RULES_CONFIGS,
};
use gatehouse_store::StoredRule;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rules", get(list).post(create))
        .route("/rules/{id}", get(read).patch(update).delete(remove))
        .route("/rules-configs", get(config_keys))
        .route(
            "/rules-configs/{key}",
            put(set_config).delete(remove_config),
        )
}

fn rule_json(r: &StoredRule) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "script": r.script,
        "order": r.order,
        "enabled": r.enabled,
        "stage": "login_success",
    })
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&[READ_RULES])?;
    q.allow_only(&[
        "enabled",
        "fields",
        "include_fields",
        "page",
        "per_page",
        "include_totals",
    ])?;
    let (page, per_page) = q.paging()?;
    let fields = q.fields()?;
    let all = s.gatehouse.list_rules(q.bool("enabled")?).await?;
    let total = all.len() as i64;
    let items = page_slice(&all, page, per_page)
        .map(|r| fields.apply(rule_json(r)))
        .collect();
    Ok(paged(
        "rules",
        items,
        q.bool("include_totals")?.unwrap_or(false),
        page,
        per_page,
        total,
    ))
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_RULES])?;
    let rule = s
        .gatehouse
        .create_rule(NewRule::from_payload(body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(rule_json(&rule))))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_RULES])?;
    q.allow_only(&["fields", "include_fields"])?;
    let fields = q.fields()?;
    Ok(Json(
        fields.apply(rule_json(&s.gatehouse.get_rule(&id).await?)),
    ))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_RULES])?;
    let rule = s
        .gatehouse
        .update_rule(&id, RulePatch::from_payload(body)?)
        .await?;
    Ok(Json(rule_json(&rule)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_RULES])?;
    s.gatehouse.delete_rule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn config_keys(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(&[READ_RULES_CONFIGS])?;
    let keys = s.gatehouse.rules_config_keys().await?;
    Ok(Json(
        keys.into_iter().map(|k| json!({ "key": k })).collect(),
    ))
}

async fn set_config(
    State(s): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_RULES_CONFIGS])?;
    let value = config_value_from_payload(body)?;
    s.gatehouse.set_rules_config(&key, &value).await?;
    Ok(Json(json!({ "key": key, "value": value })))
}

async fn remove_config(
    State(s): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_RULES_CONFIGS])?;
    s.gatehouse.delete_rules_config(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}
