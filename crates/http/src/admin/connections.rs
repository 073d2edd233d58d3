//! Dashboard connections, every kind in one place: database connections (password policy,
//! sign-ups, and a custom database's scripts and configuration: `scripts`), AD/LDAP
//! directories (`directory`), SAML identity providers (`saml`) and upstream login providers
//! (the social presets and generic OpenID Connect): the list, creating, editing. A
//! provider's secret is written, never read back: its field starts empty on every page, and
//! saved empty it keeps the stored secret.

use super::directory::{self, DirectoryFields};
use super::format::{self, seg};
use super::frame::Nav;
use super::saml::{self, SamlFields};
use super::scripts::{self, CardState, Trial};
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use crate::templates::{
    Markup, check, csrf_input, error_box, hidden, html, notice, options, provider_button, table,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::connection::{ConnectionSettings, DATABASE_STRATEGY, EMAIL_STRATEGY};
use gatehouse_core::directory::DIRECTORY_STRATEGY;
use gatehouse_core::payload::Payload;
use gatehouse_core::saml::SAML_STRATEGY;
use gatehouse_core::upstream::{OAUTH2_STRATEGY, OIDC_STRATEGY, Preset, presets};
use gatehouse_service::admin::DASHBOARD_CLIENT_ID;
use gatehouse_service::connections::Connection;
use gatehouse_service::directory::DirectoryProbe;
use gatehouse_service::saml::SamlProbe;
use gatehouse_service::{Gatehouse, ServiceError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/connections",
            get(connections).post(create_connection),
        )
        .route("/admin/connections/new", get(new_provider))
        .route(
            "/admin/connections/{id}",
            get(connection).post(update_connection),
        )
        .route("/admin/connections/{id}/try", post(try_script))
        .route(
            "/admin/connections/{id}/test-directory",
            post(test_directory),
        )
        .route("/admin/connections/{id}/test-saml", post(test_saml))
}

/// Auth0's rule for connection names, for the browser to check before the service does.
const NAME_PATTERN: &str = "[A-Za-z0-9](?:[A-Za-z0-9\\-]*[A-Za-z0-9])?";

/// The kinds of upstream connection the dashboard edits: a social preset, generic OpenID
/// Connect, or generic OAuth 2.0 (made through the Management API, edited here for what
/// every kind shares).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ProviderKind {
    Preset(Preset),
    OpenIdConnect,
    OAuth2,
}

impl ProviderKind {
    /// What the dashboard offers to create, in the order it lists them.
    fn offered() -> impl Iterator<Item = Self> {
        presets::ALL
            .into_iter()
            .map(Self::Preset)
            .chain([Self::OpenIdConnect])
    }

    fn of(strategy: &str) -> Option<Self> {
        match strategy {
            OIDC_STRATEGY => Some(Self::OpenIdConnect),
            OAUTH2_STRATEGY => Some(Self::OAuth2),
            other => presets::by_strategy(other).map(Self::Preset),
        }
    }

    fn strategy(self) -> &'static str {
        match self {
            Self::Preset(p) => p.strategy,
            Self::OpenIdConnect => OIDC_STRATEGY,
            Self::OAuth2 => OAUTH2_STRATEGY,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Preset(p) => p.label,
            Self::OpenIdConnect => "OpenID Connect",
            Self::OAuth2 => "OAuth 2.0",
        }
    }

    fn is_apple(self) -> bool {
        self == Self::Preset(presets::APPLE)
    }

    /// The secret option the form writes: Apple's signing key, everyone else's client secret.
    fn secret_option(self) -> &'static str {
        if self.is_apple() {
            "app_secret"
        } else {
            "client_secret"
        }
    }
}

/// What a strategy is called on the pages: a preset's provider, or the kind of connection.
fn strategy_label(strategy: &str) -> &str {
    match strategy {
        DATABASE_STRATEGY => "Database",
        EMAIL_STRATEGY => "Passwordless email",
        DIRECTORY_STRATEGY => "AD/LDAP directory",
        SAML_STRATEGY => "SAML identity provider",
        other => match ProviderKind::of(other) {
            Some(kind) => kind.label(),
            None => other,
        },
    }
}

const CHANNELS: &[(&str, &str)] = &[
    (
        "back_channel",
        "Back channel: the code is exchanged with the client secret",
    ),
    (
        "front_channel",
        "Front channel: the browser posts the ID token back, no client secret",
    ),
];

const ROOT_SYNC: &[(&str, &str)] = &[
    (
        "on_each_login",
        "On each login: the provider's name, nickname and picture replace the user's",
    ),
    (
        "on_first_login",
        "On the first login: copied once, later edits to the user are kept",
    ),
    (
        "never_on_login",
        "Never: nothing is copied and logins create no users (existing users only)",
    ),
];

/// An application a connection can be enabled for.
struct Application {
    id: String,
    name: String,
}

/// The tenant's applications by name. The dashboard is not among them: it admits
/// administrators through every connection, whatever `enabled_clients` says.
async fn applications(g: &Gatehouse) -> Result<Vec<Application>, ServiceError> {
    let (list, _) = g.list_clients(0, 100, false).await?;
    let mut apps: Vec<Application> = list
        .into_iter()
        .filter(|c| c.client_id != DASHBOARD_CLIENT_ID)
        .map(|c| Application {
            id: c.client_id,
            name: c.settings.name,
        })
        .collect();
    apps.sort_by(|a, b| (a.name.to_lowercase(), &a.id).cmp(&(b.name.to_lowercase(), &b.id)));
    Ok(apps)
}

/// What a provider's form shows and posts, secrets aside: they are written, never shown, so
/// they have no place here.
#[derive(Default)]
struct ProviderFields {
    name: String,
    display_name: String,
    client_id: String,
    team_id: String,
    key_id: String,
    scope: String,
    channel: String,
    discovery_url: String,
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    root_sync: String,
    /// One attribute name per line.
    deny_list: String,
    enabled_clients: Vec<String>,
    show_as_button: bool,
}

/// The OpenID Connect endpoints entered without discovery: option name, label.
const MANUAL_ENDPOINTS: [(&str, &str); 5] = [
    ("issuer", "Issuer"),
    ("authorization_endpoint", "Authorization endpoint"),
    ("token_endpoint", "Token endpoint"),
    ("userinfo_endpoint", "User-info endpoint (optional)"),
    ("jwks_uri", "JWKS URI (the provider's signing keys)"),
];

impl ProviderFields {
    /// A new connection's form: the preset's usual name, OpenID Connect's usual scopes, the
    /// button on.
    fn new_connection(kind: ProviderKind) -> Self {
        Self {
            name: match kind {
                ProviderKind::Preset(p) => p.strategy.into(),
                _ => String::new(),
            },
            scope: match kind {
                ProviderKind::OpenIdConnect => "openid profile email".into(),
                _ => String::new(),
            },
            channel: "back_channel".into(),
            root_sync: "on_each_login".into(),
            show_as_button: true,
            ..Default::default()
        }
    }

    /// What a stored connection's form shows.
    fn stored(c: &ConnectionSettings) -> Self {
        let o = &c.options;
        let text = |key: &str| o.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        let words = |key: &str, separator: &str| match o.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(separator),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let channel = match text("type") {
            t if !t.is_empty() => t,
            // Unset, the channel follows whether there is a secret to use.
            _ if c.sealed_secrets.contains_key("client_secret") => "back_channel".into(),
            _ => "front_channel".into(),
        };
        let root_sync = match text("set_user_root_attributes") {
            r if r.is_empty() => "on_each_login".into(),
            r => r,
        };
        Self {
            name: c.name.clone(),
            display_name: c.display_name.clone().unwrap_or_default(),
            client_id: text("client_id"),
            team_id: text("team_id"),
            key_id: text("kid"),
            scope: words("scope", " "),
            channel,
            discovery_url: text("discovery_url"),
            issuer: text("issuer"),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            userinfo_endpoint: text("userinfo_endpoint"),
            jwks_uri: text("jwks_uri"),
            root_sync,
            deny_list: words("non_persistent_attrs", "\n"),
            enabled_clients: c.enabled_clients.clone(),
            show_as_button: c.show_as_button != Some(false),
        }
    }

    /// What was posted. Applications are those ticked among the ones the form `listed`;
    /// ones it did not list keep their place from `enabled_before`.
    fn posted(
        f: &HashMap<String, String>,
        listed: &[Application],
        enabled_before: &[String],
    ) -> Self {
        let text = |key: &str| param(f, key).trim().to_string();
        let mut enabled_clients: Vec<String> = enabled_before
            .iter()
            .filter(|id| !listed.iter().any(|a| &a.id == *id))
            .cloned()
            .collect();
        enabled_clients.extend(
            listed
                .iter()
                .filter(|a| param(f, &format!("enabled_{}", a.id)) == "on")
                .map(|a| a.id.clone()),
        );
        Self {
            name: text("name"),
            display_name: text("display_name"),
            client_id: text("client_id"),
            team_id: text("team_id"),
            key_id: text("kid"),
            scope: text("scope"),
            channel: text("type"),
            discovery_url: text("discovery_url"),
            issuer: text("issuer"),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            userinfo_endpoint: text("userinfo_endpoint"),
            jwks_uri: text("jwks_uri"),
            root_sync: text("set_user_root_attributes"),
            deny_list: param(f, "non_persistent_attrs").to_string(),
            enabled_clients,
            show_as_button: param(f, "show_as_button") == "on",
        }
    }

    /// An OpenID Connect endpoint's field, by option name.
    fn endpoint(&self, option: &str) -> &str {
        match option {
            "issuer" => &self.issuer,
            "authorization_endpoint" => &self.authorization_endpoint,
            "token_endpoint" => &self.token_endpoint,
            "userinfo_endpoint" => &self.userinfo_endpoint,
            "jwks_uri" => &self.jwks_uri,
            _ => "",
        }
    }
}

/// Sets a text option, or removes it when its field was left empty.
fn put_text(options: &mut Map<String, Value>, key: &str, value: &str) {
    if value.is_empty() {
        options.remove(key);
    } else {
        options.insert(key.into(), json!(value));
    }
}

/// The connection's options: the form's fields written over `options` (the stored ones:
/// `options` is replaced as a whole, so what the form does not show is kept). The secret is
/// written only when one was entered; left out, the service keeps the sealed one.
fn provider_options(
    kind: ProviderKind,
    fields: &ProviderFields,
    secret: &str,
    mut options: Map<String, Value>,
) -> Map<String, Value> {
    put_text(&mut options, "client_id", &fields.client_id);
    if kind.is_apple() {
        put_text(&mut options, "team_id", &fields.team_id);
        put_text(&mut options, "kid", &fields.key_id);
    }
    if kind == ProviderKind::OpenIdConnect {
        // Always written: unset, the channel would follow whether this save carried a secret.
        put_text(&mut options, "type", &fields.channel);
        put_text(&mut options, "discovery_url", &fields.discovery_url);
        for (option, _) in MANUAL_ENDPOINTS {
            put_text(&mut options, option, fields.endpoint(option));
        }
    }
    let scopes: Vec<&str> = fields.scope.split_whitespace().collect();
    match kind {
        // A preset always asks for its own scopes; `scope` lists the extra ones.
        ProviderKind::Preset(_) if scopes.is_empty() => {
            options.remove("scope");
        }
        ProviderKind::Preset(_) => {
            options.insert("scope".into(), json!(scopes));
        }
        _ => put_text(&mut options, "scope", &scopes.join(" ")),
    }
    put_text(&mut options, "set_user_root_attributes", &fields.root_sync);
    let denied: Vec<&str> = fields
        .deny_list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if denied.is_empty() {
        options.remove("non_persistent_attrs");
    } else {
        options.insert("non_persistent_attrs".into(), json!(denied));
    }
    let secret = secret.trim();
    if !secret.is_empty() {
        options.insert(kind.secret_option().into(), json!(secret));
    }
    options
}

async fn connections(State(s): State<AppState>, d: Dashboard) -> Response {
    connections_page(&s.gatehouse, &d, StatusCode::OK, None).await
}

async fn connections_page(
    g: &Gatehouse,
    d: &Dashboard,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    list_page(g, d, status, error, Refused::Nothing).await
}

/// A connection card whose creation was refused: its fields as typed, and why.
enum Refused {
    Nothing,
    Directory(DirectoryFields, String),
    Saml(SamlFields, String),
}

/// Links to the form of each kind of provider the dashboard sets up.
fn provider_picker() -> Markup {
    html! {
        nav.actions #providers aria-label="Login providers" {
            @for kind in ProviderKind::offered() {
                a.button.secondary href={ "/admin/connections/new?" (format::query(&[("strategy", kind.strategy())])) } {
                    (kind.label())
                }
            }
        }
    }
}

/// The connections and the cards that add one: why the database card's creation was
/// refused (`error`), or the directory card's (its fields as typed, and why).
async fn list_page(
    g: &Gatehouse,
    d: &Dashboard,
    status: StatusCode,
    error: Option<&str>,
    refused: Refused,
) -> Response {
    let (list, total) = match g.list_connections(None, None, 0, 100).await {
        Ok(l) => l,
        Err(e) => return d.refused(e, "Connections", Nav::Connections),
    };
    let rows = html! {
        @for c in &list {
            tr {
                td { a href={ "/admin/connections/" (seg(&c.id)) } { (c.settings.name) } }
                td { (strategy_label(&c.settings.strategy)) " " code.muted { (c.settings.strategy) } }
                td { code { (c.id) } }
            }
        }
    };
    let body = html! {
        h1 { "Connections" }
        section.card {
            p.muted { (format::count(total, "connection", "connections")) }
            (table(Some("connections"), &["Name", "Type", "ID"], rows))
        }
        section.card {
            h2 { "Add a login provider" }
            p.muted { "Users log in at the provider; the login page shows a button for it." }
            (provider_picker())
        }
        section.card {
            h2 { "Create a database connection" }
            (error_box(error))
            form method="post" action="/admin/connections" {
                (csrf_input(&d.csrf))
                (hidden("strategy", DATABASE_STRATEGY))
                div.row {
                    div {
                        label for="name" { "Name" }
                        input #name name="name" type="text" required pattern=(NAME_PATTERN);
                    }
                    button type="submit" { "Create" }
                }
            }
        }
        @match refused {
            Refused::Directory(typed, why) => {
                (directory::create_card(&d.csrf, Some(typed), Some(&why)))
                (saml::create_card(&d.csrf, None, None))
            }
            Refused::Saml(typed, why) => {
                (directory::create_card(&d.csrf, None, None))
                (saml::create_card(&d.csrf, Some(typed), Some(&why)))
            }
            Refused::Nothing => {
                (directory::create_card(&d.csrf, None, None))
                (saml::create_card(&d.csrf, None, None))
            }
        }
    };
    d.page(status, "Connections", Nav::Connections, body)
}

async fn create_connection(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    match param(&f, "strategy") {
        "" | DATABASE_STRATEGY => create_database_connection(g, &d, &f).await,
        DIRECTORY_STRATEGY => {
            let refused = |why| Refused::Directory(DirectoryFields::posted(&f), why);
            create_from_card(g, &d, directory::create_settings(&f), refused).await
        }
        SAML_STRATEGY => {
            let refused = |why| Refused::Saml(SamlFields::posted(&f), why);
            create_from_card(g, &d, saml::create_settings(&f), refused).await
        }
        strategy => create_provider(g, &d, strategy, &f).await,
    }
}

async fn create_database_connection(
    g: &Gatehouse,
    d: &Dashboard,
    f: &HashMap<String, String>,
) -> Response {
    let body = json!({"name": param(f, "name"), "strategy": DATABASE_STRATEGY});
    let created = match Payload::from_value(body).and_then(ConnectionSettings::from_create) {
        Ok(settings) => g.create_connection(settings).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(c) => see_other(&format!("/admin/connections/{}?done=created", seg(&c.id))),
        Err(e) => {
            let (status, message) = refusal(e);
            connections_page(g, d, status, Some(&message)).await
        }
    }
}

/// Creates a directory or SAML connection from its card: to its page, or the list again
/// with the card's fields as typed (`refused`) and why.
async fn create_from_card(
    g: &Gatehouse,
    d: &Dashboard,
    settings: Result<ConnectionSettings, ServiceError>,
    refused: impl FnOnce(String) -> Refused,
) -> Response {
    let created = match settings {
        Ok(settings) => g.create_connection(settings).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(c) => see_other(&format!("/admin/connections/{}?done=created", seg(&c.id))),
        Err(e) => {
            let (status, why) = super::refusal_in_words(e);
            list_page(g, d, status, None, refused(why)).await
        }
    }
}

/// The page that lists the providers to choose from, with why a choice was refused.
fn picker_page(d: &Dashboard, status: StatusCode, error: Option<&str>) -> Response {
    let body = html! {
        p { a href="/admin/connections" { "← Connections" } }
        h1 { "Add a login provider" }
        section.card {
            (error_box(error))
            p.muted { "Pick the provider users will log in at." }
            (provider_picker())
        }
    };
    d.page(status, "Add a login provider", Nav::Connections, body)
}

async fn new_provider(
    State(s): State<AppState>,
    d: Dashboard,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let g = &s.gatehouse;
    let strategy = param(&q, "strategy");
    let Some(kind) = ProviderKind::offered().find(|k| k.strategy() == strategy) else {
        return picker_page(&d, StatusCode::OK, None);
    };
    let apps = match applications(g).await {
        Ok(a) => a,
        Err(e) => return d.refused(e, "Add a login provider", Nav::Connections),
    };
    let fields = ProviderFields::new_connection(kind);
    new_provider_page(g, &d, kind, StatusCode::OK, &fields, &apps, None)
}

fn new_provider_page(
    g: &Gatehouse,
    d: &Dashboard,
    kind: ProviderKind,
    status: StatusCode,
    fields: &ProviderFields,
    apps: &[Application],
    error: Option<&str>,
) -> Response {
    let body = html! {
        p { a href="/admin/connections/new" { "← Login providers" } }
        h1 { "Add " (kind.label()) }
        (error_box(error))
        section.card { (callback_url(g)) }
        section.card {
            h2 { "Settings" }
            (provider_form(kind, fields, apps, &d.csrf, FormFor::New))
        }
    };
    d.page(status, "Add a login provider", Nav::Connections, body)
}

async fn create_provider(
    g: &Gatehouse,
    d: &Dashboard,
    strategy: &str,
    f: &HashMap<String, String>,
) -> Response {
    let Some(kind) = ProviderKind::offered().find(|k| k.strategy() == strategy) else {
        let why = format!("{strategy} is not a provider the dashboard sets up.");
        return picker_page(d, StatusCode::BAD_REQUEST, Some(&why));
    };
    let apps = match applications(g).await {
        Ok(a) => a,
        Err(e) => return d.refused(e, "Add a login provider", Nav::Connections),
    };
    let fields = ProviderFields::posted(f, &apps, &[]);
    let options = provider_options(kind, &fields, param(f, kind.secret_option()), Map::new());
    let mut body = Map::new();
    body.insert("name".into(), json!(fields.name));
    body.insert("strategy".into(), json!(strategy));
    if !fields.display_name.is_empty() {
        body.insert("display_name".into(), json!(fields.display_name));
    }
    body.insert("options".into(), Value::Object(options));
    body.insert("enabled_clients".into(), json!(fields.enabled_clients));
    body.insert("show_as_button".into(), json!(fields.show_as_button));
    // The Management API's own validation, so the dashboard accepts what it accepts.
    let created =
        match Payload::from_value(Value::Object(body)).and_then(ConnectionSettings::from_create) {
            Ok(settings) => g.create_connection(settings).await,
            Err(e) => Err(e.into()),
        };
    match created {
        Ok(c) => see_other(&format!("/admin/connections/{}?done=created", seg(&c.id))),
        Err(e) => {
            let (status, message) = refusal(e);
            new_provider_page(g, d, kind, status, &fields, &apps, Some(&message))
        }
    }
}

/// Whether a provider's form makes a connection or edits one (and whether that one has a
/// secret stored).
#[derive(Clone, Copy)]
enum FormFor<'a> {
    New,
    Existing { id: &'a str, secret_stored: bool },
}

/// The callback URL to register at the provider: where it sends users back.
fn callback_url(g: &Gatehouse) -> Markup {
    html! {
        h2 { "At the provider" }
        p { "Register this callback URL (also called redirect URI or return URL) in the application you create at the provider:" }
        p { code #callback-url { (g.upstream_callback_url()) } }
    }
}

/// What the secret field does with what is entered.
fn secret_help(form_for: FormFor<'_>) -> Markup {
    html! {
        p.muted #secret-help {
            @match form_for {
                FormFor::New => "Stored encrypted and never shown again.",
                FormFor::Existing { secret_stored: true, .. } => "A secret is stored (encrypted, never shown): leave empty to keep the current secret.",
                FormFor::Existing { secret_stored: false, .. } => "No secret is stored.",
            }
        }
    }
}

/// A provider's settings: name (new ones only), button label, credentials, the provider's
/// endpoints (OpenID Connect), scopes, profile sync, deny-listed attributes, applications
/// and the login button.
fn provider_form(
    kind: ProviderKind,
    fields: &ProviderFields,
    apps: &[Application],
    csrf: &str,
    form_for: FormFor<'_>,
) -> Markup {
    let action = match form_for {
        FormFor::New => "/admin/connections".to_string(),
        FormFor::Existing { id, .. } => format!("/admin/connections/{}", seg(id)),
    };
    let default_label = match kind {
        ProviderKind::Preset(p) => p.label,
        _ => fields.name.as_str(),
    };
    let input = |id: &str, label: &str, value: &str, input_type: &str| {
        html! {
            label for=(id) { (label) }
            input #(id) name=(id) value=(value) type=(input_type) autocomplete="off";
        }
    };
    html! {
        form method="post" action=(action) {
            (csrf_input(csrf))
            @if let FormFor::New = form_for {
                (hidden("strategy", kind.strategy()))
                label for="name" { "Name" }
                input #name name="name" value=(fields.name) type="text" required
                    pattern=(NAME_PATTERN) aria-describedby="name-help";
                p.muted #name-help { "Applications name it in " code { "connection=" } "; it cannot be changed later." }
            }
            label for="display_name" { "Button label (optional)" }
            input #display_name name="display_name" value=(fields.display_name) type="text"
                placeholder=(default_label) aria-describedby="display-name-help";
            p.muted #display-name-help { "The login page says \u{201c}Continue with " (default_label) "\u{201d} when this is empty." }
            fieldset {
                legend { "Credentials issued by the provider" }
                @if kind.is_apple() {
                    (input("client_id", "Services ID (client ID)", &fields.client_id, "text"))
                    (input("team_id", "Team ID", &fields.team_id, "text"))
                    (input("kid", "Key ID", &fields.key_id, "text"))
                    label for="app_secret" { "Private key (.p8 file, PEM)" }
                    textarea #app_secret name="app_secret" autocomplete="off" spellcheck="false"
                        placeholder="-----BEGIN PRIVATE KEY-----" aria-describedby="secret-help" {}
                } @else {
                    (input("client_id", "Client ID", &fields.client_id, "text"))
                    label for="client_secret" { "Client secret" }
                    input #client_secret name="client_secret" type="password"
                        autocomplete="new-password" aria-describedby="secret-help";
                }
                (secret_help(form_for))
            }
            @if kind == ProviderKind::OpenIdConnect {
                fieldset {
                    legend { "Provider" }
                    label for="type" { "Channel" }
                    select #type name="type" {
                        (options(CHANNELS.iter().map(|(v, l)| (Some(*v), *l)), &fields.channel))
                    }
                    label for="discovery_url" { "Discovery URL" }
                    input #discovery_url name="discovery_url" value=(fields.discovery_url) type="url"
                        autocomplete="off"
                        placeholder="https://idp.example.com/.well-known/openid-configuration";
                    p.muted { "Or, for a provider without discovery, its endpoints:" }
                    @for (option, label) in MANUAL_ENDPOINTS {
                        (input(option, label, fields.endpoint(option), "url"))
                    }
                }
            }
            @match kind {
                ProviderKind::Preset(p) => {
                    label for="scope" { "Extra scopes (space-separated, optional)" }
                    input #scope name="scope" value=(fields.scope) type="text" autocomplete="off"
                        aria-describedby="scope-help";
                    p.muted #scope-help { "Always asked for: " code { (p.scope) } }
                }
                _ => {
                    (input("scope", "Scopes (space-separated)", &fields.scope, "text"))
                }
            }
            label for="root_sync" { "Profile sync" }
            select #root_sync name="set_user_root_attributes" {
                (options(ROOT_SYNC.iter().map(|(v, l)| (Some(*v), *l)), &fields.root_sync))
            }
            label for="non_persistent_attrs" { "Attributes not stored (one per line)" }
            textarea #non_persistent_attrs name="non_persistent_attrs" aria-describedby="deny-help" {
                (fields.deny_list)
            }
            p.muted #deny-help { "The provider's attributes named here reach only that login's ID token; they are never kept with the user." }
            fieldset #applications {
                legend { "Applications that may use it" }
                @for app in apps {
                    (check(
                        &format!("enabled_{}", app.id),
                        None,
                        fields.enabled_clients.contains(&app.id),
                        html! { (app.name) " " code.muted { (app.id) } },
                    ))
                }
                @if apps.is_empty() { p.muted { "There are no applications yet." } }
            }
            (check("show_as_button", None, fields.show_as_button, html! { "Show a button on the login page" }))
            button type="submit" {
                @if let FormFor::New = form_for { "Create" } @else { "Save" }
            }
        }
    }
}

/// The login button as the hosted login page draws it, and which login pages show it.
fn button_preview(c: &ConnectionSettings, apps: &[Application]) -> Markup {
    let checked = c.upstream_options();
    let label = match &checked {
        Ok(o) => o.label(c.display_name.as_deref(), &c.name),
        Err(_) => c.display_name.clone().unwrap_or_else(|| c.name.clone()),
    };
    let shown_on: Vec<&str> = apps
        .iter()
        .filter(|a| c.enabled_clients.contains(&a.id))
        .map(|a| a.name.as_str())
        .collect();
    html! {
        h2 { "Login button" }
        p #button-preview { (provider_button(None, &label)) }
        @match &checked {
            Err(e) => div.warn role="status" {
                "No login page shows it: its options do not check (" (e.message) ")."
            },
            Ok(_) if c.show_as_button == Some(false) => p.muted {
                "Hidden: no login page shows it. Applications can still send users here with "
                code { "connection=" (c.name) } "."
            },
            Ok(_) if shown_on.is_empty() => p.muted {
                "No application is enabled for it yet, so no login page shows it."
            },
            Ok(_) => p.muted { "Shown on the login page of " (shown_on.join(", ")) "." },
        }
    }
}

async fn connection(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match param(&q, "done") {
        "created" => Some("Connection created."),
        "saved" => Some("Connection saved."),
        _ => None,
    };
    let custom = CardState {
        notice: (param(&q, "done") == "custom-database").then_some("Custom database saved."),
        ..Default::default()
    };
    let shown = Shown {
        notice,
        custom,
        ..Default::default()
    };
    connection_page(&s.gatehouse, &d, &id, StatusCode::OK, shown).await
}

/// What the connection page shows besides the connection: a message, an action's error,
/// and a provider form's refused values (shown again instead of the stored ones).
#[derive(Default)]
struct Shown<'a> {
    notice: Option<&'a str>,
    error: Option<String>,
    entered: Option<ProviderFields>,
    /// A database connection's custom-database card: as posted, its error, a trial.
    custom: CardState,
    /// A directory connection's form as posted (a refused save).
    directory: Option<DirectoryFields>,
    /// A directory's "Test connection": what it found, for which username.
    probe: Option<(DirectoryProbe, String)>,
    /// A SAML connection's form as posted (a refused save).
    saml: Option<SamlFields>,
    /// A SAML connection's "Test connection".
    saml_probe: Option<SamlProbe>,
}

async fn connection_page(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status: StatusCode,
    shown: Shown<'_>,
) -> Response {
    let c = match g.get_connection(id).await {
        Ok(c) => c,
        Err(e) => return d.refused(e, "Connection", Nav::Connections),
    };
    let settings = match ProviderKind::of(&c.settings.strategy) {
        None if c.settings.is_directory() => {
            let (probe, sample) = match &shown.probe {
                Some((p, sample)) => (Some(p), sample.as_str()),
                None => (None, ""),
            };
            directory::settings_card(id, &c.settings, &d.csrf, shown.directory, probe, sample)
        }
        None if c.settings.is_saml() => saml::settings_card(
            g,
            id,
            &c.settings,
            &d.csrf,
            shown.saml,
            shown.saml_probe.as_ref(),
        ),
        Some(kind) => match applications(g).await {
            Ok(apps) => provider_sections(g, d, &c, kind, &apps, shown.entered),
            Err(e) => return d.refused(e, "Connection", Nav::Connections),
        },
        None => html! {
            section.card { h2 { "Settings" } (database_form(id, &c.settings, &d.csrf)) }
            @if c.settings.strategy == DATABASE_STRATEGY {
                (scripts::card(id, &c.settings.options, shown.custom, &d.csrf))
            }
        },
    };
    let body = html! {
        p { a href="/admin/connections" { "← Connections" } }
        h1 { (c.settings.name) }
        (notice(shown.notice))
        (error_box(shown.error.as_deref()))
        section.card {
            dl {
                dt { "ID" } dd { code { (id) } }
                dt { "Type" } dd {
                    (strategy_label(&c.settings.strategy)) " " code.muted { (c.settings.strategy) }
                }
            }
        }
        (settings)
    };
    d.page(status, "Connection", Nav::Connections, body)
}

/// An upstream connection's cards: the callback URL, the button preview, the settings.
fn provider_sections(
    g: &Gatehouse,
    d: &Dashboard,
    c: &Connection,
    kind: ProviderKind,
    apps: &[Application],
    entered: Option<ProviderFields>,
) -> Markup {
    let fields = entered.unwrap_or_else(|| ProviderFields::stored(&c.settings));
    let form_for = FormFor::Existing {
        id: &c.id,
        secret_stored: c.settings.sealed_secrets.contains_key(kind.secret_option()),
    };
    html! {
        section.card { (callback_url(g)) }
        section.card { (button_preview(&c.settings, apps)) }
        section.card { h2 { "Settings" } (provider_form(kind, &fields, apps, &d.csrf, form_for)) }
    }
}

const POLICIES: &[(&str, &str)] = &[
    ("none", "None: at least 1 character"),
    ("low", "Low: at least 6 characters"),
    ("fair", "Fair: 8 characters, lower, upper case and numbers"),
    (
        "good",
        "Good: 8 characters, 3 of lower, upper, numbers, special",
    ),
    (
        "excellent",
        "Excellent: 10 characters, no more than 2 identical in a row",
    ),
];

/// A database connection's options: password policy and length, brute-force protection,
/// sign-ups, personal information in passwords.
fn database_form(id: &str, c: &ConnectionSettings, csrf: &str) -> Markup {
    let rules = c.password_policy();
    let policy = rules.level.as_str();
    let min_length = rules.min_length;
    html! {
        form method="post" action={ "/admin/connections/" (seg(id)) } {
            (csrf_input(csrf))
            label for="policy" { "Password policy" }
            select #policy name="passwordPolicy" {
                (options(POLICIES.iter().map(|(v, l)| (Some(*v), *l)), policy))
            }
            label for="min_length" { "Minimum length (optional, 1–128)" }
            input #min_length name="min_length" type="number" min="1" max="128"
                value=(min_length.map(|n| n.to_string()).unwrap_or_default());
            (check("brute_force_protection", None, c.brute_force_protection(), html! { "Brute-force protection" }))
            (check("disable_signup", None, c.signup_disabled(), html! { "Disable sign-ups" }))
            (check("password_no_personal_info", None, rules.no_personal_info,
                html! { "Refuse passwords containing the user's name or email" }))
            button type="submit" { "Save" }
        }
    }
}

async fn update_connection(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let current = match g.get_connection(&id).await {
        Ok(c) => c,
        Err(e) => return connection_refused(g, &d, &id, e, None).await,
    };
    match ProviderKind::of(&current.settings.strategy) {
        Some(kind) => update_provider(g, &d, current, kind, &f).await,
        None if current.settings.is_directory() => {
            update_directory_connection(g, &d, current, &f).await
        }
        None if current.settings.is_saml() => update_saml_connection(g, &d, current, &f).await,
        None => update_database_connection(g, &d, current, &f).await,
    }
}

/// Saves a directory connection's form (the options Auth0's API takes, checked there).
async fn update_directory_connection(
    g: &Gatehouse,
    d: &Dashboard,
    current: Connection,
    f: &HashMap<String, String>,
) -> Response {
    let mut options = directory::updated_options(&current.settings, f);
    options.insert(
        "brute_force_protection".into(),
        json!(!param(f, "brute_force_protection").is_empty()),
    );
    let refused = Shown {
        directory: Some(DirectoryFields::posted(f)),
        ..Default::default()
    };
    save_options(g, d, &current.id, options, refused).await
}

/// Saves a SAML connection's form (the options Auth0's API takes, checked there).
async fn update_saml_connection(
    g: &Gatehouse,
    d: &Dashboard,
    current: Connection,
    f: &HashMap<String, String>,
) -> Response {
    let options = saml::updated_options(&current.settings, f);
    let refused = Shown {
        saml: Some(SamlFields::posted(f)),
        ..Default::default()
    };
    save_options(g, d, &current.id, options, refused).await
}

/// Replaces a connection's options through the Management API's checks: back to its page,
/// or the page again with the form as posted (`refused`) and why.
async fn save_options(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    options: serde_json::Map<String, serde_json::Value>,
    refused: Shown<'_>,
) -> Response {
    let saved = match Payload::from_value(json!({ "options": options })) {
        Ok(p) => g.update_connection(id, p).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => see_other(&format!("/admin/connections/{}?done=saved", seg(id))),
        Err(e) => {
            let (status, why) = super::refusal_in_words(e);
            let shown = Shown {
                error: Some(why),
                ..refused
            };
            connection_page(g, d, id, status, shown).await
        }
    }
}

/// "Test connection" of a SAML connection: the saved settings read, the metadata fetched.
async fn test_saml(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    match g.probe_saml(&id).await {
        Ok(probe) => {
            let shown = Shown {
                saml_probe: Some(probe),
                ..Default::default()
            };
            connection_page(g, &d, &id, StatusCode::OK, shown).await
        }
        Err(e) => connection_refused(g, &d, &id, e, None).await,
    }
}

/// "Test connection": binds with the saved settings and shows what it found.
async fn test_directory(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let sample = param(&f, "sample").trim().to_string();
    match g
        .probe_directory(&id, (!sample.is_empty()).then_some(sample.as_str()))
        .await
    {
        Ok(probe) => {
            let shown = Shown {
                probe: Some((probe, sample)),
                ..Default::default()
            };
            connection_page(g, &d, &id, StatusCode::OK, shown).await
        }
        Err(e) => connection_refused(g, &d, &id, e, None).await,
    }
}

/// The connection's page again, saying why the action was refused (with a provider form's
/// values as they were entered).
async fn connection_refused(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    e: ServiceError,
    entered: Option<ProviderFields>,
) -> Response {
    let (status, message) = refusal(e);
    let shown = Shown {
        error: Some(message),
        entered,
        ..Default::default()
    };
    connection_page(g, d, id, status, shown).await
}

async fn update_provider(
    g: &Gatehouse,
    d: &Dashboard,
    current: Connection,
    kind: ProviderKind,
    f: &HashMap<String, String>,
) -> Response {
    let apps = match applications(g).await {
        Ok(a) => a,
        Err(e) => return connection_refused(g, d, &current.id, e, None).await,
    };
    let settings = current.settings;
    let fields = ProviderFields::posted(f, &apps, &settings.enabled_clients);
    let options = provider_options(
        kind,
        &fields,
        param(f, kind.secret_option()),
        settings.options,
    );
    // A PATCH cannot remove `display_name`: emptied, it says what the button says without one.
    let display_name = match (fields.display_name.as_str(), kind) {
        ("", ProviderKind::Preset(p)) => p.label,
        ("", _) => settings.name.as_str(),
        (entered, _) => entered,
    };
    let body = json!({
        "display_name": display_name,
        "options": options,
        "enabled_clients": fields.enabled_clients,
        "show_as_button": fields.show_as_button,
    });
    let saved = match Payload::from_value(body) {
        Ok(p) => g.update_connection(&current.id, p).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => see_other(&format!(
            "/admin/connections/{}?done=saved",
            seg(&current.id)
        )),
        Err(e) => connection_refused(g, d, &current.id, e, Some(fields)).await,
    }
}

async fn update_database_connection(
    g: &Gatehouse,
    d: &Dashboard,
    current: Connection,
    f: &HashMap<String, String>,
) -> Response {
    if param(f, scripts::MARKER) == "on" && current.settings.strategy == DATABASE_STRATEGY {
        return update_custom_database(g, d, current, f).await;
    }
    let id = current.id;
    // `options` is replaced as a whole (Auth0's rule), so start from the current one.
    let mut options: Map<String, Value> = current.settings.options;
    options.insert("passwordPolicy".into(), json!(param(f, "passwordPolicy")));
    options.insert(
        "brute_force_protection".into(),
        json!(param(f, "brute_force_protection") == "on"),
    );
    options.insert(
        "disable_signup".into(),
        json!(param(f, "disable_signup") == "on"),
    );
    options.insert(
        "password_no_personal_info".into(),
        json!({"enable": param(f, "password_no_personal_info") == "on"}),
    );
    match param(f, "min_length").trim() {
        "" => {
            options.remove("password_complexity_options");
        }
        n => match n.parse::<i64>() {
            Ok(n) if (1..=128).contains(&n) => {
                options.insert(
                    "password_complexity_options".into(),
                    json!({ "min_length": n }),
                );
            }
            _ => {
                let shown = Shown {
                    error: Some("The minimum length must be a number from 1 to 128.".into()),
                    ..Default::default()
                };
                return connection_page(g, d, &id, StatusCode::BAD_REQUEST, shown).await;
            }
        },
    }
    let saved = match Payload::from_value(json!({ "options": options })) {
        Ok(p) => g.update_connection(&id, p).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => see_other(&format!("/admin/connections/{}?done=saved", seg(&id))),
        Err(e) => connection_refused(g, d, &id, e, None).await,
    }
}

/// The connection's page again with the custom-database card as it was posted: why a save
/// was refused, or what a Try did.
async fn custom_database_page(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status: StatusCode,
    f: &HashMap<String, String>,
    error: Option<String>,
    trial: Option<Trial>,
) -> Response {
    let shown = Shown {
        custom: CardState {
            form: Some(scripts::CustomDbForm::posted(f)),
            error,
            notice: None,
            trial,
        },
        ..Default::default()
    };
    connection_page(g, d, id, status, shown).await
}

/// Saves the custom-database card: the switches, the scripts (each compiled by the
/// service: a syntax error comes back naming the script and line) and the configuration.
async fn update_custom_database(
    g: &Gatehouse,
    d: &Dashboard,
    current: Connection,
    f: &HashMap<String, String>,
) -> Response {
    let id = current.id;
    let options = match scripts::custom_options(f, current.settings.options) {
        Ok(o) => o,
        Err(why) => {
            return custom_database_page(g, d, &id, StatusCode::BAD_REQUEST, f, Some(why), None)
                .await;
        }
    };
    let saved = match Payload::from_value(json!({ "options": options })) {
        Ok(p) => g.update_connection(&id, p).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => see_other(&format!(
            "/admin/connections/{}?done=custom-database",
            seg(&id)
        )),
        Err(e) => {
            let (status, why) = super::refusal_in_words(e);
            custom_database_page(g, d, &id, status, f, Some(why), None).await
        }
    }
}

/// A Try button: runs one script of a database connection, as it is in the editor, with
/// the arguments typed under it, and shows the page again with what it did under the script
/// (and everything typed into the card kept as it was).
async fn try_script(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let current = match g.get_connection(&id).await {
        Ok(c) => c,
        Err(e) => return connection_refused(g, &d, &id, e, None).await,
    };
    if current.settings.strategy != DATABASE_STRATEGY {
        let e = ServiceError::NotSupported("Only database connections have scripts to try.".into());
        return connection_refused(g, &d, &id, e, None).await;
    }
    let (status, error, trial) = match scripts::try_request(&f) {
        Err((None, why)) => (StatusCode::BAD_REQUEST, Some(why), None),
        Err((Some(script), why)) => (
            StatusCode::BAD_REQUEST,
            None,
            Some(Trial {
                script,
                outcome: Err(why),
            }),
        ),
        Ok(req) => {
            let script = req.script;
            match g.try_connection_script(&id, req).await {
                Ok(run) => (
                    StatusCode::OK,
                    None,
                    Some(Trial {
                        script,
                        outcome: Ok(run),
                    }),
                ),
                Err(e) => {
                    let (status, why) = super::refusal_in_words(e);
                    let trial = Trial {
                        script,
                        outcome: Err(why),
                    };
                    (status, None, Some(trial))
                }
            }
        }
    };
    custom_database_page(g, &d, &id, status, &f, error, trial).await
}
