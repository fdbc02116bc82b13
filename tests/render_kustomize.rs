//! Sources kept as Kustomize overlays, rendered by the real `kustomize`
//! (built by scripts/test-deps): validated with each problem named at the
//! repository file it came from, synced as the objects the overlay makes,
//! re-run when only the overlay's patch changes, and the repository's
//! attempts to read outside itself refused.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::jobs_repo::JobsRepo;

fn kustomize() -> PathBuf {
    support::scripts::dir("kustomize-binary").join("kustomize")
}

const BASE_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox
          command: [sh, -c, 'echo migrating in $MODE']
          envFrom:
            - configMapRef: {name: migrate-env}
";

const BASE: &str = "resources: [job.yaml]
configMapGenerator:
  - name: migrate-env
    literals: [MODE=base]
";

/// A repository with the base and the prod overlay (backoffLimit 5).
fn overlay_repo() -> JobsRepo {
    let repo = JobsRepo::new();
    repo.commit(&[
        ("base/job.yaml", Some(BASE_JOB)),
        ("base/kustomization.yaml", Some(BASE)),
        ("overlays/prod/kustomization.yaml", Some(&overlay(5))),
    ]);
    repo
}

fn overlay(backoff: u32) -> String {
    format!(
        "resources: [../../base]
namePrefix: prod-
namespace: batch
labels:
  - pairs: {{env: prod}}
    includeTemplates: true
configMapGenerator:
  - name: migrate-env
    behavior: merge
    literals: [MODE=prod]
patches:
  - target: {{kind: Job, name: migrate}}
    patch: |-
      - op: replace
        path: /spec/backoffLimit
        value: {backoff}
  - patch: |-
      apiVersion: batch/v1
      kind: Job
      metadata:
        name: migrate
      spec:
        activeDeadlineSeconds: 600
"
    )
}

/// jobcd on `repo` (its `jobs/` prefix is where JobsRepo keeps files).
fn jobcd_command(repo: &JobsRepo, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobcd"));
    command
        .env("HOME", repo.dir.path())
        .env("JOBCD_KUSTOMIZE", kustomize())
        .arg("--state-dir")
        .arg(repo.dir.path().join("state"))
        .args(args);
    command
}

/// `command` with kustomize sandboxed or not (a bubblewrap path that is
/// not a file turns the sandbox off).
fn sandboxed(sandbox: Sandbox, mut command: Command) -> Command {
    if sandbox == Sandbox::None {
        command.env("JOBCD_BWRAP", "/nonexistent/bwrap");
    }
    command
}

/// An address of this machine that is not loopback: the one its default
/// route leaves from (no packet is sent).
fn outward_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .connect("192.0.2.254:9")
        .expect("a default route: the test needs an address of this machine that is not loopback");
    let address = socket.local_addr().unwrap().ip();
    assert!(!address.is_loopback(), "{address}");
    address
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn on_overlay<'a>(repo: &'a JobsRepo, command: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut args = vec![
        command.to_string(),
        "--repo".into(),
        repo.path().display().to_string(),
        "--path".into(),
        "jobs/overlays/prod".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_string()));
    args
}

/// The output of the latest pod of Job `job`, run on the local target.
fn pod_logs(repo: &JobsRepo, job: &str) -> String {
    let runs = jobcd_command(repo, &["local", "runs", job])
        .output()
        .unwrap();
    let runs = text(&runs);
    let pod = runs
        .split_whitespace()
        .rfind(|w| w.starts_with(&format!("{job}-")))
        .unwrap_or_else(|| panic!("a pod of {job}: {runs}"))
        .to_owned();
    text(
        &jobcd_command(repo, &["local", "logs", &pod])
            .output()
            .unwrap(),
    )
}

fn run(repo: &JobsRepo, command: &str, extra: &[&str]) -> Output {
    run_command(repo, command, extra).output().unwrap()
}

fn run_command(repo: &JobsRepo, command: &str, extra: &[&str]) -> Command {
    let args = on_overlay(repo, command, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    jobcd_command(repo, &args)
}

#[test]
fn an_overlay_is_validated_and_synced_as_the_objects_it_makes() {
    let repo = overlay_repo();
    let out = run(&repo, "validate", &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "{report}");
    assert_eq!(objects[0]["namespace"], "batch");
    assert_eq!(objects[0]["name"], "prod-migrate");
    assert_eq!(
        objects[0]["file"], "jobs/base/job.yaml (kustomize build jobs/overlays/prod)",
        "the object names the file it came from: {report}"
    );
    // The generated ConfigMap, with its hash suffix, is an object too.
    assert_eq!(objects[1]["kind"], "ConfigMap", "{report}");
    assert_eq!(objects[1]["namespace"], "batch");
    let generated = objects[1]["name"].as_str().unwrap().to_owned();
    assert!(generated.starts_with("prod-migrate-env-"), "{generated}");
    assert_eq!(report["ignored"], serde_json::json!([]), "{report}");

    // Synced as rendered: patched, prefixed, in the overlay's namespace.
    let out = run(&repo, "sync", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Job batch/prod-migrate: Complete"),
        "{}",
        text(&out)
    );
    // The Job read the generated ConfigMap: the overlay's value.
    let logs = pod_logs(&repo, "prod-migrate");
    assert_eq!(logs.trim(), "migrating in prod", "{logs}");
    // The sync's status names the engine that rendered the revision.
    let head = repo.git(&["rev-parse", "HEAD"]);
    let notes = repo.notes(head.trim());
    assert!(notes.contains("; rendered by kustomize v5.8.1"), "{notes}");
    let out = run(&repo, "sync", &[]);
    assert!(
        text(&out).contains("2 unchanged"),
        "run once: {}",
        text(&out)
    );

    // Only the overlay's patch changes: the Job runs again.
    repo.commit(&[("overlays/prod/kustomization.yaml", Some(&overlay(6)))]);
    let out = run(&repo, "diff", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("Job batch/prod-migrate: re-run"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("+  backoffLimit: 6"), "{}", text(&out));
    let out = run(&repo, "sync", &[]);
    assert!(text(&out).contains("1 re-run"), "{}", text(&out));
}

#[test]
fn a_mistake_in_the_base_is_named_at_the_base_file() {
    let repo = JobsRepo::new();
    repo.commit(&[
        (
            "base/job.yaml",
            Some(&BASE_JOB.replace("backoffLimit: 2", "backoffLimit: 2\n  parallelism: -1")),
        ),
        ("base/kustomization.yaml", Some(BASE)),
        ("overlays/prod/kustomization.yaml", Some(&overlay(5))),
    ]);
    let out = run(&repo, "validate", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("jobs/base/job.yaml (kustomize build jobs/overlays/prod):"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("Job batch/prod-migrate: spec.parallelism"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_repository_cannot_make_kustomize_read_outside_it_or_the_network() {
    refusals(Sandbox::Bubblewrap);
}

#[test]
fn without_a_sandbox_the_same_refusals_hold() {
    refusals(Sandbox::None);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sandbox {
    Bubblewrap,
    None,
}

/// A malicious repository's attempts, each refused, with kustomize run as
/// `sandbox` says.
fn refusals(sandbox: Sandbox) {
    // A server on this machine's own network address (not loopback): a
    // remote resource the repository names there must never be fetched.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let address = outward_address();
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let fetched = fetched.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut stream = stream;
                let body = BASE_JOB;
                let _ = std::io::Write::write_all(
                    &mut stream,
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
    }
    let http = format!("resources:\n  - http://{address}:{port}/job.yaml\n");
    let outside = match sandbox {
        // In the sandbox there is no /etc at all; outside it, /etc is not a
        // kustomization, and files outside the root are not loaded.
        Sandbox::Bubblewrap => "lstat /etc: no such file or directory",
        Sandbox::None => "unable to find one of 'kustomization.yaml'",
    };
    for (name, kustomization, extra, refused) in [
        (
            "a base outside the repository",
            "resources: [../../../../../../../../etc]\n",
            None,
            outside,
        ),
        (
            "a file outside the repository",
            "resources: [../../../../../../../../etc/passwd]\n",
            None,
            "",
        ),
        ("a resource over HTTP", http.as_str(), None, ""),
        (
            "a remote base",
            "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n",
            None,
            "no 'git' program on path",
        ),
        (
            "a patch file outside the kustomization's root",
            "resources: [job.yaml]\npatches:\n  - path: ../secret.yaml\n",
            Some((
                "overlays/secret.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n",
            )),
            "is not in or below",
        ),
    ] {
        let repo = JobsRepo::new();
        let mut files = vec![
            ("overlays/prod/kustomization.yaml", Some(kustomization)),
            ("overlays/prod/job.yaml", Some(BASE_JOB)),
        ];
        if let Some((path, content)) = extra {
            files.push((path, Some(content)));
        }
        repo.commit(&files);
        let out = sandboxed(sandbox, run_command(&repo, "validate", &[]))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("error: jobs/overlays/prod/kustomization.yaml: kustomize build jobs/overlays/prod failed")
                && said.contains(refused),
            "{name} ({sandbox:?}): {said}"
        );
        assert!(!said.contains("root:x:0:0"), "{name}: {said}");
    }
    assert_eq!(
        fetched.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the remote resource was fetched ({sandbox:?})"
    );
    // A symlink to a file of this machine is not written out for kustomize.
    let repo = JobsRepo::new();
    repo.commit(&[
        ("overlays/prod/kustomization.yaml", Some("resources: [job.yaml]\nconfigMapGenerator:\n  - name: stolen\n    files: [passwd]\n")),
        ("overlays/prod/job.yaml", Some(BASE_JOB)),
    ]);
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("jobs/overlays/prod/passwd"))
        .unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "link"]);
    let out = sandboxed(sandbox, run_command(&repo, "validate", &[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("passwd"),
        "the missing file is named: {}",
        text(&out)
    );
    assert!(!text(&out).contains("root:x:0:0"), "{}", text(&out));
}

#[test]
fn plain_reads_the_yaml_as_it_is() {
    let repo = JobsRepo::new();
    repo.commit(&[
        (
            "overlays/prod/kustomization.yaml",
            Some("resources: [job.yaml]\nnamePrefix: prod-\n"),
        ),
        ("overlays/prod/job.yaml", Some(BASE_JOB)),
    ]);
    let out = run(&repo, "validate", &["--render", "plain", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The kustomization itself has no apiVersion or kind: plain reading
    // reports it, as before rendering existed.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "migrate"),
        "{report}"
    );
}

#[test]
fn preview_tells_the_schedule_story_of_an_overlay_only_change() {
    let cron = "apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: backup, image: busybox, command: ['true']}]
";
    let overlay = |schedule: &str| {
        format!(
            "resources: [../../base]\nnamePrefix: prod-\npatches:\n  - target: {{kind: CronJob, name: nightly}}\n    patch: |-\n      - op: replace\n        path: /spec/schedule\n        value: '{schedule}'\n"
        )
    };
    let repo = JobsRepo::new();
    repo.commit(&[
        ("base/cron.yaml", Some(cron)),
        ("base/kustomization.yaml", Some("resources: [cron.yaml]\n")),
        (
            "overlays/prod/kustomization.yaml",
            Some(&overlay("0 3 * * *")),
        ),
    ]);
    repo.git(&["checkout", "-q", "-b", "later"]);
    repo.commit(&[(
        "overlays/prod/kustomization.yaml",
        Some(&overlay("30 4 * * *")),
    )]);
    let out = run(
        &repo,
        "preview",
        &[
            "--base",
            "main",
            "--head",
            "later",
            "--now",
            "2026-11-27T08:00:00Z",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let story = report["cronjobs"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"]["name"] == "prod-nightly"))
        .unwrap_or_else(|| panic!("prod-nightly in {report}"));
    assert_eq!(story["before"]["schedule"], "0 3 * * *", "{story}");
    assert_eq!(story["after"]["schedule"], "30 4 * * *", "{story}");
    assert_eq!(
        report["changes"][0]["file"],
        "jobs/base/cron.yaml (kustomize build jobs/overlays/prod)"
    );
}

#[test]
fn a_revision_already_rendered_is_not_built_again() {
    let repo = overlay_repo();
    let names = |out: &Output| -> Vec<String> {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "Job")
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = run(&repo, "validate", &["-o", "json"]);
    assert_eq!(names(&first), ["prod-migrate"], "{}", text(&first));
    let cache = repo.dir.path().join("state/render-cache");
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    // Mark the cached render: the next read of the same revision shows the
    // mark, so it came from the cache, not from kustomize.
    let cached = std::fs::read_to_string(&entries[0]).unwrap();
    std::fs::write(&entries[0], cached.replace("prod-migrate", "prod-cached")).unwrap();
    let again = run(&repo, "validate", &["-o", "json"]);
    assert_eq!(names(&again), ["prod-cached"], "{}", text(&again));
    // A new commit is a new tree: rendered afresh.
    repo.commit(&[("overlays/prod/kustomization.yaml", Some(&overlay(7)))]);
    let fresh = run(&repo, "validate", &["-o", "json"]);
    assert_eq!(names(&fresh), ["prod-migrate"], "{}", text(&fresh));
}

#[test]
fn uncommitted_changes_render_without_touching_the_working_tree_or_index() {
    let repo = overlay_repo();
    // Edited and not committed; one more file, untracked, is used.
    std::fs::write(
        repo.path().join("jobs/overlays/prod/kustomization.yaml"),
        overlay(9).replace("namePrefix: prod-", "namePrefix: dev-"),
    )
    .unwrap();
    std::fs::write(repo.path().join("jobs/base/notes.txt"), "untracked\n").unwrap();
    let status_before = repo.git(&["status", "--porcelain", "--untracked-files=all"]);
    let index_before = std::fs::read(repo.path().join(".git/index")).unwrap();

    let out = run(&repo, "validate", &["--uncommitted", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["objects"][0]["name"], "dev-migrate", "{report}");
    let out = run(&repo, "diff", &["--uncommitted"]);
    assert!(text(&out).contains("+  backoffLimit: 9"), "{}", text(&out));

    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        status_before,
        "nothing written into the working tree"
    );
    assert_eq!(
        std::fs::read(repo.path().join(".git/index")).unwrap(),
        index_before,
        "the index is not written"
    );
}

#[test]
fn a_directory_holding_a_kustomization_is_rendered_from_its_working_tree() {
    let repo = overlay_repo();
    let overlay_dir = repo.path().join("jobs/overlays/prod");
    // Named, or the current directory: the base outside it is found in
    // the repository around it.
    for (cwd, args) in [
        (
            repo.path().to_path_buf(),
            vec!["validate", "-o", "json", "jobs/overlays/prod"],
        ),
        (overlay_dir.clone(), vec!["validate", "-o", "json"]),
    ] {
        let out = jobcd_command(&repo, &args)
            .current_dir(&cwd)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["objects"][0]["name"], "prod-migrate", "{report}");
        assert_eq!(
            report["objects"][0]["file"],
            "jobs/base/job.yaml (kustomize build jobs/overlays/prod)"
        );
    }
    // Outside any repository there is nothing to render it from: said so,
    // with the way out.
    let alone = tempfile::tempdir().unwrap();
    std::fs::write(alone.path().join("kustomization.yaml"), overlay(5)).unwrap();
    let out = jobcd_command(&repo, &["validate"])
        .arg(alone.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("holds a kustomization.yaml and is not in a git repository")
            && text(&out).contains("--render plain"),
        "{}",
        text(&out)
    );
}
