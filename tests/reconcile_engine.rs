//! One reconcile engine behind every command: the same revisions, synced
//! with `jobcd sync` and served with `jobcd serve` (local target), leave
//! the same statuses on the same commits; `serve` reports the runs its
//! CronJobs start; and a forge that holds every request for seconds
//! delays neither `/healthz` nor a webhook's answer.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::fake_forge::{FakeForge, Reply};
use support::http::{hmac_hex, request};
use support::jobs_repo::JobsRepo;
use support::served::{PATIENCE, Served};

fn job(name: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, '{script}']}}]\n"
    )
}

fn job_with_ttl(name: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  ttlSecondsAfterFinished: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, 'true']}}]\n"
    )
}

fn cronjob(name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n  schedule: '{schedule}'\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: x, command: [sh, -c, 'true']}}]\n"
    )
}

/// One step of the scenario: the files it writes (Some) or deletes (None).
type Step = (&'static str, Vec<(&'static str, Option<String>)>);

/// The scenario table: each commit is one case every command must treat
/// alike.
fn scenario() -> Vec<Step> {
    vec![
        (
            "create",
            vec![
                // Keeps jobs/ in the tree when every manifest is gone.
                ("README.md", Some("The team's Jobs.\n".into())),
                ("a.yaml", Some(job("a", "echo a"))),
                ("nightly.yaml", Some(cronjob("nightly", "0 3 1 1 *"))),
                ("brief.yaml", Some(job_with_ttl("brief"))),
            ],
        ),
        ("unchanged", vec![]),
        (
            "changed Job re-run",
            vec![("a.yaml", Some(job("a", "echo a2")))],
        ),
        (
            "TTL-removed Job skipped",
            vec![("nightly.yaml", Some(cronjob("nightly", "0 4 1 1 *")))],
        ),
        ("a failing Job", vec![("f.yaml", Some(job("f", "exit 3")))]),
        ("prune", vec![("f.yaml", None)]),
        (
            "refused prune",
            vec![
                ("a.yaml", None),
                ("nightly.yaml", None),
                ("brief.yaml", None),
            ],
        ),
        (
            "invalid revision",
            vec![("bad.yaml", Some("kind: Job\n  x: [".into()))],
        ),
    ]
}

/// The latest state and description of each context jobcd noted on `sha`.
fn statuses(repo: &JobsRepo, sha: &str) -> BTreeMap<String, (String, String)> {
    let mut latest = BTreeMap::new();
    for line in repo.notes(sha).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        latest.insert(
            v["context"].as_str().unwrap_or_default().to_string(),
            (
                v["state"].as_str().unwrap_or_default().to_string(),
                v["description"].as_str().unwrap_or_default().to_string(),
            ),
        );
    }
    latest
}

/// Whether every context on `sha` has a final state.
fn settled(repo: &JobsRepo, sha: &str) -> bool {
    let all = statuses(repo, sha);
    all.contains_key("jobcd/sync") && all.values().all(|(state, _)| state != "pending")
}

fn commit(repo: &JobsRepo, files: &[(&'static str, Option<String>)]) -> String {
    let files: Vec<(&str, Option<&str>)> = files.iter().map(|(n, t)| (*n, t.as_deref())).collect();
    repo.commit(&files)
}

fn jobcd(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", root)
        .arg("--state-dir")
        .arg(root.join("state"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn sync_and_serve_leave_the_same_statuses_on_every_commit() {
    // Through `jobcd sync`, one commit at a time.
    let synced = JobsRepo::new();
    let mut by_sync = Vec::new();
    for (case, files) in scenario() {
        let sha = commit(&synced, &files);
        let repo = synced.path();
        let out = jobcd(
            synced.dir.path(),
            &["sync", "--repo", repo.to_str().unwrap(), "--path", "jobs"],
        );
        let expected = match case {
            "a failing Job" | "refused prune" | "invalid revision" => 1,
            _ => 0,
        };
        assert_eq!(out.status.code(), Some(expected), "{case}: {out:?}");
        by_sync.push((case, sha.clone(), statuses(&synced, &sha)));
    }

    // Through `jobcd serve`, which sees each commit through its ref watch.
    let served_repo = JobsRepo::new();
    let config = served_repo.dir.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nsources:\n  - name: default\n    repo: {}\n    path: jobs\n    interval: 0s\n",
            served_repo.path().display()
        ),
    )
    .unwrap();
    let mut steps = scenario().into_iter();
    let (case, files) = steps.next().unwrap();
    let first = commit(&served_repo, &files);
    let served = Served::start(served_repo.dir.path(), &config, &[]);
    let mut by_serve = vec![(
        case,
        first.clone(),
        wait_settled(&served_repo, &first, &served),
    )];
    for (case, files) in steps {
        let sha = commit(&served_repo, &files);
        by_serve.push((case, sha.clone(), wait_settled(&served_repo, &sha, &served)));
    }

    for ((case, sha, sync), (_, served_sha, serve)) in by_sync.iter().zip(&by_serve) {
        assert_eq!(
            sha, served_sha,
            "{case}: the same commits in both repositories"
        );
        assert_eq!(sync, serve, "{case}: sync and serve disagree on {sha}");
    }
    // What each case is, on the commit.
    let on = |case: &str| {
        by_sync
            .iter()
            .find(|(c, _, _)| *c == case)
            .map(|(_, _, s)| s.clone())
            .unwrap()
    };
    let state = |case: &str, context: &str| on(case).get(context).cloned().unwrap_or_default();
    assert_eq!(state("create", "jobcd/job/default/a").0, "success");
    assert_eq!(state("create", "jobcd/job/default/brief").0, "success");
    assert!(state("unchanged", "jobcd/sync").1.contains("0 created"));
    assert_eq!(
        state("changed Job re-run", "jobcd/job/default/a").0,
        "success"
    );
    assert!(
        state("TTL-removed Job skipped", "jobcd/sync")
            .1
            .contains("1 updated, 0 re-run, 0 pruned, 1 unchanged, 1 skipped"),
        "{:?}",
        on("TTL-removed Job skipped")
    );
    assert_eq!(state("a failing Job", "jobcd/job/default/f").0, "failure");
    assert!(state("prune", "jobcd/sync").1.contains("1 pruned"));
    assert_eq!(state("refused prune", "jobcd/sync").0, "failure");
    assert!(
        state("refused prune", "jobcd/sync")
            .1
            .contains("refusing to prune")
    );
    assert_eq!(state("invalid revision", "jobcd/sync").0, "failure");

    // The service counted the same story.
    let (_, metrics) = request("GET", &format!("{}/metrics", served.base), &[], b"");
    for line in [
        "jobcd_reconcile_results_total{source=\"default\",result=\"invalid\"} 1",
        "jobcd_reconcile_results_total{source=\"default\",result=\"refused\"} 1",
        "jobcd_reconcile_results_total{source=\"default\",result=\"failed\"} 1",
        "jobcd_job_runs_total{outcome=\"failed\"} 1",
        "jobcd_job_runs_total{outcome=\"complete\"} 3",
        "jobcd_objects_applied_total{operation=\"prune\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    drop(served);
}

/// Waits until serve has settled every status on `sha`; those statuses.
fn wait_settled(repo: &JobsRepo, sha: &str, served: &Served) -> BTreeMap<String, (String, String)> {
    let deadline = Instant::now() + PATIENCE;
    while !settled(repo, sha) {
        assert!(
            Instant::now() < deadline,
            "{sha} never settled: {:?}\n{}",
            statuses(repo, sha),
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    statuses(repo, sha)
}

#[test]
fn serve_with_the_local_target_reports_each_cronjob_run_on_its_commit() {
    let repo = JobsRepo::new();
    let sha = repo.commit(&[("tick.yaml", Some(&cronjob("tick", "@every 1s")))]);
    let config = repo.dir.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nsources:\n  - name: jobs\n    repo: {}\n    path: jobs\n    interval: 0s\n",
            repo.path().display()
        ),
    )
    .unwrap();
    let served = Served::start(repo.dir.path(), &config, &[]);
    // Logged, with its source…
    served.wait_log("source=\"jobs\"");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let notes = statuses(&repo, &sha);
        if notes
            .get("jobcd/cronjob/default/tick")
            .map(|(s, _)| s.as_str())
            == Some("success")
        {
            let (_, description) = &notes["jobcd/cronjob/default/tick"];
            assert!(
                description.starts_with("tick-") && description.contains("Complete"),
                "{description}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no CronJob run reported: {notes:?}\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        served.log().contains("Job default/tick-")
            && served.log().contains("of CronJob tick: Complete"),
        "{}",
        served.log()
    );
    // …and counted.
    let (_, metrics) = request("GET", &format!("{}/metrics", served.base), &[], b"");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("jobcd_job_runs_total{outcome=\"complete\"}")),
        "{metrics}"
    );
}

/// A forge that holds each status request until released (at most 30 s).
struct SlowForge {
    forge: FakeForge,
    holding: Arc<AtomicBool>,
    release: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
}

impl SlowForge {
    fn start() -> SlowForge {
        let holding = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let (h, r, a) = (holding.clone(), release.clone(), answered.clone());
        let forge = FakeForge::start(move |_| {
            h.store(true, Ordering::SeqCst);
            let until = Instant::now() + Duration::from_secs(30);
            while !r.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            h.store(false, Ordering::SeqCst);
            a.fetch_add(1, Ordering::SeqCst);
            Reply::json(201, &serde_json::json!({"id": 1}))
        });
        SlowForge {
            forge,
            holding,
            release,
            answered,
        }
    }
}

const SECRET: &str = "engine-secret";

#[test]
fn a_slow_forge_delays_neither_healthz_nor_a_webhook() {
    let slow = SlowForge::start();
    let repo = JobsRepo::new();
    repo.commit(&[("a.yaml", Some(&job("a", "true")))]);
    let config: PathBuf = repo.dir.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nreporters:\n  notes: false\n  forge:\n    kind: github\n    url: {}\n    project: acme/jobs\n    tokenEnv: FORGE_TOKEN\nsources:\n  - name: jobs\n    repo: {}\n    path: jobs\n    interval: 0s\n    webhookSecretEnv: HOOK_SECRET\n",
            slow.forge.url,
            repo.path().display()
        ),
    )
    .unwrap();
    let served = Served::start(
        repo.dir.path(),
        &config,
        &[("FORGE_TOKEN", "t0ken"), ("HOOK_SECRET", SECRET)],
    );
    let deadline = Instant::now() + PATIENCE;
    while !slow.holding.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "no status reached the forge");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The forge holds a request: the service answers all the same, and
    // the forge is still holding it when the answers are in.
    let asked = Instant::now();
    let (code, body) = request("GET", &format!("{}/healthz", served.base), &[], b"");
    let healthz = asked.elapsed();
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let push = br#"{"ref":"refs/heads/main","after":"x","repository":{"clone_url":"https://example.com/x.git","default_branch":"main"}}"#;
    let signature = format!("sha256={}", hmac_hex(SECRET.as_bytes(), push));
    let headers = [
        ("X-GitHub-Event", "push".to_string()),
        ("X-Hub-Signature-256", signature),
        ("Content-Type", "application/json".to_string()),
    ];
    let (code, _) = request(
        "POST",
        &format!("{}/hooks/github", served.base),
        &headers,
        push,
    );
    assert_eq!(code, 202);
    assert!(
        slow.holding.load(Ordering::SeqCst) && slow.answered.load(Ordering::SeqCst) == 0,
        "the answers came while the forge still held its first request"
    );
    eprintln!(
        "/healthz answered in {} ms while the forge held a status",
        healthz.as_millis()
    );
    // Released, every status arrives.
    slow.release.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + PATIENCE;
    let contexts = Arc::new(Mutex::new(Vec::new()));
    loop {
        let requests = slow.forge.requests();
        *contexts.lock().unwrap() = requests
            .iter()
            .map(|r| (r.body["context"].to_string(), r.body["state"].to_string()))
            .collect::<Vec<_>>();
        if requests
            .iter()
            .any(|r| r.body["context"] == "jobcd/sync" && r.body["state"] == "success")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            contexts.lock().unwrap(),
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_cronjob_run_stopped_by_sigterm_is_finished_and_reported_by_the_next_sync() {
    let repo = JobsRepo::new();
    let slow = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: slow}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          terminationGracePeriodSeconds: 1\n          containers: [{name: main, image: x, command: [sh, -c, 'sleep 2']}]\n";
    let sha = repo.commit(&[("slow.yaml", Some(slow))]);
    let sync = |root: &Path| {
        jobcd(
            root,
            &[
                "sync",
                "--repo",
                repo.path().to_str().unwrap(),
                "--path",
                "jobs",
            ],
        )
    };
    assert_eq!(sync(repo.dir.path()).status.code(), Some(0));
    let context = "jobcd/cronjob/default/slow";
    let mut run_now = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", repo.dir.path())
        .arg("--state-dir")
        .arg(repo.dir.path().join("state"))
        .args(["local", "run-now", "slow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !statuses(&repo, &sha).contains_key(context) {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run_now.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(run_now.wait().unwrap().code(), Some(2), "interrupted");
    assert_eq!(statuses(&repo, &sha)[context].0, "pending");
    // The next sync resumes the run, waits for it, and reports its end.
    let out = sync(repo.dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (state, description) = statuses(&repo, &sha)[context].clone();
    assert_eq!(state, "success", "{description}");
    assert!(description.starts_with("slow-manual-"), "{description}");
}
