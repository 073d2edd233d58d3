//! The `gatehouse` binary's library half: configuration, start-up (migrate, bootstrap,
//! listen) and a handle to stop the server, shared by `main` and the integration tests.

pub mod bulk;
pub mod config;
pub mod explain;
mod secret_key;
pub mod seed;
mod serve;

use config::ServeConfig;
use gatehouse_http::HttpConfig;
use gatehouse_service::bootstrap::{BootstrapOptions, GeneratedClient};
use gatehouse_service::{Gatehouse, ServiceConfig};
use gatehouse_store::Db;
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] gatehouse_store::StoreError),
    #[error("{0}")]
    Service(#[from] gatehouse_service::ServiceError),
    #[error("secret key: {0}")]
    SecretKey(String),
    #[error("query: {0}")]
    Query(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error("email: {0}")]
    Mail(#[from] gatehouse_mail::MailError),
    #[error("configuration: {0}")]
    Config(String),
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `GATEHOUSE_METRICS_LISTEN` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub public_url: String,
    /// Present only at the start that created the Management API client.
    pub generated_client: Option<GeneratedClient>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    db: Db,
    progress: tokio::sync::watch::Receiver<u64>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and closes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        self.db.close().await;
    }

    /// Ticks each time the background workers move on (an email handled, an import batch or
    /// export page committed, a job finished): what tests await instead of polling.
    pub fn background_progress(&self) -> tokio::sync::watch::Receiver<u64> {
        self.progress.clone()
    }

    /// Waits until the server ends (it ends on Ctrl-C or SIGTERM when started by `main`).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = self.task.await.map_err(std::io::Error::other);
        self.db.close().await;
        result
    }
}

/// How long a stopping server waits for the tenant log's queue to be written.
const LOG_FLUSH_AT_STOP: std::time::Duration = std::time::Duration::from_secs(30);

const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

async fn sweep(g: &Gatehouse) {
    match g.sweep().await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "housekeeping removed expired rows"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
    }
}

/// Opens and migrates the database, bootstraps the tenant, binds and starts serving.
/// `until` ends the server when it resolves.
pub async fn start(
    cfg: &ServeConfig,
    until: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let secrets = secret_key::load(cfg)?;
    let trusted_proxies = cfg
        .trusted_proxies
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            gatehouse_http::guard::IpRange::parse(p).ok_or_else(|| {
                StartError::Config(format!(
                    "GATEHOUSE_TRUSTED_PROXIES: not an address or range: {p}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(files) = serve::raise_open_files_limit() {
        tracing::debug!(files, "open files limit");
    }
    let db = Db::connect_with(
        &cfg.database_url,
        std::time::Duration::from_millis(cfg.db_acquire_timeout_ms.max(100)),
    )
    .await?;
    db.migrate().await?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| StartError::Listen(cfg.listen.clone(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(cfg.listen.clone(), e))?;
    let metrics_listener = match &cfg.metrics_listen {
        Some(at) if !at.trim().is_empty() => Some(
            tokio::net::TcpListener::bind(at.trim())
                .await
                .map_err(|e| StartError::Listen(at.clone(), e))?,
        ),
        _ => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()
        .map_err(|e| StartError::Listen(cfg.metrics_listen.clone().unwrap_or_default(), e))?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut service_config = ServiceConfig::new(&public_url);
    service_config.max_metadata_bytes = cfg.metadata_max_bytes;
    service_config.brute_force_user_limit = cfg.brute_force_user_limit.max(1);
    service_config.search_timeout_ms = cfg.search_timeout_ms.max(1);
    service_config.first_signing_key = cfg.first_signing_key.clone();
    if let Some(clock) = &cfg.clock {
        service_config.clock = clock.clone();
    }
    service_config.breached_passwords_url = cfg.breached_passwords_url.clone();
    for pair in &cfg.upstream_origin_overrides {
        let Some((strategy, origin)) = pair.split_once('=') else {
            return Err(StartError::Config(format!(
                "GATEHOUSE_UPSTREAM_ORIGIN_OVERRIDES: expected strategy=origin, got {pair}"
            )));
        };
        gatehouse_core::upstream::check_provider_url(origin).map_err(|why| {
            StartError::Config(format!(
                "GATEHOUSE_UPSTREAM_ORIGIN_OVERRIDES: {strategy}: {why}"
            ))
        })?;
        service_config
            .upstream_origin_overrides
            .insert(strategy.trim().to_string(), origin.trim().to_string());
    }
    let allowed_hosts = gatehouse_scripts::AllowedHosts::parse(&cfg.script_allowed_hosts.join(","))
        .map_err(|why| StartError::Config(format!("GATEHOUSE_SCRIPT_ALLOWED_HOSTS: {why}")))?;
    let defaults = gatehouse_scripts::SandboxLimits::default();
    service_config.scripts = gatehouse_scripts::SandboxLimits {
        time_limit: std::time::Duration::from_millis(cfg.script_time_limit_ms.max(100)),
        memory_limit: cfg.script_memory_mb.clamp(8, 4096) * 1024 * 1024,
        workers: if cfg.script_workers == 0 {
            defaults.workers
        } else {
            cfg.script_workers.min(256)
        },
        allowed_hosts,
        ..defaults
    };
    service_config.log_retention_ms = (cfg.log_retention_days.max(0.0) * 86_400_000.0) as i64;
    let gatehouse = Gatehouse::open(service_config, db.clone(), secrets).await?;
    let generated_client = gatehouse
        .bootstrap(&BootstrapOptions {
            client_id: cfg.bootstrap_client_id.clone(),
            client_secret: cfg.bootstrap_client_secret.clone(),
            admin_email: cfg.bootstrap_admin_email.clone(),
            admin_password: cfg.bootstrap_admin_password.clone(),
        })
        .await?;
    let app = gatehouse_http::app(
        gatehouse.clone(),
        &HttpConfig {
            rate_limit_per_second: cfg.rate_limit,
            max_body_bytes: cfg.max_body_bytes,
            import_max_bytes: cfg.import_max_bytes,
            request_timeout: std::time::Duration::from_millis(cfg.request_timeout_ms),
            auth_rate_limit_scale: cfg.auth_rate_limit_scale,
            trusted_proxies,
        },
    );
    // Housekeeping runs once before serving (so retention holds from the first request)
    // and then every few minutes while the server is up.
    sweep(&gatehouse).await;
    let mailer = gatehouse_mail::Mailer::new(
        gatehouse_store::OutboxStore::new(db.clone()),
        gatehouse.secrets(),
        cfg.smtp_url.as_deref(),
        &cfg.smtp_from,
        std::time::Duration::from_millis(cfg.mail_poll_ms.max(10)),
    )?
    .with_lease(std::time::Duration::from_millis(cfg.mail_lease_ms));
    let (progress, progress_seen) = tokio::sync::watch::channel(0_u64);
    let mailer = mailer.with_progress(progress.clone());
    if !mailer.delivers() {
        tracing::warn!(
            "GATEHOUSE_SMTP_URL is not set: emails are written to this log, not sent (development mode)"
        );
    }
    let jobs = gatehouse_service::jobs::JobWorker::new(
        gatehouse.clone(),
        std::time::Duration::from_millis(cfg.job_poll_ms.max(10)),
        cfg.job_lease_ms,
    )?
    .with_export_page(cfg.export_page_size)
    .with_progress(progress);
    let sweeper = gatehouse.clone();
    let log_flusher = gatehouse.clone();
    let limits = serve::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_millis(cfg.header_read_timeout_ms.max(100)),
        max_connections: cfg.max_connections,
    };
    let metrics = metrics_listener.map(|l| {
        serve::serve(
            l,
            gatehouse_http::metrics::router(gatehouse.clone()),
            limits,
            std::future::pending(),
        )
    });
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Ends with the public listener (this select drops it).
        let metrics = async move {
            match metrics {
                Some(m) => m.await,
                None => std::future::pending().await,
            }
        };
        let serve = serve::serve(listener, app, limits, async move {
            tokio::select! {
                _ = rx => {}
                _ = until => {}
            }
        });
        let housekeeping = async move {
            loop {
                tokio::time::sleep(SWEEP_INTERVAL).await;
                sweep(&sweeper).await;
            }
        };
        tokio::select! {
            _ = serve => {}
            _ = housekeeping => {}
            _ = mailer.run() => {}
            _ = jobs.run() => {}
            _ = metrics => {}
        }
        // Events recorded by the last requests may still be queued for the tenant log.
        if tokio::time::timeout(LOG_FLUSH_AT_STOP, log_flusher.flush_logs())
            .await
            .is_err()
        {
            tracing::error!(
                "tenant log events still unwritten {} s after shutdown began (is the database down?); they are lost",
                LOG_FLUSH_AT_STOP.as_secs()
            );
        }
    });
    tracing::info!(%addr, dialect = ?db.dialect(), "gatehouse listening");
    if let Some(at) = metrics_addr {
        tracing::info!(%at, "metrics at /metrics");
    }
    Ok(Running {
        addr,
        metrics_addr,
        public_url: public_url.trim_end_matches('/').to_string(),
        generated_client,
        shutdown: Some(tx),
        task,
        db,
        progress: progress_seen,
    })
}
