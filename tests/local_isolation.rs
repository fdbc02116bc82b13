//! On the process runtime a Job's containers cannot reach jobcd: they run
//! in their own PID namespace (jobcd's environment, where a token may be,
//! and its memory are out of sight), jobcd's state directory is hidden
//! from them (the run-once ledger cannot be erased), and they never start
//! inside it. Where bubblewrap is missing jobcd says so and still keeps
//! containers out of its state directory by default.
//!
//! Real jobcd, real bubblewrap (`scripts/test-deps` installs it), real `sh`
//! containers (see `support/crash_scene.rs`).

mod support;

use std::process::{Command, Output};

use support::crash_scene::*;

/// What a container could find of a secret in jobcd's environment.
const SECRET: &str = "jobcd-isolation-test-secret";

/// A Job that looks for jobcd's secret in every process's environment,
/// lists the state directory, tries to erase the ledger when `erase`, and
/// says where it started.
fn nosy_job(scene: &Scene, erase: bool) -> String {
    let (d, state) = (scene.work.path().display(), scene.state.path().display());
    scene.job(
        "nosy",
        0,
        &format!(
            "grep -l -a {SECRET} /proc/*/environ > {d}/found 2>/dev/null\n\
             ls -A {state} > {d}/state 2>&1\n\
             {erase}rm -f {state}/local.db {state}/local.db-wal {state}/local.db-shm\n\
             pwd > {d}/cwd\n\
             exit 0\n",
            erase = if erase { "" } else { "# " }
        ),
    )
}

/// `jobcd local apply` with the secret in jobcd's environment; `bwrap`
/// names bubblewrap (None: found on PATH).
fn apply(scene: &Scene, bwrap: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobcd"));
    command
        .arg("--state-dir")
        .arg(scene.state.path())
        .args(["local", "apply"])
        .arg(scene.manifests.path())
        .env("JOBCD_FORGE_TOKEN", SECRET)
        .env("JOBCD_GIT_PASSWORD", SECRET);
    if let Some(bwrap) = bwrap {
        command.env("JOBCD_BWRAP", bwrap);
    }
    command.output().expect("jobcd runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_job_reads_no_secret_and_cannot_touch_the_state_directory() {
    let scene = Scene::new();
    scene.manifest("job.yaml", &nosy_job(&scene, true));
    let out = apply(&scene, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("NOT isolated"),
        "bubblewrap works here (scripts/test-deps installs it):\n{}",
        text(&out)
    );
    assert_eq!(
        scene.lines("found"),
        Vec::<String>::new(),
        "no process showed the secret"
    );
    assert_eq!(
        scene.lines("state"),
        Vec::<String>::new(),
        "the state directory looks empty"
    );
    let cwd = scene.lines("cwd").join("");
    assert!(
        !cwd.is_empty() && !cwd.starts_with(&scene.state.path().display().to_string()),
        "{cwd}"
    );

    // The ledger survived the attempt: the Job is not run again.
    let again = apply(&scene, None);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("Job default/nosy: already ran with this spec (Complete)"),
        "{}",
        text(&again)
    );
    let status = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(scene.state.path())
        .args(["local", "status"])
        .output()
        .unwrap();
    assert!(
        text(&status).starts_with("containers are isolated from jobcd by "),
        "{}",
        text(&status)
    );
}

#[test]
fn without_bubblewrap_jobcd_says_so_and_still_starts_containers_outside_its_state() {
    let scene = Scene::new();
    scene.manifest("job.yaml", &nosy_job(&scene, false));
    let out = apply(&scene, Some("/nonexistent/bwrap"));
    assert!(out.status.success(), "{}", text(&out));
    let warning = "warning: containers are NOT isolated from jobcd: they can read its environment and state directory; /nonexistent/bwrap does not run";
    assert_eq!(
        text(&out).matches(warning).count(),
        1,
        "said once:\n{}",
        text(&out)
    );
    let cwd = scene.lines("cwd").join("");
    assert!(
        !cwd.is_empty() && !cwd.starts_with(&scene.state.path().display().to_string()),
        "{cwd}"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(scene.state.path())
        .args(["local", "status"])
        .env("JOBCD_BWRAP", "/nonexistent/bwrap")
        .output()
        .unwrap();
    assert!(
        text(&status).starts_with("containers are NOT isolated"),
        "{}",
        text(&status)
    );
}

#[test]
fn a_sandboxed_pod_that_lost_its_supervisor_is_stopped_by_the_next_runner() {
    let scene = Scene::new();
    let d = scene.work.path().display();
    scene.manifest(
        "job.yaml",
        &scene.job(
            "stuck",
            0,
            &format!("touch {d}/started\nsleep 300 &\nwait\n"),
        ),
    );
    let mut first = scene.apply();
    first.wait_for("started");
    let pod = started_pod(&first.output());
    scene.wait_until_recorded("stuck", &pod);
    wait_until("the container runs", || scene.file("started").exists());
    first.crash_with_supervisors(scene.state.path());
    assert!(
        !scene.leftovers().is_empty(),
        "the sandbox outlives its supervisor"
    );

    let mut second = scene.apply();
    let status = second.finish();
    let out = second.output();
    assert!(
        out.contains(&format!(
            "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor;"
        )),
        "{out}"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "the Job failed (backoffLimit 0):\n{out}"
    );
    assert_eq!(
        scene.leftovers(),
        Vec::<u32>::new(),
        "the whole sandbox was stopped"
    );
}
