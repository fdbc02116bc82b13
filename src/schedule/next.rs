//! Next fire time, exactly as the CronJob controller computes it.
//!
//! robfig/cron v3 searches forward on the wall clock of the schedule's zone:
//! it first rounds the start up to the next whole second (so the answer is
//! always strictly later), then finds a matching month, day, hour, minute and
//! second in that order. Whenever it moves a coarse field it resets the finer
//! ones to their start, and when a field rolls over it starts again from the
//! month. Past five years after the start it gives up (a schedule such as
//! `0 0 30 2 *` never fires).
//!
//! The DST behaviour the controller shows falls out of how each step moves
//! the clock, so the steps are mirrored one for one: months and days move by
//! wall-clock date (resolved like Go's `time.Date`, see `Clock::resolve`),
//! hours, minutes and seconds by absolute time. A wall time inside a
//! spring-forward gap is therefore skipped that day, and one inside a
//! fall-back overlap fires twice (docs/kubernetes-semantics.md §3.4;
//! tests/schedule_oracle.rs has the computed vectors).

use super::civil::{Civil, SECS_PER_DAY, days_in_month};
use super::parse::{Fields, STAR};
use super::zone::Clock;

const YEARS_SEARCHED: i64 = 5;

fn has(bits: u64, value: u32) -> bool {
    bits & (1 << value) != 0
}

/// The smallest allowed value in `from..=max`.
fn next_allowed(bits: u64, from: u32, max: u32) -> Option<u32> {
    if from > max {
        return None;
    }
    let window = (bits >> from) & ((1u64 << (max - from + 1)) - 1);
    (window != 0).then(|| from + window.trailing_zeros())
}

/// Days from `c` to the next day of its month that matches the day fields,
/// or to the 1st of the next month when none does.
fn days_to_next_match(f: &Fields, c: &Civil) -> i64 {
    let last = days_in_month(c.year, c.month);
    for ahead in 1..=(last - c.day) {
        let day = Civil {
            day: c.day + ahead,
            weekday: (c.weekday + ahead) % 7,
            ..*c
        };
        if day_matches(f, &day) {
            return i64::from(ahead);
        }
    }
    i64::from(last - c.day + 1)
}

/// The day-of-month/day-of-week rule: when either field is a star the day
/// must match both (so in effect the other one); otherwise either will do.
pub(crate) fn day_matches(f: &Fields, c: &Civil) -> bool {
    let dom = has(f.dom, c.day);
    let dow = has(f.dow, c.weekday);
    if (f.dom | f.dow) & STAR != 0 {
        dom && dow
    } else {
        dom || dow
    }
}

/// Whether a wall-clock minute is one of the schedule's times (second 0).
pub(crate) fn fields_match(f: &Fields, c: &Civil) -> bool {
    c.second == 0
        && has(f.minute, c.minute)
        && has(f.hour, c.hour)
        && has(f.month, c.month)
        && day_matches(f, c)
}

/// The first fire time strictly after `after` (Unix seconds and a
/// non-negative sub-second part), or None if there is none within the
/// search horizon.
pub(crate) fn next_fields(f: &Fields, clock: &Clock<'_>, after_secs: i64) -> Option<i64> {
    let mut at = Cursor::new(clock, after_secs + 1);
    let year_limit = at.c.year + YEARS_SEARCHED;
    // Whether the finer fields have been reset to their start yet.
    let mut reset = false;

    'search: loop {
        if at.c.year > year_limit {
            return None;
        }

        while !has(f.month, at.c.month) {
            if !reset {
                reset = true;
                at.to(clock.resolve(at.c.year, at.c.month.into(), 1, 0, 0, 0));
            }
            at.to(at.shift_date(1, 0));
            if at.c.month == 1 {
                continue 'search;
            }
        }

        while !day_matches(f, &at.c) {
            if !reset {
                reset = true;
                at.to(clock.resolve(at.c.year, at.c.month.into(), at.c.day.into(), 0, 0, 0));
            }
            // Where the offset stays put and the clock reads midnight, each
            // date step is exactly one day: jump to the next matching day of
            // the month, or to the 1st of the next month.
            if at.c.hour == 0 {
                let days = days_to_next_match(f, &at.c);
                if let Some(t) = at.stable_jump(days * SECS_PER_DAY) {
                    at.to(t);
                    if at.c.day == 1 {
                        continue 'search;
                    }
                    continue;
                }
            }
            at.to(at.shift_date(0, 1));
            // Moving by date across a DST change leaves the clock off
            // midnight; pull it back to the nearest midnight by whole hours.
            if at.c.hour != 0 {
                let hours = if at.c.hour > 12 {
                    i64::from(24 - at.c.hour)
                } else {
                    -i64::from(at.c.hour)
                };
                at.to(at.t + hours * 3600);
            }
            if at.c.day == 1 {
                continue 'search;
            }
        }

        while !has(f.hour, at.c.hour) {
            if !reset {
                reset = true;
                let c = at.c;
                at.to(clock.resolve(c.year, c.month.into(), c.day.into(), c.hour.into(), 0, 0));
            }
            // One hour per step while the offset holds: jump to the next
            // allowed hour, or to midnight.
            let target = next_allowed(f.hour, at.c.hour + 1, 23).unwrap_or(24);
            let jump = i64::from(target - at.c.hour) * 3600;
            at.to(at.stable_jump(jump).unwrap_or(at.t + 3600));
            if at.c.hour == 0 {
                continue 'search;
            }
        }

        while !has(f.minute, at.c.minute) {
            if !reset {
                reset = true;
                at.to(at.t.div_euclid(60) * 60);
            }
            let target = next_allowed(f.minute, at.c.minute + 1, 59).unwrap_or(60);
            let jump = i64::from(target - at.c.minute) * 60;
            at.to(at.stable_jump(jump).unwrap_or(at.t + 60));
            if at.c.minute == 0 {
                continue 'search;
            }
        }

        // The standard parser fixes the second at 0.
        while at.c.second != 0 {
            reset = true;
            at.to(at.t + 1);
            if at.c.second == 0 {
                continue 'search;
            }
        }

        return Some(at.t);
    }
}

/// An instant and its wall clock, kept in step.
struct Cursor<'a, 'z> {
    clock: &'a Clock<'z>,
    t: i64,
    c: Civil,
}

impl<'a, 'z> Cursor<'a, 'z> {
    fn new(clock: &'a Clock<'z>, t: i64) -> Self {
        Cursor {
            clock,
            t,
            c: clock.civil(t),
        }
    }

    /// `t + secs`, if the zone's offset is the same all the way there, so
    /// that the jump lands where stepping would.
    fn stable_jump(&self, secs: i64) -> Option<i64> {
        let to = self.t.checked_add(secs)?;
        (to < self.clock.stable_until(self.t)).then_some(to)
    }

    fn to(&mut self, t: i64) {
        self.t = t;
        self.c = self.clock.civil(t);
    }

    /// The same wall time some months and days later, resolved like Go's
    /// `AddDate`.
    fn shift_date(&self, months: i64, days: i64) -> i64 {
        let c = self.c;
        self.clock.resolve(
            c.year,
            i64::from(c.month) + months,
            i64::from(c.day) + days,
            c.hour.into(),
            c.minute.into(),
            c.second.into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Schedule, Zone};
    use jiff::Timestamp;

    fn next3(expr: &str, zone: &str, from: &str) -> Vec<String> {
        let schedule = Schedule::parse(expr).unwrap();
        let zone = if zone == "UTC" {
            Zone::utc()
        } else {
            Zone::named(zone).unwrap()
        };
        let from: Timestamp = from.parse().unwrap();
        schedule
            .upcoming(from, &zone)
            .take(3)
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn next_is_strictly_after_and_ignores_subseconds() {
        assert_eq!(
            next3("0 * * * *", "UTC", "2025-01-01T10:00:00Z")[0],
            "2025-01-01T11:00:00Z"
        );
        assert_eq!(
            next3("0 * * * *", "UTC", "2025-01-01T09:59:59.999Z")[0],
            "2025-01-01T10:00:00Z"
        );
    }

    #[test]
    fn or_rule_when_neither_day_field_is_a_star() {
        assert_eq!(
            next3("0 0 13 * 5", "UTC", "2025-06-01T00:00:00Z"),
            [
                "2025-06-06T00:00:00Z",
                "2025-06-13T00:00:00Z",
                "2025-06-20T00:00:00Z"
            ]
        );
        // `*/1` keeps the star: monthly, not daily.
        assert_eq!(
            next3("0 0 1 * */1", "UTC", "2025-01-01T00:00:00Z"),
            [
                "2025-02-01T00:00:00Z",
                "2025-03-01T00:00:00Z",
                "2025-04-01T00:00:00Z"
            ]
        );
    }

    #[test]
    fn spring_forward_gap_skips_the_day() {
        assert_eq!(
            next3("30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z"),
            [
                "2025-03-10T06:30:00Z",
                "2025-03-11T06:30:00Z",
                "2025-03-12T06:30:00Z"
            ]
        );
    }

    #[test]
    fn fall_back_overlap_fires_twice() {
        assert_eq!(
            next3("30 1 * * *", "America/New_York", "2025-11-02T04:00:00Z"),
            [
                "2025-11-02T05:30:00Z",
                "2025-11-02T06:30:00Z",
                "2025-11-03T06:30:00Z"
            ]
        );
        assert_eq!(
            next3("30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z"),
            [
                "2025-10-26T00:30:00Z",
                "2025-10-26T01:30:00Z",
                "2025-10-27T01:30:00Z"
            ]
        );
    }

    #[test]
    fn never_fires_beyond_five_years() {
        assert!(next3("0 0 30 2 *", "UTC", "2025-01-01T00:00:00Z").is_empty());
        assert_eq!(
            next3("0 0 29 2 *", "UTC", "2095-01-01T00:00:00Z"),
            ["2096-02-29T00:00:00Z"]
        );
    }

    #[test]
    fn every_counts_whole_seconds_from_the_start() {
        assert_eq!(
            next3("@every 90s", "UTC", "2025-01-01T00:00:00.750Z"),
            [
                "2025-01-01T00:01:30Z",
                "2025-01-01T00:03:00Z",
                "2025-01-01T00:04:30Z"
            ]
        );
    }
}
