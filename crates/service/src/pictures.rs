//! The picture a user gets when nobody gave one: Gravatar, falling back to Auth0's initials
//! avatar, as Auth0 does for database users.

/// Gravatar for the email with Auth0's initials avatar as the fallback.
pub(crate) fn default_picture(email: &str) -> String {
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
