//! What a dashboard user may see and do to users. A full administrator: everything, exactly
//! as the Management API's calls do it. A delegated administrator (Auth0's Delegated
//! Administration Extension roles): only the users the tenant's `delegated_admin.filter`
//! selects for them, only the actions their level allows, and creation limited to
//! `create_fields`, `create_defaults` and `memberships`
//! (`gatehouse_core::delegated_admin`).
//!
//! The dashboard's users pages reach users only through a [`UserScope`] and the `…_as`
//! calls here, so the limits hold whatever a page shows or a form posts: a list or search
//! is `(<search>) AND (<filter>)`; a view or write first finds the target with
//! `user_id:"<id>" AND (<filter>)`; a new user must meet the filter before it is stored.
//! Every refusal is a [`Refused`], which becomes a 403 (`NotAllowed`) with its reason.
//!
//! Two rules of DAE's usual access hook are built in: delegated administrators never change
//! an account that can use the dashboard itself (they could otherwise take over an
//! administrator, or raise their own access), and they never link identities or write
//! `app_metadata` (where roles and the values filters read live).

use crate::Gatehouse;
use crate::admin::{Admin, DaePermission, DashboardAccess, DelegatedAccess, dashboard_access};
use crate::error::{Result, ServiceError};
use gatehouse_core::delegated_admin::{
    DelegatedAdminSettings, FilterProblem, MEMBERSHIPS_KEY, MissingValue,
};
use gatehouse_core::log_event::LogEvent;
use gatehouse_core::payload::{Field as PatchField, Payload};
use gatehouse_core::search::{Field, Pattern, Query, TextField};
use gatehouse_core::user::{NewUser, User, UserPatch};
use gatehouse_store::{LogQuery, UserList, UserSearch};
use serde_json::{Map, Value, json};

/// The `errorCode` of a delegated administrator's refusal.
pub const REFUSED_CODE: &str = "delegated_admin_refused";

/// What is done to a user, named as DAE's access hook names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    Read,
    Create,
    ChangeProfile,
    ChangePassword,
    ResetPassword,
    Block,
    Unblock,
    Delete,
    SendVerificationEmail,
    /// Gatehouse's account linking: not a DAE action, so full administrators only.
    LinkIdentities,
}

impl UserAction {
    /// DAE's name for the action (`link:identities` is Gatehouse's).
    pub fn name(self) -> &'static str {
        match self {
            UserAction::Read => "read:user",
            UserAction::Create => "create:user",
            UserAction::ChangeProfile => "change:profile",
            UserAction::ChangePassword => "change:password",
            UserAction::ResetPassword => "reset:password",
            UserAction::Block => "block:user",
            UserAction::Unblock => "unblock:user",
            UserAction::Delete => "delete:user",
            UserAction::SendVerificationEmail => "send:verification-email",
            UserAction::LinkIdentities => "link:identities",
        }
    }

    /// The permission a delegated administrator needs; `None`: never delegated.
    fn permission(self) -> Option<DaePermission> {
        match self {
            UserAction::Read => Some(DaePermission::ReadUsers),
            UserAction::LinkIdentities => None,
            _ => Some(DaePermission::ManageUsers),
        }
    }

    /// The profile properties a change made for this action may touch.
    fn allowed_changes(self) -> &'static [&'static str] {
        match self {
            UserAction::Block | UserAction::Unblock => &["blocked"],
            UserAction::ChangePassword => &["password"],
            UserAction::ChangeProfile => &[
                "user_metadata",
                "email_verified",
                "picture",
                "name",
                "given_name",
                "family_name",
                "nickname",
            ],
            _ => &[],
        }
    }
}

/// Why a delegated administrator sees no users at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nobody {
    /// `delegated_admin.filter` is not set.
    NoFilter,
    /// The filter names a value of the administrator's profile that is missing.
    Missing(MissingValue),
    /// The filter, once filled in, is not a query that can run (too long, say).
    Unusable(String),
}

impl std::fmt::Display for Nobody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Nobody::NoFilter => f.write_str(
                "no filter is set for delegated administrators (the tenant setting delegated_admin.filter), so nobody is in your reach; a full administrator can set one",
            ),
            Nobody::Missing(m) => write!(
                f,
                "the filter for delegated administrators needs a value from your profile and {m}, so nobody is in your reach"
            ),
            Nobody::Unusable(why) => write!(
                f,
                "the filter for delegated administrators cannot be used ({why}), so nobody is in your reach"
            ),
        }
    }
}

/// A delegated administrator's refusal: a 403 with these words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("Not allowed: your role ({role}) does not include {action}.")]
    Permission {
        role: &'static str,
        action: &'static str,
    },
    #[error("Not allowed: delegated administrators cannot use {0}.")]
    Never(&'static str),
    #[error("Not allowed: this user is not among the users you administer.")]
    OutOfReach,
    #[error("Not allowed: {0}.")]
    Nobody(Nobody),
    #[error(
        "Not allowed: this account can use the dashboard itself, so delegated administrators cannot change it."
    )]
    DashboardAccount,
    #[error("Not allowed: {action} cannot change {property}.")]
    Change {
        action: &'static str,
        property: &'static str,
    },
    #[error(
        "Not allowed: delegated administrators cannot create users here (delegated_admin.create_fields is empty)."
    )]
    CreateDisabled,
    #[error("Not allowed: {0} cannot be set when you create a user.")]
    CreateField(String),
    #[error("Not allowed: {0} is not a membership you can give.")]
    Membership(String),
    #[error("Not allowed: new users are given a value from your profile, and {0}.")]
    MissingDefault(MissingValue),
    #[error("Not allowed: the new user would not be among the users you administer.")]
    OutsideFilter,
}

impl From<Refused> for ServiceError {
    fn from(r: Refused) -> Self {
        ServiceError::NotAllowed {
            code: REFUSED_CODE,
            message: r.to_string(),
        }
    }
}

/// The users a delegated administrator reaches.
#[derive(Debug, Clone)]
pub enum Reach {
    /// Those meeting this query (the filter with the administrator's values quoted in).
    Matching(Query),
    Nobody(Nobody),
}

/// A delegated administrator's limits, read at the request.
#[derive(Debug, Clone)]
pub struct Delegation {
    pub access: DelegatedAccess,
    pub reach: Reach,
    settings: DelegatedAdminSettings,
    admin: User,
}

/// What one dashboard request may see and do to users.
#[derive(Debug, Clone)]
pub enum UserScope {
    Full,
    Delegated(Box<Delegation>),
}

impl UserScope {
    pub fn is_full(&self) -> bool {
        matches!(self, UserScope::Full)
    }

    pub fn has(&self, p: DaePermission) -> bool {
        match self {
            UserScope::Full => true,
            UserScope::Delegated(d) => d.access.has(p),
        }
    }

    /// Why a delegated administrator sees nobody, if so.
    pub fn nobody(&self) -> Option<&Nobody> {
        match self {
            UserScope::Delegated(d) => match &d.reach {
                Reach::Nobody(n) => Some(n),
                Reach::Matching(_) => None,
            },
            UserScope::Full => None,
        }
    }

    /// DAE's role name of a delegated administrator's level.
    pub fn role(&self) -> Option<&'static str> {
        match self {
            UserScope::Delegated(d) => Some(d.access.level.role()),
            UserScope::Full => None,
        }
    }

    /// Whether `action` on `target` (already in reach) would be allowed: what the pages
    /// offer. The `…_as` calls decide for themselves.
    pub fn may(&self, action: UserAction, target: &User) -> bool {
        match self {
            UserScope::Full => true,
            UserScope::Delegated(d) => {
                permitted(d, action).is_ok()
                    && (action == UserAction::Read || dashboard_access(target).is_none())
            }
        }
    }

    /// Whether the create form is offered, or why not.
    pub fn may_create(&self) -> std::result::Result<(), Refused> {
        match self {
            UserScope::Full => Ok(()),
            UserScope::Delegated(d) => {
                permitted(d, UserAction::Create)?;
                if d.settings.create_fields.is_empty() {
                    return Err(Refused::CreateDisabled);
                }
                match &d.reach {
                    Reach::Matching(_) => Ok(()),
                    Reach::Nobody(n) => Err(Refused::Nobody(n.clone())),
                }
            }
        }
    }

    /// What a delegated administrator's create form has: its fields and the memberships
    /// it offers (`None` for a full administrator, whose form is the usual one).
    pub fn create_form(&self) -> Option<(Vec<String>, Vec<String>)> {
        match self {
            UserScope::Full => None,
            UserScope::Delegated(d) => Some((
                d.settings.create_fields.clone(),
                d.settings.memberships_for(&d.admin),
            )),
        }
    }
}

fn permitted(d: &Delegation, action: UserAction) -> std::result::Result<(), Refused> {
    match action.permission() {
        None => Err(Refused::Never(action.name())),
        Some(p) if d.access.has(p) => Ok(()),
        Some(p) => Err(Refused::Permission {
            role: d.access.level.role(),
            action: p.name(),
        }),
    }
}

/// The properties a patch sets or clears.
fn touched(p: &UserPatch) -> Vec<&'static str> {
    let mut out = vec![];
    let mut put = |set: bool, name: &'static str| {
        if set {
            out.push(name);
        }
    };
    let field = |f: &PatchField<String>| !f.is_absent();
    put(p.email.is_some(), "email");
    put(p.email_verified.is_some(), "email_verified");
    put(p.verify_email.is_some(), "verify_email");
    put(field(&p.username), "username");
    put(field(&p.phone_number), "phone_number");
    put(p.phone_verified.is_some(), "phone_verified");
    put(field(&p.given_name), "given_name");
    put(field(&p.family_name), "family_name");
    put(field(&p.name), "name");
    put(field(&p.nickname), "nickname");
    put(field(&p.picture), "picture");
    put(p.blocked.is_some(), "blocked");
    put(p.password.is_some(), "password");
    put(p.connection.is_some(), "connection");
    put(p.user_metadata.is_some(), "user_metadata");
    put(p.app_metadata.is_some(), "app_metadata");
    out
}

/// `user_id:"<id>"` as a query.
fn user_id_is(id: &str) -> Query {
    Query::Match {
        field: Some(Field::Text(TextField::UserId)),
        pattern: Pattern::Exact(id.to_string()),
        value: None,
    }
}

/// `b` written over `a`: objects merged key by key (recursively), anything else replaced.
fn merge(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Object(into)), Value::Object(from)) => merge(into, from),
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
}

/// A create form as posted: `email`, `password`, `user_metadata.plan`, … with their values
/// (checkboxes as booleans), and the memberships chosen.
#[derive(Debug, Clone, Default)]
pub struct CreateForm {
    pub fields: Vec<(String, Value)>,
    pub memberships: Vec<String>,
}

impl CreateForm {
    /// The user body: dotted names become nested objects.
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        for (k, v) in &self.fields {
            match k.split_once('.') {
                Some((outer, inner)) => {
                    let mut nested = Map::new();
                    nested.insert(inner.to_string(), v.clone());
                    merge(
                        &mut body,
                        Map::from_iter([(outer.to_string(), Value::Object(nested))]),
                    );
                }
                None => {
                    body.insert(k.clone(), v.clone());
                }
            }
        }
        body
    }
}

impl Gatehouse {
    /// The scope of a signed-in administrator: a delegated one's filter is filled in with
    /// their own values now, so a change to the setting or their profile applies at once.
    pub async fn user_scope(&self, admin: &Admin) -> Result<UserScope> {
        let access = match &admin.access {
            DashboardAccess::Full => return Ok(UserScope::Full),
            DashboardAccess::Delegated(d) => d.clone(),
        };
        let settings = self
            .tenant_settings()
            .await?
            .delegated_admin
            .unwrap_or_default();
        let reach = match settings.filter_for(&admin.user) {
            Ok(None) => Reach::Nobody(Nobody::NoFilter),
            Err(FilterProblem::Missing(m)) => Reach::Nobody(Nobody::Missing(m)),
            Err(FilterProblem::Invalid(why)) => Reach::Nobody(Nobody::Unusable(why)),
            Ok(Some(text)) => match gatehouse_core::search::parse(&text) {
                Ok(q) => Reach::Matching(q),
                Err(e) => Reach::Nobody(Nobody::Unusable(e.message)),
            },
        };
        Ok(UserScope::Delegated(Box::new(Delegation {
            access,
            reach,
            settings,
            admin: admin.user.clone(),
        })))
    }

    /// A list or search, limited to the scope's users (none when a delegated
    /// administrator's filter cannot be used).
    pub async fn search_users_as(&self, scope: &UserScope, mut q: UserSearch) -> Result<UserList> {
        let UserScope::Delegated(d) = scope else {
            return self.search_users(None, q).await;
        };
        permitted(d, UserAction::Read)?;
        let filter = match &d.reach {
            Reach::Matching(f) => f.clone(),
            Reach::Nobody(_) => {
                return Ok(UserList {
                    users: vec![],
                    total: q.with_total.then_some(0),
                    ..Default::default()
                });
            }
        };
        q.filter = Some(match q.filter.take() {
            Some(search) => Query::And(vec![search, filter]),
            None => filter,
        });
        self.search_users(None, q).await
    }

    /// The user, when `action` on them is allowed: the permission first (so a refusal says
    /// nothing about the user), then the filter, then (for changes) that the account cannot
    /// use the dashboard. A user that does not exist is refused like one out of reach, so
    /// guessing ids tells a delegated administrator nothing.
    pub async fn authorize_user_action(
        &self,
        scope: &UserScope,
        id: &str,
        action: UserAction,
    ) -> Result<User> {
        let UserScope::Delegated(d) = scope else {
            return self.get_user(id).await;
        };
        permitted(d, action)?;
        let filter = match &d.reach {
            Reach::Matching(f) => f.clone(),
            Reach::Nobody(n) => return Err(Refused::Nobody(n.clone()).into()),
        };
        let found = self
            .search_users(
                None,
                UserSearch {
                    filter: Some(Query::And(vec![user_id_is(id), filter])),
                    limit: 1,
                    ..Default::default()
                },
            )
            .await?;
        let user = found
            .users
            .into_iter()
            .find(|u| u.user_id == id)
            .ok_or(Refused::OutOfReach)?;
        if action != UserAction::Read && dashboard_access(&user).is_some() {
            return Err(Refused::DashboardAccount.into());
        }
        Ok(user)
    }

    /// A user to show.
    pub async fn user_as(&self, scope: &UserScope, id: &str) -> Result<User> {
        self.authorize_user_action(scope, id, UserAction::Read)
            .await
    }

    /// A change to a user made for `action`; a delegated administrator's change may touch
    /// only what that action changes (never `app_metadata`).
    pub async fn update_user_as(
        &self,
        scope: &UserScope,
        id: &str,
        action: UserAction,
        patch: UserPatch,
    ) -> Result<User> {
        if !scope.is_full() {
            self.authorize_user_action(scope, id, action).await?;
            let allowed = action.allowed_changes();
            if let Some(property) = touched(&patch).into_iter().find(|p| !allowed.contains(p)) {
                return Err(Refused::Change {
                    action: action.name(),
                    property,
                }
                .into());
            }
            match (action, patch.blocked) {
                (UserAction::Block, Some(true)) | (UserAction::Unblock, Some(false)) => {}
                (UserAction::Block | UserAction::Unblock, _) => {
                    return Err(Refused::Change {
                        action: action.name(),
                        property: "blocked",
                    }
                    .into());
                }
                _ => {}
            }
        }
        self.update_user(id, patch).await
    }

    pub async fn delete_user_as(&self, scope: &UserScope, id: &str) -> Result<()> {
        if !scope.is_full() {
            self.authorize_user_action(scope, id, UserAction::Delete)
                .await?;
        }
        self.delete_user(id).await
    }

    /// Lifts brute-force blocks (DAE's `unblock:user` does both).
    pub async fn lift_blocks_as(&self, scope: &UserScope, id: &str) -> Result<()> {
        if !scope.is_full() {
            self.authorize_user_action(scope, id, UserAction::Unblock)
                .await?;
        }
        self.unblock_user(id).await
    }

    /// Queues a verification email, as the dashboard's button does.
    pub async fn send_verification_as(&self, scope: &UserScope, id: &str) -> Result<()> {
        if !scope.is_full() {
            self.authorize_user_action(scope, id, UserAction::SendVerificationEmail)
                .await?;
        }
        let params = Payload::from_value(json!({ "user_id": id }))
            .and_then(crate::jobs::VerificationEmailParams::from_payload)?;
        self.create_verification_email_job(params).await.map(|_| ())
    }

    /// Sends the user a password-reset email on behalf of the dashboard.
    pub async fn send_reset_as(&self, scope: &UserScope, id: &str) -> Result<()> {
        let user = self
            .authorize_user_action(scope, id, UserAction::ResetPassword)
            .await?;
        let email = user.email.clone().unwrap_or_default();
        self.request_password_reset(
            Some(crate::admin::DASHBOARD_CLIENT_ID),
            &email,
            &user.connection,
            &crate::browser::Browser::default(),
        )
        .await
    }

    pub async fn link_identity_as(
        &self,
        scope: &UserScope,
        id: &str,
        req: crate::identities::LinkRequest,
    ) -> Result<User> {
        if !scope.is_full() {
            self.authorize_user_action(scope, id, UserAction::LinkIdentities)
                .await?;
        }
        self.link_identity(id, req, None).await
    }

    pub async fn unlink_identity_as(
        &self,
        scope: &UserScope,
        id: &str,
        provider: &str,
        user_id: &str,
    ) -> Result<User> {
        if !scope.is_full() {
            self.authorize_user_action(scope, id, UserAction::LinkIdentities)
                .await?;
        }
        self.unlink_identity(id, provider, user_id).await
    }

    /// Creates a user from the dashboard's form. A delegated administrator's form may set
    /// only `create_fields`; `create_defaults` are written over it and the chosen
    /// memberships go to `app_metadata.memberships`; the user must then meet the filter,
    /// which is checked before anything is stored.
    pub async fn create_user_as(&self, scope: &UserScope, form: CreateForm) -> Result<User> {
        let UserScope::Delegated(d) = scope else {
            let req =
                Payload::from_value(Value::Object(form.body())).and_then(NewUser::from_payload)?;
            return self.create_user(req).await;
        };
        scope.may_create()?;
        let Reach::Matching(filter) = &d.reach else {
            return Err(Refused::OutsideFilter.into());
        };
        // Empty inputs and unticked boxes are not set; anything else must be allowed.
        let mut form = form;
        form.fields.retain(|(_, v)| {
            !matches!(v, Value::Null | Value::Bool(false)) && v.as_str() != Some("")
        });
        if let Some((k, _)) = form
            .fields
            .iter()
            .find(|(k, _)| !d.settings.may_create_with(k))
        {
            return Err(Refused::CreateField(k.clone()).into());
        }
        let offered = d.settings.memberships_for(&d.admin);
        if let Some(m) = form.memberships.iter().find(|m| !offered.contains(m)) {
            return Err(Refused::Membership(m.clone()).into());
        }
        let mut body = form.body();
        let defaults = d
            .settings
            .defaults_for(&d.admin)
            .map_err(Refused::MissingDefault)?;
        merge(&mut body, defaults);
        if !form.memberships.is_empty() {
            let mut memberships = Map::new();
            memberships.insert(MEMBERSHIPS_KEY.into(), json!(form.memberships));
            merge(
                &mut body,
                Map::from_iter([("app_metadata".to_string(), Value::Object(memberships))]),
            );
        }
        let req = Payload::from_value(Value::Object(body)).and_then(NewUser::from_payload)?;
        self.create_user_checked(req, |user| {
            if gatehouse_store::search::user_matches(filter, user) {
                Ok(())
            } else {
                Err(Refused::OutsideFilter.into())
            }
        })
        .await
    }

    /// Tenant log events; a delegated administrator needs `read:logs` and never sees the
    /// Management API's own operations (`sapi`, `fapi`), as DAE's logs page.
    pub async fn logs_as(
        &self,
        scope: &UserScope,
        mut q: LogQuery,
    ) -> Result<(Vec<LogEvent>, Option<i64>)> {
        if let UserScope::Delegated(d) = scope {
            if !d.access.has(DaePermission::ReadLogs) {
                return Err(Refused::Permission {
                    role: d.access.level.role(),
                    action: DaePermission::ReadLogs.name(),
                }
                .into());
            }
            q.filter.exclude_api_operations = true;
        }
        self.list_logs(&q).await
    }

    /// Refuses a delegated administrator without `permission`.
    pub fn require_as(&self, scope: &UserScope, permission: DaePermission) -> Result<()> {
        match scope {
            UserScope::Delegated(d) if !d.access.has(permission) => Err(Refused::Permission {
                role: d.access.level.role(),
                action: permission.name(),
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// The `delegated_admin` setting, for those who may change it (`manage:config`).
    pub async fn delegated_settings_as(
        &self,
        scope: &UserScope,
    ) -> Result<Option<DelegatedAdminSettings>> {
        self.require_as(scope, DaePermission::ManageConfig)?;
        Ok(self.tenant_settings().await?.delegated_admin)
    }

    /// Replaces the `delegated_admin` setting (`null` removes it), checked as the
    /// Management API checks it.
    pub async fn update_delegated_settings_as(
        &self,
        scope: &UserScope,
        value: Value,
    ) -> Result<Option<DelegatedAdminSettings>> {
        self.require_as(scope, DaePermission::ManageConfig)?;
        let body = Payload::from_value(json!({ "delegated_admin": value }))?;
        Ok(self.update_tenant_settings(body).await?.delegated_admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_nested_body_and_defaults_win() {
        let form = CreateForm {
            fields: vec![
                ("email".into(), json!("a@example.com")),
                ("user_metadata.plan".into(), json!("pro")),
                ("user_metadata.seats".into(), json!("3")),
            ],
            memberships: vec![],
        };
        let mut body = form.body();
        assert_eq!(
            Value::Object(body.clone()),
            json!({"email": "a@example.com", "user_metadata": {"plan": "pro", "seats": "3"}})
        );
        merge(
            &mut body,
            json!({"user_metadata": {"plan": "basic"}, "app_metadata": {"department": "Sales"}})
                .as_object()
                .cloned()
                .unwrap(),
        );
        assert_eq!(
            body["user_metadata"],
            json!({"plan": "basic", "seats": "3"})
        );
        assert_eq!(body["app_metadata"], json!({"department": "Sales"}));
    }

    #[test]
    fn a_patch_names_what_it_touches() {
        let p = UserPatch::from_payload(
            Payload::from_value(json!({"blocked": true, "app_metadata": {"roles": ["admin"]}}))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(touched(&p), vec!["blocked", "app_metadata"]);
        assert!(
            !UserAction::ChangeProfile
                .allowed_changes()
                .contains(&"app_metadata")
        );
    }
}
