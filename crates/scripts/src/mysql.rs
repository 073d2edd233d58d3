//! The `mysql` module's bridge: a script's `connection.query(sql, values, cb)` runs as a
//! prepared statement on a MySQL / MariaDB pool kept per connection URL.
//!
//! The script side (the prelude) expands the npm `mysql` package's placeholders (`??`, objects
//! for `SET ?`, arrays for `IN (?)`) into plain `?` parameters, so values always travel bound,
//! never spliced into the SQL. MySQL converts bound values to the column types itself, so the
//! bridge binds each JSON value by its JSON type. Result columns are decoded from the binary
//! protocol into what the npm package's default type casting gives, losslessly where JSON
//! cannot hold the value (`DECIMAL`, `BIGINT` beyond 2^53 as strings); dates stay MySQL's own
//! text (`2021-03-04 05:06:07`), listed in `dates` so the script side makes `Date`s of them.

use crate::bridge::{UrlSecrets, buffer_bytes, buffer_value, percent_decode};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};
use sqlx::mysql::{
    MySql, MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool,
    MySqlPoolOptions, MySqlRow, MySqlTypeInfo, MySqlValueRef,
};
use sqlx::{
    Arguments, Column, ConnectOptions, Connection, Decode, Either, Executor, Row, Statement,
    TypeInfo, ValueRef,
};

/// Connections a pool opens at most, per connection URL.
const MAX_CONNECTIONS: u32 = 4;
/// How long a query waits for a connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unused connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the diagnostic connection attempt after an acquire timeout may take.
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Prepared statements kept per connection (the server's global limit is shared by everyone).
const STATEMENT_CACHE: usize = 32;
const DEFAULT_PORT: u16 = 3306;
/// Integers beyond ±2^53 lose precision as JavaScript numbers.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// MySQL / MariaDB pools per connection URL (`mysql://user:pass@host:port/db`), shared by
/// every script run of the process.
///
/// Pools are created lazily on first use and live as long as this value; their connections are
/// bound to the Tokio runtime that first opened them, so use one long-lived runtime.
pub struct MySqlPools {
    pools: Mutex<HashMap<String, MySqlPool>>,
}

impl Default for MySqlPools {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MySqlPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys are connection URLs, which hold passwords: never print them.
        let count = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("MySqlPools").field("pools", &count).finish()
    }
}

/// Why a `mysql` query failed, as a script sees it (the npm package's error fields).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MySqlFailure {
    /// The server's message (npm's `sqlMessage`), or what went wrong on the way to it.
    pub message: String,
    /// MySQL's error name (`ER_DUP_ENTRY`), the error number as text for names not known
    /// here, or a network error's (`ECONNREFUSED`).
    pub code: Option<String>,
    /// The server's error number (`1062`).
    pub errno: Option<u16>,
    /// The server's SQLSTATE (`23000`).
    pub sql_state: Option<String>,
    /// The connection itself failed (npm's `fatal`), rather than the statement.
    pub fatal: bool,
}

impl MySqlFailure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: None,
            errno: None,
            sql_state: None,
            fatal: false,
        }
    }

    fn fatal(message: impl Into<String>, code: Option<&str>) -> Self {
        Self {
            code: code.map(str::to_owned),
            fatal: true,
            ..Self::new(message)
        }
    }

    fn from_server(error: &MySqlDatabaseError, fatal: bool) -> Self {
        let number = error.number();
        Self {
            message: error.message().to_owned(),
            code: Some(error_name(number).map_or_else(|| number.to_string(), str::to_owned)),
            errno: Some(number),
            sql_state: error.code().map(str::to_owned),
            fatal,
        }
    }
}

/// The names of the server errors scripts meet most (the npm package's `code`).
fn error_name(number: u16) -> Option<&'static str> {
    Some(match number {
        1005 => "ER_CANT_CREATE_TABLE",
        1007 => "ER_DB_CREATE_EXISTS",
        1008 => "ER_DB_DROP_EXISTS",
        1040 => "ER_CON_COUNT_ERROR",
        1044 => "ER_DBACCESS_DENIED_ERROR",
        1045 => "ER_ACCESS_DENIED_ERROR",
        1046 => "ER_NO_DB_ERROR",
        1048 => "ER_BAD_NULL_ERROR",
        1049 => "ER_BAD_DB_ERROR",
        1050 => "ER_TABLE_EXISTS_ERROR",
        1051 => "ER_BAD_TABLE_ERROR",
        1052 => "ER_NON_UNIQ_ERROR",
        1053 => "ER_SERVER_SHUTDOWN",
        1054 => "ER_BAD_FIELD_ERROR",
        1062 => "ER_DUP_ENTRY",
        1064 => "ER_PARSE_ERROR",
        1065 => "ER_EMPTY_QUERY",
        1136 => "ER_WRONG_VALUE_COUNT_ON_ROW",
        1142 => "ER_TABLEACCESS_DENIED_ERROR",
        1143 => "ER_COLUMNACCESS_DENIED_ERROR",
        1146 => "ER_NO_SUCH_TABLE",
        1205 => "ER_LOCK_WAIT_TIMEOUT",
        1210 => "ER_WRONG_ARGUMENTS",
        1213 => "ER_LOCK_DEADLOCK",
        1227 => "ER_SPECIFIC_ACCESS_DENIED_ERROR",
        1264 => "ER_WARN_DATA_OUT_OF_RANGE",
        1292 => "ER_TRUNCATED_WRONG_VALUE",
        1295 => "ER_UNSUPPORTED_PS",
        1364 => "ER_NO_DEFAULT_FOR_FIELD",
        1366 => "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
        1406 => "ER_DATA_TOO_LONG",
        1451 => "ER_ROW_IS_REFERENCED_2",
        1452 => "ER_NO_REFERENCED_ROW_2",
        1690 => "ER_DATA_OUT_OF_RANGE",
        1927 => "ER_CONNECTION_KILLED",
        3140 => "ER_INVALID_JSON_TEXT",
        3819 => "ER_CHECK_CONSTRAINT_VIOLATED",
        4025 => "ER_CONSTRAINT_FAILED",
        _ => return None,
    })
}

impl MySqlPools {
    pub fn new() -> Self {
        Self {
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// Runs one statement with `?` parameters bound in order. Answers
    /// `{"rows": [...], "fields": [{"name", "type", "typeName"}], "dates": [...]}` for a
    /// statement returning columns, else `{"affectedRows", "insertId", "changedRows"}`.
    pub async fn query(
        &self,
        url: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Value, MySqlFailure> {
        let secrets = UrlSecrets::of(url);
        self.query_unredacted(url, sql, params)
            .await
            .map_err(|mut failure| {
                failure.message = secrets.redact(failure.message);
                failure
            })
    }

    async fn query_unredacted(
        &self,
        url: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Value, MySqlFailure> {
        refuse_session_statements(sql)?;
        let pool = self.pool(url)?;
        let mut conn = acquire(&pool).await?;
        match run(&mut conn, sql, params).await {
            Err(RunError::Sql(error)) if is_dead_connection(&error) => {
                // The server ended this pooled connection (a restart, an administrator, its
                // wait_timeout): it leaves the pool, and the query runs once more on a fresh
                // one, whose failure (if any) is the one that counts.
                conn.close_on_drop();
                drop(conn);
                let mut conn = acquire(&pool).await?;
                run(&mut conn, sql, params)
                    .await
                    .map_err(|e| e.into_failure(&pool))
            }
            other => other.map_err(|e| e.into_failure(&pool)),
        }
    }

    /// The pool for a connection URL, created (without connecting) on first use.
    fn pool(&self, url: &str) -> Result<MySqlPool, MySqlFailure> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(url) {
            return Ok(pool.clone());
        }
        let options = connect_options(url)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        pools.insert(url.to_owned(), pool.clone());
        Ok(pool)
    }
}

/// Connection options from the URL's parts only: its query string is ignored, so a script
/// cannot name a socket file or certificate files of the server's file system.
fn connect_options(url: &str) -> Result<MySqlConnectOptions, MySqlFailure> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "mysql")
        .ok_or_else(|| MySqlFailure::new("the MySQL connection is not a mysql:// URL"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let mut options = MySqlConnectOptions::new()
        .host(&host)
        .port(parsed.port().unwrap_or(DEFAULT_PORT))
        .username(&percent_decode(parsed.username()))
        // As the npm package: the server's own sql_mode and time zone, so NOW() and TIMESTAMP
        // columns read as they do for Auth0's scripts (whose Node runs in UTC).
        .pipes_as_concat(false)
        .no_engine_substitution(false)
        .timezone(None)
        .charset("utf8mb4")
        .statement_cache_capacity(STATEMENT_CACHE)
        // Scripts' SQL may carry secrets inline; keep it out of the logs.
        .disable_statement_logging();
    if let Some(password) = parsed.password() {
        options = options.password(&percent_decode(password));
    }
    let database = percent_decode(parsed.path().trim_start_matches('/'));
    if !database.is_empty() {
        options = options.database(&database);
    }
    Ok(options)
}

/// Statements that would change the pooled connection for the scripts using it next.
fn refuse_session_statements(sql: &str) -> Result<(), MySqlFailure> {
    let words = leading_words(sql, 8);
    let first = words.first().map(String::as_str).unwrap_or("");
    let refused = match first {
        // Every query takes whichever pooled connection is free, so a transaction or a lock
        // taken here would stay on a connection other scripts then use.
        "BEGIN" | "START" | "XA" | "LOCK" => true,
        "SET" => words
            .iter()
            .any(|w| w == "AUTOCOMMIT" || w == "TRANSACTION"),
        "USE" => true,
        _ => false,
    };
    if refused {
        return Err(MySqlFailure::new(format!(
            "{first} statements are not supported: each query runs on a pooled connection of its \
             own, so transactions, locks and session settings cannot span queries"
        )));
    }
    Ok(())
}

/// The first `limit` words of a statement outside comments, upper-cased.
fn leading_words(sql: &str, limit: usize) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < bytes.len() && words.len() < limit {
        let c = bytes[i];
        if c == b'#' || (c == b'-' && bytes.get(i + 1) == Some(&b'-')) {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') && bytes.get(i + 2) != Some(&b'!') {
            i += 2;
            while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i += 2;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            words.push(sql[start..i].to_ascii_uppercase());
        } else {
            i += 1;
        }
    }
    words
}

async fn acquire(pool: &MySqlPool) -> Result<sqlx::pool::PoolConnection<MySql>, MySqlFailure> {
    match pool.acquire().await {
        Ok(conn) => Ok(conn),
        Err(sqlx::Error::PoolTimedOut) => Err(diagnose_timeout(pool).await),
        Err(error) => Err(from_sqlx(error, pool, true)),
    }
}

/// The pool gave up after its acquire timeout, retrying refused connections all along: one
/// direct attempt tells an unreachable server from a pool whose connections are all busy.
async fn diagnose_timeout(pool: &MySqlPool) -> MySqlFailure {
    let options = pool.connect_options();
    let seconds = ACQUIRE_TIMEOUT.as_secs();
    match tokio::time::timeout(DIAGNOSE_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            MySqlFailure::fatal(
                format!(
                    "timed out after {seconds} s waiting for a free connection to the MySQL \
                     server at {} (all {MAX_CONNECTIONS} connections are busy)",
                    server_label(&options)
                ),
                Some("PROTOCOL_SEQUENCE_TIMEOUT"),
            )
        }
        Ok(Err(error)) => from_sqlx(error, pool, true),
        Err(_) => MySqlFailure::fatal(
            format!(
                "connect ETIMEDOUT {}: no answer within {seconds} s",
                server_label(&options)
            ),
            Some("ETIMEDOUT"),
        ),
    }
}

fn server_label(options: &MySqlConnectOptions) -> String {
    let host = options.get_host();
    if host.contains(':') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

/// A sqlx error as the script sees it: the server's own message and error number when there
/// is one, a network error named as Node names it otherwise.
fn from_sqlx(error: sqlx::Error, pool: &MySqlPool, connecting: bool) -> MySqlFailure {
    match error {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<MySqlDatabaseError>() {
            Some(my) => MySqlFailure::from_server(my, connecting),
            None => MySqlFailure::new(db.message()),
        },
        sqlx::Error::Io(io) => {
            let server = server_label(&pool.connect_options());
            let code = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
                std::io::ErrorKind::TimedOut => "ETIMEDOUT",
                std::io::ErrorKind::ConnectionReset => "ECONNRESET",
                std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => "PROTOCOL_CONNECTION_LOST",
                _ if io.to_string().contains("lookup") => "ENOTFOUND",
                _ => "ECONNRESET",
            };
            if connecting {
                MySqlFailure::fatal(format!("connect {code} {server}: {io}"), Some(code))
            } else {
                MySqlFailure::fatal(
                    format!("the connection to the MySQL server at {server} failed: {io}"),
                    Some(code),
                )
            }
        }
        sqlx::Error::PoolTimedOut => MySqlFailure::fatal(
            format!(
                "timed out after {} s waiting for a connection to the MySQL server at {}",
                ACQUIRE_TIMEOUT.as_secs(),
                server_label(&pool.connect_options())
            ),
            Some("ETIMEDOUT"),
        ),
        sqlx::Error::Tls(e) => {
            MySqlFailure::fatal(format!("TLS: {e}"), Some("HANDSHAKE_SSL_ERROR"))
        }
        sqlx::Error::Configuration(e) => {
            MySqlFailure::new(format!("invalid MySQL connection settings: {e}"))
        }
        other => MySqlFailure::new(other.to_string()),
    }
}

/// The connection itself is gone (a restart, `KILL`, a closed socket), not the query.
fn is_dead_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1053 | 1927 | 4031)),
        _ => false,
    }
}

/// Why one attempt at a statement failed.
enum RunError {
    Sql(sqlx::Error),
    Failure(MySqlFailure),
}

impl RunError {
    fn into_failure(self, pool: &MySqlPool) -> MySqlFailure {
        match self {
            Self::Sql(error) => from_sqlx(error, pool, false),
            Self::Failure(failure) => failure,
        }
    }
}

impl From<sqlx::Error> for RunError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<MySqlFailure> for RunError {
    fn from(failure: MySqlFailure) -> Self {
        Self::Failure(failure)
    }
}

/// Prepares, binds and runs one statement on `conn`.
async fn run(conn: &mut MySqlConnection, sql: &str, params: &[Value]) -> Result<Value, RunError> {
    // Prepared once per connection (the statement cache); the same preparation then runs.
    let statement = (&mut *conn).prepare(sql).await?;
    let expected = match statement.parameters() {
        Some(Either::Left(types)) => types.len(),
        Some(Either::Right(count)) => count,
        None => 0,
    };
    if expected != params.len() {
        return Err(MySqlFailure {
            code: Some("ER_WRONG_ARGUMENTS".into()),
            errno: Some(1210),
            ..MySqlFailure::new(format!(
                "the statement has {expected} placeholder(s) but {} value(s) were given",
                params.len()
            ))
        }
        .into());
    }
    let mut arguments = MySqlArguments::default();
    for (index, value) in params.iter().enumerate() {
        bind(&mut arguments, value)
            .map_err(|e| MySqlFailure::new(format!("cannot bind parameter {}: {e}", index + 1)))?;
    }
    let prepared_columns: Vec<(String, MySqlTypeInfo)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_info().clone()))
        .collect();

    if prepared_columns.is_empty() {
        let done = sqlx::query_with(sql, arguments).execute(&mut *conn).await?;
        let affected = done.rows_affected();
        // sqlx does not pass on the server's "Rows matched: … Changed: …" text: an UPDATE
        // reports the rows it matched (the connection has CLIENT_FOUND_ROWS, as npm's has).
        let changed = if leading_words(sql, 1).first().is_some_and(|w| w == "UPDATE") {
            affected
        } else {
            0
        };
        return Ok(json!({
            "affectedRows": affected,
            "insertId": done.last_insert_id(),
            "changedRows": changed,
        }));
    }

    let rows = sqlx::query_with(sql, arguments)
        .fetch_all(&mut *conn)
        .await?;
    // The columns as this execution sent them (the prepared ones may predate a schema change).
    let columns: Vec<(String, String)> = match rows.first() {
        Some(row) => row
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), type_label(c.type_info())))
            .collect(),
        None => prepared_columns
            .iter()
            .map(|(name, type_info)| (name.clone(), type_label(type_info)))
            .collect(),
    };
    let mut decoded = Vec::with_capacity(rows.len());
    for row in &rows {
        decoded.push(decode_row(row, &columns)?);
    }
    let mut fields = Vec::with_capacity(columns.len());
    let mut dates = Vec::new();
    for (name, type_name) in &columns {
        let type_name = type_name.as_str();
        fields.push(json!({
            "name": name,
            "type": type_code(type_name),
            "typeName": type_name,
        }));
        if matches!(kind(type_name), Kind::Date | Kind::DateTime) {
            dates.push(Value::String(name.clone()));
        }
    }
    Ok(json!({ "rows": decoded, "fields": fields, "dates": dates }))
}

/// Binds one JSON value by its JSON type; MySQL converts it to the column's type.
fn bind(arguments: &mut MySqlArguments, value: &Value) -> Result<(), String> {
    let added = match value {
        Value::Null => arguments.add(Option::<String>::None),
        Value::Bool(b) => arguments.add(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                arguments.add(i)
            } else if let Some(u) = n.as_u64() {
                arguments.add(u)
            } else {
                match n.as_f64() {
                    Some(f) => arguments.add(f),
                    None => arguments.add(n.to_string()),
                }
            }
        }
        Value::String(s) => arguments.add(s.clone()),
        Value::Object(_) => match buffer_bytes(value) {
            Some(bytes) => arguments.add(bytes),
            None => arguments.add(value.to_string()),
        },
        Value::Array(_) => arguments.add(value.to_string()),
    };
    added.map_err(|e| e.to_string())
}

/// How a column's values are decoded, from sqlx's name of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Signed,
    Unsigned,
    Float,
    Double,
    Decimal,
    Date,
    DateTime,
    Time,
    Text,
    Bytes,
    Null,
}

/// Byte lengths the server gives TINYBLOB, BLOB, MEDIUMBLOB and LONGBLOB columns. A text
/// column of a binary collation (`TEXT COLLATE utf8mb4_bin`) has the same type and flags as a
/// blob, but its length is in characters of the connection's utf8mb4 (a multiple of 4), except
/// LONGTEXT, whose length is capped like LONGBLOB's.
const BLOB_LENGTHS: [u64; 4] = [255, 65_535, 16_777_215, 4_294_967_295];

/// What sqlx keeps of a column's definition but does not make public: its flags and length
/// (read from its `Debug` form; without them, the safe reading is taken).
fn column_detail(type_info: &MySqlTypeInfo) -> (bool, Option<u64>) {
    let debug = format!("{type_info:?}");
    let unsigned = debug.contains("UNSIGNED");
    let max_size = debug
        .split("max_size: Some(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok());
    (unsigned, max_size)
}

/// The type's name as the script sees it: sqlx's, but `TEXT` for a text column of a binary
/// collation (see `BLOB_LENGTHS`).
fn type_label(type_info: &MySqlTypeInfo) -> String {
    let name = type_info.name();
    if name == "BLOB" {
        let (_, max_size) = column_detail(type_info);
        if max_size.is_some_and(|n| !BLOB_LENGTHS.contains(&n)) {
            return "TEXT".into();
        }
    }
    if name == "BOOLEAN" && column_detail(type_info).0 {
        return "TINYINT UNSIGNED".into();
    }
    name.to_owned()
}

fn kind(type_name: &str) -> Kind {
    let unsigned = type_name.ends_with(" UNSIGNED");
    match type_name.trim_end_matches(" UNSIGNED") {
        // TINYINT(1), signed (MySQL's BOOL); an unsigned one is named TINYINT UNSIGNED.
        "BOOLEAN" => Kind::Signed,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" if unsigned => Kind::Unsigned,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => Kind::Signed,
        "YEAR" => Kind::Unsigned,
        "FLOAT" => Kind::Float,
        "DOUBLE" => Kind::Double,
        "DECIMAL" => Kind::Decimal,
        "DATE" => Kind::Date,
        "DATETIME" | "TIMESTAMP" => Kind::DateTime,
        "TIME" => Kind::Time,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
        | "GEOMETRY" => Kind::Bytes,
        "NULL" => Kind::Null,
        _ => Kind::Text,
    }
}

/// The npm package's `field.type` number for a type name.
fn type_code(type_name: &str) -> u8 {
    match type_name.trim_end_matches(" UNSIGNED") {
        "DECIMAL" => 246,
        "BOOLEAN" | "TINYINT" => 1,
        "SMALLINT" => 2,
        "INT" => 3,
        "FLOAT" => 4,
        "DOUBLE" => 5,
        "NULL" => 6,
        "TIMESTAMP" => 7,
        "BIGINT" => 8,
        "MEDIUMINT" => 9,
        "DATE" => 10,
        "TIME" => 11,
        "DATETIME" => 12,
        "YEAR" => 13,
        "BIT" => 16,
        "JSON" => 245,
        "ENUM" => 247,
        "SET" => 248,
        "TINYBLOB" | "TINYTEXT" => 249,
        "MEDIUMBLOB" | "MEDIUMTEXT" => 250,
        "LONGBLOB" | "LONGTEXT" => 251,
        "BLOB" | "TEXT" => 252,
        "VARCHAR" | "VARBINARY" => 253,
        "GEOMETRY" => 255,
        _ => 254,
    }
}

fn decode_row(row: &MySqlRow, columns: &[(String, String)]) -> Result<Value, MySqlFailure> {
    let mut object = Map::new();
    for (index, (name, type_name)) in columns.iter().enumerate().take(row.len()) {
        let raw = row
            .try_get_raw(index)
            .map_err(|e| MySqlFailure::new(format!("cannot read column \"{name}\": {e}")))?;
        let value = decode_cell(type_name, raw).map_err(|reason| {
            MySqlFailure::new(format!(
                "cannot decode column \"{name}\" of type {type_name}: {reason}"
            ))
        })?;
        object.insert(name.clone(), value);
    }
    Ok(Value::Object(object))
}

/// One value of the binary protocol, as the npm package's type casting gives it.
fn decode_cell(type_name: &str, raw: MySqlValueRef<'_>) -> Result<Value, String> {
    let kind = kind(type_name);
    // Zero dates ('0000-00-00') count as NULL for sqlx, not for the npm package.
    let is_null = raw.is_null();
    let bytes = match <&[u8] as Decode<MySql>>::decode(raw) {
        Ok(bytes) => bytes,
        Err(_) if is_null => return Ok(Value::Null),
        Err(e) => return Err(e.to_string()),
    };
    if is_null && !matches!(kind, Kind::Date | Kind::DateTime) {
        return Ok(Value::Null);
    }
    Ok(match kind {
        Kind::Null => Value::Null,
        Kind::Signed => integer_value(signed(bytes)?),
        Kind::Unsigned => {
            let n = unsigned(bytes)?;
            match i64::try_from(n) {
                Ok(n) => integer_value(n),
                Err(_) => Value::String(n.to_string()),
            }
        }
        Kind::Float => {
            let array: [u8; 4] = bytes.try_into().map_err(|_| "a FLOAT is 4 bytes")?;
            // As the text protocol gives it: the float's shortest decimal form.
            let text = f32::from_le_bytes(array).to_string();
            float_value(text.parse::<f64>().unwrap_or(f64::NAN))
        }
        Kind::Double => {
            let array: [u8; 8] = bytes.try_into().map_err(|_| "a DOUBLE is 8 bytes")?;
            float_value(f64::from_le_bytes(array))
        }
        Kind::Decimal => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        Kind::Date => Value::String(date_text(bytes, false)?),
        Kind::DateTime => Value::String(date_text(bytes, true)?),
        Kind::Time => Value::String(time_text(bytes)?),
        Kind::Bytes => buffer_value(bytes),
        Kind::Text => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    })
}

fn integer_value(n: i64) -> Value {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n) {
        Value::from(n)
    } else {
        Value::String(n.to_string())
    }
}

fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn signed(bytes: &[u8]) -> Result<i64, String> {
    Ok(match bytes.len() {
        1 => i64::from(i8::from_le_bytes([bytes[0]])),
        2 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
        4 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        8 => i64::from_le_bytes(bytes.try_into().map_err(|_| "bad integer")?),
        n => return Err(format!("an integer of {n} bytes")),
    })
}

fn unsigned(bytes: &[u8]) -> Result<u64, String> {
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(format!("an integer of {} bytes", bytes.len()));
    }
    let mut array = [0u8; 8];
    array[..bytes.len()].copy_from_slice(bytes);
    Ok(u64::from_le_bytes(array))
}

fn fraction_text(micros: u32) -> String {
    if micros == 0 {
        String::new()
    } else if micros.is_multiple_of(1000) {
        format!(".{:03}", micros / 1000)
    } else {
        format!(".{micros:06}")
    }
}

/// A binary DATE / DATETIME / TIMESTAMP (length byte, then the fields present) as MySQL's
/// text: `2021-03-04`, `2021-03-04 05:06:07`, `2021-03-04 05:06:07.123`.
fn date_text(bytes: &[u8], with_time: bool) -> Result<String, String> {
    let len = usize::from(*bytes.first().ok_or("an empty date")?);
    let body = bytes.get(1..=len).ok_or("a truncated date")?;
    let byte = |i: usize| body.get(i).copied().unwrap_or(0);
    let year = if len >= 2 {
        u16::from_le_bytes([body[0], body[1]])
    } else {
        0
    };
    let date = format!("{year:04}-{:02}-{:02}", byte(2), byte(3));
    if !with_time {
        return Ok(date);
    }
    let micros = match body.get(7..11) {
        Some(m) => u32::from_le_bytes([m[0], m[1], m[2], m[3]]),
        None => 0,
    };
    Ok(format!(
        "{date} {:02}:{:02}:{:02}{}",
        byte(4),
        byte(5),
        byte(6),
        fraction_text(micros)
    ))
}

/// A binary TIME (length byte, sign, days, hours, minutes, seconds, microseconds) as MySQL's
/// text: `-838:59:59`, `12:34:56.5`.
fn time_text(bytes: &[u8]) -> Result<String, String> {
    let len = usize::from(*bytes.first().ok_or("an empty time")?);
    if len == 0 {
        return Ok("00:00:00".into());
    }
    let body = bytes.get(1..=len).ok_or("a truncated time")?;
    if body.len() < 8 {
        return Err("a truncated time".into());
    }
    let negative = body[0] == 1;
    let days = u64::from(u32::from_le_bytes([body[1], body[2], body[3], body[4]]));
    let hours = days * 24 + u64::from(body[5]);
    let micros = match body.get(8..12) {
        Some(m) => u32::from_le_bytes([m[0], m[1], m[2], m[3]]),
        None => 0,
    };
    Ok(format!(
        "{}{hours:02}:{:02}:{:02}{}",
        if negative { "-" } else { "" },
        body[6],
        body[7],
        fraction_text(micros)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_words_skip_comments() {
        assert_eq!(
            leading_words("  /* hi */ -- x\n# y\n begin work", 8),
            vec!["BEGIN", "WORK"]
        );
        assert!(refuse_session_statements("START TRANSACTION").is_err());
        assert!(refuse_session_statements("set autocommit = 0").is_err());
        assert!(refuse_session_statements("SET @a = 1").is_ok());
        assert!(refuse_session_statements("SELECT 'BEGIN'").is_ok());
    }

    #[test]
    fn dates_and_times_read_as_mysql_text() {
        assert_eq!(
            date_text(&[4, 0xe5, 0x07, 3, 4], false).unwrap(),
            "2021-03-04"
        );
        assert_eq!(
            date_text(&[7, 0xe5, 0x07, 3, 4, 5, 6, 7], true).unwrap(),
            "2021-03-04 05:06:07"
        );
        let micros = 123_000u32.to_le_bytes();
        let mut b = vec![11, 0xe5, 0x07, 3, 4, 5, 6, 7];
        b.extend_from_slice(&micros);
        assert_eq!(date_text(&b, true).unwrap(), "2021-03-04 05:06:07.123");
        assert_eq!(date_text(&[0], true).unwrap(), "0000-00-00 00:00:00");
        assert_eq!(
            time_text(&[8, 1, 34, 0, 0, 0, 22, 59, 59]).unwrap(),
            "-838:59:59"
        );
        assert_eq!(time_text(&[0]).unwrap(), "00:00:00");
    }

    #[test]
    fn integers_keep_their_sign_and_precision() {
        assert_eq!(signed(&[0xff]).unwrap(), -1);
        assert_eq!(unsigned(&[0xff]).unwrap(), 255);
        assert_eq!(
            integer_value(1 << 53),
            Value::String("9007199254740992".into())
        );
        assert_eq!(integer_value(-(1 << 52)), Value::from(-(1_i64 << 52)));
    }

    #[test]
    fn urls_give_options_without_their_query() {
        let options =
            connect_options("mysql://m%C3%A9:p%40ss@db.example:3307/my%20db?socket=/tmp/x")
                .unwrap();
        assert_eq!(options.get_host(), "db.example");
        assert_eq!(options.get_port(), 3307);
        assert_eq!(options.get_username(), "mé");
        assert_eq!(options.get_database(), Some("my db"));
        assert_eq!(options.get_socket(), None);
        assert!(connect_options("postgres://x@y/z").is_err());
    }
}
