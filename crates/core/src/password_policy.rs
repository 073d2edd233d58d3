//! Database-connection password policy: Auth0's five strength levels plus the minimum
//! length, dictionary and personal-information options.
//!
//! History (reuse of earlier passwords) needs stored hashes, so the service checks it; this
//! module only says how many to keep.

use serde::{Deserialize, Serialize};

/// Auth0's `passwordPolicy` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StrengthLevel {
    None,
    Low,
    Fair,
    #[default]
    Good,
    Excellent,
}

impl StrengthLevel {
    /// Auth0's name of the level (`passwordPolicy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Fair => "fair",
            Self::Good => "good",
            Self::Excellent => "excellent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "low" => Self::Low,
            "fair" => Self::Fair,
            "good" => Self::Good,
            "excellent" => Self::Excellent,
            _ => return None,
        })
    }

    fn default_min_length(self) -> usize {
        match self {
            Self::None => 1,
            Self::Low => 6,
            Self::Fair | Self::Good => 8,
            Self::Excellent => 10,
        }
    }
}

/// Everything a connection says about acceptable passwords.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PasswordPolicy {
    pub level: StrengthLevel,
    /// `password_complexity_options.min_length`; overrides the level's length when set.
    pub min_length: Option<usize>,
    /// `password_history.size` when `password_history.enable`.
    pub history_size: Option<usize>,
    /// `password_dictionary.dictionary` when enabled (compared case-insensitively).
    pub dictionary: Option<Vec<String>>,
    /// `password_no_personal_info.enable`.
    pub no_personal_info: bool,
}

/// Why a password was refused, with the message Auth0's Management API prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("PasswordStrengthError: Password is too weak")]
    TooWeak,
    #[error("PasswordDictionaryError: Password is too common")]
    TooCommon,
    #[error("PasswordNoUserInfoError: Password contains user information")]
    ContainsUserInfo,
    #[error("PasswordHistoryError: Password has previously been used")]
    PreviouslyUsed,
    #[error(
        "PasswordLeakedError: This password has appeared in a data breach of another site; choose a different one"
    )]
    Leaked,
}

/// Most bytes a password may have whatever the policy: bounds hashing work per request.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Longest password the `excellent` level accepts (Auth0's rule).
const EXCELLENT_MAX_CHARS: usize = 128;

impl PasswordPolicy {
    /// The rules in words, for forms that ask for a new password.
    pub fn describe(&self) -> String {
        let min = self.min_length.unwrap_or(self.level.default_min_length());
        let classes = match self.level {
            StrengthLevel::None | StrengthLevel::Low => "",
            StrengthLevel::Fair => ", with lower-case and upper-case letters and a number",
            StrengthLevel::Good | StrengthLevel::Excellent => {
                ", with three of: lower-case letters, upper-case letters, numbers, special characters (!@#$%^&*)"
            }
        };
        let mut s = format!("At least {min} characters{classes}.");
        if self.level == StrengthLevel::Excellent {
            s.push_str(" No more than 2 identical characters in a row.");
        }
        if self.history_size.is_some() {
            s.push_str(" Not one of your recent passwords.");
        }
        if self.no_personal_info {
            s.push_str(" Not containing your name or email.");
        }
        s
    }

    /// Checks a candidate password. `personal` lists the user's name, username, email local
    /// part and similar strings for the no-personal-info rule.
    pub fn check(&self, password: &str, personal: &[&str]) -> Result<(), PasswordRejection> {
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordRejection::TooWeak);
        }
        let chars = password.chars().count();
        let min = self
            .min_length
            .unwrap_or_else(|| self.level.default_min_length());
        if chars < min {
            return Err(PasswordRejection::TooWeak);
        }
        let classes = CharClasses::of(password);
        let ok = match self.level {
            StrengthLevel::None | StrengthLevel::Low => true,
            StrengthLevel::Fair => classes.lower && classes.upper && classes.digit,
            StrengthLevel::Good => classes.count() >= 3,
            StrengthLevel::Excellent => {
                classes.count() >= 3 && chars <= EXCELLENT_MAX_CHARS && !has_run_over_two(password)
            }
        };
        if !ok {
            return Err(PasswordRejection::TooWeak);
        }
        if let Some(words) = &self.dictionary {
            let lower = password.to_lowercase();
            if words.iter().any(|w| w.to_lowercase() == lower) {
                return Err(PasswordRejection::TooCommon);
            }
        }
        if self.no_personal_info {
            let lower = password.to_lowercase();
            if personal
                .iter()
                .filter(|p| p.chars().count() >= 3)
                .any(|p| lower.contains(&p.to_lowercase()))
            {
                return Err(PasswordRejection::ContainsUserInfo);
            }
        }
        Ok(())
    }
}

struct CharClasses {
    lower: bool,
    upper: bool,
    digit: bool,
    special: bool,
}

impl CharClasses {
    fn of(s: &str) -> Self {
        Self {
            lower: s.chars().any(char::is_lowercase),
            upper: s.chars().any(char::is_uppercase),
            digit: s.chars().any(|c| c.is_ascii_digit()),
            special: s.chars().any(|c| c.is_ascii_punctuation() || c == ' '),
        }
    }
    fn count(&self) -> usize {
        [self.lower, self.upper, self.digit, self.special]
            .iter()
            .filter(|b| **b)
            .count()
    }
}

/// True when some character repeats more than twice in a row (`aaa`).
fn has_run_over_two(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(l: StrengthLevel) -> PasswordPolicy {
        PasswordPolicy {
            level: l,
            ..Default::default()
        }
    }

    #[test]
    fn levels_follow_auth0_rules() {
        assert!(level(StrengthLevel::None).check("a", &[]).is_ok());
        assert!(level(StrengthLevel::Low).check("abcde", &[]).is_err());
        assert!(level(StrengthLevel::Low).check("abcdef", &[]).is_ok());
        assert!(level(StrengthLevel::Fair).check("abcdefg1", &[]).is_err());
        assert!(level(StrengthLevel::Fair).check("Abcdefg1", &[]).is_ok());
        assert!(level(StrengthLevel::Good).check("abcdefg1", &[]).is_err());
        assert!(level(StrengthLevel::Good).check("abcdef1!", &[]).is_ok());
        assert!(level(StrengthLevel::Good).check("Ab1!", &[]).is_err());
        assert!(
            level(StrengthLevel::Excellent)
                .check("Abcdef1!xy", &[])
                .is_ok()
        );
        assert!(
            level(StrengthLevel::Excellent)
                .check("Abcdef1!x", &[])
                .is_err()
        );
        assert!(
            level(StrengthLevel::Excellent)
                .check("Abcccf1!xy", &[])
                .is_err()
        );
    }

    #[test]
    fn min_length_overrides_level() {
        let p = PasswordPolicy {
            level: StrengthLevel::Low,
            min_length: Some(12),
            ..Default::default()
        };
        assert_eq!(p.check("abcdefghijk", &[]), Err(PasswordRejection::TooWeak));
        assert!(p.check("abcdefghijkl", &[]).is_ok());
    }

    #[test]
    fn dictionary_and_personal_info() {
        let p = PasswordPolicy {
            level: StrengthLevel::None,
            dictionary: Some(vec!["Hunter2".into()]),
            no_personal_info: true,
            ..Default::default()
        };
        assert_eq!(p.check("hunter2", &[]), Err(PasswordRejection::TooCommon));
        assert_eq!(
            p.check("xxJaneDoexx", &["janedoe"]),
            Err(PasswordRejection::ContainsUserInfo)
        );
        assert!(p.check("correct horse", &["janedoe"]).is_ok());
    }
}
