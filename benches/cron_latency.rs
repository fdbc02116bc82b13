//! How late a CronJob starts: from its scheduled second to its pod's
//! process running, through `Executor::serve` on the real clock.
//!
//! Waiting for real minute boundaries would take a minute per sample, so
//! the executor's clock is the system clock shifted to put the next minute
//! boundary a moment ahead; everything else (timers, the tick, the store,
//! spawning) is real. Each round starts a fresh executor with `CRONJOBS`
//! CronJobs on `* * * * *`; the first start measures one CronJob's latency,
//! the last the latency of a herd firing in the same minute.
//!
//! `cargo bench --bench cron_latency`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use jobcd::manifest::{self, SourceFile};
use jobcd::plan::spec_hash;
use jobcd::target::Desired;
use jobcd::target::local::clock::{Clock, Wait};
use jobcd::target::local::executor::{Executor, Notice};
use jobcd::target::local::supervisor;

const ROUNDS: usize = 15;
const CRONJOBS: usize = 20;
/// How far ahead of now each round puts the minute boundary.
const LEAD: Duration = Duration::from_millis(400);

/// The system clock, shifted.
#[derive(Debug)]
struct Shifted(SignedDuration);

impl Clock for Shifted {
    fn now(&self) -> Timestamp {
        Timestamp::now() + self.0
    }

    fn wait_until(&self, at: Timestamp) -> Wait<'_> {
        Box::pin(async move {
            while let Ok(wait) = Duration::try_from(at.duration_since(self.now())) {
                if wait.is_zero() {
                    break;
                }
                tokio::time::sleep(wait).await;
            }
        })
    }
}

fn cronjobs() -> Vec<Desired> {
    let yaml: String = (0..CRONJOBS)
        .map(|i| {
            format!(
                "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: c{i}}}\nspec:\n  schedule: '* * * * *'\n  timeZone: Etc/UTC\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: none, command: ['true']}}]\n"
            )
        })
        .collect();
    let files = [SourceFile {
        path: "bench.yaml".into(),
        bytes: yaml.into_bytes(),
    }];
    let options = manifest::Options {
        strict: true,
        now: Timestamp::now(),
        allow_secrets: false,
    };
    let desired = manifest::load(&files, &options)
        .into_desired()
        .expect("valid");
    desired
        .objects()
        .iter()
        .map(|o| Desired {
            object: o.clone(),
            source: "bench".into(),
            revision: "r".into(),
            spec_hash: spec_hash(o),
        })
        .collect()
}

/// One round: (first start, last start) after the scheduled second.
async fn round(objects: &[Desired]) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    // Shift so that the next minute boundary is LEAD ahead.
    let now = Timestamp::now();
    let lead = SignedDuration::try_from(LEAD).unwrap();
    let boundary = (now + lead)
        .round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Minute)
                .mode(jiff::RoundMode::Ceil),
        )
        .unwrap();
    let shift = boundary.duration_since(now + lead);
    let clock = Arc::new(Shifted(shift));
    let (executor, _) = Executor::start_with(
        dir.path(),
        clock,
        &jobcd::target::local::Settings::default(),
        |rt| {
            rt.supervisor = supervisor::Command::binary(Path::new(env!("CARGO_BIN_EXE_jobcd")));
        },
    )
    .await
    .unwrap();
    for o in objects {
        executor.apply_cronjob(o).unwrap();
    }
    let mut notices = executor.notices();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let executor = executor.clone();
        tokio::spawn(async move {
            executor
                .serve(async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    let mut ended = 0;
    while ended < objects.len() {
        if let Ok(Notice::Ended { .. }) = notices.recv().await {
            ended += 1;
        }
    }
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    let mut starts: Vec<Duration> = executor
        .runs(None)
        .unwrap()
        .iter()
        .map(|run| {
            let scheduled = run.job.scheduled_time.expect("a scheduled run");
            assert_eq!(scheduled, boundary, "fired for the boundary");
            let started = run.pods[0].started_at.expect("the pod started");
            Duration::try_from(started.duration_since(scheduled)).expect("not early")
        })
        .collect();
    starts.sort();
    (starts[0], *starts.last().unwrap())
}

fn main() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let objects = cronjobs();
    let mut first = Vec::new();
    let mut last = Vec::new();
    for _ in 0..ROUNDS {
        let (f, l) = tokio.block_on(round(&objects));
        first.push(f);
        last.push(l);
    }
    first.sort();
    last.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "CronJob start latency over {ROUNDS} rounds of {CRONJOBS} CronJobs firing in the same second:\n  \
         first start: median {:.1} ms, max {:.1} ms\n  \
         last start (all {CRONJOBS} running): median {:.1} ms, max {:.1} ms",
        ms(first[ROUNDS / 2]),
        ms(first[ROUNDS - 1]),
        ms(last[ROUNDS / 2]),
        ms(last[ROUNDS - 1]),
    );
}
