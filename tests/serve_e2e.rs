//! `jobcd serve` end to end with the local target: the real binary, a real
//! git repository, webhooks over loopback HTTP, metrics checked by
//! promtool, and SIGTERM.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::git_servers::{GitDaemon, Repo as GitRepo};
use support::http::{hmac_hex, promtool, request};
use support::jobs_repo::JobsRepo;
use support::served::{PATIENCE, Served};

/// A configuration syncing `repo`'s jobs/ to the local executor, with no
/// poll and no webhook: only the watch on the repository's refs.
fn watched_config(dir: &Path, repo: &Path) -> PathBuf {
    let config = dir.join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nsources:\n  - name: jobs\n    repo: {}\n    path: jobs\n    interval: 0s\n",
            repo.display()
        ),
    )
    .unwrap();
    config
}

const SECRET: &str = "serve-e2e-secret";

fn job(name: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, 'echo {name}']}}]\n"
    )
}

/// The line of `notes` about status `context` (empty when there is none).
fn status_line(notes: &str, context: &str) -> String {
    notes
        .lines()
        .find(|l| l.contains(context))
        .unwrap_or_default()
        .to_string()
}

fn signed_push(url: &str) -> (Vec<u8>, String) {
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"x","repository":{{"clone_url":"{url}","default_branch":"main"}}}}"#
    )
    .into_bytes();
    let signature = format!("sha256={}", hmac_hex(SECRET.as_bytes(), &body));
    (body, signature)
}

#[test]
fn serve_syncs_on_a_signed_push_and_stops_cleanly() {
    // A repository served by git daemon on loopback, pushed to as a
    // developer would; jobcd pushes its notes back there.
    let remote = GitRepo::new();
    remote.commit_and_push(&[("jobs/first.yaml", &job("first"))], "first");
    let daemon = GitDaemon::start(&remote);
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nreporters: {{pushNotes: true}}\nsources:\n  - name: jobs\n    repo: {}\n    ref: main\n    path: jobs\n    interval: 0s\n    webhookSecretEnv: HOOK_SECRET\n",
            daemon.url()
        ),
    )
    .unwrap();
    let mut served = Served::start(root.path(), &config, &[("HOOK_SECRET", SECRET)]);

    // Readiness follows the first sync.
    served.wait_log("Job default/first: Complete");
    served.wait_ready();

    // A new commit is pushed; an unsigned push event triggers nothing.
    let sha = remote.commit_and_push(&[("jobs/second.yaml", &job("second"))], "second");
    let hook = format!("{}/hooks/github", served.base);
    let (body, signature) = signed_push(&daemon.url());
    let event = ("X-GitHub-Event", "push".to_string());
    let (code, _) = request("POST", &hook, std::slice::from_ref(&event), &body);
    assert_eq!(code, 401);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!served.log().contains("second"), "{}", served.log());

    // Signed: fetched, applied and run.
    let pushed = Instant::now();
    let (code, text) = request(
        "POST",
        &hook,
        &[event, ("X-Hub-Signature-256", signature)],
        &body,
    );
    assert_eq!((code, text.as_str()), (202, "triggered: jobs\n"));
    served.wait_log("reason=Webhook");
    served.wait_log("1 to create");
    let planned = pushed.elapsed();
    served.wait_log("Job default/second: Complete");
    eprintln!(
        "webhook to planned: {} ms; to the Job's completion: {} ms",
        planned.as_millis(),
        pushed.elapsed().as_millis()
    );

    // Metrics pass promtool and count what happened (the reconcile is
    // counted once it returns, just after its last run's log line).
    let synced_twice = "jobcd_reconcile_results_total{source=\"jobs\",result=\"synced\"} 2";
    let deadline = Instant::now() + PATIENCE;
    let metrics = loop {
        let (code, metrics) = request("GET", &format!("{}/metrics", served.base), &[], b"");
        assert_eq!(code, 200);
        if metrics.contains(synced_twice) {
            break metrics;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        metrics.contains("jobcd_job_runs_total{outcome=\"complete\"} 2"),
        "{metrics}"
    );
    assert_eq!(promtool(&metrics).0, Some(0), "{metrics}");

    // SIGTERM: it stops, and the statuses are on the commit, pushed.
    served.signal(nix::sys::signal::Signal::SIGTERM);
    let status = served.wait_exit();
    assert!(status.success(), "{status:?}\n{}", served.log());
    let notes = remote.notes(&sha);
    assert!(
        notes.contains("jobcd/job/default/second") && notes.contains("success"),
        "{notes}\n{}",
        served.log()
    );
}

#[test]
fn a_local_repository_syncs_when_a_ref_moves() {
    let repo = JobsRepo::new();
    repo.commit(&[("first.yaml", Some(&job("first")))]);
    let config = watched_config(repo.dir.path(), &repo.path());
    let served = Served::start(repo.dir.path(), &config, &[]);
    served.wait_log("Job default/first: Complete");
    let committed = Instant::now();
    repo.commit(&[("second.yaml", Some(&job("second")))]);
    served.wait_log("Job default/second: Complete");
    eprintln!(
        "commit to the Job's completion through the ref watch: {} ms",
        committed.elapsed().as_millis()
    );
    assert!(served.log().contains("reason=Watch"), "{}", served.log());
}

#[test]
fn sigterm_while_a_run_goes_on_loses_no_status() {
    let repo = JobsRepo::new();
    let slow = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: slow}\nspec:\n  backoffLimit: 3\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 1\n      containers: [{name: main, image: x, command: [sh, -c, 'sleep 2']}]\n";
    let sha = repo.commit(&[("slow.yaml", Some(slow))]);
    let config = watched_config(repo.dir.path(), &repo.path());
    let notes = || repo.notes(&sha);

    // The run has started (its pending status is on the commit): SIGTERM.
    let mut served = Served::start(repo.dir.path(), &config, &[]);
    let deadline = Instant::now() + PATIENCE;
    while !notes().contains("jobcd/job/default/slow") {
        assert!(Instant::now() < deadline, "no run:\n{}", served.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    served.signal(nix::sys::signal::Signal::SIGTERM);
    let status = served.wait_exit();
    assert!(status.success(), "{status:?}\n{}", served.log());
    let log = served.log();
    assert!(log.contains("1 Job run(s) still going"), "{log}");
    let before = notes();
    assert!(
        status_line(&before, "jobcd/job/default/slow").contains("pending"),
        "{before}"
    );
    assert!(
        status_line(&before, "jobcd/sync").contains("pending"),
        "{before}"
    );
    drop(served);

    // The next start resumes the run and reports its end, and the sync's.
    let served = Served::start(repo.dir.path(), &config, &[]);
    served.wait_log("Job default/slow: Complete");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let after = notes();
        if status_line(&after, "jobcd/job/default/slow").contains("success")
            && status_line(&after, "jobcd/sync").contains("success")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "statuses lost:\n{after}\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_long_run_does_not_hold_up_the_next_commit() {
    let repo = JobsRepo::new();
    let slow = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: slow}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: x, command: [sh, -c, 'sleep 4']}]\n";
    let first = repo.commit(&[("slow.yaml", Some(slow))]);
    let config = watched_config(repo.dir.path(), &repo.path());
    let served = Served::start(repo.dir.path(), &config, &[]);
    let deadline = Instant::now() + PATIENCE;
    while !repo.notes(&first).contains("jobcd/job/default/slow") {
        assert!(Instant::now() < deadline, "no run:\n{}", served.log());
        std::thread::sleep(Duration::from_millis(20));
    }

    // While it runs, a new commit: applied and run at once.
    let second = repo.commit(&[("quick.yaml", Some(&job("quick")))]);
    served.wait_log("Job default/quick: Complete");
    served.wait_log("Job default/slow: Complete");
    let log = served.log();
    assert!(
        log.find("Job default/quick: Complete") < log.find("Job default/slow: Complete"),
        "{log}"
    );
    assert!(log.contains("a newer revision is next"), "{log}");

    // Every status reaches its commit: the first sync's (applied, its run
    // still going), the run's end on the commit it came from, the second's.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (a, b) = (repo.notes(&first), repo.notes(&second));
        let sync_a = status_line(&a, "jobcd/sync");
        if status_line(&a, "jobcd/job/default/slow").contains("success")
            && sync_a.contains("success")
            && status_line(&b, "jobcd/job/default/quick").contains("success")
            && status_line(&b, "jobcd/sync").contains("success")
        {
            assert!(sync_a.contains("1 Job run(s) still going"), "{a}");
            break;
        }
        assert!(Instant::now() < deadline, "{a}\n{b}\n{}", served.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_connections_are_closed_and_never_crowd_out_requests() {
    use std::io::Read;
    let repo = JobsRepo::new();
    repo.commit(&[("first.yaml", Some(&job("first")))]);
    let config = watched_config(repo.dir.path(), &repo.path());
    let served = Served::start(repo.dir.path(), &config, &[]);
    let addr = served.base.trim_start_matches("http://").to_string();
    // Clients that connect and never send a byte.
    let idle: Vec<std::net::TcpStream> = (0..300)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    let (code, _) = request("GET", &format!("{}/healthz", served.base), &[], b"");
    assert_eq!(code, 200, "requests are served beside idle connections");
    // Each is closed by the server once the header timeout has passed.
    let deadline = Instant::now() + Duration::from_secs(30);
    for mut stream in idle {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("an idle connection was not closed: {other:?}"),
        }
    }
    let (code, _) = request("GET", &format!("{}/healthz", served.base), &[], b"");
    assert_eq!(code, 200);
}

/// Copies `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A checkout holding the examples, as a user's clone does, under `root`,
/// after the README's quick start (`cargo run -- sync --repo . --path
/// examples`); returns it.
fn quick_start(root: &Path) -> PathBuf {
    let checkout = root.join("checkout");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &checkout.join("examples"),
    );
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(&checkout)
            .env("HOME", root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["remote", "add", "origin", "git@github.com:acme/jobs.git"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "examples"]);
    let synced = std::process::Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .current_dir(&checkout)
        .env("HOME", root)
        .arg("--state-dir")
        .arg(root.join("state"))
        .args(["sync", "--repo", ".", "--path", "examples"])
        .output()
        .unwrap();
    assert!(synced.status.success(), "{synced:?}");
    checkout
}

/// `jobcd serve` with the local serve example as the README runs it (on a
/// free port), its source renamed `source`.
fn serve_the_example(root: &Path, checkout: &Path, source: &str) -> Served {
    let example =
        std::fs::read_to_string(checkout.join("examples/serve/jobcd-local.yaml")).unwrap();
    assert!(example.contains("listen: 127.0.0.1:8080"), "{example}");
    assert!(example.contains("  - name: default\n"), "{example}");
    let config = root.join("jobcd-local.yaml");
    std::fs::write(
        &config,
        example
            .replace("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0")
            .replace("  - name: default\n", &format!("  - name: {source}\n")),
    )
    .unwrap();
    Served::start_in(Some(checkout), root, &config, &[("HOOK_SECRET", SECRET)])
}

#[test]
fn the_readme_in_order_quick_start_sync_then_the_local_serve_example() {
    let root = tempfile::tempdir().unwrap();
    let checkout = quick_start(root.path());
    let mut served = serve_the_example(root.path(), &checkout, "default");
    served.wait_ready();
    let log = served.log();
    assert!(
        !log.contains("conflict"),
        "the quick start's objects are this source's:\n{log}"
    );
    // A signed GitHub push to the checkout's origin reaches this source.
    let (body, signature) = signed_push("https://github.com/acme/jobs.git");
    let reply = request(
        "POST",
        &format!("{}/hooks/github", served.base),
        &[
            ("X-GitHub-Event", "push".to_string()),
            ("X-Hub-Signature-256", signature),
        ],
        &body,
    );
    assert_eq!(reply, (202, "triggered: default\n".to_string()));
    served.wait_log("reason=Webhook");
    served.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(served.wait_exit().success(), "{}", served.log());
}

#[test]
fn a_source_that_conflicts_says_so_in_the_log_and_in_readyz_with_the_way_out() {
    let root = tempfile::tempdir().unwrap();
    let checkout = quick_start(root.path());
    let mut served = serve_the_example(root.path(), &checkout, "examples");
    served.wait_log(
        "conflict: managed by source \"default\", not \"examples\": left untouched; if both names mean the same repository, name this source \"default\" (--source, or the serve config's sources[].name)",
    );
    let readyz = format!("{}/readyz", served.base);
    let deadline = Instant::now() + PATIENCE;
    let (code, body) = loop {
        let (code, body) = request("GET", &readyz, &[], b"");
        if body.contains("last sync") || Instant::now() > deadline {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        body,
        "not ready:\nsource examples: its last sync failed (a run failed, or an object conflicts) (the log and `jobcd status` on its commit say why)\n"
    );
    served.signal(nix::sys::signal::Signal::SIGTERM);
    served.wait_exit();
}
