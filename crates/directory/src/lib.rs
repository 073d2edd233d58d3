//! Talking to a corporate directory over LDAP for directory connections (`strategy: "ad"`):
//! find the user with the service account, check the password by binding as the user on a
//! connection of its own (so the service connection never changes identity), and read the
//! user's groups, nested ones too (Active Directory's in-chain matching rule, or walking
//! `member` level by level on other servers). Every operation has the connection's timeout;
//! an unreachable or failing directory is an error, never a verdict on the password.
//!
//! What is pure (the options, the filter escaping, the profile) is in
//! `gatehouse_core::directory`; the service decides what a verdict means for the login.

use gatehouse_core::directory::{
    DirectoryKind, DirectoryOptions, escape_filter_value, guid_text, profile_of, user_attributes,
};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, SearchResult};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// LDAP's `invalidCredentials`: a wrong password (or, by design, a locked account).
const INVALID_CREDENTIALS: u32 = 49;
/// `sizeLimitExceeded`: the entries that came are still answers.
const SIZE_LIMIT_EXCEEDED: u32 = 4;
/// Levels of groups of groups walked on servers without an in-chain rule.
const MAX_GROUP_DEPTH: usize = 10;
/// DNs asked about in one group search.
const MAX_DNS_PER_SEARCH: usize = 50;
/// Groups read for one user, at most.
const MAX_GROUPS: usize = 1_000;

/// Why the directory gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Connecting, TLS or an operation failed or timed out.
    #[error("the directory at {url} could not be reached: {cause}")]
    Unreachable { url: String, cause: String },
    /// The service account could not bind (the connection's settings are wrong).
    #[error("the directory refused the service account {bind_dn} (result {rc}: {text})")]
    ServiceAccount {
        bind_dn: String,
        rc: u32,
        text: String,
    },
    /// An operation answered an error result.
    #[error("the directory answered the {what} with result {rc}: {text}")]
    Answer {
        what: &'static str,
        rc: u32,
        text: String,
    },
}

/// The directory's entry of a user who proved their password.
#[derive(Debug, Clone)]
pub struct DirectoryUser {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
    /// Active Directory's `objectGUID`, as text.
    pub guid: Option<String>,
    /// The names of the user's groups (direct, and nested when the connection says so).
    pub groups: Vec<String>,
}

/// What the directory said about a username and password.
#[derive(Debug, Clone)]
pub enum Verdict {
    Verified(DirectoryUser),
    /// No entry matched the filter, or more than one did (which to check would be a guess).
    UnknownUser,
    /// The entry exists (its profile id, when it has one) but the password is wrong.
    WrongPassword {
        id: Option<String>,
    },
    /// Active Directory refused a right password (in Auth0's connector's words:
    /// `account_locked`, `account_disabled`, `password_expired`…).
    Refused(&'static str),
}

fn unreachable(o: &DirectoryOptions, e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unreachable {
        url: o.url.clone(),
        cause: e.to_string(),
    }
}

fn timeout(o: &DirectoryOptions) -> Duration {
    Duration::from_millis(o.timeout_ms)
}

/// A connection to the directory, driven on its own task.
async fn connect(o: &DirectoryOptions) -> Result<Ldap, DirectoryError> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(timeout(o))
        .set_starttls(o.start_tls);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &o.url)
        .await
        .map_err(|e| unreachable(o, e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(error = %e, "directory connection ended");
        }
    });
    Ok(ldap)
}

/// Ends a connection politely. The verdict is already known, so a failed unbind changes
/// nothing; it is only noted for whoever debugs the directory.
async fn close(mut ldap: Ldap) {
    if let Err(e) = ldap.unbind().await {
        tracing::debug!(error = %e, "directory unbind failed");
    }
}

/// Service-account connections kept open between logins, per directory and account, so a
/// login costs one new connection (the user's bind) instead of two. A connection is taken by
/// one login at a time and given back only after everything on it succeeded; one idle for
/// longer than [`IDLE_FOR`], or found closed, is dropped, and a login whose reused
/// connection fails tries once more on a fresh one.
#[derive(Default)]
pub struct ConnectionPool {
    idle: std::sync::Mutex<HashMap<PoolKey, Vec<(Ldap, std::time::Instant)>>>,
    /// Keys the bind password without keeping it.
    hasher: std::hash::RandomState,
    opened: std::sync::atomic::AtomicU64,
    reused: std::sync::atomic::AtomicU64,
}

/// Idle connections kept per directory and account.
const MAX_IDLE: usize = 4;
/// How long an idle connection is kept (directories close idle connections too).
pub const IDLE_FOR: Duration = Duration::from_secs(60);

#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    url: String,
    start_tls: bool,
    bind_dn: Option<String>,
    password: u64,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("opened", &self.opened())
            .field("reused", &self.reused())
            .finish_non_exhaustive()
    }
}

impl ConnectionPool {
    fn key(&self, o: &DirectoryOptions, bind_password: Option<&str>) -> PoolKey {
        use std::hash::BuildHasher;
        PoolKey {
            url: o.url.clone(),
            start_tls: o.start_tls,
            bind_dn: o.bind_dn.clone(),
            password: self.hasher.hash_one(bind_password.unwrap_or("")),
        }
    }

    /// Service connections opened since start (a pooled login opens none).
    pub fn opened(&self) -> u64 {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Logins served by a connection kept from an earlier one.
    pub fn reused(&self) -> u64 {
        self.reused.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Vec<(Ldap, std::time::Instant)>>> {
        // A poisoned lock still holds whole entries: each push or pop is one step.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection of this directory and account, still open; else `None`.
    fn take_idle(&self, key: &PoolKey) -> Option<Ldap> {
        let mut idle = self.lock();
        let list = idle.get_mut(key)?;
        while let Some((mut ldap, since)) = list.pop() {
            if since.elapsed() < IDLE_FOR && !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    /// A bound service connection: a kept one (`true`) or a new one.
    async fn take(
        &self,
        o: &DirectoryOptions,
        bind_password: Option<&str>,
    ) -> Result<(Ldap, bool), DirectoryError> {
        if let Some(ldap) = self.take_idle(&self.key(o, bind_password)) {
            self.reused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok((ldap, true));
        }
        Ok((self.fresh(o, bind_password).await?, false))
    }

    /// A new bound service connection, counted.
    async fn fresh(
        &self,
        o: &DirectoryOptions,
        bind_password: Option<&str>,
    ) -> Result<Ldap, DirectoryError> {
        let ldap = service_connection(o, bind_password).await?;
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(ldap)
    }

    /// Keeps a connection whose operations all succeeded, or closes it when enough are kept.
    async fn give_back(&self, o: &DirectoryOptions, bind_password: Option<&str>, ldap: Ldap) {
        let key = self.key(o, bind_password);
        let spare = {
            let mut idle = self.lock();
            let list = idle.entry(key).or_default();
            list.retain(|(_, since)| since.elapsed() < IDLE_FOR);
            if list.len() < MAX_IDLE {
                list.push((ldap, std::time::Instant::now()));
                None
            } else {
                Some(ldap)
            }
        };
        if let Some(ldap) = spare {
            close(ldap).await;
        }
    }
}

/// The service account's connection: bound as `bind_dn`, or anonymous without one.
async fn service_connection(
    o: &DirectoryOptions,
    bind_password: Option<&str>,
) -> Result<Ldap, DirectoryError> {
    let mut ldap = connect(o).await?;
    if let Some(dn) = &o.bind_dn {
        let r = ldap
            .with_timeout(timeout(o))
            .simple_bind(dn, bind_password.unwrap_or(""))
            .await
            .map_err(|e| unreachable(o, e))?;
        if r.rc != 0 {
            return Err(DirectoryError::ServiceAccount {
                bind_dn: dn.clone(),
                rc: r.rc,
                text: r.text,
            });
        }
    }
    Ok(ldap)
}

/// A subtree search's entries (a size limit reached still answers what came).
async fn search(
    o: &DirectoryOptions,
    ldap: &mut Ldap,
    what: &'static str,
    base: &str,
    filter: &str,
    attrs: Vec<&str>,
) -> Result<Vec<SearchEntry>, DirectoryError> {
    let SearchResult(entries, result) = ldap
        .with_timeout(timeout(o))
        .search(base, Scope::Subtree, filter, attrs)
        .await
        .map_err(|e| unreachable(o, e))?;
    if result.rc != 0 && result.rc != SIZE_LIMIT_EXCEEDED {
        return Err(DirectoryError::Answer {
            what,
            rc: result.rc,
            text: result.text,
        });
    }
    Ok(entries.into_iter().map(SearchEntry::construct).collect())
}

/// `objectGUID` from wherever the entry put it (binary, or text when its bytes happened to
/// be valid UTF-8).
fn guid_of(entry: &SearchEntry) -> Option<String> {
    let find = |m: &HashMap<String, Vec<Vec<u8>>>| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
            .and_then(|(_, v)| v.first().cloned())
    };
    find(&entry.bin_attrs)
        .or_else(|| {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
                .and_then(|(_, v)| v.first().map(|s| s.as_bytes().to_vec()))
        })
        .and_then(|b| guid_text(&b))
}

/// A group's name: its name attribute, else the value of its DN's first part.
fn group_name(o: &DirectoryOptions, group: &SearchEntry) -> String {
    group
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&o.group_name_attribute))
        .and_then(|(_, v)| v.first().cloned())
        .unwrap_or_else(|| {
            group
                .dn
                .split(',')
                .next()
                .and_then(|rdn| rdn.split_once('='))
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| group.dn.clone())
        })
}

/// The user's groups: on Active Directory with nesting, one search with the in-chain rule;
/// elsewhere, the groups naming the user as a member, then (nested) the groups naming those,
/// level by level, each group once.
async fn groups_of(
    o: &DirectoryOptions,
    ldap: &mut Ldap,
    user_dn: &str,
) -> Result<Vec<String>, DirectoryError> {
    let name_attr = o.group_name_attribute.as_str();
    if o.kind == DirectoryKind::ActiveDirectory && o.nested_groups {
        let filter = format!(
            "(member:1.2.840.113556.1.4.1941:={})",
            escape_filter_value(user_dn)
        );
        let groups = search(
            o,
            ldap,
            "group search",
            &o.groups_base_dn,
            &filter,
            vec![name_attr],
        )
        .await?;
        return Ok(groups.iter().map(|g| group_name(o, g)).collect());
    }
    let mut names = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut frontier = vec![user_dn.to_string()];
    for _ in 0..MAX_GROUP_DEPTH {
        let mut next = Vec::new();
        for chunk in frontier.chunks(MAX_DNS_PER_SEARCH) {
            let members: String = chunk
                .iter()
                .map(|dn| {
                    let v = escape_filter_value(dn);
                    format!("(member={v})(uniqueMember={v})")
                })
                .collect();
            let filter = format!(
                "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))(|{members}))"
            );
            for g in search(
                o,
                ldap,
                "group search",
                &o.groups_base_dn,
                &filter,
                vec![name_attr],
            )
            .await?
            {
                if seen.insert(g.dn.to_ascii_lowercase()) {
                    names.push(group_name(o, &g));
                    next.push(g.dn);
                }
            }
        }
        if !o.nested_groups || next.is_empty() || names.len() >= MAX_GROUPS {
            break;
        }
        frontier = next;
    }
    names.truncate(MAX_GROUPS);
    Ok(names)
}

/// Checks `password` for `username`: finds the entry with the service account (a pooled
/// connection), binds as it on a connection of its own, then reads its groups.
pub async fn check_password(
    pool: &ConnectionPool,
    o: &DirectoryOptions,
    bind_password: Option<&str>,
    username: &str,
    password: &str,
) -> Result<Verdict, DirectoryError> {
    // A simple bind without a password is an anonymous bind, which many directories accept.
    if password.is_empty() || username.is_empty() {
        return Ok(Verdict::WrongPassword { id: None });
    }
    let filter = o.filter_for(username);
    let (mut service, reused) = pool.take(o, bind_password).await?;
    let attrs = user_attributes;
    let mut found = match search(o, &mut service, "user search", &o.base_dn, &filter, attrs()).await
    {
        Ok(found) => found,
        // A kept connection the directory closed meanwhile: once more on a new one.
        Err(DirectoryError::Unreachable { .. }) if reused => {
            service = pool.fresh(o, bind_password).await?;
            search(o, &mut service, "user search", &o.base_dn, &filter, attrs()).await?
        }
        Err(e) => return Err(e),
    };
    if found.len() != 1 {
        pool.give_back(o, bind_password, service).await;
        return Ok(Verdict::UnknownUser);
    }
    let Some(entry) = found.pop() else {
        return Ok(Verdict::UnknownUser);
    };
    let mut as_user = connect(o).await?;
    let bound = as_user
        .with_timeout(timeout(o))
        .simple_bind(&entry.dn, password)
        .await;
    close(as_user).await;
    let bound = match bound {
        Ok(r) => r,
        Err(LdapError::LdapResult { result }) => result,
        Err(e) => return Err(unreachable(o, e)),
    };
    match bound.rc {
        0 => {}
        INVALID_CREDENTIALS => {
            pool.give_back(o, bind_password, service).await;
            return Ok(
                match gatehouse_core::directory::ad_bind_refusal(&bound.text) {
                    Some(why) if o.kind == DirectoryKind::ActiveDirectory => Verdict::Refused(why),
                    _ => Verdict::WrongPassword {
                        id: profile_of(&entry.dn, &entry.attrs, guid_of(&entry), vec![])
                            .map(|p| p.id),
                    },
                },
            );
        }
        rc => {
            return Err(DirectoryError::Answer {
                what: "password check",
                rc,
                text: bound.text,
            });
        }
    }
    let groups = groups_of(o, &mut service, &entry.dn).await?;
    pool.give_back(o, bind_password, service).await;
    Ok(Verdict::Verified(DirectoryUser {
        guid: guid_of(&entry),
        dn: entry.dn,
        attrs: entry.attrs,
        groups,
    }))
}

/// The dashboard's "Test connection": connects, binds as the service account and reads the
/// base entry. Answers how many users the filter finds for `sample` when one is given.
pub async fn probe(
    o: &DirectoryOptions,
    bind_password: Option<&str>,
    sample: Option<&str>,
) -> Result<Option<usize>, DirectoryError> {
    let mut ldap = service_connection(o, bind_password).await?;
    let SearchResult(_, base) = ldap
        .with_timeout(timeout(o))
        .search(&o.base_dn, Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .map_err(|e| unreachable(o, e))?;
    if base.rc != 0 {
        return Err(DirectoryError::Answer {
            what: "read of the base DN",
            rc: base.rc,
            text: base.text,
        });
    }
    let found = match sample {
        Some(u) => Some(
            search(
                o,
                &mut ldap,
                "user search",
                &o.base_dn,
                &o.filter_for(u),
                vec!["1.1"],
            )
            .await?
            .len(),
        ),
        None => None,
    };
    close(ldap).await;
    Ok(found)
}
