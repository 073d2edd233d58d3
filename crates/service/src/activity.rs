//! The tenant's activity over time, read from its log for the dashboard's home page: logins,
//! sign-ups, failed logins by reason and active users, per UTC day over the last 30 days and
//! per week (Monday to Sunday) over the last 12. "Today" is the service clock's, so a test
//! fixes it.

use crate::Gatehouse;
use crate::error::Result;
use gatehouse_core::log_event::codes;
use std::collections::HashMap;

pub const DAY_MS: i64 = 86_400_000;
/// Days drawn day by day, today included.
pub const DAYS: usize = 30;
/// Weeks drawn week by week, this (partial) week included.
pub const WEEKS: usize = 12;

/// Events that are a login: the hosted login's `s` and the password grant's `sepft`.
pub const LOGIN_KINDS: [&str; 2] = [codes::SUCCESS_LOGIN, codes::SUCCESS_PASSWORD_EXCHANGE];

/// Why a login failed, as the log says it, and in words.
pub const FAILURE_REASONS: [(&str, &str); 3] = [
    (codes::FAILED_LOGIN_PASSWORD, "Wrong password"),
    (codes::FAILED_LOGIN_USERNAME, "Unknown user"),
    (codes::FAILED_LOGIN, "Refused (blocked user or other)"),
];

/// One day's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Day {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub logins: i64,
    pub signups: i64,
    /// In the order of [`FAILURE_REASONS`].
    pub failures: [i64; FAILURE_REASONS.len()],
    /// Distinct users who logged in that day.
    pub active_users: i64,
}

/// One week's numbers (Monday to Sunday; this week up to today).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Week {
    /// The week's Monday, in days since the epoch.
    pub first_day: i64,
    pub logins: i64,
    pub signups: i64,
    /// Distinct users who logged in that week.
    pub active_users: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// Oldest first, today last.
    pub days: Vec<Day>,
    /// Oldest first, this week last.
    pub weeks: Vec<Week>,
}

/// The epoch began on a Thursday: adding 3 days makes weeks start on Mondays.
const WEEK_OFFSET_DAYS: i64 = 3;

fn week_of(day: i64) -> i64 {
    (day + WEEK_OFFSET_DAYS).div_euclid(7)
}

impl Gatehouse {
    /// The activity of the last [`DAYS`] days and [`WEEKS`] weeks, up to now.
    pub async fn activity(&self) -> Result<Activity> {
        let now = self.now();
        let today = now.div_euclid(DAY_MS);
        let first_day = today - (DAYS as i64 - 1);
        let this_week = week_of(today);
        let first_week = this_week - (WEEKS as i64 - 1);
        let first_week_day = first_week * 7 - WEEK_OFFSET_DAYS;
        let from = first_week_day.min(first_day) * DAY_MS;
        let to = (today + 1) * DAY_MS;
        let logs = &self.inner.logs;
        let tenant = self.tenant();
        let by_day = logs.activity_by_day(tenant, from, to).await?;
        let daily_users = logs
            .active_users_by_period(tenant, first_day * DAY_MS, to, 1, 0)
            .await?;
        let weekly_users = logs
            .active_users_by_period(tenant, first_week_day * DAY_MS, to, 7, WEEK_OFFSET_DAYS)
            .await?;

        let mut days: Vec<Day> = (first_day..=today)
            .map(|day| Day {
                day,
                ..Day::default()
            })
            .collect();
        let mut weeks: Vec<Week> = (first_week..=this_week)
            .map(|w| Week {
                first_day: w * 7 - WEEK_OFFSET_DAYS,
                ..Week::default()
            })
            .collect();
        for row in &by_day {
            let week = usize::try_from(week_of(row.day) - first_week)
                .ok()
                .and_then(|i| weeks.get_mut(i));
            let day = usize::try_from(row.day - first_day)
                .ok()
                .and_then(|i| days.get_mut(i));
            let kind = row.kind.as_str();
            if LOGIN_KINDS.contains(&kind) {
                if let Some(d) = day {
                    d.logins += row.events;
                }
                if let Some(w) = week {
                    w.logins += row.events;
                }
            } else if kind == codes::SUCCESS_SIGNUP {
                if let Some(d) = day {
                    d.signups += row.events;
                }
                if let Some(w) = week {
                    w.signups += row.events;
                }
            } else if let (Some(d), Some(reason)) =
                (day, FAILURE_REASONS.iter().position(|(k, _)| *k == kind))
            {
                d.failures[reason] += row.events;
            }
        }
        let users: HashMap<i64, i64> = daily_users.into_iter().collect();
        for d in &mut days {
            d.active_users = users.get(&d.day).copied().unwrap_or(0);
        }
        let users: HashMap<i64, i64> = weekly_users.into_iter().collect();
        for w in &mut weeks {
            w.active_users = users.get(&week_of(w.first_day)).copied().unwrap_or(0);
        }
        Ok(Activity { days, weeks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_reads_every_type_the_page_shows() {
        let mut shown: Vec<&str> = LOGIN_KINDS.to_vec();
        shown.push(codes::SUCCESS_SIGNUP);
        shown.extend(FAILURE_REASONS.iter().map(|(k, _)| *k));
        shown.sort_unstable();
        let mut read = gatehouse_store::ACTIVITY_KINDS.to_vec();
        read.sort_unstable();
        assert_eq!(shown, read);
    }

    #[test]
    fn weeks_start_on_mondays() {
        // 2026-11-30 was a Monday, 2026-12-06 a Sunday, 2026-12-07 a Monday.
        let monday = 20_787;
        assert_eq!(week_of(monday), week_of(monday + 6));
        assert_ne!(week_of(monday), week_of(monday + 7));
        assert_ne!(week_of(monday - 1), week_of(monday));
        assert_eq!(week_of(monday) * 7 - WEEK_OFFSET_DAYS, monday);
    }
}
