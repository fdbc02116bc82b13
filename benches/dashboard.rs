//! What the dashboard costs: `jobcd serve` (release build, local target,
//! one source of 1,000 CronJobs over git daemon) idle for a minute with no
//! page open — resident memory and CPU seconds from /proc — then each
//! page's render time, then idle again after the pages were read.
//!
//! `cargo bench --bench dashboard`; `JOBCD_BIN=/path/to/jobcd` runs the
//! same on another build (one without the dashboard: the pages are then
//! skipped), to compare the idle figures. `JOBCD_BENCH_CRONJOBS` changes
//! the number of CronJobs, `JOBCD_BENCH_IDLE` the idle window in seconds.

#[path = "../tests/support/git_servers.rs"]
mod git_servers;
#[allow(dead_code)]
#[path = "../tests/support/http.rs"]
mod http;
#[path = "support/procfs.rs"]
mod procfs;
#[allow(dead_code)]
#[path = "../tests/support/served.rs"]
mod served;

use std::time::{Duration, Instant};

use git_servers::{GitDaemon, Repo};
use http::request;
use served::Served;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A CronJob that fires once a year (on 1 January): idle means idle.
fn cronjob(i: u64) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: job-{i:04}, namespace: bench}}\nspec:\n  schedule: '{} 3 1 1 *'\n  timeZone: Europe/Berlin\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo {i}']}}]\n",
        i % 60
    )
}

/// Idles for `window` and says what `pid` held at its end and the CPU
/// seconds it spent, as `label`.
fn idle(label: &str, pid: u32, window: Duration) {
    let before = procfs::cpu_seconds(pid, false);
    std::thread::sleep(window);
    let cpu = procfs::cpu_seconds(pid, false) - before;
    println!(
        "{label}: {}, CPU {cpu:.2} s over the window",
        procfs::memory(pid)
    );
}

fn main() {
    let count = setting("JOBCD_BENCH_CRONJOBS", 1_000);
    let window = Duration::from_secs(setting("JOBCD_BENCH_IDLE", 60));
    let remote = Repo::new();
    let files: Vec<(String, String)> = (0..count)
        .map(|i| (format!("jobs/job-{i:04}.yaml"), cronjob(i)))
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    remote.commit_and_push(&borrowed, "CronJobs");
    let daemon = GitDaemon::start(&remote);
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nreporters: {{notes: false}}\nsources:\n  - name: bench\n    repo: {}\n    ref: main\n    path: jobs\n    interval: 0s\n",
            daemon.url()
        ),
    )
    .unwrap();
    let binary = std::env::var("JOBCD_BIN").unwrap_or_else(|_| "this build".into());
    println!(
        "binary: {binary}; {count} CronJobs; idle windows of {} s",
        window.as_secs()
    );
    let served = Served::start(root.path(), &config, &[]);
    served.wait_ready();
    let pid = served.child.id();
    // Let the first sync's garbage go and the health watch settle.
    std::thread::sleep(Duration::from_secs(5));
    idle("idle, no page open", pid, window);

    let ui = format!("{}/ui/", served.base);
    if request("GET", &ui, &[], b"").0 != 200 {
        println!("no dashboard in this build: pages skipped");
        return;
    }
    for page in ["", "cronjobs", "cronjobs/bench/job-0007?window=7d", "runs"] {
        let url = format!("{ui}{page}");
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let (code, body) = request("GET", &url, &[], b"");
            times.push(started.elapsed());
            assert_eq!(code, 200, "{url}: {body}");
            size = body.len();
        }
        times.sort();
        println!(
            "GET /ui/{page}: median {:.1} ms (min {:.1}, max {:.1}), {} KiB",
            times[2].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0,
            times[4].as_secs_f64() * 1000.0,
            size / 1024
        );
    }
    idle("idle after reading the pages", pid, window);
}
