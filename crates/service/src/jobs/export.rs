//! Users exports: Auth0's file formats (NDJSON or CSV, gzipped) built page by page. Each
//! page is one gzip member stored as a block; gzip readers treat concatenated members as
//! one file, so a crash redoes one page and the download streams the blocks in order.

use super::{USERS_EXPORT, new_job_id};
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use flate2::Compression;
use flate2::write::GzEncoder;
use gatehouse_core::payload::{InvalidBody, Payload};
use gatehouse_core::user::{User, UserJson};
use gatehouse_store::{Job, UserOrder, UserSearch};
use serde_json::{Map, Value, json};
use std::io::Write;

/// Users per page (and per gzip member) unless the worker is given another size.
pub const DEFAULT_EXPORT_PAGE: i64 = 5_000;

/// How long a download link works after `GET /api/v2/jobs/{id}` hands it out (Auth0: 60 s).
const LOCATION_TTL_MS: i64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportField {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_as: Option<String>,
}

impl ExportField {
    fn header(&self) -> &str {
        self.export_as.as_deref().unwrap_or(&self.name)
    }
}

/// `POST /api/v2/jobs/users-exports`'s body, plus `q` (a user search query) so search
/// results can be exported.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExportParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    pub format: ExportFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<ExportField>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// Columns of a CSV export that names no fields.
const DEFAULT_CSV_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "phone_number",
    "blocked",
    "identities[0].connection",
    "created_at",
    "updated_at",
    "last_login",
    "logins_count",
];

impl ExportParams {
    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&["connection_id", "format", "limit", "fields", "q"])?;
        let connection_id = p.string("connection_id")?;
        let format = match p.string("format")?.as_deref() {
            None | Some("csv") => ExportFormat::Csv,
            Some("json") => ExportFormat::Json,
            Some(other) => {
                return Err(InvalidBody::on_property(
                    format!("format must be json or csv, not {other}"),
                    "format",
                ));
            }
        };
        let limit = p.integer("limit")?;
        if limit.is_some_and(|l| l < 1) {
            return Err(InvalidBody::on_property(
                "limit must be at least 1",
                "limit",
            ));
        }
        let fields = match p.raw("fields") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let fields: Vec<ExportField> = serde_json::from_value(v).map_err(|_| {
                    InvalidBody::on_property(
                        "fields must be an array of {name, export_as?} objects",
                        "fields",
                    )
                })?;
                if fields.is_empty() || fields.len() > 200 {
                    return Err(InvalidBody::on_property(
                        "fields must name between 1 and 200 fields",
                        "fields",
                    ));
                }
                for f in &fields {
                    if f.name.is_empty() || f.name.len() > 256 || parse_path(&f.name).is_none() {
                        return Err(InvalidBody::on_property(
                            format!("{} is not a field path", f.name),
                            "fields",
                        ));
                    }
                }
                Some(fields)
            }
        };
        let q = p.string("q")?;
        if let Some(text) = &q {
            gatehouse_core::search::parse(text)
                .map_err(|e| InvalidBody::on_property(e.to_string(), "q"))?;
        }
        Ok(Self {
            connection_id,
            connection: None,
            format,
            limit,
            fields,
            q,
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `user_metadata.consent.given`, `identities[0].connection`.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return None;
        }
        steps.push(Step::Key(key.to_string()));
        while let Some(r) = rest.strip_prefix('[') {
            let (n, after) = r.split_once(']')?;
            steps.push(Step::Index(n.parse().ok()?));
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(steps)
}

fn lookup<'a>(v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(*i),
    })
}

fn csv_cell(out: &mut Vec<u8>, v: Option<&Value>) {
    let text = match v {
        None | Some(Value::Null) => return,
        Some(Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
        Some(other) => std::borrow::Cow::Owned(other.to_string()),
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Writes users in the export's format (the CSV header with the first page).
pub(crate) fn encode_page(params: &ExportParams, users: &[User], first: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(users.len() * 256);
    let fields: Vec<ExportField> = match (&params.fields, params.format) {
        (Some(f), _) => f.clone(),
        (None, ExportFormat::Csv) => DEFAULT_CSV_FIELDS
            .iter()
            .map(|n| ExportField {
                name: n.to_string(),
                export_as: None,
            })
            .collect(),
        (None, ExportFormat::Json) => Vec::new(),
    };
    let paths: Vec<Vec<Step>> = fields
        .iter()
        .map(|f| parse_path(&f.name).unwrap_or_default())
        .collect();
    if params.format == ExportFormat::Csv && first {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            csv_cell(&mut out, Some(&json!(f.header())));
        }
        out.extend_from_slice(b"\r\n");
    }
    for u in users {
        if params.format == ExportFormat::Json && fields.is_empty() {
            // The whole profile, written straight from the struct: no `Value` per user.
            let _ = serde_json::to_writer(&mut out, &UserJson(u));
            out.push(b'\n');
            continue;
        }
        let doc = u.to_json();
        match params.format {
            ExportFormat::Json => {
                let mut m = Map::new();
                for (f, path) in fields.iter().zip(&paths) {
                    if let Some(v) = lookup(&doc, path) {
                        m.insert(f.header().to_string(), v.clone());
                    }
                }
                let _ = serde_json::to_writer(&mut out, &Value::Object(m));
            }
            ExportFormat::Csv => {
                for (i, path) in paths.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    csv_cell(&mut out, lookup(&doc, path));
                }
                out.push(b'\r');
            }
        }
        out.push(b'\n');
    }
    out
}

pub(crate) fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

/// A completed export's file, for the download handler.
pub struct ExportDownload {
    pub file_name: String,
    blocks: i64,
    next: i64,
    job_id: String,
    gatehouse: Gatehouse,
}

impl ExportDownload {
    /// The next part of the file (a gzip member), or None at the end.
    pub async fn next_part(&mut self) -> Result<Option<Vec<u8>>> {
        if self.next >= self.blocks {
            return Ok(None);
        }
        let block = self
            .gatehouse
            .inner
            .jobs
            .block(&self.job_id, self.next)
            .await?
            .ok_or_else(|| ServiceError::broken("an export block is missing"))?;
        self.next += 1;
        Ok(Some(block.data))
    }
}

fn export_file_name(tenant: &str, params: &ExportParams) -> String {
    let ext = match params.format {
        ExportFormat::Json => "json",
        ExportFormat::Csv => "csv",
    };
    format!("{tenant}.{ext}.gz")
}

impl Gatehouse {
    /// `POST /api/v2/jobs/users-exports`.
    pub async fn create_export_job(&self, mut params: ExportParams) -> Result<super::JobView> {
        if let Some(id) = &params.connection_id {
            let conn = self
                .inner
                .connections
                .get(self.tenant(), id)
                .await?
                .ok_or_else(|| ServiceError::BadReference {
                    code: "inexistent_connection",
                    message: "The connection does not exist.".into(),
                })?;
            params.connection = Some(conn.settings.name);
        }
        let id = new_job_id()?;
        let doc = serde_json::to_string(&params).map_err(ServiceError::internal)?;
        self.inner
            .jobs
            .create(
                self.tenant(),
                &id,
                USERS_EXPORT,
                "pending",
                &doc,
                self.now(),
                &[],
            )
            .await?;
        self.job(&id).await
    }

    /// A signed download link for a completed export, valid for a minute.
    pub(super) fn export_location(&self, job: &Job, params: &Map<String, Value>) -> Result<String> {
        let params: ExportParams = serde_json::from_value(Value::Object(params.clone()))
            .map_err(ServiceError::internal)?;
        let expires = self.now() + LOCATION_TTL_MS;
        let sig = self.export_signature(&job.id, expires);
        Ok(format!(
            "{}/exports/{}/{}?expires={expires}&sig={sig}",
            self.config().public_url,
            job.id,
            export_file_name(self.tenant(), &params)
        ))
    }

    fn export_signature(&self, job_id: &str, expires: i64) -> String {
        use base64::Engine;
        let tag = self
            .inner
            .secrets
            .mac("export-download", format!("{job_id}:{expires}").as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    }

    /// Opens a completed export for a signed, unexpired download link.
    pub async fn export_download(
        &self,
        job_id: &str,
        expires: i64,
        sig: &str,
    ) -> Result<ExportDownload> {
        let denied = || ServiceError::NotFound {
            code: "inexistent_export",
            message: "The export does not exist or its link has expired.".into(),
        };
        let expected = self.export_signature(job_id, expires);
        if expires < self.now() || !gatehouse_crypto::ct_eq(expected.as_bytes(), sig.as_bytes()) {
            return Err(denied());
        }
        let job = self
            .inner
            .jobs
            .get(self.tenant(), job_id)
            .await?
            .filter(|j| j.kind == USERS_EXPORT && j.status == "completed")
            .ok_or_else(denied)?;
        let params: ExportParams =
            serde_json::from_str(&job.params).map_err(ServiceError::internal)?;
        Ok(ExportDownload {
            file_name: export_file_name(self.tenant(), &params),
            blocks: self.inner.jobs.block_count(job_id).await?,
            next: 0,
            job_id: job_id.to_string(),
            gatehouse: self.clone(),
        })
    }

    /// Opens a completed export without a link (the CLI, which holds the database).
    pub async fn open_export(&self, job_id: &str) -> Result<ExportDownload> {
        let expires = self.now() + LOCATION_TTL_MS;
        let sig = self.export_signature(job_id, expires);
        self.export_download(job_id, expires, &sig).await
    }

    /// The search behind an export: its query and connection, users created up to the job's
    /// creation (`snapshot`), in `user_id` order from the first page to the last, `limit`
    /// users after `after`.
    pub(crate) fn export_search(
        &self,
        params: &ExportParams,
        snapshot: i64,
        after: Option<String>,
        limit: i64,
    ) -> Result<UserSearch> {
        let filter = params
            .q
            .as_deref()
            .map(gatehouse_core::search::parse)
            .transpose()
            .map_err(|e| ServiceError::InvalidQuery(e.to_string()))?;
        Ok(UserSearch {
            filter,
            connection_id: params.connection_id.clone(),
            order: UserOrder::UserId {
                after: after.filter(|c| !c.is_empty()),
            },
            offset: 0,
            limit,
            with_total: false,
            // An export's progress counts every user it will write.
            total_bound: None,
            created_until: Some(snapshot),
        })
    }

    /// Users an export will write (for its progress).
    pub(crate) async fn export_total(&self, params: &ExportParams, snapshot: i64) -> Result<i64> {
        let mut q = self.export_search(params, snapshot, None, 0)?;
        q.with_total = true;
        let total = self
            .inner
            .users
            .search(self.tenant(), &q)
            .await?
            .total
            .unwrap_or(0);
        Ok(params.limit.map_or(total, |l| total.min(l)))
    }

    /// The next page (at most `page` users) of an export after `after`, `processed` users
    /// in; None when the export is complete.
    pub(crate) async fn export_fetch(
        &self,
        params: &ExportParams,
        snapshot: i64,
        after: Option<String>,
        processed: i64,
        page: i64,
    ) -> Result<Option<Vec<User>>> {
        let remaining = params.limit.map_or(page, |l| (l - processed).min(page));
        if remaining <= 0 {
            return Ok(None);
        }
        let q = self.export_search(params, snapshot, after, remaining)?;
        let users = self.inner.users.search(self.tenant(), &q).await?.users;
        Ok(Some(users).filter(|u| !u.is_empty()))
    }
}

/// A page of users as one gzip member of the export file (the CSV header with the first).
pub(crate) fn export_block(params: &ExportParams, users: &[User], first: bool) -> Result<Vec<u8>> {
    gzip(&encode_page(params, users, first)).map_err(ServiceError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("identities[0].connection"),
            Some(vec![
                Step::Key("identities".into()),
                Step::Index(0),
                Step::Key("connection".into())
            ])
        );
        assert_eq!(parse_path("a..b"), None);
        assert_eq!(parse_path("a[x]"), None);
        let doc = json!({"identities": [{"connection": "db"}], "m": {"k": "a,\"b\""}});
        let mut out = Vec::new();
        csv_cell(
            &mut out,
            lookup(&doc, &parse_path("m.k").unwrap_or_default()),
        );
        assert_eq!(out, b"\"a,\"\"b\"\"\"");
    }
}
