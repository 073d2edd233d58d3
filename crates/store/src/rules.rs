//! Rules and rules-config values (migration `0019`). Values arrive sealed. A tenant has a
//! handful of rules: they are read whole, in order.

use crate::{Db, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRule {
    pub id: String,
    pub name: String,
    pub script: String,
    #[sqlx(rename = "rule_order")]
    pub order: i64,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct RuleStore {
    db: Db,
}

const COLUMNS: &str = "id, name, script, rule_order, enabled, created_at, updated_at";

impl RuleStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// `Conflict` when the name or the order is taken.
    pub async fn insert(&self, tenant: &str, r: &StoredRule) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO rules (tenant_id, id, name, script, rule_order, enabled, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(tenant)
            .bind(&r.id)
            .bind(&r.name)
            .bind(&r.script)
            .bind(r.order)
            .bind(r.enabled)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Rewrites a rule; false when it is gone. `Conflict` when the name or order is taken.
    pub async fn update(&self, tenant: &str, r: &StoredRule) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let done = sqlx::query(
                "UPDATE rules SET name = $3, script = $4, rule_order = $5, enabled = $6, updated_at = $7
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(&r.id)
            .bind(&r.name)
            .bind(&r.script)
            .bind(r.order)
            .bind(r.enabled)
            .bind(r.updated_at)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    pub async fn delete(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let done = sqlx::query("DELETE FROM rules WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<StoredRule>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM rules WHERE tenant_id = $1 AND id = $2");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, StoredRule>(&sql)
                .bind(tenant)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every rule, in run order.
    pub async fn list(&self, tenant: &str) -> Result<Vec<StoredRule>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM rules WHERE tenant_id = $1 ORDER BY rule_order, id");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, StoredRule>(&sql)
                .bind(tenant)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Sets a rules-config value (sealed).
    pub async fn put_config(
        &self,
        tenant: &str,
        key: &str,
        sealed: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO rules_configs (tenant_id, config_key, sealed, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, config_key) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
            )
            .bind(tenant)
            .bind(key)
            .bind(sealed)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn delete_config(&self, tenant: &str, key: &str) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let done = sqlx::query("DELETE FROM rules_configs WHERE tenant_id = $1 AND config_key = $2")
                .bind(tenant)
                .bind(key)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Every rules-config key with its sealed value, by key.
    pub async fn configs(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, (String, String)>(
                "SELECT config_key, sealed FROM rules_configs WHERE tenant_id = $1 ORDER BY config_key",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await?)
        })
    }
}
