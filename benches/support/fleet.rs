//! A fleet of sources for `jobcd serve`, as flux-benchmark measures Flux:
//! N bare repositories served by one `git daemon` on loopback, each with K
//! CronJobs of its own, and `jobcd serve` (the real binary) syncing them
//! all. Measured: the time from the process start until `/readyz` says
//! every source synced, jobcd's peak and idle resident memory and its own
//! CPU seconds (from /proc), git fetches (the daemon's log), Kubernetes API
//! requests by verb (jobcd's `/metrics`), and the same for a steady-state
//! round where every source is triggered again with nothing changed.
//!
//! Used by `benches/fleet.rs` (the figures) and `tests/fleet.rs` (that it
//! works, at a small size).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "procfs.rs"]
mod procfs;

use crate::git_servers::GitDaemon;
use crate::http::{hmac_hex, request};
use crate::served::Served;

/// The webhook secret of every source.
const SECRET: &str = "fleet-secret";

/// N repositories of K CronJobs each, served.
pub struct Fleet {
    _root: tempfile::TempDir,
    pub sources: usize,
    pub cronjobs: usize,
    pub daemon: GitDaemon,
}

fn cronjob(source: usize, i: usize) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: s{source:05}-job-{i:02}, namespace: fleet}}\nspec:\n  schedule: '{} 3 1 1 *'\n  timeZone: Europe/Berlin\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo {i}']}}]\n",
        (source + i) % 60
    )
}

/// The repository of source `i` (relative to the daemon's base).
fn repo_name(i: usize) -> String {
    format!("s{i:05}.git")
}

impl Fleet {
    /// Makes `sources` bare repositories with `cronjobs` CronJobs each
    /// (one commit, written by `git fast-import`) and serves them.
    pub fn create(sources: usize, cronjobs: usize) -> Fleet {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("srv");
        std::fs::create_dir_all(&base).unwrap();
        for s in 0..sources {
            let bare = base.join(repo_name(s));
            let git = |args: &[&str]| {
                let mut c = Command::new("git");
                c.env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .args(args);
                c
            };
            let ok = git(&["init", "-q", "--bare", "-b", "main"])
                .arg(&bare)
                .status()
                .unwrap();
            assert!(ok.success());
            let mut stream = String::from(
                "commit refs/heads/main\ncommitter Ada <ada@example.com> 1767225600 +0000\ndata 9\nCronJobs\n",
            );
            for i in 0..cronjobs {
                let text = cronjob(s, i);
                stream.push_str(&format!(
                    "M 100644 inline jobs/job-{i:02}.yaml\ndata {}\n{text}\n",
                    text.len()
                ));
            }
            let mut child = git(&["fast-import", "--quiet"])
                .current_dir(&bare)
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stream.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success());
        }
        let daemon = GitDaemon::serve(&base);
        Fleet {
            _root: root,
            sources,
            cronjobs,
            daemon,
        }
    }

    /// The git:// URL of source `i`.
    pub fn url(&self, i: usize) -> String {
        format!("git://127.0.0.1:{}/{}", self.daemon.port, repo_name(i))
    }

    /// Fetches the daemon served so far.
    pub fn fetches(&self) -> usize {
        self.daemon.log().matches("Request upload-pack").count()
    }

    /// jobcd.yaml for `target` (`{kind: local}` or a kube target) with
    /// `concurrency` sources at once, each polled every 30 minutes (so
    /// that only the start and the rounds this harness triggers count),
    /// and `JOBCD_FLEET_CONFIG` (YAML) added at the top level.
    pub fn config(&self, target: &str, concurrency: usize) -> String {
        // More top-level settings to try (`health: {interval: 0s}`).
        let extra = std::env::var("JOBCD_FLEET_CONFIG").unwrap_or_default();
        let mut text = format!(
            "listen: 127.0.0.1:0\ntarget: {target}\nconcurrency: {concurrency}\nreporters: {{notes: false}}\n{extra}\nsources:\n"
        );
        for s in 0..self.sources {
            text.push_str(&format!(
                "  - {{name: s{s:05}, repo: '{}', ref: main, path: jobs, interval: 30m, webhookSecretEnv: FLEET_SECRET}}\n",
                self.url(s)
            ));
        }
        text
    }
}

/// What one run of jobcd over a fleet measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// From the process start to every source synced.
    pub converged: Duration,
    /// jobcd's CPU seconds until then (user + system, with its children).
    pub converge_cpu: f64,
    /// Its peak resident memory until then, MiB.
    pub peak_mib: f64,
    /// Its resident memory once idle after converging, MiB.
    pub idle_mib: f64,
    /// Of which anonymous (the heap), MiB.
    pub idle_anon_mib: f64,
    /// Fetches the git daemon served until then.
    pub fetches: usize,
    /// Kubernetes API requests until then, by verb.
    pub api: BTreeMap<String, u64>,
    /// Objects applied until then, by operation.
    pub applied: BTreeMap<String, u64>,
    /// A steady-state round: every source triggered, nothing changed.
    pub steady: Duration,
    /// jobcd's CPU seconds in that round.
    pub steady_cpu: f64,
    /// Fetches in that round.
    pub steady_fetches: usize,
    /// API requests in that round, by verb.
    pub steady_api: BTreeMap<String, u64>,
    /// Objects applied in that round, by operation (none, when nothing
    /// changed).
    pub steady_applied: BTreeMap<String, u64>,
    /// Peak resident memory over the whole run, MiB.
    pub peak_after_mib: f64,
}

/// The sum of a counter family in a metrics exposition, by one label.
fn by_label(metrics: &str, name: &str, label: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in metrics.lines().filter(|l| l.starts_with(name)) {
        let value = line
            .rsplit_once(' ')
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .unwrap_or_default() as u64;
        let key = line
            .split(&format!("{label}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_string();
        *out.entry(key).or_default() += value;
    }
    out
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// Runs `jobcd serve` over `fleet` with `target` and `concurrency`; the
/// state under `root`.
pub fn measure(fleet: &Fleet, root: &Path, target: &str, concurrency: usize) -> Report {
    let config: PathBuf = root.join("jobcd.yaml");
    std::fs::write(&config, fleet.config(target, concurrency)).unwrap();
    let fetches_before = fleet.fetches();
    let started = Instant::now();
    let served = Served::start(root, &config, &[("FLEET_SECRET", SECRET)]);
    let pid = served.child.id();
    // Thousands of sources take minutes, not the tests' 90 s.
    served.wait_ready_within(Duration::from_secs(3600));
    let mut report = Report {
        converged: started.elapsed(),
        converge_cpu: procfs::cpu_seconds(pid, true),
        peak_mib: procfs::memory(pid).peak,
        fetches: fleet.fetches() - fetches_before,
        ..Report::default()
    };
    let metrics = || request("GET", &format!("{}/metrics", served.base), &[], b"").1;
    let api = |text: &str| by_label(text, "jobcd_api_requests_total", "verb");
    let applied = |text: &str| by_label(text, "jobcd_objects_applied_total", "operation");
    let reconciles = |text: &str| by_label(text, "jobcd_reconcile_results_total", "source");
    let text = metrics();
    report.api = api(&text);
    report.applied = applied(&text);
    std::thread::sleep(Duration::from_secs(5));
    let procfs::Memory { rss, anon, .. } = procfs::memory(pid);
    (report.idle_mib, report.idle_anon_mib) = (rss, anon);

    // Steady state: every source pushed-to with nothing new.
    let (before_api, before_applied, before_runs) = (api(&text), applied(&text), reconciles(&text));
    let (cpu_before, fetches_before) = (procfs::cpu_seconds(pid, true), fleet.fetches());
    let hook = format!("{}/hooks/github", served.base);
    let round = Instant::now();
    for s in 0..fleet.sources {
        let body = format!(
            r#"{{"ref":"refs/heads/main","after":"x","repository":{{"clone_url":"{}","default_branch":"main"}}}}"#,
            fleet.url(s)
        )
        .into_bytes();
        let signature = format!("sha256={}", hmac_hex(SECRET.as_bytes(), &body));
        let (code, said) = request(
            "POST",
            &hook,
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", signature),
            ],
            &body,
        );
        assert_eq!(code, 202, "{said}");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let text = loop {
        let text = metrics();
        // Every source reconciled again (not a total: a source that had
        // reconciled twice before the round must not hold it up).
        let now = reconciles(&text);
        if now.len() >= fleet.sources
            && now
                .iter()
                .all(|(source, n)| *n > before_runs.get(source).copied().unwrap_or(0))
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the steady round did not end:\n{text}"
        );
        // Not too often: with 50,000 CronJobs the exposition holds over
        // half a million series, and encoding it is jobcd's CPU.
        std::thread::sleep(Duration::from_millis(500));
    };
    report.steady = round.elapsed();
    report.steady_cpu = procfs::cpu_seconds(pid, true) - cpu_before;
    report.steady_fetches = fleet.fetches() - fetches_before;
    report.steady_api = delta(&api(&text), &before_api);
    report.steady_applied = delta(&applied(&text), &before_applied);
    report.peak_after_mib = procfs::memory(pid).peak;
    report
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verbs = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        write!(
            f,
            "converged in {:.1} s ({:.1} CPU s), peak RSS {:.0} MiB, idle {:.0} MiB ({:.0} anonymous), {} fetches, API: {}, applied: {}; \
             steady round {:.1} s ({:.1} CPU s), {} fetches, API: {}, applied: {}; peak over all {:.0} MiB",
            self.converged.as_secs_f64(),
            self.converge_cpu,
            self.peak_mib,
            self.idle_mib,
            self.idle_anon_mib,
            self.fetches,
            verbs(&self.api),
            verbs(&self.applied),
            self.steady.as_secs_f64(),
            self.steady_cpu,
            self.steady_fetches,
            verbs(&self.steady_api),
            verbs(&self.steady_applied),
            self.peak_after_mib
        )
    }
}
