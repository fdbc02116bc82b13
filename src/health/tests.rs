//! Health judged on hand-worked cases: the slots are the schedule's fire
//! times in the CronJob's zone (03:00 in Berlin is 02:00 UTC in winter).

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn run(scheduled: &str, started: &str, finished: Option<&str>, outcome: Outcome) -> Run {
    Run {
        scheduled: at(scheduled),
        started: at(started),
        finished: finished.map(at),
        outcome,
    }
}

struct Fixture {
    schedule: Schedule,
    zone: Zone,
}

impl Fixture {
    fn new(schedule: &str, zone: &str) -> Fixture {
        Fixture {
            schedule: Schedule::parse(schedule).unwrap(),
            zone: Zone::named(zone).unwrap(),
        }
    }

    fn cronjob(&self, since: &str) -> CronJob<'_> {
        CronJob {
            schedule: &self.schedule,
            zone: &self.zone,
            starting_deadline: None,
            suspended_since: None,
            max_age: None,
            since: at(since),
        }
    }
}

#[test]
fn a_nightly_backups_slots_runs_misses_and_staleness() {
    let f = Fixture::new("0 3 * * *", "Europe/Berlin");
    let runs = [
        run(
            "2026-12-01T02:00:00Z",
            "2026-12-01T02:00:05Z",
            Some("2026-12-01T02:10:05Z"),
            Outcome::Succeeded,
        ),
        run(
            "2026-12-03T02:00:00Z",
            "2026-12-03T02:03:00Z",
            Some("2026-12-03T02:04:00Z"),
            Outcome::Failed,
        ),
        run(
            "2026-12-04T02:00:00Z",
            "2026-12-04T02:00:01Z",
            None,
            Outcome::Running,
        ),
    ];
    let h = judge(
        &f.cronjob("2026-11-30T12:00:00Z"),
        &runs,
        at("2026-12-04T12:00:00Z"),
        // Four days back: the first run's slot is in the window.
        &Policy {
            lookback_periods: 4,
            ..Policy::default()
        },
    );
    let states: Vec<(String, SlotState)> = h
        .slots
        .iter()
        .map(|s| (s.at.to_string(), s.state))
        .collect();
    assert_eq!(
        states,
        [
            (
                "2026-12-01T02:00:00Z".into(),
                SlotState::Ran {
                    delay: secs(5),
                    outcome: Outcome::Succeeded
                }
            ),
            ("2026-12-02T02:00:00Z".into(), SlotState::Missed),
            (
                "2026-12-03T02:00:00Z".into(),
                SlotState::Ran {
                    delay: secs(180),
                    outcome: Outcome::Failed
                }
            ),
            (
                "2026-12-04T02:00:00Z".into(),
                SlotState::Ran {
                    delay: secs(1),
                    outcome: Outcome::Running
                }
            ),
        ]
    );
    assert_eq!(h.missed().collect::<Vec<_>>(), [at("2026-12-02T02:00:00Z")]);
    assert_eq!(h.next, Some(at("2026-12-05T02:00:00Z")));
    assert_eq!(h.last_scheduled, Some(at("2026-12-04T02:00:00Z")));
    assert_eq!(h.last_success, Some(at("2026-12-01T02:10:05Z")));
    assert_eq!(h.last_failure, Some(at("2026-12-03T02:04:00Z")));
    assert_eq!(h.last_duration, Some(secs(60)), "the last run that ended");
    assert_eq!(h.active, 1);
    assert!(h.overruns.is_empty(), "tonight's run has until tomorrow");
    // Daily: two periods are 48 h; the last success is 81 h 50 min old.
    assert_eq!(
        h.stale,
        Some(Stale {
            last_success: Some(at("2026-12-01T02:10:05Z")),
            allowance: secs(48 * 3600),
            since: at("2026-12-03T02:10:05Z"),
        })
    );
}

#[test]
fn a_slot_is_due_until_its_deadline_or_the_grace_then_missed() {
    let f = Fixture::new("*/5 * * * *", "UTC");
    let mut cronjob = f.cronjob("2026-12-06T11:58:00Z");
    let state = |cronjob: &CronJob<'_>, now: &str| {
        judge(cronjob, &[], at(now), &Policy::default()).slots[0].state
    };
    assert_eq!(
        state(&cronjob, "2026-12-06T12:00:00Z"),
        SlotState::Due,
        "a slot exactly now"
    );
    assert_eq!(
        state(&cronjob, "2026-12-06T12:04:59Z"),
        SlotState::Due,
        "within the 5 min grace"
    );
    assert_eq!(state(&cronjob, "2026-12-06T12:05:01Z"), SlotState::Missed);
    cronjob.starting_deadline = Some(secs(60));
    assert_eq!(state(&cronjob, "2026-12-06T12:00:59Z"), SlotState::Due);
    assert_eq!(
        state(&cronjob, "2026-12-06T12:01:01Z"),
        SlotState::Missed,
        "startingDeadlineSeconds decides when it is set"
    );
    let none = judge(
        &cronjob,
        &[],
        at("2026-12-06T11:59:59Z"),
        &Policy::default(),
    );
    assert!(none.slots.is_empty(), "no slot before the first fire time");
}

#[test]
fn a_run_still_going_when_the_next_slot_comes_overruns() {
    let f = Fixture::new("*/5 * * * *", "UTC");
    let runs = [run(
        "2026-12-06T12:00:00Z",
        "2026-12-06T12:00:02Z",
        None,
        Outcome::Running,
    )];
    let cronjob = f.cronjob("2026-12-06T11:58:00Z");
    let before = judge(
        &cronjob,
        &runs,
        at("2026-12-06T12:04:59Z"),
        &Policy::default(),
    );
    assert!(before.overruns.is_empty());
    let after = judge(
        &cronjob,
        &runs,
        at("2026-12-06T12:05:00Z"),
        &Policy::default(),
    );
    assert_eq!(
        after.overruns,
        [Overrun {
            scheduled: at("2026-12-06T12:00:00Z"),
            next: at("2026-12-06T12:05:00Z")
        }]
    );
    assert_eq!(
        after.slots[1].state,
        SlotState::Due,
        "Forbid would hold the next slot back"
    );
}

#[test]
fn a_suspended_cronjob_misses_nothing_but_a_long_suspension_is_reported() {
    let f = Fixture::new("0 * * * *", "UTC");
    let mut cronjob = f.cronjob("2026-12-01T00:30:00Z");
    cronjob.suspended_since = Some(at("2026-12-01T01:30:00Z"));
    let runs = [run(
        "2026-12-01T01:00:00Z",
        "2026-12-01T01:00:00Z",
        Some("2026-12-01T01:01:00Z"),
        Outcome::Succeeded,
    )];
    let h = judge(
        &cronjob,
        &runs,
        at("2026-12-01T04:00:00Z"),
        &Policy::default(),
    );
    assert_eq!(h.missed().count(), 0);
    assert!(h.slots[1..].iter().all(|s| s.state == SlotState::Suspended));
    assert_eq!(h.stale, None, "a suspended CronJob is not meant to run");
    assert_eq!(h.suspended_too_long, None);
    let later = judge(
        &cronjob,
        &runs,
        at("2026-12-08T01:30:01Z"),
        &Policy::default(),
    );
    assert_eq!(later.suspended_too_long, Some(secs(7 * 24 * 3600 + 1)));
    let lenient = Policy {
        suspended_max_age: None,
        ..Policy::default()
    };
    assert_eq!(
        judge(&cronjob, &runs, at("2026-12-08T01:30:01Z"), &lenient).suspended_too_long,
        None
    );
}

#[test]
fn the_allowance_is_the_annotation_or_periods_of_the_longest_gap() {
    // Weekdays at 09:00: the longest gap is the weekend's, 72 h, so two
    // periods are 144 h.
    let f = Fixture::new("0 9 * * 1-5", "UTC");
    let mut cronjob = f.cronjob("2026-11-01T00:00:00Z");
    let success = [run(
        "2026-12-04T09:00:00Z",
        "2026-12-04T09:00:00Z",
        Some("2026-12-04T09:30:00Z"),
        Outcome::Succeeded,
    )];
    let now = at("2026-12-07T12:00:00Z");
    let h = judge(&cronjob, &success, now, &Policy::default());
    assert_eq!(h.stale, None, "a weekend is not staleness");
    cronjob.max_age = Some(parse_max_age("26h").unwrap());
    let h = judge(&cronjob, &success, now, &Policy::default());
    assert_eq!(
        h.stale,
        Some(Stale {
            last_success: Some(at("2026-12-04T09:30:00Z")),
            allowance: secs(26 * 3600),
            since: at("2026-12-05T11:30:00Z"),
        })
    );
    // Never succeeded: stale once the allowance has passed since its first
    // expected slot (2026-11-02 09:00, a Monday).
    let h = judge(
        &cronjob,
        &[],
        at("2026-11-03T11:00:01Z"),
        &Policy::default(),
    );
    assert_eq!(
        h.stale,
        Some(Stale {
            last_success: None,
            allowance: secs(26 * 3600),
            since: at("2026-11-03T11:00:00Z"),
        })
    );
    let h = judge(
        &cronjob,
        &[],
        at("2026-11-03T11:00:00Z"),
        &Policy::default(),
    );
    assert_eq!(h.stale, None, "exactly the allowance is not too old");
}

#[test]
fn runs_that_match_no_slot_count_only_for_successes_and_failures() {
    let f = Fixture::new("0 3 * * *", "UTC");
    let by_hand = [run(
        "2026-12-02T10:17:00Z",
        "2026-12-02T10:17:00Z",
        Some("2026-12-02T10:18:00Z"),
        Outcome::Succeeded,
    )];
    let h = judge(
        &f.cronjob("2026-12-01T12:00:00Z"),
        &by_hand,
        at("2026-12-02T12:00:00Z"),
        &Policy::default(),
    );
    assert_eq!(h.slots.len(), 1);
    assert_eq!(h.slots[0].state, SlotState::Missed);
    assert_eq!(h.last_success, Some(at("2026-12-02T10:18:00Z")));
}

#[test]
fn max_age_values_read_as_a_number_and_a_unit() {
    assert_eq!(parse_max_age("26h"), Ok(secs(26 * 3600)));
    assert_eq!(parse_max_age("90m"), Ok(secs(90 * 60)));
    assert_eq!(parse_max_age("7d"), Ok(secs(7 * 86_400)));
    assert_eq!(parse_max_age(" 3600s "), Ok(secs(3600)));
    for bad in ["26", "h", "26 h", "1.5h", "0h", "26w", ""] {
        assert!(parse_max_age(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_old_cronjob_is_judged_over_its_last_periods_not_since_it_began() {
    // Every minute for three months: the window is three periods (3 min)
    // and the 5 min grace before now, so the latest slot is judged and the
    // first ones, long told, are not.
    let f = Fixture::new("* * * * *", "UTC");
    let cronjob = f.cronjob("2026-09-01T00:00:00Z");
    let now = at("2026-12-06T12:00:30Z");
    let runs = [run(
        "2026-12-06T11:58:00Z",
        "2026-12-06T11:58:01Z",
        Some("2026-12-06T11:58:10Z"),
        Outcome::Succeeded,
    )];
    let h = judge(&cronjob, &runs, now, &Policy::default());
    assert_eq!(h.last_scheduled, Some(at("2026-12-06T12:00:00Z")));
    assert_eq!(h.slots.len(), 8, "{:?}", h.slots);
    assert_eq!(h.slots[0].at, at("2026-12-06T11:53:00Z"));
    assert_eq!(
        h.missed().collect::<Vec<_>>(),
        [
            at("2026-12-06T11:53:00Z"),
            at("2026-12-06T11:54:00Z"),
            at("2026-12-06T11:55:00Z")
        ],
        "slots older than the grace with no Job"
    );
    let everything = Policy {
        lookback_periods: u32::MAX,
        ..Policy::default()
    };
    let h = judge(&cronjob, &runs, now, &everything);
    assert_eq!(h.slots.len(), MAX_SLOTS, "capped, from `since`");
}
