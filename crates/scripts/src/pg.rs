//! The `pg` module's bridge: node-postgres calls from a script run as prepared statements on a
//! PostgreSQL pool kept per connection string.
//!
//! node-postgres sends its parameters untyped and lets the server infer their types. The bridge
//! does the same: it prepares the statement first, reads the parameter types the server
//! inferred, and encodes every JSON value in PostgreSQL's binary format for that type. Result
//! columns are decoded from their binary form into the JSON node-postgres would hand a script
//! (`bigint` and `numeric` as strings, `bytea` as a serialised `Buffer`, dates as ISO-8601
//! strings listed in `dates` so the script side can turn them into `Date` objects).

use crate::bridge::{UrlSecrets, buffer_bytes, buffer_value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Number, Value};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions,
    PgTypeInfo, PgTypeKind, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::{
    Arguments, Column, ConnectOptions, Connection, Either, Executor, Row, Statement, TypeInfo,
    ValueRef,
};

/// Connections a pool opens at most, per connection string.
const MAX_CONNECTIONS: u32 = 4;
/// How long a query waits for a connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unused connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the diagnostic connection attempt after an acquire timeout may take.
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Days from 1970-01-01 (the Unix epoch) to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_SECOND: i64 = 1_000_000;
/// Most dimensions a PostgreSQL array may have.
const MAX_ARRAY_DIMENSIONS: usize = 6;

/// PostgreSQL pools per connection string, shared by every script run of the process.
///
/// Pools are created lazily on first use and live as long as this value; their connections are
/// bound to the Tokio runtime that first opened them, so use one long-lived runtime.
pub struct PgPools {
    pools: Mutex<HashMap<String, PgPool>>,
}

impl Default for PgPools {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PgPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys are connection strings, which may hold passwords: never print them.
        let count = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("PgPools").field("pools", &count).finish()
    }
}

/// Why a `pg` query failed, as a script sees it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PgFailure {
    pub message: String,
    /// SQLSTATE when the server sent one
    pub code: Option<String>,
}

impl PgFailure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: None,
        }
    }

    fn with_code(message: impl Into<String>, code: &str) -> Self {
        Self {
            message: message.into(),
            code: Some(code.to_owned()),
        }
    }
}

impl PgPools {
    pub fn new() -> Self {
        Self {
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// Runs one statement, as node-postgres's `client.query(text, values)` would.
    pub async fn query(
        &self,
        connection_string: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Value, PgFailure> {
        let secrets = UrlSecrets::of(connection_string);
        self.query_unredacted(connection_string, sql, params)
            .await
            .map_err(|mut failure| {
                failure.message = secrets.redact(failure.message);
                failure
            })
    }

    async fn query_unredacted(
        &self,
        connection_string: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Value, PgFailure> {
        let words = top_level_words(sql);
        if let Some(first) = words.first()
            && (first == "BEGIN" || first == "START")
        {
            // Every query takes whichever pooled connection is free, so a transaction opened
            // here would be left open on a connection other scripts then use.
            return Err(PgFailure::new(
                "transaction blocks (BEGIN / START TRANSACTION) are not supported: each query \
                 runs on a pooled connection of its own",
            ));
        }
        let pool = self.pool(connection_string)?;
        let mut conn = acquire(&pool).await?;
        let mut retried = false;
        let mut dead_left = MAX_CONNECTIONS + 1;
        loop {
            match run(&mut conn, sql, params, &words).await {
                Err(RunError::Sql(error)) if !retried && is_stale_cached_plan(&error) => {
                    // Another script changed the schema under a cached prepared statement.
                    retried = true;
                    conn.clear_cached_statements()
                        .await
                        .map_err(|e| from_sqlx(e, &pool))?;
                }
                Err(RunError::Sql(error)) if dead_left > 0 && is_dead_connection(&error) => {
                    // The server ended this pooled connection (a restart, an administrator,
                    // an idle timeout): it leaves the pool, and the query runs again on
                    // another; after a restart every pooled connection is dead, so up to
                    // the pool's size of them are passed over.
                    dead_left -= 1;
                    conn.close_on_drop();
                    drop(conn);
                    conn = acquire(&pool).await?;
                }
                Err(RunError::Sql(error)) => return Err(from_sqlx(error, &pool)),
                Err(RunError::Failure(failure)) => return Err(failure),
                Ok(result) => return Ok(result),
            }
        }
    }

    /// The pool for a connection string, created (without connecting) on first use.
    fn pool(&self, connection_string: &str) -> Result<PgPool, PgFailure> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(connection_string) {
            return Ok(pool.clone());
        }
        let options = PgConnectOptions::from_str(connection_string)
            .map_err(|e| {
                PgFailure::new(format!(
                    "invalid PostgreSQL connection string: {}",
                    describe_config_error(&e)
                ))
            })?
            // Scripts' SQL may carry secrets inline; keep it out of the logs.
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        pools.insert(connection_string.to_owned(), pool.clone());
        Ok(pool)
    }
}

/// `error with configuration: …` without sqlx's prefix.
fn describe_config_error(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(source) => source.to_string(),
        other => other.to_string(),
    }
}

async fn acquire(pool: &PgPool) -> Result<sqlx::pool::PoolConnection<Postgres>, PgFailure> {
    match pool.acquire().await {
        Ok(conn) => Ok(conn),
        Err(sqlx::Error::PoolTimedOut) => Err(diagnose_timeout(pool).await),
        Err(error) => Err(from_sqlx(error, pool)),
    }
}

/// The pool gave up after its acquire timeout, retrying refused connections all along: one
/// direct attempt tells an unreachable server from a pool whose connections are all busy.
async fn diagnose_timeout(pool: &PgPool) -> PgFailure {
    let options = pool.connect_options();
    let server = server_label(&options);
    let seconds = ACQUIRE_TIMEOUT.as_secs();
    match tokio::time::timeout(DIAGNOSE_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            PgFailure::new(format!(
                "timed out after {seconds} s waiting for a free connection to the PostgreSQL \
                 server at {server} (all {MAX_CONNECTIONS} connections are busy)"
            ))
        }
        Ok(Err(sqlx::Error::Database(db))) => PgFailure {
            message: db.message().to_owned(),
            code: db.code().map(|code| code.into_owned()),
        },
        Ok(Err(error)) => PgFailure::new(format!(
            "could not connect to the PostgreSQL server at {server}: {}",
            io_detail(&error)
        )),
        Err(_) => PgFailure::new(format!(
            "could not connect to the PostgreSQL server at {server}: no answer within {seconds} s"
        )),
    }
}

fn server_label(options: &PgConnectOptions) -> String {
    let host = options.get_host();
    if host.starts_with('/') {
        format!("{host} (port {})", options.get_port())
    } else if host.contains(':') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

fn io_detail(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// A sqlx error as the script sees it: the server's own message and SQLSTATE when there is one.
fn from_sqlx(error: sqlx::Error, pool: &PgPool) -> PgFailure {
    match error {
        sqlx::Error::Database(db) => PgFailure {
            message: db.message().to_owned(),
            code: db.code().map(|code| code.into_owned()),
        },
        sqlx::Error::Io(io) => PgFailure::new(format!(
            "connection to the PostgreSQL server at {} failed: {io}",
            server_label(&pool.connect_options())
        )),
        sqlx::Error::PoolTimedOut => PgFailure::new(format!(
            "timed out after {} s waiting for a connection to the PostgreSQL server at {}",
            ACQUIRE_TIMEOUT.as_secs(),
            server_label(&pool.connect_options())
        )),
        other => PgFailure::new(other.to_string()),
    }
}

/// The server refuses a cached prepared statement whose result columns changed under it.
fn is_stale_cached_plan(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("0A000") && db.message().contains("cached plan")
        }
        _ => false,
    }
}

/// Why one attempt at a statement failed.
enum RunError {
    Sql(sqlx::Error),
    Failure(PgFailure),
}

impl From<sqlx::Error> for RunError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<PgFailure> for RunError {
    fn from(failure: PgFailure) -> Self {
        Self::Failure(failure)
    }
}

/// Prepares, binds and runs one statement on `conn`, returning node-postgres's result shape.
async fn run(
    conn: &mut PgConnection,
    sql: &str,
    params: &[Value],
    words: &[String],
) -> Result<Value, RunError> {
    let statement = (&mut *conn).prepare(sql).await?;
    let param_types: Vec<PgTypeInfo> = match statement.parameters() {
        Some(Either::Left(types)) => types.to_vec(),
        Some(Either::Right(count)) => vec![PgTypeInfo::with_oid(Oid(OID_UNKNOWN)); count],
        None => Vec::new(),
    };
    if params.len() != param_types.len() {
        return Err(PgFailure::with_code(
            format!(
                "bind message supplies {} parameters, but prepared statement \"\" requires {}",
                params.len(),
                param_types.len()
            ),
            "08P01",
        )
        .into());
    }
    let mut arguments = PgArguments::default();
    for (index, (value, type_info)) in params.iter().zip(&param_types).enumerate() {
        let bytes = encode_value(value, type_info, 0).map_err(|reason| {
            PgFailure::with_code(
                format!(
                    "cannot encode parameter ${} as {}: {reason}",
                    index + 1,
                    type_label(type_info)
                ),
                "22P02",
            )
        })?;
        arguments
            .add(BoundParam {
                bytes,
                type_info: type_info.clone(),
            })
            .map_err(|e| PgFailure::new(format!("cannot bind parameter ${}: {e}", index + 1)))?;
    }
    let columns: Vec<(String, PgTypeInfo)> = statement
        .columns()
        .iter()
        .map(|column| (column.name().to_owned(), column.type_info().clone()))
        .collect();
    let command = command_word(words);

    let mut result = Map::new();
    if columns.is_empty() {
        let done = sqlx::query_with(sql, arguments).execute(&mut *conn).await?;
        let row_count = if reports_row_count(&command) {
            Value::from(done.rows_affected())
        } else {
            Value::Null
        };
        result.insert("rowCount".into(), row_count);
        result.insert("rows".into(), Value::Array(Vec::new()));
    } else {
        let rows = sqlx::query_with(sql, arguments)
            .fetch_all(&mut *conn)
            .await?;
        let mut decoded = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut object = Map::new();
            for (index, (name, type_info)) in columns.iter().enumerate().take(row.len()) {
                let raw = row.try_get_raw(index)?;
                let value = decode_cell(type_info, &raw).map_err(|reason| {
                    PgFailure::new(format!(
                        "cannot decode column \"{name}\" of type {}: {reason}",
                        type_label(type_info)
                    ))
                })?;
                object.insert(name.clone(), value);
            }
            decoded.push(Value::Object(object));
        }
        result.insert("rowCount".into(), Value::from(decoded.len()));
        result.insert("rows".into(), Value::Array(decoded));
    }
    result.insert(
        "command".into(),
        if command.is_empty() {
            Value::Null
        } else {
            Value::String(command)
        },
    );
    let mut fields = Vec::with_capacity(columns.len());
    let mut dates = Vec::new();
    for (name, type_info) in &columns {
        let mut field = Map::new();
        field.insert("name".into(), Value::String(name.clone()));
        field.insert(
            "dataTypeID".into(),
            Value::from(type_info.oid().map_or(0, |oid| oid.0)),
        );
        fields.push(Value::Object(field));
        if matches!(
            classify(type_info),
            Kind::Timestamp | Kind::Timestamptz | Kind::Date
        ) {
            dates.push(Value::String(name.clone()));
        }
    }
    result.insert("fields".into(), Value::Array(fields));
    result.insert("dates".into(), Value::Array(dates));
    Ok(Value::Object(result))
}

/// Whether node-postgres reports a row count (rather than `null`) for a command.
fn reports_row_count(command: &str) -> bool {
    matches!(
        command,
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "COPY" | "MOVE" | "FETCH"
    )
}

/// The command word node-postgres reports: the statement's first keyword, or for `WITH …` the
/// keyword of the statement the common table expressions lead to.
fn command_word(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let main = if first == "WITH" {
        words
            .iter()
            .skip(1)
            .find(|word| {
                matches!(
                    word.as_str(),
                    "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "VALUES" | "TABLE"
                )
            })
            .unwrap_or(first)
    } else {
        first
    };
    match main.as_str() {
        "VALUES" | "TABLE" => "SELECT".to_owned(),
        other => other.to_owned(),
    }
}

/// The keywords and identifiers of a statement outside parentheses (the outermost ones there
/// are), quotes and comments, upper-cased, in order.
fn top_level_words(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut nesting = 1usize;
                i += 2;
                while i < bytes.len() && nesting > 0 {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        nesting += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        nesting -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' | b'"' => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == c {
                        if bytes.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let start = i;
                let mut end = i + 1;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                let tag_is_valid = bytes.get(end) == Some(&b'$')
                    && bytes.get(start + 1).is_none_or(|b| !b.is_ascii_digit());
                if tag_is_valid {
                    let tag = &sql[start..=end];
                    match sql[end + 1..].find(tag) {
                        Some(offset) => i = end + 1 + offset + tag.len(),
                        None => i = bytes.len(),
                    }
                } else {
                    i = end;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
                {
                    i += 1;
                }
                words.push((depth, sql[start..i].to_ascii_uppercase()));
            }
            _ => i += 1,
        }
    }
    // A statement wrapped in parentheses, `(SELECT 1)`, has no words at depth 0.
    let outermost = words.iter().map(|(depth, _)| *depth).min().unwrap_or(0);
    words
        .into_iter()
        .filter(|(depth, _)| *depth == outermost)
        .map(|(_, word)| word)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

const OID_UNKNOWN: u32 = 705;

/// How the bridge treats a PostgreSQL type, in both directions.
#[derive(Debug, Clone)]
enum Kind {
    Bool,
    Bytea,
    /// The one-byte `"char"`.
    Char,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Money,
    /// Types whose binary form is their text: text, varchar, bpchar, name, unknown, xml,
    /// enums and extension types such as citext.
    Text,
    Json,
    Jsonb,
    Jsonpath,
    Uuid,
    Timestamp,
    Timestamptz,
    Date,
    Time,
    Timetz,
    Interval,
    Inet,
    Cidr,
    Macaddr,
    Bit,
    Point,
    Circle,
    Array(PgTypeInfo),
    /// Anything else: no binary codec here.
    Other,
}

fn classify(type_info: &PgTypeInfo) -> Kind {
    let Some(Oid(oid)) = type_info.oid() else {
        return Kind::Other;
    };
    match oid {
        16 => return Kind::Bool,
        17 => return Kind::Bytea,
        18 => return Kind::Char,
        19 | 25 | 142 | 705 | 1042 | 1043 | 2275 => return Kind::Text,
        20 => return Kind::Int8,
        21 => return Kind::Int2,
        23 => return Kind::Int4,
        26 => return Kind::Oid,
        114 => return Kind::Json,
        600 => return Kind::Point,
        650 => return Kind::Cidr,
        700 => return Kind::Float4,
        701 => return Kind::Float8,
        718 => return Kind::Circle,
        774 | 829 => return Kind::Macaddr,
        790 => return Kind::Money,
        869 => return Kind::Inet,
        1082 => return Kind::Date,
        1083 => return Kind::Time,
        1114 => return Kind::Timestamp,
        1184 => return Kind::Timestamptz,
        1186 => return Kind::Interval,
        1266 => return Kind::Timetz,
        1560 | 1562 => return Kind::Bit,
        1700 => return Kind::Numeric,
        2950 => return Kind::Uuid,
        3802 => return Kind::Jsonb,
        4072 => return Kind::Jsonpath,
        _ => {}
    }
    // sqlx panics on `kind()` of a type it only knows by OID ("?"); such types were never
    // resolved and get no codec.
    if TypeInfo::name(type_info) == "?" {
        return Kind::Other;
    }
    match type_info.kind() {
        PgTypeKind::Array(element) => Kind::Array(element.clone()),
        PgTypeKind::Domain(base) => classify(base),
        PgTypeKind::Enum(_) => Kind::Text,
        // User-defined base types (citext and the like): their binary form is their text
        // for the common extensions; the server rejects what it cannot read.
        PgTypeKind::Simple if oid >= FIRST_NORMAL_OID => Kind::Text,
        _ => Kind::Other,
    }
}

/// OIDs below this are PostgreSQL's own objects.
const FIRST_NORMAL_OID: u32 = 16_384;

/// A type's name for messages: `int4`, `timestamptz`, `int4[]`, `my_enum`.
fn type_label(type_info: &PgTypeInfo) -> String {
    let name = TypeInfo::name(type_info);
    if name == "?" {
        format!("type {}", type_info.oid().map_or(0, |oid| oid.0))
    } else if type_info.oid().is_some_and(|oid| oid.0 < FIRST_NORMAL_OID) {
        name.to_ascii_lowercase()
    } else {
        name.to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// One parameter, already in PostgreSQL's binary format for the type the server inferred.
struct BoundParam {
    /// `None` is SQL NULL.
    bytes: Option<Vec<u8>>,
    type_info: PgTypeInfo,
}

impl sqlx::Type<Postgres> for BoundParam {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(OID_UNKNOWN))
    }

    fn compatible(_: &PgTypeInfo) -> bool {
        true
    }
}

impl sqlx::Encode<'_, Postgres> for BoundParam {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match &self.bytes {
            None => Ok(IsNull::Yes),
            Some(bytes) => {
                buf.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.type_info.clone())
    }

    fn size_hint(&self) -> usize {
        self.bytes.as_ref().map_or(0, Vec::len)
    }
}

/// A JSON value in the binary format of `type_info`; `None` for null.
fn encode_value(
    value: &Value,
    type_info: &PgTypeInfo,
    depth: usize,
) -> Result<Option<Vec<u8>>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let kind = classify(type_info);
    let bytes = match kind {
        Kind::Bool => vec![u8::from(to_bool(value)?)],
        Kind::Int2 => {
            let n = to_integer(value)?;
            i16::try_from(n)
                .map_err(|_| format!("{n} is out of range for a smallint"))?
                .to_be_bytes()
                .to_vec()
        }
        Kind::Int4 => {
            let n = to_integer(value)?;
            i32::try_from(n)
                .map_err(|_| format!("{n} is out of range for an integer"))?
                .to_be_bytes()
                .to_vec()
        }
        Kind::Int8 => to_integer(value)?.to_be_bytes().to_vec(),
        Kind::Oid => {
            let n = to_integer(value)?;
            u32::try_from(n)
                .map_err(|_| format!("{n} is out of range for an oid"))?
                .to_be_bytes()
                .to_vec()
        }
        Kind::Float4 => {
            let f = to_float(value)?;
            #[allow(clippy::cast_possible_truncation)]
            let narrow = f as f32;
            if f.is_finite() && !narrow.is_finite() {
                return Err(format!("{f} is out of range for a real"));
            }
            narrow.to_be_bytes().to_vec()
        }
        Kind::Float8 => to_float(value)?.to_be_bytes().to_vec(),
        Kind::Numeric => encode_numeric(&to_decimal_text(value)?)?,
        Kind::Text => to_text(value)?.into_bytes(),
        Kind::Char => {
            let text = to_text(value)?;
            vec![text.as_bytes().first().copied().unwrap_or(0)]
        }
        Kind::Json => to_json_text(value).into_bytes(),
        Kind::Jsonb | Kind::Jsonpath => {
            let text = match (&kind, value) {
                (Kind::Jsonpath, Value::String(s)) => s.clone(),
                (Kind::Jsonpath, _) => return Err("expected a string".into()),
                _ => to_json_text(value),
            };
            let mut bytes = Vec::with_capacity(text.len() + 1);
            bytes.push(1);
            bytes.extend_from_slice(text.as_bytes());
            bytes
        }
        Kind::Uuid => match value {
            Value::String(s) => parse_uuid(s)?.to_vec(),
            other => return Err(format!("expected a UUID string, got {}", brief(other))),
        },
        Kind::Timestamptz => to_timestamp_micros(value, true)?.to_be_bytes().to_vec(),
        Kind::Timestamp => to_timestamp_micros(value, false)?.to_be_bytes().to_vec(),
        Kind::Date => to_pg_date(value)?.to_be_bytes().to_vec(),
        Kind::Time | Kind::Timetz => {
            let Value::String(s) = value else {
                return Err(format!("expected a time string, got {}", brief(value)));
            };
            let (micros, offset) = parse_time_of_day_text(s)?;
            let mut bytes = micros.to_be_bytes().to_vec();
            if matches!(kind, Kind::Timetz) {
                // PostgreSQL stores the zone as seconds west of UTC.
                let west = i32::try_from(-offset.unwrap_or(0))
                    .map_err(|_| "time zone offset out of range".to_owned())?;
                bytes.extend_from_slice(&west.to_be_bytes());
            }
            bytes
        }
        Kind::Bytea => to_bytes(value)?,
        Kind::Inet | Kind::Cidr => match value {
            Value::String(s) => encode_inet(s, matches!(kind, Kind::Cidr))?,
            other => return Err(format!("expected an address string, got {}", brief(other))),
        },
        Kind::Array(element) => {
            if depth > 0 {
                return Err("arrays of arrays are not supported".into());
            }
            encode_array(value, &element)?
        }
        Kind::Money
        | Kind::Interval
        | Kind::Macaddr
        | Kind::Bit
        | Kind::Point
        | Kind::Circle
        | Kind::Other => {
            return Err(
                "this parameter type is not supported by the pg bridge; cast the \
                        parameter in SQL (for example $1::text::interval)"
                    .into(),
            );
        }
    };
    Ok(Some(bytes))
}

/// A short description of a JSON value for messages.
fn brief(value: &Value) -> String {
    let text = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => return format!("boolean {value}"),
        Value::Number(_) => return format!("number {value}"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => return "an array".into(),
        Value::Object(_) => return "an object".into(),
    };
    if text.chars().count() > 64 {
        let cut: String = text.chars().take(60).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A JavaScript-style rendering of a number: `1` rather than `1.0`.
fn js_number_text(number: &Number) -> String {
    if let Some(i) = number.as_i64() {
        i.to_string()
    } else if let Some(u) = number.as_u64() {
        u.to_string()
    } else {
        number
            .as_f64()
            .map_or_else(|| number.to_string(), |f| format!("{f}"))
    }
}

fn to_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => Ok(true),
            "f" | "false" | "n" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("{} is not a boolean", brief(value))),
        },
        other => Err(format!("{} is not a boolean", brief(other))),
    }
}

fn to_integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(i);
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    Ok(i)
                }
                _ => Err(format!("{} is not an integer in range", brief(value))),
            }
        }
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{} is not an integer", brief(value))),
        other => Err(format!("{} is not an integer", brief(other))),
    }
}

fn to_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("{} is not a number", brief(value))),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{} is not a number", brief(value))),
        other => Err(format!("{} is not a number", brief(other))),
    }
}

fn to_decimal_text(value: &Value) -> Result<String, String> {
    match value {
        Value::Number(n) => Ok(js_number_text(n)),
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("{} is not a number", brief(other))),
    }
}

/// The text node-postgres would send for a value: strings as they are, numbers and booleans
/// as JavaScript prints them, arrays as PostgreSQL array literals, objects as JSON.
fn to_text(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => js_number_text(n),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) => pg_array_literal(value),
        Value::Object(_) => match buffer_bytes(value) {
            Some(bytes) => String::from_utf8(bytes)
                .map_err(|_| "a Buffer that is not UTF-8 text cannot be sent as text")?,
            None => to_json_text(value),
        },
        Value::Null => String::new(),
    })
}

fn to_json_text(value: &Value) -> String {
    match value {
        // node-postgres sends strings as they are: they must already be JSON text.
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A PostgreSQL array literal, as node-postgres builds one from a JavaScript array.
fn pg_array_literal(value: &Value) -> String {
    fn push(out: &mut String, value: &Value) {
        match value {
            Value::Null => out.push_str("NULL"),
            Value::Array(items) => {
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push(out, item);
                }
                out.push('}');
            }
            other => {
                let text = match other {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => js_number_text(n),
                    Value::Bool(b) => b.to_string(),
                    _ => other.to_string(),
                };
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    let mut out = String::new();
    push(&mut out, value);
    out
}

fn to_bytes(value: &Value) -> Result<Vec<u8>, String> {
    match value {
        Value::String(s) => {
            // PostgreSQL's hex input form, as the server would read the string node-postgres
            // sends; any other string stands for its UTF-8 bytes.
            if let Some(hex) = s.strip_prefix("\\x")
                && let Some(bytes) = decode_hex(hex)
            {
                return Ok(bytes);
            }
            Ok(s.as_bytes().to_vec())
        }
        Value::Object(_) => buffer_bytes(value)
            .ok_or_else(|| "expected a string or a Buffer, got an object".to_owned()),
        other => Err(format!(
            "expected a string or a Buffer, got {}",
            brief(other)
        )),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

fn parse_uuid(text: &str) -> Result<[u8; 16], String> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or(trimmed);
    let hex: String = inner.chars().filter(|c| *c != '-').collect();
    let invalid = || format!("{} is not a UUID", brief(&Value::String(text.to_owned())));
    if hex.len() != 32 {
        return Err(invalid());
    }
    let bytes = decode_hex(&hex).ok_or_else(invalid)?;
    <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| invalid())
}

fn encode_inet(text: &str, cidr: bool) -> Result<Vec<u8>, String> {
    let invalid = || {
        format!(
            "{} is not an IP address",
            brief(&Value::String(text.to_owned()))
        )
    };
    let trimmed = text.trim();
    let (address, bits) = match trimmed.split_once('/') {
        Some((address, bits)) => (address, Some(bits.parse::<u8>().map_err(|_| invalid())?)),
        None => (trimmed, None),
    };
    let address: IpAddr = address.parse().map_err(|_| invalid())?;
    let (family, max_bits, octets) = match address {
        IpAddr::V4(v4) => (2u8, 32u8, v4.octets().to_vec()),
        IpAddr::V6(v6) => (3u8, 128u8, v6.octets().to_vec()),
    };
    let bits = bits.unwrap_or(max_bits);
    if bits > max_bits {
        return Err(invalid());
    }
    let mut bytes = vec![
        family,
        bits,
        u8::from(cidr),
        u8::try_from(octets.len()).unwrap_or(0),
    ];
    bytes.extend_from_slice(&octets);
    Ok(bytes)
}

fn encode_array(value: &Value, element: &PgTypeInfo) -> Result<Vec<u8>, String> {
    let Value::Array(items) = value else {
        return Err(format!("expected an array, got {}", brief(value)));
    };
    let element_oid = element
        .oid()
        .ok_or_else(|| "the array's element type is unknown".to_owned())?
        .0;
    let element_is_json = matches!(classify(element), Kind::Json | Kind::Jsonb);
    let mut dimensions = vec![items.len()];
    let mut current = items.first();
    while let Some(Value::Array(inner)) = current {
        if element_is_json {
            break;
        }
        dimensions.push(inner.len());
        current = inner.first();
    }
    if dimensions.len() > MAX_ARRAY_DIMENSIONS {
        return Err(format!(
            "arrays have at most {MAX_ARRAY_DIMENSIONS} dimensions"
        ));
    }
    let mut out = Vec::new();
    if items.is_empty() {
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&element_oid.to_be_bytes());
        return Ok(out);
    }
    let mut flat = Vec::new();
    flatten(value, &dimensions, &mut flat)?;
    let mut encoded = Vec::with_capacity(flat.len());
    for item in flat {
        encoded.push(encode_value(item, element, 1)?);
    }
    let has_null = encoded.iter().any(Option::is_none);
    let ndim = i32::try_from(dimensions.len()).map_err(|_| "too many dimensions".to_owned())?;
    out.extend_from_slice(&ndim.to_be_bytes());
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&element_oid.to_be_bytes());
    for dimension in &dimensions {
        let length = i32::try_from(*dimension).map_err(|_| "array too long".to_owned())?;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for item in encoded {
        match item {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                let length =
                    i32::try_from(bytes.len()).map_err(|_| "array element too long".to_owned())?;
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(&bytes);
            }
        }
    }
    Ok(out)
}

/// The elements of a rectangular nested array, in row-major order.
fn flatten<'v>(
    value: &'v Value,
    dimensions: &[usize],
    out: &mut Vec<&'v Value>,
) -> Result<(), String> {
    let Some((length, rest)) = dimensions.split_first() else {
        out.push(value);
        return Ok(());
    };
    match value {
        Value::Array(items) if items.len() == *length => {
            for item in items {
                flatten(item, rest, out)?;
            }
            Ok(())
        }
        _ => Err("multidimensional arrays must be rectangular".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Numeric
// ---------------------------------------------------------------------------------------------

const NUMERIC_POSITIVE: u16 = 0x0000;
const NUMERIC_NEGATIVE: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PLUS_INFINITY: u16 = 0xD000;
const NUMERIC_MINUS_INFINITY: u16 = 0xF000;
const NUMERIC_MAX_SCALE: i64 = 0x3FFF;

fn numeric_header(ndigits: i16, weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8);
    bytes.extend_from_slice(&ndigits.to_be_bytes());
    bytes.extend_from_slice(&weight.to_be_bytes());
    bytes.extend_from_slice(&sign.to_be_bytes());
    bytes.extend_from_slice(&dscale.to_be_bytes());
    bytes
}

/// A decimal string (`-12.50`, `1e3`, `NaN`, `Infinity`) in PostgreSQL's binary numeric form.
fn encode_numeric(text: &str) -> Result<Vec<u8>, String> {
    let invalid = || format!("{} is not a number", brief(&Value::String(text.to_owned())));
    let trimmed = text.trim();
    match trimmed.to_ascii_lowercase().as_str() {
        "nan" => return Ok(numeric_header(0, 0, NUMERIC_NAN, 0)),
        "infinity" | "+infinity" | "inf" | "+inf" => {
            return Ok(numeric_header(0, 0, NUMERIC_PLUS_INFINITY, 0));
        }
        "-infinity" | "-inf" => return Ok(numeric_header(0, 0, NUMERIC_MINUS_INFINITY, 0)),
        _ => {}
    }
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exponent = unsigned[at + 1..].parse::<i64>().map_err(|_| invalid())?;
            (&unsigned[..at], exponent)
        }
        None => (unsigned, 0),
    };
    if exponent.abs() > 1_000_000 {
        return Err(format!(
            "{} is out of range for a numeric",
            brief(&Value::String(text.to_owned()))
        ));
    }
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty() && fraction.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return Err(invalid());
    }
    let fraction_len = i64::try_from(fraction.len()).map_err(|_| invalid())?;
    let mut exp10 = exponent - fraction_len;
    let scale = (-exp10).max(0);
    if scale > NUMERIC_MAX_SCALE {
        return Err(format!(
            "{} has too many decimal places",
            brief(&Value::String(text.to_owned()))
        ));
    }
    let dscale = u16::try_from(scale).map_err(|_| invalid())?;
    let mut digits: Vec<u8> = integer
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b - b'0')
        .skip_while(|d| *d == 0)
        .collect();
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    if digits.is_empty() {
        return Ok(numeric_header(0, 0, NUMERIC_POSITIVE, dscale));
    }
    let count = i64::try_from(digits.len()).map_err(|_| invalid())?;
    let highest_power = exp10 + count - 1;
    let highest_group = highest_power.div_euclid(4);
    let lowest_group = exp10.div_euclid(4);
    let out_of_range = || {
        format!(
            "{} is out of range for a numeric",
            brief(&Value::String(text.to_owned()))
        )
    };
    let weight = i16::try_from(highest_group).map_err(|_| out_of_range())?;
    let group_count =
        usize::try_from(highest_group - lowest_group + 1).map_err(|_| out_of_range())?;
    let ndigits = i16::try_from(group_count).map_err(|_| out_of_range())?;
    let mut groups = vec![0i16; group_count];
    for (k, digit) in (0i64..).zip(&digits) {
        let power = highest_power - k;
        let group = power.div_euclid(4);
        let index = usize::try_from(highest_group - group).map_err(|_| out_of_range())?;
        let scale = 10i16.pow(u32::try_from(power.rem_euclid(4)).unwrap_or(0));
        if let Some(slot) = groups.get_mut(index) {
            *slot += i16::from(*digit) * scale;
        }
    }
    let sign = if negative {
        NUMERIC_NEGATIVE
    } else {
        NUMERIC_POSITIVE
    };
    let mut bytes = numeric_header(ndigits, weight, sign, dscale);
    for group in groups {
        bytes.extend_from_slice(&group.to_be_bytes());
    }
    Ok(bytes)
}

/// PostgreSQL's binary numeric as the decimal string PostgreSQL prints.
fn decode_numeric(bytes: &[u8]) -> Result<String, String> {
    let mut reader = Reader::new(bytes);
    let ndigits = reader.i16()?;
    let weight = i64::from(reader.i16()?);
    let sign = reader.u16()?;
    let dscale = usize::from(reader.u16()?);
    match sign {
        NUMERIC_NAN => return Ok("NaN".into()),
        NUMERIC_PLUS_INFINITY => return Ok("Infinity".into()),
        NUMERIC_MINUS_INFINITY => return Ok("-Infinity".into()),
        NUMERIC_POSITIVE | NUMERIC_NEGATIVE => {}
        other => return Err(format!("unknown numeric sign {other:#06x}")),
    }
    let ndigits = usize::try_from(ndigits).map_err(|_| "negative digit count".to_owned())?;
    let mut digits = Vec::with_capacity(ndigits);
    for _ in 0..ndigits {
        let digit = reader.i16()?;
        if !(0..10_000).contains(&digit) {
            return Err(format!("invalid numeric digit {digit}"));
        }
        digits.push(digit);
    }
    let digit_at = |index: i64| -> i16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == NUMERIC_NEGATIVE && digits.iter().any(|d| *d != 0) {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for index in 0..=weight {
            let digit = digit_at(index);
            if index == 0 {
                let _ = write!(out, "{digit}");
            } else {
                let _ = write!(out, "{digit:04}");
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut fraction = String::with_capacity(dscale + 4);
        let mut index = weight + 1;
        while fraction.len() < dscale {
            let _ = write!(fraction, "{:04}", digit_at(index));
            index += 1;
        }
        fraction.truncate(dscale);
        out.push_str(&fraction);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// A year as JavaScript's `toISOString` writes it: four digits, or six with a sign outside
/// 0..=9999.
fn iso_year(year: i64) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year > 9999 {
        format!("+{year:06}")
    } else {
        format!("-{:06}", year.unsigned_abs())
    }
}

fn format_date(days_since_unix_epoch: i64) -> String {
    let (year, month, day) = civil_from_days(days_since_unix_epoch);
    format!("{}-{month:02}-{day:02}", iso_year(year))
}

/// Microseconds since 2000-01-01T00:00:00 as `2021-03-04T05:06:07.123Z`.
fn format_timestamp(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    let days = micros.div_euclid(MICROS_PER_DAY) + PG_EPOCH_DAYS;
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let seconds = of_day / MICROS_PER_SECOND;
    let millis = (of_day % MICROS_PER_SECOND) / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}.{millis:03}Z",
        format_date(days),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Microseconds since midnight as PostgreSQL prints a time: `05:06:07.5`.
fn format_time_of_day(micros: i64) -> String {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let mut out = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// A date, time of day and zone read from an ISO-8601 (or PostgreSQL-style) string.
struct DateTimeText {
    days_since_unix_epoch: i64,
    micros_of_day: i64,
    /// Seconds east of UTC, when the string names a zone.
    offset: Option<i64>,
}

/// A small cursor over ASCII text.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// Between `min` and `max` decimal digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let start = self.at;
        let mut value: i64 = 0;
        while self.at - start < max {
            match self.peek() {
                Some(b) if b.is_ascii_digit() => {
                    value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
                    self.at += 1;
                }
                _ => break,
            }
        }
        let count = self.at - start;
        (count >= min).then_some((value, count))
    }
}

fn parse_date_part(cursor: &mut Cursor<'_>) -> Option<(i64, u32, u32)> {
    let (year, _) = cursor.digits(4, 6)?;
    if !cursor.eat(b'-') {
        return None;
    }
    let (month, _) = cursor.digits(1, 2)?;
    if !cursor.eat(b'-') {
        return None;
    }
    let (day, _) = cursor.digits(1, 2)?;
    let month = u32::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
    let day = u32::try_from(day).ok()?;
    (day >= 1 && day <= days_in_month(year, month)).then_some((year, month, day))
}

/// `HH:MM[:SS[.fraction]]` as microseconds since midnight.
fn parse_time_part(cursor: &mut Cursor<'_>) -> Option<i64> {
    let (hour, _) = cursor.digits(1, 2)?;
    if !cursor.eat(b':') {
        return None;
    }
    let (minute, _) = cursor.digits(2, 2)?;
    let mut second = 0;
    let mut micros = 0;
    if cursor.eat(b':') {
        second = cursor.digits(2, 2)?.0;
        if cursor.eat(b'.') || cursor.eat(b',') {
            let (fraction, count) = cursor.digits(1, 18)?;
            micros = scale_fraction_to_micros(fraction, count);
        }
    }
    if minute > 59
        || second > 60
        || hour > 24
        || (hour == 24 && (minute, second, micros) != (0, 0, 0))
    {
        return None;
    }
    Some(((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + micros)
}

/// The first `count` fractional digits `fraction` as microseconds, rounded half up.
fn scale_fraction_to_micros(fraction: i64, count: usize) -> i64 {
    if count <= 6 {
        let missing = u32::try_from(6 - count).unwrap_or(0);
        fraction * 10i64.pow(missing)
    } else {
        let extra = 10i64.pow(u32::try_from(count - 6).unwrap_or(0));
        (fraction + extra / 2) / extra
    }
}

/// `Z`, `UTC`, `+HH`, `+HH:MM`, `+HHMM`, `-HH:MM:SS`, as seconds east of UTC.
fn parse_zone(cursor: &mut Cursor<'_>) -> Option<i64> {
    let rest = &cursor.bytes[cursor.at..];
    if rest.eq_ignore_ascii_case(b"z") {
        cursor.at += 1;
        return Some(0);
    }
    if rest.eq_ignore_ascii_case(b"utc") || rest.eq_ignore_ascii_case(b"gmt") {
        cursor.at += 3;
        return Some(0);
    }
    let sign = match cursor.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    cursor.at += 1;
    let (hours, _) = cursor.digits(1, 2)?;
    let mut minutes = 0;
    let mut seconds = 0;
    let colon = cursor.eat(b':');
    if let Some((m, _)) = cursor.digits(2, 2) {
        minutes = m;
        if (!colon || cursor.eat(b':')) && !cursor.done() {
            seconds = cursor.digits(2, 2)?.0;
        }
    } else if colon {
        return None;
    }
    if hours > 15 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

fn parse_date_time(text: &str) -> Option<DateTimeText> {
    let mut cursor = Cursor::new(text.trim());
    let (year, month, day) = parse_date_part(&mut cursor)?;
    let mut micros_of_day = 0;
    let mut offset = None;
    if !cursor.done() {
        if !(cursor.eat(b'T') || cursor.eat(b't') || cursor.eat(b' ')) {
            return None;
        }
        cursor.skip_spaces();
        micros_of_day = parse_time_part(&mut cursor)?;
        cursor.skip_spaces();
        if !cursor.done() {
            offset = Some(parse_zone(&mut cursor)?);
        }
    }
    cursor.done().then_some(DateTimeText {
        days_since_unix_epoch: days_from_civil(year, month, day),
        micros_of_day,
        offset,
    })
}

/// A time of day with an optional zone: microseconds since midnight and seconds east of UTC.
fn parse_time_of_day_text(text: &str) -> Result<(i64, Option<i64>), String> {
    let invalid = || {
        format!(
            "{} is not a time of day",
            brief(&Value::String(text.to_owned()))
        )
    };
    let mut cursor = Cursor::new(text.trim());
    let micros = parse_time_part(&mut cursor).ok_or_else(invalid)?;
    cursor.skip_spaces();
    let offset = if cursor.done() {
        None
    } else {
        Some(parse_zone(&mut cursor).ok_or_else(invalid)?)
    };
    if !cursor.done() {
        return Err(invalid());
    }
    Ok((micros, offset))
}

/// Milliseconds since the Unix epoch (a JavaScript `Date`'s value) as microseconds since
/// PostgreSQL's epoch.
fn unix_millis_to_pg_micros(millis: f64) -> Option<i64> {
    let micros = (millis * 1000.0).round();
    if !micros.is_finite() || micros.abs() > 9.0e18 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    let micros = micros as i64;
    micros.checked_sub(PG_EPOCH_DAYS * MICROS_PER_DAY)
}

/// A timestamp parameter: an ISO-8601 string or milliseconds since the Unix epoch. Without a
/// zone the string is UTC; for `timestamp` (without time zone) a zone is ignored, as the server
/// would ignore it.
fn to_timestamp_micros(value: &Value, with_zone: bool) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(unix_millis_to_pg_micros)
            .ok_or_else(|| format!("{} is out of range for a timestamp", brief(value))),
        Value::String(s) => {
            match s.trim().to_ascii_lowercase().as_str() {
                "infinity" | "+infinity" => return Ok(i64::MAX),
                "-infinity" => return Ok(i64::MIN),
                _ => {}
            }
            let parsed = parse_date_time(s)
                .ok_or_else(|| format!("{} is not an ISO-8601 date-time", brief(value)))?;
            let offset = if with_zone {
                parsed.offset.unwrap_or(0)
            } else {
                0
            };
            (parsed.days_since_unix_epoch - PG_EPOCH_DAYS)
                .checked_mul(MICROS_PER_DAY)
                .and_then(|micros| micros.checked_add(parsed.micros_of_day))
                .and_then(|micros| micros.checked_sub(offset * MICROS_PER_SECOND))
                .ok_or_else(|| format!("{} is out of range for a timestamp", brief(value)))
        }
        other => Err(format!(
            "expected a date-time string or a number, got {}",
            brief(other)
        )),
    }
}

/// A date parameter: `YYYY-MM-DD` (a time after it is ignored) or milliseconds since the Unix
/// epoch, as days since 2000-01-01.
fn to_pg_date(value: &Value) -> Result<i32, String> {
    let days = match value {
        Value::Number(n) => {
            let micros = n
                .as_f64()
                .and_then(unix_millis_to_pg_micros)
                .ok_or_else(|| format!("{} is out of range for a date", brief(value)))?;
            micros.div_euclid(MICROS_PER_DAY)
        }
        Value::String(s) => {
            match s.trim().to_ascii_lowercase().as_str() {
                "infinity" | "+infinity" => return Ok(i32::MAX),
                "-infinity" => return Ok(i32::MIN),
                _ => {}
            }
            let parsed =
                parse_date_time(s).ok_or_else(|| format!("{} is not a date", brief(value)))?;
            parsed.days_since_unix_epoch - PG_EPOCH_DAYS
        }
        other => {
            return Err(format!(
                "expected a date string or a number, got {}",
                brief(other)
            ));
        }
    };
    i32::try_from(days).map_err(|_| format!("{} is out of range for a date", brief(value)))
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// Big-endian reads over a value's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < count {
            return Err("value shorter than its type requires".into());
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let head = self.take(N)?;
        <[u8; N]>::try_from(head).map_err(|_| "value shorter than its type requires".to_owned())
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn finish(&self) -> Result<(), String> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err("value longer than its type allows".into())
        }
    }
}

fn decode_cell(type_info: &PgTypeInfo, value: &PgValueRef<'_>) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let bytes = value.as_bytes().map_err(|e| e.to_string())?;
    match value.format() {
        PgValueFormat::Binary => decode_binary(&classify(type_info), bytes, 0),
        PgValueFormat::Text => Ok(decode_text(&classify(type_info), bytes)),
    }
}

/// A float as JSON: a number, or `"NaN"` / `"Infinity"` / `"-Infinity"`, which JSON lacks.
fn float_value(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(number) => Value::Number(number),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn text_or_buffer(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => buffer_value(bytes),
    }
}

fn decode_binary(kind: &Kind, bytes: &[u8], depth: usize) -> Result<Value, String> {
    let mut reader = Reader::new(bytes);
    let value = match kind {
        Kind::Bool => Value::Bool(reader.array::<1>()?[0] != 0),
        Kind::Int2 => Value::from(reader.i16()?),
        Kind::Int4 => Value::from(reader.i32()?),
        Kind::Int8 => Value::String(reader.i64()?.to_string()),
        Kind::Oid => Value::from(reader.u32()?),
        Kind::Float4 => float_value(f64::from(f32::from_be_bytes(reader.array()?))),
        Kind::Float8 => float_value(reader.f64()?),
        Kind::Numeric => return decode_numeric(bytes).map(Value::String),
        Kind::Money => {
            let cents = i128::from(reader.i64()?);
            let sign = if cents < 0 { "-" } else { "" };
            let cents = cents.abs();
            Value::String(format!("{sign}{}.{:02}", cents / 100, cents % 100))
        }
        Kind::Text | Kind::Char => {
            Value::String(String::from_utf8_lossy(reader.rest()).into_owned())
        }
        Kind::Json => parse_json_text(reader.rest()),
        Kind::Jsonb => {
            let version = reader.array::<1>()?[0];
            if version != 1 {
                return Err(format!("unknown jsonb version {version}"));
            }
            parse_json_text(reader.rest())
        }
        Kind::Jsonpath => {
            let _version = reader.array::<1>()?;
            Value::String(String::from_utf8_lossy(reader.rest()).into_owned())
        }
        Kind::Uuid => {
            let b: [u8; 16] = reader.array()?;
            Value::String(format!(
                "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                b[0],
                b[1],
                b[2],
                b[3],
                b[4],
                b[5],
                b[6],
                b[7],
                b[8],
                b[9],
                b[10],
                b[11],
                b[12],
                b[13],
                b[14],
                b[15]
            ))
        }
        Kind::Timestamp | Kind::Timestamptz => Value::String(format_timestamp(reader.i64()?)),
        Kind::Date => Value::String(match reader.i32()? {
            i32::MAX => "infinity".into(),
            i32::MIN => "-infinity".into(),
            days => format_date(i64::from(days) + PG_EPOCH_DAYS),
        }),
        Kind::Time => Value::String(format_time_of_day(reader.i64()?)),
        Kind::Timetz => {
            let micros = reader.i64()?;
            let east = -i64::from(reader.i32()?);
            let sign = if east < 0 { '-' } else { '+' };
            let east = east.abs();
            let mut out = format!("{}{sign}{:02}", format_time_of_day(micros), east / 3600);
            if east % 3600 != 0 {
                let _ = write!(out, ":{:02}", east / 60 % 60);
            }
            if east % 60 != 0 {
                let _ = write!(out, ":{:02}", east % 60);
            }
            Value::String(out)
        }
        Kind::Interval => {
            let micros = reader.i64()?;
            let days = reader.i32()?;
            let months = reader.i32()?;
            interval_value(micros, days, months)
        }
        Kind::Bytea => buffer_value(reader.rest()),
        Kind::Inet | Kind::Cidr => Value::String(decode_inet(&mut reader)?),
        Kind::Macaddr => {
            let parts: Vec<String> = reader.rest().iter().map(|b| format!("{b:02x}")).collect();
            Value::String(parts.join(":"))
        }
        Kind::Bit => {
            let length = usize::try_from(reader.i32()?).map_err(|_| "negative bit length")?;
            let data = reader.rest();
            let bits: String = (0..length)
                .map(|i| {
                    let byte = data.get(i / 8).copied().unwrap_or(0);
                    if byte & (0x80 >> (i % 8)) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect();
            Value::String(bits)
        }
        Kind::Point => {
            let mut object = Map::new();
            object.insert("x".into(), float_value(reader.f64()?));
            object.insert("y".into(), float_value(reader.f64()?));
            Value::Object(object)
        }
        Kind::Circle => {
            let mut object = Map::new();
            object.insert("x".into(), float_value(reader.f64()?));
            object.insert("y".into(), float_value(reader.f64()?));
            object.insert("radius".into(), float_value(reader.f64()?));
            Value::Object(object)
        }
        Kind::Array(element) => {
            if depth > 0 {
                return Ok(text_or_buffer(bytes));
            }
            return decode_array(bytes, element);
        }
        Kind::Other => return Ok(text_or_buffer(bytes)),
    };
    reader.finish()?;
    Ok(value)
}

fn parse_json_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// An interval as node-postgres's `postgres-interval` object: only the non-zero parts.
fn interval_value(micros: i64, days: i32, months: i32) -> Value {
    let mut object = Map::new();
    let mut put = |name: &str, value: i64| {
        if value != 0 {
            object.insert(name.into(), Value::from(value));
        }
    };
    put("years", i64::from(months / 12));
    put("months", i64::from(months % 12));
    put("days", i64::from(days));
    let seconds = micros / MICROS_PER_SECOND;
    put("hours", seconds / 3600);
    put("minutes", seconds / 60 % 60);
    put("seconds", seconds % 60);
    let sub_second = micros % MICROS_PER_SECOND;
    if sub_second != 0 {
        #[allow(clippy::cast_precision_loss)]
        let millis = sub_second as f64 / 1000.0;
        object.insert("milliseconds".into(), float_value(millis));
    }
    Value::Object(object)
}

fn decode_inet(reader: &mut Reader<'_>) -> Result<String, String> {
    let [family, bits, is_cidr, length] = reader.array::<4>()?;
    let address = reader.take(usize::from(length))?;
    let (address, max_bits) = match family {
        2 => {
            let octets = <[u8; 4]>::try_from(address).map_err(|_| "bad IPv4 address length")?;
            (IpAddr::V4(Ipv4Addr::from(octets)), 32)
        }
        3 => {
            let octets = <[u8; 16]>::try_from(address).map_err(|_| "bad IPv6 address length")?;
            (IpAddr::V6(Ipv6Addr::from(octets)), 128)
        }
        other => return Err(format!("unknown address family {other}")),
    };
    Ok(if is_cidr != 0 || bits != max_bits {
        format!("{address}/{bits}")
    } else {
        address.to_string()
    })
}

/// PostgreSQL's binary array format as nested JSON arrays.
fn decode_array(bytes: &[u8], element: &PgTypeInfo) -> Result<Value, String> {
    let mut reader = Reader::new(bytes);
    let ndim = usize::try_from(reader.i32()?).map_err(|_| "negative dimension count")?;
    let _has_null = reader.i32()?;
    let _element_oid = reader.u32()?;
    if ndim == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    if ndim > MAX_ARRAY_DIMENSIONS {
        return Err(format!("{ndim} dimensions"));
    }
    let mut dimensions = Vec::with_capacity(ndim);
    let mut total: usize = 1;
    for _ in 0..ndim {
        let length = usize::try_from(reader.i32()?).map_err(|_| "negative dimension length")?;
        let _lower_bound = reader.i32()?;
        total = total
            .checked_mul(length)
            .ok_or_else(|| "array too large".to_owned())?;
        dimensions.push(length);
    }
    // Every element takes at least its four-byte length.
    if total > bytes.len() / 4 {
        return Err("array shorter than its dimensions".into());
    }
    let kind = classify(element);
    let mut elements = Vec::with_capacity(total);
    for _ in 0..total {
        let length = reader.i32()?;
        if length < 0 {
            elements.push(Value::Null);
        } else {
            let length = usize::try_from(length).map_err(|_| "bad element length")?;
            elements.push(decode_binary(&kind, reader.take(length)?, 1)?);
        }
    }
    reader.finish()?;
    let mut elements = elements.into_iter();
    Ok(nest(&mut elements, &dimensions))
}

fn nest(elements: &mut impl Iterator<Item = Value>, dimensions: &[usize]) -> Value {
    match dimensions.split_first() {
        None => elements.next().unwrap_or(Value::Null),
        Some((length, [])) => Value::Array(elements.take(*length).collect()),
        Some((length, rest)) => Value::Array((0..*length).map(|_| nest(elements, rest)).collect()),
    }
}

/// A value the server sent as text (never the case for prepared statements, which ask for
/// binary results; kept for completeness).
fn decode_text(kind: &Kind, bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let number = |text: &str| {
        text.parse::<f64>()
            .map_or_else(|_| Value::String(text.to_owned()), float_value)
    };
    match kind {
        Kind::Bool => Value::Bool(text == "t"),
        Kind::Int2 | Kind::Int4 | Kind::Oid => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.clone().into_owned()), Value::from),
        Kind::Float4 | Kind::Float8 => number(&text),
        Kind::Json | Kind::Jsonb => parse_json_text(bytes),
        Kind::Bytea => match text.strip_prefix("\\x").and_then(decode_hex) {
            Some(decoded) => buffer_value(&decoded),
            None => buffer_value(bytes),
        },
        _ => Value::String(text.into_owned()),
    }
}

/// The connection itself is gone (admin shutdown, crash, a closed socket), not the query.
fn is_dead_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(e) => matches!(
            e.code().as_deref(),
            Some("57P01" | "57P02" | "57P03" | "08006" | "08003" | "08000")
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        assert_eq!(days_from_civil(2021, 3, 4), 18_690);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn timestamps_parse_and_format() {
        let micros = to_timestamp_micros(&Value::from("2021-03-04T05:06:07.123Z"), true).unwrap();
        assert_eq!(format_timestamp(micros), "2021-03-04T05:06:07.123Z");
        let shifted =
            to_timestamp_micros(&Value::from("2021-03-04 07:06:07.123+02:00"), true).unwrap();
        assert_eq!(shifted, micros);
        let wall =
            to_timestamp_micros(&Value::from("2021-03-04 07:06:07.123+02:00"), false).unwrap();
        assert_eq!(format_timestamp(wall), "2021-03-04T07:06:07.123Z");
        let from_millis = to_timestamp_micros(&Value::from(1_614_834_367_123_i64), true).unwrap();
        assert_eq!(from_millis, micros);
        assert_eq!(format_timestamp(0), "2000-01-01T00:00:00.000Z");
        assert_eq!(format_timestamp(-1), "1999-12-31T23:59:59.999Z");
        let whole = to_timestamp_micros(&Value::from("2021-03-04T05:06:07Z"), true).unwrap();
        let rounded =
            to_timestamp_micros(&Value::from("2021-03-04T05:06:07.1234567Z"), true).unwrap();
        assert_eq!(rounded - whole, 123_457);
        assert!(to_timestamp_micros(&Value::from("2021-02-30"), true).is_err());
        assert!(to_timestamp_micros(&Value::from("yesterday"), true).is_err());
        assert_eq!(to_pg_date(&Value::from("2000-01-02")).unwrap(), 1);
        assert_eq!(
            to_pg_date(&Value::from("1999-12-31T23:00:00Z")).unwrap(),
            -1
        );
        assert_eq!(format_date(PG_EPOCH_DAYS - 1), "1999-12-31");
    }

    #[test]
    fn numerics_round_trip() {
        for (input, expected) in [
            ("12345.6789", "12345.6789"),
            ("-12345.6789", "-12345.6789"),
            ("0", "0"),
            ("0.00", "0.00"),
            ("-0.5", "-0.5"),
            ("1.50", "1.50"),
            ("100", "100"),
            ("10000", "10000"),
            ("0.0001", "0.0001"),
            ("0.00001234", "0.00001234"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            (
                "98765432109876543210.0123456789",
                "98765432109876543210.0123456789",
            ),
            ("NaN", "NaN"),
            ("-Infinity", "-Infinity"),
        ] {
            let encoded = encode_numeric(input).unwrap();
            assert_eq!(decode_numeric(&encoded).unwrap(), expected, "{input}");
        }
        // 12345.6789 = digits [1, 2345, 6789], weight 1, dscale 4.
        assert_eq!(
            encode_numeric("12345.6789").unwrap(),
            vec![0, 3, 0, 1, 0, 0, 0, 4, 0, 1, 0x09, 0x29, 0x1A, 0x85]
        );
        assert!(encode_numeric("12a").is_err());
        assert!(encode_numeric("").is_err());
        assert!(encode_numeric(".").is_err());
    }

    #[test]
    fn command_words() {
        let word = |sql: &str| command_word(&top_level_words(sql));
        assert_eq!(word("select 1"), "SELECT");
        assert_eq!(word("  -- c\n /* x */ insert into t values ($1)"), "INSERT");
        assert_eq!(
            word("WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING *) UPDATE t SET x = 1"),
            "UPDATE"
        );
        assert_eq!(word("values (1)"), "SELECT");
        assert_eq!(word("(select 1)"), "SELECT");
        assert_eq!(word("do $$ begin select 1; end $$"), "DO");
        assert_eq!(word(""), "");
    }

    #[test]
    fn arrays_and_literals() {
        assert_eq!(
            pg_array_literal(&serde_json::json!(["a\"b", 1, null, [true]])),
            r#"{"a\"b","1",NULL,{"true"}}"#
        );
        let bytes = encode_array(
            &serde_json::json!([1, null, 3]),
            &PgTypeInfo::with_oid(Oid(23)),
        )
        .unwrap();
        assert_eq!(
            decode_array(&bytes, &PgTypeInfo::with_oid(Oid(23))).unwrap(),
            serde_json::json!([1, null, 3])
        );
        let grid = serde_json::json!([["a", "b"], ["c", "d"]]);
        let bytes = encode_array(&grid, &PgTypeInfo::with_oid(Oid(25))).unwrap();
        assert_eq!(
            decode_array(&bytes, &PgTypeInfo::with_oid(Oid(25))).unwrap(),
            grid
        );
        assert!(
            encode_array(
                &serde_json::json!([[1], [2, 3]]),
                &PgTypeInfo::with_oid(Oid(23))
            )
            .is_err()
        );
    }
}
