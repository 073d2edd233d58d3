//! What roles and groups share: a prefixed random id, a unique name, a tenant-wide limit,
//! case-insensitive name filtering and paging held in memory (at most a thousand of each).

use super::over_limit;
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::authorization::NamedFields;
use gatehouse_crypto::random;
use gatehouse_store::{Named, NamedEntry, StoreError};

/// A kind of named entry and the words its answers use.
pub(super) struct Kind {
    pub named: Named,
    /// `rol_`, `grp_`.
    pub prefix: &'static str,
    pub limit: i64,
    /// The 409 for a name already taken.
    pub taken: &'static str,
    /// The 400's errorCode when the tenant has `limit` of them.
    pub too_many: &'static str,
    /// `roles`, `groups`: for that 400's message.
    pub plural: &'static str,
}

impl Gatehouse {
    pub(super) async fn create_named(
        &self,
        kind: &Kind,
        fields: NamedFields,
    ) -> Result<NamedEntry> {
        let entry = NamedEntry {
            id: format!(
                "{}{}",
                kind.prefix,
                random::alnum(16).map_err(ServiceError::internal)?
            ),
            name: fields.name.unwrap_or_default(),
            description: fields.description,
        };
        let inserted = self
            .inner
            .authorization
            .insert_named(kind.named, self.tenant(), &entry, kind.limit, self.now())
            .await
            .map_err(|e| taken(kind, e))?;
        if !inserted {
            return Err(over_limit(
                kind.too_many,
                format!(
                    "No more {} can be created: the limit is {} per tenant.",
                    kind.plural, kind.limit
                ),
            ));
        }
        Ok(entry)
    }

    /// Entries whose name holds `filter` (case-insensitive, Unicode-aware, the same on both
    /// databases because it runs here), by name: a page of them and the total.
    pub(super) async fn list_named(
        &self,
        named: Named,
        filter: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<NamedEntry>, i64)> {
        let all = self
            .inner
            .authorization
            .list_named(named, self.tenant())
            .await?;
        let matching = match filter.map(str::to_lowercase).filter(|f| !f.is_empty()) {
            None => all,
            Some(f) => all
                .into_iter()
                .filter(|r| r.name.to_lowercase().contains(&f))
                .collect(),
        };
        Ok(page_of(matching, page, per_page))
    }

    /// Applies a PATCH to `entry` and stores it; `Ok(None)` when it is gone meanwhile.
    pub(super) async fn save_named(
        &self,
        kind: &Kind,
        mut entry: NamedEntry,
        fields: NamedFields,
    ) -> Result<Option<NamedEntry>> {
        if let Some(n) = fields.name {
            entry.name = n;
        }
        if let Some(d) = fields.description {
            entry.description = Some(d);
        }
        let updated = self
            .inner
            .authorization
            .update_named(kind.named, self.tenant(), &entry)
            .await
            .map_err(|e| taken(kind, e))?;
        Ok(updated.then_some(entry))
    }
}

fn taken(kind: &Kind, e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => ServiceError::Conflict(kind.taken.into()),
        other => other.into(),
    }
}

/// One page of a list held whole in memory (roles, groups, permissions: at most a thousand).
pub(super) fn page_of<T>(all: Vec<T>, page: i64, per_page: i64) -> (Vec<T>, i64) {
    let total = all.len() as i64;
    let start = usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX);
    let items = all
        .into_iter()
        .skip(start)
        .take(usize::try_from(per_page).unwrap_or(0))
        .collect();
    (items, total)
}
