//! All fire times in a window at once.
//!
//! Counting runs over a week for thousands of CronJobs (a preview's
//! collision search) one `next` at a time costs half a microsecond per
//! run. Where the zone's offset does not change inside the window, robfig's
//! search reduces to matching wall-clock fields, so the times can be listed
//! day by day straight from the fields' bits. Windows that hold an offset
//! change (where the DST rules of `next` matter) and `@every` schedules take
//! the step-by-step path, so the result is always the same as
//! [`Schedule::upcoming`]'s.

use jiff::Timestamp;

use super::civil::{SECS_PER_DAY, civil_from_local};
use super::parse::{Fields, Spec};
use super::{Schedule, Zone};

impl Schedule {
    /// Fire times strictly after `from` and before `to`, in order, at most
    /// `limit` of them.
    pub fn fires_between(
        &self,
        zone: &Zone,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Vec<Timestamp> {
        let clock = zone.clock();
        let (start, end) = (from.as_second(), to.as_second());
        if let Spec::Fields(fields) = &self.spec
            && start < end
            && clock.stable_until(start) >= end
        {
            return by_fields(fields, clock.offset(start), start, end, limit);
        }
        self.upcoming(from, zone)
            .take_while(|t| *t < to)
            .take(limit)
            .collect()
    }
}

/// The fire times of `f` in `(start, end)` (Unix seconds) for a zone whose
/// offset is `offset` throughout.
fn by_fields(f: &Fields, offset: i64, start: i64, end: i64, limit: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let first_day = (start + offset).div_euclid(SECS_PER_DAY);
    let last_day = (end + offset).div_euclid(SECS_PER_DAY);
    for day in first_day..=last_day {
        let midnight = day * SECS_PER_DAY;
        let date = civil_from_local(midnight);
        if f.month & (1 << date.month) == 0 || !super::next::day_matches(f, &date) {
            continue;
        }
        for hour in bits(f.hour, 23) {
            for minute in bits(f.minute, 59) {
                let unix = midnight + i64::from(hour) * 3600 + i64::from(minute) * 60 - offset;
                if unix <= start {
                    continue;
                }
                if unix >= end || out.len() >= limit {
                    return out;
                }
                if let Ok(t) = Timestamp::from_second(unix) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// The values `0..=max` set in a field's bits, in order.
fn bits(set: u64, max: u32) -> impl Iterator<Item = u32> {
    (0..=max).filter(move |v| set & (1 << v) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and the step-by-step search agree, over schedules
    /// that exercise every field rule, in zones with odd offsets, over
    /// windows with and without an offset change.
    #[test]
    fn lists_exactly_what_upcoming_finds() {
        let schedules = [
            "* * * * *",
            "*/7 * * * *",
            "0 3 * * *",
            "30 2 * * *",
            "15 */2 * * 1-5",
            "0 0 1 * *",
            "0 12 13 * 5",
            "0 12 */2 * 0",
            "5 4 29 2 *",
            "59 23 31 12 *",
            "0 9-17 * JAN,JUL MON",
            "@hourly",
            "@weekly",
            "@every 90s",
        ];
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "Australia/Lord_Howe",
        ];
        let windows = [
            ("2026-11-27T07:43:10Z", "2026-12-04T07:43:10Z"),
            ("2027-03-25T00:00:00Z", "2027-04-05T00:00:00Z"),
            ("2027-10-28T00:00:00Z", "2027-11-09T00:00:00Z"),
            ("2028-02-27T23:59:59Z", "2028-03-02T00:00:01Z"),
            ("2026-12-31T22:00:00Z", "2027-01-01T02:00:00Z"),
        ];
        for expr in schedules {
            let schedule = Schedule::parse(expr).expect("valid");
            for name in zones {
                let zone = Zone::named(name).expect("zone");
                for (from, to) in windows {
                    let (from, to): (Timestamp, Timestamp) =
                        (from.parse().expect("instant"), to.parse().expect("instant"));
                    let expected: Vec<Timestamp> = schedule
                        .upcoming(from, &zone)
                        .take_while(|t| *t < to)
                        .take(50_000)
                        .collect();
                    assert_eq!(
                        schedule.fires_between(&zone, from, to, 50_000),
                        expected,
                        "{expr} in {name} from {from} to {to}"
                    );
                }
            }
        }
    }

    #[test]
    fn stops_at_the_limit() {
        let schedule = Schedule::parse("* * * * *").expect("valid");
        let from: Timestamp = "2026-11-27T00:00:00Z".parse().expect("instant");
        let to: Timestamp = "2026-11-28T00:00:00Z".parse().expect("instant");
        assert_eq!(schedule.fires_between(&Zone::utc(), from, to, 10).len(), 10);
        assert_eq!(
            schedule
                .fires_between(&Zone::utc(), from, to, usize::MAX)
                .len(),
            1439
        );
    }
}
