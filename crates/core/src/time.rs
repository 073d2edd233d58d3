//! Timestamps as Auth0 prints them: ISO 8601 UTC with milliseconds and a `Z`.

/// Milliseconds since the Unix epoch, the unit every stored timestamp uses.
pub type EpochMillis = i64;

/// Formats epoch milliseconds as `2017-11-02T23:34:03.803Z`.
pub fn iso8601(ms: EpochMillis) -> String {
    match Iso8601::new(ms) {
        Some(t) => t.as_str().to_string(),
        None => {
            let (y, m, d, h, min, sec, millis) = parts(ms);
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{millis:03}Z")
        }
    }
}

/// A timestamp of years 0 to 9999 formatted on the stack: exports write millions of them.
pub struct Iso8601([u8; 24]);

impl Iso8601 {
    pub fn new(ms: EpochMillis) -> Option<Self> {
        let (y, m, d, h, min, sec, millis) = parts(ms);
        if !(0..=9999).contains(&y) {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, y as u32);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, h);
        put(14, 2, min);
        put(17, 2, sec);
        put(20, 3, millis);
        Some(Self(b))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// Year, month, day, hour, minute, second and millisecond of epoch milliseconds (UTC).
fn parts(ms: EpochMillis) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, sod / 3600, (sod % 3600) / 60, sod % 60, millis)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm: shift the era to start in March so leap days fall last.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01 (the inverse of `civil_from_days`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 date-time (`2020-01-02T03:04:05Z`, optional fraction, `Z` or a
/// `±hh:mm` offset) into epoch milliseconds; `None` when it is not one.
pub fn parse_iso8601(s: &str) -> Option<EpochMillis> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return None;
        }
        let ms3: String = digits.chars().chain("000".chars()).take(3).collect();
        millis = ms3.parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_formatting_matches_the_general_one() {
        let general = |ms: i64| {
            let (y, m, d, h, min, sec, millis) = parts(ms);
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{millis:03}Z")
        };
        let mut ms: i64 = -62_167_219_200_000; // 0000-01-01
        while ms < 253_402_300_800_000 {
            // up to 9999-12-31
            assert_eq!(iso8601(ms), general(ms), "{ms}");
            ms += 7_919_876_543_211; // a prime-ish stride through every field
        }
        assert_eq!(iso8601(1_509_665_643_803), "2017-11-02T23:34:03.803Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
        assert!(Iso8601::new(253_402_300_800_000).is_none()); // year 10000
        assert!(Iso8601::new(-62_167_219_200_001).is_none()); // year -1
        assert_eq!(iso8601(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for ms in [0, 1_509_665_643_803, 951_782_400_000, -1, 4_102_444_800_000] {
            assert_eq!(parse_iso8601(&iso8601(ms)), Some(ms));
        }
        assert_eq!(
            parse_iso8601("2017-11-03T01:34:03.803+02:00"),
            Some(1_509_665_643_803)
        );
        assert_eq!(
            parse_iso8601("2017-11-02T23:34:03Z"),
            Some(1_509_665_643_000)
        );
        for bad in [
            "2017-11-02",
            "2017-13-02T00:00:00Z",
            "2017-11-02T23:34:03",
            "x017-11-02T23:34:03Z",
            "2017-11-02T23:34:03.Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_509_665_643_803), "2017-11-02T23:34:03.803Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }
}
