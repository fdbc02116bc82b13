//! The local executor's two controllers, driven by arbitrary valid specs,
//! pods that end however the input says, and a clock that jumps anywhere
//! (to the ends of time too): they must never panic, never ask for more
//! pods than a sync may create, and a finished Job stays finished.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use jobcd::schedule::{Schedule, Zone};
use jobcd::target::local::cron_controller::{self, Child, Concurrency};
use jobcd::target::local::job_controller::{self, MAX_CREATE_PER_SYNC, Phase, Pod, Status};
use libfuzzer_sys::fuzz_target;

/// Reads values from the input, zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        first
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }

    /// A count as the API allows it (int32, not negative), often small,
    /// sometimes at the extremes.
    fn count(&mut self) -> i32 {
        match self.byte() % 8 {
            0 => 0,
            1 => i32::MAX,
            2 => (self.i64() & 0x7fff_ffff) as i32,
            _ => i32::from(self.byte() % 12),
        }
    }

    /// Seconds as the API allows them (int64, positive), often small,
    /// sometimes huge.
    fn seconds(&mut self) -> i64 {
        match self.byte() % 4 {
            0 => i64::MAX,
            1 => self.i64().unsigned_abs().min(i64::MAX as u64 - 1) as i64 + 1,
            _ => i64::from(self.byte()) + 1,
        }
    }

    /// The next instant: a small step, a leap, or the ends of time.
    fn advance(&mut self, now: Timestamp) -> Timestamp {
        let by = match self.byte() % 8 {
            0 => return Timestamp::MAX,
            1 => SignedDuration::from_secs(self.i64() % (400 * 366 * 86_400)),
            _ => SignedDuration::from_secs(i64::from(self.byte())),
        };
        now.checked_add(by).unwrap_or(now)
    }
}

const SCHEDULES: [&str; 8] = [
    "* * * * *",
    "*/5 * * * *",
    "0 3 * * *",
    "0 0 29 2 *",
    "30 2 * * 0",
    "@every 1s",
    "@every 90m",
    "59 23 31 12 *",
];

fn job(input: &mut Input<'_>) {
    let mut spec = job_controller::Spec::from_job(&Default::default()).expect("the default spec");
    spec.completions = input.bool().then(|| input.count());
    spec.parallelism = input.count();
    spec.indexed = spec.completions.is_some() && input.bool();
    spec.backoff_limit = input.count();
    spec.on_failure_restart = input.bool();
    spec.active_deadline = input.bool().then(|| input.seconds());
    spec.suspend = input.byte() % 8 == 0;
    spec.backoff_base = Duration::from_secs(u64::from(input.byte()));
    let mut status = Status::default();
    let mut pods: Vec<Pod> = Vec::new();
    let mut now = Timestamp::from_second(1_767_225_600).expect("2026");
    let mut next_id = 0;
    let mut finished = false;
    for _ in 0..32 {
        let actions = job_controller::sync(&spec, &mut status, &pods, now);
        assert!(actions.create.len() <= MAX_CREATE_PER_SYNC);
        assert!(status.active >= 0);
        assert!(
            !finished || status.finished(),
            "a finished Job stays finished"
        );
        finished = status.finished();
        pods.retain(|p| !actions.delete.contains(&p.id));
        for index in actions.create.iter().take(64) {
            next_id += 1;
            pods.push(Pod {
                id: next_id,
                name: format!("default/job-{next_id}"),
                index: *index,
                phase: Phase::Running,
                restarts: 0,
                exits: Vec::new(),
                finished: None,
                terminating: false,
                disrupted: false,
            });
        }
        for pod in pods.iter_mut().filter(|p| p.phase == Phase::Running) {
            match input.byte() % 4 {
                0 => {
                    pod.phase = Phase::Succeeded;
                    pod.finished = Some(now);
                    pod.exits = vec![("main".into(), 0)];
                }
                1 => {
                    pod.phase = Phase::Failed;
                    pod.finished = Some(now);
                    pod.exits = vec![("main".into(), i32::from(input.byte()))];
                }
                2 => pod.restarts = pod.restarts.saturating_add(i32::from(input.byte())),
                _ => {}
            }
        }
        now = input.advance(now);
    }
}

/// The zones tried, read once (reading tzdata is file I/O).
fn zones() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        let mut zones = vec![Zone::utc()];
        for name in ["America/New_York", "Australia/Lord_Howe"] {
            zones.extend(Zone::named(name).ok());
        }
        zones
    })
}

fn cronjob(input: &mut Input<'_>) {
    let schedule = SCHEDULES[usize::from(input.byte()) % SCHEDULES.len()];
    let zones = zones();
    let zone = zones[usize::from(input.byte()) % zones.len()].clone();
    let spec = cron_controller::Spec {
        name: "fuzz".into(),
        schedule: Schedule::parse(schedule).expect("a valid schedule"),
        annotation_zone: if input.bool() {
            zone.clone()
        } else {
            Zone::utc()
        },
        zone,
        concurrency: match input.byte() % 3 {
            0 => Concurrency::Allow,
            1 => Concurrency::Forbid,
            _ => Concurrency::Replace,
        },
        starting_deadline: input.bool().then(|| input.seconds() - 1),
        suspend: input.byte() % 8 == 0,
        successful_history: input.count(),
        failed_history: input.count(),
    };
    let mut now = Timestamp::from_second(1_767_225_600).expect("2026");
    let mut state = cron_controller::State {
        created: now,
        last_schedule: None,
        last_successful: None,
    };
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..32 {
        let actions = cron_controller::sync(&spec, &mut state, &children, now);
        if let Some(created) = &actions.create {
            assert!(created.scheduled <= now, "never a run ahead of its time");
            children.push(Child {
                name: format!("fuzz-{}", children.len()),
                start_time: Some(now),
                finished: None,
            });
        }
        for child in children.iter_mut().filter(|c| c.finished.is_none()) {
            if input.bool() {
                child.finished = Some((input.bool(), now));
            }
        }
        children.truncate(64);
        now = input.advance(now);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    if input.bool() {
        job(&mut input);
    } else {
        cronjob(&mut input);
    }
});
