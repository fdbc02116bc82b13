//! jobcd against a real forge: Gitea, built from its Go module
//! (scripts/gitea-binary) and started per test on loopback. The repository
//! is read from Gitea over HTTP with basic auth, statuses and sticky
//! preview comments go through its API with a token scoped to what jobcd
//! needs, and `jobcd serve` is triggered by the push webhooks Gitea itself
//! signs and delivers (and redelivers).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::gitea::{Gitea, USER};
use support::http::request;
use support::jobs_repo::JobsRepo;
use support::served::Served;

fn job(name: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, '{script}']}}]\n"
    )
}

fn cronjob(name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"{schedule}\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [\"true\"]}}]\n"
    )
}

/// A file holding `text`, under `dir`.
fn secret_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// jobcd with HOME and state under `dir`, the jobcd token in the
/// environment; the token must not appear in anything it prints.
fn jobcd(gitea: &Gitea, dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", dir)
        .env("JOBCD_FORGE_TOKEN", &gitea.token)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(&gitea.token), "the token leaked: {all}");
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every status Gitea holds for `sha`, oldest first: (context, state, description).
fn statuses(gitea: &Gitea, repo: &str, sha: &str) -> Vec<(String, String, String)> {
    let mut all: Vec<Value> = Vec::new();
    for page in 1.. {
        let listed = gitea.ok(
            "GET",
            &format!("/repos/{USER}/{repo}/statuses/{sha}?limit=50&page={page}"),
            None,
        );
        let listed = listed.as_array().cloned().unwrap_or_default();
        if listed.is_empty() {
            break;
        }
        all.extend(listed);
    }
    all.sort_by_key(|s| s["id"].as_u64());
    all.iter()
        .map(|s| {
            (
                s["context"].as_str().unwrap_or_default().to_owned(),
                s["status"].as_str().unwrap_or_default().to_owned(),
                s["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn sync_over_http_with_basic_auth_reports_every_context_to_gitea_in_order() {
    let gitea = Gitea::start();
    gitea.create_repo("jobs");
    let repo = JobsRepo::new();
    let sha = repo.commit(&[
        ("ok.yaml", Some(&job("ok", "true"))),
        ("bad.yaml", Some(&job("bad", "exit 3"))),
    ]);
    repo.git(&["push", "-q", &gitea.push_url("jobs"), "main"]);
    let home = tempfile::tempdir().unwrap();
    // The same scoped token reads the repository (as the basic-auth
    // password) and posts the statuses; the project comes from the URL.
    let password = secret_file(home.path(), "password", &gitea.token);
    let url = gitea.clone_url("jobs");
    let sync = || {
        jobcd(
            &gitea,
            home.path(),
            &[
                "sync",
                "--repo",
                &url,
                "--path",
                "jobs",
                "--git-username",
                USER,
                "--git-password-file",
                password.to_str().unwrap(),
                "--allow-cleartext-password",
                "--report",
                "gitea",
                "--forge-url",
                &gitea.api(),
            ],
        )
    };
    let out = sync();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed run fails the sync: {}",
        text(&out)
    );

    let seen = statuses(&gitea, "jobs", &sha);
    let of = |context: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(c, _, _)| c == context)
            .map(|(_, s, _)| s.as_str())
            .collect()
    };
    assert_eq!(of("jobcd/sync"), ["pending", "success"], "{seen:?}");
    assert_eq!(
        of("jobcd/job/default/ok"),
        ["pending", "success"],
        "{seen:?}"
    );
    assert_eq!(
        of("jobcd/job/default/bad"),
        ["pending", "failure"],
        "{seen:?}"
    );
    let bad = seen
        .iter()
        .rfind(|(c, _, _)| c == "jobcd/job/default/bad")
        .unwrap();
    assert_eq!(bad.2, "BackoffLimitExceeded after 1 attempt");

    // Gitea's combined status: the worst of each context's latest.
    let combined = gitea.ok(
        "GET",
        &format!("/repos/{USER}/jobs/commits/{sha}/status"),
        None,
    );
    assert_eq!(combined["state"], "failure", "{combined}");
    assert_eq!(combined["total_count"], 3, "{combined}");

    // Nothing changed: a second sync posts nothing new.
    let again = sync();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        statuses(&gitea, "jobs", &sha).len(),
        seen.len(),
        "no duplicates"
    );
}

/// A repository on Gitea with `main` holding `files` and a pull request
/// from `pr-1`, which changes the schedule; the local clone and the PR's
/// number.
fn pull_request(gitea: &Gitea, name: &str) -> (JobsRepo, u64) {
    gitea.create_repo(name);
    let repo = JobsRepo::new();
    repo.commit(&[("nightly.yaml", Some(&cronjob("nightly", "0 3 * * *")))]);
    repo.git(&["push", "-q", &gitea.push_url(name), "main"]);
    repo.git(&["checkout", "-q", "-b", "pr-1"]);
    repo.commit(&[("nightly.yaml", Some(&cronjob("nightly", "30 4 * * *")))]);
    repo.git(&["push", "-q", &gitea.push_url(name), "pr-1"]);
    // Gitea records pushed branches in the background.
    gitea.wait_until("the branch is known", || {
        gitea
            .call("GET", &format!("/repos/{USER}/{name}/branches/pr-1"), None)
            .0
            == 200
    });
    let pr = gitea.ok(
        "POST",
        &format!("/repos/{USER}/{name}/pulls"),
        Some(json!({"head": "pr-1", "base": "main", "title": "Move the nightly run"})),
    );
    (repo, pr["number"].as_u64().unwrap())
}

/// Adds `n` comments from reviewers to issue/PR `number`.
fn chatter(gitea: &Gitea, repo: &str, number: u64, n: usize) {
    for i in 0..n {
        gitea.ok(
            "POST",
            &format!("/repos/{USER}/{repo}/issues/{number}/comments"),
            Some(json!({"body": format!("review remark {i}")})),
        );
    }
}

/// The PR's comments, oldest first: (id, body).
fn comments(gitea: &Gitea, repo: &str, number: u64) -> Vec<(u64, String)> {
    let listed = gitea.ok(
        "GET",
        &format!("/repos/{USER}/{repo}/issues/{number}/comments"),
        None,
    );
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn preview_keeps_one_sticky_comment_on_a_gitea_pull_request_with_many_comments() {
    let gitea = Gitea::start();
    let (repo, number) = pull_request(&gitea, "jobs");
    let home = tempfile::tempdir().unwrap();
    let number_text = number.to_string();
    let post = |window: &str| {
        jobcd(
            &gitea,
            home.path(),
            &[
                "preview",
                "--repo",
                repo.path().to_str().unwrap(),
                "--path",
                "jobs",
                "--base",
                "main",
                "--head",
                "pr-1",
                "--now",
                "2026-11-27T08:00:00Z",
                "--window",
                window,
                "--post",
                "gitea",
                "--pr",
                &number_text,
                "--forge-url",
                &gitea.api(),
                "--forge-repo",
                &format!("{USER}/jobs"),
            ],
        )
    };
    // More remarks than one page of any forge's API holds (Gitea's 50,
    // GitHub's 100), before and after the preview's comment.
    chatter(&gitea, "jobs", number, 110);
    let listings = || {
        gitea
            .requests()
            .iter()
            .filter(|(method, path, _)| {
                method == "GET" && path.contains(&format!("/issues/{number}/comments"))
            })
            .count()
    };
    let first = post("7d");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    // Gitea does not page these: it answers every page with all 110
    // remarks. Reading stops when a page brings nothing new, not after 50
    // identical pages.
    assert_eq!(listings(), 2);
    chatter(&gitea, "jobs", number, 10);
    let ours = |all: &[(u64, String)]| -> Vec<(u64, String)> {
        all.iter()
            .filter(|(_, body)| body.contains("nightly"))
            .cloned()
            .collect()
    };
    let before = ours(&comments(&gitea, "jobs", number));
    assert_eq!(before.len(), 1, "one preview comment: {before:?}");

    // Another window changes the preview: the same comment is edited.
    let edited = post("14d");
    assert_eq!(edited.status.code(), Some(0), "{}", text(&edited));
    let all = comments(&gitea, "jobs", number);
    assert_eq!(all.len(), 121, "no comment added");
    let after = ours(&all);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, before[0].0, "the same comment, edited");
    assert_ne!(after[0].1, before[0].1, "with the new preview");

    // The same preview again: nothing to edit.
    let same = post("14d");
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert_eq!(comments(&gitea, "jobs", number), all);
}

/// A webhook on the repository delivering pushes to `url`, signed with
/// `secret`; its id.
fn add_hook(gitea: &Gitea, repo: &str, url: &str, secret: &str) -> i64 {
    let hook = gitea.ok(
        "POST",
        &format!("/repos/{USER}/{repo}/hooks"),
        Some(json!({
            "type": "gitea",
            "config": {"url": url, "content_type": "json", "secret": secret},
            "events": ["push"],
            "branch_filter": "*",
            "active": true,
        })),
    );
    hook["id"].as_i64().unwrap()
}

/// One delivery in Gitea's log of a hook.
#[derive(Debug, Clone)]
struct Delivery {
    uuid: String,
    succeeded: bool,
    status: u64,
    answer: String,
    after: String,
}

/// Every finished delivery of hook `id`, oldest first, from Gitea's own
/// database (what its delivery log page shows).
fn deliveries(gitea: &Gitea, id: i64) -> Vec<Delivery> {
    let db = rusqlite::Connection::open_with_flags(
        gitea.dir.path().join("data/gitea.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let mut query = db
        .prepare(
            "SELECT uuid, is_succeed, response_content, payload_content FROM hook_task
             WHERE hook_id = ?1 AND is_delivered ORDER BY id",
        )
        .unwrap();
    query
        .query_map([id], |row| {
            let response: Value =
                serde_json::from_str(&row.get::<_, String>(2)?).unwrap_or(Value::Null);
            let payload: Value =
                serde_json::from_str(&row.get::<_, String>(3)?).unwrap_or(Value::Null);
            Ok(Delivery {
                uuid: row.get(0)?,
                succeeded: row.get(1)?,
                status: response["status"].as_u64().unwrap_or_default(),
                answer: response["body"].as_str().unwrap_or_default().to_owned(),
                after: payload["after"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Signs in to Gitea's web UI as the admin: the session's cookies.
fn sign_in(gitea: &Gitea) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent
        .post(&format!("{}/user/login", gitea.base()))
        .send_form([("user_name", USER), ("password", support::gitea::PASSWORD)])
        .unwrap();
    assert_eq!(response.status().as_u16(), 303, "signed in");
    // Signing in renews the session: of a cookie set twice, the last counts.
    let mut cookies: Vec<(String, String)> = Vec::new();
    for header in response.headers().get_all("set-cookie") {
        let Some((name, value)) = header
            .to_str()
            .ok()
            .and_then(|c| c.split(';').next())
            .and_then(|c| c.split_once('='))
        else {
            continue;
        };
        cookies.retain(|(n, _)| n != name);
        cookies.push((name.to_owned(), value.to_owned()));
    }
    cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Redelivers a delivery as the "Redeliver" button of Gitea's delivery
/// log does.
fn redeliver(gitea: &Gitea, repo: &str, hook: i64, uuid: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent
        .post(&format!(
            "{}/{USER}/{repo}/settings/hooks/{hook}/replay/{uuid}",
            gitea.base()
        ))
        .header("Cookie", &sign_in(gitea))
        .send_empty()
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        (response.status().as_u16(), location.as_str()),
        (
            303,
            format!("/{USER}/{repo}/settings/hooks/{hook}").as_str()
        ),
        "redelivered"
    );
}

#[test]
fn serve_applies_pushes_gitea_signs_and_refuses_the_rest() {
    let gitea = Gitea::start();
    gitea.create_repo("jobs");
    let repo = JobsRepo::new();
    let first = repo.commit(&[("first.yaml", Some(&job("first", "true")))]);
    repo.git(&["push", "-q", &gitea.push_url("jobs"), "main"]);
    // Gitea handles a push's events in the background: once the branch
    // shows the commit, the hooks added below will not see this push.
    gitea.wait_until("the push is handled", || {
        gitea
            .call("GET", &format!("/repos/{USER}/jobs/branches/main"), None)
            .1["commit"]["id"]
            == first.as_str()
    });

    let root = tempfile::tempdir().unwrap();
    let password = secret_file(root.path(), "password", &gitea.token);
    let secret = secret_file(root.path(), "hook-secret", "gitea-hook-s3cret");
    let config = root.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0
target:
  kind: local
reporters:
  notes: true
  forge:
    kind: gitea
    url: {api}
    project: {USER}/jobs
    tokenEnv: JOBCD_FORGE_TOKEN
sources:
  - name: jobs
    repo: {url}
    path: jobs
    interval: 1h
    username: {USER}
    passwordFile: {password}
    allowCleartextPassword: true
    webhookSecretFile: {secret}
",
            api = gitea.api(),
            url = gitea.clone_url("jobs"),
            password = password.display(),
            secret = secret.display(),
        ),
    )
    .unwrap();
    let mut served = Served::start(
        root.path(),
        &config,
        &[("JOBCD_FORGE_TOKEN", gitea.token.as_str())],
    );
    served.wait_ready();
    served.wait_log("Job default/first: Complete");
    // The dashboard lists the commit's statuses and links to its page on
    // Gitea.
    let (code, commit_page) = request(
        "GET",
        &format!("{}/ui/commits/jobs/{first}", served.base),
        &[],
        b"",
    );
    assert_eq!(code, 200, "{commit_page}");
    let web = gitea.api().trim_end_matches("/api/v1").to_string();
    assert!(
        commit_page.contains(&format!("href=\"{web}/{USER}/jobs/commit/{first}\"")),
        "{commit_page}"
    );
    assert!(
        commit_page.contains("<code>jobcd/sync</code>"),
        "{commit_page}"
    );
    let hooks_url = format!("{}/hooks/gitea", served.base);
    let good = add_hook(&gitea, "jobs", &hooks_url, "gitea-hook-s3cret");
    let forged = add_hook(&gitea, "jobs", &hooks_url, "not-the-secret");
    let webhook_reconciles = |log: &str| log.matches("reason=Webhook").count();

    // A push to main: Gitea signs it, serve applies the new commit and
    // reports its run on Gitea.
    let second = repo.commit(&[("second.yaml", Some(&job("second", "true")))]);
    repo.git(&["push", "-q", &gitea.push_url("jobs"), "main"]);
    served.wait_log("Job default/second: Complete");
    assert!(served.log().contains("reason=Webhook"), "{}", served.log());
    gitea.wait_until("both deliveries", || {
        deliveries(&gitea, good).len() == 1 && deliveries(&gitea, forged).len() == 1
    });
    let delivered = deliveries(&gitea, good).remove(0);
    assert!(delivered.succeeded, "{delivered:?}");
    assert_eq!(
        (delivered.status, delivered.answer.as_str()),
        (202, "triggered: jobs\n")
    );
    assert_eq!(delivered.after, second);
    // The delivery signed with another secret is refused, and Gitea's log
    // shows it failed.
    let refused = deliveries(&gitea, forged).remove(0);
    assert!(!refused.succeeded, "{refused:?}");
    assert_eq!(refused.status, 401, "{refused:?}");
    gitea.wait_until("the run's status on Gitea", || {
        statuses(&gitea, "jobs", &second)
            .iter()
            .any(|(c, s, _)| c == "jobcd/job/default/second" && s == "success")
    });

    // A push to another branch triggers nothing.
    let before = webhook_reconciles(&served.log());
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit(&[("third.yaml", Some(&job("third", "true")))]);
    repo.git(&["push", "-q", &gitea.push_url("jobs"), "feature"]);
    gitea.wait_until("the feature push's delivery", || {
        deliveries(&gitea, good).len() == 2
    });
    let other = deliveries(&gitea, good).remove(1);
    assert_eq!(
        (other.status, other.answer.as_str()),
        (202, "no source follows this repository and branch\n")
    );
    assert_eq!(webhook_reconciles(&served.log()), before);

    // Gitea redelivers the main push, as an attacker replaying a captured
    // delivery would: it was acted on already, so it triggers nothing (a
    // redelivery of one that failed is acted on; see serve_http).
    redeliver(&gitea, "jobs", good, &delivered.uuid);
    gitea.wait_until("the redelivery", || deliveries(&gitea, good).len() == 3);
    let again = deliveries(&gitea, good).remove(2);
    assert_eq!(again.after, second);
    assert_eq!(again.status, 200, "{again:?}");
    assert!(again.answer.contains("was already received"), "{again:?}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        webhook_reconciles(&served.log()),
        before,
        "{}",
        served.log()
    );
    served.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(served.wait_exit().success(), "{}", served.log());
    let runs = jobcd(&gitea, root.path(), &["local", "runs", "second"]);
    let runs = String::from_utf8_lossy(&runs.stdout).into_owned();
    assert_eq!(runs.matches("default/second uid").count(), 1, "{runs}");
}
