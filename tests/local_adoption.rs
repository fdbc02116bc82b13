//! A pod outlives a killed jobcd: its supervisor runs it to its end and
//! records how it ended, and the next runner adopts it — following it while
//! it runs, or reading the outcome it left — so a container that finished
//! is never run again, and its real exit is what the Job counts.
//!
//! Everything is real: the jobcd binary, its SQLite state, its supervisor
//! processes, and `sh` containers (see `support/crash_scene.rs`).

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use support::crash_scene::*;
use support::rng::Rng;

/// A Job whose container logs `start`, waits until the scene's file `go`
/// exists, logs `end` and exits with `code`.
fn waiting_job(scene: &Scene, code: i32) -> String {
    let d = scene.work.path().display();
    scene.job(
        "patient",
        0,
        &format!(
            "echo start >> {d}/log\n\
             while [ ! -e {d}/go ]; do sleep 0.02; done\n\
             echo end >> {d}/log\n\
             exit {code}\n"
        ),
    )
}

/// Applies the scene's manifests and kills jobcd once the pod runs;
/// returns the pod.
fn kill_jobcd_mid_run(scene: &Scene) -> String {
    let mut first = scene.apply();
    first.wait_for("started");
    let pod = started_pod(&first.output());
    scene.wait_until_recorded("patient", &pod);
    wait_until("the container has started", || {
        scene.lines("log") == ["start"]
    });
    first.crash();
    pod
}

#[test]
fn a_running_pod_is_adopted_by_the_next_runner_and_not_run_again() {
    let scene = Scene::new();
    scene.manifest("job.yaml", &waiting_job(&scene, 0));
    let pod = kill_jobcd_mid_run(&scene);
    assert_eq!(
        supervisors(scene.state.path()).len(),
        1,
        "the supervisor lives on"
    );

    let mut second = scene.apply();
    second.wait_for(&format!(
        "recovered: pod {pod} was running when jobcd last stopped; adopted from its supervisor"
    ));
    second
        .wait_for("Job default/patient: already running with this spec (resumed); waiting for it");
    std::fs::write(scene.file("go"), "").unwrap();
    let status = second.finish();
    let out = second.output();
    assert!(status.success(), "{out}");
    assert!(
        out.contains("Job default/patient: Complete (CompletionsReached"),
        "{out}"
    );
    assert_eq!(scene.lines("log"), ["start", "end"], "one run, to its end");

    let runs = scene.runs("patient");
    let pods = pod_lines(&runs);
    assert_eq!(pods.len(), 1, "{runs}");
    assert!(
        pods[0].starts_with(&format!("  pod {pod} Succeeded ")),
        "{runs}"
    );
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "nothing is left running"
    );
    assert_eq!(supervisors(scene.state.path()), Vec::<u32>::new());
}

#[test]
fn a_pod_that_ended_while_jobcd_was_dead_is_recorded_with_its_real_exit() {
    for (code, phase, job) in [
        (0, "Succeeded", "Complete (CompletionsReached"),
        (3, "Failed", "Failed (BackoffLimitExceeded"),
    ] {
        let scene = Scene::new();
        scene.manifest("job.yaml", &waiting_job(&scene, code));
        let pod = kill_jobcd_mid_run(&scene);
        std::fs::write(scene.file("go"), "").unwrap();
        wait_until("the supervisor has recorded the end and gone", || {
            supervisors(scene.state.path()).is_empty()
        });
        assert!(
            scene
                .state
                .path()
                .join("pods")
                .join(&pod)
                .join("outcome.json")
                .is_file(),
            "the supervisor left the outcome"
        );

        let mut second = scene.apply();
        let status = second.finish();
        let out = second.output();
        assert!(
            out.contains(&format!(
                "recovered: pod {pod} ended while jobcd was stopped; its supervisor recorded how"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("Job default/patient: {job}")),
            "exit {code}: {out}"
        );
        assert_eq!(status.code(), Some(if code == 0 { 0 } else { 1 }), "{out}");
        assert_eq!(
            scene.lines("log"),
            ["start", "end"],
            "exit {code}: not run again"
        );
        let runs = scene.runs("patient");
        let pods = pod_lines(&runs);
        assert_eq!(pods.len(), 1, "{runs}");
        assert!(
            pods[0].starts_with(&format!("  pod {pod} {phase} ")),
            "{runs}"
        );
        if code != 0 {
            assert!(
                pods[0].contains(&format!("exits [main={code}]")),
                "the real exit code: {runs}"
            );
        }
    }
}

/// What a trial's kill interrupted, as the next runner told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KillPoint {
    /// jobcd had already finished by itself.
    AfterTheEnd,
    /// Before any pod ran (or while its supervisor waited for its plan).
    BeforeThePod,
    /// While the container ran: the next runner adopted it.
    MidRun,
    /// After the container ended and before jobcd recorded it.
    BeforeTheRecord,
}

/// One trial: `local apply` of a Job whose container runs for `run_ms`,
/// SIGKILLed `kill_ms` after it started; then `local apply` again, to the
/// end. The container must have run exactly once, and to its end.
fn trial(run_ms: u64, kill_ms: u64) -> KillPoint {
    let scene = Scene::new();
    let d = scene.work.path().display();
    scene.manifest(
        "job.yaml",
        &scene.job(
            "once",
            6,
            &format!(
                "echo start >> {d}/log\nsleep {}.{:03}\necho end >> {d}/log\n",
                run_ms / 1000,
                run_ms % 1000
            ),
        ),
    );
    let mut first = scene.apply();
    std::thread::sleep(Duration::from_millis(kill_ms));
    let killed = first.kill_now().signal() == Some(9);
    let mut second = scene.apply();
    let status = second.finish();
    let out = second.output();
    let context = format!(
        "run {run_ms} ms, killed after {kill_ms} ms:\nfirst:\n{}\nsecond ({status:?}):\n{out}",
        first.output()
    );
    assert!(status.success(), "{context}");
    assert!(
        out.contains("Job default/once: Complete (CompletionsReached")
            || out.contains("Job default/once: already ran with this spec (Complete)"),
        "{context}"
    );
    assert_eq!(scene.lines("log"), ["start", "end"], "{context}");
    assert!(!out.contains("lost its supervisor"), "{context}");
    assert_eq!(scene.leftovers(), Vec::<u32>::new(), "{context}");
    if !killed {
        KillPoint::AfterTheEnd
    } else if out.contains("adopted from its supervisor") {
        KillPoint::MidRun
    } else if out.contains("ended while jobcd was stopped") {
        KillPoint::BeforeTheRecord
    } else {
        KillPoint::BeforeThePod
    }
}

#[test]
fn no_container_runs_twice_whenever_jobcd_is_killed() {
    const TRIALS: u64 = 120;
    const SEED: u64 = 0x006a_6f62_6364;
    let workers: Vec<_> = (0..2)
        .map(|worker| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(SEED + worker);
                (0..TRIALS / 2)
                    .map(|_| {
                        let run_ms = rng.below(300);
                        // Mostly while the Job is under way, sometimes after.
                        let kill_ms = rng.below(run_ms + 150);
                        trial(run_ms, kill_ms)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut tally = std::collections::BTreeMap::new();
    for worker in workers {
        for point in worker.join().expect("every trial holds") {
            *tally.entry(point).or_insert(0) += 1;
        }
    }
    eprintln!("{TRIALS} kill -9 trials (seed {SEED:#x}): {tally:?}");
    let reached = |point| tally.get(&point).copied().unwrap_or(0);
    assert!(reached(KillPoint::MidRun) >= TRIALS / 10, "{tally:?}");
    for point in [KillPoint::BeforeThePod, KillPoint::BeforeTheRecord] {
        assert!(reached(point) >= 1, "no trial reached {point:?}: {tally:?}");
    }
}
