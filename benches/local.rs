//! The local executor's overhead per run: 1,000 runs of `true` through a Job
//! (`completions: 1000`, one at a time: pod records, status saves, log files,
//! process groups, a supervisor per pod) against 1,000 bare spawns of `true`
//! one after another; without a sandbox, and in bubblewrap's where it works.
//!
//! `cargo bench --bench local`.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jobcd::target::local::clock::SystemClock;
use jobcd::target::local::isolation::Isolation;
use jobcd::target::local::job_runner::{self, Runtime};
use jobcd::target::local::store::{JobRecord, Store};
use jobcd::target::local::supervisor;
use k8s_openapi::api::batch::v1::Job;

const RUNS: usize = 1_000;

fn main() {
    let t = Instant::now();
    for _ in 0..RUNS {
        let status = Command::new("true").status().expect("true runs");
        assert!(status.success());
    }
    let bare = t.elapsed();

    println!(
        "{RUNS} runs of true: bare spawns {:.2} s ({:.2} ms each)",
        bare.as_secs_f64(),
        bare.as_secs_f64() * 1e3 / RUNS as f64,
    );
    for isolation in [
        Isolation::Unavailable("measured without a sandbox".into()),
        Isolation::probe(),
    ] {
        let sandboxed = matches!(isolation, Isolation::Bubblewrap(_));
        let executor = through_the_executor(isolation);
        println!(
            "  through the executor ({}): {:.2} s ({:.2} ms each): {:.2}x",
            if sandboxed {
                "in bubblewrap's sandbox"
            } else {
                "no sandbox"
            },
            executor.as_secs_f64(),
            executor.as_secs_f64() * 1e3 / RUNS as f64,
            executor.as_secs_f64() / bare.as_secs_f64()
        );
    }
}

/// 1,000 runs of `true`, one at a time, through a Job.
fn through_the_executor(isolation: Isolation) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime {
        store: Arc::new(Mutex::new(Store::open(dir.path()).unwrap())),
        pods_dir: dir.path().join("pods"),
        scratch_dir: dir.path().join("scratch"),
        isolation,
        clock: Arc::new(SystemClock),
        log_cap: 1 << 20,
        backoff_base: Duration::from_secs(10),
        crash_backoff: Duration::from_secs(10),
        supervisor: supervisor::Command::binary(Path::new(env!("CARGO_BIN_EXE_jobcd"))),
        node: jobcd::target::local::downward::Node::here(dir.path()),
        secrets: jobcd::target::local::secrets::Store::new(dir.path()),
        engine: None,
        allowed: Default::default(),
    };
    let job: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bench"},
        "spec": {"completions": RUNS, "parallelism": 1, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "none", "command": ["true"]}]}}}
    }))
    .unwrap();
    let record = JobRecord::new("bench", "default", "bench", "h", "{}", Timestamp::now());
    runtime.store.lock().unwrap().insert_job(&record).unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let status = tokio
        .block_on(job_runner::run(&runtime, record, &job, None))
        .unwrap();
    assert_eq!(status.succeeded as usize, RUNS);
    t.elapsed()
}
