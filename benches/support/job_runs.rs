//! Timing Job runs straight through the local executor's job runner, for
//! the benches that compare its overhead with a bare start: one container,
//! `runs` completions, one at a time.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jobcd::target::local::clock::SystemClock;
use jobcd::target::local::engine::Engine;
use jobcd::target::local::isolation::Isolation;
use jobcd::target::local::job_runner::{self, Runtime};
use jobcd::target::local::store::{JobRecord, Store};
use jobcd::target::local::supervisor;
use k8s_openapi::api::batch::v1::Job;

/// How long `runs` pods of one container running `command` from `image`
/// take through a Job, in a fresh state directory, each container isolated
/// by `isolation` or run on `engine`.
pub fn time(
    isolation: Isolation,
    engine: Option<Engine>,
    image: &str,
    command: &str,
    runs: usize,
) -> Duration {
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
        engine,
        allowed: Default::default(),
    };
    let job: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bench"},
        "spec": {"completions": runs, "parallelism": 1, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": image, "command": [command]}]}}}
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
    assert_eq!(status.succeeded as usize, runs);
    t.elapsed()
}
