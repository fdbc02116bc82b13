//! `jobcd local` after a crash. Each pod runs under a supervisor of its
//! own, which outlives jobcd: when only jobcd is killed with SIGKILL, the
//! next runner adopts its pods and records how they really end
//! (`local_adoption.rs` tests that, over a hundred random kill points).
//! Here jobcd's supervisors are killed with it (an OOM kill of the whole
//! service, say): the containers live on as orphans, and the next runner
//! to start stops them as the kubelet would (SIGTERM to each group, SIGKILL
//! after the grace period), records those pods as lost (`DeletionByPodGC`)
//! and resumes their Jobs, which count the lost pods as failed attempts.
//!
//! Everything is real: the jobcd binary, its SQLite state, and containers
//! that are `sh` scripts (see `support/crash_scene.rs`). They run without
//! bubblewrap's sandbox: the tests follow them by the pids they write, which
//! a PID namespace would give them afresh; `local_isolation.rs` covers a
//! lost pod in a sandbox.
//!
//! Timing: the tests wait for conditions (a file, a line of output, a pod's
//! phase), never for a fixed time. Two waits are inherent: the Job
//! controller retries a failed pod after 10 s, and on this machine an
//! orphan that exits stays a zombie until init reaps it (about 2 s), which
//! recovery waits for.

mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::crash_scene::*;

#[test]
fn a_job_killed_mid_run_is_recovered_and_retried_once() {
    let scene = Scene::without_sandbox();
    let d = scene.work.path().display();
    // The first attempt hangs until stopped; the retry succeeds.
    scene.manifest(
        "job.yaml",
        &scene.job(
            "crashy",
            2,
            &format!(
                "echo $$$$ >> {d}/leaders\n\
                 if [ -e {d}/tried ]; then exit 0; fi\n\
                 touch {d}/tried\n\
                 trap 'exit 143' TERM\n\
                 sleep 300 &\n\
                 echo $! > {d}/sleep.pid\n\
                 wait\n"
            ),
        ),
    );
    let mut first = scene.apply();
    let sleeper = scene.wait_for_pid("sleep.pid");
    let leader = scene.pids("leaders")[0];
    first.wait_for("started");
    let pod = started_pod(&first.output());
    scene.wait_until_recorded("crashy", &pod);
    first.crash_with_supervisors(scene.state.path());
    assert!(
        alive(leader) && alive(sleeper),
        "the container outlives a killed jobcd"
    );

    let mut second = scene.apply();
    let status = second.finish();
    let out = second.output();
    assert!(status.success(), "{out}");
    for line in [
        format!(
            "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; 1 process group(s) stopped, pod recorded as failed (DeletionByPodGC)"
        ),
        "recovered: Job default/crashy resumes".into(),
        "Job default/crashy: already running with this spec (resumed); waiting for it".into(),
        "Job default/crashy: Complete (CompletionsReached".into(),
    ] {
        assert!(out.contains(&line), "{line:?} in:\n{out}");
    }
    assert!(out.contains("; 1 succeeded, 1 failed"), "{out}");
    assert!(
        !alive(leader),
        "the orphaned container {leader} was stopped"
    );
    assert!(!alive(sleeper), "its child {sleeper} went with it");
    assert_eq!(scene.pids("leaders").len(), 2, "the Job retried once");
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "nothing is left running"
    );

    let runs = scene.runs("crashy");
    let jobs = job_lines(&runs);
    assert_eq!(
        jobs.len(),
        1,
        "one Job instance, no run lost or doubled:\n{runs}"
    );
    assert!(jobs[0].starts_with("default/crashy "), "{runs}");
    assert!(jobs[0].contains("Complete (CompletionsReached"), "{runs}");
    assert!(
        runs.contains(&format!("  pod {pod} Failed [DeletionByPodGC] ")),
        "{runs}"
    );
    let pods = pod_lines(&runs);
    assert_eq!(pods.len(), 2, "{runs}");
    assert!(
        pods[1].contains(" Succeeded "),
        "the retry is a new pod:\n{runs}"
    );

    let mut again = scene.apply();
    assert_eq!(again.finish().code(), Some(0), "{}", again.output());
    assert!(
        again
            .output()
            .contains("Job default/crashy: already ran with this spec (Complete)"),
        "{}",
        again.output()
    );
}

#[test]
fn a_lost_pods_whole_group_is_stopped_and_counts_against_the_backoff_limit() {
    let scene = Scene::without_sandbox();
    let d = scene.work.path().display();
    // A grandchild that ignores SIGTERM and whose parent has exited: only
    // its process group still ties it to the pod, and only SIGKILL ends it.
    scene.manifest(
        "job.yaml",
        &scene.job(
            "stubborn",
            0,
            &format!(
                "( trap '' TERM; sleep 300 & echo $! > {d}/grandchild.pid )\n\
                 trap 'exit 143' TERM\n\
                 echo $$$$ > {d}/leader.pid\n\
                 sleep 300 &\n\
                 wait\n"
            ),
        ),
    );
    let mut first = scene.apply();
    let grandchild = scene.wait_for_pid("grandchild.pid");
    let leader = scene.wait_for_pid("leader.pid");
    first.wait_for("started");
    let pod = started_pod(&first.output());
    scene.wait_until_recorded("stubborn", &pod);
    first.crash_with_supervisors(scene.state.path());
    assert!(alive(leader) && alive(grandchild), "orphans outlive jobcd");
    assert!(ignores_sigterm(grandchild), "the test's premise");

    let began = Instant::now();
    let mut second = scene.apply();
    let status = second.finish();
    let out = second.output();
    assert_eq!(status.code(), Some(1), "the Job failed:\n{out}");
    assert!(
        began.elapsed() >= Duration::from_secs(2),
        "the grandchild ignores SIGTERM, so it is killed only after the 2 s grace period"
    );
    assert!(
        out.contains(&format!(
            "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; 1 process group(s) stopped"
        )),
        "{out}"
    );
    assert!(
        out.contains("Job default/stubborn: Failed (BackoffLimitExceeded: Job has reached the specified backoff limit); 0 succeeded, 1 failed"),
        "a lost pod is a failed attempt, and backoffLimit 0 allows none:\n{out}"
    );
    assert!(!alive(leader), "the container {leader} was stopped");
    assert!(!alive(grandchild), "its grandchild {grandchild} too");
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "nothing is left running"
    );
    let runs = scene.runs("stubborn");
    assert_eq!(job_lines(&runs).len(), 1, "{runs}");
    assert_eq!(runs.matches("  pod ").count(), 1, "no retry:\n{runs}");
    assert!(
        runs.contains(&format!("  pod {pod} Failed [DeletionByPodGC] ")),
        "{runs}"
    );
}

/// Starts `sleep 300` as the leader of its own process group with pid
/// `pid`, by setting the kernel's last allocated pid just below it; None if
/// this machine does not allow that (it needs root), or if another process
/// took the pid first.
fn impostor_with_pid(pid: u32, scene: &Scene) -> Option<Child> {
    const LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";
    for _ in 0..200 {
        // Other tests start processes too; try again when one got in first,
        // unless it still holds the pid.
        if Path::new(&format!("/proc/{pid}")).exists() {
            return None;
        }
        std::fs::write(LAST_PID, (pid - 1).to_string()).ok()?;
        let mut child = Command::new("sleep")
            .arg("300")
            .env(MARK, scene.work.path())
            .process_group(0)
            .spawn()
            .expect("sleep starts");
        if child.id() == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

#[test]
fn a_pid_that_died_while_jobcd_was_down_and_was_reused_is_left_alone() {
    let scene = Scene::without_sandbox();
    let d = scene.work.path().display();
    scene.manifest(
        "job.yaml",
        &scene.job(
            "gone",
            0,
            &format!("echo $$$$ > {d}/leader.pid\nsleep 300\n"),
        ),
    );
    let mut first = scene.apply();
    let leader = scene.wait_for_pid("leader.pid");
    first.wait_for("started");
    let pod = started_pod(&first.output());
    scene.wait_until_recorded("gone", &pod);
    first.crash_with_supervisors(scene.state.path());
    // The pod's processes die while no jobcd runs, and are reaped.
    kill(Pid::from_raw(-(leader as i32)), Signal::SIGKILL).expect("the group exists");
    wait_until("the dead container's pid is free", || {
        !Path::new(&format!("/proc/{leader}")).exists()
    });
    // Another process, in a group of its own, now has that pid.
    let mut impostor = impostor_with_pid(leader, &scene);
    if impostor.is_none() {
        eprintln!(
            "note: could not start a process with pid {leader} (not root, or taken); the reused-pid part is skipped"
        );
    }

    let mut second = scene.apply();
    let status = second.finish();
    let out = second.output();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; 0 process group(s) stopped"
        )),
        "{out}"
    );
    assert!(
        out.contains("Job default/gone: Failed (BackoffLimitExceeded"),
        "{out}"
    );
    if let Some(impostor) = impostor.as_mut() {
        assert_eq!(
            impostor.try_wait().unwrap(),
            None,
            "the process that reused pid {leader} was not signalled"
        );
        assert_eq!(scene.leftovers(), vec![leader]);
        impostor.kill().unwrap();
        impostor.wait().unwrap();
    }
    assert!(
        scene
            .runs("gone")
            .contains(&format!("  pod {pod} Failed [DeletionByPodGC] ")),
        "the pod is recorded lost all the same"
    );
}

/// The container of the Forbid tests: holding `lock` while it runs, it
/// would see a second run of its CronJob at once. Told to stop, it takes a
/// second to shut down (within its 2 s grace period), so a run that starts
/// before the stop is complete overlaps it.
fn exclusive_script(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "mkdir {d}/lock || echo overlap >> {d}/overlaps\n\
         trap 'sleep 1; rmdir {d}/lock; exit 143' TERM\n\
         echo $$$$ >> {d}/leaders\n\
         echo started >> {d}/starts\n\
         sleep 300 &\n\
         wait\n"
    )
}

/// serve is killed while a Forbid CronJob's run is active. That run's Job
/// resumes after the restart (backoffLimit 1 leaves it one retry, which
/// the Job controller starts 10 s later), and nothing else may run
/// meanwhile: the slots that come due in the same minute share the
/// resumed Job's name and are skipped for that (as the Kubernetes
/// controller skips a slot whose Job exists), later ones by Forbid. Which
/// of the two rules applies depends on the wall clock, so this test checks
/// their common outcome; the next tests start the crashed run with run-now,
/// whose Job has a name of its own, to reach Forbid for certain.
///
/// With backoffLimit 0 the crashed Job would fail for good, and the next
/// run (named after its minute, and a name never runs twice) could be up
/// to a minute away; `a_scheduled_run_starts_only_after_…` covers that case
/// quickly with run-now.
#[test]
fn a_run_serve_crashed_in_resumes_as_the_only_run_of_its_forbid_cronjob() {
    let scene = Scene::without_sandbox();
    scene.manifest(
        "cronjob.yaml",
        &scene.forbid_cronjob("tick", 1, &exclusive_script(scene.work.path())),
    );
    let mut apply = scene.apply();
    assert!(apply.finish().success(), "{}", apply.output());

    let mut serve = scene.jobcd(&["local", "serve"]);
    wait_until("the first run starts", || scene.lines("starts").len() == 1);
    let leader = scene.pids("leaders")[0];
    let pod = only_pod(&scene.runs("tick"));
    scene.wait_until_recorded("tick", &pod);
    serve.crash_with_supervisors(scene.state.path());
    assert!(alive(leader), "the run outlives serve");

    let mut serve = scene.jobcd(&["local", "serve"]);
    serve.wait_for(&format!(
        "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; 1 process group(s) stopped"
    ));
    wait_until("the resumed Job's retry starts", || {
        scene.lines("starts").len() == 2
    });
    assert!(!alive(leader), "the crashed run was stopped");
    assert!(
        !scene.file("overlaps").exists(),
        "two runs at once:\n{}",
        serve.output()
    );
    assert!(serve.terminate().success(), "{}", serve.output());
    assert!(
        !scene.file("lock").exists(),
        "stopping serve stopped the retry"
    );
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "nothing is left running"
    );

    let runs = scene.runs("tick");
    assert_eq!(
        job_lines(&runs).len(),
        1,
        "only the resumed Job ran:\n{runs}"
    );
    let pods = pod_lines(&runs);
    assert_eq!(pods.len(), 2, "{runs}");
    assert!(
        pods[0].starts_with(&format!("  pod {pod} Failed [DeletionByPodGC] ")),
        "{runs}"
    );
    assert!(
        pods[1].contains(" Failed [TerminationByKubelet] "),
        "a graceful stop records the retry as stopped by shutdown:\n{runs}"
    );
}

/// A run started with run-now whose jobcd was killed.
struct CrashedRun {
    /// The run's pod.
    pod: String,
    /// Its container's pid.
    leader: u32,
    /// When the CronJob's first slot has come at the latest: `@every 2s`
    /// counts from the CronJob's creation, in whole seconds.
    first_slot: Instant,
}

/// Records CronJob `tick` (every 2 s, Forbid, `backoff_limit`), starts a
/// run with `local run-now`, and kills that jobcd while the run is active.
fn crash_a_manual_run(scene: &Scene, backoff_limit: i32) -> CrashedRun {
    scene.manifest(
        "cronjob.yaml",
        &scene.forbid_cronjob("tick", backoff_limit, &exclusive_script(scene.work.path())),
    );
    let mut apply = scene.apply();
    assert!(apply.finish().success(), "{}", apply.output());
    let first_slot = Instant::now() + Duration::from_secs(2);
    let mut manual = scene.jobcd(&["local", "run-now", "tick"]);
    wait_until("the manual run starts", || scene.lines("starts").len() == 1);
    let leader = scene.pids("leaders")[0];
    manual.wait_for("started");
    let pod = started_pod(&manual.output());
    assert!(pod.starts_with("tick-manual-"), "{pod}");
    scene.wait_until_recorded("tick", &pod);
    manual.crash_with_supervisors(scene.state.path());
    assert!(alive(leader), "the run outlives jobcd");
    CrashedRun {
        pod,
        leader,
        first_slot,
    }
}

/// run-now's jobcd is killed mid-run; serve then starts, recovers, and its
/// first scheduled run must begin only once the crashed run is stopped.
/// The crashed run's Job fails for good (backoffLimit 0), so the scheduled
/// run is a new Job with a name of its own.
#[test]
fn a_scheduled_run_starts_only_after_the_crashed_runs_processes_are_stopped() {
    let scene = Scene::without_sandbox();
    let CrashedRun {
        pod,
        leader,
        first_slot,
    } = crash_a_manual_run(&scene, 0);
    // With a slot overdue when serve starts, the scheduled run starts as
    // soon as serve can start anything: right after recovery.
    std::thread::sleep(first_slot.saturating_duration_since(Instant::now()));

    let mut serve = scene.jobcd(&["local", "serve"]);
    wait_until("the scheduled run starts", || {
        scene.lines("starts").len() == 2
    });
    let out = serve.output();
    assert!(
        out.contains(&format!(
            "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; 1 process group(s) stopped"
        )),
        "{out}"
    );
    assert!(
        !scene.file("overlaps").exists(),
        "the scheduled run started while the crashed one still ran:\n{out}"
    );
    assert!(!alive(leader), "the crashed run was stopped");
    assert!(serve.terminate().success(), "{}", serve.output());
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "nothing is left running"
    );

    let runs = scene.runs("tick");
    let jobs = job_lines(&runs);
    assert_eq!(jobs.len(), 2, "{runs}");
    let names: Vec<&str> = jobs
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_ne!(names[0], names[1], "{runs}");
    assert!(names[0].starts_with("default/tick-manual-"), "{runs}");
    assert!(
        jobs[0].contains("Failed (BackoffLimitExceeded")
            && jobs[0].contains("0 succeeded, 1 failed"),
        "{runs}"
    );
    assert!(
        runs.contains(&format!("  pod {pod} Failed [DeletionByPodGC] ")),
        "{runs}"
    );
}

/// As above, but the crashed run's Job has a retry left: it resumes, and
/// while it waits the 10 s retry delay it is active, so Forbid skips every
/// slot; its retry is the next run, and the only one.
#[test]
fn forbid_skips_slots_while_a_job_resumed_after_a_crash_waits_to_retry() {
    let scene = Scene::without_sandbox();
    let CrashedRun { pod, leader, .. } = crash_a_manual_run(&scene, 1);

    let mut serve = scene.jobcd(&["local", "serve"]);
    serve.wait_for("CronJob default/tick: JobAlreadyActive: not starting the run at");
    wait_until("the resumed Job's retry starts", || {
        scene.lines("starts").len() == 2
    });
    let out = serve.output();
    assert!(
        out.contains(&format!(
            "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; 1 process group(s) stopped"
        )),
        "{out}"
    );
    assert!(!alive(leader), "the crashed run was stopped");
    assert!(!scene.file("overlaps").exists(), "two runs at once:\n{out}");
    assert!(serve.terminate().success(), "{}", serve.output());
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "nothing is left running"
    );

    let runs = scene.runs("tick");
    let jobs = job_lines(&runs);
    assert_eq!(jobs.len(), 1, "no scheduled Job started:\n{runs}");
    assert!(jobs[0].starts_with("default/tick-manual-"), "{runs}");
    let pods = pod_lines(&runs);
    assert_eq!(pods.len(), 2, "{runs}");
    assert!(
        pods[0].starts_with(&format!("  pod {pod} Failed [DeletionByPodGC] ")),
        "{runs}"
    );
}

#[test]
fn a_second_runner_is_refused_until_the_first_dies() {
    let scene = Scene::without_sandbox();
    let d = scene.work.path().display();
    scene.manifest(
        "job.yaml",
        &scene.job("once", 0, &format!("touch {d}/ran\n")),
    );
    let mut serve = scene.jobcd(&["local", "serve"]);
    serve.wait_for("serving ");

    let state = scene.state.path().display().to_string();
    let holder = format!(
        "another jobcd (pid {}) is running Jobs from {state}; stop it, or give this one its own --state-dir",
        serve.pid()
    );
    for args in [
        vec!["local", "apply", scene.manifests.path().to_str().unwrap()],
        vec!["local", "serve"],
    ] {
        let mut refused = scene.jobcd(&args);
        let status = refused.finish();
        assert_eq!(status.code(), Some(2), "{args:?}: {}", refused.output());
        assert!(refused.output().contains(&holder), "{}", refused.output());
    }
    assert!(!scene.file("ran").exists(), "the refused apply ran nothing");
    assert!(scene.runs("once").contains("no runs yet"));

    // The kernel lets go of the lock however its holder dies.
    serve.crash_with_supervisors(scene.state.path());
    let mut apply = scene.apply();
    assert!(apply.finish().success(), "{}", apply.output());
    assert!(scene.file("ran").exists(), "{}", apply.output());
}

#[test]
fn what_a_start_recovers_is_told_on_stderr_so_json_stays_json() {
    let scene = Scene::without_sandbox();
    let d = scene.work.path().display();
    scene.manifest(
        "job.yaml",
        &scene.job(
            "crashy",
            2,
            &format!(
                "if [ -e {d}/tried ]; then exit 0; fi\n\
                 touch {d}/tried\n\
                 trap 'exit 143' TERM\n\
                 sleep 300 &\n\
                 echo $! > {d}/sleep.pid\n\
                 wait\n"
            ),
        ),
    );
    let mut first = scene.apply();
    scene.wait_for_pid("sleep.pid");
    first.wait_for("started");
    let pod = started_pod(&first.output());
    scene.wait_until_recorded("crashy", &pod);
    first.crash_with_supervisors(scene.state.path());

    // A repository to sync, with the same state directory.
    let repo = scene.work.path().join("repo");
    std::fs::create_dir_all(repo.join("jobs")).unwrap();
    std::fs::write(
        repo.join("jobs/nightly.yaml"),
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: x, command: ['true']}]\n",
    )
    .unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "nightly",
        ],
    ] {
        let git = Command::new("git")
            .current_dir(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", scene.work.path())
            .args(args)
            .output()
            .unwrap();
        assert!(git.status.success(), "{git:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", scene.work.path())
        .arg("--state-dir")
        .arg(scene.state.path())
        .args([
            "sync", "--report", "none", "--path", "jobs", "-o", "json", "--repo",
        ])
        .arg(&repo)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON report ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(report["plan"][0]["action"], "create", "{report}");
    assert!(
        stderr.contains(&format!("recovered: pod {pod} was running")),
        "{stderr}"
    );
}
