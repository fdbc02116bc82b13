//! The local executor's overhead per run: 1,000 runs of `true` through a Job
//! (`completions: 1000`, one at a time: pod records, status saves, log files,
//! process groups, a supervisor per pod) against 1,000 bare spawns of `true`
//! one after another; without a sandbox, and in bubblewrap's where it works.
//!
//! `cargo bench --bench local`.

#[path = "support/job_runs.rs"]
mod job_runs;

use std::process::Command;
use std::time::{Duration, Instant};

use jobcd::target::local::isolation::Isolation;

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
    job_runs::time(isolation, None, "none", "true", RUNS)
}
