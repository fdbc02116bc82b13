//! The local executor's start overhead on a container engine: 200 runs of
//! a trivial container (`/bin/true` in a busybox image) through a Job
//! (`completions: 200`, one at a time: pod records, status saves, a
//! supervisor per pod, the engine's client for each step) against 200
//! `run --rm` of the same image straight from the engine's client. On
//! Podman, and on Docker where `dockerd` can start. Engines and images are
//! made as the tests make them (tests/support/engines.rs).
//!
//! `cargo bench --bench container_start` (`RUNS=50` for a quicker look).

#[path = "../tests/support/engines.rs"]
#[allow(dead_code)]
mod engines;
#[path = "support/job_runs.rs"]
mod job_runs;

use std::path::Path;
use std::time::{Duration, Instant};

use jobcd::target::local::engine::{self, Engine};
use jobcd::target::local::isolation::Isolation;

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let dockerd = on_path("dockerd");
    let mut engines = vec![engines::Engine::podman()];
    if dockerd {
        engines.push(engines::Engine::docker());
    }
    for test_engine in &engines {
        let name = test_engine.kind.runtime();
        let direct = directly(test_engine, runs);
        let through = through_the_executor(test_engine, runs);
        println!(
            "{name}: {runs} runs of a trivial container: `{name} run --rm` {:.2} s ({:.0} ms each); through the executor {:.2} s ({:.0} ms each): {:.2}x",
            direct.as_secs_f64(),
            direct.as_secs_f64() * 1e3 / runs as f64,
            through.as_secs_f64(),
            through.as_secs_f64() * 1e3 / runs as f64,
            through.as_secs_f64() / direct.as_secs_f64()
        );
    }
}

fn on_path(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|dir| Path::new(dir).join(program).exists())
}

/// `runs` × `run --rm IMAGE /bin/true`, one after another.
fn directly(engine: &engines::Engine, runs: usize) -> Duration {
    let t = Instant::now();
    for _ in 0..runs {
        let out = engine.client(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/true",
            engines::ECHO_IMAGE,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    t.elapsed()
}

/// `runs` pods of one container through a Job, one at a time.
fn through_the_executor(test_engine: &engines::Engine, runs: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let kind = match test_engine.kind {
        engines::Kind::Podman => engine::Kind::Podman,
        engines::Kind::Docker => engine::Kind::Docker,
    };
    // The test engine's configuration, as jobcd would take it from its
    // environment.
    let mut env: Vec<(String, String)> = ["PATH", "HOME"]
        .into_iter()
        .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
        .collect();
    env.extend(test_engine.env.iter().cloned());
    let engine = Engine::probe_in(kind, dir.path(), env).expect("the engine answers");
    job_runs::time(
        Isolation::Unavailable("the engine isolates".into()),
        Some(engine),
        engines::ECHO_IMAGE,
        "/bin/true",
        runs,
    )
}
