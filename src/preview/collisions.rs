//! The thundering herd: minutes in which a change makes many CronJobs
//! start at once.
//!
//! Only minutes in which a changed (or new) CronJob fires can gain starts,
//! so those are the candidates; every other CronJob's fire times are then
//! counted into the candidates only. CronJobs unchanged by the pull request
//! count the same before and after.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use crate::schedule::{Schedule, Zone};

/// One CronJob's schedule, for counting.
#[derive(Debug, Clone, Copy)]
pub struct Firing<'a> {
    /// `namespace/name`.
    pub name: &'a str,
    /// Its schedule.
    pub schedule: &'a Schedule,
    /// Its zone.
    pub zone: &'a Zone,
}

/// A time of day at which too many CronJobs start together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collision {
    /// The minute, `HH:MM` in UTC.
    pub time_utc: String,
    /// How many days in the window it happens on.
    pub occurrences: usize,
    /// The first minute with the largest count.
    pub first: Timestamp,
    /// CronJobs starting in that minute after the change.
    pub after: usize,
    /// And before it.
    pub before: usize,
    /// The CronJobs starting then (after the change), sorted.
    pub names: Vec<String>,
}

/// Minutes in `[from, to)` where at least `threshold` CronJobs start after
/// the change, and more than before it. `added` are the CronJobs as the
/// head has them that are new or changed, `removed` those as the base had
/// them that are gone or changed, `shared` the ones the change leaves alone.
/// Suspended CronJobs start nothing and should not be passed.
pub fn collisions(
    added: &[Firing<'_>],
    removed: &[Firing<'_>],
    shared: &[Firing<'_>],
    from: Timestamp,
    to: Timestamp,
    threshold: usize,
) -> Vec<Collision> {
    #[derive(Default)]
    struct Minute<'n> {
        after: Vec<&'n str>,
        removed: usize,
    }
    let threshold = threshold.max(2);
    let mut minutes: HashMap<i64, Minute<'_>> = HashMap::new();
    for f in added {
        for minute in fire_minutes(f, from, to) {
            minutes.entry(minute).or_default().after.push(f.name);
        }
    }
    if minutes.is_empty() {
        return Vec::new();
    }
    for f in removed {
        for minute in fire_minutes(f, from, to) {
            if let Some(m) = minutes.get_mut(&minute) {
                m.removed += 1;
            }
        }
    }
    let mut shared_at: HashMap<i64, Vec<&str>> = HashMap::new();
    for f in shared {
        for minute in fire_minutes(f, from, to) {
            if minutes.contains_key(&minute) {
                shared_at.entry(minute).or_default().push(f.name);
            }
        }
    }
    // Group the crowded minutes by time of day.
    let mut groups: BTreeMap<String, Collision> = BTreeMap::new();
    let mut crowded: Vec<(i64, Minute<'_>)> = minutes.into_iter().collect();
    crowded.sort_by_key(|(minute, _)| *minute);
    for (minute, m) in crowded {
        let shared = shared_at.remove(&minute).unwrap_or_default();
        let after = m.after.len() + shared.len();
        let before = m.removed + shared.len();
        if after < threshold || after <= before {
            continue;
        }
        let Ok(at) = Timestamp::from_second(minute * 60) else {
            continue;
        };
        let secs = (minute * 60).rem_euclid(86_400);
        let key = format!("{:02}:{:02}", secs / 3600, secs / 60 % 60);
        let names = || {
            let mut names: Vec<String> = m
                .after
                .iter()
                .chain(shared.iter())
                .map(|n| n.to_string())
                .collect();
            names.sort();
            names
        };
        let group = groups.entry(key.clone()).or_insert_with(|| Collision {
            time_utc: key,
            occurrences: 0,
            first: at,
            after,
            before,
            names: names(),
        });
        group.occurrences += 1;
        if after > group.after {
            group.first = at;
            group.after = after;
            group.before = before;
            group.names = names();
        }
    }
    let mut out: Vec<Collision> = groups.into_values().collect();
    out.sort_by(|a, b| b.after.cmp(&a.after).then(a.first.cmp(&b.first)));
    out
}

/// The distinct minutes (Unix minutes) in which `f` fires in `[from, to)`.
fn fire_minutes(f: &Firing<'_>, from: Timestamp, to: Timestamp) -> Vec<i64> {
    let mut out: Vec<i64> = f
        .schedule
        .fires_between(f.zone, from, to, super::timing::MAX_COUNTED as usize)
        .iter()
        .map(|t| t.as_second().div_euclid(60))
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Owned(String, Schedule, Zone);

    fn owned(name: &str, expr: &str) -> Owned {
        Owned(
            name.into(),
            Schedule::parse(expr).expect("valid"),
            Zone::utc(),
        )
    }

    fn firings(list: &[Owned]) -> Vec<Firing<'_>> {
        list.iter()
            .map(|o| Firing {
                name: &o.0,
                schedule: &o.1,
                zone: &o.2,
            })
            .collect()
    }

    const FROM: &str = "2026-11-27T07:43:00Z";
    const TO: &str = "2026-11-29T07:43:00Z";

    fn run(added: &[Owned], removed: &[Owned], shared: &[Owned], k: usize) -> Vec<Collision> {
        collisions(
            &firings(added),
            &firings(removed),
            &firings(shared),
            FROM.parse().expect("instant"),
            TO.parse().expect("instant"),
            k,
        )
    }

    #[test]
    fn moving_one_cronjob_into_a_crowded_minute_is_a_collision() {
        let shared: Vec<Owned> = (0..3)
            .map(|i| owned(&format!("ns/s{i}"), "0 3 * * *"))
            .collect();
        let found = run(
            &[owned("ns/moved", "0 3 * * *")],
            &[owned("ns/moved", "0 4 * * *")],
            &shared,
            4,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let c = &found[0];
        assert_eq!(c.time_utc, "03:00");
        assert_eq!((c.after, c.before, c.occurrences), (4, 3, 2));
        assert_eq!(c.first.to_string(), "2026-11-28T03:00:00Z");
        assert_eq!(c.names, ["ns/moved", "ns/s0", "ns/s1", "ns/s2"]);
    }

    #[test]
    fn no_collision_below_the_threshold_or_when_nothing_gets_worse() {
        let shared: Vec<Owned> = (0..3)
            .map(|i| owned(&format!("ns/s{i}"), "0 3 * * *"))
            .collect();
        // Below K.
        assert!(run(&[owned("ns/a", "0 3 * * *")], &[], &shared, 5).is_empty());
        // An edit that keeps the schedule does not make the minute worse.
        assert!(
            run(
                &[owned("ns/a", "0 3 * * *")],
                &[owned("ns/a", "0 3 * * *")],
                &shared,
                4
            )
            .is_empty()
        );
        // Other minutes do not count.
        assert!(run(&[owned("ns/a", "5 3 * * *")], &[], &shared, 2).is_empty());
    }

    #[test]
    fn sub_minute_schedules_count_once_per_minute() {
        let found = run(
            &[owned("ns/fast", "@every 10s")],
            &[],
            &[owned("ns/b", "0 3 * * *")],
            2,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].after, 2);
    }
}
