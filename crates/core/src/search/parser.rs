//! A recursive-descent parser for Auth0's v3 user-search syntax.
//!
//! Precedence follows Lucene: `NOT` binds tightest, then `AND`, then `OR`; clauses written
//! side by side without an operator are OR-ed (Lucene's default operator).

use super::ast::*;
use super::dates::parse_date;

/// Longest query accepted, in characters, and deepest nesting of parentheses.
const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;
/// Terms in one query: enough for any hand-written search, and a bound on the SQL a query
/// becomes (thousands of OR-ed terms overflowed SQLite's expression depth and held database
/// connections for seconds; security review L5).
pub const MAX_TERMS: usize = 100;

/// A query that cannot be run, with the character position where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at position {position})")]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

pub fn parse(input: &str) -> Result<Query, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    if chars.len() > MAX_LEN {
        return Err(ParseError {
            position: MAX_LEN,
            message: format!("The query is longer than {MAX_LEN} characters"),
        });
    }
    let mut p = Parser {
        chars,
        pos: 0,
        depth: 0,
        group_field: None,
    };
    p.skip_ws();
    if p.at_end() {
        return Err(p.error("The query is empty"));
    }
    let q = p.parse_or()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error(format!("Unexpected '{}'", p.chars[p.pos])));
    }
    if q.leaves() > MAX_TERMS {
        return Err(ParseError {
            position: 0,
            message: format!("The query has more than {MAX_TERMS} terms"),
        });
    }
    Ok(q)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    /// Inside `field:( … )`, the field that bare terms apply to.
    group_field: Option<(String, usize)>,
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            position: self.pos,
            message: message.into(),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// Consumes `word` when it stands alone (followed by space, a parenthesis, a quote or the end).
    fn eat_keyword(&mut self, word: &str) -> bool {
        let n = word.chars().count();
        let matches = self.chars[self.pos..]
            .iter()
            .take(n)
            .copied()
            .eq(word.chars());
        let boundary = self
            .chars
            .get(self.pos + n)
            .is_none_or(|c| is_space(*c) || *c == '(' || *c == '"');
        if matches && boundary {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars[self.pos..].iter().take(n).copied().eq(s.chars()) {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self) -> Result<Query, ParseError> {
        let mut items = vec![self.parse_and()?];
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                break;
            }
            // An explicit OR, or clauses side by side (Lucene's default operator).
            let _ = self.eat_keyword("OR") || self.eat_str("||");
            items.push(self.parse_and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Query::Or(items)
        })
    }

    fn parse_and(&mut self) -> Result<Query, ParseError> {
        let mut items = vec![self.parse_unary()?];
        loop {
            self.skip_ws();
            if self.eat_keyword("AND") || self.eat_str("&&") {
                items.push(self.parse_unary()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Query::And(items)
        })
    }

    fn parse_unary(&mut self) -> Result<Query, ParseError> {
        self.skip_ws();
        if self.eat_keyword("NOT") {
            return Ok(Query::Not(Box::new(self.nested(Self::parse_unary)?)));
        }
        if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| !is_space(*c)) {
            self.pos += 1;
            return Ok(Query::Not(Box::new(self.nested(Self::parse_primary)?)));
        }
        if self.peek() == Some('+') && self.chars.get(self.pos + 1).is_some_and(|c| !is_space(*c)) {
            self.pos += 1;
        }
        self.parse_primary()
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Query, ParseError>,
    ) -> Result<Query, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("The query nests deeper than {MAX_DEPTH} levels")));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn parse_primary(&mut self) -> Result<Query, ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("Expected a term")),
            Some('(') => {
                self.pos += 1;
                let q = self.nested(Self::parse_or)?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error("Expected ')'"));
                }
                self.pos += 1;
                Ok(q)
            }
            Some(')') => Err(self.error("Unexpected ')'")),
            Some('"') => {
                let start = self.pos;
                let text = self.read_phrase()?;
                self.free_or_grouped(Pattern::Exact(text), start)
            }
            Some(_) => {
                let start = self.pos;
                let word = self.read_word(true)?;
                if self.peek() == Some(':') {
                    self.pos += 1;
                    let name = unescape(&word);
                    return self.parse_field_value(&name, start);
                }
                if word == "AND" || word == "OR" {
                    return Err(ParseError {
                        position: start,
                        message: format!("'{word}' needs a clause on each side"),
                    });
                }
                let pattern = pattern_of(&word).map_err(|m| ParseError {
                    position: start,
                    message: m,
                })?;
                self.free_or_grouped(pattern, start)
            }
        }
    }

    /// A bare term: free text, or the group's field inside `field:( … )`.
    fn free_or_grouped(&mut self, pattern: Pattern, start: usize) -> Result<Query, ParseError> {
        if let Some((name, _)) = self.group_field.clone() {
            let field = resolve_field(&name).map_err(|m| ParseError {
                position: start,
                message: m,
            })?;
            return typed_match(field, pattern).map_err(|m| ParseError {
                position: start,
                message: m,
            });
        }
        check_wildcard(&pattern).map_err(|m| ParseError {
            position: start,
            message: m,
        })?;
        if matches!(pattern, Pattern::Exact(ref s) if s.is_empty()) {
            return Err(ParseError {
                position: start,
                message: "Empty terms match nothing".into(),
            });
        }
        Ok(Query::Match {
            field: None,
            pattern,
            value: None,
        })
    }

    fn parse_field_value(&mut self, name: &str, start: usize) -> Result<Query, ParseError> {
        let at = |m: String| ParseError {
            position: start,
            message: m,
        };
        if name == "_exists_" {
            let vstart = self.pos;
            let target = if self.peek() == Some('"') {
                self.read_phrase()?
            } else {
                unescape(&self.read_word(false)?)
            };
            let field = resolve_field(&target).map_err(|m| ParseError {
                position: vstart,
                message: m,
            })?;
            return Ok(Query::Exists(field));
        }
        match self.peek() {
            Some('(') => {
                resolve_field(name).map_err(at)?;
                self.pos += 1;
                let outer = self.group_field.replace((name.to_string(), start));
                let q = self.nested(Self::parse_or);
                self.group_field = outer;
                let q = q?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error("Expected ')'"));
                }
                self.pos += 1;
                Ok(q)
            }
            Some('[') | Some('{') => {
                let field = resolve_field(name).map_err(at)?;
                self.parse_range(field)
            }
            Some('"') => {
                let field = resolve_field(name).map_err(at)?;
                let text = self.read_phrase()?;
                typed_match(field, Pattern::Exact(text)).map_err(at)
            }
            None => Err(self.error(format!("Expected a value after '{name}:'"))),
            Some(c) if is_space(c) || c == ')' => {
                Err(self.error(format!("Expected a value after '{name}:'")))
            }
            Some(_) => {
                let field = resolve_field(name).map_err(at)?;
                let word = self.read_word(false)?;
                let pattern = pattern_of(&word).map_err(at)?;
                typed_match(field, pattern).map_err(at)
            }
        }
    }

    fn parse_range(&mut self, field: Field) -> Result<Query, ParseError> {
        let lower_inclusive = self.peek() == Some('[');
        self.pos += 1;
        self.skip_ws();
        let lstart = self.pos;
        let lower = self.read_range_value()?;
        self.skip_ws();
        if !self.eat_keyword("TO") {
            return Err(self.error("Expected 'TO' in a range"));
        }
        self.skip_ws();
        let ustart = self.pos;
        let upper = self.read_range_value()?;
        self.skip_ws();
        let upper_inclusive = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(self.error("Expected ']' or '}' to close the range")),
        };
        self.pos += 1;
        let lower = range_bound(&field, lower, lower_inclusive, true).map_err(|m| ParseError {
            position: lstart,
            message: m,
        })?;
        let upper = range_bound(&field, upper, upper_inclusive, false).map_err(|m| ParseError {
            position: ustart,
            message: m,
        })?;
        Ok(Query::Range {
            field,
            lower,
            upper,
        })
    }

    fn read_range_value(&mut self) -> Result<Option<String>, ParseError> {
        if self.peek() == Some('"') {
            return self.read_phrase().map(Some);
        }
        let start = self.pos;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if is_space(c) || c == ']' || c == '}' {
                break;
            }
            if c == '\\' {
                self.pos += 1;
                match self.peek() {
                    Some(e) => out.push(e),
                    None => return Err(self.error("Dangling escape character")),
                }
            } else {
                out.push(c);
            }
            self.pos += 1;
        }
        if out.is_empty() {
            return Err(ParseError {
                position: start,
                message: "Expected a range bound".into(),
            });
        }
        Ok(if out == "*" && self.chars[start] == '*' {
            None
        } else {
            Some(out)
        })
    }

    /// A quoted phrase, with `\"` and `\\` escapes; returns its text.
    fn read_phrase(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        position: start,
                        message: "Unterminated quoted phrase".into(),
                    });
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => out.push(c),
                        None => return Err(self.error("Dangling escape character")),
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A raw word, escapes kept (so `\*` stays literal until [`pattern_of`]). A field name
    /// stops at an unescaped `:`; a value may contain colons (times, IPv6).
    fn read_word(&mut self, stop_at_colon: bool) -> Result<String, ParseError> {
        let start = self.pos;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if is_space(c) || c == '(' || c == ')' || c == '"' || (stop_at_colon && c == ':') {
                break;
            }
            if c == '\\' {
                out.push(c);
                self.pos += 1;
                match self.peek() {
                    Some(e) => out.push(e),
                    None => return Err(self.error("Dangling escape character")),
                }
                self.pos += 1;
                continue;
            }
            out.push(c);
            self.pos += 1;
        }
        if out.is_empty() {
            return Err(ParseError {
                position: start,
                message: format!("Unexpected '{}'", self.peek().unwrap_or(' ')),
            });
        }
        Ok(out)
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(e) = chars.next() {
                out.push(e);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns a raw word into an exact value or a wildcard pattern. `?` is refused as in Auth0.
fn pattern_of(raw: &str) -> Result<Pattern, String> {
    let mut pieces = vec![];
    let mut lit = String::new();
    let mut chars = raw.chars();
    let mut wild = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => lit.extend(chars.next()),
            '*' => {
                wild = true;
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                if pieces.last() != Some(&Piece::Any) {
                    pieces.push(Piece::Any);
                }
            }
            '?' => return Err("The '?' wildcard is not supported; use '*'".into()),
            c => lit.push(c),
        }
    }
    if !wild {
        return Ok(Pattern::Exact(lit));
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(Pattern::Wildcard(pieces))
}

/// Auth0: a wildcard other than a plain prefix needs at least 3 literal characters.
fn check_wildcard(p: &Pattern) -> Result<(), String> {
    if let Pattern::Wildcard(pieces) = p
        && pieces.first() == Some(&Piece::Any)
        && p.literal_len() < 3
    {
        return Err(
            "Wildcards at the start of a term need at least 3 other characters (e.g. *usa)".into(),
        );
    }
    Ok(())
}

fn resolve_field(name: &str) -> Result<Field, String> {
    use TextField as T;
    Ok(Field::Text(match name {
        "user_id" => T::UserId,
        "email" => T::Email,
        "email.domain" => T::EmailDomain,
        "username" => T::Username,
        "phone_number" => T::PhoneNumber,
        "name" => T::Name,
        "given_name" => T::GivenName,
        "family_name" => T::FamilyName,
        "nickname" => T::Nickname,
        "picture" => T::Picture,
        "last_ip" => T::LastIp,
        "identities.connection" => T::IdentityConnection,
        "identities.provider" => T::IdentityProvider,
        "identities.user_id" => T::IdentityUserId,
        "email_verified" => return Ok(Field::Bool("email_verified")),
        "phone_verified" => return Ok(Field::Bool("phone_verified")),
        "blocked" => return Ok(Field::Bool("blocked")),
        "identities.isSocial" => return Ok(Field::Bool("identities.isSocial")),
        "logins_count" => return Ok(Field::LoginsCount),
        "created_at" => return Ok(Field::Date("created_at")),
        "updated_at" => return Ok(Field::Date("updated_at")),
        "last_login" => return Ok(Field::Date("last_login")),
        _ => {
            for (prefix, kind) in [
                ("app_metadata.", MetadataKind::App),
                ("user_metadata.", MetadataKind::User),
            ] {
                if let Some(rest) = name.strip_prefix(prefix) {
                    let path: Vec<String> = rest.split('.').map(String::from).collect();
                    if path.iter().any(|s| s.is_empty() || s.contains('$')) {
                        return Err(format!("Invalid metadata path '{name}'"));
                    }
                    return Ok(Field::Metadata { kind, path });
                }
            }
            return Err(format!("Unknown field '{name}'"));
        }
    }))
}

fn metadata_value(text: String) -> Value {
    let number = text.parse::<f64>().ok().filter(|n| n.is_finite());
    Value::Metadata { text, number }
}

/// A `field:term` clause, typed by the field.
fn typed_match(field: Field, pattern: Pattern) -> Result<Query, String> {
    match &field {
        Field::Text(_) => {
            check_wildcard(&pattern)?;
            Ok(Query::Match {
                field: Some(field),
                pattern,
                value: None,
            })
        }
        Field::Metadata { .. } => {
            check_wildcard(&pattern)?;
            let value = match &pattern {
                Pattern::Exact(s) => Some(metadata_value(s.clone())),
                Pattern::Wildcard(_) => None,
            };
            Ok(Query::Match {
                field: Some(field),
                pattern,
                value,
            })
        }
        Field::Bool(name) => match pattern {
            Pattern::Exact(ref s) if s == "true" || s == "false" => {
                let v = s == "true";
                Ok(Query::Match {
                    field: Some(field),
                    pattern,
                    value: Some(Value::Bool(v)),
                })
            }
            _ => Err(format!("{name} is a boolean: use true or false")),
        },
        Field::LoginsCount => match pattern {
            Pattern::Exact(ref s) => {
                let n: i64 = s
                    .parse()
                    .map_err(|_| "logins_count is a number".to_string())?;
                Ok(Query::Match {
                    field: Some(field),
                    pattern,
                    value: Some(Value::Integer(n)),
                })
            }
            Pattern::Wildcard(_) => {
                Err("Wildcards do not apply to logins_count; use a range".into())
            }
        },
        Field::Date(name) => {
            match pattern {
                Pattern::Exact(ref s) => {
                    // A date names a period (a day, a month): match all of it.
                    let (a, b) = parse_date(s).ok_or_else(|| format!("'{s}' is not a date for {name} (use 2019-01-31 or 2019-01-31T10:00:00Z)"))?;
                    Ok(Query::Range {
                        field,
                        lower: Bound {
                            value: RangeValue::Value(Value::Date(a)),
                            inclusive: true,
                        },
                        upper: Bound {
                            value: RangeValue::Value(Value::Date(b)),
                            inclusive: true,
                        },
                    })
                }
                Pattern::Wildcard(_) => {
                    Err(format!("Wildcards do not apply to {name}; use a range"))
                }
            }
        }
    }
}

fn range_bound(
    field: &Field,
    raw: Option<String>,
    inclusive: bool,
    is_lower: bool,
) -> Result<Bound, String> {
    let Some(raw) = raw else {
        return Ok(Bound {
            value: RangeValue::Unbounded,
            inclusive,
        });
    };
    let value = match field {
        Field::LoginsCount => Value::Integer(
            raw.parse()
                .map_err(|_| format!("'{raw}' is not a number for logins_count"))?,
        ),
        Field::Date(name) => {
            let (start, end) =
                parse_date(&raw).ok_or_else(|| format!("'{raw}' is not a date for {name}"))?;
            // A partial date stands for its whole period: `[* TO 2017-12]` includes December.
            let ms = match (is_lower, inclusive) {
                (true, true) | (false, false) => start,
                (true, false) | (false, true) => end,
            };
            Value::Date(ms)
        }
        Field::Text(_) => Value::Text(raw),
        Field::Metadata { .. } => metadata_value(raw),
        Field::Bool(name) => return Err(format!("Ranges do not apply to {name}")),
    };
    Ok(Bound {
        value: RangeValue::Value(value),
        inclusive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(field: TextField, s: &str) -> Query {
        Query::Match {
            field: Some(Field::Text(field)),
            pattern: Pattern::Exact(s.into()),
            value: None,
        }
    }

    #[test]
    fn terms_phrases_and_precedence() {
        assert_eq!(
            parse(r#"name:"jane smith""#).unwrap(),
            exact(TextField::Name, "jane smith")
        );
        let q = parse("name:a OR name:b AND email:c").unwrap();
        assert_eq!(
            q,
            Query::Or(vec![
                exact(TextField::Name, "a"),
                Query::And(vec![
                    exact(TextField::Name, "b"),
                    exact(TextField::Email, "c")
                ])
            ])
        );
        let q = parse("NOT name:a name:b").unwrap();
        assert_eq!(
            q,
            Query::Or(vec![
                Query::Not(Box::new(exact(TextField::Name, "a"))),
                exact(TextField::Name, "b")
            ])
        );
        let q = parse("(name:a OR name:b) AND -email:c").unwrap();
        assert!(matches!(q, Query::And(ref v) if v.len() == 2 && matches!(v[1], Query::Not(_))));
    }

    #[test]
    fn wildcards_follow_auth0_rules() {
        assert!(matches!(
            parse("name:j*").unwrap(),
            Query::Match {
                pattern: Pattern::Wildcard(_),
                ..
            }
        ));
        assert!(parse("email:*usa").is_ok());
        assert!(parse("name:*richard*").is_ok());
        assert!(
            parse("email:*sa")
                .unwrap_err()
                .message
                .contains("at least 3")
        );
        assert!(parse("name:jo?n").unwrap_err().message.contains("'?'"));
        assert_eq!(parse(r"name:a\*b").unwrap(), exact(TextField::Name, "a*b"));
        assert!(parse("logins_count:1*").is_err());
    }

    #[test]
    fn ranges_dates_and_exists() {
        let q = parse("logins_count:{100 TO *]").unwrap();
        assert_eq!(
            q,
            Query::Range {
                field: Field::LoginsCount,
                lower: Bound {
                    value: RangeValue::Value(Value::Integer(100)),
                    inclusive: false
                },
                upper: Bound {
                    value: RangeValue::Unbounded,
                    inclusive: true
                },
            }
        );
        assert!(parse("created_at:[2019-01-01 TO 2019-12-31]").is_ok());
        assert!(parse("last_login:[* TO 2017-12]").is_ok());
        assert!(parse("created_at:[2019-01-01T10:00:00Z TO *]").is_ok());
        assert!(parse("created_at:[yesterday TO *]").is_err());
        assert!(parse("blocked:[true TO false]").is_err());
        assert_eq!(
            parse("_exists_:app_metadata.plan").unwrap(),
            Query::Exists(Field::Metadata {
                kind: MetadataKind::App,
                path: vec!["plan".into()]
            })
        );
    }

    #[test]
    fn fields_are_checked() {
        assert!(
            parse("nosuchfield:x")
                .unwrap_err()
                .message
                .contains("Unknown field")
        );
        assert!(parse("blocked:yes").is_err());
        assert!(parse("email_verified:true").is_ok());
        assert!(parse("app_metadata.:x").is_err());
        assert!(parse("app_metadata.subscription.plan:gold").is_ok());
        assert!(parse("identities.connection:\"Username-Password-Authentication\"").is_ok());
        assert!(parse("name:(jane OR john)").is_ok());
    }

    #[test]
    fn errors_carry_positions() {
        let e = parse("name:jane AND (email:x").unwrap_err();
        assert_eq!(e.position, 22);
        assert!(parse("").is_err());
        assert!(parse("name:").is_err());
        assert!(parse("name:\"open").is_err());
        assert!(parse(")").is_err());
        assert!(parse("AND").is_err());
        assert!(parse("name:a AND OR name:b").is_err());
        assert!(parse("\"AND\"").is_ok());
        assert!(parse(&"(".repeat(100)).is_err());
    }
}
