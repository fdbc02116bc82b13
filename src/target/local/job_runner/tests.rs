//! Jobs run to their end on real processes, checked against the Job
//! controller's rules and against what the store recorded.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::*;
use crate::target::local::clock::SystemClock;
use crate::target::local::job_controller::ConditionType;
use crate::target::local::process::Exit;

fn runtime(dir: &std::path::Path) -> Runtime {
    Runtime {
        store: Arc::new(Mutex::new(Store::open(dir).unwrap())),
        pods_dir: dir.join("pods"),
        scratch_dir: dir.join("scratch"),
        isolation: crate::target::local::isolation::Isolation::Unavailable("a test".into()),
        clock: Arc::new(SystemClock),
        log_cap: 1 << 20,
        backoff_base: Duration::from_millis(10),
        crash_backoff: Duration::from_millis(10),
        supervisor: crate::target::local::supervisor::Command::this_binary(),
        node: crate::target::local::downward::Node::here(dir),
        secrets: crate::target::local::secrets::Store::new(dir),
        engine: None,
        allowed: crate::target::local::engine::Allowed::default(),
    }
}

fn job(spec: serde_json::Value) -> Job {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "t"}, "spec": spec
    }))
    .unwrap()
}

fn template(restart: &str, script: &str) -> serde_json::Value {
    serde_json::json!({"spec": {"restartPolicy": restart, "containers": [
        {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
    ]}})
}

fn record(uid: &str) -> JobRecord {
    JobRecord::new(uid, "default", "t", "h", "{}", Timestamp::now())
}

async fn run_job(rt: &Runtime, job: &Job) -> (Status, Vec<PodRecord>) {
    let record = record("uid-1");
    let inserted = record.clone();
    rt.store.lock().unwrap().insert_job(&inserted).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), run(rt, record, job, None))
        .await
        .expect("the Job ends")
        .unwrap();
    let pods = rt.store.lock().unwrap().pods_of("uid-1").unwrap();
    (status, pods)
}

fn terminal(status: &Status) -> Option<(ConditionType, String)> {
    status.terminal().map(|c| (c.kind, c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_two_runs_three_attempts_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (status, pods) = run_job(
        &rt,
        &job(serde_json::json!({"backoffLimit": 2, "template": template("Never", "exit 1")})),
    )
    .await;
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p.phase == Phase::Failed && p.exits == [("main".to_string(), Exit::Code(1))])
    );
    assert_eq!(
        terminal(&status),
        Some((ConditionType::Failed, "BackoffLimitExceeded".into()))
    );
    let stored = rt.store.lock().unwrap().live_jobs().unwrap();
    assert_eq!(stored[0].status, status, "the final status is saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_five_parallelism_two_never_runs_more_than_two() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (status, pods) = run_job(
        &rt,
        &job(serde_json::json!({"completions": 5, "parallelism": 2, "template": template("Never", "sleep 0.2")})),
    )
    .await;
    assert_eq!(status.succeeded, 5);
    assert_eq!(pods.len(), 5);
    assert_eq!(
        terminal(&status),
        Some((ConditionType::Complete, "CompletionsReached".into()))
    );
    // At no pod's start were more than two pods running.
    for p in &pods {
        let start = p.started_at.unwrap();
        let overlapping = pods
            .iter()
            .filter(|q| q.started_at.unwrap() <= start && q.finished_at.unwrap() > start)
            .count();
        assert!(overlapping <= 2, "{overlapping} pods ran at once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_pods_see_their_completion_index() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (status, pods) = run_job(
        &rt,
        &job(
            serde_json::json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "template": template("Never", "echo index=$JOB_COMPLETION_INDEX host=$HOSTNAME")}),
        ),
    )
    .await;
    assert_eq!(
        status.completed_indexes.iter().copied().collect::<Vec<_>>(),
        [0, 1, 2]
    );
    for p in &pods {
        let log =
            std::fs::read_to_string(std::path::Path::new(&p.log_dir).join("main.log")).unwrap();
        let index = p.completion_index.unwrap();
        assert_eq!(log, format!("index={index} host={}\n", p.name));
        assert!(p.name.starts_with(&format!("t-{index}-")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_stops_running_pods() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let started = std::time::Instant::now();
    let (status, pods) = run_job(
        &rt,
        &job(serde_json::json!({"activeDeadlineSeconds": 1, "template": template("Never", "exec sleep 60")})),
    )
    .await;
    assert_eq!(
        terminal(&status),
        Some((ConditionType::Failed, "DeadlineExceeded".into()))
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(pods[0].reason.as_deref(), Some("Deleted"));
    assert_eq!(status.failed, 0, "a stopped pod is not a failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_in_place_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (status, pods) = run_job(
        &rt,
        &job(serde_json::json!({"backoffLimit": 6,
            "template": template("OnFailure", "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 2 ]")})),
    )
    .await;
    assert_eq!(
        terminal(&status),
        Some((ConditionType::Complete, "CompletionsReached".into()))
    );
    assert_eq!(pods.len(), 1, "restarted in place, not replaced");
    assert_eq!(pods[0].restarts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_ignore_then_fail_job() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    // First attempt exits 42 (ignored), the second 3 (fails the Job).
    let marker = dir.path().join("marker");
    let script = format!(
        "if [ -e {0} ]; then exit 3; fi; touch {0}; exit 42",
        marker.display()
    );
    let (status, pods) = run_job(
        &rt,
        &job(
            serde_json::json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3]}}
        ]}, "template": template("Never", &script)}),
        ),
    )
    .await;
    assert_eq!(pods.len(), 2);
    assert_eq!(status.failed, 1, "the ignored failure is not counted");
    assert_eq!(
        terminal(&status),
        Some((ConditionType::Failed, "PodFailurePolicy".into()))
    );
}

#[tokio::test]
async fn a_container_without_command_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let j = job(
        serde_json::json!({"template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox"}]}}}),
    );
    let err = run(&rt, record("u"), &j, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.template.spec.containers[0].command"),
        "{err}"
    );
    assert!(!dir.path().join("pods").exists());
}
