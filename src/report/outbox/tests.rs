//! The outbox on a real SQLite file, with a reporter that can be made to fail.

use std::sync::Mutex;

use super::*;
use crate::report::{Failure, SYNC_CONTEXT};
use jiff::SignedDuration;

#[derive(Default)]
struct Flaky {
    down: Mutex<Option<Failure>>,
    seen: Mutex<Vec<(String, State, String)>>,
}

impl Reporter for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }

    fn deliver(&self, status: &Status, _at: Timestamp) -> Result<(), Failure> {
        if let Some(failure) = self.down.lock().unwrap().clone() {
            return Err(failure);
        }
        self.seen.lock().unwrap().push((
            status.context.clone(),
            status.state,
            status.description.clone(),
        ));
        Ok(())
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn identical_states_are_not_queued_twice_and_the_latest_state_wins_over_a_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    let pending = Status::new(SHA, SYNC_CONTEXT, State::Pending, "syncing");
    assert!(outbox.enqueue("flaky", &pending, now).unwrap());
    assert!(
        !outbox.enqueue("flaky", &pending, now).unwrap(),
        "duplicate"
    );
    let reporter = Flaky::default();
    *reporter.down.lock().unwrap() = Some(Failure {
        message: "503".into(),
        retry_after: None,
    });
    let report = outbox.deliver_due(&[&reporter], now).unwrap();
    assert_eq!((report.delivered, report.backlog), (0, 1));
    let done = Status::new(SHA, SYNC_CONTEXT, State::Success, "1 created");
    assert!(outbox.enqueue("flaky", &done, now).unwrap());
    let waiting = outbox.waiting().unwrap();
    assert_eq!(waiting.len(), 1, "the failed pending was superseded");
    assert_eq!(waiting[0].status.state, State::Success);

    *reporter.down.lock().unwrap() = None;
    let later = at("2026-01-01T01:00:00Z");
    let report = outbox.deliver_due(&[&reporter], later).unwrap();
    assert_eq!((report.delivered, report.backlog), (1, 0));
    assert!(
        !outbox.enqueue("flaky", &done, later).unwrap(),
        "the delivered state is not posted again"
    );
}

#[test]
fn states_not_tried_yet_are_all_delivered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    for (state, what) in [(State::Pending, "running"), (State::Success, "done")] {
        let status = Status::new(SHA, "jobcd/job/default/pi", state, what);
        assert!(outbox.enqueue("flaky", &status, now).unwrap());
    }
    let reporter = Flaky::default();
    let report = outbox.deliver_due(&[&reporter], now).unwrap();
    assert_eq!((report.delivered, report.backlog), (2, 0));
    let seen: Vec<State> = reporter
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, state, _)| *state)
        .collect();
    assert_eq!(seen, [State::Pending, State::Success]);
}

#[test]
fn a_reporter_that_is_down_is_retried_with_backoff_or_at_its_reset_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let t0 = at("2026-01-01T00:00:00Z");
    let reporter = Flaky::default();
    *reporter.down.lock().unwrap() = Some(Failure {
        message: "500 Internal Server Error".into(),
        retry_after: None,
    });
    for (context, state) in [
        (SYNC_CONTEXT, State::Success),
        ("jobcd/job/default/a", State::Failure),
    ] {
        outbox
            .enqueue("flaky", &Status::new(SHA, context, state, "x"), t0)
            .unwrap();
    }
    let report = outbox.deliver_due(&[&reporter], t0).unwrap();
    assert_eq!(
        (report.delivered, report.failed.len(), report.backlog),
        (0, 2, 2)
    );
    // Not due again before the first backoff (1 s)…
    assert!(outbox.due("flaky", t0).unwrap().is_empty());
    // …then due; a rate limit pushes the next try to its reset.
    *reporter.down.lock().unwrap() = Some(Failure {
        message: "403 rate limited".into(),
        retry_after: Some(Duration::from_secs(60)),
    });
    let t1 = t0 + SignedDuration::from_secs(1);
    let report = outbox.deliver_due(&[&reporter], t1).unwrap();
    assert_eq!(
        report.failed.len(),
        1,
        "one attempt, then the pause: {:?}",
        report.failed
    );
    assert!(
        report.failed[0].contains("rate limited"),
        "{:?}",
        report.failed
    );
    let waiting = outbox.waiting().unwrap();
    assert_eq!(waiting[0].attempts, 2);
    assert_eq!(waiting[0].last_error.as_deref(), Some("403 rate limited"));
    assert_eq!(
        waiting[1].attempts, 1,
        "nothing more was tried after the limit"
    );
    // Until the reset the reporter is not called at all, even though it is
    // back up and the second status is due by its own backoff.
    *reporter.down.lock().unwrap() = None;
    let report = outbox
        .deliver_due(&[&reporter], t1 + SignedDuration::from_secs(59))
        .unwrap();
    assert_eq!((report.delivered, report.backlog), (0, 2));
    assert!(reporter.seen.lock().unwrap().is_empty());

    // Back up: both delivered once, in the order they were queued.
    *reporter.down.lock().unwrap() = None;
    let t2 = t1 + SignedDuration::from_secs(60);
    let report = outbox.deliver_due(&[&reporter], t2).unwrap();
    assert_eq!((report.delivered, report.backlog), (2, 0));
    let seen = reporter.seen.lock().unwrap();
    assert_eq!(
        seen.iter()
            .map(|(c, s, _)| (c.as_str(), *s))
            .collect::<Vec<_>>(),
        [
            (SYNC_CONTEXT, State::Success),
            ("jobcd/job/default/a", State::Failure)
        ]
    );
}

#[test]
fn undelivered_statuses_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = at("2026-01-01T00:00:00Z");
    {
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox
            .enqueue(
                "flaky",
                &Status::new(SHA, SYNC_CONTEXT, State::Pending, "syncing"),
                t0,
            )
            .unwrap();
    }
    let outbox = Outbox::open(dir.path()).unwrap();
    let reporter = Flaky::default();
    assert_eq!(outbox.deliver_due(&[&reporter], t0).unwrap().delivered, 1);
}

/// A reporter that keeps at most two statuses per context.
struct Limited(Flaky);

impl Reporter for Limited {
    fn name(&self) -> &str {
        "limited"
    }

    fn deliver(&self, status: &Status, at: Timestamp) -> Result<(), Failure> {
        self.0.deliver(status, at)
    }

    fn max_per_context(&self) -> Option<u32> {
        Some(2)
    }
}

#[test]
fn a_reporters_limit_per_context_is_never_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let reporter = Limited(Flaky::default());
    let now = at("2026-01-01T00:00:00Z");
    for n in 0..4 {
        let status = Status::new(SHA, SYNC_CONTEXT, State::Success, &format!("run {n}"));
        outbox.enqueue("limited", &status, now).unwrap();
        outbox.deliver_due(&[&reporter], now).unwrap();
    }
    let seen = reporter.0.seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        outbox.waiting().unwrap().is_empty(),
        "the rest is dropped, not retried"
    );
}

#[test]
fn a_notifications_payload_is_kept_for_delivery_and_counts_when_deduplicating() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    let context = "jobcd/cronjob/default/backup/missed";
    let mut firing = Status::new(SHA, context, State::Failure, "missed the run of 03:00");
    firing.payload = Some(r#"{"endsAt":"2026-01-01T00:20:00Z"}"#.into());
    assert!(outbox.enqueue("notify/am", &firing, now).unwrap());
    assert!(
        !outbox.enqueue("notify/am", &firing, now).unwrap(),
        "duplicate"
    );
    assert_eq!(
        outbox.waiting().unwrap()[0].status,
        firing,
        "payload read back"
    );
    struct Keep(Mutex<Vec<Status>>);
    impl Reporter for Keep {
        fn name(&self) -> &str {
            "notify/am"
        }
        fn deliver(&self, status: &Status, _at: Timestamp) -> Result<(), Failure> {
            self.0.lock().unwrap().push(status.clone());
            Ok(())
        }
    }
    let keep = Keep(Mutex::default());
    outbox.deliver_due(&[&keep], now).unwrap();
    assert_eq!(keep.0.lock().unwrap().as_slice(), [firing.clone()]);
    assert!(
        !outbox.enqueue("notify/am", &firing, now).unwrap(),
        "same as delivered"
    );
    // The same description with a later end: a re-send, queued.
    firing.payload = Some(r#"{"endsAt":"2026-01-01T00:25:00Z"}"#.into());
    assert!(outbox.enqueue("notify/am", &firing, now).unwrap());
}
