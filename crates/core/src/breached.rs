//! Breached-password detection: the tenant's settings in Auth0's shape
//! (`/api/v2/attack-protection/breached-password-detection`), the bundled list of the most
//! common passwords, and the Pwned Passwords k-anonymity range format, where only the first
//! five hex characters of a password's SHA-1 ever leave the server.

use crate::payload::{InvalidBody, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::OnceLock;

static COMMON: &str = include_str!("../data/common-passwords.txt");

fn common_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// True when the password (compared in lower case) is one of the 10,000 most common.
pub fn is_common(password: &str) -> bool {
    common_set().contains(password.to_lowercase().as_str())
}

/// Splits an upper-case hex SHA-1 into the range prefix sent out and the suffix kept here.
pub fn range_parts(sha1_hex_upper: &str) -> (&str, &str) {
    sha1_hex_upper.split_at(5.min(sha1_hex_upper.len()))
}

/// True when a range response (`SUFFIX:COUNT` lines) lists `suffix` with a count above 0.
/// Padding lines (count 0) are ignored.
pub fn range_contains(body: &str, suffix: &str) -> bool {
    body.lines().any(|line| {
        let (s, count) = line.trim().split_once(':').unwrap_or((line.trim(), "1"));
        s.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().map_or(true, |c| c > 0)
    })
}

const SHIELDS: &[&str] = &["block", "user_notification", "admin_notification"];
const STAGE_SHIELDS: &[&str] = &["block", "admin_notification"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StageShields {
    pub shields: Vec<String>,
}

/// Auth0's breached-password-detection settings. Off by default, as on a new Auth0 tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreachedPasswordSettings {
    pub enabled: bool,
    /// At login: `block` refuses the login until the password is changed,
    /// `user_notification` emails the user a reset link.
    pub shields: Vec<String>,
    pub admin_notification_frequency: Vec<String>,
    pub method: String,
    /// At sign-up.
    pub pre_user_registration: StageShields,
    /// At password change.
    pub pre_change_password: StageShields,
}

impl Default for BreachedPasswordSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            shields: vec![],
            admin_notification_frequency: vec![],
            method: "standard".into(),
            pre_user_registration: StageShields::default(),
            pre_change_password: StageShields::default(),
        }
    }
}

fn shields(v: Value, field: &str, allowed: &[&str]) -> Result<Vec<String>, InvalidBody> {
    let Value::Array(items) = v else {
        return Err(InvalidBody::on_property(
            format!("{field} must be an array"),
            field,
        ));
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::String(s) if allowed.contains(&s.as_str()) => Ok(s),
            other => Err(InvalidBody::on_property(
                format!("No enum match for: {other}"),
                field,
            )),
        })
        .collect()
}

impl BreachedPasswordSettings {
    pub fn blocks_login(&self) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "block")
    }
    pub fn notifies_user(&self) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "user_notification")
    }
    pub fn blocks_signup(&self) -> bool {
        self.enabled
            && self
                .pre_user_registration
                .shields
                .iter()
                .any(|s| s == "block")
    }
    pub fn blocks_password_change(&self) -> bool {
        self.enabled
            && self
                .pre_change_password
                .shields
                .iter()
                .any(|s| s == "block")
    }

    /// Applies a PATCH body; on error nothing changes.
    pub fn patch(&mut self, mut p: Payload) -> Result<(), InvalidBody> {
        p.require_some()?;
        p.allow_only(&[
            "enabled",
            "shields",
            "admin_notification_frequency",
            "method",
            "stage",
        ])?;
        let mut next = self.clone();
        if let Some(b) = p.bool("enabled")? {
            next.enabled = b;
        }
        if let Some(v) = p.raw("shields") {
            next.shields = shields(v, "shields", SHIELDS)?;
        }
        if let Some(v) = p.raw("admin_notification_frequency") {
            next.admin_notification_frequency = shields(
                v,
                "admin_notification_frequency",
                &["immediately", "daily", "weekly", "monthly"],
            )?;
        }
        if let Some(m) = p.string("method")? {
            if m != "standard" && m != "enhanced" {
                return Err(InvalidBody::on_property(
                    format!("No enum match for: \"{m}\""),
                    "method",
                ));
            }
            next.method = m;
        }
        if let Some(stage) = p.object("stage")? {
            let mut sp = Payload::from_value(Value::Object(stage))?;
            sp.allow_only(&["pre-user-registration", "pre-change-password"])?;
            for (key, slot) in [
                ("pre-user-registration", &mut next.pre_user_registration),
                ("pre-change-password", &mut next.pre_change_password),
            ] {
                if let Some(o) = sp.object(key)? {
                    let mut op = Payload::from_value(Value::Object(o))?;
                    op.allow_only(&["shields"])?;
                    if let Some(v) = op.raw("shields") {
                        slot.shields = shields(v, &format!("stage.{key}.shields"), STAGE_SHIELDS)?;
                    }
                }
            }
        }
        *self = next;
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "enabled": self.enabled,
            "shields": self.shields,
            "admin_notification_frequency": self.admin_notification_frequency,
            "method": self.method,
            "stage": {
                "pre-user-registration": {"shields": self.pre_user_registration.shields},
                "pre-change-password": {"shields": self.pre_change_password.shields},
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_and_ranges() {
        assert!(is_common("password") && is_common("PassWord") && is_common("123456"));
        assert!(!is_common("Sup3r-secret!"));
        let body =
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n";
        assert!(range_contains(body, "0018a45c4d1def81644b54ab7f969b88d65"));
        assert!(
            !range_contains(body, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"),
            "padding"
        );
        assert!(!range_contains(body, "FFFF"));
        assert_eq!(
            range_parts("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"),
            ("5BAA6", "1E4C9B93F3F0682250B6CF8331B7EE68FD8")
        );
    }

    #[test]
    fn settings_patch() {
        let mut s = BreachedPasswordSettings::default();
        assert!(!s.blocks_login());
        s.patch(Payload::from_value(json!({"enabled": true, "shields": ["block"], "stage": {"pre-user-registration": {"shields": ["block"]}}})).unwrap())
            .unwrap();
        assert!(
            s.blocks_login()
                && s.blocks_signup()
                && !s.notifies_user()
                && !s.blocks_password_change()
        );
        for bad in [
            json!({"shields": ["nuke"]}),
            json!({"method": "x"}),
            json!({"stage": {"later": {}}}),
            json!({"enabled": true, "shields": "block"}),
        ] {
            let before = s.clone();
            assert!(
                s.patch(Payload::from_value(bad.clone()).unwrap()).is_err(),
                "{bad}"
            );
            assert_eq!(s, before);
        }
    }
}
