//! Which of a schedule's wall-clock times a DST change touches.
//!
//! When a zone springs forward, the skipped wall-clock times do not exist
//! and robfig/cron fires nothing for them that day; when it falls back, the
//! repeated times happen twice and fire twice (docs/kubernetes-semantics.md §3.4). This
//! finds, for a time window, every offset change and the schedule's times
//! inside the skipped or repeated stretch, so a preview can warn about them.
//! `@every` schedules count absolute seconds and are never affected.

use jiff::Timestamp;

use super::civil::{SECS_PER_DAY, civil_from_local};
use super::next::fields_match;
use super::parse::Spec;
use super::zone::Clock;
use super::{Schedule, Zone};

/// How an offset change affects a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DstKind {
    /// The clock jumped forward: these wall-clock times did not exist and
    /// did not fire.
    Skipped,
    /// The clock went back: these wall-clock times happened, and fired, twice.
    Repeated,
}

/// The schedule's wall-clock times around one offset change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DstEffect {
    /// Skipped or repeated.
    pub kind: DstKind,
    /// The instant the offset changed.
    pub at: Timestamp,
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// The affected wall-clock times of the schedule, `HH:MM`, in order.
    pub times: Vec<String>,
    /// The stretch of wall-clock time skipped or repeated, `HH:MM–HH:MM`.
    pub stretch: String,
}

impl Schedule {
    /// The offset changes of `zone` in `[from, to)` that skip or repeat one
    /// of this schedule's wall-clock times.
    pub fn dst_effects(&self, zone: &Zone, from: Timestamp, to: Timestamp) -> Vec<DstEffect> {
        let Spec::Fields(fields) = &self.spec else {
            return Vec::new();
        };
        let clock = zone.clock();
        let (mut at, end) = (from.as_second(), to.as_second());
        let mut effects = Vec::new();
        loop {
            let change = clock.stable_until(at);
            if change >= end || change <= at {
                break;
            }
            if let Some(effect) = effect_at(&clock, change, |local| {
                fields_match(fields, &civil_from_local(local))
            }) {
                effects.push(effect);
            }
            at = change;
        }
        effects
    }
}

/// The effect of the offset change at `change`, if `matches` (a test of a
/// local-seconds minute) hits a minute in the skipped or repeated stretch.
fn effect_at(clock: &Clock<'_>, change: i64, matches: impl Fn(i64) -> bool) -> Option<DstEffect> {
    let before = clock.offset(change - 1);
    let after = clock.offset(change);
    let (kind, start, stop) = match after.cmp(&before) {
        std::cmp::Ordering::Greater => (DstKind::Skipped, change + before, change + after),
        std::cmp::Ordering::Less => (DstKind::Repeated, change + after, change + before),
        std::cmp::Ordering::Equal => return None,
    };
    // Whole minutes of local time in [start, stop).
    let first = start.div_euclid(60) * 60 + if start % 60 == 0 { 0 } else { 60 };
    let times: Vec<String> = (first..stop)
        .step_by(60)
        .filter(|&local| matches(local))
        .map(hhmm)
        .collect();
    if times.is_empty() {
        return None;
    }
    let day = civil_from_local(start);
    Some(DstEffect {
        kind,
        at: Timestamp::from_second(change).ok()?,
        date: format!("{:04}-{:02}-{:02}", day.year, day.month, day.day),
        times,
        stretch: format!("{}–{}", hhmm(start), hhmm_end(stop)),
    })
}

fn hhmm(local: i64) -> String {
    let secs = local.rem_euclid(SECS_PER_DAY);
    format!("{:02}:{:02}", secs / 3600, secs / 60 % 60)
}

/// The end of a stretch; midnight reads 24:00 rather than 00:00.
fn hhmm_end(local: i64) -> String {
    match local.rem_euclid(SECS_PER_DAY) {
        0 => "24:00".into(),
        _ => hhmm(local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(expr: &str, zone: &str, from: &str, to: &str) -> Vec<DstEffect> {
        Schedule::parse(expr).expect("valid").dst_effects(
            &Zone::named(zone).expect("known zone"),
            from.parse().expect("instant"),
            to.parse().expect("instant"),
        )
    }

    #[test]
    fn a_time_in_the_spring_gap_is_skipped() {
        let found = effects(
            "30 2 * * *",
            "America/New_York",
            "2025-03-01T00:00:00Z",
            "2025-04-01T00:00:00Z",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, DstKind::Skipped);
        assert_eq!(found[0].date, "2025-03-09");
        assert_eq!(found[0].times, ["02:30"]);
        assert_eq!(found[0].stretch, "02:00–03:00");
        assert_eq!(found[0].at.to_string(), "2025-03-09T07:00:00Z");
        // The fire times agree: nothing on the 9th.
        let schedule = Schedule::parse("30 2 * * *").expect("valid");
        let zone = Zone::named("America/New_York").expect("zone");
        let fires: Vec<String> = schedule
            .upcoming("2025-03-08T00:00:00Z".parse().expect("instant"), &zone)
            .take(2)
            .map(|t| t.to_string())
            .collect();
        assert_eq!(fires, ["2025-03-08T07:30:00Z", "2025-03-10T06:30:00Z"]);
    }

    #[test]
    fn a_time_in_the_autumn_overlap_repeats() {
        let found = effects(
            "30 1 * * *",
            "America/New_York",
            "2025-10-01T00:00:00Z",
            "2025-12-01T00:00:00Z",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, DstKind::Repeated);
        assert_eq!(found[0].date, "2025-11-02");
        assert_eq!(found[0].times, ["01:30"]);
        assert_eq!(found[0].stretch, "01:00–02:00");
    }

    #[test]
    fn times_outside_the_stretch_every_schedule_and_utc_are_unaffected() {
        let spring = ("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z");
        assert!(effects("0 3 * * *", "America/New_York", spring.0, spring.1).is_empty());
        assert!(effects("30 2 * * *", "UTC", spring.0, spring.1).is_empty());
        assert!(effects("@every 1h", "America/New_York", spring.0, spring.1).is_empty());
        // Outside the window: no effect.
        assert!(
            effects(
                "30 2 * * *",
                "America/New_York",
                "2025-03-10T00:00:00Z",
                "2025-04-01T00:00:00Z"
            )
            .is_empty()
        );
    }

    #[test]
    fn hourly_loses_one_hour_and_day_rules_apply() {
        let found = effects(
            "*/15 * * * *",
            "Europe/Berlin",
            "2025-03-25T00:00:00Z",
            "2025-04-01T00:00:00Z",
        );
        assert_eq!(found[0].times, ["02:00", "02:15", "02:30", "02:45"]);
        // Only on Mondays: 2025-03-30 is a Sunday, so nothing.
        assert!(
            effects(
                "30 2 * * MON",
                "Europe/Berlin",
                "2025-03-25T00:00:00Z",
                "2025-04-01T00:00:00Z"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_skipped_midnight_is_found() {
        // Chile springs forward at 24:00 local: 00:00–01:00 does not exist.
        let found = effects(
            "0 0 * * *",
            "America/Santiago",
            "2025-09-01T00:00:00Z",
            "2025-10-01T00:00:00Z",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, DstKind::Skipped);
        assert_eq!(found[0].date, "2025-09-07");
        assert_eq!(found[0].stretch, "00:00–01:00");
    }
}
