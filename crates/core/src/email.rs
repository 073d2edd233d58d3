//! Emails Gatehouse sends: Auth0's template names, the built-in texts, and rendering with
//! `{{ variable }}` placeholders (values are HTML-escaped in the HTML part).

/// A message kind, named as Auth0 names its email templates where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTemplate {
    VerifyEmail,
    WelcomeEmail,
    ResetEmail,
    PasswordChanged,
    BlockedAccount,
    /// Auth0's `stolen_credentials`: the password was found in a breach.
    StolenCredentials,
}

impl EmailTemplate {
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::WelcomeEmail => "welcome_email",
            Self::ResetEmail => "reset_email",
            Self::PasswordChanged => "password_changed",
            Self::BlockedAccount => "blocked_account",
            Self::StolenCredentials => "stolen_credentials",
        }
    }

    /// The built-in subject, text and HTML bodies.
    fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::VerifyEmail => (
                "Verify your email for {{ friendly_name }}",
                "Hello {{ user.email }},\n\nPlease verify your email address by opening this link:\n\n{{ url }}\n\nIf you did not create an account, ignore this message.\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>Please verify your email address:</p><p><a href=\"{{ url }}\">Verify my email</a></p><p>If you did not create an account, ignore this message.</p><p>{{ friendly_name }}</p>",
            ),
            Self::WelcomeEmail => (
                "Welcome to {{ friendly_name }}",
                "Hello {{ user.email }},\n\nYour email address is verified. Welcome!\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>Your email address is verified. Welcome!</p><p>{{ friendly_name }}</p>",
            ),
            Self::ResetEmail => (
                "Reset your {{ friendly_name }} password",
                "Hello {{ user.email }},\n\nSomeone asked to reset the password of your account. To choose a new password, open this link:\n\n{{ url }}\n\nThe link works once and expires. If it was not you, ignore this message: your password stays as it is.\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>Someone asked to reset the password of your account.</p><p><a href=\"{{ url }}\">Choose a new password</a></p><p>The link works once and expires. If it was not you, ignore this message: your password stays as it is.</p><p>{{ friendly_name }}</p>",
            ),
            Self::PasswordChanged => (
                "Your {{ friendly_name }} password was changed",
                "Hello {{ user.email }},\n\nThe password of your account was just changed and you were signed out everywhere. If this was not you, reset your password at once and contact {{ support }}.\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>The password of your account was just changed and you were signed out everywhere.</p><p>If this was not you, reset your password at once and contact {{ support }}.</p><p>{{ friendly_name }}</p>",
            ),
            Self::StolenCredentials => (
                "Your {{ friendly_name }} password was found in a data breach",
                "Hello {{ user.email }},\n\nSomeone just logged in to your account with a password that appeared in a data breach of another website. Nothing leaked from us, but anyone holding that list can try it here. Choose a new password now:\n\n{{ url }}\n\nIf you use this password elsewhere, change it there too.\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>Someone just logged in to your account with a password that appeared in a data breach of another website. Nothing leaked from us, but anyone holding that list can try it here.</p><p><a href=\"{{ url }}\">Choose a new password</a></p><p>If you use this password elsewhere, change it there too.</p><p>{{ friendly_name }}</p>",
            ),
            Self::BlockedAccount => (
                "Your {{ friendly_name }} account was blocked",
                "Hello {{ user.email }},\n\nWe blocked sign-ins to your account from {{ ip }} after several failed attempts. To unblock it, open this link:\n\n{{ url }}\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>We blocked sign-ins to your account from {{ ip }} after several failed attempts.</p><p><a href=\"{{ url }}\">Unblock my account</a></p><p>{{ friendly_name }}</p>",
            ),
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub template: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{ name }}` with its value; unknown names become empty. With `html`,
/// values are escaped.
pub fn render_text(template: &str, vars: &[(&str, &str)], html: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                let value = vars
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| *v)
                    .unwrap_or("");
                if html {
                    out.push_str(&escape_html(value));
                } else {
                    out.push_str(value);
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders a built-in template for `to`. Subjects never carry line breaks.
pub fn render(template: EmailTemplate, to: &str, vars: &[(&str, &str)]) -> RenderedEmail {
    let (subject, text, html) = template.defaults();
    RenderedEmail {
        template: template.name(),
        to: to.to_string(),
        subject: render_text(subject, vars, false).replace(['\r', '\n'], " "),
        text: render_text(text, vars, false),
        html: render_text(html, vars, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let vars = [("user.email", "a<b>@x.com"), ("url", "https://h/p?a=1&b=2")];
        let m = render(EmailTemplate::ResetEmail, "a@x.com", &vars);
        assert!(m.text.contains("https://h/p?a=1&b=2"));
        assert!(m.html.contains("https://h/p?a=1&amp;b=2"));
        assert!(m.html.contains("a&lt;b&gt;@x.com"));
        assert_eq!(render_text("{{missing}}x{{ url", &vars, false), "x{{ url");
        let evil = render(
            EmailTemplate::VerifyEmail,
            "a@x.com",
            &[("friendly_name", "X\r\nBcc: e@vil")],
        );
        assert!(!evil.subject.contains('\n'));
    }
}
