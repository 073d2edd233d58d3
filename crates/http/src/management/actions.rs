//! `/api/v2/actions`: actions (drafts with sealed secrets), their deployment and versions,
//! the triggers Gatehouse runs and their ordered bindings, and test runs, with Auth0's routes,
//! answers (`{actions, total, page, per_page}` pages) and scopes.

use super::{Caller, page_slice};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::actions::{
    ActionPatch, DEFAULT_RUNTIME, NewAction, RUNTIMES, Trigger, bindings_from_payload,
};
use gatehouse_core::scopes::{CREATE_ACTIONS, DELETE_ACTIONS, READ_ACTIONS, UPDATE_ACTIONS};
use gatehouse_core::time::iso8601;
use gatehouse_service::actions::{ActionFilter, trigger_of};
use gatehouse_store::{StoredAction, StoredActionVersion, StoredBinding, StoredSecret};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/actions/actions", get(list).post(create))
        .route(
            "/actions/actions/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/actions/actions/{id}/deploy", post(deploy))
        .route("/actions/actions/{id}/test", post(test))
        .route("/actions/actions/{id}/versions", get(versions))
        .route("/actions/actions/{id}/versions/{version_id}", get(version))
        .route(
            "/actions/actions/{id}/versions/{version_id}/deploy",
            post(redeploy),
        )
        .route("/actions/triggers", get(triggers))
        .route(
            "/actions/triggers/{trigger_id}/bindings",
            get(bindings).patch(update_bindings),
        )
}

fn secrets(secrets: &[StoredSecret]) -> Value {
    secrets
        .iter()
        .map(|s| json!({"name": s.name, "updated_at": iso8601(s.updated_at)}))
        .collect()
}

fn action_json(a: &StoredAction) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "supported_triggers": a.supported_triggers,
        "code": a.code,
        "dependencies": a.dependencies,
        "runtime": a.runtime,
        "secrets": secrets(&a.secrets),
        "status": "built",
        "all_changes_deployed": a.deployed_at.is_some_and(|at| at >= a.updated_at),
        "created_at": iso8601(a.created_at),
        "updated_at": iso8601(a.updated_at),
    })
}

fn version_json(v: &StoredActionVersion, action: &StoredAction) -> Value {
    json!({
        "id": v.id,
        "action_id": v.action_id,
        "number": v.number,
        "code": v.code,
        "dependencies": v.dependencies,
        "runtime": v.runtime,
        "secrets": secrets(&v.secrets),
        "supported_triggers": v.supported_triggers,
        "deployed": action.deployed_version.as_deref() == Some(v.id.as_str()),
        "status": "built",
        "created_at": iso8601(v.created_at),
        "updated_at": iso8601(v.created_at),
        "built_at": iso8601(v.created_at),
        "action": {
            "id": action.id,
            "name": action.name,
            "supported_triggers": action.supported_triggers,
            "all_changes_deployed": action.deployed_at.is_some_and(|at| at >= action.updated_at),
            "created_at": iso8601(action.created_at),
            "updated_at": iso8601(action.updated_at),
        },
    })
}

fn binding_json(b: &StoredBinding) -> Value {
    json!({
        "id": b.id,
        "trigger_id": b.trigger_id,
        "display_name": b.display_name,
        "action": action_json(&b.action),
        "created_at": iso8601(b.created_at),
        "updated_at": iso8601(b.updated_at),
    })
}

/// Auth0's actions pages: `{<key>: [...], total, page, per_page}` whatever the query.
fn page(key: &str, items: Vec<Value>, total: i64, page: i64, per_page: i64) -> Json<Value> {
    let mut body = json!({"total": total, "page": page, "per_page": per_page});
    body[key] = Value::Array(items);
    Json(body)
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ACTIONS])?;
    q.allow_only(&[
        "triggerId",
        "actionName",
        "deployed",
        "installed",
        "page",
        "per_page",
    ])?;
    let (page_no, per_page) = q.paging()?;
    let filter = ActionFilter {
        trigger_id: q.str("triggerId").map(str::to_string),
        action_name: q.str("actionName").map(str::to_string),
        deployed: q.bool("deployed")?,
    };
    // No marketplace integrations here: `installed=true` lists nothing.
    let installed = q.bool("installed")?.unwrap_or(false);
    let (actions, total) = if installed {
        (vec![], 0)
    } else {
        s.gatehouse.list_actions(&filter, page_no, per_page).await?
    };
    Ok(page(
        "actions",
        actions.iter().map(action_json).collect(),
        total,
        page_no,
        per_page,
    ))
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_ACTIONS])?;
    let action = s
        .gatehouse
        .create_action(NewAction::from_payload(body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(action_json(&action))))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ACTIONS])?;
    Ok(Json(action_json(&s.gatehouse.get_action(&id).await?)))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_ACTIONS])?;
    let action = s
        .gatehouse
        .update_action(&id, ActionPatch::from_payload(body)?)
        .await?;
    Ok(Json(action_json(&action)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_ACTIONS])?;
    q.allow_only(&["force"])?;
    let force = q.bool("force")?.unwrap_or(false);
    s.gatehouse.delete_action(&id, force).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Auth0 answers a deployment with 202: the build is asynchronous there, immediate here.
async fn deploy(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_ACTIONS])?;
    let (version, action) = s.gatehouse.deploy_action(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(version_json(&version, &action))))
}

async fn redeploy(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, version_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_ACTIONS])?;
    let (version, action) = s
        .gatehouse
        .redeploy_action_version(&id, &version_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(version_json(&version, &action))))
}

async fn versions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ACTIONS])?;
    q.allow_only(&["page", "per_page"])?;
    let (page_no, per_page) = q.paging()?;
    let (all, action) = s.gatehouse.action_versions(&id).await?;
    let total = all.len() as i64;
    let items = page_slice(&all, page_no, per_page)
        .map(|v| version_json(v, &action))
        .collect();
    Ok(page("versions", items, total, page_no, per_page))
}

async fn version(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, version_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ACTIONS])?;
    let (version, action) = s.gatehouse.action_version(&id, &version_id).await?;
    Ok(Json(version_json(&version, &action)))
}

/// Runs the draft with `payload` as the event; the commands it produced, its console and
/// its time. Nothing is written.
async fn test(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[CREATE_ACTIONS])?;
    body.allow_only(&["payload"])?;
    let event = body.object("payload")?.unwrap_or_default();
    let trial = s.gatehouse.test_action(&id, event).await?;
    let mut payload = json!({
        "logs": trial.console.join("\n"),
        "stats": {"total_execution_duration_ms": trial.elapsed_ms},
    });
    match trial.result {
        Ok(commands) => payload["commands"] = commands,
        Err(error) => payload["error"] = json!({"message": error}),
    }
    Ok(Json(json!({ "payload": payload })))
}

async fn triggers(State(_s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ACTIONS])?;
    let triggers: Vec<Value> = Trigger::ALL
        .iter()
        .map(|t| {
            json!({
                "id": t.id(),
                "version": t.version(),
                "status": "CURRENT",
                "runtimes": RUNTIMES,
                "default_runtime": DEFAULT_RUNTIME,
                "compatible_triggers": [],
            })
        })
        .collect();
    Ok(Json(json!({ "triggers": triggers })))
}

async fn bindings(
    State(s): State<AppState>,
    caller: Caller,
    Path(trigger_id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ACTIONS])?;
    q.allow_only(&["page", "per_page"])?;
    let (page_no, per_page) = q.paging()?;
    let all = s
        .gatehouse
        .trigger_bindings(trigger_of(&trigger_id)?)
        .await?;
    let total = all.len() as i64;
    let items = page_slice(&all, page_no, per_page)
        .map(binding_json)
        .collect();
    Ok(page("bindings", items, total, page_no, per_page))
}

async fn update_bindings(
    State(s): State<AppState>,
    caller: Caller,
    Path(trigger_id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_ACTIONS])?;
    let trigger = trigger_of(&trigger_id)?;
    let wanted = bindings_from_payload(body)?;
    let bound = s.gatehouse.update_trigger_bindings(trigger, wanted).await?;
    Ok(Json(
        json!({ "bindings": bound.iter().map(binding_json).collect::<Vec<_>>() }),
    ))
}
