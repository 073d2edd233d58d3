//! Compiling a search AST to a parameterised SQL condition for one dialect, and the
//! metadata index rows that make metadata terms indexable.
//!
//! Every value from the query becomes a bind parameter; the SQL text is built only from
//! this file's fixed fragments and the column names of [`TextField`]s.

use crate::Dialect;
use gatehouse_core::search::{
    Bound, Field, MetadataKind, Pattern, Piece, Query, RangeValue, TextField, Value,
};
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Float(f64),
}

/// A WHERE condition and its parameters, numbered from the `first` given to [`compile`].
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFilter {
    pub sql: String,
    pub params: Vec<Param>,
}

struct Compiler {
    dialect: Dialect,
    /// Per metadata predicate, in traversal order: probe each user instead of listing the
    /// matching users first (see [`compile_with`]).
    correlated: Vec<bool>,
    seen_metadata: usize,
    /// Per-user metadata checks stay per-user on PostgreSQL (`OFFSET 0` keeps its planner
    /// from turning them into a join that lists every matching user first).
    fenced: bool,
    probes: Vec<String>,
    /// Where [`Self::probes`] stop counting.
    count_cap: i64,
    /// Per metadata predicate, a query listing its users' `(created_at, user_id)` (see
    /// [`driver_list`]); `DISTINCT` when a user can hold several matching rows.
    lists: Vec<String>,
    /// The placeholder holding the tenant id, reused by metadata sub-queries.
    tenant: String,
    next: usize,
    params: Vec<Param>,
}

/// Compiles `q`; `tenant_placeholder` (e.g. `$1`) must hold the tenant id and parameters
/// are numbered from `first`.
pub fn compile(q: &Query, dialect: Dialect, tenant_placeholder: &str, first: usize) -> SqlFilter {
    compile_with(q, dialect, tenant_placeholder, first, &[]).0
}

/// Rows a metadata predicate must match before it is checked per user rather than used to
/// list users (see [`compile_with`]).
pub const BROAD_METADATA_ROWS: i64 = 1000;

/// Like [`compile`], choosing per metadata predicate how it is joined. By default a
/// predicate lists the matching users (`user_id IN (…)`), best when few match. When
/// `correlated[i]` is true, the i-th metadata predicate is instead checked for each user
/// the rest of the query walks (`EXISTS (…)`), best when many match and a page of 50 is
/// found after a few hundred users. Also returns, per metadata predicate, a query counting
/// its matches up to [`BROAD_METADATA_ROWS`] with the same parameters, to decide that.
/// PostgreSQL's planner makes this choice itself; SQLite's cannot, lacking value statistics.
pub fn compile_with(
    q: &Query,
    dialect: Dialect,
    tenant_placeholder: &str,
    first: usize,
    correlated: &[bool],
) -> (SqlFilter, Vec<String>) {
    let mut c = Compiler::new(dialect, tenant_placeholder, first);
    c.correlated = correlated.to_vec();
    let sql = c.query(q);
    (
        SqlFilter {
            sql,
            params: c.params,
        },
        c.probes,
    )
}

/// Like [`compile`], for a search that walks users in page order and checks each one: every
/// metadata term is a per-user check (see [`compile_with`]).
pub fn compile_walk(
    q: &Query,
    dialect: Dialect,
    tenant_placeholder: &str,
    first: usize,
) -> SqlFilter {
    let metadata_terms = compile_with(q, dialect, tenant_placeholder, first, &[])
        .1
        .len();
    let mut c = Compiler::new(dialect, tenant_placeholder, first);
    c.correlated = vec![true; metadata_terms];
    c.fenced = dialect == Dialect::Postgres;
    let sql = c.query(q);
    SqlFilter {
        sql,
        params: c.params,
    }
}

/// [`compile_walk`] of `q` without clause number `clause` of its top-level AND: the check of
/// each user a [`driver_list`] of that clause lists, which matches it already.
pub fn compile_walk_without(
    q: &Query,
    clause: usize,
    dialect: Dialect,
    tenant_placeholder: &str,
    first: usize,
) -> SqlFilter {
    let mut clauses = vec![];
    conjuncts(q, &mut clauses);
    let rest: Vec<Query> = clauses
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != clause)
        .map(|(_, c)| c.clone())
        .collect();
    if rest.is_empty() {
        return SqlFilter {
            sql: "TRUE".into(),
            params: vec![],
        };
    }
    compile_walk(&Query::And(rest), dialect, tenant_placeholder, first)
}

/// A clause of a search's top-level AND that an index can list users by: a metadata term,
/// or equality or a prefix on an indexed profile field (see [`driving_counts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    /// Counts the clause's matches up to the cap given to [`driving_counts`] (`$1` the
    /// tenant, parameters from `$2`).
    pub count: SqlFilter,
    /// The clause's position in the top-level AND, for [`driver_list`].
    pub clause: usize,
    /// Its index lists the matching users already in page order (equality on an index that
    /// ends in `created_at, user_id`); otherwise its matches are sorted first.
    pub ordered: bool,
    /// A profile field's clause (not a metadata term).
    pub on_profile: bool,
}

/// For each clause of `q`'s top-level AND that an index can list users by, a [`Driver`]
/// counting its matches up to `ordered_cap` for a clause whose index lists users in page
/// order, up to `unordered_cap` for the others.
///
/// When every such clause is broad, listing all users of the most selective one and
/// sorting them reads thousands of rows for a page of 50 (`family_name:Williams AND
/// app_metadata.plan:gold AND NOT blocked:true`: 20,000 Williamses). Instead the search
/// walks one clause's users in page order and checks the rest per user, stopping at the end
/// of the page: about `50 / selectivity of the rest` users. Neither database estimates this
/// well by itself: SQLite keeps no value statistics, and PostgreSQL's statistics of
/// `user_metadata_index` mix every metadata path.
pub fn driving_counts(
    q: &Query,
    dialect: Dialect,
    ordered_cap: i64,
    unordered_cap: i64,
) -> Vec<Driver> {
    let mut clauses = vec![];
    conjuncts(q, &mut clauses);
    clauses
        .into_iter()
        .enumerate()
        .filter_map(|(i, clause)| {
            let ordered = is_ordered_clause(clause);
            let cap = if ordered { ordered_cap } else { unordered_cap };
            let count = if is_metadata_clause(clause) {
                let mut c = Compiler::new(dialect, "$1", 2);
                c.count_cap = cap;
                c.query(clause);
                SqlFilter {
                    sql: c.probes.into_iter().next()?,
                    params: c.params,
                }
            } else if is_indexed_text_clause(clause) {
                let f = compile(clause, dialect, "$1", 2);
                SqlFilter {
                    sql: format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE tenant_id = $1 AND {} LIMIT {cap}) AS c",
                        f.sql
                    ),
                    params: f.params,
                }
            } else {
                return None;
            };
            Some(Driver {
                count,
                clause: i,
                ordered,
                on_profile: !is_metadata_clause(clause),
            })
        })
        .collect()
}

/// The users matching clause number `clause` of `q`'s top-level AND (a [`Driver`]'s), as
/// `(walk_created, walk_user)` rows: their `created_at` and `user_id`, each user once.
/// Parameters are numbered from `first`; `tenant_placeholder` holds the tenant id.
pub fn driver_list(
    q: &Query,
    dialect: Dialect,
    clause: usize,
    tenant_placeholder: &str,
    first: usize,
) -> Option<SqlFilter> {
    let mut clauses = vec![];
    conjuncts(q, &mut clauses);
    let clause = *clauses.get(clause)?;
    if is_metadata_clause(clause) {
        let mut c = Compiler::new(dialect, tenant_placeholder, first);
        c.query(clause);
        let list = c.lists.into_iter().next()?;
        // Equality matches one row per user (`metadata_entries` indexes a value of a path
        // once per user); ranges and `_exists_` can match several.
        let list = if is_ordered_clause(clause) {
            list
        } else {
            list.replacen("SELECT ", "SELECT DISTINCT ", 1)
        };
        Some(SqlFilter {
            sql: list,
            params: c.params,
        })
    } else if is_indexed_text_clause(clause) {
        let f = compile(clause, dialect, tenant_placeholder, first);
        Some(SqlFilter {
            sql: format!(
                "SELECT created_at AS walk_created, user_id AS walk_user FROM users WHERE tenant_id = {tenant_placeholder} AND linked_to IS NULL AND {}",
                f.sql
            ),
            params: f.params,
        })
    } else {
        None
    }
}

fn is_metadata_clause(clause: &Query) -> bool {
    matches!(
        clause,
        Query::Match {
            field: Some(Field::Metadata { .. }),
            ..
        } | Query::Range {
            field: Field::Metadata { .. },
            ..
        } | Query::Exists(Field::Metadata { .. })
    )
}

fn is_indexed_text_clause(clause: &Query) -> bool {
    matches!(clause,
        Query::Match { field: Some(Field::Text(f)), pattern, .. }
            if indexed(*f) && (matches!(pattern, Pattern::Exact(_)) || pattern.as_prefix().is_some()))
}

/// Equality whose index ends in `created_at, user_id` (migration 0018), so its matches come
/// out of the index in page order: metadata values, and the profile fields whose values
/// many users share.
fn is_ordered_clause(clause: &Query) -> bool {
    use TextField as T;
    match clause {
        Query::Match {
            field: Some(Field::Text(f)),
            pattern: Pattern::Exact(_),
            ..
        } => matches!(
            f,
            T::Name | T::GivenName | T::FamilyName | T::Nickname | T::EmailDomain
        ),
        Query::Match {
            field: Some(Field::Metadata { .. }),
            pattern,
            value,
        } => matches!(value, Some(Value::Metadata { .. })) || matches!(pattern, Pattern::Exact(_)),
        _ => false,
    }
}

fn conjuncts<'a>(q: &'a Query, out: &mut Vec<&'a Query>) {
    match q {
        Query::And(items) => items.iter().for_each(|i| conjuncts(i, out)),
        other => out.push(other),
    }
}

/// Profile fields with an index of their own on both databases (identity fields also look
/// at linked identities, so they are not one index's list).
fn indexed(f: TextField) -> bool {
    use TextField as T;
    matches!(
        f,
        T::UserId
            | T::Email
            | T::EmailDomain
            | T::Username
            | T::PhoneNumber
            | T::Name
            | T::GivenName
            | T::FamilyName
            | T::Nickname
    )
}

/// The highest character, used as the exclusive upper end of a prefix range.
const MAX_CHAR: char = '\u{10FFFF}';

fn column(f: TextField) -> &'static str {
    use TextField as T;
    match f {
        T::UserId => "user_id",
        T::Email => "lower(email)",
        T::EmailDomain => "email_domain",
        T::Username => "username",
        T::PhoneNumber => "phone_number",
        T::Name => "lower(name)",
        T::GivenName => "lower(given_name)",
        T::FamilyName => "lower(family_name)",
        T::Nickname => "lower(nickname)",
        T::Picture => "picture",
        T::LastIp => "last_ip",
        T::IdentityConnection => "connection_name",
        T::IdentityProvider => "provider",
        T::IdentityUserId => "substr(user_id, length(provider) + 2)",
    }
}

fn kind_name(k: MetadataKind) -> &'static str {
    match k {
        MetadataKind::User => "user",
        MetadataKind::App => "app",
    }
}

/// Escapes `%`, `_` and `\` for LIKE … ESCAPE '\'.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes GLOB's special characters by bracketing them.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// Joins terms with `op` as a balanced tree of parentheses: SQLite parses a flat list
/// left-deep, and a few hundred terms passed its expression-depth limit (security review L5).
fn balanced(parts: &[String], op: &str) -> String {
    match parts {
        _ if parts.len() <= 8 => format!("({})", parts.join(op)),
        _ => {
            let (left, right) = parts.split_at(parts.len() / 2);
            format!("({}{op}{})", balanced(left, op), balanced(right, op))
        }
    }
}

impl Compiler {
    fn new(dialect: Dialect, tenant_placeholder: &str, first: usize) -> Self {
        Compiler {
            dialect,
            correlated: vec![],
            seen_metadata: 0,
            fenced: false,
            probes: vec![],
            count_cap: BROAD_METADATA_ROWS,
            lists: vec![],
            tenant: tenant_placeholder.to_string(),
            next: first,
            params: vec![],
        }
    }

    fn param(&mut self, p: Param) -> String {
        let placeholder = format!("${}", self.next);
        self.next += 1;
        self.params.push(p);
        placeholder
    }

    fn query(&mut self, q: &Query) -> String {
        match q {
            Query::Or(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.query(i)).collect();
                balanced(&parts, " OR ")
            }
            Query::And(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.query(i)).collect();
                balanced(&parts, " AND ")
            }
            // NULL-safe: a user without the field matches `NOT field:x`, as in Lucene.
            Query::Not(inner) => format!("(NOT COALESCE({}, FALSE))", self.query(inner)),
            Query::Match {
                field: None,
                pattern,
                ..
            } => {
                let parts: Vec<String> = TextField::FREE_TEXT
                    .iter()
                    .map(|f| self.text_match(*f, pattern))
                    .collect();
                balanced(&parts, " OR ")
            }
            Query::Match {
                field: Some(field),
                pattern,
                value,
            } => self.field_match(field, pattern, value.as_ref()),
            Query::Range {
                field,
                lower,
                upper,
            } => self.range(field, lower, upper),
            Query::Exists(field) => self.exists(field),
        }
    }

    fn text_match(&mut self, f: TextField, pattern: &Pattern) -> String {
        let cond = self.own_text_match(f, pattern);
        if !matches!(
            f,
            TextField::IdentityConnection | TextField::IdentityProvider | TextField::IdentityUserId
        ) {
            return cond;
        }
        self.or_linked_identity(&cond)
    }

    /// A condition on identities holds for a user whose own identity meets it, or one of
    /// whose linked identities (rows naming the user in `linked_to`) does. Inside the
    /// subquery the same unqualified columns name the linked row.
    fn or_linked_identity(&self, cond: &str) -> String {
        let tenant = &self.tenant;
        format!(
            "({cond} OR user_id IN (SELECT linked_to FROM users WHERE tenant_id = {tenant} AND linked_to IS NOT NULL AND {cond}))"
        )
    }

    fn own_text_match(&mut self, f: TextField, pattern: &Pattern) -> String {
        let col = column(f);
        let fold = |s: &str| {
            if f.case_insensitive() {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        match pattern {
            Pattern::Exact(s) => {
                let p = self.param(Param::Text(fold(s)));
                format!("{col} = {p}")
            }
            Pattern::Wildcard(pieces) => {
                let pieces: Vec<Piece> = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Literal(l) => Piece::Literal(fold(l)),
                        Piece::Any => Piece::Any,
                    })
                    .collect();
                self.wildcard(col, &pieces, pattern.as_prefix().map(fold))
            }
        }
    }

    /// A wildcard over `expr`: LIKE on PostgreSQL (index-backed by text_pattern_ops for
    /// prefixes and pg_trgm otherwise), GLOB on SQLite (case-sensitive, unlike its LIKE),
    /// with an explicit range for prefixes so SQLite's expression indexes apply.
    fn wildcard(&mut self, expr: &str, pieces: &[Piece], prefix: Option<String>) -> String {
        match self.dialect {
            Dialect::Postgres => {
                let pat: String = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Literal(l) => like_escape(l),
                        Piece::Any => "%".into(),
                    })
                    .collect();
                let p = self.param(Param::Text(pat));
                format!("{expr} LIKE {p} ESCAPE '\\'")
            }
            Dialect::Sqlite => match prefix {
                Some(prefix) => {
                    let lo = self.param(Param::Text(prefix.clone()));
                    let hi = self.param(Param::Text(format!("{prefix}{MAX_CHAR}")));
                    format!("({expr} >= {lo} AND {expr} < {hi})")
                }
                None => {
                    let pat: String = pieces
                        .iter()
                        .map(|p| match p {
                            Piece::Literal(l) => glob_escape(l),
                            Piece::Any => "*".into(),
                        })
                        .collect();
                    let p = self.param(Param::Text(pat));
                    format!("{expr} GLOB {p}")
                }
            },
        }
    }

    fn field_match(&mut self, field: &Field, pattern: &Pattern, value: Option<&Value>) -> String {
        match (field, value) {
            (Field::Text(f), _) => self.text_match(*f, pattern),
            (Field::Bool(name), Some(Value::Bool(b))) => {
                let b = if *b { "TRUE" } else { "FALSE" };
                match *name {
                    "blocked" => format!("COALESCE(blocked, FALSE) = {b}"),
                    "email_verified" => format!("email_verified = {b}"),
                    "phone_verified" => format!("phone_verified = {b}"),
                    _ => {
                        let social: Vec<String> = gatehouse_core::upstream::presets::ALL
                            .iter()
                            .map(|p| p.strategy)
                            .chain([gatehouse_core::upstream::OAUTH2_STRATEGY])
                            .map(|s| format!("'{s}'"))
                            .collect();
                        let cond = format!("(provider IN ({})) = {b}", social.join(", "));
                        self.or_linked_identity(&cond)
                    }
                }
            }
            (Field::LoginsCount, Some(Value::Integer(n))) => {
                let p = self.param(Param::Int(*n));
                format!("logins_count = {p}")
            }
            (Field::Metadata { kind, path }, _) => {
                let equal_to = match (pattern, value) {
                    (_, Some(Value::Metadata { text, .. })) => Some(text),
                    (Pattern::Exact(s), _) => Some(s),
                    (Pattern::Wildcard(_), _) => None,
                };
                match (equal_to, pattern) {
                    (None, Pattern::Wildcard(pieces)) => {
                        let cond = self.wildcard(
                            "m.v_text",
                            pieces,
                            pattern.as_prefix().map(String::from),
                        );
                        self.metadata(*kind, path, &cond)
                    }
                    // An exact pattern always has its text (`equal_to`).
                    (text, _) => {
                        let p = self.param(Param::Text(text.cloned().unwrap_or_default()));
                        self.metadata_seek(*kind, path, &format!("m.v_text = {p}"), true)
                    }
                }
            }
            // The parser only builds the combinations above.
            _ => "FALSE".into(),
        }
    }

    fn metadata(&mut self, kind: MetadataKind, path: &[String], cond: &str) -> String {
        self.metadata_seek(kind, path, cond, false)
    }

    /// A metadata predicate; `equality` when `cond` fixes `m.v_text` to one value.
    fn metadata_seek(
        &mut self,
        kind: MetadataKind,
        path: &[String],
        cond: &str,
        equality: bool,
    ) -> String {
        let k = self.param(Param::Text(kind_name(kind).into()));
        let p = self.param(Param::Text(path.join(".")));
        let t = &self.tenant;
        let cap = self.count_cap;
        self.probes.push(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM user_metadata_index m WHERE m.tenant_id = {t} AND m.kind = {k} AND m.path = {p} AND {cond} LIMIT {cap}) AS c"
        ));
        self.lists.push(format!(
            "SELECT m.created_at AS walk_created, m.user_id AS walk_user FROM user_metadata_index m WHERE m.tenant_id = {t} AND m.kind = {k} AND m.path = {p} AND {cond}"
        ));
        let i = self.seen_metadata;
        self.seen_metadata += 1;
        if self.correlated.get(i).copied().unwrap_or(false) {
            let fence = if self.fenced { " OFFSET 0" } else { "" };
            // An equality probe seeks the value index to the user: its rows are ordered by
            // (created_at, user_id) within a value, and each row carries the user's created_at.
            let seek = if equality {
                " AND m.created_at = users.created_at"
            } else {
                ""
            };
            format!(
                "EXISTS (SELECT 1 FROM user_metadata_index m WHERE m.tenant_id = users.tenant_id{seek} AND m.user_id = users.user_id AND m.kind = {k} AND m.path = {p} AND {cond}{fence})"
            )
        } else {
            format!(
                "user_id IN (SELECT m.user_id FROM user_metadata_index m WHERE m.tenant_id = {t} AND m.kind = {k} AND m.path = {p} AND {cond})"
            )
        }
    }

    fn bound_cond(
        &mut self,
        expr: &str,
        b: &Bound,
        lower: bool,
        numeric_col: Option<&str>,
    ) -> Option<String> {
        let op = match (lower, b.inclusive) {
            (true, true) => ">=",
            (true, false) => ">",
            (false, true) => "<=",
            (false, false) => "<",
        };
        let RangeValue::Value(v) = &b.value else {
            return None;
        };
        let (expr, param) = match v {
            Value::Integer(n) | Value::Date(n) => (expr.to_string(), Param::Int(*n)),
            Value::Text(s) => (expr.to_string(), Param::Text(s.clone())),
            Value::Metadata {
                number: Some(n), ..
            } => (numeric_col.unwrap_or(expr).to_string(), Param::Float(*n)),
            Value::Metadata { text, .. } => (expr.to_string(), Param::Text(text.clone())),
            Value::Bool(_) => return Some("FALSE".into()),
        };
        let p = self.param(param);
        Some(format!("{expr} {op} {p}"))
    }

    fn range(&mut self, field: &Field, lower: &Bound, upper: &Bound) -> String {
        let (expr, metadata) = match field {
            Field::LoginsCount => ("logins_count".to_string(), None),
            Field::Date(name) => (name.to_string(), None),
            Field::Text(f) => (column(*f).to_string(), None),
            Field::Metadata { kind, path } => ("m.v_text".to_string(), Some((*kind, path.clone()))),
            Field::Bool(_) => return "FALSE".into(),
        };
        let fold = matches!(field, Field::Text(f) if f.case_insensitive());
        let fold_bound = |b: &Bound| -> Bound {
            match (&b.value, fold) {
                (RangeValue::Value(Value::Text(s)), true) => Bound {
                    value: RangeValue::Value(Value::Text(s.to_lowercase())),
                    inclusive: b.inclusive,
                },
                _ => b.clone(),
            }
        };
        let numeric = metadata.as_ref().map(|_| "m.v_num");
        let mut conds: Vec<String> = [
            self.bound_cond(&expr, &fold_bound(lower), true, numeric),
            self.bound_cond(&expr, &fold_bound(upper), false, numeric),
        ]
        .into_iter()
        .flatten()
        .collect();
        match metadata {
            Some((kind, path)) => {
                if conds.is_empty() {
                    conds.push("(m.v_text IS NOT NULL)".into());
                }
                self.metadata(kind, &path, &conds.join(" AND "))
            }
            None => {
                // An open range still requires the field to be present.
                conds.push(format!("{expr} IS NOT NULL"));
                format!("({})", conds.join(" AND "))
            }
        }
    }

    fn exists(&mut self, field: &Field) -> String {
        match field {
            Field::Text(f) => format!("({} IS NOT NULL)", column(*f)),
            Field::Bool("blocked") => "(blocked IS NOT NULL)".into(),
            Field::Bool(_) | Field::LoginsCount => "TRUE".into(),
            Field::Date(name) => format!("({name} IS NOT NULL)"),
            Field::Metadata { kind, path } => self.metadata(*kind, path, "TRUE"),
        }
    }
}

/// One indexed metadata value: `path` is dotted, array levels are skipped as Auth0 does.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub struct MetadataEntry {
    pub kind: &'static str,
    pub path: String,
    pub text: Option<String>,
    pub number: Option<f64>,
}

/// Values longer than this are stored but not indexed (btree entries have size limits).
const MAX_INDEXED_TEXT: usize = 1024;

/// Flattens both metadata documents into index rows. Objects get a row of their own (for
/// `_exists_`); null, empty arrays and empty objects are not indexed, as in Auth0.
pub fn metadata_entries(
    user_metadata: &Map<String, Json>,
    app_metadata: &Map<String, Json>,
) -> Vec<MetadataEntry> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for (kind, doc) in [("user", user_metadata), ("app", app_metadata)] {
        for (k, v) in doc {
            flatten(kind, k, v, &mut out, &mut seen);
        }
    }
    out
}

type Seen = BTreeSet<(&'static str, String, Option<String>)>;

fn flatten(
    kind: &'static str,
    path: &str,
    v: &Json,
    out: &mut Vec<MetadataEntry>,
    seen: &mut Seen,
) {
    let mut push = |text: Option<String>, number: Option<f64>| {
        if seen.insert((kind, path.to_string(), text.clone())) {
            out.push(MetadataEntry {
                kind,
                path: path.to_string(),
                text,
                number,
            });
        }
    };
    match v {
        Json::Null => {}
        Json::Bool(b) => push(Some(b.to_string()), None),
        Json::Number(n) => push(Some(n.to_string()), n.as_f64()),
        Json::String(s) if s.len() <= MAX_INDEXED_TEXT => push(Some(s.clone()), None),
        Json::String(_) => {}
        Json::Array(items) => {
            for item in items {
                flatten(kind, path, item, out, seen);
            }
        }
        Json::Object(m) if m.is_empty() => {}
        Json::Object(m) => {
            push(None, None);
            for (k, child) in m {
                flatten(kind, &format!("{path}.{k}"), child, out, seen);
            }
        }
    }
}

/// Whether one user, in memory, meets `q`: the conditions [`compile`] writes as SQL, applied
/// to a user that is not stored yet (a delegated administrator's new user must fall inside
/// their filter before it is created). Text is compared as SQLite compares it (by code
/// point), which is also PostgreSQL's order for the ASCII ranges filters use.
pub fn user_matches(q: &Query, u: &gatehouse_core::user::User) -> bool {
    match q {
        Query::Or(items) => items.iter().any(|i| user_matches(i, u)),
        Query::And(items) => items.iter().all(|i| user_matches(i, u)),
        Query::Not(inner) => !user_matches(inner, u),
        Query::Match {
            field: None,
            pattern,
            ..
        } => TextField::FREE_TEXT.iter().any(|f| {
            text_values(*f, u)
                .iter()
                .any(|v| pattern_matches(pattern, v, *f))
        }),
        Query::Match {
            field: Some(field),
            pattern,
            value,
        } => match (field, value) {
            (Field::Text(f), _) => text_values(*f, u)
                .iter()
                .any(|v| pattern_matches(pattern, v, *f)),
            (Field::Bool(name), Some(Value::Bool(b))) => bool_value(name, u) == *b,
            (Field::LoginsCount, Some(Value::Integer(n))) => u.logins_count == *n,
            (Field::Metadata { kind, path }, _) => {
                let entries = metadata_values(*kind, path, u);
                match (pattern, value) {
                    (_, Some(Value::Metadata { text, .. })) => entries
                        .iter()
                        .any(|e| e.text.as_deref() == Some(text.as_str())),
                    (Pattern::Wildcard(pieces), _) => entries
                        .iter()
                        .any(|e| e.text.as_deref().is_some_and(|t| glob(pieces, t))),
                    (Pattern::Exact(s), _) => entries
                        .iter()
                        .any(|e| e.text.as_deref() == Some(s.as_str())),
                }
            }
            _ => false,
        },
        Query::Range {
            field,
            lower,
            upper,
        } => range_matches(field, lower, upper, u),
        Query::Exists(field) => match field {
            Field::Text(f) => !text_values(*f, u).is_empty(),
            Field::Bool("blocked") => u.blocked.is_some(),
            Field::Bool(_) | Field::LoginsCount => true,
            Field::Date(name) => date_value(name, u).is_some(),
            Field::Metadata { kind, path } => !metadata_values(*kind, path, u).is_empty(),
        },
    }
}

/// A text field's values as the SQL columns hold them (folded where the column is
/// `lower(…)`); identity fields include the linked identities.
fn text_values(f: TextField, u: &gatehouse_core::user::User) -> Vec<String> {
    use TextField as T;
    let lower = |v: &Option<String>| v.as_ref().map(|s| s.to_lowercase());
    let own = match f {
        T::UserId => Some(u.user_id.clone()),
        T::Email => lower(&u.email),
        T::EmailDomain => crate::users::email_domain(u),
        T::Username => u.username.clone(),
        T::PhoneNumber => u.phone_number.clone(),
        T::Name => lower(&u.name),
        T::GivenName => lower(&u.given_name),
        T::FamilyName => lower(&u.family_name),
        T::Nickname => lower(&u.nickname),
        T::Picture => u.picture.clone(),
        T::LastIp => u.last_ip.clone(),
        T::IdentityConnection => Some(u.connection.clone()),
        T::IdentityProvider => Some(u.provider.clone()),
        T::IdentityUserId => Some(u.provider_user_id().to_string()),
    };
    let linked = u.linked_identities.iter().filter_map(|l| match f {
        T::IdentityConnection => Some(l.connection.clone()),
        T::IdentityProvider => Some(l.provider.clone()),
        T::IdentityUserId => Some(l.user_id.clone()),
        _ => None,
    });
    own.into_iter().chain(linked).collect()
}

fn pattern_matches(p: &Pattern, value: &str, f: TextField) -> bool {
    let fold = |s: &str| {
        if f.case_insensitive() {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    match p {
        Pattern::Exact(s) => value == fold(s),
        Pattern::Wildcard(pieces) => {
            let folded: Vec<Piece> = pieces
                .iter()
                .map(|p| match p {
                    Piece::Literal(l) => Piece::Literal(fold(l)),
                    Piece::Any => Piece::Any,
                })
                .collect();
            glob(&folded, value)
        }
    }
}

/// `*`-wildcard matching, as GLOB and LIKE do with the pattern's literals escaped.
fn glob(pieces: &[Piece], text: &str) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((Piece::Literal(l), rest)) => {
            text.strip_prefix(l.as_str()).is_some_and(|t| glob(rest, t))
        }
        Some((Piece::Any, rest)) => text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .any(|i| glob(rest, &text[i..])),
    }
}

fn bool_value(name: &str, u: &gatehouse_core::user::User) -> bool {
    let social = |p: &str| gatehouse_core::upstream::is_social_provider(p);
    match name {
        "blocked" => u.blocked.unwrap_or(false),
        "email_verified" => u.email_verified,
        "phone_verified" => u.phone_verified,
        _ => social(&u.provider) || u.linked_identities.iter().any(|l| social(&l.provider)),
    }
}

fn date_value(name: &str, u: &gatehouse_core::user::User) -> Option<i64> {
    match name {
        "created_at" => Some(u.created_at),
        "updated_at" => Some(u.updated_at),
        _ => u.last_login,
    }
}

fn metadata_values(
    kind: MetadataKind,
    path: &[String],
    u: &gatehouse_core::user::User,
) -> Vec<MetadataEntry> {
    let (user, app) = match kind {
        MetadataKind::User => (u.user_metadata.clone(), Map::new()),
        MetadataKind::App => (Map::new(), u.app_metadata.clone()),
    };
    let dotted = path.join(".");
    metadata_entries(&user, &app)
        .into_iter()
        .filter(|e| e.path == dotted)
        .collect()
}

/// A bound's comparison, as [`Compiler::bound_cond`] writes it: `None` when the value is
/// missing (SQL's NULL, which no comparison meets).
fn within(b: &Bound, lower: bool, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    if matches!(b.value, RangeValue::Unbounded) {
        return true;
    }
    match (ord, lower, b.inclusive) {
        (None, _, _) => false,
        (Some(o), true, true) => o != Less,
        (Some(o), true, false) => o == Greater,
        (Some(o), false, true) => o != Greater,
        (Some(o), false, false) => o == Less,
    }
}

fn range_matches(
    field: &Field,
    lower: &Bound,
    upper: &Bound,
    u: &gatehouse_core::user::User,
) -> bool {
    let both = |cmp: &dyn Fn(&Bound) -> Option<std::cmp::Ordering>| {
        within(lower, true, cmp(lower)) && within(upper, false, cmp(upper))
    };
    let number = |n: i64| {
        move |b: &Bound| match &b.value {
            RangeValue::Value(Value::Integer(x) | Value::Date(x)) => Some(n.cmp(x)),
            _ => None,
        }
    };
    match field {
        Field::LoginsCount => both(&number(u.logins_count)),
        Field::Date(name) => date_value(name, u).is_some_and(|d| both(&number(d))),
        Field::Text(f) => text_values(*f, u).iter().any(|v| {
            both(&|b: &Bound| match &b.value {
                RangeValue::Value(Value::Text(s)) => {
                    let s = if f.case_insensitive() {
                        s.to_lowercase()
                    } else {
                        s.clone()
                    };
                    Some(v.as_str().cmp(s.as_str()))
                }
                _ => None,
            })
        }),
        Field::Metadata { kind, path } => metadata_values(*kind, path, u).iter().any(|e| {
            e.text.is_some()
                && both(&|b: &Bound| match &b.value {
                    RangeValue::Value(Value::Metadata {
                        number: Some(n), ..
                    }) => e.number.and_then(|x| x.partial_cmp(n)),
                    RangeValue::Value(Value::Metadata { text, .. }) => {
                        e.text.as_deref().map(|t| t.cmp(text.as_str()))
                    }
                    _ => None,
                })
        }),
        Field::Bool(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::search::parse;
    use serde_json::json;

    #[test]
    fn values_never_reach_sql_text() {
        let q = parse(r#"name:"x'; DROP TABLE users; --" OR app_metadata.plan:"gold' OR 1=1""#)
            .unwrap();
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let f = compile(&q, d, "$1", 2);
            assert!(
                !f.sql.contains("DROP") && !f.sql.contains("gold"),
                "{}",
                f.sql
            );
            assert!(
                f.params
                    .contains(&Param::Text("x'; drop table users; --".into()))
            );
        }
    }

    #[test]
    fn prefix_uses_ranges_on_sqlite_and_like_on_postgres() {
        let q = parse("name:Jo*").unwrap();
        let s = compile(&q, Dialect::Sqlite, "$1", 2);
        assert_eq!(s.sql, "(lower(name) >= $2 AND lower(name) < $3)");
        assert_eq!(s.params[0], Param::Text("jo".into()));
        let p = compile(&q, Dialect::Postgres, "$1", 2);
        assert_eq!(p.sql, "lower(name) LIKE $2 ESCAPE '\\'");
        assert_eq!(p.params[0], Param::Text("jo%".into()));
    }

    #[test]
    fn metadata_predicates_can_be_checked_per_user() {
        let q = parse("app_metadata.plan:gold AND app_metadata.seats:[1 TO 5]").unwrap();
        let (listed, probes) = compile_with(&q, Dialect::Sqlite, "$1", 2, &[]);
        assert_eq!(probes.len(), 2);
        assert_eq!(listed.sql.matches("user_id IN").count(), 2);
        let (mixed, _) = compile_with(&q, Dialect::Sqlite, "$1", 2, &[true, false]);
        assert_eq!(mixed.sql.matches("EXISTS").count(), 1);
        assert_eq!(
            mixed.params, listed.params,
            "same parameters in the same order"
        );
    }

    #[test]
    fn a_user_in_memory_meets_the_same_conditions() {
        let mut u =
            gatehouse_core::user::User::new("auth0", "u1", "con_1", "db", "Jane@Example.com", 0);
        u.name = Some("Jane Doe".into());
        u.logins_count = 3;
        u.app_metadata = json!({"department": "Sales", "level": 7, "tags": ["a", "b"]})
            .as_object()
            .cloned()
            .unwrap();
        for (q, want) in [
            (r#"app_metadata.department:"Sales""#, true),
            (r#"app_metadata.department:"sales""#, false),
            ("app_metadata.department:Sa*", true),
            ("app_metadata.tags:b AND email:jane@example.com", true),
            ("email.domain:example.com AND name:jane*", true),
            (
                "app_metadata.level:[5 TO 10] AND logins_count:[3 TO *]",
                true,
            ),
            ("app_metadata.level:{7 TO 10]", false),
            (
                "NOT blocked:true AND _exists_:app_metadata.department",
                true,
            ),
            ("_exists_:user_metadata.x OR user_id:\"auth0|u2\"", false),
            ("jane*", true),
            (
                "identities.connection:db AND identities.isSocial:false",
                true,
            ),
            ("created_at:[* TO 2020-01-01]", true),
            ("last_login:[* TO *]", false),
        ] {
            assert_eq!(user_matches(&parse(q).unwrap(), &u), want, "{q}");
        }
    }

    #[test]
    fn metadata_is_flattened_through_arrays() {
        let um = json!({"addresses": [{"city": "Paris"}, {"city": "Oslo"}], "tags": ["a", "a", "b"], "empty": {}, "nothing": null})
            .as_object()
            .cloned()
            .unwrap();
        let am = json!({"plan": {"tier": 2}}).as_object().cloned().unwrap();
        let e = metadata_entries(&um, &am);
        let has = |kind: &str, path: &str, text: Option<&str>| {
            e.iter()
                .any(|x| x.kind == kind && x.path == path && x.text.as_deref() == text)
        };
        assert!(
            has("user", "addresses.city", Some("Paris"))
                && has("user", "addresses.city", Some("Oslo"))
        );
        assert_eq!(
            e.iter().filter(|x| x.path == "tags").count(),
            2,
            "duplicates collapse"
        );
        assert!(!e.iter().any(|x| x.path == "empty" || x.path == "nothing"));
        assert!(has("app", "plan", None) && has("app", "plan.tier", Some("2")));
        assert_eq!(
            e.iter()
                .find(|x| x.path == "plan.tier")
                .and_then(|x| x.number),
            Some(2.0)
        );
    }
}
