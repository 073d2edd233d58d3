//! The picture a user gets when nobody gave one, by the tenant's `default_picture`: Gravatar
//! falling back to Auth0's initials avatar (Auth0's default for database users), or an
//! initials image served by Gatehouse itself (`/u/avatars/<initials>.svg`), so no email hash
//! leaves the server and pages work offline.

use crate::Gatehouse;
use crate::error::Result;
use gatehouse_core::gdpr::DefaultPicture;

/// What a default picture is drawn from.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Who<'a> {
    pub email: &'a str,
    pub given_name: Option<&'a str>,
    pub family_name: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl<'a> Who<'a> {
    pub fn email(email: &'a str) -> Self {
        Self {
            email,
            ..Default::default()
        }
    }
}

/// Gravatar for the email with Auth0's initials avatar as the fallback.
fn gravatar(email: &str) -> String {
    let hash = gatehouse_crypto::md5_hex(email.trim().to_lowercase().as_bytes());
    let initials: String = email
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(2)
        .collect::<String>()
        .to_lowercase();
    format!(
        "https://s.gravatar.com/avatar/{hash}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F{}.png",
        if initials.is_empty() {
            "u".to_string()
        } else {
            initials
        }
    )
}

/// The address of Gatehouse's own initials picture.
pub fn avatar_url(public_url: &str, initials: &str) -> String {
    format!(
        "{}/u/avatars/{}.svg",
        public_url.trim_end_matches('/'),
        gatehouse_core::authorize::percent_encode(initials)
    )
}

/// The default picture of a user in the tenant's style.
pub(crate) fn default_picture(style: DefaultPicture, public_url: &str, who: Who<'_>) -> String {
    match style {
        DefaultPicture::Gravatar => gravatar(who.email),
        DefaultPicture::Initials => {
            let email = Some(who.email).filter(|e| !e.is_empty());
            let initials =
                gatehouse_core::avatar::initials(who.given_name, who.family_name, who.name, email);
            avatar_url(public_url, &initials)
        }
    }
}

impl Gatehouse {
    /// The tenant's default-picture style, read once per batch of new users.
    pub(crate) async fn picture_style(&self) -> Result<DefaultPicture> {
        Ok(self.tenant_settings().await?.default_picture)
    }

    /// A default picture in `style` at this server's address.
    pub(crate) fn picture_for(&self, style: DefaultPicture, who: Who<'_>) -> String {
        default_picture(style, &self.config().public_url, who)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_styles() {
        let g = default_picture(
            DefaultPicture::Gravatar,
            "https://id.example",
            Who::email("Jo@Example.com"),
        );
        assert!(g.starts_with("https://s.gravatar.com/avatar/"), "{g}");
        assert!(g.ends_with("avatars%2Fjo.png"), "{g}");
        let i = default_picture(
            DefaultPicture::Initials,
            "https://id.example/",
            Who {
                email: "z@example.com",
                given_name: Some("Zoë"),
                family_name: Some("Ørsted"),
                name: None,
            },
        );
        assert_eq!(i, "https://id.example/u/avatars/Z%C3%98.svg");
    }
}
