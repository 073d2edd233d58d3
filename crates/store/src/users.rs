//! Users: the profile row, its password hash and password history.

use crate::outbox::{OutboxMessage, insert_outbox};
use crate::search::{
    BROAD_METADATA_ROWS, Param, SqlFilter, compile_walk, compile_walk_without, compile_with,
    driver_list, driving_counts,
};
use crate::{BeginWrite, Db, Dialect, StoreError, on_pool};
use gatehouse_core::search::Query;
use gatehouse_core::user::User;
use serde_json::{Map, Value};
use sqlx::types::Json;

/// A user with the row version used for optimistic concurrency on updates.
#[derive(Clone, Debug)]
pub struct VersionedUser {
    pub user: User,
    pub version: i64,
    /// A linked (secondary) identity's primary user.
    pub linked_to: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    user_id: String,
    connection_id: String,
    connection_name: String,
    provider: String,
    email: Option<String>,
    email_verified: bool,
    username: Option<String>,
    phone_number: Option<String>,
    phone_verified: bool,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    blocked: Option<bool>,
    user_metadata: Json<Map<String, Value>>,
    app_metadata: Json<Map<String, Value>>,
    created_at: i64,
    updated_at: i64,
    last_login: Option<i64>,
    last_ip: Option<String>,
    logins_count: i64,
    last_password_reset: Option<i64>,
    password_set_date: Option<i64>,
    idp_attributes: Json<Map<String, Value>>,
    linked_to: Option<String>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct RowWithHash {
    #[sqlx(flatten)]
    row: Row,
    password_hash: Option<String>,
}

const COLUMNS: &str = "user_id, connection_id, connection_name, provider, email, email_verified, username, phone_number, \
    phone_verified, given_name, family_name, name, nickname, picture, blocked, user_metadata, app_metadata, created_at, \
    updated_at, last_login, last_ip, logins_count, last_password_reset, password_set_date, idp_attributes, linked_to, version";

impl From<Row> for VersionedUser {
    fn from(r: Row) -> Self {
        VersionedUser {
            version: r.version,
            linked_to: r.linked_to,
            user: User {
                user_id: r.user_id,
                connection_id: r.connection_id,
                connection: r.connection_name,
                provider: r.provider,
                email: r.email,
                email_verified: r.email_verified,
                username: r.username,
                phone_number: r.phone_number,
                phone_verified: r.phone_verified,
                given_name: r.given_name,
                family_name: r.family_name,
                name: r.name,
                nickname: r.nickname,
                picture: r.picture,
                blocked: r.blocked,
                user_metadata: r.user_metadata.0,
                app_metadata: r.app_metadata.0,
                created_at: r.created_at,
                updated_at: r.updated_at,
                last_login: r.last_login,
                last_ip: r.last_ip,
                logins_count: r.logins_count,
                last_password_reset: r.last_password_reset,
                password_set_date: r.password_set_date,
                idp_attributes: r.idp_attributes.0,
                linked_identities: vec![],
            },
        }
    }
}

/// Columns `GET /api/v2/users?sort=` may order by. Mapping through this enum is what keeps
/// request text out of the ORDER BY clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    UserId,
    Email,
    Username,
    Name,
    Nickname,
    GivenName,
    FamilyName,
    CreatedAt,
    UpdatedAt,
    LastLogin,
    LoginsCount,
    EmailVerified,
    Blocked,
    PhoneNumber,
}

impl SortField {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user_id" => Self::UserId,
            "email" => Self::Email,
            "username" => Self::Username,
            "name" => Self::Name,
            "nickname" => Self::Nickname,
            "given_name" => Self::GivenName,
            "family_name" => Self::FamilyName,
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            "last_login" => Self::LastLogin,
            "logins_count" => Self::LoginsCount,
            "email_verified" => Self::EmailVerified,
            "blocked" => Self::Blocked,
            "phone_number" => Self::PhoneNumber,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::Email => "email",
            Self::Username => "username",
            Self::Name => "name",
            Self::Nickname => "nickname",
            Self::GivenName => "given_name",
            Self::FamilyName => "family_name",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::LastLogin => "last_login",
            Self::LoginsCount => "logins_count",
            Self::EmailVerified => "email_verified",
            Self::Blocked => "blocked",
            Self::PhoneNumber => "phone_number",
        }
    }
}

/// Users a search walks in page order before it gives up and lists users from an index
/// (see [`crate::search::driving_counts`]): a page of 50 is found within it when one user
/// in 400 matches.
pub const WALK_BUDGET: i64 = 20_000;

/// A search that walks users in page order and checks each: the users of one clause of the
/// query (`driver`, its position in the top-level AND), or else every user; on SQLite up to
/// this user (`created_at`, `user_id`), on PostgreSQL up to the budget's number of users.
struct Walk {
    horizon: Option<(i64, String)>,
    driver: Option<usize>,
}

/// How a search in the default order finds its page.
enum Plan {
    Walk(Walk),
    /// Listed from the indexes and sorted; `selective` when one clause is known to match
    /// fewer than [`BROAD_METADATA_ROWS`] users, so the page is sorted from that clause's
    /// users rather than found by reading users in creation order (PostgreSQL's estimate of
    /// a prefix such as `email:camille.will*` can be a hundred times too high, and it then
    /// reads a third of all users for 50 of 400).
    List {
        selective: bool,
    },
}

/// How long one search may run before the database stops it, by default.
pub const SEARCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A search's failure; one the database stopped at [`SEARCH_TIMEOUT`] is told apart.
fn search_error(e: sqlx::Error) -> StoreError {
    let interrupted = matches!(&e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("57014") | Some("9")));
    if interrupted {
        StoreError::TimedOut
    } else {
        e.into()
    }
}

/// Tables whose rows belong to one user (`tenant_id`, `user_id`) and go with them: a new
/// user given the same id later inherits no session, refresh token, consent, block or
/// factor (security review M6).
pub(crate) const USER_OWNED_TABLES: &[&str] = &[
    "user_roles",
    "user_permissions",
    "group_members",
    "password_history",
    "user_metadata_index",
    "mfa_enrollments",
    "sessions",
    "refresh_tokens",
    "authorization_codes",
    "user_grants",
    "login_failures",
];

/// A page of users: optionally filtered by a search query and a connection, in one of the
/// orders of [`UserOrder`], paged by offset or (in `user_id` order) after a given id.
#[derive(Clone, Debug, Default)]
pub struct UserSearch {
    pub filter: Option<Query>,
    pub connection_id: Option<String>,
    pub order: UserOrder,
    pub offset: i64,
    pub limit: i64,
    pub with_total: bool,
    /// Count the total exactly only up to this many users (or `offset + limit`, if more):
    /// beyond it, [`UserList::total`] holds the bound and [`UserList::total_capped`] says so.
    /// `None` counts every match (exports need the real number).
    pub total_bound: Option<i64>,
    /// Only users created at or before this time (epoch ms): an export's snapshot, so users
    /// created while it runs neither join it part-way nor push it past its total.
    pub created_until: Option<i64>,
}

/// The order a search walks. Checkpoint paging and exports must use [`UserOrder::UserId`]
/// from their first page on: a cursor taken from a page in another order skips some users
/// and repeats others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UserOrder {
    /// Oldest first, `user_id` breaking ties (offset paging without `sort`).
    #[default]
    Created,
    /// A sortable field, ascending when true; NULLs last, `user_id` breaking ties.
    Field(SortField, bool),
    /// `user_id` order, starting after `after` when given.
    UserId { after: Option<String> },
}

/// Binds search parameters in order onto a query of either driver.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                Param::Text(s) => q.bind(s.clone()),
                Param::Int(n) => q.bind(*n),
                Param::Float(f) => q.bind(*f),
            };
        }
        q
    }};
}

/// Inserts metadata index rows `(user_id, created_at, entry)` inside the caller's
/// transaction. Each row carries its user's `created_at`, so search can list a term's users
/// in page order from the index alone: given when the caller has just written the user,
/// otherwise read from the user's row (`None`).
macro_rules! insert_metadata_rows {
    ($tx:expr, $tenant:expr, $rows:expr) => {{
        for chunk in $rows.chunks($crate::users::ROWS_PER_STATEMENT) {
            let mut sql = String::from("INSERT INTO user_metadata_index (tenant_id, user_id, kind, path, v_text, v_num, created_at) VALUES ");
            let mut next = 1;
            for (i, (_, created_at, _)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                let (t, u) = (next, next + 1);
                sql.push_str(&format!("(${t}, ${u}, ${}, ${}, ${}, ${}, ", next + 2, next + 3, next + 4, next + 5));
                next += 6;
                if created_at.is_some() {
                    sql.push_str(&format!("${next})"));
                    next += 1;
                } else {
                    sql.push_str(&format!("(SELECT c.created_at FROM users c WHERE c.tenant_id = ${t} AND c.user_id = ${u}))"));
                }
            }
            let mut q = sqlx::query(&sql);
            for (user_id, created_at, e) in chunk {
                q = q.bind($tenant).bind(*user_id).bind(e.kind).bind(&e.path).bind(&e.text).bind(e.number);
                if let Some(at) = created_at {
                    q = q.bind(*at);
                }
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use insert_metadata_rows;

/// Rows per multi-row INSERT: sqlx's cost per bound parameter grows with their number, and
/// 50 rows measured three times faster than 500.
pub(crate) const ROWS_PER_STATEMENT: usize = 50;

/// Users per multi-row INSERT (27 columns each). On SQLite, sqlx looks each `$n` name up at
/// a cost that grows with the statement's parameter count, while every statement is a round
/// trip to the database thread: 10 rows measured best (see docs/benchmarks.md).
pub(crate) const USER_ROWS_PER_STATEMENT: usize = 10;

/// Replaces a user's rows in the metadata index, inside the caller's transaction.
macro_rules! replace_metadata_index {
    ($tx:expr, $tenant:expr, $user_id:expr, $user_metadata:expr, $app_metadata:expr) => {{
        sqlx::query("DELETE FROM user_metadata_index WHERE tenant_id = $1 AND user_id = $2")
            .bind($tenant)
            .bind($user_id)
            .execute(&mut *$tx)
            .await?;
        let user_id: &str = $user_id;
        let rows: Vec<(&str, Option<i64>, $crate::search::MetadataEntry)> =
            $crate::search::metadata_entries($user_metadata, $app_metadata)
                .into_iter()
                .map(|e| (user_id, None, e))
                .collect();
        $crate::users::insert_metadata_rows!($tx, $tenant, rows);
    }};
}
pub(crate) use replace_metadata_index;

/// Inserts users with multi-row statements inside the caller's transaction, each with the
/// password hash `$hash_of(index)` gives, and their metadata index rows.
macro_rules! insert_user_rows {
    ($tx:expr, $tenant:expr, $users:expr, $hash_of:expr) => {{
        const COLS: usize = 28;
        let users: &[gatehouse_core::user::User] = $users;
        for (c, chunk) in users.chunks($crate::users::USER_ROWS_PER_STATEMENT).enumerate() {
            let mut sql = String::from(
                "INSERT INTO users (tenant_id, user_id, connection_id, connection_name, provider, email, email_verified, username,
                    phone_number, phone_verified, given_name, family_name, name, nickname, picture, blocked, user_metadata,
                    app_metadata, password_hash, created_at, updated_at, last_login, last_ip, logins_count,
                    last_password_reset, password_set_date, email_domain, idp_attributes) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let placeholders: Vec<String> = (1..=COLS).map(|c| format!("${}", i * COLS + c)).collect();
                sql.push('(');
                sql.push_str(&placeholders.join(","));
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for (i, u) in chunk.iter().enumerate() {
                let hash: Option<&str> = ($hash_of)(c * $crate::users::USER_ROWS_PER_STATEMENT + i);
                q = q
                    .bind($tenant)
                    .bind(&u.user_id)
                    .bind(&u.connection_id)
                    .bind(&u.connection)
                    .bind(&u.provider)
                    .bind(&u.email)
                    .bind(u.email_verified)
                    .bind(&u.username)
                    .bind(&u.phone_number)
                    .bind(u.phone_verified)
                    .bind(&u.given_name)
                    .bind(&u.family_name)
                    .bind(&u.name)
                    .bind(&u.nickname)
                    .bind(&u.picture)
                    .bind(u.blocked)
                    .bind(sqlx::types::Json(&u.user_metadata))
                    .bind(sqlx::types::Json(&u.app_metadata))
                    .bind(hash)
                    .bind(u.created_at)
                    .bind(u.updated_at)
                    .bind(u.last_login)
                    .bind(&u.last_ip)
                    .bind(u.logins_count)
                    .bind(u.last_password_reset)
                    .bind(u.password_set_date)
                    .bind($crate::users::email_domain(u))
                    .bind(sqlx::types::Json(&u.idp_attributes));
            }
            q.execute(&mut *$tx).await?;
        }
        let entries: Vec<(&str, Option<i64>, $crate::search::MetadataEntry)> = users
            .iter()
            .flat_map(|u| $crate::search::metadata_entries(&u.user_metadata, &u.app_metadata).into_iter().map(move |e| (u.user_id.as_str(), Some(u.created_at), e)))
            .collect();
        $crate::users::insert_metadata_rows!($tx, $tenant, entries);
    }};
}

pub(crate) use insert_user_rows;

pub(crate) fn email_domain(u: &User) -> Option<String> {
    u.email
        .as_deref()
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_lowercase())
}

#[derive(Debug, Default)]
pub struct UserList {
    pub users: Vec<User>,
    pub total: Option<i64>,
    /// More users match than [`UserSearch::total_bound`]: `total` is that bound, a lower
    /// bound of the real number.
    pub total_capped: bool,
}

/// Users the Management API counts exactly for `include_totals`, as many as Auth0 lets a
/// client page through (`page × per_page` up to 1,000). Counting every match of a broad
/// query visits every matching row (300 ms for 700,000 of 1,000,000 users); counting up to
/// the bound costs about as much as reading a page.
pub const TOTAL_EXACT_BOUND: i64 = 1000;

#[derive(Clone, Debug)]
pub struct UserStore {
    db: Db,
    search_timeout: std::time::Duration,
    walk_budget: i64,
}

/// Linked identities in the order they were linked (their rows' `updated_at`, set when
/// linked), sorted here rather than by the query (see `attach_linked`).
fn sort_linked(linked: &mut [VersionedUser]) {
    linked.sort_by(|a, b| {
        (a.user.updated_at, &a.user.user_id).cmp(&(b.user.updated_at, &b.user.user_id))
    });
}

impl UserStore {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            search_timeout: SEARCH_TIMEOUT,
            walk_budget: WALK_BUDGET,
        }
    }

    /// Searches walk at most `users` users in page order instead of [`WALK_BUDGET`] (tests
    /// use a small one to reach both outcomes of a walk with few users).
    pub fn with_walk_budget(mut self, users: i64) -> Self {
        self.walk_budget = users.max(1);
        self
    }

    /// Searches stopped after `timeout` instead of [`SEARCH_TIMEOUT`].
    pub fn with_search_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.search_timeout = timeout.max(std::time::Duration::from_millis(1));
        self
    }

    /// Inserts a new user with an optional password hash; a duplicate email or username in
    /// the connection, or a duplicate user_id, is a [`StoreError::Conflict`].
    /// Inserts one user and, in the same transaction, the emails its creation sends.
    pub async fn insert(
        &self,
        tenant: &str,
        u: &User,
        password_hash: Option<&str>,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        self.insert_batch(tenant, std::slice::from_ref(u), password_hash, outbox)
            .await
    }

    /// Inserts many users in one transaction with multi-row statements (bulk loads and
    /// seeding); all get the same password hash. Any conflict aborts the whole batch.
    pub async fn insert_many(
        &self,
        tenant: &str,
        users: &[User],
        password_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        self.insert_batch(tenant, users, password_hash, &[]).await
    }

    async fn insert_batch(
        &self,
        tenant: &str,
        users: &[User],
        password_hash: Option<&str>,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            insert_user_rows!(tx, tenant, users, |_: usize| password_hash);
            insert_outbox!(tx, tenant, outbox);
            tx.commit().await?;
            Ok(())
        })
    }

    /// A user with the identities linked to it, in one statement: the user's row and the
    /// rows linked to it (each branch on its own index), told apart here.
    pub async fn get(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Option<VersionedUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND user_id = $2
             UNION ALL
             SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND linked_to = $2"
        );
        let rows: Vec<VersionedUser> = on_pool!(&self.db, pool => {
            sqlx::query_as::<_, Row>(&sql)
                .bind(tenant)
                .bind(user_id)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(Into::into)
                .collect()
        });
        let (mut found, mut linked): (Vec<VersionedUser>, Vec<VersionedUser>) =
            rows.into_iter().partition(|r| r.user.user_id == user_id);
        let Some(mut found) = found.pop() else {
            return Ok(None);
        };
        sort_linked(&mut linked);
        found.user.linked_identities.extend(
            linked
                .iter()
                .map(|l| gatehouse_core::user::LinkedIdentity::of(&l.user)),
        );
        Ok(Some(found))
    }

    /// Fills each user's `linked_identities` from the rows linked to it, in the order they
    /// were linked.
    async fn attach_linked(&self, tenant: &str, users: &mut [User]) -> Result<(), StoreError> {
        if users.is_empty() {
            return Ok(());
        }
        // A page of users (an export's 5,000) first asks whether the tenant has linked any
        // identity at all: one probe of the partial index instead of thousands.
        if users.len() > 1 {
            let any: bool = on_pool!(&self.db, pool => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND linked_to IS NOT NULL)",
                )
                .bind(tenant)
                .fetch_one(pool)
                .await?
            });
            if !any {
                return Ok(());
            }
        }
        let placeholders: Vec<String> = (0..users.len()).map(|i| format!("${}", i + 2)).collect();
        // Sorted here, not by the query: an ORDER BY made SQLite walk the updated_at index
        // over every user of the tenant instead of probing the few linked rows (an export
        // page took twice as long).
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND linked_to IN ({})",
            placeholders.join(", ")
        );
        let mut linked: Vec<VersionedUser> = on_pool!(&self.db, pool => {
            let mut q = sqlx::query_as::<_, Row>(&sql).bind(tenant);
            for u in users.iter() {
                q = q.bind(&u.user_id);
            }
            q.fetch_all(pool).await?.into_iter().map(VersionedUser::from).collect()
        });
        sort_linked(&mut linked);
        for l in linked {
            if let Some(primary) = users
                .iter_mut()
                .find(|u| Some(&u.user_id) == l.linked_to.as_ref())
            {
                primary
                    .linked_identities
                    .push(gatehouse_core::user::LinkedIdentity::of(&l.user));
            }
        }
        Ok(())
    }

    /// Links `secondary` to `primary`: the secondary leaves the user list, its metadata is
    /// discarded (as in Auth0), and it logs in as the primary from now on. False when
    /// either changed meanwhile (the secondary got linked, or the primary did, or the
    /// secondary gained identities of its own).
    pub async fn link(
        &self,
        tenant: &str,
        primary: &str,
        secondary: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let empty = Map::new();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let r = sqlx::query(
                "UPDATE users SET linked_to = $3, user_metadata = $5, app_metadata = $5, updated_at = $4, version = version + 1
                 WHERE tenant_id = $1 AND user_id = $2 AND linked_to IS NULL
                   AND NOT EXISTS (SELECT 1 FROM users s WHERE s.tenant_id = $1 AND s.linked_to = $2)
                   AND EXISTS (SELECT 1 FROM users p WHERE p.tenant_id = $1 AND p.user_id = $3 AND p.linked_to IS NULL)",
            )
            .bind(tenant)
            .bind(secondary)
            .bind(primary)
            .bind(now)
            .bind(Json(&empty))
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Ok(false);
            }
            replace_metadata_index!(tx, tenant, secondary, &empty, &empty);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Makes a linked identity a user of its own again; false when it was not linked to
    /// `primary`.
    pub async fn unlink(
        &self,
        tenant: &str,
        primary: &str,
        secondary: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "UPDATE users SET linked_to = NULL, updated_at = $4, version = version + 1
                 WHERE tenant_id = $1 AND user_id = $2 AND linked_to = $3",
            )
            .bind(tenant)
            .bind(secondary)
            .bind(primary)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Users known by this email (any case) or username, in one connection or all of them
    /// (logins use the first; brute-force block look-ups the second). Email matches come
    /// first, so no username can stand in front of an owner's email (security review L7).
    pub async fn by_identifier(
        &self,
        tenant: &str,
        identifier: &str,
        connection_id: Option<&str>,
    ) -> Result<Vec<VersionedUser>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND (email = $2 OR username = $3) AND ($4 IS NULL OR connection_id = $4)
             ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END, user_id"
        );
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(&sql)
                .bind(tenant)
                .bind(identifier.to_lowercase())
                .bind(identifier)
                .bind(connection_id)
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(VersionedUser::from).collect())
        })
    }

    /// Exact, case-sensitive email match across connections (Auth0's users-by-email).
    pub async fn by_email(&self, tenant: &str, email: &str) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2 AND linked_to IS NULL ORDER BY created_at, user_id"
        );
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(&sql).bind(tenant).bind(email).fetch_all(pool).await?;
            Ok(rows.into_iter().map(|r| VersionedUser::from(r).user).collect())
        })
    }

    /// The page query, the count query and their parameters (after `$1` tenant and `$2`
    /// connection) for a search.
    async fn search_sql(
        &self,
        tenant: &str,
        q: &UserSearch,
        walk: Option<&Walk>,
        selective: bool,
    ) -> Result<(String, String, Vec<Param>), StoreError> {
        // Linked identities live on as rows naming their primary; they are not users of
        // their own in lists, searches or exports.
        let mut condition = String::from(
            "tenant_id = $1 AND linked_to IS NULL AND ($2 IS NULL OR connection_id = $2)",
        );
        let mut params: Vec<Param> = vec![];
        let mut next = 3;
        if let UserOrder::UserId { after: Some(after) } = &q.order {
            condition.push_str(&format!(" AND user_id > ${next}"));
            params.push(Param::Text(after.clone()));
            next += 1;
        }
        if let Some(until) = q.created_until {
            condition.push_str(&format!(" AND created_at <= ${next}"));
            params.push(Param::Int(until));
            next += 1;
        }
        if let (Some(filter), Some(clause)) = (&q.filter, walk.and_then(|w| w.driver))
            && let Some(list) = driver_list(filter, self.db.dialect(), clause, "$1", next)
        {
            // The driving clause's users in page order, each read and checked against the
            // rest of the query in turn, until the page is full.
            next += list.params.len();
            params.extend(list.params);
            let compiled = compile_walk_without(filter, clause, self.db.dialect(), "$1", next);
            next += compiled.params.len();
            params.extend(compiled.params);
            let limits = format!("LIMIT ${next} OFFSET ${}", next + 1);
            let sql = match self.db.dialect() {
                // CROSS JOIN keeps the listed users as the outer loop, and the rows come out
                // in its order. The listed users are sorted inside (a LIMIT keeps that ORDER
                // BY): sorting outside would read every listed user's row before the first
                // page is out (a range of 15,000 users: 170 ms instead of a few).
                Dialect::Sqlite => format!(
                    "SELECT {COLUMNS} FROM ({} ORDER BY walk_created, walk_user LIMIT -1) AS d CROSS JOIN users WHERE users.user_id = d.walk_user AND {condition} AND {} {limits}",
                    list.sql, compiled.sql
                ),
                // OFFSET 0 keeps the planner from turning the per-user read into a join
                // that reads every listed user before the first page is out; the listed
                // users' order carries through the nested loop to the ORDER BY.
                Dialect::Postgres => format!(
                    "SELECT {COLUMNS} FROM ({} ORDER BY walk_created, walk_user) AS d CROSS JOIN LATERAL (SELECT * FROM users WHERE users.tenant_id = $1 AND users.user_id = d.walk_user OFFSET 0) AS users WHERE {condition} AND {} ORDER BY d.walk_created, d.walk_user {limits}",
                    list.sql, compiled.sql
                ),
            };
            return Ok((sql, String::new(), params));
        }
        // The walk's budget, on SQLite: users up to the horizon, in page order.
        let base = condition.clone();
        if let Some(Walk {
            horizon: Some((created, user_id)),
            ..
        }) = walk
        {
            // `created_at <= horizon` bounds the index range; the rest breaks ties.
            condition.push_str(&format!(
                " AND created_at <= ${next} AND (created_at < ${next} OR user_id <= ${})",
                next + 1
            ));
            params.push(Param::Int(*created));
            params.push(Param::Text(user_id.clone()));
            next += 2;
        }
        if let (Some(filter), Some(_)) = (&q.filter, walk) {
            let compiled = compile_walk(filter, self.db.dialect(), "$1", next);
            next += compiled.params.len();
            params.extend(compiled.params);
            let order = "created_at ASC, user_id ASC";
            let limits = format!("LIMIT ${next} OFFSET ${}", next + 1);
            let sql = match self.db.dialect() {
                // SQLite keeps no value statistics: it is told which index to walk.
                Dialect::Sqlite => format!(
                    "SELECT {COLUMNS} FROM users INDEXED BY users_by_created WHERE {condition} AND {} ORDER BY {order} {limits}",
                    compiled.sql
                ),
                // A subquery with a LIMIT is a fence PostgreSQL's planner keeps: the filter
                // is applied to users read in page order, and reading stops at the page.
                Dialect::Postgres => format!(
                    "SELECT {COLUMNS} FROM (SELECT * FROM users WHERE {base} ORDER BY {order} LIMIT {}) AS users WHERE {} ORDER BY {order} {limits}",
                    self.walk_budget, compiled.sql
                ),
            };
            return Ok((sql, String::new(), params));
        }
        if let Some(filter) = &q.filter {
            let dialect = self.db.dialect();
            let (mut compiled, probes) = compile_with(filter, dialect, "$1", next, &[]);
            if let Db::Sqlite(pool) = &self.db
                && !probes.is_empty()
            {
                let mut all = params.clone();
                all.extend(compiled.params.iter().cloned());
                let mut broad = Vec::with_capacity(probes.len());
                for probe in &probes {
                    let n: i64 = bind_params!(
                        sqlx::query_scalar(probe)
                            .bind(tenant)
                            .bind(&q.connection_id),
                        &all
                    )
                    .fetch_one(pool)
                    .await?;
                    broad.push(n >= BROAD_METADATA_ROWS);
                }
                if broad.contains(&true) {
                    compiled = compile_with(filter, dialect, "$1", next, &broad).0;
                }
            }
            next += compiled.params.len();
            condition.push_str(" AND ");
            condition.push_str(&compiled.sql);
            params.extend(compiled.params);
        }
        let order = match &q.order {
            UserOrder::UserId { .. } => "user_id ASC".to_string(),
            // NULLs last in both directions and both dialects; user_id breaks ties so pages
            // never overlap.
            UserOrder::Field(field, ascending) => {
                let col = field.column();
                let dir = if *ascending { "ASC" } else { "DESC" };
                format!("({col} IS NULL) ASC, {col} {dir}, user_id {dir}")
            }
            // `+ 0` keeps the creation-order index out of the plan: the page is sorted from
            // the selective clause's few users.
            UserOrder::Created if selective => "created_at + 0 ASC, user_id ASC".to_string(),
            UserOrder::Created => "created_at ASC, user_id ASC".to_string(),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE {condition} ORDER BY {order} LIMIT ${next} OFFSET ${}",
            next + 1
        );
        let count_sql = match q.total_bound {
            // One more than the bound tells "exactly the bound" from "more than it".
            Some(bound) => format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE {condition} LIMIT {}) AS capped",
                Self::total_limit(q, bound).saturating_add(1)
            ),
            None => format!("SELECT COUNT(*) FROM users WHERE {condition}"),
        };
        Ok((sql, count_sql, params))
    }

    /// The count a bounded total stops at: the bound, or past the page asked for, so a
    /// total is never smaller than what the caller has already paged through.
    fn total_limit(q: &UserSearch, bound: i64) -> i64 {
        bound.max(q.offset.saturating_add(q.limit))
    }

    pub async fn search(&self, tenant: &str, q: &UserSearch) -> Result<UserList, StoreError> {
        let plan = self.walk_plan(tenant, q).await?;
        let mut list = match self.walk(tenant, q, &plan).await? {
            Some(list) => list,
            None => {
                let selective = matches!(plan, Plan::List { selective: true });
                let (sql, count_sql, params) = self.search_sql(tenant, q, None, selective).await?;
                self.search_page(tenant, q, &sql, &count_sql, &params)
                    .await?
            }
        };
        self.attach_linked(tenant, &mut list.users).await?;
        Ok(list)
    }

    /// The page found by walking users in page order and checking each (see
    /// [`crate::search::driving_counts`]), when [`Self::walk_plan`] chooses it; `None` when the
    /// search should list users from an index instead, or when the walk's budget ran out
    /// before the page was full.
    async fn walk(
        &self,
        tenant: &str,
        q: &UserSearch,
        plan: &Plan,
    ) -> Result<Option<UserList>, StoreError> {
        let Plan::Walk(walk) = plan else {
            return Ok(None);
        };
        // A driving clause's walk reads all its users if it must; a walk of every user stops
        // at the budget, except on SQLite when the tenant has fewer users than that.
        let complete_without_budget =
            walk.driver.is_some() || (walk.horizon.is_none() && matches!(self.db, Db::Sqlite(_)));
        let (sql, _, params) = self.search_sql(tenant, q, Some(walk), false).await?;
        let page_only = UserSearch {
            with_total: false,
            ..q.clone()
        };
        let mut list = self
            .search_page(tenant, &page_only, &sql, "", &params)
            .await?;
        // A full page is the right page: every user before it in page order was checked.
        if list.users.len() as i64 != q.limit && !complete_without_budget {
            return Ok(None);
        }
        if q.with_total {
            let (_, count_sql, params) = self.search_sql(tenant, q, None, false).await?;
            let counted = self.search_page(tenant, q, "", &count_sql, &params).await?;
            list.total = counted.total;
            list.total_capped = counted.total_capped;
        }
        Ok(Some(list))
    }

    /// One of [`driving_counts`]' counts.
    async fn count(&self, tenant: &str, count: &SqlFilter) -> Result<i64, StoreError> {
        Ok(match &self.db {
            Db::Sqlite(pool) => {
                bind_params!(sqlx::query_scalar(&count.sql).bind(tenant), &count.params)
                    .fetch_one(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                bind_params!(
                    sqlx::query_scalar(&count.sql)
                        .persistent(false)
                        .bind(tenant),
                    &count.params
                )
                .fetch_one(pool)
                .await?
            }
        })
    }

    /// Whether to walk users in page order: every clause an index could list users by
    /// matches at least [`BROAD_METADATA_ROWS`] users, in the default order. The walk follows
    /// one clause's users (see the body for which); with none that fits, it walks every
    /// user, on SQLite up to the budget's horizon.
    async fn walk_plan(&self, tenant: &str, q: &UserSearch) -> Result<Plan, StoreError> {
        let unknown = Plan::List { selective: false };
        let Some(filter) = &q.filter else {
            return Ok(unknown);
        };
        if q.order != UserOrder::Created || q.limit <= 0 {
            return Ok(unknown);
        }
        // Ordered clauses are counted to the bound that tells a selective clause; the others
        // to the budget too, in the same count, for the choice below.
        let unordered_cap = self.walk_budget.max(BROAD_METADATA_ROWS);
        let drivers = driving_counts(
            filter,
            self.db.dialect(),
            BROAD_METADATA_ROWS,
            unordered_cap,
        );
        if drivers.is_empty() {
            return Ok(unknown);
        }
        let mut counts = Vec::with_capacity(drivers.len());
        for driver in &drivers {
            let n = self.count(tenant, &driver.count).await?;
            if n < BROAD_METADATA_ROWS {
                return Ok(Plan::List { selective: true });
            }
            counts.push(n);
        }
        // Every clause is broad. An equality whose index lists users in page order is walked
        // as it comes, however many it matches: a profile field first (names and domains
        // have many values; metadata equalities are often a plan or a status with a few),
        // then the first in the query. Counting further to choose costs more than it saves:
        // PostgreSQL reads the table for each user an expression index lists.
        let ordered = drivers
            .iter()
            .filter(|d| d.ordered)
            .min_by_key(|d| (!d.on_profile, d.clause));
        // Otherwise the clause with the fewest matches, if fewer than the budget: its users
        // are sorted from the index alone (a range: 15,000 index entries, a few ms).
        let sorted = drivers
            .iter()
            .zip(&counts)
            .filter(|(_, n)| **n < self.walk_budget)
            .min_by_key(|(d, n)| (**n, d.clause))
            .map(|(d, _)| d);
        if let Some(driver) = ordered.or(sorted) {
            return Ok(Plan::Walk(Walk {
                horizon: None,
                driver: Some(driver.clause),
            }));
        }
        Ok(Plan::Walk(match &self.db {
            // The user the budget ends at; none when the tenant has fewer users, and the
            // walk then sees them all.
            Db::Sqlite(pool) => Walk {
                horizon: sqlx::query_as(
                    "SELECT created_at, user_id FROM users WHERE tenant_id = $1 ORDER BY created_at, user_id LIMIT 1 OFFSET $2",
                )
                .bind(tenant)
                .bind(self.walk_budget - 1)
                .fetch_optional(pool)
                .await?,
                driver: None,
            },
            Db::Postgres(_) => Walk {
                horizon: None,
                driver: None,
            },
        }))
    }

    /// One page of a search (and its total), under the search deadline; an empty `sql` or
    /// `count_sql` is not run.
    async fn search_page(
        &self,
        tenant: &str,
        q: &UserSearch,
        sql: &str,
        count_sql: &str,
        params: &[Param],
    ) -> Result<UserList, StoreError> {
        // Not cached as a prepared statement: PostgreSQL then plans each search with its
        // real values. Selectivity depends on them (a customer id matches one user, a plan a
        // quarter of them), and a cached generic plan turned 2 ms searches into 2 s ones.
        macro_rules! run {
            ($conn:expr) => {{
                let rows = if sql.is_empty() {
                    vec![]
                } else {
                    bind_params!(sqlx::query_as::<_, Row>(sql).persistent(false).bind(tenant).bind(&q.connection_id), params)
                        .bind(q.limit)
                        .bind(q.offset)
                        .fetch_all(&mut *$conn)
                        .await
                        .map_err(search_error)?
                };
                let total = if q.with_total && !count_sql.is_empty() {
                    Some(
                        bind_params!(sqlx::query_scalar::<_, i64>(count_sql).persistent(false).bind(tenant).bind(&q.connection_id), params)
                            .fetch_one(&mut *$conn)
                            .await
                            .map_err(search_error)?,
                    )
                } else {
                    None
                };
                let limit = q.total_bound.map(|b| Self::total_limit(q, b));
                let total_capped = matches!((total, limit), (Some(t), Some(l)) if t > l);
                let total = match (total, limit) {
                    (Some(t), Some(l)) => Some(t.min(l)),
                    (t, _) => t,
                };
                UserList { users: rows.into_iter().map(|r| VersionedUser::from(r).user).collect(), total, total_capped }
            }};
        }
        // Every search has a deadline, so heavy ones cannot hold connections that logins
        // need (security review L5).
        match &self.db {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let deadline = std::time::Instant::now() + self.search_timeout;
                conn.lock_handle()
                    .await?
                    .set_progress_handler(10_000, move || std::time::Instant::now() < deadline);
                let result: Result<UserList, StoreError> = async { Ok(run!(conn)) }.await;
                conn.lock_handle().await?.remove_progress_handler();
                result
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(&format!(
                    "SET LOCAL statement_timeout = {}",
                    self.search_timeout.as_millis()
                ))
                .execute(&mut *tx)
                .await?;
                let list = run!(tx);
                tx.commit().await?;
                Ok(list)
            }
        }
    }

    /// The database's plan for a search (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` on
    /// SQLite), one line per row, for `gatehouse dev explain` and the benchmark notes.
    pub async fn explain(&self, tenant: &str, q: &UserSearch) -> Result<Vec<String>, StoreError> {
        let (sql, _, params) = match self.walk_plan(tenant, q).await? {
            Plan::Walk(walk) => self.search_sql(tenant, q, Some(&walk), false).await?,
            Plan::List { selective } => self.search_sql(tenant, q, None, selective).await?,
        };
        let explain_pg = format!("EXPLAIN {sql}");
        let explain_sqlite = format!("EXPLAIN QUERY PLAN {sql}");
        match &self.db {
            Db::Postgres(pool) => {
                let rows: Vec<(String,)> = bind_params!(
                    sqlx::query_as(&explain_pg)
                        .bind(tenant)
                        .bind(&q.connection_id),
                    &params
                )
                .bind(q.limit)
                .bind(q.offset)
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }
            Db::Sqlite(pool) => {
                let rows: Vec<(i64, i64, i64, String)> = bind_params!(
                    sqlx::query_as(&explain_sqlite)
                        .bind(tenant)
                        .bind(&q.connection_id),
                    &params
                )
                .bind(q.limit)
                .bind(q.offset)
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(|r| r.3).collect())
            }
        }
    }

    /// Users an import batch could collide with: those of the connection with one of these
    /// emails or usernames, and those of the tenant with one of these ids; each with its
    /// password hash.
    pub async fn import_matches(
        &self,
        tenant: &str,
        connection_id: &str,
        emails: &[String],
        user_ids: &[String],
        usernames: &[String],
    ) -> Result<Vec<(VersionedUser, Option<String>)>, StoreError> {
        const PER_QUERY: usize = 500;
        let mut out: Vec<(VersionedUser, Option<String>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Each look-up is written so that its unique index serves it: (tenant, connection,
        // email) — partial, for database and passwordless users, so the query repeats its
        // predicate (imports go to database connections) —, (tenant, connection, username),
        // (tenant, user_id). Without the predicate SQLite read every user of the connection
        // for each chunk (the 500,000-user import took 1.6 times as long).
        for (column, values, connection_filter) in [
            (
                "email",
                emails,
                "connection_id = $2 AND provider IN ('auth0', 'email')",
            ),
            ("user_id", user_ids, "$2 = $2"),
            ("username", usernames, "connection_id = $2"),
        ] {
            for chunk in values.chunks(PER_QUERY) {
                let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "SELECT {COLUMNS}, password_hash FROM users WHERE tenant_id = $1 AND {connection_filter} AND {column} IN ({})",
                    list.join(",")
                );
                let rows: Vec<RowWithHash> = on_pool!(&self.db, pool => {
                    let mut q = sqlx::query_as::<_, RowWithHash>(&sql).persistent(false).bind(tenant).bind(connection_id);
                    for v in chunk {
                        q = q.bind(v);
                    }
                    q.fetch_all(pool).await?
                });
                for r in rows {
                    if seen.insert(r.row.user_id.clone()) {
                        let hash = r.password_hash;
                        out.push((VersionedUser::from(r.row), hash));
                    }
                }
            }
        }
        Ok(out)
    }

    pub async fn password_hash(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.optional_text(
            "SELECT password_hash FROM users WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            user_id,
        )
        .await
    }

    /// One of a user's optional text columns, by one of the fixed queries above.
    async fn optional_text(
        &self,
        sql: &'static str,
        tenant: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, Option<String>>(sql)
                .bind(tenant)
                .bind(user_id)
                .fetch_optional(pool)
                .await?
                .flatten())
        })
    }

    /// Replaces an imported password hash by its argon2id re-hash, only if the stored hash
    /// is still `old` (a password change in between wins). True when replaced.
    pub async fn replace_password_hash(
        &self,
        tenant: &str,
        user_id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query(
                "UPDATE users SET password_hash = $4 WHERE tenant_id = $1 AND user_id = $2 AND password_hash = $3",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(old)
            .bind(new)
            .execute(pool)
            .await?
            .rows_affected()
                == 1)
        })
    }

    /// The `n` most recent earlier password hashes, newest first.
    pub async fn password_history(
        &self,
        tenant: &str,
        user_id: &str,
        n: i64,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT hash FROM password_history WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC LIMIT $3",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(n)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Writes the whole profile if the row is still at `expected_version`; returns false when
    /// another write got there first (the caller re-reads and re-applies). A new password
    /// hash moves the old one into the history, keeping `keep_history` entries.
    pub async fn update(
        &self,
        tenant: &str,
        u: &User,
        expected_version: i64,
        new_password: Option<(&str, i64)>,
        outbox: &[OutboxMessage],
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let r = sqlx::query(
                "UPDATE users SET email = $3, email_verified = $4, username = $5, phone_number = $6, phone_verified = $7,
                    given_name = $8, family_name = $9, name = $10, nickname = $11, picture = $12, blocked = $13,
                    user_metadata = $14, app_metadata = $15, updated_at = $16, last_login = $17, last_ip = $18,
                    logins_count = $19, last_password_reset = $20, password_set_date = $21, email_domain = $23,
                    idp_attributes = $24, version = version + 1
                 WHERE tenant_id = $1 AND user_id = $2 AND version = $22",
            )
            .bind(tenant)
            .bind(&u.user_id)
            .bind(&u.email)
            .bind(u.email_verified)
            .bind(&u.username)
            .bind(&u.phone_number)
            .bind(u.phone_verified)
            .bind(&u.given_name)
            .bind(&u.family_name)
            .bind(&u.name)
            .bind(&u.nickname)
            .bind(&u.picture)
            .bind(u.blocked)
            .bind(Json(&u.user_metadata))
            .bind(Json(&u.app_metadata))
            .bind(u.updated_at)
            .bind(u.last_login)
            .bind(&u.last_ip)
            .bind(u.logins_count)
            .bind(u.last_password_reset)
            .bind(u.password_set_date)
            .bind(expected_version)
            .bind(email_domain(u))
            .bind(Json(&u.idp_attributes))
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Ok(false);
            }
            replace_metadata_index!(tx, tenant, &u.user_id, &u.user_metadata, &u.app_metadata);
            if let Some((hash, keep_history)) = new_password {
                sqlx::query(
                    "INSERT INTO password_history (tenant_id, user_id, hash, created_at)
                     SELECT tenant_id, user_id, password_hash, $3 FROM users
                     WHERE tenant_id = $1 AND user_id = $2 AND password_hash IS NOT NULL",
                )
                .bind(tenant)
                .bind(&u.user_id)
                .bind(u.updated_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant)
                    .bind(&u.user_id)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM password_history WHERE tenant_id = $1 AND user_id = $2 AND created_at NOT IN
                       (SELECT created_at FROM password_history WHERE tenant_id = $1 AND user_id = $2
                        ORDER BY created_at DESC LIMIT $3)",
                )
                .bind(tenant)
                .bind(&u.user_id)
                .bind(keep_history)
                .execute(&mut *tx)
                .await?;
            }
            insert_outbox!(tx, tenant, outbox);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Counts a login atomically (`logins_count`, `last_login`, `last_ip`), so concurrent
    /// logins of one user never conflict; returns the updated user.
    pub async fn record_login(
        &self,
        tenant: &str,
        user_id: &str,
        now: i64,
        ip: Option<&str>,
    ) -> Result<Option<VersionedUser>, StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE users SET logins_count = logins_count + 1, last_login = $3, last_ip = $4, version = version + 1
                 WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(now)
            .bind(ip)
            .execute(pool)
            .await?;
            Ok::<(), StoreError>(())
        })?;
        self.get(tenant, user_id).await
    }

    /// The primary user a linked identity belongs to, or the user itself; `None` when there
    /// is no such user.
    pub async fn primary_of(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT COALESCE(linked_to, user_id) FROM users WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The provider's tokens of a user's identity, sealed by the service.
    pub async fn idp_tokens(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.optional_text(
            "SELECT idp_tokens FROM users WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            user_id,
        )
        .await
    }

    /// Replaces the sealed provider tokens of a user's identity (each login brings new ones).
    pub async fn set_idp_tokens(
        &self,
        tenant: &str,
        user_id: &str,
        sealed: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE users SET idp_tokens = $3 WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(user_id)
                .bind(sealed)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Deletes a user, the identities linked to it, and everything they own.
    pub async fn delete(&self, tenant: &str, user_id: &str) -> Result<bool, StoreError> {
        self.delete_erasing(tenant, user_id, None).await
    }

    /// Deletes a user and, with an `erasure`, pseudonymises the log events naming them in the
    /// same transaction (GDPR erasure): the user never exists without their events scrubbed.
    pub async fn delete_erasing(
        &self,
        tenant: &str,
        user_id: &str,
        erasure: Option<&gatehouse_core::gdpr::Erasure>,
    ) -> Result<bool, StoreError> {
        let details_text = match self.db.dialect() {
            crate::db::Dialect::Sqlite => "details",
            crate::db::Dialect::Postgres => "details::text",
        };
        on_pool!(&self.db, pool => {
            let (mentions, since) = match erasure {
                Some(e) => crate::logs::find_log_mentions!(pool, details_text, tenant, e),
                None => (vec![], 0),
            };
            let mut tx = pool.begin_write().await?;
            for table in USER_OWNED_TABLES {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND (user_id = $2 OR user_id IN (SELECT user_id FROM users WHERE tenant_id = $1 AND linked_to = $2))"
                ))
                .bind(tenant)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND linked_to = $2")
                .bind(tenant)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if let Some(erasure) = erasure.filter(|_| r.rows_affected() == 1) {
                crate::logs::erase_from_logs!(tx, details_text, tenant, erasure, &mentions, since);
            }
            tx.commit().await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
