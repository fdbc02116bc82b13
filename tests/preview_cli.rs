//! `jobcd preview` end to end: real git history, the real binary, Mermaid
//! charts checked by the real Mermaid library (tests/mermaid-check, installed
//! by scripts/test-deps), and sticky comments posted to a fake forge whose
//! GitHub requests are checked against GitHub's published OpenAPI
//! description.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::fake_forge::{self, FakeForge, Reply, Request};
use support::jobs_repo::JobsRepo;

const TOKEN: &str = "jobcd-preview-token-8d1e";
const NOW: &str = "2026-11-27T08:00:00Z";

/// The test's repository, with the commands it runs on it.
struct Repo(JobsRepo);

impl std::ops::Deref for Repo {
    type Target = JobsRepo;
    fn deref(&self) -> &JobsRepo {
        &self.0
    }
}

impl Repo {
    fn new() -> Repo {
        Repo(JobsRepo::new())
    }

    fn preview(&self, args: &[&str]) -> Output {
        self.preview_with(args, &[])
    }

    fn preview_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
            .env("HOME", self.dir.path())
            .env_remove("JOBCD_FORGE_TOKEN")
            .envs(env.iter().copied())
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["preview", "--repo"])
            .arg(self.path())
            .args(["--path", "jobs", "--now", NOW])
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(TOKEN), "the token leaked: {all}");
        out
    }
}

fn cronjob(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n{spec}  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [\"true\"]}}]\n"
    )
}

fn job(name: &str, arg: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [echo, {arg}]}}]\n"
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the real Mermaid library over the Markdown in `text`.
fn check_mermaid(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preview.md");
    std::fs::write(&file, text).unwrap();
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mermaid-check/check.mjs");
    let out = Command::new("node")
        .arg(&checker)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("node: {e}; run scripts/test-deps"));
    assert!(
        out.status.success(),
        "Mermaid rejects the chart:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_schedule_change_in_history_is_previewed_with_a_chart_mermaid_accepts() {
    let repo = Repo::new();
    let base = repo.commit(&[
        (
            "backup.yaml",
            Some(&cronjob("backup", "  schedule: \"0 3 * * *\"\n")),
        ),
        ("migrate.yaml", Some(&job("migrate", "v1"))),
    ]);
    let head = repo.commit(&[
        (
            "backup.yaml",
            Some(&cronjob(
                "backup",
                "  schedule: \"30 2 * * *\"\n  timeZone: Europe/Berlin\n",
            )),
        ),
        ("migrate.yaml", Some(&job("migrate", "v2"))),
    ]);
    let out = repo.preview(&["--base", &base, "--head", &head]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with("<!-- jobcd-preview path=jobs -->"),
        "{text}"
    );
    for expected in [
        "`0 3 * * *` At 03:00 every day",
        "`30 2 * * *` At 02:30 every day",
        "Europe/Berlin",
        "Sat 2026-11-28 02:30 CET (01:30 UTC)",
        "| `default/migrate` | ▶️ **runs** |",
        "```mermaid",
        "```diff",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    check_mermaid(&text);
    // The default head is the current branch.
    let again = repo.preview(&["--base", &base]);
    assert_eq!(stdout(&again), text);
}

#[test]
fn every_chart_in_the_preview_snapshots_is_valid_mermaid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/preview/snapshots");
    let charts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("```mermaid"))
        .collect();
    assert!(charts.len() >= 4, "the snapshots draw charts: {charts:?}");
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mermaid-check/check.mjs");
    let out = Command::new("node")
        .arg(&checker)
        .args(&charts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_crowded_chart_is_capped_and_still_valid_mermaid() {
    let repo = Repo::new();
    let names: Vec<String> = (0..20).map(|i| format!("c{i:02}.yaml")).collect();
    let before: Vec<String> = (0..20)
        .map(|i| cronjob(&format!("report-{i:02}"), "  schedule: \"0 3 * * *\"\n"))
        .collect();
    let schedules = ["*/5 * * * *", "@every 90s", "0 3 * * *", "15 */2 * * 1-5"];
    let after: Vec<String> = (0..20)
        .map(|i| {
            cronjob(
                &format!("report-{i:02}"),
                &format!("  schedule: \"{}\"\n", schedules[i % schedules.len()]),
            )
        })
        .collect();
    let files = |texts: &[String]| -> Vec<(String, String)> {
        names.iter().cloned().zip(texts.iter().cloned()).collect()
    };
    let base_files = files(&before);
    let head_files = files(&after);
    let as_refs = |v: &[(String, String)]| -> Vec<(String, Option<String>)> {
        v.iter()
            .map(|(n, t)| (n.clone(), Some(t.clone())))
            .collect()
    };
    let commit = |v: Vec<(String, Option<String>)>| {
        let borrowed: Vec<(&str, Option<&str>)> =
            v.iter().map(|(n, t)| (n.as_str(), t.as_deref())).collect();
        repo.commit(&borrowed)
    };
    let base = commit(as_refs(&base_files));
    let head = commit(as_refs(&head_files));
    let out = repo.preview(&[
        "--base",
        &base,
        "--head",
        &head,
        "--collision-threshold",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("The chart shows the first 12 rescheduled CronJobs"),
        "{text}"
    );
    assert!(
        text.contains("runs :"),
        "a busy schedule is one bar: {text}"
    );
    check_mermaid(&text);
}

#[test]
fn json_fire_times_are_the_schedule_commands() {
    let repo = Repo::new();
    let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
    let head = repo.commit(&[(
        "n.yaml",
        Some(&cronjob(
            "nightly",
            "  schedule: \"45 1 * * *\"\n  timeZone: America/New_York\n",
        )),
    )]);
    let out = repo.preview(&[
        "--base", &base, "--head", &head, "-o", "json", "--runs", "4",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let preview: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(preview["summary"]["added"], 1);
    let story = &preview["cronjobs"][0];
    assert_eq!(story["change"], "added");
    assert_eq!(story["before"], Value::Null);
    let schedule = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args([
            "schedule",
            "45 1 * * *",
            "--tz",
            "America/New_York",
            "--from",
            NOW,
            "-c",
            "4",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let schedule: Value = serde_json::from_slice(&schedule.stdout).unwrap();
    assert_eq!(story["after"]["next"], schedule["next"]);
    assert_eq!(story["after"]["runsInWindow"], 7);
}

#[test]
fn an_invalid_head_exits_1_naming_file_and_line() {
    let repo = Repo::new();
    let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
    let head = repo.commit(&[(
        "bad.yaml",
        Some(&cronjob("bad", "  schedule: \"0 3 * * MON-XYZ\"\n")),
    )]);
    let out = repo.preview(&["--base", &base, "--head", &head]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("the head does not validate"), "{text}");
    assert!(text.contains("jobs/bad.yaml:5"), "{text}");
    let json = repo.preview(&["--base", &base, "--head", &head, "-o", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["diagnostics"][0]["file"], "jobs/bad.yaml");
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let repo = Repo::new();
    let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
    for (args, says) in [
        (vec![], "--base"),
        (vec!["--base", &base, "--window", "7y"], "window"),
        (vec!["--base", "no-such-branch"], "no-such-branch"),
        (vec!["--base", &base, "--post", "github"], "--pr"),
        (
            vec!["--base", &base, "--default-tz", "Mars/Olympus"],
            "Mars/Olympus",
        ),
        (
            vec!["--base", &base, "--post", "github", "--pr", "1"],
            "JOBCD_FORGE_TOKEN",
        ),
    ] {
        let out = repo.preview(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {says:?} in {err}");
    }
}

/// Which API the comment forge speaks.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Api {
    GitHub,
    GitLab,
    Gitea,
}

/// The comments of a pull request: (id, body).
type Comments = Arc<Mutex<Vec<(u64, String)>>>;

/// A forge keeping the comments of pull request 7 in memory.
fn comment_forge(api: Api, foreign: usize) -> (FakeForge, Comments) {
    let comments: Comments = Arc::new(Mutex::new(
        (1..=foreign as u64)
            .map(|id| (id, format!("looks good {id}")))
            .collect(),
    ));
    let state = comments.clone();
    let forge = FakeForge::start(move |r: &Request| {
        let mut comments = state.lock().unwrap();
        let listing = match api {
            Api::GitHub | Api::Gitea => "/repos/acme/jobs/issues/7/comments",
            Api::GitLab => "/projects/acme%2Fjobs/merge_requests/7/notes",
        };
        let edit_prefix = match api {
            Api::GitHub | Api::Gitea => "/repos/acme/jobs/issues/comments/",
            Api::GitLab => "/projects/acme%2Fjobs/merge_requests/7/notes/",
        };
        match (r.method.as_str(), r.route()) {
            ("GET", route) if route == listing => {
                let size_key = if api == Api::Gitea {
                    "limit"
                } else {
                    "per_page"
                };
                let size: usize = r.query(size_key).and_then(|v| v.parse().ok()).unwrap_or(30);
                let page: usize = r.query("page").and_then(|v| v.parse().ok()).unwrap_or(1);
                let list: Vec<Value> = comments
                    .iter()
                    .skip((page - 1) * size)
                    .take(size)
                    .map(|(id, body)| json!({"id": id, "body": body}))
                    .collect();
                Reply::json(200, &Value::Array(list))
            }
            ("POST", route) if route == listing => {
                let id = 1000 + comments.len() as u64;
                let body = r.body["body"].as_str().unwrap_or_default().to_string();
                comments.push((id, body.clone()));
                Reply::json(201, &json!({"id": id, "body": body}))
            }
            (method, route) if route.starts_with(edit_prefix) => {
                let expected = if api == Api::GitLab { "PUT" } else { "PATCH" };
                if method != expected {
                    return Reply::json(405, &json!({"message": "method"}));
                }
                let Ok(id) = route[edit_prefix.len()..].parse::<u64>() else {
                    return Reply::json(404, &json!({"message": "Not Found"}));
                };
                let body = r.body["body"].as_str().unwrap_or_default().to_string();
                match comments.iter_mut().find(|(i, _)| *i == id) {
                    Some(c) => {
                        c.1 = body.clone();
                        Reply::json(200, &json!({"id": id, "body": body}))
                    }
                    None => Reply::json(404, &json!({"message": "Not Found"})),
                }
            }
            _ => Reply::json(404, &json!({"message": "Not Found"})),
        }
    });
    (forge, comments)
}

fn post(repo: &Repo, forge: &FakeForge, api: &str, base: &str, head: &str) -> Output {
    repo.preview_with(
        &[
            "--base",
            base,
            "--head",
            head,
            "--post",
            api,
            "--pr",
            "7",
            "--forge-url",
            &forge.url,
            "--forge-repo",
            "acme/jobs",
        ],
        &[("JOBCD_FORGE_TOKEN", TOKEN)],
    )
}

/// Checks a GitHub request against the published description.
fn check_github(api: &Value, r: &Request) {
    let (path, method) = match (r.method.as_str(), r.route()) {
        ("GET", route) | ("POST", route) if route.ends_with("/issues/7/comments") => {
            assert_eq!(route, "/repos/acme/jobs/issues/7/comments");
            (
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                r.method.to_lowercase(),
            )
        }
        ("PATCH", route) => {
            assert!(route.starts_with("/repos/acme/jobs/issues/comments/"));
            (
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                "patch".to_string(),
            )
        }
        other => panic!("unexpected request {other:?}"),
    };
    let operation = &api["paths"][path][method.as_str()];
    assert!(operation.is_object(), "{method} {path} is documented");
    fake_forge::check_query(operation, r);
    if method != "get" {
        fake_forge::check_body(operation, &r.body);
    }
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
}

#[test]
fn github_gets_one_sticky_comment_created_once_then_edited() {
    let api = fake_forge::github_openapi();
    let repo = Repo::new();
    let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
    let head1 = repo.commit(&[("a.yaml", Some(&job("a", "v-y")))]);
    let head2 = repo.commit(&[("a.yaml", Some(&job("a", "v-z")))]);
    // 150 comments of others come first: ours is found on the second page.
    let (forge, comments) = comment_forge(Api::GitHub, 150);

    let out = post(&repo, &forge, "github", &base, &head1);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("posted the preview on #7"));
    let ours: Vec<(u64, String)> = comments.lock().unwrap()[150..].to_vec();
    assert_eq!(ours.len(), 1);
    assert_eq!(
        ours[0].1,
        stdout(&out),
        "the comment is the Markdown printed"
    );

    let writes = |forge: &FakeForge| {
        forge
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let again = post(&repo, &forge, "github", &base, &head1);
    assert!(String::from_utf8_lossy(&again.stderr).contains("up to date"));
    assert_eq!(writes(&forge), 1, "the same preview is not written again");

    let edited = post(&repo, &forge, "github", &base, &head2);
    assert!(String::from_utf8_lossy(&edited.stderr).contains("updated the preview on #7"));
    let all = comments.lock().unwrap().clone();
    assert_eq!(all.len(), 151, "edited in place, not added");
    assert!(all[150].1.contains("+        - v-z"), "{}", all[150].1);
    assert!(all[..150].iter().all(|(_, b)| b.starts_with("looks good")));
    let requests = forge.requests();
    for r in &requests {
        check_github(&api, r);
    }
    let pages: Vec<&str> = requests.iter().filter_map(|r| r.query("page")).collect();
    assert!(pages.contains(&"2"), "{pages:?}");
}

#[test]
fn gitlab_notes_and_gitea_comments_are_edited_with_their_own_calls() {
    for (api, name, header, value) in [
        (Api::GitLab, "gitlab", "private-token", TOKEN.to_string()),
        (
            Api::Gitea,
            "gitea",
            "authorization",
            format!("token {TOKEN}"),
        ),
    ] {
        let repo = Repo::new();
        let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
        let head1 = repo.commit(&[("a.yaml", Some(&job("a", "v-y")))]);
        let head2 = repo.commit(&[("a.yaml", Some(&job("a", "v-z")))]);
        let (forge, comments) = comment_forge(api, 3);
        for head in [&head1, &head2] {
            let out = post(&repo, &forge, name, &base, head);
            assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        }
        assert_eq!(comments.lock().unwrap().len(), 4, "{name}");
        let methods: Vec<String> = forge
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| r.method.clone())
            .collect();
        let edit = if api == Api::GitLab { "PUT" } else { "PATCH" };
        assert_eq!(methods, ["POST", edit], "{name}");
        for r in forge.requests() {
            assert_eq!(r.header(header), Some(value.as_str()), "{name}");
        }
    }
}

/// The example workflow's text.
fn workflow() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/github-action/.github/workflows/jobcd-preview.yml"),
    )
    .unwrap()
}

#[test]
fn the_github_action_example_previews_the_merge_and_stays_green_on_forks() {
    // The Preview step's script, as YAML reads it.
    let script = run_commands(&workflow())
        .into_iter()
        .find(|c| c.contains("jobcd preview"))
        .expect("a step runs jobcd preview");
    assert!(
        !script.contains("${{"),
        "expressions go through env: {script}"
    );
    // A pull request branched from `base`; main moved on (it changed `a`)
    // before GitHub made the merge the workflow checks out.
    let repo = Repo::new();
    let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
    repo.git(&["checkout", "-q", "-b", "pr"]);
    let head = repo.commit(&[(
        "n.yaml",
        Some(&cronjob("nightly", "  schedule: \"0 2 * * *\"\n")),
    )]);
    repo.git(&["checkout", "-q", "main"]);
    repo.commit(&[("a.yaml", Some(&job("a", "v-y")))]);
    repo.git(&[
        "-c",
        "user.name=GitHub",
        "-c",
        "user.email=noreply@github.com",
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #7",
        &head,
    ]);
    assert_ne!(repo.git(&["rev-parse", "HEAD^1"]).trim(), base);

    let run = |head_repository: &str, forge_url: &str| {
        let summary = repo
            .dir
            .path()
            .join(format!("summary-{head_repository}.md").replace('/', "-"));
        let bin = Path::new(env!("CARGO_BIN_EXE_jobcd")).parent().unwrap();
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(repo.path())
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .env("HOME", repo.dir.path())
            .env("MANIFESTS", "jobs")
            .env("JOBCD_STATE_DIR", repo.dir.path().join("state"))
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("JOBCD_FORGE_TOKEN", TOKEN)
            .env("PR_NUMBER", "7")
            .env("HEAD_REPOSITORY", head_repository)
            .env("REPOSITORY", "acme/jobs")
            .env("API_URL", forge_url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{head_repository}: {out:?}");
        std::fs::read_to_string(&summary).unwrap()
    };

    // The same repository: posted, and written to the summary.
    let (forge, comments) = comment_forge(Api::GitHub, 0);
    let summary = run("acme/jobs", &forge.url);
    let posted = comments.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(summary, posted[0].1);
    assert!(
        summary.contains("`0 2 * * *` At 02:00 every day"),
        "{summary}"
    );
    // What merging does: main's own change to `a` is not the pull
    // request's, so the merge runs no Job.
    assert!(!summary.contains("default/a"), "{summary}");

    // A fork: nothing is posted (its token could not), the check is green
    // and the preview is in the summary.
    let (fork_forge, fork_comments) = comment_forge(Api::GitHub, 0);
    let summary = run("someone/jobs", &fork_forge.url);
    assert!(fork_comments.lock().unwrap().is_empty());
    assert!(fork_forge.requests().is_empty(), "no request to the forge");
    assert!(
        summary.contains("`0 2 * * *` At 02:00 every day"),
        "{summary}"
    );
}

#[test]
fn the_github_action_example_is_pinned_cached_and_bounded() {
    let workflow = workflow();
    let uses: Vec<&str> = workflow
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- uses: ")
                .or(l.trim().strip_prefix("uses: "))
        })
        .collect();
    assert!(!uses.is_empty());
    for action in uses {
        let pin = action
            .split('@')
            .nth(1)
            .and_then(|p| p.split_whitespace().next());
        assert!(
            pin.is_some_and(|p| p.len() == 40 && p.chars().all(|c| c.is_ascii_hexdigit())),
            "{action} is pinned by commit"
        );
    }
    let install = run_commands(&workflow)
        .into_iter()
        .find(|c| c.contains("cargo install"))
        .expect("jobcd is installed");
    assert!(
        install.contains("--rev") || install.contains("--tag"),
        "{install}"
    );
    for needed in [
        "concurrency:",
        "cancel-in-progress: true",
        "timeout-minutes:",
        "paths:",
        "key: jobcd-",
    ] {
        assert!(workflow.contains(needed), "{needed}");
    }
}

/// The `run:` scalars of a workflow, as a YAML parser reads them.
fn run_commands(yaml: &str) -> Vec<String> {
    use saphyr_parser::{Event, Parser};
    let mut out = Vec::new();
    let mut after_run_key = false;
    for event in Parser::new_from_str(yaml) {
        let (event, _) = event.expect("the workflow is valid YAML");
        match event {
            Event::Scalar(value, ..) => {
                if after_run_key {
                    out.push(value.to_string());
                    after_run_key = false;
                } else {
                    after_run_key = value == "run";
                }
            }
            _ => after_run_key = false,
        }
    }
    out
}

#[test]
fn the_preview_is_of_the_merge_unless_asked_for_the_two_commits_as_they_are() {
    // `pr` branched from `base`; then main changed Job `a` on its own.
    let repo = Repo::new();
    let base = repo.commit(&[("a.yaml", Some(&job("a", "v-x")))]);
    repo.git(&["checkout", "-q", "-b", "pr"]);
    repo.commit(&[(
        "n.yaml",
        Some(&cronjob("nightly", "  schedule: \"0 2 * * *\"\n")),
    )]);
    repo.git(&["checkout", "-q", "main"]);
    let moved = repo.commit(&[("a.yaml", Some(&job("a", "v-y")))]);
    assert_ne!(moved, base);

    // What merging does: the new CronJob, and no Job run (main's change to
    // `a` is main's, not the pull request's).
    let out = repo.preview(&["--base", "main", "--head", "pr"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text.contains("`0 2 * * *` At 02:00 every day"), "{text}");
    assert!(!text.contains("`default/a`"), "{text}");

    // The two tips as they are: the head lacks main's change, so `a`
    // would run as the head has it.
    let out = repo.preview(&["--base", "main", "--head", "pr", "--as-is"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text.contains("| `default/a` | ▶️ **runs** |"), "{text}");

    // A merge that conflicts is said so, with the file, and what to do.
    repo.git(&["checkout", "-q", "pr"]);
    repo.commit(&[("a.yaml", Some(&job("a", "v-z")))]);
    repo.git(&["checkout", "-q", "main"]);
    let out = repo.preview(&["--base", "main", "--head", "pr"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr.contains("conflicts in jobs/a.yaml; merge or rebase the branch onto its base first"),
        "{stderr}"
    );
}
