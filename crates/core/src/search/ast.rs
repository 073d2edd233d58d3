//! The search AST: what a query means, independent of SQL.

pub use crate::metadata::MetadataKind;

/// A searchable text field of the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    UserId,
    Email,
    EmailDomain,
    Username,
    PhoneNumber,
    Name,
    GivenName,
    FamilyName,
    Nickname,
    Picture,
    LastIp,
    IdentityConnection,
    IdentityProvider,
    IdentityUserId,
}

impl TextField {
    /// Auth0 compares the normalized profile fields case-insensitively, everything else
    /// case-sensitively.
    pub fn case_insensitive(self) -> bool {
        matches!(
            self,
            Self::Email
                | Self::EmailDomain
                | Self::Name
                | Self::GivenName
                | Self::FamilyName
                | Self::Nickname
        )
    }

    /// The fields a term without a field name is matched against.
    pub const FREE_TEXT: &'static [TextField] = &[
        Self::UserId,
        Self::Email,
        Self::Username,
        Self::Name,
        Self::GivenName,
        Self::FamilyName,
        Self::Nickname,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Text(TextField),
    /// `email_verified`, `phone_verified`, `blocked`, `identities.isSocial`.
    Bool(&'static str),
    LoginsCount,
    /// `created_at`, `updated_at`, `last_login`.
    Date(&'static str),
    Metadata {
        kind: MetadataKind,
        path: Vec<String>,
    },
}

/// A piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// `*`: zero or more characters.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The whole value equals this (quoted phrases and plain terms alike: v3 does not tokenize).
    Exact(String),
    /// Contains at least one `*`.
    Wildcard(Vec<Piece>),
}

impl Pattern {
    /// `Some(prefix)` when the pattern is `literal*`.
    pub fn as_prefix(&self) -> Option<&str> {
        match self {
            Pattern::Wildcard(p) => match p.as_slice() {
                [Piece::Literal(l), Piece::Any] => Some(l),
                _ => None,
            },
            Pattern::Exact(_) => None,
        }
    }

    pub fn literal_len(&self) -> usize {
        match self {
            Pattern::Exact(s) => s.chars().count(),
            Pattern::Wildcard(p) => p
                .iter()
                .map(|x| match x {
                    Piece::Literal(l) => l.chars().count(),
                    Piece::Any => 0,
                })
                .sum(),
        }
    }
}

/// A typed value compared against a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Integer(i64),
    /// Epoch milliseconds.
    Date(i64),
    /// A metadata value: the text as written (and its number, when it is one).
    Metadata {
        text: String,
        number: Option<f64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RangeValue {
    Unbounded,
    Value(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub value: RangeValue,
    pub inclusive: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Or(Vec<Query>),
    And(Vec<Query>),
    Not(Box<Query>),
    /// `field:value`; `field` is `None` for a free term.
    Match {
        field: Option<Field>,
        pattern: Pattern,
        value: Option<Value>,
    },
    Range {
        field: Field,
        lower: Bound,
        upper: Bound,
    },
    Exists(Field),
}

impl Query {
    /// Field terms, free terms, ranges and `_exists_` terms in the query: what its SQL grows
    /// with.
    pub fn leaves(&self) -> usize {
        match self {
            Query::Or(items) | Query::And(items) => items.iter().map(Query::leaves).sum(),
            Query::Not(q) => q.leaves(),
            Query::Match { .. } | Query::Range { .. } | Query::Exists(_) => 1,
        }
    }
}
