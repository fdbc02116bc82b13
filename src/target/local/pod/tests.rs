//! Pods of real processes.

use super::*;
use crate::target::local::container::DEFAULT_PATH;

fn sh(name: &str, script: &str) -> Process {
    Process {
        name: name.into(),
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), DEFAULT_PATH.into())],
        working_dir: None,
        image: None,
    }
}

fn plan(
    dir: &std::path::Path,
    init: Vec<Process>,
    containers: Vec<Process>,
    on_failure: bool,
) -> Plan {
    Plan {
        init,
        containers,
        restart_on_failure: on_failure,
        grace: Duration::from_millis(300),
        dir: dir.to_path_buf(),
        scratch: dir.join("scratch"),
        sandbox: None,
        log_cap: 1 << 20,
        crash_backoff: Duration::from_millis(20),
        engine: None,
    }
}

async fn go(plan: &Plan) -> (Outcome, Vec<Event>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_stop_tx, stop) = watch::channel(false);
    let outcome = run(plan, tx, stop).await.unwrap();
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (outcome, events)
}

#[tokio::test]
async fn init_containers_run_first_and_share_the_scratch_directory() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(
        dir.path(),
        vec![sh("prepare", "echo ready > state")],
        vec![sh("main", "test \"$(cat state)\" = ready")],
        false,
    );
    let (outcome, _) = go(&p).await;
    assert!(outcome.succeeded, "{outcome:?}");
    assert_eq!(
        outcome.exits,
        [
            ("prepare".into(), Exit::Code(0)),
            ("main".into(), Exit::Code(0))
        ]
    );
}

#[tokio::test]
async fn a_failing_init_container_fails_the_pod_before_the_containers_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(
        dir.path(),
        vec![sh("prepare", "exit 7")],
        vec![sh("main", "touch ran")],
        false,
    );
    let (outcome, _) = go(&p).await;
    assert!(!outcome.succeeded);
    assert_eq!(outcome.exits, [("prepare".into(), Exit::Code(7))]);
    assert!(!dir.path().join("scratch/ran").exists());
}

#[tokio::test]
async fn containers_run_together_and_all_must_succeed() {
    let dir = tempfile::tempdir().unwrap();
    // Each waits for the other's file: only possible if both run at once.
    let p = plan(
        dir.path(),
        vec![],
        vec![
            sh(
                "a",
                "touch a; for i in $(seq 100); do [ -e b ] && exit 0; sleep 0.02; done; exit 1",
            ),
            sh(
                "b",
                "touch b; for i in $(seq 100); do [ -e a ] && exit 3; sleep 0.02; done; exit 1",
            ),
        ],
        false,
    );
    let (outcome, _) = go(&p).await;
    assert!(!outcome.succeeded);
    assert_eq!(
        outcome.exits,
        [("a".into(), Exit::Code(0)), ("b".into(), Exit::Code(3))]
    );
}

#[tokio::test]
async fn on_failure_restarts_in_place_with_growing_delays() {
    let dir = tempfile::tempdir().unwrap();
    // Fails twice, then succeeds; the count survives in the scratch directory.
    let p = plan(
        dir.path(),
        vec![],
        vec![sh(
            "main",
            "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 2 ]",
        )],
        true,
    );
    let (outcome, events) = go(&p).await;
    assert!(outcome.succeeded, "{outcome:?}");
    assert_eq!(outcome.restarts, 2);
    let delays: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            Event::Restarting { after, .. } => Some(*after),
            _ => None,
        })
        .collect();
    assert_eq!(
        delays,
        [Duration::from_millis(20), Duration::from_millis(40)]
    );
    let log = std::fs::read_to_string(dir.path().join("logs/main.log")).unwrap_or_default();
    assert!(log.is_empty(), "{log}");
}

#[tokio::test]
async fn with_never_a_failed_container_is_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(
        dir.path(),
        vec![],
        vec![sh("main", "echo attempt >> runs; exit 1")],
        false,
    );
    let (outcome, _) = go(&p).await;
    assert_eq!((outcome.succeeded, outcome.restarts), (false, 0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("scratch/runs")).unwrap(),
        "attempt\n"
    );
}

#[tokio::test]
async fn stopping_the_pod_stops_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(
        dir.path(),
        vec![],
        vec![sh("a", "exec sleep 60"), sh("b", "trap '' TERM; sleep 60")],
        false,
    );
    let (tx, _rx) = mpsc::unbounded_channel();
    let (stop_tx, stop) = watch::channel(false);
    let started = std::time::Instant::now();
    let task = tokio::spawn({
        let p = p.clone();
        async move { run(&p, tx, stop).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(true).unwrap();
    let outcome = task.await.unwrap().unwrap();
    assert!(outcome.stopped && !outcome.succeeded);
    assert_eq!(
        outcome.exits,
        [
            ("a".into(), Exit::Signal(15)),
            ("b".into(), Exit::Signal(9))
        ]
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_command_that_does_not_exist_fails_the_container_with_127() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Process {
        name: "main".into(),
        argv: vec!["/nonexistent/tool".into()],
        env: vec![],
        working_dir: None,
        image: None,
    };
    let (outcome, _) = go(&plan(dir.path(), vec![], vec![missing], false)).await;
    assert_eq!(outcome.exits, [("main".into(), Exit::Code(127))]);
    let log = std::fs::read_to_string(dir.path().join("logs/main.log")).unwrap();
    assert!(log.contains("cannot start \"/nonexistent/tool\""), "{log}");
}
