//! The dashboard's home page: activity over time from the tenant log (logins, sign-ups,
//! failed logins by reason, active users per day and week), drawn as SVG charts whose bars
//! and points carry the numbers of the tables below them; "today" is the service clock's.
//! Delegated administrators keep landing on the users list.

use crate::common;

use common::browser::{Browser, Page};
use common::{DB_CONNECTION, TestServer, enc};
use gatehouse_service::clock::Clock;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;

const ADMIN_EMAIL: &str = "root@example.com";
const PASSWORD: &str = "Sup3r-secret!";
const REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";
const DAY: i64 = 86_400_000;

fn date(day: i64) -> String {
    gatehouse_core::time::iso8601(day * DAY)[..10].to_string()
}

/// The Monday of a day's week (the epoch began on a Thursday).
fn monday(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

/// The inside of the element `<tag id="id" …>…</tag>` (the first closing tag after it).
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<{tag} id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {tag}#{id} in {html}"));
    let rest = &html[start..];
    let end = rest.find(&format!("</{tag}>")).expect("closed");
    &rest[..end]
}

/// A table's body rows as cell texts.
fn rows(html: &str, id: &str) -> Vec<Vec<String>> {
    let table = element(html, "table", id);
    let body = &table[table.find("<tbody>").expect("a body")..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').unwrap() + 1..];
                    text[..text.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

/// Every `<tag …>` start tag in `svg` as its attributes.
fn shapes(svg: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .map(|s| {
            let attrs = &s[..s.find('>').unwrap()];
            let mut map = BTreeMap::new();
            for part in attrs.split("\" ") {
                if let Some((k, v)) = part.split_once("=\"") {
                    map.insert(k.trim().to_string(), v.trim_end_matches('"').to_string());
                }
            }
            map
        })
        .collect()
}

fn number(attrs: &BTreeMap<String, String>, name: &str) -> f64 {
    attrs[name].parse().unwrap()
}

/// Checks each bar of a chart against the expected value of its label and series, and its
/// height against the chart's scale.
fn assert_bars(html: &str, id: &str, expected: &BTreeMap<(String, String), i64>) {
    let svg = element(html, "svg", id);
    let head = shapes(&format!("<svg {}", &svg[5..]), "svg");
    let max = number(&head[0], "data-max");
    let height = number(&head[0], "data-height");
    let bars = shapes(svg, "rect");
    let bars: Vec<_> = bars
        .iter()
        .filter(|b| b.contains_key("data-value"))
        .collect();
    assert_eq!(bars.len(), expected.len(), "{id}: {bars:?}");
    let top = expected.values().copied().max().unwrap_or(0).max(1) as f64;
    if expected
        .keys()
        .all(|(_, series)| series == &expected.keys().next().unwrap().1)
    {
        assert_eq!(max, top, "{id}: the scale is the largest bar");
    }
    for b in bars {
        let key = (b["data-label"].clone(), b["data-series"].clone());
        let value = number(b, "data-value");
        assert_eq!(value, expected[&key] as f64, "{id} {key:?}");
        let h = number(b, "height");
        assert!(
            (h - value * height / max).abs() < 0.01,
            "{id} {key:?}: height {h} for {value} of {max}"
        );
    }
}

async fn login(s: &TestServer, cid: &str, secret: &str, user: &str, password: &str) -> u16 {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(json!({"grant_type": REALM_GRANT,
        "realm": DB_CONNECTION, "client_id": cid, "client_secret": secret,
        "username": user, "password": password})),
    )
    .await
    .status
    .as_u16()
}

async fn sign_up(s: &TestServer, cid: &str, email: &str) {
    let r = s
        .http()
        .post(format!("{}/dbconnections/signup", s.url))
        .json(&json!({"client_id": cid, "email": email, "password": PASSWORD, "connection": DB_CONNECTION}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

async fn sign_in(b: &mut Browser, email: &str) -> Page {
    let login = b.visit("/admin").await;
    assert!(login.body.contains("action=\"/u/login\""), "{}", login.body);
    b.submit_login(&login, email, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_charts_the_logs_activity_by_day_and_week() {
    let mut s = TestServer::start_with_manual_clock_and(|c| {
        c.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        c.bootstrap_admin_password = Some(PASSWORD.into());
        c.auth_rate_limit_scale = 0.0;
        c.log_retention_days = 0.0;
    })
    .await;
    // Management API calls first: its token expires long before the days below pass.
    let (cid, secret) = s.app_with_grants(&[REALM_GRANT]).await;
    let ana = format!(
        "ana.{}@example.com",
        gatehouse_crypto::random::hex(3).unwrap()
    );
    let bo = "bø@example.com".to_string();
    s.create_user(&ana, json!({})).await;
    s.create_user(&bo, json!({})).await;
    let blocked = s.create_user("blocked@example.com", json!({})).await;
    s.patch(
        &format!(
            "/api/v2/users/{}",
            enc(blocked["user_id"].as_str().unwrap())
        ),
        json!({"blocked": true}),
    )
    .await
    .assert_status(200);
    // "Today" is a Wednesday at least 12 days ahead (the log's ids only go forward in time,
    // so the activity must come after what setting up logged): ten days before it is a
    // Sunday, nine a Monday, one a Tuesday of today's week.
    let now_day = s.clock().now_millis() / DAY;
    let today = {
        let d = now_day + 12;
        d + (2 - (d + 3).rem_euclid(7)).rem_euclid(7)
    };
    assert_eq!((today + 3).rem_euclid(7), 2, "a Wednesday");
    // Ten days ago: Ana twice, Bø once; a wrong password, an unknown user.
    s.clock().set((today - 10) * DAY + 3_600_000);
    assert_eq!(login(&s, &cid, &secret, &ana, PASSWORD).await, 200);
    assert_eq!(login(&s, &cid, &secret, &ana, PASSWORD).await, 200);
    assert_eq!(login(&s, &cid, &secret, &bo, PASSWORD).await, 200);
    assert_eq!(login(&s, &cid, &secret, &bo, "Wrong-passw0rd").await, 403);
    assert_eq!(
        login(&s, &cid, &secret, "ghost@example.com", PASSWORD).await,
        403
    );
    // Nine days ago (a Monday: a new week): two sign-ups, Ana once, and a blocked user refused.
    s.clock().set((today - 9) * DAY + 7_200_000);
    sign_up(&s, &cid, "new.one@example.com").await;
    sign_up(&s, &cid, "新しい@example.com").await;
    assert_eq!(login(&s, &cid, &secret, &ana, PASSWORD).await, 200);
    assert_eq!(
        login(&s, &cid, &secret, "blocked@example.com", PASSWORD).await,
        401
    );
    // Two wrong passwords yesterday.
    s.clock().set((today - 1) * DAY + 60_000);
    for _ in 0..2 {
        assert_eq!(login(&s, &cid, &secret, &ana, "Wrong-passw0rd").await, 403);
    }
    // An hour ago: Bø logs in, and the administrator signs in to the dashboard (a login too).
    s.clock().set(today * DAY + DAY / 2 - 3_600_000);
    assert_eq!(login(&s, &cid, &secret, &bo, PASSWORD).await, 200);
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    s.clock().set(today * DAY + DAY / 2);
    let home = if home.status == 200 {
        b.get("/admin").await
    } else {
        home
    };
    assert_eq!(home.status, 200, "{}", home.body);
    let page = &home.body;
    assert!(page.contains("<h1>Activity</h1>"), "{page}");
    assert!(page.contains(&format!(
        "From {} to {} (UTC days)",
        date(today - 29),
        date(today)
    )));

    // The table of days: 30 rows, newest first; only the active days have numbers.
    // Columns: day, logins, sign-ups, wrong password, unknown user, refused, active users.
    let days = rows(page, "activity-days");
    assert_eq!(days.len(), 30);
    assert_eq!(days[0][0], date(today));
    assert_eq!(days[29][0], date(today - 29));
    let expected_days: BTreeMap<String, [i64; 6]> = [
        (date(today - 10), [3, 0, 1, 1, 0, 2]),
        (date(today - 9), [1, 2, 0, 0, 1, 1]),
        (date(today - 1), [0, 0, 2, 0, 0, 0]),
        (date(today), [2, 0, 0, 0, 0, 2]),
    ]
    .into_iter()
    .collect();
    for row in &days {
        let numbers: Vec<i64> = row[1..].iter().map(|c| c.parse().unwrap()).collect();
        let want = expected_days.get(&row[0]).copied().unwrap_or([0; 6]);
        assert_eq!(numbers, want, "day {}", row[0]);
    }

    // The table of weeks: 12 rows from this week's Monday back; distinct users per week.
    let weeks = rows(page, "activity-weeks");
    assert_eq!(weeks.len(), 12);
    assert_eq!(weeks[0][0], date(monday(today)));
    assert_eq!(weeks[11][0], date(monday(today) - 77));
    let mut expected_weeks: BTreeMap<String, [i64; 3]> = BTreeMap::new();
    // Ten days ago (a Sunday) ends the week of day −16; day −9 starts the next; yesterday
    // and today are in this week (from day −2).
    assert_eq!(monday(today - 10), today - 16);
    assert_eq!(monday(today - 9), today - 9);
    assert_eq!(monday(today - 1), today - 2);
    expected_weeks.insert(date(today - 16), [3, 0, 2]);
    expected_weeks.insert(date(today - 9), [1, 2, 1]);
    expected_weeks.insert(date(monday(today)), [2, 0, 2]);
    for row in &weeks {
        let numbers: Vec<i64> = row[1..].iter().map(|c| c.parse().unwrap()).collect();
        let want = expected_weeks.get(&row[0]).copied().unwrap_or([0; 3]);
        assert_eq!(numbers, want, "week of {}", row[0]);
    }

    // The charts: each bar and point carries its day's number, at the chart's scale.
    let short = |d: &str| d[5..].to_string();
    let per_day = |column: usize, series: &str| -> BTreeMap<(String, String), i64> {
        days.iter()
            .map(|r| {
                (
                    (short(&r[0]), series.to_string()),
                    r[column].parse().unwrap(),
                )
            })
            .collect()
    };
    assert_bars(page, "chart-logins", &per_day(1, "Logins"));
    assert_bars(page, "chart-signups", &per_day(2, "Sign-ups"));
    let mut failures = per_day(3, "Wrong password");
    failures.extend(per_day(4, "Unknown user"));
    failures.extend(per_day(5, "Refused (blocked user or other)"));
    assert_bars(page, "chart-failures", &failures);
    let weekly: BTreeMap<(String, String), i64> = weeks
        .iter()
        .map(|r| {
            (
                (short(&r[0]), "Active users".to_string()),
                r[3].parse().unwrap(),
            )
        })
        .collect();
    assert_bars(page, "chart-weekly-users", &weekly);
    let line = element(page, "svg", "chart-daily-users");
    let points = shapes(line, "circle");
    assert_eq!(points.len(), 30);
    for p in &points {
        let row = days
            .iter()
            .find(|r| short(&r[0]) == p["data-label"])
            .unwrap();
        let value: f64 = row[6].parse().unwrap();
        assert_eq!(number(p, "data-value"), value);
        // Two active users is the top of the scale: 8 (top margin) + 160 − value × 160 / 2.
        assert!(
            (number(p, "cy") - (8.0 + 160.0 - value * 80.0)).abs() < 0.01,
            "{p:?}"
        );
    }
    // Accessible: each chart is an image named by its title and described.
    assert!(page.contains(
        "<svg id=\"chart-logins\" role=\"img\" aria-labelledby=\"chart-logins-title chart-logins-desc\""
    ));
    assert!(page.contains("<title id=\"chart-logins-title\">Logins per day, last 30 days</title>"));
    assert!(!page.contains("<script>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn delegated_administrators_keep_the_users_list_as_home() {
    let mut s = TestServer::start_with(|c| {
        c.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        c.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await;
    s.create_user(
        "helper@example.com",
        json!({"app_metadata": {"roles": ["Delegated Admin - User"]}}),
    )
    .await;
    s.patch(
        "/api/v2/tenants/settings",
        json!({"delegated_admin": {"filter": "app_metadata.department:\"x\""}}),
    )
    .await;
    let mut b = Browser::new(&s.url);
    let login = b.visit("/admin").await;
    let landed = b.submit_login(&login, "helper@example.com", PASSWORD).await;
    assert_eq!(landed.status, 200, "{}", landed.body);
    assert!(landed.body.contains("<h1>Users</h1>"), "{}", landed.body);
    assert!(!landed.body.contains("Activity"), "{}", landed.body);
    let home = b.get("/admin").await;
    assert_eq!(home.status, 303);
    assert_eq!(
        home.location
            .as_deref()
            .map(|l| l.ends_with("/admin/users")),
        Some(true)
    );
}
