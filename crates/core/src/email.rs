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
    /// A passwordless one-time code.
    PasswordlessCode,
    /// A passwordless magic link.
    PasswordlessLink,
    /// Someone tried to sign up with an address that has an account.
    SignupAttempt,
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
            Self::PasswordlessCode => "passwordless_code",
            Self::PasswordlessLink => "passwordless_link",
            Self::SignupAttempt => "signup_attempt",
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
            Self::PasswordlessCode => (
                "Your {{ friendly_name }} verification code: {{ code }}",
                "Hello,\n\nYour verification code is {{ code }}. It works once and expires in {{ minutes }} minutes.\n\nIf you did not ask for it, ignore this message.\n\n{{ friendly_name }}\n",
                "<p>Hello,</p><p>Your verification code is <strong>{{ code }}</strong>. It works once and expires in {{ minutes }} minutes.</p><p>If you did not ask for it, ignore this message.</p><p>{{ friendly_name }}</p>",
            ),
            Self::SignupAttempt => (
                "Someone tried to sign up to {{ friendly_name }} with your email",
                "Hello {{ user.email }},\n\nSomeone just tried to create an account with your email address, which already has one. If it was you, log in as usual, or choose a new password here:\n\n{{ url }}\n\nIf it was not you, ignore this message; your account is unchanged.\n\n{{ friendly_name }}\n",
                "<p>Hello {{ user.email }},</p><p>Someone just tried to create an account with your email address, which already has one. If it was you, log in as usual, or <a href=\"{{ url }}\">choose a new password</a>.</p><p>If it was not you, ignore this message; your account is unchanged.</p><p>{{ friendly_name }}</p>",
            ),
            Self::PasswordlessLink => (
                "Sign in to {{ friendly_name }}",
                "Hello,\n\nOpen this link to sign in. It works once and expires in {{ minutes }} minutes:\n\n{{ url }}\n\nIf you did not ask for it, ignore this message.\n\n{{ friendly_name }}\n",
                "<p>Hello,</p><p><a href=\"{{ url }}\">Sign in</a>. The link works once and expires in {{ minutes }} minutes.</p><p>If you did not ask for it, ignore this message.</p><p>{{ friendly_name }}</p>",
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

/// Template names `/api/v2/email-templates` accepts: Auth0's, plus `password_changed`.
pub const TEMPLATE_NAMES: &[&str] = &[
    "verify_email",
    "verify_email_by_code",
    "reset_email",
    "reset_email_by_code",
    "welcome_email",
    "blocked_account",
    "stolen_credentials",
    "enrollment_email",
    "mfa_oob_code",
    "user_invitation",
    "change_password",
    "password_reset",
    "async_approval",
    "password_changed",
    "passwordless_code",
    "passwordless_link",
    "signup_attempt",
];

/// A tenant's own version of a template (`/api/v2/email-templates/{name}`), in Auth0's shape.
/// `body` is HTML; the text part is derived from it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomTemplate {
    pub template: String,
    pub body: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub syntax: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_lifetime_in_seconds: Option<i64>,
    pub include_email_in_redirect: bool,
    pub enabled: bool,
}

impl CustomTemplate {
    pub const PROPERTIES: &'static [&'static str] = &[
        "template",
        "body",
        "subject",
        "from",
        "syntax",
        "resultUrl",
        "urlLifetimeInSeconds",
        "includeEmailInRedirect",
        "enabled",
    ];

    /// A new template from a create (or PUT) body: `template` (when given) must be `name`,
    /// `body` and `subject` are required.
    pub fn from_create(
        name: &str,
        mut p: crate::payload::Payload,
    ) -> Result<Self, crate::payload::InvalidBody> {
        use crate::payload::InvalidBody;
        p.allow_only(Self::PROPERTIES)?;
        if !TEMPLATE_NAMES.contains(&name) {
            return Err(InvalidBody::on_property(
                format!("No enum match for: \"{name}\""),
                "template",
            ));
        }
        if let Some(t) = p.string("template")?
            && t != name
        {
            return Err(InvalidBody::on_property(
                "template does not match the path",
                "template",
            ));
        }
        let mut t = Self {
            template: name.to_string(),
            body: p.required_string("body")?,
            subject: p.required_string("subject")?,
            from: None,
            syntax: "liquid".into(),
            result_url: None,
            url_lifetime_in_seconds: None,
            include_email_in_redirect: false,
            enabled: true,
        };
        t.apply(&mut p)?;
        Ok(t)
    }

    /// Applies a PATCH body; on error nothing changes.
    pub fn patch(
        &mut self,
        mut p: crate::payload::Payload,
    ) -> Result<(), crate::payload::InvalidBody> {
        p.require_some()?;
        p.allow_only(Self::PROPERTIES)?;
        let mut next = self.clone();
        if let Some(t) = p.string("template")?
            && t != self.template
        {
            return Err(crate::payload::InvalidBody::on_property(
                "template cannot change",
                "template",
            ));
        }
        if let Some(b) = p.string("body")? {
            next.body = b;
        }
        if let Some(s) = p.string("subject")? {
            next.subject = s;
        }
        next.apply(&mut p)?;
        *self = next;
        Ok(())
    }

    fn apply(
        &mut self,
        p: &mut crate::payload::Payload,
    ) -> Result<(), crate::payload::InvalidBody> {
        use crate::payload::InvalidBody;
        if let Some(f) = p.string("from")? {
            if f.contains(['\r', '\n']) || !f.contains('@') {
                return Err(InvalidBody::on_property(
                    "from must be an email address",
                    "from",
                ));
            }
            self.from = Some(f);
        }
        if let Some(s) = p.string("syntax")? {
            if s != "liquid" {
                return Err(InvalidBody::on_property(
                    format!("No enum match for: \"{s}\""),
                    "syntax",
                ));
            }
            self.syntax = s;
        }
        if let Some(u) = p.string("resultUrl")? {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(InvalidBody::on_property(
                    "resultUrl must be an absolute http(s) URL",
                    "resultUrl",
                ));
            }
            self.result_url = Some(u);
        }
        if let Some(n) = p.integer("urlLifetimeInSeconds")? {
            if !(1..=30 * 86_400).contains(&n) {
                return Err(InvalidBody::on_property(
                    "urlLifetimeInSeconds must be between 1 and 2592000",
                    "urlLifetimeInSeconds",
                ));
            }
            self.url_lifetime_in_seconds = Some(n);
        }
        if let Some(b) = p.bool("includeEmailInRedirect")? {
            self.include_email_in_redirect = b;
        }
        if let Some(b) = p.bool("enabled")? {
            self.enabled = b;
        }
        Ok(())
    }

    /// Renders this template; the text part is the HTML body without its tags.
    pub fn render(
        &self,
        template: EmailTemplate,
        to: &str,
        vars: &[(&str, &str)],
    ) -> RenderedEmail {
        let html = render_text(&self.body, vars, true);
        RenderedEmail {
            template: template.name(),
            to: to.to_string(),
            subject: render_text(&self.subject, vars, false).replace(['\r', '\n'], " "),
            text: html_to_text(&html),
            html,
        }
    }
}

/// A readable text part from HTML: tags dropped (links keep their address), entities undone.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[start + 1..start + end];
        if let Some(i) = tag.find("href=\"") {
            let href = &tag[i + 6..];
            if let Some(close) = href.find('"') {
                out.push_str(&href[..close]);
                out.push(' ');
            }
        }
        let lower = tag.to_ascii_lowercase();
        if lower.starts_with("br") || lower.starts_with("/p") || lower.starts_with("/div") {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod custom_tests {
    use super::*;
    use crate::payload::Payload;
    use serde_json::json;

    #[test]
    fn custom_templates_render_and_validate() {
        let t = CustomTemplate::from_create(
            "reset_email",
            Payload::from_value(json!({"body": "<p>Hi {{ user.email }}, <a href=\"{{ url }}\">reset</a></p>", "subject": "Reset for {{ friendly_name }}"})).unwrap(),
        )
        .unwrap();
        let m = t.render(
            EmailTemplate::ResetEmail,
            "a@x.com",
            &[
                ("user.email", "a@x.com"),
                ("url", "https://h/r?t=1&u=2"),
                ("friendly_name", "Acme"),
            ],
        );
        assert_eq!(m.subject, "Reset for Acme");
        assert!(m.html.contains("href=\"https://h/r?t=1&amp;u=2\""));
        assert!(m.text.contains("https://h/r?t=1&u=2"), "{}", m.text);
        assert!(
            CustomTemplate::from_create(
                "nope",
                Payload::from_value(json!({"body": "x", "subject": "y"})).unwrap()
            )
            .is_err()
        );
        assert!(
            CustomTemplate::from_create(
                "reset_email",
                Payload::from_value(json!({"body": "x"})).unwrap()
            )
            .is_err()
        );
        let mut t2 = t.clone();
        assert!(
            t2.patch(
                Payload::from_value(json!({"subject": "new", "from": "a\r\nBcc: x@y"})).unwrap()
            )
            .is_err()
        );
        assert_eq!(t2, t);
    }
}
