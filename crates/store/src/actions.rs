//! Actions, their deployed versions and trigger bindings (migration `0019`). Secrets arrive
//! sealed; this store never sees them in clear. Lists are short (a tenant has tens of
//! actions), so filtering by trigger or name happens on the rows read.

use crate::{BeginWrite, Db, StoreError, on_pool};
use gatehouse_core::actions::{Dependency, SupportedTrigger};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

/// A secret as stored: its value sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecret {
    pub name: String,
    pub sealed: String,
    pub updated_at: i64,
}

/// An action's draft and which version is deployed.
#[derive(Debug, Clone)]
pub struct StoredAction {
    pub id: String,
    pub name: String,
    pub code: String,
    pub runtime: String,
    pub supported_triggers: Vec<SupportedTrigger>,
    pub dependencies: Vec<Dependency>,
    pub secrets: Vec<StoredSecret>,
    pub deployed_version: Option<String>,
    /// When the deployed version was made: the draft has changes not deployed when it was
    /// updated since.
    pub deployed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A deployed copy of an action's draft.
#[derive(Debug, Clone)]
pub struct StoredActionVersion {
    pub id: String,
    pub action_id: String,
    pub number: i64,
    pub code: String,
    pub runtime: String,
    pub supported_triggers: Vec<SupportedTrigger>,
    pub dependencies: Vec<Dependency>,
    pub secrets: Vec<StoredSecret>,
    pub created_at: i64,
}

/// A binding of an action to a trigger, with the action it names.
#[derive(Debug, Clone)]
pub struct StoredBinding {
    pub id: String,
    pub trigger_id: String,
    pub display_name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub action: StoredAction,
}

/// What a flow runs for one binding: the action's deployed version.
#[derive(Debug, Clone)]
pub struct BoundAction {
    pub binding_id: String,
    pub action_id: String,
    pub action_name: String,
    pub version: StoredActionVersion,
}

/// Why an action was not deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionDeletion {
    Deleted,
    NotFound,
    /// Bound to these triggers, and `force` was not given.
    Bound(Vec<String>),
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: String,
    name: String,
    code: String,
    runtime: String,
    supported_triggers: Json<Vec<SupportedTrigger>>,
    dependencies: Json<Vec<Dependency>>,
    secrets: Json<Vec<StoredSecret>>,
    deployed_version: Option<String>,
    deployed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<ActionRow> for StoredAction {
    fn from(r: ActionRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            code: r.code,
            runtime: r.runtime,
            supported_triggers: r.supported_triggers.0,
            dependencies: r.dependencies.0,
            secrets: r.secrets.0,
            deployed_version: r.deployed_version,
            deployed_at: r.deployed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: String,
    action_id: String,
    number: i64,
    code: String,
    runtime: String,
    supported_triggers: Json<Vec<SupportedTrigger>>,
    dependencies: Json<Vec<Dependency>>,
    secrets: Json<Vec<StoredSecret>>,
    created_at: i64,
}

impl From<VersionRow> for StoredActionVersion {
    fn from(r: VersionRow) -> Self {
        Self {
            id: r.id,
            action_id: r.action_id,
            number: r.number,
            code: r.code,
            runtime: r.runtime,
            supported_triggers: r.supported_triggers.0,
            dependencies: r.dependencies.0,
            secrets: r.secrets.0,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct BindingRow {
    id: String,
    trigger_id: String,
    action_id: String,
    display_name: String,
    created_at: i64,
    updated_at: i64,
}

const ACTION_COLUMNS: &str = "id, name, code, runtime, supported_triggers, dependencies, secrets, deployed_version,
    (SELECT v.created_at FROM action_versions v WHERE v.tenant_id = actions.tenant_id AND v.id = actions.deployed_version) AS deployed_at,
    created_at, updated_at";
const VERSION_COLUMNS: &str =
    "id, action_id, number, code, runtime, supported_triggers, dependencies, secrets, created_at";

#[derive(Clone, Debug)]
pub struct ActionStore {
    db: Db,
}

impl ActionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// A new action; `Conflict` when its name is taken.
    pub async fn insert(&self, tenant: &str, a: &StoredAction) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO actions (tenant_id, id, name, code, runtime, supported_triggers, dependencies, secrets, deployed_version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(tenant)
            .bind(&a.id)
            .bind(&a.name)
            .bind(&a.code)
            .bind(&a.runtime)
            .bind(Json(&a.supported_triggers))
            .bind(Json(&a.dependencies))
            .bind(Json(&a.secrets))
            .bind(&a.deployed_version)
            .bind(a.created_at)
            .bind(a.updated_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Rewrites an action's draft (name, code, triggers, dependencies, secrets); false when
    /// it is gone. `Conflict` when the new name is taken.
    pub async fn update(&self, tenant: &str, a: &StoredAction) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let done = sqlx::query(
                "UPDATE actions SET name = $3, code = $4, runtime = $5, supported_triggers = $6, dependencies = $7, secrets = $8, updated_at = $9
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(&a.id)
            .bind(&a.name)
            .bind(&a.code)
            .bind(&a.runtime)
            .bind(Json(&a.supported_triggers))
            .bind(Json(&a.dependencies))
            .bind(Json(&a.secrets))
            .bind(a.updated_at)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<StoredAction>, StoreError> {
        let sql = format!("SELECT {ACTION_COLUMNS} FROM actions WHERE tenant_id = $1 AND id = $2");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, ActionRow>(&sql)
                .bind(tenant)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(Into::into))
        })
    }

    pub async fn get_by_name(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<StoredAction>, StoreError> {
        let sql =
            format!("SELECT {ACTION_COLUMNS} FROM actions WHERE tenant_id = $1 AND name = $2");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, ActionRow>(&sql)
                .bind(tenant)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .map(Into::into))
        })
    }

    /// Every action of the tenant, oldest first.
    pub async fn list(&self, tenant: &str) -> Result<Vec<StoredAction>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE tenant_id = $1 ORDER BY created_at, id"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, ActionRow>(&sql)
                .bind(tenant)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Deletes an action with its versions; bound ones only with `force`, which removes
    /// their bindings in the same transaction.
    pub async fn delete(
        &self,
        tenant: &str,
        id: &str,
        force: bool,
    ) -> Result<ActionDeletion, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM actions WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Ok(ActionDeletion::NotFound);
            }
            let bound: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT trigger_id FROM action_bindings WHERE tenant_id = $1 AND action_id = $2 ORDER BY trigger_id",
            )
            .bind(tenant)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            if !bound.is_empty() && !force {
                return Ok(ActionDeletion::Bound(bound));
            }
            // Positions may keep gaps: runs read bindings in position order.
            sqlx::query("DELETE FROM action_bindings WHERE tenant_id = $1 AND action_id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM action_versions WHERE tenant_id = $1 AND action_id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM actions WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(ActionDeletion::Deleted)
        })
    }

    /// Copies the action's draft into its next version and deploys it; `None` when the
    /// action is gone.
    pub async fn deploy(
        &self,
        tenant: &str,
        action_id: &str,
        version_id: &str,
        now: i64,
    ) -> Result<Option<StoredActionVersion>, StoreError> {
        let select =
            format!("SELECT {ACTION_COLUMNS} FROM actions WHERE tenant_id = $1 AND id = $2");
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let Some(action) = sqlx::query_as::<_, ActionRow>(&select)
                .bind(tenant)
                .bind(action_id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(None);
            };
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(number) FROM action_versions WHERE tenant_id = $1 AND action_id = $2",
            )
            .bind(tenant)
            .bind(action_id)
            .fetch_one(&mut *tx)
            .await?;
            let version = StoredActionVersion {
                id: version_id.to_string(),
                action_id: action_id.to_string(),
                number: last.unwrap_or(0) + 1,
                code: action.code,
                runtime: action.runtime,
                supported_triggers: action.supported_triggers.0,
                dependencies: action.dependencies.0,
                secrets: action.secrets.0,
                created_at: now,
            };
            sqlx::query(
                "INSERT INTO action_versions (tenant_id, id, action_id, number, code, runtime, supported_triggers, dependencies, secrets, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(tenant)
            .bind(&version.id)
            .bind(action_id)
            .bind(version.number)
            .bind(&version.code)
            .bind(&version.runtime)
            .bind(Json(&version.supported_triggers))
            .bind(Json(&version.dependencies))
            .bind(Json(&version.secrets))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE actions SET deployed_version = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(action_id)
                .bind(&version.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(version))
        })
    }

    /// Deploys an earlier version again (a roll-back); `None` when either is gone.
    pub async fn redeploy(
        &self,
        tenant: &str,
        action_id: &str,
        version_id: &str,
    ) -> Result<Option<StoredActionVersion>, StoreError> {
        let Some(version) = self.version(tenant, action_id, version_id).await? else {
            return Ok(None);
        };
        on_pool!(&self.db, pool => {
            let done = sqlx::query("UPDATE actions SET deployed_version = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(action_id)
                .bind(version_id)
                .execute(pool)
                .await?;
            Ok((done.rows_affected() > 0).then_some(version))
        })
    }

    /// An action's versions, newest first.
    pub async fn versions(
        &self,
        tenant: &str,
        action_id: &str,
    ) -> Result<Vec<StoredActionVersion>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM action_versions WHERE tenant_id = $1 AND action_id = $2 ORDER BY number DESC"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, VersionRow>(&sql)
                .bind(tenant)
                .bind(action_id)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    pub async fn version(
        &self,
        tenant: &str,
        action_id: &str,
        id: &str,
    ) -> Result<Option<StoredActionVersion>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM action_versions WHERE tenant_id = $1 AND action_id = $2 AND id = $3"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, VersionRow>(&sql)
                .bind(tenant)
                .bind(action_id)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(Into::into))
        })
    }

    /// A trigger's bindings in run order, with their actions.
    pub async fn bindings(
        &self,
        tenant: &str,
        trigger: &str,
    ) -> Result<Vec<StoredBinding>, StoreError> {
        let rows: Vec<BindingRow> = on_pool!(&self.db, pool => {
            sqlx::query_as::<_, BindingRow>(
                "SELECT id, trigger_id, action_id, display_name, created_at, updated_at FROM action_bindings
                 WHERE tenant_id = $1 AND trigger_id = $2 ORDER BY position",
            )
            .bind(tenant)
            .bind(trigger)
            .fetch_all(pool)
            .await?
        });
        let actions = self.list(tenant).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let action = actions.iter().find(|a| a.id == r.action_id)?.clone();
                Some(StoredBinding {
                    id: r.id,
                    trigger_id: r.trigger_id,
                    display_name: r.display_name,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    action,
                })
            })
            .collect())
    }

    /// Replaces a trigger's bindings with `(binding id, action id, display name)` in run
    /// order. A binding of an action bound before keeps its id and creation time.
    pub async fn replace_bindings(
        &self,
        tenant: &str,
        trigger: &str,
        bindings: &[(String, String, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let before: Vec<BindingRow> = sqlx::query_as::<_, BindingRow>(
                "SELECT id, trigger_id, action_id, display_name, created_at, updated_at FROM action_bindings
                 WHERE tenant_id = $1 AND trigger_id = $2",
            )
            .bind(tenant)
            .bind(trigger)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM action_bindings WHERE tenant_id = $1 AND trigger_id = $2")
                .bind(tenant)
                .bind(trigger)
                .execute(&mut *tx)
                .await?;
            for (position, (id, action_id, display_name)) in bindings.iter().enumerate() {
                let kept = before.iter().find(|b| &b.action_id == action_id);
                sqlx::query(
                    "INSERT INTO action_bindings (tenant_id, trigger_id, position, id, action_id, display_name, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(tenant)
                .bind(trigger)
                .bind(position as i64)
                .bind(kept.map_or(id, |b| &b.id))
                .bind(action_id)
                .bind(display_name)
                .bind(kept.map_or(now, |b| b.created_at))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// What a flow runs at `trigger`: each binding's deployed version, in order (bindings of
    /// an action with no deployed version are skipped; binding requires one).
    pub async fn bound(&self, tenant: &str, trigger: &str) -> Result<Vec<BoundAction>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            binding_id: String,
            action_name: String,
            #[sqlx(flatten)]
            version: VersionRow,
        }
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(
                "SELECT b.id AS binding_id, a.name AS action_name, v.id, v.action_id, v.number, v.code, v.runtime,
                        v.supported_triggers, v.dependencies, v.secrets, v.created_at
                 FROM action_bindings b
                 JOIN actions a ON a.tenant_id = b.tenant_id AND a.id = b.action_id
                 JOIN action_versions v ON v.tenant_id = a.tenant_id AND v.id = a.deployed_version
                 WHERE b.tenant_id = $1 AND b.trigger_id = $2
                 ORDER BY b.position",
            )
            .bind(tenant)
            .bind(trigger)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| BoundAction {
                    binding_id: r.binding_id,
                    action_id: r.version.action_id.clone(),
                    action_name: r.action_name,
                    version: r.version.into(),
                })
                .collect())
        })
    }

    /// Keeps a login waiting for `/continue` (its state sealed by the service).
    pub async fn save_continuation(
        &self,
        tenant: &str,
        state_hash: &str,
        sealed: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO login_continuations (tenant_id, state_hash, sealed, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant)
            .bind(state_hash)
            .bind(sealed)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Takes a waiting login once: `None` when it is unknown, expired or already resumed.
    pub async fn take_continuation(
        &self,
        tenant: &str,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "UPDATE login_continuations SET used_at = $3
                 WHERE tenant_id = $1 AND state_hash = $2 AND used_at IS NULL AND expires_at > $3
                 RETURNING sealed",
            )
            .bind(tenant)
            .bind(state_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// A waiting login's sealed state without taking it (the profiling page shows it first).
    pub async fn peek_continuation(
        &self,
        tenant: &str,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT sealed FROM login_continuations
                 WHERE tenant_id = $1 AND state_hash = $2 AND used_at IS NULL AND expires_at > $3",
            )
            .bind(tenant)
            .bind(state_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?)
        })
    }
}
