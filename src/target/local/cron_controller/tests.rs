//! The controller's cases from docs/kubernetes-semantics.md §2.2–2.6.

use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn spec(schedule: &str) -> Spec {
    Spec {
        name: "cj".into(),
        schedule: Schedule::parse(schedule).unwrap(),
        zone: Zone::utc(),
        annotation_zone: Zone::utc(),
        concurrency: Concurrency::Allow,
        starting_deadline: None,
        suspend: false,
        successful_history: DEFAULT_SUCCESSFUL_HISTORY,
        failed_history: DEFAULT_FAILED_HISTORY,
    }
}

fn state(last: Option<&str>) -> State {
    State {
        created: at("2025-01-01T00:00:00Z"),
        last_schedule: last.map(at),
        last_successful: None,
    }
}

fn created(actions: &Actions) -> Option<Timestamp> {
    actions.create.as_ref().map(|j| j.scheduled)
}

#[test]
fn after_downtime_only_the_most_recent_slot_runs() {
    let s = spec("* * * * *");
    let mut st = state(Some("2025-01-06T08:30:00Z"));
    let a = sync(&s, &mut st, &[], at("2025-01-06T10:21:30Z"));
    assert_eq!(created(&a), Some(at("2025-01-06T10:21:00Z")));
    assert!(
        a.events
            .iter()
            .any(|e| matches!(e, Event::TooManyMissedTimes(n) if *n > 100)),
        "{:?}",
        a.events
    );
    assert_eq!(st.last_schedule, Some(at("2025-01-06T10:21:00Z")));

    let s = Spec {
        starting_deadline: Some(200),
        ..spec("* * * * *")
    };
    let mut st = state(Some("2025-01-06T08:30:00Z"));
    let a = sync(&s, &mut st, &[], at("2025-01-06T10:21:30Z"));
    assert_eq!(created(&a), Some(at("2025-01-06T10:21:00Z")));
    assert!(
        a.events.is_empty(),
        "the deadline bounds the search: {:?}",
        a.events
    );
}

#[test]
fn hourly_after_downtime_and_starting_deadlines() {
    let mut st = state(Some("2025-01-06T05:00:00Z"));
    let a = sync(&spec("0 * * * *"), &mut st, &[], at("2025-01-06T09:30:00Z"));
    assert_eq!(
        created(&a),
        Some(at("2025-01-06T09:00:00Z")),
        "one Job, 06:00-08:00 dropped"
    );

    let s = Spec {
        starting_deadline: Some(600),
        ..spec("0 * * * *")
    };
    let mut st = state(Some("2025-01-06T05:00:00Z"));
    let a = sync(&s, &mut st, &[], at("2025-01-06T09:30:00Z"));
    assert_eq!(created(&a), None);
    assert_eq!(a.requeue_at, Some(at("2025-01-06T10:00:00Z")));
    let a = sync(&s, &mut st, &[], at("2025-01-06T09:05:00Z"));
    assert_eq!(created(&a), Some(at("2025-01-06T09:00:00Z")));
}

#[test]
fn job_names_and_scheduled_annotations() {
    let s = spec("*/5 * * * *");
    let mut st = State {
        created: at("2025-01-06T10:02:00Z"),
        last_schedule: None,
        last_successful: None,
    };
    let a = sync(&s, &mut st, &[], at("2025-01-06T10:05:00.1Z"));
    let job = a.create.unwrap();
    assert_eq!(job.name, "cj-28935965");
    assert_eq!(job.scheduled_annotation, "2025-01-06T10:05:00Z");
    assert_eq!(job_name("cj", at("2025-01-01T00:00:00Z")), "cj-28928160");
    let ny = Zone::named("America/New_York").unwrap();
    assert_eq!(
        rfc3339_in(at("2025-03-10T06:30:00Z"), &ny),
        "2025-03-10T02:30:00-04:00"
    );
    let berlin = Zone::named("Europe/Berlin").unwrap();
    assert_eq!(
        rfc3339_in(at("2025-10-26T01:30:00Z"), &berlin),
        "2025-10-26T02:30:00+01:00"
    );
}

#[test]
fn without_a_time_zone_the_annotation_is_in_utc_whatever_the_machine_zone() {
    let cronjob = |zone: Option<&str>| -> CronJob {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cj"},
            "spec": {"schedule": "30 2 * * *", "timeZone": zone, "jobTemplate": {}},
        }))
        .unwrap()
    };
    // The machine's zone evaluates the schedule (here Berlin, as on a
    // host set to it); the controller still formats the slot in UTC.
    let s = Spec {
        zone: Zone::named("Europe/Berlin").unwrap(),
        ..Spec::from_cronjob("cj", &cronjob(None)).unwrap()
    };
    let mut st = state(Some("2025-03-09T01:30:00Z"));
    let job = sync(&s, &mut st, &[], at("2025-03-10T01:30:00Z"))
        .create
        .unwrap();
    assert_eq!(job.scheduled_annotation, "2025-03-10T01:30:00Z");
    let s = Spec::from_cronjob("cj", &cronjob(Some("America/New_York"))).unwrap();
    let mut st = state(Some("2025-03-09T07:30:00Z"));
    let job = sync(&s, &mut st, &[], at("2025-03-10T06:30:00Z"))
        .create
        .unwrap();
    assert_eq!(job.scheduled_annotation, "2025-03-10T02:30:00-04:00");
}

#[test]
fn a_slot_never_runs_twice() {
    let s = spec("0 * * * *");
    let mut st = state(None);
    let now = at("2025-01-01T01:00:30Z");
    assert!(sync(&s, &mut st, &[], now).create.is_some());
    assert!(
        sync(&s, &mut st, &[], now).create.is_none(),
        "lastScheduleTime is the slot"
    );
}

#[test]
fn forbid_skips_while_active_and_runs_late_after() {
    let s = Spec {
        concurrency: Concurrency::Forbid,
        ..spec("0 * * * *")
    };
    let mut st = state(Some("2025-01-01T01:00:00Z"));
    let running = Child {
        name: "cj-old".into(),
        start_time: Some(at("2025-01-01T01:00:00Z")),
        finished: None,
    };
    let a = sync(
        &s,
        &mut st,
        std::slice::from_ref(&running),
        at("2025-01-01T02:00:10Z"),
    );
    assert_eq!(created(&a), None);
    assert_eq!(
        a.events,
        [Event::JobAlreadyActive(at("2025-01-01T02:00:00Z"))]
    );
    assert_eq!(
        st.last_schedule,
        Some(at("2025-01-01T01:00:00Z")),
        "the skipped slot is not recorded"
    );
    let done = Child {
        finished: Some((true, at("2025-01-01T02:10:00Z"))),
        ..running
    };
    let a = sync(&s, &mut st, &[done], at("2025-01-01T02:10:01Z"));
    assert_eq!(
        created(&a),
        Some(at("2025-01-01T02:00:00Z")),
        "it runs late"
    );
}

#[test]
fn replace_stops_the_active_runs_first() {
    let s = Spec {
        concurrency: Concurrency::Replace,
        ..spec("0 * * * *")
    };
    let mut st = state(Some("2025-01-01T01:00:00Z"));
    let running = Child {
        name: "cj-28928220".into(),
        start_time: Some(at("2025-01-01T01:00:00Z")),
        finished: None,
    };
    let a = sync(&s, &mut st, &[running], at("2025-01-01T02:00:01Z"));
    assert_eq!(a.delete, ["cj-28928220"]);
    assert_eq!(created(&a), Some(at("2025-01-01T02:00:00Z")));
}

#[test]
fn history_limits_delete_the_oldest_finished_jobs_even_when_suspended() {
    let s = Spec {
        suspend: true,
        successful_history: 2,
        failed_history: 0,
        ..spec("0 * * * *")
    };
    let child = |name: &str, start: &str, ok: bool| Child {
        name: name.into(),
        start_time: Some(at(start)),
        finished: Some((ok, at(start))),
    };
    let children = [
        child("a", "2025-01-01T01:00:00Z", true),
        child("b", "2025-01-01T02:00:00Z", true),
        child("c", "2025-01-01T03:00:00Z", true),
        child("f", "2025-01-01T04:00:00Z", false),
    ];
    let mut st = state(None);
    let a = sync(&s, &mut st, &children, at("2025-01-01T05:00:00Z"));
    assert_eq!(a.delete, ["a", "f"]);
    assert_eq!(created(&a), None, "suspended");
    assert_eq!(st.last_successful, Some(at("2025-01-01T03:00:00Z")));
}

#[test]
fn the_estimate_can_skip_a_slot_on_irregular_schedules() {
    // Last run Dec 2; now Mar 15: t1 = Jan 1, t2 = Jan 2, so the search
    // starts near Mar 14 and finds nothing — the Mar 2 run is skipped.
    let mut st = state(Some("2024-12-02T00:00:00Z"));
    let a = sync(
        &spec("0 0 1,2 * *"),
        &mut st,
        &[],
        at("2025-03-15T00:00:00Z"),
    );
    assert_eq!(created(&a), None);
    assert_eq!(a.requeue_at, Some(at("2025-04-01T00:00:00Z")));
}

#[test]
fn a_schedule_that_never_fires_is_invalid_and_not_requeued() {
    let mut st = state(None);
    let a = sync(
        &spec("0 0 30 2 *"),
        &mut st,
        &[],
        at("2025-06-01T00:00:00Z"),
    );
    assert_eq!(a.events, [Event::InvalidSchedule]);
    assert_eq!(a.requeue_at, None);
}

#[test]
fn starting_deadline_zero_never_runs() {
    let s = Spec {
        starting_deadline: Some(0),
        ..spec("* * * * *")
    };
    let mut st = state(None);
    assert!(
        sync(&s, &mut st, &[], at("2025-01-01T00:10:00Z"))
            .create
            .is_none()
    );
}

#[test]
fn deadlines_and_history_limits_at_their_extremes_never_panic() {
    // startingDeadlineSeconds is an int64; i64::MAX seconds is far past
    // the last instant jiff knows.
    let s = Spec {
        starting_deadline: Some(i64::MAX),
        successful_history: i32::MAX,
        failed_history: 0,
        ..spec("* * * * *")
    };
    let mut st = state(Some("2025-01-06T08:30:00Z"));
    let a = sync(&s, &mut st, &[], at("2025-01-06T10:21:30Z"));
    assert_eq!(created(&a), Some(at("2025-01-06T10:21:00Z")));
    let s = Spec {
        starting_deadline: Some(0),
        ..spec("@every 1s")
    };
    let mut st = state(None);
    let a = sync(&s, &mut st, &[], at("2025-01-01T00:00:05Z"));
    // The search starts at now: no past slot is found, the next is waited for.
    assert_eq!(created(&a), None);
    assert_eq!(a.requeue_at, Some(at("2025-01-01T00:00:06Z")));
}
