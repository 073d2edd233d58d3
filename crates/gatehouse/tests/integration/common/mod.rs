//! Test harness: the real server on 127.0.0.1 over HTTP, on a fresh SQLite file or, when
//! `GATEHOUSE_TEST_DATABASE_URL` names a PostgreSQL server, a fresh database on it.
#![allow(dead_code)]

pub mod browser;
pub mod provider;
pub mod slapd;
pub mod smtp;

use gatehouse::config::ServeConfig;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use sqlx::Connection;
use std::path::PathBuf;
use std::time::Duration;

pub const CLIENT_ID: &str = "TestManagementClient000000000001";
pub const CLIENT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const DB_CONNECTION: &str = "Username-Password-Authentication";

/// Where a test's data lives; removed when the test ends.
enum Storage {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for Storage {
    fn drop(&mut self) {
        match self {
            Storage::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Storage::Postgres { admin_url, name } => {
                let (url, name) = (admin_url.clone(), name.clone());
                // Drop runs outside any runtime guarantee; use a private one.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        let mut c = sqlx::PgConnection::connect(&url).await.ok()?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut c)
                            .await
                            .ok()
                    })
                })
                .join();
            }
        }
    }
}

fn random_suffix() -> String {
    gatehouse_crypto::random::hex(6).expect("randomness")
}

async fn fresh_storage() -> (String, Storage) {
    match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("gh_test_{}", random_suffix());
            let mut c = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to GATEHOUSE_TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut c)
                .await
                .expect("create test database");
            let base = admin_url.split('?').next().unwrap_or(&admin_url);
            let (server, _) = base.rsplit_once('/').expect("database URL has a path");
            (
                format!("{server}/{name}"),
                Storage::Postgres { admin_url, name },
            )
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("gatehouse-test-{}", random_suffix()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            (
                format!("sqlite://{}", dir.join("gatehouse.db").display()),
                Storage::Sqlite(dir),
            )
        }
    }
}

/// Every log line the servers of this test binary wrote (warnings and errors by default).
static SERVER_LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Writes a log line to the test's captured output and keeps it for [`server_log_lines`].
struct KeptLine(Vec<u8>);

impl std::io::Write for KeptLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for KeptLine {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0).to_string();
        print!("{line}");
        if let Ok(mut log) = SERVER_LOG.lock() {
            log.push(line);
        }
    }
}

/// Server warnings and errors go to the test's captured output, so a failing test shows
/// the cause behind an answer such as a 503 (`GATEHOUSE_TEST_LOG` sets another filter).
fn capture_server_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = std::env::var("GATEHOUSE_TEST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_ansi(false)
            .with_writer(|| KeptLine(Vec::new()))
            .try_init();
    });
}

/// The log lines written so far that contain `needle` (e.g. a request id).
pub fn server_log_lines(needle: &str) -> Vec<String> {
    SERVER_LOG
        .lock()
        .map(|log| log.iter().filter(|l| l.contains(needle)).cloned().collect())
        .unwrap_or_default()
}

/// A test database that refuses connections; see [`TestServer::database_outage`].
pub struct DatabaseOutage {
    admin_url: String,
    name: String,
}

impl DatabaseOutage {
    async fn allow_connections(&self, allow: bool) {
        let mut c = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to GATEHOUSE_TEST_DATABASE_URL");
        let name = &self.name;
        sqlx::query(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}"
        ))
        .execute(&mut c)
        .await
        .expect("alter database");
        if !allow {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(name)
            .execute(&mut c)
            .await
            .expect("end the server's connections");
        }
    }

    /// The database takes connections again.
    pub async fn end(self) {
        self.allow_connections(true).await;
    }
}

/// One RSA key for every test server of this binary: generating one per server cost more
/// than many tests themselves.
fn test_signing_key() -> &'static [u8] {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        gatehouse_crypto::keys::SigningKey::generate()
            .expect("a test signing key")
            .pkcs8()
            .to_vec()
    })
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    /// Asserts an Auth0-format error with this status and errorCode; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error_code: &str) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body: {}",
            self.body
        );
        assert_eq!(
            self.body["statusCode"],
            json!(status),
            "body: {}",
            self.body
        );
        assert!(self.body["error"].is_string(), "body: {}", self.body);
        assert_eq!(
            self.body["errorCode"],
            json!(error_code),
            "body: {}",
            self.body
        );
        self.body["message"].as_str().expect("message").to_string()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body: {}",
            self.body
        );
        &self.body
    }
}

pub struct TestServer {
    pub cfg: ServeConfig,
    pub url: String,
    running: Option<gatehouse::Running>,
    http: reqwest::Client,
    token: Option<String>,
    _storage: Storage,
    /// The clock the server reads, when the test moves it ([`TestServer::start_with_manual_clock`]).
    manual_clock: Option<std::sync::Arc<gatehouse_service::clock::ManualClock>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts on fresh storage after letting the test adjust the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        capture_server_logs();
        let (url, storage) = fresh_storage().await;
        let mut cfg = ServeConfig::with_database(&url);
        cfg.secret_key = Some(gatehouse_crypto::random::hex(32).expect("randomness"));
        cfg.bootstrap_client_id = Some(CLIENT_ID.into());
        cfg.bootstrap_client_secret = Some(CLIENT_SECRET.into());
        cfg.first_signing_key = Some(gatehouse_service::Redacted(test_signing_key().to_vec()));
        adjust(&mut cfg);
        let running = gatehouse::start(&cfg, std::future::pending())
            .await
            .expect("server starts");
        Self {
            url: running.public_url.clone(),
            cfg,
            running: Some(running),
            http: reqwest::Client::new(),
            token: None,
            _storage: storage,
            manual_clock: None,
        }
    }

    /// Starts on a clock the test moves with [`TestServer::clock`] (time stands still
    /// otherwise), so lifetimes and distinct instants need no sleeping.
    pub async fn start_with_manual_clock() -> Self {
        Self::start_with_manual_clock_and(|_| {}).await
    }

    /// [`TestServer::start_with_manual_clock`] after letting the test adjust the configuration.
    pub async fn start_with_manual_clock_and(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let clock = gatehouse_service::clock::ManualClock::starting_now();
        let for_server = clock.clone();
        let mut s = Self::start_with(|c| {
            adjust(c);
            c.clock = Some(for_server);
        })
        .await;
        s.manual_clock = Some(clock);
        s
    }

    /// The clock of a server started with [`TestServer::start_with_manual_clock`].
    pub fn clock(&self) -> &gatehouse_service::clock::ManualClock {
        self.manual_clock
            .as_deref()
            .expect("started with start_with_manual_clock")
    }

    /// Takes this test's PostgreSQL database away from the server: its connections are ended
    /// and new ones refused until [`DatabaseOutage::end`]. `None` on SQLite, which has no
    /// server to stop.
    pub async fn database_outage(&self) -> Option<DatabaseOutage> {
        let Storage::Postgres { admin_url, name } = &self._storage else {
            return None;
        };
        let outage = DatabaseOutage {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        outage.allow_connections(false).await;
        Some(outage)
    }

    /// Stops the server and starts it again on the same database, listening on the same port.
    pub async fn restart(&mut self) {
        let running = self.running.take().expect("running");
        let addr = running.addr;
        running.stop().await;
        self.cfg.listen = addr.to_string();
        let running = gatehouse::start(&self.cfg, std::future::pending())
            .await
            .expect("server restarts");
        self.url = running.public_url.clone();
        self.running = Some(running);
    }

    /// `http://…/metrics` on the metrics listener, when `metrics_listen` was set.
    pub fn metrics_url(&self) -> Option<String> {
        self.running
            .as_ref()
            .and_then(|r| r.metrics_addr)
            .map(|a| format!("http://{a}/metrics"))
    }

    pub fn audience(&self) -> String {
        format!("{}/api/v2/", self.url)
    }

    /// A Management API token with every scope of the bootstrap client (cached).
    pub async fn token(&mut self) -> String {
        if let Some(t) = &self.token {
            return t.clone();
        }
        let t = self.token_with_scope(None).await;
        self.token = Some(t.clone());
        t
    }

    /// A token narrowed to `scope` (space-separated), or every granted scope.
    pub async fn token_with_scope(&self, scope: Option<&str>) -> String {
        let mut body = json!({
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "audience": self.audience(),
        });
        if let Some(s) = scope {
            body["scope"] = json!(s);
        }
        let r = self
            .raw(Method::POST, "/oauth/token", None, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::OK, "token: {}", r.body);
        r.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        Self::read(resp).await
    }

    /// Sends raw bytes with a content type (malformed-body tests).
    pub async fn send_bytes(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Response {
        let token = self.token().await;
        let resp = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("request sent");
        Self::read(resp).await
    }

    pub async fn read(resp: reqwest::Response) -> Response {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let t = self.token().await;
        self.raw(Method::GET, path, Some(&t), None).await
    }
    pub async fn post(&mut self, path: &str, body: Value) -> Response {
        let t = self.token().await;
        self.raw(Method::POST, path, Some(&t), Some(body)).await
    }
    pub async fn patch(&mut self, path: &str, body: Value) -> Response {
        let t = self.token().await;
        self.raw(Method::PATCH, path, Some(&t), Some(body)).await
    }
    pub async fn put_json(&mut self, path: &str, body: Value) -> Response {
        let t = self.token().await;
        self.raw(Method::PUT, path, Some(&t), Some(body)).await
    }
    pub async fn delete(&mut self, path: &str) -> Response {
        let t = self.token().await;
        self.raw(Method::DELETE, path, Some(&t), None).await
    }

    /// A new application allowed these grant types: its (client_id, client_secret).
    pub async fn app_with_grants(&mut self, grants: &[&str]) -> (String, String) {
        let r = self
            .post(
                "/api/v2/clients",
                json!({"name": "app", "grant_types": grants}),
            )
            .await;
        let c = r.assert_status(201);
        (
            c["client_id"].as_str().expect("client_id").into(),
            c["client_secret"].as_str().expect("client_secret").into(),
        )
    }

    /// The id of a connection, by name.
    pub async fn connection_id(&mut self, name: &str) -> String {
        let r = self
            .get(&format!("/api/v2/connections?name={}", enc(name)))
            .await;
        r.assert_status(200)[0]["id"]
            .as_str()
            .expect("connection id")
            .to_string()
    }

    /// Uploads a users file to `POST /api/v2/jobs/users-imports` with these other form fields.
    pub async fn upload_import(&mut self, file: Vec<u8>, fields: &[(&str, &str)]) -> Response {
        let token = self.token().await;
        let mut form = reqwest::multipart::Form::new().part(
            "users",
            reqwest::multipart::Part::bytes(file)
                .file_name("users.json")
                .mime_str("application/json")
                .expect("mime"),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let resp = self
            .http
            .post(format!("{}/api/v2/jobs/users-imports", self.url))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent");
        Self::read(resp).await
    }

    /// Ticks when the server's mailer or job worker moves on.
    pub fn background_progress(&self) -> tokio::sync::watch::Receiver<u64> {
        self.running
            .as_ref()
            .expect("the server is running")
            .background_progress()
    }

    /// The job's JSON once it is completed or failed (at most a minute).
    pub async fn wait_job(&mut self, id: &str) -> Value {
        let token = self.token().await;
        let (server, path) = (&*self, format!("/api/v2/jobs/{id}"));
        let what = format!("job {id} finishing");
        wait_for_background_work(
            &what,
            Duration::from_secs(60),
            self.background_progress(),
            || async {
                let r = server.raw(Method::GET, &path, Some(&token), None).await;
                let job = r.assert_status(200).clone();
                (job["status"] == "completed" || job["status"] == "failed").then_some(job)
            },
        )
        .await
    }

    /// The stored password hash of a user (by email), read straight from the database.
    pub async fn stored_password_hash(&self, email: &str) -> Option<String> {
        let url = &self.cfg.database_url;
        let sql = "SELECT password_hash FROM users WHERE email = $1";
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query_scalar::<_, Option<String>>(sql)
                .bind(email)
                .fetch_one(&mut c)
                .await
                .expect("user row")
        } else {
            let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::query_scalar::<_, Option<String>>(sql)
                .bind(email)
                .fetch_one(&mut c)
                .await
                .expect("user row")
        }
    }

    /// How many rows of this test's database `from` names: a table, with a condition if
    /// needed (`"outbox WHERE sent_at IS NULL"`; the test's own constant, never input).
    pub async fn count_rows(&self, from: &str) -> i64 {
        let url = &self.cfg.database_url;
        let sql = format!("SELECT COUNT(*) FROM {from}");
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query_scalar(&sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        } else {
            let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::query_scalar(&sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        }
    }

    /// Waits until every queued email has been handed to SMTP (or given up): what the
    /// listener has then is all there will be. Panics after 20 s.
    pub async fn wait_outbox_settled(&self) {
        let pending = "outbox WHERE sent_at IS NULL AND given_up_at IS NULL";
        wait_for_background_work(
            "queued emails handed to SMTP",
            Duration::from_secs(20),
            self.background_progress(),
            || async { (self.count_rows(pending).await == 0).then_some(()) },
        )
        .await
    }

    /// A user's stored MFA enrollments: (kind, sealed secret, value), by id.
    pub async fn stored_mfa(
        &self,
        user_id: &str,
    ) -> Vec<(String, Option<Vec<u8>>, Option<String>)> {
        let url = &self.cfg.database_url;
        let sql = "SELECT kind, secret, value FROM mfa_enrollments WHERE user_id = $1 ORDER BY id";
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query_as(sql)
                .bind(user_id)
                .fetch_all(&mut c)
                .await
                .expect("rows")
        } else {
            let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::query_as(sql)
                .bind(user_id)
                .fetch_all(&mut c)
                .await
                .expect("rows")
        }
    }

    /// Creates a user on the default database connection and returns its JSON.
    pub async fn create_user(&mut self, email: &str, extra: Value) -> Value {
        let mut body =
            json!({"connection": DB_CONNECTION, "email": email, "password": "Sup3r-secret!"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self.post("/api/v2/users", body).await;
        r.assert_status(201).clone()
    }
}

/// Waits until `check` gives a value (at most `limit`, panicking with `what` after): the one
/// place tests wait on the server's background workers, the mailer and the job worker.
/// `check` runs now and again each time the workers announce progress (an email handled, a
/// batch or page committed, a job finished), so nothing here sleeps or polls.
pub async fn wait_for_background_work<T, Fut>(
    what: &str,
    limit: Duration,
    mut progress: tokio::sync::watch::Receiver<u64>,
    mut check: impl FnMut() -> Fut,
) -> T
where
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        // Marked seen before the check, so progress made during it wakes the wait below.
        progress.borrow_and_update();
        if let Some(done) = check().await {
            return done;
        }
        match tokio::time::timeout_at(deadline, progress.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("{what}: the server stopped"),
            Err(_) => panic!("{what}: not done after {limit:?}"),
        }
    }
}

/// Percent-encodes a path segment (user ids contain `|`).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.1 request for [`release_together`]: sent as is, with `Host`,
/// `Connection: close` and `Content-Length` added.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: String,
    /// Path and query, e.g. `/oauth/token`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A request with a JSON body.
    pub fn json(method: &str, path: &str, body: &Value) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).expect("JSON body"),
        }
    }

    /// A POST with a JSON body.
    pub fn post_json(path: &str, body: &Value) -> Self {
        Self::json("POST", path, body)
    }

    /// A GET without a body.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET".into(),
            path: path.to_string(),
            headers: vec![],
            body: vec![],
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.method,
            self.path,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Sends `requests` to the server at `url` (`http://host:port`) so that they arrive together:
/// one TCP connection per request, each request written but for its last byte; once every
/// one is written (a barrier), all last bytes go out at once. Returns each response's status
/// and body, in the order of `requests`.
pub async fn release_together(url: &str, requests: Vec<RawRequest>) -> Vec<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| {
            let bytes = r.to_bytes(&host);
            let host = host.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let (head, last) = bytes.split_at(bytes.len() - 1);
                // Whatever happens here, this task reaches the barrier: the others must not
                // wait for it for ever.
                let prepared = async {
                    let mut stream = tokio::net::TcpStream::connect(host.as_str()).await?;
                    stream.set_nodelay(true)?;
                    stream.write_all(head).await?;
                    stream.flush().await?;
                    Ok::<_, std::io::Error>(stream)
                }
                .await;
                barrier.wait().await;
                let mut stream = prepared.expect("connect and send all but the last byte");
                stream.write_all(last).await.expect("send the last byte");
                stream.flush().await.expect("flush");
                let mut raw = Vec::new();
                stream
                    .read_to_end(&mut raw)
                    .await
                    .expect("read the response");
                parse_response(&raw)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await.expect("request task"));
    }
    answers
}

/// The status and body of a raw HTTP/1.1 response (chunked or not).
fn parse_response(raw: &[u8]) -> (u16, String) {
    let (head, body) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (raw, &raw[raw.len()..]),
    };
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let chunked = head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|l| l.split(';').next())
            .and_then(|n| usize::from_str_radix(n.trim(), 16).ok())
            .unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        if rest.starts_with(b"\r\n") {
            rest = &rest[2..];
        }
    }
    out
}
