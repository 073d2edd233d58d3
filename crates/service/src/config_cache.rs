//! What the token path reads on every request (applications, their grants to APIs, APIs,
//! connections, the tenant's settings and the actions bound to triggers), kept in memory on each server.
//!
//! Every entry belongs to the tenant's configuration version (`config_versions`, which
//! triggers move forward in the transaction of every write to those tables, whoever
//! writes: the API, the dashboard, the CLI or another server). A request reads the version
//! once ([`Gatehouse::with_config_view`]) and uses only entries read at that version, so a
//! change made through any server applies on the next request everywhere, at the price of
//! one primary-key read instead of one read per setting (`ConfigVersions`: on the caller's
//! thread for a SQLite file, else one pool read shared by concurrent requests). Outside a view,
//! reads go to the database as before.

use crate::Gatehouse;
use crate::actions::rules::LoginRules;
use crate::error::{Result, ServiceError};
use gatehouse_core::actions::Trigger;
use gatehouse_core::tenant_settings::TenantSettings;
use gatehouse_store::{
    BoundAction, ClientGrant, StoredClient, StoredConnection, StoredResourceServer,
};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Entries per kind; a full map is emptied rather than grown (ids probed at random must
/// not grow memory without bound).
const MAX_ENTRIES: usize = 4096;

tokio::task_local! {
    /// The configuration version the current request reads at.
    static VIEW: i64;
}

#[derive(Default)]
pub(crate) struct ConfigCache {
    entries: RwLock<Entries>,
    /// Newer versions seen so far, and how many of them the keys and CORS origins have
    /// been reloaded for: a reload cut short (the request's deadline, a failed read) is
    /// done again by the next request instead of waiting for the next change.
    versions_seen: AtomicU64,
    reloaded_for: AtomicU64,
}

#[derive(Default)]
struct Entries {
    version: i64,
    clients: HashMap<String, Option<Arc<StoredClient>>>,
    apis: HashMap<String, Option<Arc<StoredResourceServer>>>,
    grants: HashMap<(String, String), Option<Arc<ClientGrant>>>,
    connections: HashMap<String, Option<Arc<StoredConnection>>>,
    settings: Option<Arc<TenantSettings>>,
    /// Whether some API signs with ES256 (the JWKS then publishes EC keys).
    es256_in_use: Option<bool>,
    /// Each trigger's bound actions with their deployed code, in run order.
    bound_actions: HashMap<Trigger, Arc<Vec<BoundAction>>>,
    /// The enabled rules in order, with the rules-config values.
    login_rules: Option<Arc<LoginRules>>,
}

impl ConfigCache {
    /// Moves the cache to `version` when it is newer, forgetting every entry; true when it
    /// did (what else depends on the configuration is then due a reload: `reload_due`).
    fn observe(&self, version: i64) -> bool {
        let Ok(mut e) = self.entries.write() else {
            return false;
        };
        if version <= e.version {
            return false;
        }
        *e = Entries {
            version,
            ..Entries::default()
        };
        self.versions_seen.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// The count of newer versions seen, when what follows the configuration has not been
    /// reloaded since the last of them.
    fn reload_due(&self) -> Option<u64> {
        let seen = self.versions_seen.load(Ordering::SeqCst);
        (self.reloaded_for.load(Ordering::SeqCst) < seen).then_some(seen)
    }

    fn reloaded(&self, seen: u64) {
        self.reloaded_for.fetch_max(seen, Ordering::SeqCst);
    }

    fn lookup<T>(&self, version: i64, pick: impl FnOnce(&Entries) -> Option<T>) -> Option<T> {
        let e = self.entries.read().ok()?;
        if e.version != version {
            return None;
        }
        pick(&e)
    }

    /// Keeps what was read at `version`, unless the cache has moved on since.
    fn keep(&self, version: i64, put: impl FnOnce(&mut Entries)) {
        if let Ok(mut e) = self.entries.write()
            && e.version == version
        {
            put(&mut e);
        }
    }
}

fn insert_bounded<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

/// The version of the enclosing view, if any.
fn view() -> Option<i64> {
    VIEW.try_with(|v| *v).ok()
}

impl Gatehouse {
    /// Runs `work` reading configuration at the version current now: one read of the
    /// version, then every cached setting read during `work` is the one stored at it.
    pub async fn with_config_view<F: Future>(&self, work: F) -> Result<F::Output> {
        let version = self.follow_configuration().await?;
        Ok(VIEW.scope(version, work).await)
    }

    /// Reads the configuration version and, when another server (or the CLI) has moved it,
    /// drops what this one kept of the older configuration: its cache, CORS origins and
    /// signing keys. The Management API calls it before verifying a token, so a key revoked
    /// through any server is refused by every server from its next request on.
    pub async fn follow_configuration(&self) -> Result<i64> {
        let version = self.inner.config_versions.read().await?;
        let cache = &self.inner.config_cache;
        cache.observe(version);
        if let Some(seen) = cache.reload_due() {
            self.configuration_changed().await?;
            cache.reloaded(seen);
        }
        Ok(version)
    }

    /// What else must follow the configuration when another version is seen: the CORS
    /// origins, and the signing keys (a rotation or revocation made on another server signs
    /// and verifies here from this request on).
    async fn configuration_changed(&self) -> Result<()> {
        self.inner.cors_origins.invalidate();
        self.reload_keyring().await
    }

    /// Whether some API signs with ES256, from the cache inside a view.
    pub(crate) async fn cached_es256_in_use(&self) -> Result<bool> {
        let Some(v) = view() else {
            return self.some_api_signs_es256().await;
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.es256_in_use) {
            return Ok(hit);
        }
        let found = self.some_api_signs_es256().await?;
        cache.keep(v, |e| e.es256_in_use = Some(found));
        Ok(found)
    }

    /// An application by id, from the cache inside a view.
    pub(crate) async fn cached_client(&self, client_id: &str) -> Result<Option<Arc<StoredClient>>> {
        let read = || async {
            Ok::<_, ServiceError>(
                self.inner
                    .clients
                    .get(self.tenant(), client_id)
                    .await?
                    .map(Arc::new),
            )
        };
        let Some(v) = view() else {
            return read().await;
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.clients.get(client_id).cloned()) {
            return Ok(hit);
        }
        let found = read().await?;
        cache.keep(v, |e| {
            insert_bounded(&mut e.clients, client_id.to_string(), found.clone())
        });
        Ok(found)
    }

    /// An API by identifier (its audience), from the cache inside a view.
    pub(crate) async fn cached_api(
        &self,
        identifier: &str,
    ) -> Result<Option<Arc<StoredResourceServer>>> {
        let read = || async {
            Ok::<_, ServiceError>(
                self.inner
                    .resource_servers
                    .get_by_identifier(self.tenant(), identifier)
                    .await?
                    .map(Arc::new),
            )
        };
        let Some(v) = view() else {
            return read().await;
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.apis.get(identifier).cloned()) {
            return Ok(hit);
        }
        let found = read().await?;
        cache.keep(v, |e| {
            insert_bounded(&mut e.apis, identifier.to_string(), found.clone())
        });
        Ok(found)
    }

    /// An application's grant to an API, from the cache inside a view.
    pub(crate) async fn cached_grant(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<Arc<ClientGrant>>> {
        let read = || async {
            Ok::<_, ServiceError>(
                self.inner
                    .clients
                    .grant(self.tenant(), client_id, audience)
                    .await?
                    .map(Arc::new),
            )
        };
        let Some(v) = view() else {
            return read().await;
        };
        let cache = &self.inner.config_cache;
        let key = (client_id.to_string(), audience.to_string());
        if let Some(hit) = cache.lookup(v, |e| e.grants.get(&key).cloned()) {
            return Ok(hit);
        }
        let found = read().await?;
        cache.keep(v, |e| insert_bounded(&mut e.grants, key, found.clone()));
        Ok(found)
    }

    /// A connection by name, from the cache inside a view.
    pub(crate) async fn cached_connection(
        &self,
        name: &str,
    ) -> Result<Option<Arc<StoredConnection>>> {
        let read = || async {
            Ok::<_, ServiceError>(
                self.inner
                    .connections
                    .get_by_name(self.tenant(), name)
                    .await?
                    .map(Arc::new),
            )
        };
        let Some(v) = view() else {
            return read().await;
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.connections.get(name).cloned()) {
            return Ok(hit);
        }
        let found = read().await?;
        cache.keep(v, |e| {
            insert_bounded(&mut e.connections, name.to_string(), found.clone())
        });
        Ok(found)
    }

    /// A trigger's bound actions (deployed versions, in order), from the cache inside a view.
    pub(crate) async fn cached_bindings_of(
        &self,
        trigger: Trigger,
    ) -> Result<Arc<Vec<BoundAction>>> {
        let read = || async {
            Ok::<_, ServiceError>(Arc::new(
                self.inner
                    .actions
                    .bound(self.tenant(), trigger.id())
                    .await?,
            ))
        };
        let Some(v) = view() else {
            return read().await;
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.bound_actions.get(&trigger).cloned()) {
            return Ok(hit);
        }
        let found = read().await?;
        cache.keep(v, |e| {
            e.bound_actions.insert(trigger, found.clone());
        });
        Ok(found)
    }

    /// The enabled rules and rules-config values, from the cache inside a view.
    pub(crate) async fn cached_login_rules(&self) -> Result<Arc<LoginRules>> {
        let Some(v) = view() else {
            return self.read_login_rules().await;
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.login_rules.clone()) {
            return Ok(hit);
        }
        let found = self.read_login_rules().await?;
        cache.keep(v, |e| e.login_rules = Some(found.clone()));
        Ok(found)
    }

    /// The tenant's settings, from the cache inside a view.
    pub(crate) async fn cached_tenant_settings(&self) -> Result<Arc<TenantSettings>> {
        let Some(v) = view() else {
            return Ok(Arc::new(self.tenant_settings().await?));
        };
        let cache = &self.inner.config_cache;
        if let Some(hit) = cache.lookup(v, |e| e.settings.clone()) {
            return Ok(hit);
        }
        let found = Arc::new(self.tenant_settings().await?);
        cache.keep(v, |e| e.settings = Some(found.clone()));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scope: &str) -> Option<Arc<ClientGrant>> {
        Some(Arc::new(ClientGrant {
            id: "cgr_1".into(),
            client_id: "c".into(),
            audience: "a".into(),
            scope: vec![scope.into()],
        }))
    }

    #[test]
    fn entries_read_at_an_older_version_are_neither_served_nor_kept() {
        let cache = ConfigCache::default();
        assert!(cache.observe(3));
        let key = ("c".to_string(), "a".to_string());
        cache.keep(3, |e| {
            insert_bounded(&mut e.grants, key.clone(), grant("read:x"))
        });
        assert!(cache.lookup(3, |e| e.grants.get(&key).cloned()).is_some());
        // Another request saw version 4: version 3's entries are gone, and a slow request
        // still at version 3 can neither read nor put back what it read.
        assert!(cache.observe(4));
        assert!(cache.lookup(3, |e| e.grants.get(&key).cloned()).is_none());
        cache.keep(3, |e| {
            insert_bounded(&mut e.grants, key.clone(), grant("old"))
        });
        assert!(cache.lookup(4, |e| e.grants.get(&key).cloned()).is_none());
        // Seeing an older version later changes nothing.
        assert!(!cache.observe(3));
        cache.keep(4, |e| {
            insert_bounded(&mut e.grants, key.clone(), grant("new"))
        });
        let hit = cache.lookup(4, |e| e.grants.get(&key).cloned()).flatten();
        assert_eq!(hit.map(|g| g.scope.clone()), Some(vec!["new".to_string()]));
    }

    #[test]
    fn a_reload_cut_short_is_still_due_at_the_next_request() {
        let cache = ConfigCache::default();
        assert_eq!(cache.reload_due(), None);
        cache.observe(7);
        // The request that saw version 7 is cancelled before its reload finished.
        let first = cache.reload_due();
        assert!(first.is_some());
        // The next request, still at version 7, reloads.
        assert_eq!(cache.reload_due(), first);
        // Meanwhile another request saw version 8: the reload made for 7 does not count
        // for 8, because its keys may have been read before 8 was written.
        cache.observe(8);
        let second = cache.reload_due();
        cache.reloaded(first.unwrap_or_default());
        assert_eq!(cache.reload_due(), second);
        cache.reloaded(second.unwrap_or_default());
        assert_eq!(cache.reload_due(), None);
        // An older or the same version seen again asks for nothing.
        cache.observe(8);
        cache.observe(5);
        assert_eq!(cache.reload_due(), None);
    }

    #[test]
    fn a_full_map_is_emptied_before_growing() {
        let mut map = HashMap::new();
        for i in 0..MAX_ENTRIES {
            insert_bounded(&mut map, i, ());
        }
        assert_eq!(map.len(), MAX_ENTRIES);
        insert_bounded(&mut map, MAX_ENTRIES, ());
        assert_eq!(map.len(), 1);
    }
}
