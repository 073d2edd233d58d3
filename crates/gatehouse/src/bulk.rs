//! `gatehouse import`, `gatehouse export` and `gatehouse convert`: the jobs API's work from
//! the command line, with progress bars and a summary. Import and export run against the
//! database file or URL directly (a job worker runs in the command), or, with `--server`,
//! against a running server through its Management API.

use crate::config::ServeConfig;
use crate::{StartError, secret_key};
use clap::Args;
use gatehouse_service::jobs::{ExportFormat, ExportParams, ImportParams, JobWorker};
use gatehouse_service::{Gatehouse, ServiceConfig};
use gatehouse_store::Db;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Where the work happens: the database named by the server flags, or a running server.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// A running server's base URL (e.g. `https://id.example.com`); unset, the command
    /// works on the database directly.
    #[arg(long, env = "GATEHOUSE_SERVER")]
    pub server: Option<String>,
    /// Management API client for `--server` (client credentials with create:users / read:users).
    #[arg(long, env = "GATEHOUSE_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "GATEHOUSE_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    #[command(flatten)]
    pub database: ServeConfig,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The users file: Auth0's import format (a JSON array) or NDJSON.
    pub file: PathBuf,
    /// The database connection to import into, by name.
    #[arg(long)]
    pub connection: String,
    /// Update users that already exist instead of reporting them.
    #[arg(long)]
    pub upsert: bool,
    #[arg(long)]
    pub external_id: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// `json` (NDJSON, one user per line) or `csv`.
    #[arg(long, default_value = "json")]
    pub format: String,
    /// Only this connection's users, by name.
    #[arg(long)]
    pub connection: Option<String>,
    /// A user search query (`GET /api/v2/users?q=` syntax): export its results.
    #[arg(long)]
    pub q: Option<String>,
    /// Fields to export, comma-separated; `name:header` renames a column.
    #[arg(long)]
    pub fields: Option<String>,
    #[arg(long)]
    pub limit: Option<i64>,
    /// Write the gzipped file as Auth0 serves it, instead of plain text.
    #[arg(long)]
    pub gzip: bool,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// auth0, okta, gigya, stormpath, keycloak or firebase.
    #[arg(long)]
    pub from: String,
    /// The export file(s); several are read one after another (e.g. Stormpath's per-account
    /// files).
    #[arg(required = true)]
    pub input: Vec<PathBuf>,
    /// Auth0: the password-hash export (NDJSON) Auth0 support provides.
    #[arg(long)]
    pub password_hashes: Option<PathBuf>,
    /// Firebase: the project's password hash parameters (console → Authentication → Users).
    #[arg(long)]
    pub firebase_signer_key: Option<String>,
    #[arg(long)]
    pub firebase_salt_separator: Option<String>,
    #[arg(long)]
    pub firebase_rounds: Option<u32>,
    #[arg(long)]
    pub firebase_mem_cost: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Service(#[from] gatehouse_service::ServiceError),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("server: {0}")]
    Http(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Convert(#[from] gatehouse_migrate::ConvertError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BulkError {
    let what = what.into();
    move |e| BulkError::Io(what, e)
}

async fn open_local(cfg: &ServeConfig) -> Result<Gatehouse, BulkError> {
    let secrets = secret_key::load(cfg)?;
    let db = Db::connect(&cfg.database_url)
        .await
        .map_err(StartError::from)?;
    db.migrate().await.map_err(StartError::from)?;
    let public = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.listen));
    let mut service = ServiceConfig::new(&public);
    service.max_metadata_bytes = cfg.metadata_max_bytes;
    let g = Gatehouse::open(service, db, secrets).await?;
    g.ensure_default_connection().await?;
    Ok(g)
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style.progress_chars("=> "));
    }
    b
}

const ROWS_TEMPLATE: &str =
    "{spinner} {msg:10} [{bar:40}] {pos}/{len} users ({per_sec}, eta {eta})";
const BYTES_TEMPLATE: &str =
    "{spinner} {msg:10} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec})";

fn summary_line(job: &Value) -> String {
    let s = &job["summary"];
    format!(
        "{}: {} inserted, {} updated, {} failed of {}",
        job["status"].as_str().unwrap_or("?"),
        s["inserted"],
        s["updated"],
        s["failed"],
        s["total"]
    )
}

fn print_errors(errors: &Value) {
    let Some(list) = errors.as_array() else {
        return;
    };
    for e in list.iter().take(20) {
        let reasons: Vec<String> = e["errors"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|r| {
                        format!(
                            "{} {}: {}",
                            r["code"].as_str().unwrap_or(""),
                            r["path"].as_str().unwrap_or(""),
                            r["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        eprintln!("  row {}: {}", e["index"], reasons.join("; "));
    }
    if list.len() > 20 {
        eprintln!(
            "  … and {} more (GET /api/v2/jobs/{{id}}/errors)",
            list.len() - 20
        );
    }
}

/// Follows a job to its end with a progress bar over its rows.
async fn follow<F, Fut>(mut poll: F) -> Result<Value, BulkError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Value, BulkError>>,
{
    let progress = bar(0, ROWS_TEMPLATE);
    progress.set_message("processing");
    loop {
        let job = poll().await?;
        if let Some(total) = job["total"].as_u64() {
            progress.set_length(total);
        }
        progress.set_position(job["processed"].as_u64().unwrap_or(0));
        if matches!(job["status"].as_str(), Some("completed" | "failed")) {
            progress.finish_and_clear();
            return Ok(job);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs a job with a worker in this process (a server on the same database may take part),
/// following it with a progress bar; returns the finished job.
async fn run_here(g: &Gatehouse, id: &str) -> Result<Value, BulkError> {
    let worker = JobWorker::new(
        g.clone(),
        Duration::from_millis(50),
        gatehouse_service::jobs::DEFAULT_LEASE_MS,
    )?;
    let running = tokio::spawn(worker.run());
    let done = follow(|| {
        let (g, id) = (g.clone(), id.to_string());
        // The same JSON a remote server answers, so both modes share the progress code.
        async move { Ok(gatehouse_http::render::job(&g.job(&id).await?)) }
    })
    .await;
    running.abort();
    // The job's events are queued for the tenant log; the command ends right after.
    g.flush_logs().await;
    done
}

/// Runs `gatehouse import`; returns the finished job.
pub async fn import(args: ImportArgs) -> Result<Value, BulkError> {
    let size = std::fs::metadata(&args.file)
        .map_err(io(args.file.display().to_string()))?
        .len();
    let job = match &args.target.server {
        Some(url) => import_remote(&args, url, size).await?,
        None => import_local(&args, size).await?,
    };
    eprintln!("{}", summary_line(&job));
    Ok(job)
}

async fn import_local(args: &ImportArgs, size: u64) -> Result<Value, BulkError> {
    let g = open_local(&args.target.database).await?;
    let connection = g
        .connection_id_by_name(&args.connection)
        .await?
        .ok_or_else(|| BulkError::Usage(format!("no connection named {}", args.connection)))?;
    let mut file = std::fs::File::open(&args.file).map_err(io(args.file.display().to_string()))?;
    let mut upload = g.begin_import().await?;
    let progress = bar(size, BYTES_TEMPLATE);
    progress.set_message("reading");
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(io(args.file.display().to_string()))?;
        if n == 0 {
            break;
        }
        if let Err(e) = upload.feed(&buf[..n]).await {
            upload.abort().await;
            return Err(e.into());
        }
        progress.inc(n as u64);
    }
    progress.finish_and_clear();
    let job = upload
        .finish(ImportParams {
            connection_id: connection,
            connection: String::new(),
            upsert: args.upsert,
            external_id: args.external_id.clone(),
            send_completion_email: false,
        })
        .await?;
    let id = job.id;
    let done = run_here(&g, &id).await?;
    if let Some(rows) = g.job_errors(&id).await? {
        print_errors(&gatehouse_http::render::refused_rows(&rows));
    }
    Ok(done)
}

struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    async fn connect(t: &Target, url: &str) -> Result<Self, BulkError> {
        let base = url.trim_end_matches('/').to_string();
        let (Some(id), Some(secret)) = (&t.client_id, &t.client_secret) else {
            return Err(BulkError::Usage(
                "--server needs --client-id and --client-secret (or GATEHOUSE_CLIENT_ID / GATEHOUSE_CLIENT_SECRET)".into(),
            ));
        };
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{base}/oauth/token"))
            .json(&json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
                "audience": format!("{base}/api/v2/")}))
            .send()
            .await
            .map_err(|e| BulkError::Http(e.to_string()))?;
        let body: Value = r.json().await.map_err(|e| BulkError::Http(e.to_string()))?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| BulkError::Http(format!("no token: {body}")))?
            .to_string();
        Ok(Self { base, token, http })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, BulkError> {
        let r = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| BulkError::Http(e.to_string()))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| BulkError::Http(e.to_string()))?;
        if !status.is_success() {
            return Err(BulkError::Http(format!("{status}: {text}")));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Result<Value, BulkError> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn connection_id(&self, name: &str) -> Result<String, BulkError> {
        let list = self
            .send(
                self.http
                    .get(format!("{}/api/v2/connections", self.base))
                    .query(&[("name", name)]),
            )
            .await?;
        list[0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BulkError::Usage(format!("no connection named {name}")))
    }
}

async fn import_remote(args: &ImportArgs, url: &str, size: u64) -> Result<Value, BulkError> {
    let remote = Remote::connect(&args.target, url).await?;
    let connection = remote.connection_id(&args.connection).await?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(io(args.file.display().to_string()))?;
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), size)
        .file_name("users.json")
        .mime_str("application/json")
        .map_err(|e| BulkError::Http(e.to_string()))?;
    let mut form = reqwest::multipart::Form::new()
        .text("connection_id", connection)
        .text("upsert", args.upsert.to_string())
        .text("send_completion_email", "false")
        .part("users", part);
    if let Some(x) = &args.external_id {
        form = form.text("external_id", x.clone());
    }
    eprintln!("uploading {} bytes to {}", size, remote.base);
    let job = remote
        .send(
            remote
                .http
                .post(format!("{}/api/v2/jobs/users-imports", remote.base))
                .multipart(form),
        )
        .await?;
    let id = job["id"].as_str().unwrap_or_default().to_string();
    let done = follow(|| {
        let (remote, id) = (&remote, id.clone());
        async move { remote.get(&format!("/api/v2/jobs/{id}")).await }
    })
    .await?;
    let errors = remote.get(&format!("/api/v2/jobs/{id}/errors")).await?;
    print_errors(&errors);
    Ok(done)
}

fn export_params(args: &ExportArgs) -> Result<ExportParams, BulkError> {
    let format = match args.format.as_str() {
        "json" => ExportFormat::Json,
        "csv" => ExportFormat::Csv,
        other => {
            return Err(BulkError::Usage(format!(
                "--format must be json or csv, not {other}"
            )));
        }
    };
    let fields = args.fields.as_ref().map(|f| {
        f.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| match s.split_once(':') {
                Some((name, header)) => json!({"name": name, "export_as": header}),
                None => json!({"name": s}),
            })
            .collect::<Vec<Value>>()
    });
    let mut body = json!({"format": format});
    if let Some(f) = fields {
        body["fields"] = json!(f);
    }
    if let Some(l) = args.limit {
        body["limit"] = json!(l);
    }
    if let Some(q) = &args.q {
        body["q"] = json!(q);
    }
    let payload = gatehouse_core::payload::Payload::from_value(body)
        .map_err(|e| BulkError::Usage(e.to_string()))?;
    ExportParams::from_payload(payload).map_err(|e| BulkError::Usage(e.to_string()))
}

/// Writes an export's gzip parts to stdout, decompressed unless `--gzip`.
struct Output {
    gzip: bool,
    decoder: flate2::write::MultiGzDecoder<std::io::StdoutLock<'static>>,
    raw: std::io::StdoutLock<'static>,
}

impl Output {
    fn new(gzip: bool) -> Self {
        Self {
            gzip,
            decoder: flate2::write::MultiGzDecoder::new(std::io::stdout().lock()),
            raw: std::io::stdout().lock(),
        }
    }

    fn write(&mut self, part: &[u8]) -> Result<(), BulkError> {
        if self.gzip {
            self.raw.write_all(part)
        } else {
            self.decoder.write_all(part)
        }
        .map_err(io("stdout"))
    }

    fn finish(mut self) -> Result<(), BulkError> {
        if !self.gzip {
            self.decoder.try_finish().map_err(io("stdout"))?;
        }
        self.raw.flush().map_err(io("stdout"))
    }
}

/// Runs `gatehouse export`, writing the file to stdout; returns the finished job.
pub async fn export(args: ExportArgs) -> Result<Value, BulkError> {
    let mut params = export_params(&args)?;
    let job = match &args.target.server {
        Some(url) => {
            let remote = Remote::connect(&args.target, url).await?;
            if let Some(name) = &args.connection {
                params.connection_id = Some(remote.connection_id(name).await?);
            }
            let body =
                serde_json::to_value(&params).map_err(|e| BulkError::Usage(e.to_string()))?;
            let job = remote
                .send(
                    remote
                        .http
                        .post(format!("{}/api/v2/jobs/users-exports", remote.base))
                        .json(&body),
                )
                .await?;
            let id = job["id"].as_str().unwrap_or_default().to_string();
            let done = follow(|| {
                let (remote, id) = (&remote, id.clone());
                async move { remote.get(&format!("/api/v2/jobs/{id}")).await }
            })
            .await?;
            let location = done["location"]
                .as_str()
                .ok_or_else(|| BulkError::Http(format!("the export did not complete: {done}")))?;
            let mut resp = remote
                .http
                .get(location)
                .send()
                .await
                .map_err(|e| BulkError::Http(e.to_string()))?;
            let mut out = Output::new(args.gzip);
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| BulkError::Http(e.to_string()))?
            {
                out.write(&chunk)?;
            }
            out.finish()?;
            done
        }
        None => {
            let g = open_local(&args.target.database).await?;
            if let Some(name) = &args.connection {
                params.connection_id = Some(
                    g.connection_id_by_name(name)
                        .await?
                        .ok_or_else(|| BulkError::Usage(format!("no connection named {name}")))?,
                );
            }
            let id = g.create_export_job(params).await?.id;
            let done = run_here(&g, &id).await?;
            let mut parts = g.open_export(&id).await?;
            let mut out = Output::new(args.gzip);
            while let Some(part) = parts.next_part().await? {
                out.write(&part)?;
            }
            out.finish()?;
            done
        }
    };
    eprintln!(
        "{}: {} users exported",
        job["status"].as_str().unwrap_or("?"),
        job["processed"]
    );
    Ok(job)
}

/// Runs `gatehouse convert`: the users on stdout (a JSON array), the report on stderr.
pub fn convert(args: ConvertArgs) -> Result<usize, BulkError> {
    let source = gatehouse_migrate::Source::parse(&args.from).ok_or_else(|| {
        BulkError::Usage(format!(
            "--from must be one of auth0, okta, gigya, stormpath, keycloak, firebase; not {}",
            args.from
        ))
    })?;
    let mut input = Vec::new();
    for path in &args.input {
        let bytes = std::fs::read(path).map_err(io(path.display().to_string()))?;
        input.extend_from_slice(&bytes);
        input.push(b'\n');
    }
    let mut options = gatehouse_migrate::ConvertOptions::default();
    if let Some(p) = &args.password_hashes {
        options.password_hashes = Some(std::fs::read(p).map_err(io(p.display().to_string()))?);
    }
    match (
        &args.firebase_signer_key,
        &args.firebase_salt_separator,
        args.firebase_rounds,
        args.firebase_mem_cost,
    ) {
        (Some(k), separator, Some(rounds), Some(mem_cost)) => {
            options.firebase = Some(gatehouse_migrate::FirebaseHashConfig {
                signer_key: k.clone(),
                salt_separator: separator.clone().unwrap_or_default(),
                rounds,
                mem_cost,
            });
        }
        (None, None, None, None) => {}
        _ => {
            return Err(BulkError::Usage(
                "--firebase-signer-key, --firebase-rounds and --firebase-mem-cost go together"
                    .into(),
            ));
        }
    }
    let conversion = gatehouse_migrate::convert(source, &input, &options)?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &conversion.users)
        .map_err(|e| BulkError::Io("stdout".into(), e.into()))?;
    writeln!(out).map_err(io("stdout"))?;
    for u in &conversion.report {
        eprintln!("not carried over: {} {}: {}", u.record, u.field, u.reason);
    }
    eprintln!(
        "{} users converted from {}; {} items reported above",
        conversion.users.len(),
        source.name(),
        conversion.report.len()
    );
    Ok(conversion.users.len())
}
