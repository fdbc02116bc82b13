//! Looks at CronJobs over time, and the notices each look gives.

use super::*;
use crate::health::{Outcome, Policy, Run};
use crate::schedule::{Schedule, Zone};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn minutely(since: &str, runs: Vec<Run>) -> Observed {
    Observed {
        namespace: "default".into(),
        name: "tick".into(),
        source: "main".into(),
        revision: "a".repeat(40),
        schedule: Schedule::parse("* * * * *").unwrap(),
        zone: Zone::named("Europe/Berlin").unwrap(),
        starting_deadline: Some(Duration::from_secs(10)),
        suspended_since: None,
        max_age: Some(Duration::from_secs(3600)),
        since: at(since),
        runs,
    }
}

fn run(scheduled: &str, started: &str, end: Option<(&str, Outcome)>) -> Run {
    Run {
        scheduled: at(scheduled),
        started: at(started),
        finished: end.map(|(t, _)| at(t)),
        outcome: end.map_or(Outcome::Running, |(_, o)| o),
    }
}

/// One look at `cronjob` at `now`.
fn look(tracker: &mut Tracker, cronjob: &Observed, now: &str) -> Look {
    let health = cronjob.judge(at(now), &Policy::default());
    tracker.look(&[(cronjob, &health)], at(now))
}

fn changes(look: &Look) -> Vec<Change> {
    look.notices.iter().map(|n| n.change).collect()
}

#[test]
fn a_missed_slot_is_told_once_and_clears_when_a_later_slot_runs() {
    let mut tracker = Tracker::new();
    let mut cronjob = minutely("2026-12-06T10:00:30Z", vec![]);
    // 10:01 is due until 10:01:10.
    assert_eq!(
        look(&mut tracker, &cronjob, "2026-12-06T10:01:05Z"),
        Look::default()
    );
    let first = look(&mut tracker, &cronjob, "2026-12-06T10:01:20Z");
    assert_eq!(
        changes(&first),
        [Change::Firing(Trouble::Missed {
            last: at("2026-12-06T10:01:00Z"),
            count: 1
        })]
    );
    let notice = &first.notices[0];
    assert_eq!(
        notice.message,
        "missed the run of 2026-12-06 11:01 Europe/Berlin: no Job was created"
    );
    assert_eq!(
        (notice.source.as_str(), notice.zone.as_str()),
        ("main", "Europe/Berlin")
    );
    assert!(
        changes(&look(&mut tracker, &cronjob, "2026-12-06T10:01:50Z")).is_empty(),
        "told once"
    );
    assert_eq!(tracker.firing("default", "tick"), [Kind::Missed]);
    assert_eq!(
        tracker.firing_notices().collect::<Vec<_>>(),
        [notice],
        "what is firing, as it was told"
    );
    // jobcd was away: 10:02 and 10:03 missed, both told in one notice.
    let two = look(&mut tracker, &cronjob, "2026-12-06T10:03:30Z");
    assert_eq!(
        changes(&two),
        [Change::Firing(Trouble::Missed {
            last: at("2026-12-06T10:03:00Z"),
            count: 2
        })]
    );
    assert!(
        two.notices[0]
            .message
            .starts_with("missed 2 runs, the last of 2026-12-06 11:03")
    );
    cronjob
        .runs
        .push(run("2026-12-06T10:04:00Z", "2026-12-06T10:04:02Z", None));
    let ran = look(&mut tracker, &cronjob, "2026-12-06T10:04:20Z");
    assert_eq!(changes(&ran), [Change::Resolved(Kind::Missed)]);
    assert!(tracker.firing("default", "tick").is_empty());
    assert_eq!(tracker.firing_notices().count(), 0);
    assert_eq!(ran.started.len(), 1);
    assert_eq!(ran.started[0].delay, Duration::from_secs(2));
    assert!(
        look(&mut tracker, &cronjob, "2026-12-06T10:04:40Z")
            .started
            .is_empty(),
        "a run's delay is counted once"
    );
}

#[test]
fn an_overrun_and_a_failure_fire_each_time_anew_and_clear() {
    let mut tracker = Tracker::new();
    let mut cronjob = minutely(
        "2026-12-06T09:59:30Z",
        vec![run("2026-12-06T10:00:00Z", "2026-12-06T10:00:01Z", None)],
    );
    assert!(changes(&look(&mut tracker, &cronjob, "2026-12-06T10:00:30Z")).is_empty());
    // Forbid: the 10:01 slot is skipped while the run goes on (the
    // controller makes no Job), which is missed too.
    let over = look(&mut tracker, &cronjob, "2026-12-06T10:01:30Z");
    assert_eq!(
        changes(&over),
        [
            Change::Firing(Trouble::Missed {
                last: at("2026-12-06T10:01:00Z"),
                count: 1
            }),
            Change::Firing(Trouble::Overrunning {
                scheduled: at("2026-12-06T10:00:00Z"),
                next: at("2026-12-06T10:01:00Z")
            })
        ]
    );
    assert_eq!(
        over.notices[1].message,
        "the run of 2026-12-06 11:00 Europe/Berlin was still going at the next slot, 2026-12-06 11:01 Europe/Berlin"
    );
    cronjob.runs[0] = run(
        "2026-12-06T10:00:00Z",
        "2026-12-06T10:00:01Z",
        Some(("2026-12-06T10:01:40Z", Outcome::Failed)),
    );
    cronjob
        .runs
        .push(run("2026-12-06T10:02:00Z", "2026-12-06T10:02:01Z", None));
    let ended = look(&mut tracker, &cronjob, "2026-12-06T10:02:05Z");
    assert_eq!(
        changes(&ended),
        [
            Change::Resolved(Kind::Missed),
            Change::Resolved(Kind::Overrunning),
            Change::Firing(Trouble::Failed {
                at: at("2026-12-06T10:01:40Z")
            })
        ]
    );
    cronjob.runs[1] = run(
        "2026-12-06T10:02:00Z",
        "2026-12-06T10:02:01Z",
        Some(("2026-12-06T10:02:09Z", Outcome::Succeeded)),
    );
    assert_eq!(
        changes(&look(&mut tracker, &cronjob, "2026-12-06T10:02:10Z")),
        [Change::Resolved(Kind::Failed)]
    );
}

#[test]
fn staleness_fires_once_as_it_ages_and_a_removed_cronjob_is_forgotten() {
    let mut tracker = Tracker::new();
    let mut cronjob = minutely("2026-12-06T10:00:30Z", vec![]);
    // Ten minutes to start each run: nothing is missed here.
    cronjob.starting_deadline = Some(Duration::from_secs(600));
    cronjob.max_age = Some(Duration::from_secs(120));
    // Never succeeded: stale 2 min after its first slot (10:01).
    let stale = look(&mut tracker, &cronjob, "2026-12-06T10:03:30Z");
    assert_eq!(
        changes(&stale),
        [Change::Firing(Trouble::Stale(crate::health::Stale {
            last_success: None,
            allowance: Duration::from_secs(120),
            since: at("2026-12-06T10:03:00Z"),
        }))]
    );
    assert_eq!(
        stale.notices[0].message,
        "stale: no run succeeded in the 2m allowed"
    );
    assert!(changes(&look(&mut tracker, &cronjob, "2026-12-06T10:04:30Z")).is_empty());
    // Gone, then back: its troubles are told again.
    assert_eq!(
        tracker.look(&[], at("2026-12-06T10:05:00Z")),
        Look::default()
    );
    assert_eq!(
        changes(&look(&mut tracker, &cronjob, "2026-12-06T10:05:30Z")).len(),
        1
    );
    cronjob.runs.push(run(
        "2026-12-06T10:06:00Z",
        "2026-12-06T10:06:00Z",
        Some(("2026-12-06T10:06:03Z", Outcome::Succeeded)),
    ));
    assert_eq!(
        changes(&look(&mut tracker, &cronjob, "2026-12-06T10:06:30Z")),
        [Change::Resolved(Kind::Stale)]
    );
}

#[test]
fn kinds_read_back_and_durations_read_for_people() {
    for kind in Kind::ALL {
        assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
    }
    assert!("late".parse::<Kind>().unwrap_err().contains("late"));
    let cases = [
        (45, "45s"),
        (120, "2m"),
        (65, "1m5s"),
        (26 * 3600, "26h"),
        (5400, "1h30m"),
        (7 * 86_400, "7d"),
        (9 * 86_400 + 7200, "9d2h"),
    ];
    for (secs, text) in cases {
        assert_eq!(human(Duration::from_secs(secs)), text);
    }
}
