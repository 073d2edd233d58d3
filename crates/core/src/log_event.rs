//! Tenant log events in Auth0's shape, with its event type codes.

use crate::time::{EpochMillis, iso8601};
use serde_json::{Map, Value, json};

/// Auth0 event type codes Gatehouse emits so far.
pub mod codes {
    /// Successful / failed Management API write.
    pub const SUCCESS_API_OPERATION: &str = "sapi";
    pub const FAILED_API_OPERATION: &str = "fapi";
    /// Successful / failed client-credentials exchange.
    pub const SUCCESS_CLIENT_CREDENTIALS: &str = "seccft";
    pub const FAILED_CLIENT_CREDENTIALS: &str = "feccft";
    /// User deleted.
    pub const SUCCESS_USER_DELETION: &str = "sdu";
    /// Successful / failed exchange of a password for tokens.
    pub const SUCCESS_PASSWORD_EXCHANGE: &str = "sepft";
    pub const FAILED_PASSWORD_EXCHANGE: &str = "fepft";
    /// Failed login: generic (e.g. blocked user), wrong password, unknown user.
    pub const FAILED_LOGIN: &str = "f";
    pub const FAILED_LOGIN_PASSWORD: &str = "fp";
    pub const FAILED_LOGIN_USERNAME: &str = "fu";
    /// A user blocked from an IP after too many failed logins; a block lifted.
    pub const BLOCKED_ACCOUNT: &str = "limit_wc";
    pub const BLOCK_RELEASED: &str = "ublkdu";
    /// Successful / failed exchange of a refresh token.
    pub const SUCCESS_REFRESH_EXCHANGE: &str = "sertft";
    pub const FAILED_REFRESH_EXCHANGE: &str = "fertft";
    /// Successful login (hosted page); successful / failed sign-up.
    pub const SUCCESS_LOGIN: &str = "s";
    pub const SUCCESS_SIGNUP: &str = "ss";
    pub const FAILED_SIGNUP: &str = "fs";
    /// Successful / failed silent authentication (`prompt=none`).
    pub const SUCCESS_SILENT_AUTH: &str = "ssa";
    pub const FAILED_SILENT_AUTH: &str = "fsa";
    /// Successful / failed exchange of an authorization code.
    pub const SUCCESS_CODE_EXCHANGE: &str = "seacft";
    pub const FAILED_CODE_EXCHANGE: &str = "feacft";
    /// Change-password request (reset email sent) and password change, success / failure.
    pub const SUCCESS_CHANGE_PASSWORD_REQUEST: &str = "scpr";
    pub const FAILED_CHANGE_PASSWORD_REQUEST: &str = "fcpr";
    pub const SUCCESS_CHANGE_PASSWORD: &str = "scp";
    pub const FAILED_CHANGE_PASSWORD: &str = "fcp";
    /// Email verified.
    pub const SUCCESS_VERIFICATION_EMAIL: &str = "sv";
    /// A passwordless code (or link) was sent.
    pub const CODE_SENT: &str = "cs";
    pub const CODE_LINK_SENT: &str = "cls";
    /// A login, sign-up or password change used a breached password.
    pub const BREACHED_PASSWORD: &str = "pwd_leak";
    /// Successful / failed logout.
    pub const SUCCESS_LOGOUT: &str = "slo";
    /// A users import job finished / failed.
    pub const SUCCESS_USERS_IMPORT: &str = "sui";
    pub const FAILED_USERS_IMPORT: &str = "fui";
    pub const FAILED_LOGOUT: &str = "flo";
    pub const SUCCESS_CROSS_ORIGIN_AUTH: &str = "scoa";
    pub const FAILED_CROSS_ORIGIN_AUTH: &str = "fcoa";
}

/// What an event type means, in words an administrator reads when tracing a failed login.
/// `None` for a code Gatehouse does not know.
pub fn explain(kind: &str) -> Option<&'static str> {
    use codes::*;
    Some(match kind {
        SUCCESS_API_OPERATION => "Management API change made",
        FAILED_API_OPERATION => "Management API change refused",
        SUCCESS_CLIENT_CREDENTIALS => "An application obtained an access token for itself",
        FAILED_CLIENT_CREDENTIALS => {
            "An application could not obtain a token: unknown client or wrong secret"
        }
        SUCCESS_USER_DELETION => "User deleted",
        SUCCESS_PASSWORD_EXCHANGE => "Signed in with a password through the API",
        FAILED_PASSWORD_EXCHANGE => "Password sign-in through the API refused",
        FAILED_LOGIN => "Login refused (for example: the user is blocked)",
        FAILED_LOGIN_PASSWORD => "Login failed: wrong password",
        FAILED_LOGIN_USERNAME => "Login failed: no user with this email or username",
        BLOCKED_ACCOUNT => "Too many failed logins: this user is blocked from this IP address",
        BLOCK_RELEASED => "A brute-force block was lifted",
        SUCCESS_REFRESH_EXCHANGE => "Tokens renewed with a refresh token",
        FAILED_REFRESH_EXCHANGE => "Refresh token refused (expired, revoked or reused)",
        SUCCESS_LOGIN => "Logged in",
        SUCCESS_SIGNUP => "Signed up",
        FAILED_SIGNUP => "Sign-up refused",
        SUCCESS_SILENT_AUTH => "Signed in silently with an existing session",
        FAILED_SILENT_AUTH => "Silent sign-in needed a login or consent",
        SUCCESS_CODE_EXCHANGE => "An application exchanged a login code for tokens",
        FAILED_CODE_EXCHANGE => {
            "Code exchange refused (expired, reused, or wrong redirect or PKCE verifier)"
        }
        SUCCESS_CHANGE_PASSWORD_REQUEST => "Password reset email sent",
        FAILED_CHANGE_PASSWORD_REQUEST => "Password reset requested for an unknown user",
        SUCCESS_CHANGE_PASSWORD => "Password changed",
        FAILED_CHANGE_PASSWORD => "Password change refused",
        SUCCESS_VERIFICATION_EMAIL => "Email address verified",
        CODE_SENT => "Passwordless code sent",
        CODE_LINK_SENT => "Passwordless link sent",
        BREACHED_PASSWORD => "The password used appears in a list of breached passwords",
        SUCCESS_LOGOUT => "Logged out",
        FAILED_LOGOUT => "Logout refused",
        SUCCESS_CROSS_ORIGIN_AUTH => "An embedded login form checked a password (cross-origin)",
        FAILED_CROSS_ORIGIN_AUTH => "An embedded login (cross-origin) was refused",
        SUCCESS_USERS_IMPORT => "Users import finished",
        FAILED_USERS_IMPORT => "Users import failed",
        _ => return None,
    })
}

/// One event as stored and shown by `GET /api/v2/logs`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogEvent {
    pub log_id: String,
    pub date: EpochMillis,
    pub kind: String,
    pub description: Option<String>,
    pub client_id: Option<String>,
    pub connection: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Map<String, Value>,
}

impl LogEvent {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("log_id".into(), json!(self.log_id));
        m.insert("date".into(), json!(iso8601(self.date)));
        m.insert("type".into(), json!(self.kind));
        for (k, v) in [
            ("description", &self.description),
            ("client_id", &self.client_id),
            ("connection", &self.connection),
            ("user_id", &self.user_id),
            ("user_name", &self.user_name),
            ("ip", &self.ip),
            ("user_agent", &self.user_agent),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        m.insert("details".into(), Value::Object(self.details.clone()));
        Value::Object(m)
    }
}

/// A log id that sorts by time: 13 digits of milliseconds, 6 of a sequence within that
/// millisecond (so ids of one node only ever increase), then random hex that keeps ids of
/// different nodes apart.
pub fn log_id(date: EpochMillis, sequence: u32, random_hex: &str) -> String {
    format!("{:013}{sequence:06}{random_hex}", date.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_json_has_auth0_fields() {
        assert!(log_id(1_000, 5, "ff") < log_id(2_000, 0, "00"));
        assert!(log_id(1_000, 1, "ff") < log_id(1_000, 2, "00"));
        let e = LogEvent {
            log_id: log_id(0, 0, "ab"),
            kind: codes::SUCCESS_API_OPERATION.into(),
            ..Default::default()
        };
        let v = e.to_json();
        assert_eq!(v["type"], "sapi");
        assert_eq!(v["date"], "1970-01-01T00:00:00.000Z");
        assert!(v.get("user_id").is_none());
    }
}

/// Filters of `GET /api/v2/logs?q=`: a conjunction of `type:`, `user_id:`, `client_id:`,
/// `connection:`, `ip:` terms and a `date:[from TO to]` range (the subset Gatehouse indexes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogFilter {
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub connection: Option<String>,
    pub ip: Option<String>,
    pub date_from: Option<EpochMillis>,
    pub date_to: Option<EpochMillis>,
    /// Leave out Management API operations (`sapi`, `fapi`): what delegated administrators
    /// see, as DAE's logs page asks for `NOT type:sapi AND NOT type:fapi`.
    pub exclude_api_operations: bool,
}

impl LogFilter {
    pub fn parse(q: &str) -> Result<Self, String> {
        let mut f = LogFilter::default();
        let mut rest = q.trim();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("AND ") {
                rest = r.trim_start();
                continue;
            }
            let (field, after) = rest
                .split_once(':')
                .ok_or_else(|| format!("Expected field:value at '{rest}'"))?;
            let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').ok_or("Unterminated quoted value")?;
                (quoted[..end].to_string(), &quoted[end + 1..])
            } else if after.starts_with('[') {
                let end = after.find(']').ok_or("Unterminated range")?;
                (after[..=end].to_string(), &after[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (after[..end].to_string(), &after[end..])
            };
            rest = tail.trim_start();
            if value.is_empty() {
                return Err(format!("Empty value for {field}"));
            }
            let slot = match field {
                "type" => &mut f.kind,
                "user_id" => &mut f.user_id,
                "client_id" => &mut f.client_id,
                "connection" => &mut f.connection,
                "ip" => &mut f.ip,
                "date" => {
                    let inner = value
                        .strip_prefix('[')
                        .and_then(|v| v.strip_suffix(']'))
                        .ok_or("date takes a range: date:[from TO to]")?;
                    let (a, b) = inner
                        .split_once(" TO ")
                        .ok_or("date ranges are [from TO to]")?;
                    let bound = |s: &str, end: bool| -> Result<Option<EpochMillis>, String> {
                        match s.trim() {
                            "*" => Ok(None),
                            d => crate::search::parse_date(d)
                                .map(|(lo, hi)| Some(if end { hi } else { lo }))
                                .ok_or(format!("'{d}' is not a date")),
                        }
                    };
                    f.date_from = bound(a, false)?;
                    f.date_to = bound(b, true)?;
                    continue;
                }
                other => {
                    return Err(format!(
                        "Unsupported log field '{other}' (type, user_id, client_id, connection, ip, date)"
                    ));
                }
            };
            *slot = Some(value);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn parses_the_supported_subset() {
        let f = LogFilter::parse(r#"type:sapi AND user_id:"auth0|abc" date:[2020-01-01 TO *]"#)
            .unwrap();
        assert_eq!(f.kind.as_deref(), Some("sapi"));
        assert_eq!(f.user_id.as_deref(), Some("auth0|abc"));
        assert!(f.date_from.is_some() && f.date_to.is_none());
        assert!(LogFilter::parse("description:x").is_err());
        assert!(LogFilter::parse("type").is_err());
        assert!(LogFilter::parse("date:[x TO y]").is_err());
    }
}
