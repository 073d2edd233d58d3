//! Initials pictures drawn by Gatehouse itself (tenant setting `default_picture:
//! "initials"`): which letters a user gets, and the SVG served at `/u/avatars/<initials>.svg`.
//! Letters are taken by `char` and uppercased, so any script works; the SVG escapes them and
//! holds no script, link or external reference.

/// At most this many letters are drawn (and accepted in an avatar's URL).
pub const MAX_INITIALS: usize = 3;

fn first_letter(word: &str) -> Option<char> {
    word.chars().find(|c| c.is_alphanumeric())
}

fn upper(letters: impl Iterator<Item = char>) -> String {
    letters
        .flat_map(char::to_uppercase)
        .take(MAX_INITIALS)
        .collect()
}

/// A user's initials: the first letters of the given and family names, else of the first two
/// words of the name (unless it is the email address), else the first two letters or digits
/// of the email's local part; `"?"`-free: a user with nothing gets `"U"`.
pub fn initials(
    given_name: Option<&str>,
    family_name: Option<&str>,
    name: Option<&str>,
    email: Option<&str>,
) -> String {
    if let (Some(g), Some(f)) = (
        given_name.and_then(first_letter),
        family_name.and_then(first_letter),
    ) {
        return upper([g, f].into_iter());
    }
    if let Some(n) = name.filter(|n| !n.contains('@')) {
        let letters: Vec<char> = n
            .split_whitespace()
            .filter_map(first_letter)
            .take(2)
            .collect();
        if !letters.is_empty() {
            return upper(letters.into_iter());
        }
    }
    let local = email.and_then(|e| e.split('@').next()).unwrap_or("");
    let letters = upper(local.chars().filter(|c| c.is_alphanumeric()).take(2));
    if letters.is_empty() {
        "U".into()
    } else {
        letters
    }
}

/// Whether a URL's initials are ones Gatehouse would draw: 1 to [`MAX_INITIALS`] letters or
/// digits.
pub fn valid_initials(s: &str) -> bool {
    let n = s.chars().count();
    (1..=MAX_INITIALS).contains(&n) && s.chars().all(char::is_alphanumeric)
}

/// Background colours with enough contrast for white letters; one is picked per initials.
const PALETTE: &[&str] = &[
    "#1f6feb", "#8250df", "#bf3989", "#cf222e", "#bc4c00", "#4d7c0f", "#116329", "#0a7b83",
    "#0969da", "#6639ba", "#9a6700", "#57606a",
];

/// The background colour of these initials: the same letters always get the same colour.
pub fn colour(initials: &str) -> &'static str {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let hash = initials.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The SVG picture of these initials (square, 128 units, scaled by the page).
pub fn svg(initials: &str) -> String {
    let text = escape_xml(initials);
    let size = match initials.chars().count() {
        0 | 1 => 64,
        2 => 54,
        _ => 42,
    };
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img" aria-label="{text}">"#,
            r#"<rect width="128" height="128" fill="{bg}"/>"#,
            r##"<text x="64" y="64" dy="0.35em" text-anchor="middle" fill="#ffffff" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="{size}" font-weight="600">{text}</text>"##,
            "</svg>"
        ),
        text = text,
        bg = colour(initials),
        size = size,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_by_char_uppercased() {
        assert_eq!(initials(Some("zoë"), Some("ångström"), None, None), "ZÅ");
        assert_eq!(
            initials(None, None, Some("Jean-Luc Picard"), Some("j@x.io")),
            "JP"
        );
        assert_eq!(initials(None, None, Some("jl@x.io"), Some("jl@x.io")), "JL");
        assert_eq!(
            initials(None, None, None, Some("李小龍@example.cn")),
            "李小"
        );
        assert_eq!(initials(None, None, None, Some("ßa@example.de")), "SSA");
        assert_eq!(initials(None, None, None, Some("@x")), "U");
        assert_eq!(initials(Some("  "), Some("Doe"), Some("Ann"), None), "A");
    }

    #[test]
    fn svg_is_escaped_and_inert() {
        assert!(valid_initials("ZÅ") && valid_initials("李") && !valid_initials("<a"));
        assert!(!valid_initials("") && !valid_initials("ABCD"));
        let s = svg("<&\"");
        assert!(s.contains("&lt;&amp;&quot;") && !s.contains("<&"), "{s}");
        assert!(!s.contains("script") && !s.contains("href"));
        assert_eq!(colour("JD"), colour("JD"));
        assert!(svg("ZÅ").contains(">ZÅ</text>"));
    }
}
