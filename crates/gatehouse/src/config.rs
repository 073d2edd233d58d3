//! Server configuration from flags and `GATEHOUSE_*` environment variables. Every setting
//! and its default is listed in the README.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: String,
    /// Address of a second listener serving Prometheus metrics at `/metrics` (e.g.
    /// `127.0.0.1:9464`); unset (the default), there are no metrics. Never served on the
    /// public listener: bind it to an address only the monitoring network reaches.
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// `sqlite://file.db` (created if missing) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "GATEHOUSE_DATABASE_URL",
        default_value = "sqlite://gatehouse.db"
    )]
    pub database_url: String,
    /// Public base URL; the issuer is this plus `/`. Defaults to `http://` + listen address.
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// 32-byte key (64 hex characters or base64) encrypting signing keys and client secrets.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Where the generated secret key is kept when GATEHOUSE_SECRET_KEY is unset.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    #[arg(long, env = "GATEHOUSE_BOOTSTRAP_CLIENT_ID")]
    pub bootstrap_client_id: Option<String>,
    #[arg(
        long,
        env = "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub bootstrap_client_secret: Option<String>,
    #[arg(long, env = "GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL")]
    pub bootstrap_admin_email: Option<String>,
    #[arg(
        long,
        env = "GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub bootstrap_admin_password: Option<String>,
    /// Management API requests per second per client (and burst); 0 disables the limit.
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT", default_value_t = 1000)]
    pub rate_limit: u64,
    /// Failed logins for one user from any IP within an hour after which that user's logins
    /// are refused until an hour passes without one (per user and IP the limit is 10).
    #[arg(long, env = "GATEHOUSE_BRUTE_FORCE_USER_LIMIT", default_value_t = 100)]
    pub brute_force_user_limit: i64,
    /// Longest wait for a database connection, in milliseconds: when the database is down,
    /// requests answer 503 after this.
    #[arg(long, env = "GATEHOUSE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,
    /// A request's headers must arrive within this many milliseconds (slow clients are cut
    /// off); an idle keep-alive connection is closed after it too.
    #[arg(
        long,
        env = "GATEHOUSE_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_read_timeout_ms: u64,
    /// Connections one node keeps open at once; more wait in the listen backlog.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Requests (other than import uploads and export downloads) must be answered within
    /// this many milliseconds, else 408.
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Multiplies the per-IP limits of the Authentication API and hosted pages (see
    /// docs/security.md); 0 turns them off (load tests from one machine).
    #[arg(long, env = "GATEHOUSE_AUTH_RATE_LIMIT_SCALE", default_value_t = 1.0)]
    pub auth_rate_limit_scale: f64,
    /// Addresses of reverse proxies (IPs or CIDR ranges, comma-separated) whose
    /// `X-Forwarded-For` names the client; unset, the TCP peer is the client.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// A user search still running after this many milliseconds is stopped and answered
    /// 503, so heavy searches cannot hold the connections logins need.
    #[arg(long, env = "GATEHOUSE_SEARCH_TIMEOUT_MS", default_value_t = 10_000)]
    pub search_timeout_ms: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "GATEHOUSE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest users file `POST /api/v2/jobs/users-imports` accepts, in bytes; the file
    /// streams into the database, so this bounds disk use, not memory.
    #[arg(long, env = "GATEHOUSE_IMPORT_MAX_BYTES", default_value_t = gatehouse_http::DEFAULT_IMPORT_MAX_BYTES)]
    pub import_max_bytes: usize,
    /// How often an idle job worker looks for waiting jobs, in milliseconds.
    #[arg(long, env = "GATEHOUSE_JOB_POLL_MS", default_value_t = 1000)]
    pub job_poll_ms: u64,
    /// How long a job stays with a worker that stopped committing batches (a crashed node)
    /// before another worker resumes it, in milliseconds.
    #[arg(long, env = "GATEHOUSE_JOB_LEASE_MS", default_value_t = gatehouse_service::jobs::DEFAULT_LEASE_MS)]
    pub job_lease_ms: i64,
    /// Users per export page: one database read, one gzip member and one commit each (a
    /// resumed export redoes at most one page).
    #[arg(long, env = "GATEHOUSE_EXPORT_PAGE_SIZE", default_value_t = gatehouse_service::jobs::DEFAULT_EXPORT_PAGE)]
    pub export_page_size: i64,
    /// Largest user_metadata or app_metadata document, in bytes.
    #[arg(long, env = "GATEHOUSE_METADATA_MAX_BYTES", default_value_t = 16 * 1024)]
    pub metadata_max_bytes: usize,
    /// Days tenant log events are kept (fractions allowed); 0 keeps them forever.
    #[arg(long, env = "GATEHOUSE_LOG_RETENTION_DAYS", default_value_t = 30.0)]
    pub log_retention_days: f64,
    /// SMTP server for outgoing email, e.g. `smtp://user:pass@host:587?tls=required`; unset,
    /// emails are written to the log instead of being sent.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of outgoing email.
    #[arg(
        long,
        env = "GATEHOUSE_SMTP_FROM",
        default_value = "Gatehouse <no-reply@localhost>"
    )]
    pub smtp_from: String,
    /// How often the outbox is checked for messages to send, in milliseconds.
    #[arg(long, env = "GATEHOUSE_MAIL_POLL_MS", default_value_t = 1000)]
    pub mail_poll_ms: u64,
    /// How long a message being sent is held by its node (renewed while sending); when a node
    /// dies, another sends its message after this, in milliseconds.
    #[arg(long, env = "GATEHOUSE_MAIL_LEASE_MS", default_value_t = gatehouse_mail::DEFAULT_LEASE_MS as u64)]
    pub mail_lease_ms: u64,
    /// A Pwned Passwords range service, e.g. `https://api.pwnedpasswords.com/range`; unset,
    /// breached-password detection uses the bundled list of common passwords only.
    #[arg(long, env = "GATEHOUSE_BREACHED_PASSWORDS_URL")]
    pub breached_passwords_url: Option<String>,
    /// Stand-ins for social providers, as `strategy=origin` pairs (e.g.
    /// `github=http://127.0.0.1:9000`): each preset's documented URLs keep their paths on
    /// the given origin. For tests and local development; unset in production.
    #[arg(
        long,
        env = "GATEHOUSE_UPSTREAM_ORIGIN_OVERRIDES",
        value_delimiter = ','
    )]
    pub upstream_origin_overrides: Vec<String>,
    /// Hosts customers' scripts may reach over HTTP (`fetch`, `request`, `axios`) and
    /// PostgreSQL (`pg`), comma-separated, as `host`, `host:port` or `*.domain`; empty (the
    /// default) allows none.
    #[arg(
        long,
        env = "GATEHOUSE_SCRIPT_ALLOWED_HOSTS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub script_allowed_hosts: Vec<String>,
    /// Wall-clock limit of one script run (Auth0's is about 20 s), in milliseconds.
    #[arg(long, env = "GATEHOUSE_SCRIPT_TIME_LIMIT_MS", default_value_t = 20_000)]
    pub script_time_limit_ms: u64,
    /// Heap of each script thread, in MiB.
    #[arg(long, env = "GATEHOUSE_SCRIPT_MEMORY_MB", default_value_t = 64)]
    pub script_memory_mb: usize,
    /// Threads running scripts at once (they mostly wait on I/O); 0 means four per core
    /// (at least 4, at most 32).
    #[arg(long, env = "GATEHOUSE_SCRIPT_WORKERS", default_value_t = 0)]
    pub script_workers: usize,
    /// Where "now" comes from (tests set a `ManualClock`); the system clock when unset.
    #[arg(skip)]
    pub clock: Option<std::sync::Arc<dyn gatehouse_service::clock::Clock>>,
    /// A signing key (PKCS#8 DER) for a new database instead of a generated one (tests).
    #[arg(skip)]
    pub first_signing_key: Option<gatehouse_service::Redacted<Vec<u8>>>,
}

impl ServeConfig {
    /// Defaults for an embedded test or tool, as if no flag or variable was given.
    pub fn with_database(database_url: &str) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            metrics_listen: None,
            database_url: database_url.into(),
            public_url: None,
            secret_key: None,
            secret_key_file: None,
            bootstrap_client_id: None,
            bootstrap_client_secret: None,
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            rate_limit: 1000,
            brute_force_user_limit: 100,
            db_acquire_timeout_ms: 3000,
            search_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            max_connections: 4096,
            request_timeout_ms: 30_000,
            auth_rate_limit_scale: 1.0,
            trusted_proxies: vec![],
            max_body_bytes: 1024 * 1024,
            import_max_bytes: gatehouse_http::DEFAULT_IMPORT_MAX_BYTES,
            job_poll_ms: 1000,
            job_lease_ms: gatehouse_service::jobs::DEFAULT_LEASE_MS,
            export_page_size: gatehouse_service::jobs::DEFAULT_EXPORT_PAGE,
            metadata_max_bytes: 16 * 1024,
            log_retention_days: 30.0,
            smtp_url: None,
            smtp_from: "Gatehouse <no-reply@localhost>".into(),
            mail_poll_ms: 1000,
            mail_lease_ms: gatehouse_mail::DEFAULT_LEASE_MS as u64,
            breached_passwords_url: None,
            upstream_origin_overrides: vec![],
            script_allowed_hosts: vec![],
            script_time_limit_ms: 20_000,
            script_memory_mb: 64,
            script_workers: 0,
            clock: None,
            first_signing_key: None,
        }
    }

    /// The key file used when no key is given: beside an SQLite database
    /// (`gatehouse.db` → `gatehouse.key`), else `gatehouse.key` in the working directory.
    pub fn default_key_file(&self) -> Option<PathBuf> {
        if let Some(p) = &self.secret_key_file {
            return Some(p.clone());
        }
        let url = &self.database_url;
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or(rest);
            if path.is_empty() || path.contains(":memory:") {
                return None;
            }
            return Some(PathBuf::from(path).with_extension("key"));
        }
        Some(PathBuf::from("gatehouse.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_sits_beside_sqlite_database() {
        let c = ServeConfig::with_database("sqlite://data/gh.db?mode=rwc");
        assert_eq!(c.default_key_file(), Some(PathBuf::from("data/gh.key")));
        assert_eq!(
            ServeConfig::with_database("sqlite::memory:").default_key_file(),
            None
        );
        assert_eq!(
            ServeConfig::with_database("postgres://localhost/gh").default_key_file(),
            Some(PathBuf::from("gatehouse.key"))
        );
    }
}
