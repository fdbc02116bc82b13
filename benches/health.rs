//! How long one look at the CronJobs takes in `jobcd serve`'s health
//! watch: judging each CronJob's slots (over the last three periods) and
//! the tracker turning the judgements into notices — for 1,000 CronJobs of
//! mixed schedules, half in a DST zone, each with a few runs.
//!
//! `cargo bench --bench health`. The figure is the median of several looks.

use std::hint::black_box;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use jobcd::health::observe::Observed;
use jobcd::health::track::Tracker;
use jobcd::health::{Outcome, Policy, Run};
use jobcd::schedule::{Schedule, Zone};

const CRONJOBS: usize = 1_000;
const ROUNDS: usize = 9;

const SCHEDULES: &[&str] = &[
    "* * * * *",
    "*/5 * * * *",
    "0 * * * *",
    "0 3 * * *",
    "30 8 * * MON-FRI",
];

fn main() {
    let now: Timestamp = "2026-12-06T12:00:30Z".parse().unwrap();
    let zones = [Zone::utc(), Zone::named("Europe/Berlin").unwrap()];
    let cronjobs: Vec<Observed> = (0..CRONJOBS)
        .map(|i| {
            let schedule = Schedule::parse(SCHEDULES[i % SCHEDULES.len()]).unwrap();
            let zone = zones[i % 2].clone();
            // A run for each of the last few slots, every third one missed.
            let runs = schedule
                .fires_between(&zone, now - SignedDuration::from_hours(24 * 4), now, 10_080)
                .into_iter()
                .rev()
                .take(6)
                .enumerate()
                .filter(|(n, _)| n % 3 != 1)
                .map(|(_, at)| Run {
                    scheduled: at,
                    started: at + SignedDuration::from_secs(2),
                    finished: Some(at + SignedDuration::from_secs(30)),
                    outcome: Outcome::Succeeded,
                })
                .collect();
            Observed {
                namespace: "batch".into(),
                name: format!("cronjob-{i}"),
                source: "jobs".into(),
                revision: "0".repeat(40),
                schedule,
                zone,
                starting_deadline: Some(Duration::from_secs(60)),
                suspended_since: None,
                max_age: None,
                since: "2026-01-01T00:00:00Z".parse().unwrap(),
                runs,
            }
        })
        .collect();
    let policy = Policy::default();
    let mut tracker = Tracker::new();
    let mut times = Vec::new();
    let mut notices = 0;
    for round in 0..ROUNDS {
        let at = now + SignedDuration::from_secs(30 * round as i64);
        let started = Instant::now();
        let judged: Vec<_> = cronjobs.iter().map(|c| (c, c.judge(at, &policy))).collect();
        let pairs: Vec<_> = judged.iter().map(|(c, h)| (*c, h)).collect();
        let look = tracker.look(&pairs, at);
        times.push(started.elapsed());
        notices += look.notices.len();
        black_box(look);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "health look: {CRONJOBS} CronJobs judged and tracked in {:.1} ms (median of {ROUNDS}; {notices} notices in all)",
        median.as_secs_f64() * 1000.0
    );
}
