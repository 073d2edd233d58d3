//! Gatehouse's use cases, independent of HTTP: each module is one domain (users, clients,
//! connections, tokens) and talks to the stores and the crypto crate.

pub mod account;
pub mod actions;
pub mod activity;
pub mod admin;
pub mod authorization;
pub mod bootstrap;
pub mod breached;
pub mod browser;
pub mod clients;
pub mod clock;
mod config_cache;
pub mod connections;
pub mod cors;
pub mod credentials;
pub mod custom_db;
pub mod delegated_admin;
pub mod directory;
pub mod email_templates;
pub mod error;
pub mod gdpr;
pub mod hashing;
mod housekeeping;
pub mod identities;
pub mod impersonation;
pub mod jobs;
pub mod keyring;
mod log_writer;
pub mod logs;
pub mod metrics;
pub mod oauth;
pub mod passwordless;
mod pictures;
pub mod resource_servers;
pub mod saml;
mod sealed;
pub mod signing_keys;
pub mod tenant_settings;
pub(crate) mod upstream;
pub mod user_blocks;
pub mod users;

pub use error::{Failure, Result, ServiceError};

use gatehouse_crypto::secretbox::SecretBox;
use gatehouse_store::{
    AuthorizationCodeStore, ClientStore, ConnectionStore, Db, JobStore, KeyStore, LogStore,
    LoginFailureStore, OutboxStore, PasswordlessStore, RefreshTokenStore, ResourceServerStore,
    SessionStore, TenantStore, UserGrantStore, UserStore,
};
use hashing::PasswordHasher;
use keyring::KeyRing;
use std::sync::Arc;

/// The tenant every request is served from until host-based tenants land.
pub const DEFAULT_TENANT: &str = "default";

/// Settings the services need; the binary fills them from flags and environment.
/// A value (key material) that debug output never shows.
#[derive(Clone)]
pub struct Redacted<T>(pub T);

impl<T> std::fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redacted(..)")
    }
}

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// `GATEHOUSE_PUBLIC_URL` without a trailing slash, e.g. `http://127.0.0.1:3000`.
    pub public_url: String,
    pub tenant: String,
    pub max_metadata_bytes: usize,
    /// Consecutive failed logins from one IP that block a user from that IP.
    pub brute_force_threshold: i64,
    /// Failed logins for one user from any IP within an hour after which the user's logins
    /// are refused until an hour passes without one (or an administrator lifts it).
    pub brute_force_user_limit: i64,
    /// A user search still running after this many milliseconds is stopped (503).
    pub search_timeout_ms: u64,
    /// Tenant log events older than this are deleted (milliseconds; 0 keeps them forever).
    pub log_retention_ms: i64,
    /// A Pwned Passwords range service (`{url}/{first five hex of SHA-1}`), if any.
    pub breached_passwords_url: Option<String>,
    /// Where "now" comes from: the system clock, or a test's [`clock::ManualClock`].
    pub clock: Arc<dyn clock::Clock>,
    /// The signing key (PKCS#8 DER) a new database starts with instead of a generated one;
    /// tests share one, so each test server does not generate an RSA key.
    pub first_signing_key: Option<Redacted<Vec<u8>>>,
    /// Stand-ins for the social presets' providers, by strategy: the origin that replaces
    /// the provider's documented one (`GATEHOUSE_UPSTREAM_ORIGIN_OVERRIDES`; tests and local
    /// development).
    pub upstream_origin_overrides: std::collections::HashMap<String, String>,
    /// What customers' scripts may use: time, memory, threads, reachable hosts.
    pub scripts: gatehouse_scripts::SandboxLimits,
}

impl ServiceConfig {
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            tenant: DEFAULT_TENANT.to_string(),
            max_metadata_bytes: gatehouse_core::metadata::DEFAULT_MAX_METADATA_BYTES,
            brute_force_threshold: 10,
            brute_force_user_limit: 100,
            search_timeout_ms: gatehouse_store::SEARCH_TIMEOUT.as_millis() as u64,
            log_retention_ms: 30 * 86_400_000,
            breached_passwords_url: None,
            clock: Arc::new(clock::SystemClock),
            first_signing_key: None,
            upstream_origin_overrides: Default::default(),
            scripts: gatehouse_scripts::SandboxLimits::default(),
        }
    }

    /// Cookies carry `Secure` when the server is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The token issuer: the public URL with a trailing slash, as Auth0 prints it.
    pub fn issuer(&self) -> String {
        format!("{}/", self.public_url)
    }

    /// The Management API audience, `{public}/api/v2/`.
    pub fn management_audience(&self) -> String {
        format!("{}/api/v2/", self.public_url)
    }
}

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct Gatehouse {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServiceConfig,
    db: Db,
    actions: gatehouse_store::ActionStore,
    rules: gatehouse_store::RuleStore,
    users: UserStore,
    clients: ClientStore,
    connections: ConnectionStore,
    resource_servers: ResourceServerStore,
    authorization: gatehouse_store::AuthorizationStore,
    logs: LogStore,
    login_failures: LoginFailureStore,
    refresh_tokens: RefreshTokenStore,
    sessions: SessionStore,
    codes: AuthorizationCodeStore,
    user_grants: UserGrantStore,
    outbox: OutboxStore,
    jobs: JobStore,
    passwordless: PasswordlessStore,
    upstream_states: gatehouse_store::UpstreamStateStore,
    /// Upstream providers' discovery documents and signing keys.
    provider_cache: upstream::ProviderCache,
    /// Directory connections' service-account connections, kept between logins.
    directory_pool: gatehouse_directory::ConnectionPool,
    /// Outgoing HTTP (the breached-password range service).
    http: reqwest::Client,
    secrets: Arc<SecretBox>,
    /// Where recorded events go to be written in batches ([`Gatehouse::record`]).
    log_writer: log_writer::LogWriter,
    hasher: PasswordHasher,
    /// The counters `/metrics` reports.
    metrics: metrics::Metrics,
    /// Swapped whole by [`Gatehouse::reload_keyring`]; signing takes a clone of the `Arc`
    /// under a read lock held for no longer than that.
    keyring: std::sync::RwLock<Arc<KeyRing>>,
    /// When an unknown `kid` last made this node reload its keys (epoch ms, wall clock).
    keyring_reloaded_at: std::sync::atomic::AtomicI64,
    /// One reload at a time, so a slow one never swaps in keys older than a later one's.
    keyring_reload: tokio::sync::Mutex<()>,
    /// The script sandbox, started at the first script run.
    scripts: tokio::sync::OnceCell<gatehouse_scripts::ScriptPool>,
    /// The origins browsers may call the Authentication API from (`cors`).
    cors_origins: cors::OriginCache,
    /// Applications, grants, APIs, connections and settings read by the token path.
    config_cache: config_cache::ConfigCache,
    /// Reads the configuration version the cache follows, once per token request.
    config_versions: gatehouse_store::ConfigVersions,
}

impl Gatehouse {
    /// Loads (or on first start creates) the signing keys; the database must be migrated.
    pub async fn open(config: ServiceConfig, db: Db, secrets: SecretBox) -> Result<Self> {
        let keys = KeyStore::new(db.clone());
        let tenants = TenantStore::new(db.clone());
        tenants
            .ensure(&config.tenant, &config.tenant, config.clock.now_millis())
            .await?;
        let keyring = KeyRing::load_or_create(
            &keys,
            &config.tenant,
            &secrets,
            config.first_signing_key.as_ref().map(|k| k.0.as_slice()),
            keyring::common_name(&config.issuer()),
            config.clock.now_millis(),
        )
        .await?;
        let log_writer =
            log_writer::LogWriter::start(LogStore::new(db.clone()), config.tenant.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                users: UserStore::new(db.clone()).with_search_timeout(
                    std::time::Duration::from_millis(config.search_timeout_ms),
                ),
                actions: gatehouse_store::ActionStore::new(db.clone()),
                rules: gatehouse_store::RuleStore::new(db.clone()),
                clients: ClientStore::new(db.clone()),
                connections: ConnectionStore::new(db.clone()),
                resource_servers: ResourceServerStore::new(db.clone()),
                authorization: gatehouse_store::AuthorizationStore::new(db.clone()),
                logs: LogStore::new(db.clone()),
                login_failures: LoginFailureStore::new(db.clone()),
                refresh_tokens: RefreshTokenStore::new(db.clone()),
                sessions: SessionStore::new(db.clone()),
                codes: AuthorizationCodeStore::new(db.clone()),
                user_grants: UserGrantStore::new(db.clone()),
                outbox: OutboxStore::new(db.clone()),
                jobs: JobStore::new(db.clone()),
                passwordless: PasswordlessStore::new(db.clone()),
                upstream_states: gatehouse_store::UpstreamStateStore::new(db.clone()),
                provider_cache: upstream::ProviderCache::default(),
                directory_pool: gatehouse_directory::ConnectionPool::default(),
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(3))
                    .build()
                    .map_err(ServiceError::internal)?,
                config_versions: gatehouse_store::ConfigVersions::new(db.clone(), &config.tenant),
                db,
                config,
                secrets: Arc::new(secrets),
                log_writer,
                hasher: PasswordHasher::for_this_machine(),
                metrics: metrics::Metrics::default(),
                keyring: std::sync::RwLock::new(Arc::new(keyring)),
                keyring_reloaded_at: std::sync::atomic::AtomicI64::new(0),
                keyring_reload: tokio::sync::Mutex::new(()),
                scripts: tokio::sync::OnceCell::new(),
                cors_origins: cors::OriginCache::default(),
                config_cache: config_cache::ConfigCache::default(),
            }),
        })
    }

    /// Now, in epoch milliseconds, from the service's clock.
    pub fn now(&self) -> i64 {
        self.inner.config.clock.now_millis()
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The key that seals values at rest (the mail sender opens outbox bodies with it).
    pub fn secrets(&self) -> Arc<SecretBox> {
        self.inner.secrets.clone()
    }

    /// The signing keys as this node last loaded them.
    pub fn keyring(&self) -> Arc<KeyRing> {
        // A poisoned lock still holds a whole ring: swapping is one assignment.
        self.inner
            .keyring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the signing keys from the store and swaps them in when they changed (a
    /// rotation or revocation, here or on another node). Cheap when nothing changed: one
    /// query, no key decrypted.
    pub async fn reload_keyring(&self) -> Result<()> {
        let _one_at_a_time = self.inner.keyring_reload.lock().await;
        let issuer = self.config().issuer();
        let fresh = self
            .keyring()
            .reload(
                &KeyStore::new(self.db().clone()),
                self.tenant(),
                &self.inner.secrets,
                keyring::common_name(&issuer),
                self.now(),
            )
            .await?;
        if let Some(ring) = fresh {
            *self
                .inner
                .keyring
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
        }
        Ok(())
    }

    /// Verifies a token of ours signed with one of `allowed`. A `kid` this node does not
    /// know may be a key made by a rotation on another node: the keys are then reloaded (at
    /// most once a second, so made-up kids cannot make every request read the store) and
    /// the token checked again.
    pub(crate) async fn verify_own_token(
        &self,
        token: &str,
        allowed: &[gatehouse_crypto::keys::Algorithm],
    ) -> std::result::Result<
        serde_json::Map<String, serde_json::Value>,
        gatehouse_crypto::jwt::JwtError,
    > {
        use gatehouse_crypto::jwt::{JwtError, verify_with};
        use std::sync::atomic::Ordering;
        match verify_with(token, self.keyring().published(), allowed) {
            Err(JwtError::UnknownKey) => {
                // The wall clock, not the service's: this protects the store, in real time.
                let now = now_millis();
                let last = self.inner.keyring_reloaded_at.load(Ordering::Relaxed);
                let due = now - last >= 1000
                    && self
                        .inner
                        .keyring_reloaded_at
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok();
                if !due {
                    return Err(JwtError::UnknownKey);
                }
                if let Err(e) = self.reload_keyring().await {
                    // The token is then judged by the keys this node has; the cause is ours.
                    tracing::warn!(error = %e, "reloading the signing keys failed");
                }
                verify_with(token, self.keyring().published(), allowed)
            }
            other => other,
        }
    }

    pub fn tenant(&self) -> &str {
        &self.inner.config.tenant
    }
}

/// Current time in epoch milliseconds.
/// The system clock in epoch milliseconds; use cases read [`Gatehouse::now`] instead, so tests
/// can move time.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
