//! A steady-state `jobcd diff` of one large source: 10,000 CronJobs in
//! 1,000 files, synced once to the local target, then diffed with nothing
//! changed — the whole command as a user runs it (the release binary:
//! read the commit, load, validate, hash, plan against the target's
//! state, print). Reports the median wall time and the peak resident
//! memory of the `diff` process (its rusage, from wait4). Goal (issue 21):
//! under 300 ms and 150 MB.
//!
//! `cargo bench --bench diff`; `JOBCD_DIFF_OBJECTS` changes the size, and
//! `JOBCD_BIN` measures another build of jobcd (one from before a change).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const PER_FILE: usize = 10;

fn objects() -> usize {
    std::env::var("JOBCD_DIFF_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// What one jobcd process took.
struct Took {
    code: i32,
    wall: Duration,
    /// User and system CPU time (over both cores: steadier than the wall
    /// time on a busy machine).
    cpu: Duration,
    /// Peak resident memory, KiB.
    peak: i64,
}

/// Runs jobcd with `args`; what it took.
// wait4 reaps the child (it gives its rusage, which `Child::wait` does not).
#[allow(clippy::zombie_processes)]
fn jobcd(state: &Path, args: &[&str]) -> Took {
    let started = Instant::now();
    let bin = std::env::var_os("JOBCD_BIN").unwrap_or(env!("CARGO_BIN_EXE_jobcd").into());
    let child = Command::new(bin)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("jobcd starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; the pointers outlive the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Took {
        code,
        wall: elapsed,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak: usage.ru_maxrss,
    }
}

fn main() {
    let n = objects();
    let repo = tempfile::tempdir().expect("a temporary directory");
    let state = tempfile::tempdir().expect("a temporary directory");
    for f in 0..n.div_ceil(PER_FILE) {
        let mut text = String::new();
        for o in 0..PER_FILE.min(n - f * PER_FILE) {
            let i = f * PER_FILE + o;
            write!(
                text,
                "---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cron-{i}\n  namespace: team-{}\n  labels: {{app: reports, tier: batch}}\nspec:\n  schedule: '{} {} * * *'\n  timeZone: Europe/Berlin\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n            - name: main\n              image: busybox:1.36\n              command: [sh, -c, 'echo report {i}']\n              env: [{{name: REPORT, value: r{i}}}]\n              resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}\n",
                f % 20,
                i % 60,
                i % 24
            )
            .unwrap();
        }
        let dir = repo.path().join(format!("team-{}", f % 20));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{f}.yaml")), text).unwrap();
    }
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "reports"]);
    let repo_arg = repo.path().to_str().unwrap();

    let sync = jobcd(state.path(), &["sync", "--repo", repo_arg]);
    assert_eq!(sync.code, 0, "the first sync failed");
    println!(
        "sync of {n} CronJobs (local target): {:.2} s, peak RSS {} MiB",
        sync.wall.as_secs_f64(),
        sync.peak / 1024
    );

    let mut runs: Vec<Took> = (0..ROUNDS)
        .map(|_| jobcd(state.path(), &["diff", "--repo", repo_arg]))
        .collect();
    assert!(
        runs.iter().all(|r| r.code == 0),
        "diff found changes in an unchanged revision"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    runs.sort_by_key(|r| r.wall);
    let (wall, fastest, slowest) = (
        ms(runs[ROUNDS / 2].wall),
        ms(runs[0].wall),
        ms(runs[ROUNDS - 1].wall),
    );
    runs.sort_by_key(|r| r.cpu);
    let cpu = ms(runs[ROUNDS / 2].cpu);
    runs.sort_by_key(|r| r.peak);
    println!(
        "diff of {n} unchanged CronJobs: median {wall:.0} ms (min {fastest:.0}, max {slowest:.0}), \
         CPU median {cpu:.0} ms, peak RSS median {} MiB (max {})",
        runs[ROUNDS / 2].peak / 1024,
        runs[ROUNDS - 1].peak / 1024
    );
}
