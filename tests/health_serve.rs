//! CronJob health under `jobcd serve` on the local target, in real time
//! and small numbers: a `* * * * *` CronJob whose slot passed while jobcd
//! was stopped is told missed — in the log, on its commit, in the metrics
//! (checked by promtool), to a real Alertmanager (which tells its own
//! webhook, firing and then resolved), to an HMAC-signed webhook (checked
//! with openssl) and to a Slack-format webhook — and its recovery when the
//! next slot runs; a run that outlasts its next slot is told overrunning
//! and stale, and both clear when it ends.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::alertmanager::Alertmanager;
use support::fake_forge::{FakeForge, Reply, Request};
use support::http::{promtool, request};
use support::jobs_repo::JobsRepo;
use support::served::Served;

const KEY: &str = "health-hook-key";

fn cronjob(name: &str, extra_spec: &str, metadata: &str, command: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\n{metadata}spec:\n  schedule: '* * * * *'\n  timeZone: UTC\n  startingDeadlineSeconds: 10\n{extra_spec}  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: x, command: [sh, -c, '{command}']}}]\n"
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn second_of_minute() -> u64 {
    unix_now() % 60
}

/// Sleeps until `after` seconds past the next minute boundary.
fn past_next_boundary(after: u64) {
    let now = unix_now();
    let target = (now / 60 + 1) * 60 + after;
    std::thread::sleep(Duration::from_secs(target - now));
}

/// Waits until the clock is `from..=to` seconds into a minute.
fn at_seconds(from: u64, to: u64) {
    while !(from..=to).contains(&second_of_minute()) {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for a request to `capture` that `want` accepts; returns it.
fn wait_request(capture: &FakeForge, what: &str, want: impl Fn(&Request) -> bool) -> Request {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        if let Some(r) = capture.requests().into_iter().find(|r| want(r)) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} among {:#?}",
            capture.requests()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for `GET /metrics` to hold `needle`; returns the exposition.
fn wait_metric(served: &Served, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let (_, text) = request("GET", &format!("{}/metrics", served.base), &[], b"");
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle} in\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// HMAC-SHA256 of `body` under `key`, as `openssl dgst` computes it.
fn openssl_hmac(key: &str, body: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key, "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn write_config(root: &Path, repo: &Path, notifications: &str) -> PathBuf {
    let config = root.join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nsources:\n  - name: jobs\n    repo: {}\n    path: jobs\n    interval: 0s\nhealth:\n  interval: 1s\nnotifications:\n{notifications}",
            repo.display()
        ),
    )
    .unwrap();
    config
}

/// Slack's incoming webhooks take `text` (the message, mrkdwn) and
/// optionally `blocks`, `attachments`, `thread_ts`, `mrkdwn`
/// (api.slack.com/messaging/webhooks, reference/messaging/payload).
fn check_slack_payload(body: &Value) {
    let body = body.as_object().expect("a JSON object");
    let documented = ["text", "blocks", "attachments", "thread_ts", "mrkdwn"];
    for key in body.keys() {
        assert!(
            documented.contains(&key.as_str()),
            "{key} is not in Slack's payload"
        );
    }
    let text = body["text"].as_str().expect("text is a string");
    assert!(!text.is_empty() && text.len() <= 40_000, "{text}");
}

#[test]
fn a_slot_missed_while_jobcd_was_stopped_is_told_everywhere_and_so_is_the_recovery() {
    let capture = FakeForge::start(|_| Reply::json(200, &json!({})));
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("am")).unwrap();
    let am = Alertmanager::start(&root.path().join("am"), &format!("{}/am", capture.url));
    let repo = JobsRepo::new();
    let sha = repo.commit(&[("tick.yaml", Some(&cronjob("tick", "", "", "true")))]);
    let config = write_config(
        root.path(),
        &repo.path(),
        &format!(
            "  - {{name: am, kind: alertmanager, url: '{}', resend: 5s}}\n  - {{name: hook, kind: webhook, url: '{}/hook', secretEnv: HOOK_KEY, events: [missed, recovered]}}\n  - {{name: chat, kind: slack, urlEnv: SLACK_URL, events: [missed]}}\n",
            am.url, capture.url
        ),
    );
    let slack = format!("{}/slack", capture.url);
    let env = [("HOOK_KEY", KEY), ("SLACK_URL", slack.as_str())];

    // Synced early in a minute, then stopped across the next boundary and
    // past the slot's 10 s deadline: no Job is made for it.
    at_seconds(2, 30);
    let minute = unix_now() / 60;
    let mut served = Served::start(root.path(), &config, &env);
    served.wait_ready();
    served.signal(nix::sys::signal::Signal::SIGTERM);
    served.wait_exit();
    assert_eq!(
        unix_now() / 60,
        minute,
        "stopped within the minute it started"
    );
    past_next_boundary(15);
    let served = Served::start(root.path(), &config, &env);
    served.wait_log("CronJob default/tick: missed the run of ");
    assert!(
        served.log().contains("UTC: no Job was created"),
        "{}",
        served.log()
    );

    // The commit the CronJob came from says so.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !repo.notes(&sha).contains("missed the run of") {
        assert!(Instant::now() < deadline, "notes: {}", repo.notes(&sha));
        std::thread::sleep(Duration::from_millis(200));
    }
    let notes = repo.notes(&sha);
    let line = notes
        .lines()
        .find(|l| l.contains("jobcd/cronjob/default/tick"))
        .unwrap_or_default();
    assert!(line.contains("failure"), "{notes}");

    // The signed webhook, verified with a plain HMAC tool.
    let hook = wait_request(&capture, "missed webhook", |r| r.route() == "/hook");
    let signature = hook.header("X-Jobcd-Signature-256").expect("signed");
    assert_eq!(
        signature,
        format!("sha256={}", openssl_hmac(KEY, &hook.raw))
    );
    assert_eq!(hook.header("X-Jobcd-Event"), Some("missed"));
    assert_eq!(hook.body["state"], "firing");
    assert_eq!(hook.body["name"], "tick");
    assert_eq!(hook.body["source"], "jobs");
    assert_eq!(hook.body["revision"], sha);

    // Slack's payload.
    let chat = wait_request(&capture, "Slack message", |r| r.route() == "/slack");
    check_slack_payload(&chat.body);
    assert!(
        chat.body["text"]
            .as_str()
            .unwrap()
            .contains("*default/tick*")
    );

    // Alertmanager took the alert and told its own receiver.
    let fired = wait_request(&capture, "Alertmanager's firing notification", |r| {
        r.route() == "/am" && r.body["status"] == "firing"
    });
    let alert = &fired.body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "JobcdCronJobMissed");
    assert_eq!(alert["labels"]["name"], "tick");
    assert_eq!(alert["labels"]["namespace"], "default");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("missed the run of")
    );

    // The metrics, which promtool accepts.
    let labels = "namespace=\"default\",name=\"tick\",source=\"jobs\"";
    let text = wait_metric(&served, &format!("jobcd_cronjob_missed{{{labels}}} 1"));
    assert!(
        text.contains(&format!("jobcd_cronjob_missed_runs_total{{{labels}}} 1")),
        "{text}"
    );
    assert!(
        text.contains("jobcd_cronjob_next_schedule_timestamp_seconds{"),
        "{text}"
    );
    let (code, said) = promtool(&text);
    assert_eq!(code, Some(0), "promtool: {said}\n{text}");

    // The next slot runs: the trouble clears everywhere.
    served.wait_log("CronJob default/tick: runs again");
    let resolved = wait_request(&capture, "Alertmanager's resolved notification", |r| {
        r.route() == "/am" && r.body["status"] == "resolved"
    });
    assert_eq!(
        resolved.body["alerts"][0]["labels"]["alertname"],
        "JobcdCronJobMissed"
    );
    let recovered = wait_request(&capture, "recovery webhook", |r| {
        r.route() == "/hook" && r.body["state"] == "resolved"
    });
    assert_eq!(recovered.body["event"], "missed");
    let text = wait_metric(&served, &format!("jobcd_cronjob_missed{{{labels}}} 0"));
    assert!(
        text.contains(&format!(
            "jobcd_cronjob_start_delay_seconds_count{{{labels}}} 1"
        )),
        "{text}"
    );
    assert!(
        capture
            .requests()
            .iter()
            .filter(|r| r.route() == "/slack")
            .count()
            == 1,
        "the Slack receiver wants no recoveries"
    );
}

#[test]
fn a_run_that_outlasts_its_next_slot_is_told_overrunning_and_stale_until_it_ends() {
    let capture = FakeForge::start(|_| Reply::json(200, &json!({})));
    let root = tempfile::tempdir().unwrap();
    let repo = JobsRepo::new();
    repo.commit(&[(
        "slow.yaml",
        Some(&cronjob(
            "slow",
            "  concurrencyPolicy: Forbid\n",
            "  annotations: {jobcd.dev/max-age: 65s}\n",
            "sleep 70",
        )),
    )]);
    let config = write_config(
        root.path(),
        &repo.path(),
        &format!(
            "  - {{name: hook, kind: webhook, url: '{}/hook'}}\n",
            capture.url
        ),
    );
    at_seconds(2, 40);
    let served = Served::start(root.path(), &config, &[]);
    served.wait_ready();
    // Its first run starts at the next boundary and sleeps past the one
    // after: Forbid skips that slot.
    served.wait_log("Job default/slow-");
    served.wait_log("CronJob default/slow: the run of ");
    let labels = "namespace=\"default\",name=\"slow\",source=\"jobs\"";
    let text = wait_metric(&served, &format!("jobcd_cronjob_overrunning{{{labels}}} 1"));
    assert!(
        text.contains(&format!("jobcd_cronjob_active_runs{{{labels}}} 1")),
        "{text}"
    );
    served.wait_log("CronJob default/slow: stale: no run succeeded in the 1m5s allowed");
    served.wait_log("CronJob default/slow: missed the run of ");
    let overrun = wait_request(&capture, "overrunning webhook", |r| {
        r.body["event"] == "overrunning" && r.body["state"] == "firing"
    });
    assert!(
        overrun.header("X-Jobcd-Signature-256").is_none(),
        "no key, no signature"
    );
    // It ends: no longer overrunning, no longer stale.
    served.wait_log("CronJob default/slow: no run is overrunning now");
    served.wait_log("CronJob default/slow: no longer stale: a run succeeded");
    wait_request(&capture, "stale's recovery", |r| {
        r.body["event"] == "stale" && r.body["state"] == "resolved"
    });
    let text = wait_metric(&served, &format!("jobcd_cronjob_overrunning{{{labels}}} 0"));
    assert!(
        text.contains(&format!("jobcd_cronjob_overruns_total{{{labels}}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("jobcd_cronjob_went_stale_total{{{labels}}} 1")),
        "{text}"
    );
}
