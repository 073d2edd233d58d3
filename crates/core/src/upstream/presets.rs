//! The social providers people expect a button for, with each provider's documented
//! endpoints, default scopes and the shape of the profile it returns. A preset connection
//! takes only credentials and extra scopes; everything else comes from here.

use super::{ProfileShape, Protocol};

/// One provider's fixed facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Auth0's strategy name, also the provider in user ids (`github|1234`).
    pub strategy: &'static str,
    /// What the login button says.
    pub label: &'static str,
    pub protocol: Protocol,
    /// The ID token's `iss` (OpenID Connect providers).
    pub issuer: Option<&'static str>,
    pub authorization_endpoint: &'static str,
    pub token_endpoint: &'static str,
    pub userinfo_endpoint: Option<&'static str>,
    pub jwks_uri: Option<&'static str>,
    /// Scopes always asked for.
    pub scope: &'static str,
    pub profile: ProfileShape,
    /// The provider posts its answer back (`response_mode=form_post`).
    pub form_post: bool,
    /// The provider accepts PKCE (S256).
    pub pkce: bool,
}

pub const GOOGLE: Preset = Preset {
    strategy: "google-oauth2",
    label: "Google",
    protocol: Protocol::Oidc,
    issuer: Some("https://accounts.google.com"),
    authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
    token_endpoint: "https://oauth2.googleapis.com/token",
    userinfo_endpoint: Some("https://openidconnect.googleapis.com/v1/userinfo"),
    jwks_uri: Some("https://www.googleapis.com/oauth2/v3/certs"),
    scope: "openid email profile",
    profile: ProfileShape::OidcClaims,
    form_post: false,
    pkce: true,
};

/// GitHub is OAuth 2.0 only: the profile is `GET /user`, the address the primary verified
/// one from `GET /user/emails` (the profile's `email` is only the public one, often null).
pub const GITHUB: Preset = Preset {
    strategy: "github",
    label: "GitHub",
    protocol: Protocol::OAuth2,
    issuer: None,
    authorization_endpoint: "https://github.com/login/oauth/authorize",
    token_endpoint: "https://github.com/login/oauth/access_token",
    userinfo_endpoint: Some("https://api.github.com/user"),
    jwks_uri: None,
    scope: "read:user user:email",
    profile: ProfileShape::GitHub,
    form_post: false,
    pkce: false,
};

/// Microsoft accounts (Auth0's `windowslive`): the Microsoft identity platform's common
/// endpoints and the profile from Microsoft Graph's `/me` (the common endpoint's ID tokens
/// carry a per-tenant issuer, so the profile is read from Graph instead).
pub const MICROSOFT: Preset = Preset {
    strategy: "windowslive",
    label: "Microsoft",
    protocol: Protocol::OAuth2,
    issuer: None,
    authorization_endpoint: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_endpoint: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    userinfo_endpoint: Some("https://graph.microsoft.com/v1.0/me"),
    jwks_uri: None,
    scope: "openid profile email User.Read",
    profile: ProfileShape::MicrosoftGraph,
    form_post: false,
    pkce: true,
};

/// Sign in with Apple: the profile is the ID token alone; the name comes once, in the
/// `user` form field of the first login, posted back (`form_post`) with the code.
pub const APPLE: Preset = Preset {
    strategy: "apple",
    label: "Apple",
    protocol: Protocol::Oidc,
    issuer: Some("https://appleid.apple.com"),
    authorization_endpoint: "https://appleid.apple.com/auth/authorize",
    token_endpoint: "https://appleid.apple.com/auth/token",
    userinfo_endpoint: None,
    jwks_uri: Some("https://appleid.apple.com/auth/keys"),
    scope: "name email",
    profile: ProfileShape::Apple,
    form_post: true,
    pkce: false,
};

pub const FACEBOOK: Preset = Preset {
    strategy: "facebook",
    label: "Facebook",
    protocol: Protocol::OAuth2,
    issuer: None,
    authorization_endpoint: "https://www.facebook.com/v19.0/dialog/oauth",
    token_endpoint: "https://graph.facebook.com/v19.0/oauth/access_token",
    userinfo_endpoint: Some(
        "https://graph.facebook.com/v19.0/me?fields=id,name,first_name,last_name,email,picture",
    ),
    jwks_uri: None,
    scope: "public_profile email",
    profile: ProfileShape::Facebook,
    form_post: false,
    pkce: false,
};

/// "Sign In with LinkedIn using OpenID Connect".
pub const LINKEDIN: Preset = Preset {
    strategy: "linkedin",
    label: "LinkedIn",
    protocol: Protocol::Oidc,
    issuer: Some("https://www.linkedin.com/oauth"),
    authorization_endpoint: "https://www.linkedin.com/oauth/v2/authorization",
    token_endpoint: "https://www.linkedin.com/oauth/v2/accessToken",
    userinfo_endpoint: Some("https://api.linkedin.com/v2/userinfo"),
    jwks_uri: Some("https://www.linkedin.com/oauth/openid/jwks"),
    scope: "openid profile email",
    profile: ProfileShape::OidcClaims,
    form_post: false,
    pkce: false,
};

pub const ALL: [Preset; 6] = [GOOGLE, GITHUB, MICROSOFT, APPLE, FACEBOOK, LINKEDIN];

/// The preset for a strategy name, if it is one.
pub fn by_strategy(strategy: &str) -> Option<Preset> {
    ALL.into_iter().find(|p| p.strategy == strategy)
}
