//! Commit statuses on forges, against a fake forge on loopback (no forge is
//! reachable here). Every request to the GitHub reporter is checked against
//! GitHub's published OpenAPI description (@octokit/openapi, installed by
//! scripts/test-deps); GitLab's and Gitea's follow their API documentation.

mod support;

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::fake_forge::{self, Reply, Request};
use support::git_servers::TlsProxy;

const TOKEN: &str = "jobcd-test-token-5f3a9c";

/// A status code and extra headers to answer with.
type Answer = (u16, Vec<(&'static str, String)>);

/// A forge that answers from a script, then 201.
struct FakeForge {
    inner: fake_forge::FakeForge,
    url: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl FakeForge {
    fn start() -> FakeForge {
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let answers = script.clone();
        let inner = fake_forge::FakeForge::start(move |_| {
            let (code, headers) = answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((201, Vec::new()));
            Reply {
                code,
                headers,
                body: "{}".into(),
            }
        });
        FakeForge {
            url: inner.url.clone(),
            inner,
            script,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.inner.requests()
    }

    fn answer(&self, code: u16, headers: Vec<(&'static str, String)>) {
        self.script.lock().unwrap().push_back((code, headers));
    }
}

/// A git repository with one commit of `files` under `jobs/`.
fn repository(files: &[(&str, &str)]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("jobs")).unwrap();
    for (name, content) in files {
        std::fs::write(repo.join("jobs").join(name), content).unwrap();
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "jobs"]);
    let sha = git(&["rev-parse", "HEAD"]);
    (dir, sha)
}

fn job(name: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, '{script}']}}]\n"
    )
}

fn sync(dir: &Path, forge: &FakeForge, report: &str, extra: &[&str]) -> Output {
    sync_with(dir, &forge.url, &[], report, extra)
}

/// `jobcd sync` reporting to the forge at `url`, with `env` set.
fn sync_with(dir: &Path, url: &str, env: &[(&str, &Path)], report: &str, extra: &[&str]) -> Output {
    let repo = dir.join("repo");
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobcd"));
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command
        .env("HOME", dir)
        .env("JOBCD_FORGE_TOKEN", TOKEN)
        .args(["--state-dir"])
        .arg(dir.join("state"))
        .args(["sync", "--repo"])
        .arg(&repo)
        .args([
            "--path",
            "jobs",
            "--report",
            report,
            "--forge-url",
            url,
            "--forge-repo",
            "acme/jobs",
        ])
        .args(extra)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(TOKEN),
        "the token leaked into the output: {all}"
    );
    out
}

fn openapi() -> Value {
    fake_forge::github_openapi()
}

/// Checks a request against GitHub's description of "create a commit status".
fn check_github(api: &Value, r: &Request, sha: &str) {
    let operation = &api["paths"]["/repos/{owner}/{repo}/statuses/{sha}"]["post"];
    assert!(operation.is_object(), "the description has the endpoint");
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/repos/acme/jobs/statuses/{sha}"));
    fake_forge::check_body(operation, &r.body);
    // GitHub documents a 140-character limit for the description in prose.
    if let Some(d) = r.body["description"].as_str() {
        assert!(d.chars().count() <= 140);
    }
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    assert!(
        r.header("user-agent")
            .is_some_and(|u| u.starts_with("jobcd/"))
    );
}

/// (context, state) of each request, in order.
fn sequence(requests: &[Request], state_key: &str, context_key: &str) -> Vec<(String, String)> {
    requests
        .iter()
        .map(|r| {
            (
                r.body[context_key].as_str().unwrap().to_string(),
                r.body[state_key].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn github_gets_every_status_of_a_passing_and_a_failing_job_in_order() {
    let api = openapi();
    let forge = FakeForge::start();
    let (dir, sha) = repository(&[
        ("ok.yaml", &job("ok", "true")),
        ("bad.yaml", &job("bad", "exit 3")),
    ]);
    let out = sync(dir.path(), &forge, "github", &[]);
    assert_eq!(out.status.code(), Some(1), "a failed run fails the sync");
    let requests = forge.requests();
    for r in &requests {
        check_github(&api, r, &sha);
    }
    let seq = sequence(&requests, "state", "context");
    let of = |context: &str| -> Vec<String> {
        seq.iter()
            .filter(|(c, _)| c == context)
            .map(|(_, s)| s.clone())
            .collect()
    };
    assert_eq!(of("jobcd/sync"), ["pending", "success"]);
    assert_eq!(of("jobcd/job/default/ok"), ["pending", "success"]);
    assert_eq!(of("jobcd/job/default/bad"), ["pending", "failure"]);
    let bad = requests
        .iter()
        .rfind(|r| r.body["context"] == "jobcd/job/default/bad")
        .unwrap();
    assert_eq!(
        bad.body["description"],
        "BackoffLimitExceeded after 1 attempt"
    );
    // Nothing changes: nothing is posted again.
    sync(dir.path(), &forge, "github", &[]);
    assert_eq!(forge.requests().len(), requests.len(), "no duplicates");
    // The token is not in the notes either.
    let notes = Command::new("git")
        .current_dir(dir.path().join("repo"))
        .args(["notes", "--ref=jobcd", "show", &sha])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&notes.stdout).contains(TOKEN));
}

#[test]
fn a_forge_behind_a_private_ca_is_trusted_through_the_system_trust_store() {
    // A self-hosted forge whose certificate no public root signed.
    let forge = FakeForge::start();
    let upstream = forge.url.trim_start_matches("http://").to_string();
    let proxy = TlsProxy::start(&upstream);
    let files = [("ok.yaml", job("ok", "true"))];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();

    // Not trusted: nothing reaches it, and the sync says why.
    let (untrusted, _) = repository(&files);
    let out = sync_with(untrusted.path(), &proxy.url(), &[], "github", &[]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("status not delivered yet") && all.contains("UnknownIssuer"),
        "{all}"
    );
    assert!(forge.requests().is_empty(), "{:?}", forge.requests());

    // Trusted through the system's store (here SSL_CERT_FILE, as a
    // mounted CA bundle would be): every status is delivered.
    let (dir, sha) = repository(&files);
    let cert = proxy.certificate();
    let out = sync_with(
        dir.path(),
        &proxy.url(),
        &[("SSL_CERT_FILE", &cert)],
        "github",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let seq = sequence(&forge.requests(), "state", "context");
    assert!(
        seq.contains(&("jobcd/job/default/ok".into(), "success".into()))
            && seq.contains(&("jobcd/sync".into(), "success".into())),
        "{seq:?}"
    );
    let api = openapi();
    for r in &forge.requests() {
        check_github(&api, r, &sha);
    }
}

#[test]
fn a_forge_that_fails_is_retried_later_and_gets_the_latest_state_of_each_context_once() {
    let forge = FakeForge::start();
    for _ in 0..20 {
        forge.answer(500, Vec::new());
    }
    let (dir, _) = repository(&[("ok.yaml", &job("ok", "true"))]);
    let out = sync(dir.path(), &forge, "github", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a forge that is down never fails a sync"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 500"));
    let failed_attempts = forge.requests().len();
    forge.script.lock().unwrap().clear();
    // The latest state of each context waits; a later run delivers it once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while forge.requests().len() < failed_attempts + 2 {
        assert!(std::time::Instant::now() < deadline, "not delivered");
        sync(dir.path(), &forge, "github", &[]);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut delivered = sequence(&forge.requests()[failed_attempts..], "state", "context");
    // Each context's retries wait out their own backoff, so contexts may
    // arrive in either order; within a context only the latest state goes.
    delivered.sort();
    assert_eq!(
        delivered,
        [
            ("jobcd/job/default/ok".to_string(), "success".to_string()),
            ("jobcd/sync".to_string(), "success".to_string())
        ],
        "only the latest state of each context, once"
    );
}

#[test]
fn a_rate_limited_forge_is_not_asked_again_before_its_reset() {
    let forge = FakeForge::start();
    let reset = jiff::Timestamp::now().as_second() + 3600;
    forge.answer(
        403,
        vec![
            ("X-RateLimit-Remaining", "0".into()),
            ("X-RateLimit-Reset", reset.to_string()),
        ],
    );
    let (dir, _) = repository(&[(
        "cron.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: x, command: ['true']}]\n",
    )]);
    let out = sync(dir.path(), &forge, "github", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a rate limit never fails a sync"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rate limited"));
    assert_eq!(
        forge.requests().len(),
        1,
        "after the 403 nothing more is sent, not even the next status"
    );
    std::thread::sleep(std::time::Duration::from_millis(1200));
    sync(dir.path(), &forge, "github", &[]);
    assert_eq!(
        forge.requests().len(),
        1,
        "nor by a later run before the reset"
    );
}

#[test]
fn gitlab_and_gitea_get_their_own_request_shapes() {
    for (report, path, state_key, context_key, token_header, token_value) in [
        (
            "gitlab",
            "/projects/acme%2Fjobs/statuses/",
            "state",
            "name",
            "private-token",
            TOKEN.to_string(),
        ),
        (
            "gitea",
            "/repos/acme/jobs/statuses/",
            "state",
            "context",
            "authorization",
            format!("token {TOKEN}"),
        ),
    ] {
        let forge = FakeForge::start();
        let (dir, sha) = repository(&[("bad.yaml", &job("bad", "exit 3"))]);
        sync(dir.path(), &forge, report, &[]);
        let requests = forge.requests();
        assert!(!requests.is_empty(), "{report}");
        for r in &requests {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, format!("{path}{sha}"), "{report}");
            assert_eq!(
                r.header(token_header),
                Some(token_value.as_str()),
                "{report}"
            );
        }
        let states: Vec<(String, String)> = sequence(&requests, state_key, context_key)
            .into_iter()
            .filter(|(c, _)| c == "jobcd/job/default/bad")
            .collect();
        let expected = match report {
            "gitlab" => ["running", "failed"],
            _ => ["pending", "failure"],
        };
        assert_eq!(
            states.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
            expected,
            "{report}"
        );
    }
}

#[test]
fn a_cronjob_run_reaches_the_forge_its_source_reports_to() {
    let api = openapi();
    let forge = FakeForge::start();
    let (dir, sha) = repository(&[(
        "cron.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: x, command: ['true']}]\n",
    )]);
    assert_eq!(
        sync(dir.path(), &forge, "github", &[]).status.code(),
        Some(0)
    );
    let before = forge.requests().len();
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", dir.path())
        .env("JOBCD_FORGE_TOKEN", TOKEN)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["local", "run-now", "nightly"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let requests = forge.requests();
    let cron: Vec<&Request> = requests[before..].iter().collect();
    for r in &cron {
        check_github(&api, r, &sha);
    }
    let states: Vec<(&str, &str)> = cron
        .iter()
        .map(|r| {
            (
                r.body["context"].as_str().unwrap(),
                r.body["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("jobcd/cronjob/default/nightly", "pending"),
            ("jobcd/cronjob/default/nightly", "success")
        ]
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(TOKEN));
}
