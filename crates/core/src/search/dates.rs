//! Dates in queries: `2019`, `2019-01`, `2019-01-15`, `2019-01-15T10:20:30(.123)(Z|±hh:mm)`.

/// Parses a date; returns the first and the last millisecond of the period it names
/// (a day for `2019-01-15`, an instant for a full timestamp).
pub fn parse_date(s: &str) -> Option<(i64, i64)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let fields: Vec<&str> = date.split('-').collect();
    if fields.len() > 3 || fields[0].len() != 4 {
        return None;
    }
    let number = |s: &str, digits: usize| -> Option<u32> {
        (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = i64::from(number(fields[0], 4).filter(|y| *y >= 1)?);
    let month = match fields.get(1) {
        Some(m) => Some(number(m, 2).filter(|m| (1..=12).contains(m))?),
        None => None,
    };
    let day = match fields.get(2) {
        Some(d) => Some(number(d, 2)?),
        None => None,
    };
    match (month, day, time) {
        (None, None, None) => Some((
            crate::time::days_from_civil(year, 1, 1) * DAY,
            crate::time::days_from_civil(year + 1, 1, 1) * DAY - 1,
        )),
        (Some(m), None, None) => {
            let (ny, nm) = if m == 12 {
                (year + 1, 1)
            } else {
                (year, m + 1)
            };
            Some((
                crate::time::days_from_civil(year, m, 1) * DAY,
                crate::time::days_from_civil(ny, nm, 1) * DAY - 1,
            ))
        }
        (Some(m), Some(d), t) => {
            if d == 0 || d > days_in_month(year, m) {
                return None;
            }
            let start = crate::time::days_from_civil(year, m, d) * DAY;
            match t {
                None => Some((start, start + DAY - 1)),
                Some(t) => {
                    let ms = parse_time(t)?;
                    Some((start + ms, start + ms))
                }
            }
        }
        _ => None,
    }
}

const DAY: i64 = 86_400_000;

/// `hh:mm(:ss(.fff))` followed by `Z`, `±hh:mm` or nothing (UTC), as milliseconds into the day
/// adjusted to UTC.
fn parse_time(t: &str) -> Option<i64> {
    let (clock, offset_ms) = if let Some(c) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        (c, 0)
    } else if let Some(pos) = t.rfind(['+', '-']) {
        let (c, off) = t.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        (c, sign * (h * 3600 + m * 60) * 1000)
    } else {
        (t, 0)
    };
    let mut it = clock.split(':');
    let h: i64 = it.next()?.parse().ok().filter(|h| (0..24).contains(h))?;
    let m: i64 = it.next()?.parse().ok().filter(|m| (0..60).contains(m))?;
    let (s, ms) = match it.next() {
        None => (0, 0),
        Some(sec) => {
            let (s, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let s: i64 = s.parse().ok().filter(|s| (0..60).contains(s))?;
            let frac: String = frac.chars().chain("000".chars()).take(3).collect();
            (
                s,
                if frac.is_empty() {
                    0
                } else {
                    frac.parse().ok()?
                },
            )
        }
    };
    if it.next().is_some() {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000 + ms - offset_ms)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::iso8601;

    #[test]
    fn periods() {
        let (a, b) = parse_date("2019").unwrap();
        assert_eq!(
            (iso8601(a).as_str(), iso8601(b).as_str()),
            ("2019-01-01T00:00:00.000Z", "2019-12-31T23:59:59.999Z")
        );
        let (a, b) = parse_date("2017-12").unwrap();
        assert_eq!(
            (iso8601(a).as_str(), iso8601(b).as_str()),
            ("2017-12-01T00:00:00.000Z", "2017-12-31T23:59:59.999Z")
        );
        let (a, b) = parse_date("2020-02-29").unwrap();
        assert_eq!(
            (iso8601(a).as_str(), iso8601(b).as_str()),
            ("2020-02-29T00:00:00.000Z", "2020-02-29T23:59:59.999Z")
        );
        let (a, _) = parse_date("2017-11-02T23:34:03.803Z").unwrap();
        assert_eq!(iso8601(a), "2017-11-02T23:34:03.803Z");
        let (a, _) = parse_date("2017-11-02T23:34:03+01:00").unwrap();
        assert_eq!(iso8601(a), "2017-11-02T22:34:03.000Z");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "19",
            "2019-13",
            "2019-02-30",
            "2019-01-01T25:00",
            "abc",
            "2019-01-01-01",
            "2019--01",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }
}
