//! The executor on real processes with a clock the tests move by hand:
//! CronJobs firing on schedule, the concurrency policies, missed schedules,
//! history limits, TTL, the run-once ledger, and recovery after a restart.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::manifest::Object;
use crate::target::local::clock::ManualClock;
use crate::target::local::job_controller::{ConditionType, Phase};
use crate::target::local::job_runner::Ended;

const T0: &str = "2026-03-02T12:00:30Z";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn start(dir: &Path, clock: Arc<ManualClock>) -> Executor {
    let (executor, recovery) = Executor::start_with(dir, clock, &Settings::default(), |rt| {
        rt.backoff_base = Duration::from_millis(10);
        rt.crash_backoff = Duration::from_millis(10);
    })
    .await
    .unwrap();
    assert_eq!(recovery, Recovery::default(), "nothing to recover");
    executor
}

fn objects(yaml: &str) -> Vec<Object> {
    crate::testing::objects("test.yaml", yaml)
}

fn desired(object: Object) -> Desired {
    crate::testing::desired(object, "s", "r1")
}

fn cronjob(extra_spec: &str, script: &str) -> Desired {
    let object = objects(&format!(
        r#"
apiVersion: batch/v1
kind: CronJob
metadata: {{name: tick}}
spec:
  schedule: "* * * * *"
  timeZone: Etc/UTC
{extra_spec}
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", {script:?}]
"#
    ))
    .remove(0);
    desired(object)
}

/// Live (not deleted) Jobs of the CronJob, oldest first.
fn live(executor: &Executor) -> Vec<JobRecord> {
    executor
        .store()
        .live_jobs()
        .unwrap()
        .into_iter()
        .filter(|j| j.owner_cronjob.as_deref() == Some("tick"))
        .collect()
}

/// Waits (in real time) until no run is in flight.
async fn settle(executor: &Executor) {
    tokio::time::timeout(Duration::from_secs(30), executor.wait_idle())
        .await
        .expect("runs end");
}

/// Waits (in real time) until Job `uid` has a running pod.
async fn pod_running(executor: &Executor, uid: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !executor
            .store()
            .pods_of(uid)
            .unwrap()
            .iter()
            .any(|p| p.phase == Phase::Running)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("its pod starts");
}

fn terminal(job: &JobRecord) -> Option<(ConditionType, String)> {
    job.status.terminal().map(|c| (c.kind, c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cronjob_fires_at_its_minute_once_with_the_controllers_name_and_annotation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    executor.apply_cronjob(&cronjob("", "echo fired")).unwrap();
    assert_eq!(
        executor.tick().await.unwrap(),
        Some(at("2026-03-02T12:01:00Z")),
        "due at the next minute"
    );
    assert!(live(&executor).is_empty(), "nothing before its time");

    clock.set(at("2026-03-02T12:01:00Z"));
    let next = executor.tick().await.unwrap();
    assert_eq!(next, Some(at("2026-03-02T12:02:00Z")));
    // Ticking again in the same instant starts nothing more.
    executor.tick().await.unwrap();
    settle(&executor).await;
    let jobs = live(&executor);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let minutes = at("2026-03-02T12:01:00Z").as_second() / 60;
    assert_eq!(jobs[0].name, format!("tick-{minutes}"));
    assert_eq!(jobs[0].scheduled_time, Some(at("2026-03-02T12:01:00Z")));
    assert!(
        jobs[0].manifest.contains(
            r#""batch.kubernetes.io/cronjob-scheduled-timestamp":"2026-03-02T12:01:00Z""#
        ),
        "{}",
        jobs[0].manifest
    );
    assert_eq!(
        terminal(&jobs[0]),
        Some((ConditionType::Complete, "CompletionsReached".into()))
    );
    let state = executor
        .store()
        .cron_state("default", "tick")
        .unwrap()
        .unwrap();
    assert_eq!(state.state.last_schedule, Some(at("2026-03-02T12:01:00Z")));
    // The next sync sees the success.
    executor.tick().await.unwrap();
    let state = executor
        .store()
        .cron_state("default", "tick")
        .unwrap()
        .unwrap();
    assert!(state.state.last_successful.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_skips_a_slot_while_a_run_is_active_and_starts_it_late_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    // Outside the state directory, which containers do not see.
    let work = tempfile::tempdir().unwrap();
    let release = work.path().join("release");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", release.display());
    executor
        .apply_cronjob(&cronjob("  concurrencyPolicy: Forbid", &script))
        .unwrap();
    let mut notices = executor.notices();
    clock.set(at("2026-03-02T12:01:00Z"));
    executor.tick().await.unwrap();
    clock.set(at("2026-03-02T12:02:00Z"));
    assert_eq!(
        executor.tick().await.unwrap(),
        None,
        "waits for the run to end"
    );
    assert_eq!(
        live(&executor).len(),
        1,
        "no second run while one is active"
    );
    let mut skipped = false;
    while let Ok(notice) = notices.try_recv() {
        skipped |= matches!(notice, Notice::Cron { event: cron_controller::Event::JobAlreadyActive(t), .. } if t == at("2026-03-02T12:02:00Z"));
    }
    assert!(skipped, "JobAlreadyActive was noticed");

    std::fs::write(&release, "").unwrap();
    settle(&executor).await;
    // The skipped slot was not recorded: it starts late, now.
    executor.tick().await.unwrap();
    let jobs = live(&executor);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[1].scheduled_time, Some(at("2026-03-02T12:02:00Z")));
    settle(&executor).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_stops_the_active_run_and_starts_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    executor
        .apply_cronjob(&cronjob("  concurrencyPolicy: Replace", "sleep 300"))
        .unwrap();
    clock.set(at("2026-03-02T12:01:00Z"));
    executor.tick().await.unwrap();
    let first = live(&executor).remove(0);
    let old = executor
        .handle(&first.uid)
        .expect("the first run is in flight");
    pod_running(&executor, &first.uid).await;
    clock.set(at("2026-03-02T12:02:00Z"));
    executor.tick().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), old.finished())
        .await
        .expect("the old run is stopped within its grace period");
    assert!(matches!(ended, Ok(Ended::Deleted)), "{ended:?}");
    let pods = executor.store().pods_of(&first.uid).unwrap();
    assert_eq!(pods[0].reason.as_deref(), Some("Deleted"));
    assert!(
        !dir.path().join("pods").join(&pods[0].name).exists(),
        "a deleted Job's pod files are removed"
    );
    let jobs = live(&executor);
    assert_eq!(jobs.len(), 1, "only the new run is left: {jobs:?}");
    assert_eq!(jobs[0].scheduled_time, Some(at("2026-03-02T12:02:00Z")));
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_only_the_most_recent_missed_slot_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    executor.apply_cronjob(&cronjob("", "true")).unwrap();
    let mut notices = executor.notices();
    // Down for 3 hours: 180 slots missed, more than 100.
    clock.set(at("2026-03-02T15:00:40Z"));
    executor.tick().await.unwrap();
    executor.tick().await.unwrap();
    settle(&executor).await;
    let jobs = live(&executor);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].scheduled_time, Some(at("2026-03-02T15:00:00Z")));
    let mut too_many = None;
    while let Ok(notice) = notices.try_recv() {
        if let Notice::Cron {
            event: cron_controller::Event::TooManyMissedTimes(n),
            ..
        } = notice
        {
            too_many = Some(n);
        }
    }
    assert_eq!(too_many, Some(180), "warned, and still ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_limits_remove_the_oldest_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    // Outside the state directory, which containers do not see.
    let work = tempfile::tempdir().unwrap();
    let fail_marker = work.path().join("fail");
    let script = format!("[ ! -e {} ]", fail_marker.display());
    executor
        .apply_cronjob(&cronjob(
            "  successfulJobsHistoryLimit: 2\n  failedJobsHistoryLimit: 1",
            &script,
        ))
        .unwrap();
    let mut slot = at("2026-03-02T12:01:00Z");
    for run in 0..6 {
        if run == 4 {
            std::fs::write(&fail_marker, "").unwrap();
        }
        clock.set(slot);
        executor.tick().await.unwrap();
        settle(&executor).await;
        slot += SignedDuration::from_mins(1);
    }
    executor.tick().await.unwrap();
    let kept: Vec<(Timestamp, bool)> = live(&executor)
        .iter()
        .map(|j| {
            (
                j.scheduled_time.unwrap(),
                terminal(j).unwrap().0 == ConditionType::Complete,
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            (at("2026-03-02T12:03:00Z"), true),
            (at("2026-03-02T12:04:00Z"), true),
            (at("2026-03-02T12:06:00Z"), false),
        ],
        "two successes and one failure are kept"
    );
    let all = executor.runs(Some("tick")).unwrap();
    assert_eq!(all.len(), 6, "removed runs keep their records");
}

fn job_with_ttl(ttl: i64) -> Desired {
    let object = objects(&format!(
        r#"
apiVersion: batch/v1
kind: Job
metadata: {{name: once}}
spec:
  ttlSecondsAfterFinished: {ttl}
  template:
    spec:
      restartPolicy: Never
      containers:
      - {{name: main, image: busybox, command: ["true"]}}
"#
    ))
    .remove(0);
    desired(object)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_expires_after_its_ttl_and_is_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    let job = job_with_ttl(60);
    let Applied::Started(run) = executor.apply_job(&job, None).await.unwrap() else {
        panic!("runs the first time")
    };
    let ended = run.finished().await.unwrap();
    assert!(matches!(ended, Ended::Finished(_)));
    assert_eq!(
        executor.tick().await.unwrap(),
        Some(at(T0) + SignedDuration::from_secs(60)),
        "due when the TTL runs out"
    );
    clock.set(at(T0) + SignedDuration::from_secs(59));
    executor.tick().await.unwrap();
    assert_eq!(executor.store().live_jobs().unwrap().len(), 1);
    clock.set(at(T0) + SignedDuration::from_secs(60));
    executor.tick().await.unwrap();
    assert!(executor.store().live_jobs().unwrap().is_empty(), "removed");
    // Gone, but it ran with this spec: applying it again does not re-run it.
    let again = executor
        .apply_job(
            &Desired {
                revision: "r2".into(),
                ..job
            },
            None,
        )
        .await
        .unwrap();
    assert!(
        matches!(&again, Applied::AlreadyRan { outcome } if outcome == "Complete"),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fires_on_time_and_shutdown_leaves_the_run_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    executor.apply_cronjob(&cronjob("", "sleep 300")).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let executor = executor.clone();
        tokio::spawn(async move {
            executor
                .serve(async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    let mut notices = executor.notices();
    clock.set(at("2026-03-02T12:01:00Z"));
    let started = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Notice::Started { job }) = notices.recv().await {
                break job;
            }
        }
    })
    .await
    .expect("the CronJob fires once the clock reaches its slot");
    pod_running(&executor, &started.uid).await;
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    let job = executor.store().job(&started.uid).unwrap().unwrap();
    assert!(!job.status.finished(), "interrupted, not finished");
    let pods = executor.store().pods_of(&started.uid).unwrap();
    assert_eq!(
        (pods[0].phase, pods[0].reason.as_deref()),
        (Phase::Failed, Some("TerminationByKubelet"))
    );
    drop(executor);

    // The next start resumes it: the stopped pod counts as a failure, and
    // with backoffLimit 0 that ends the Job. (The lock goes when the last
    // run task has dropped its handle on the executor, just after the run.)
    let (executor, recovery) = loop {
        match Executor::start(dir.path(), clock.clone(), &Settings::default()).await {
            Err(StartError::Lock(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            started => break started.unwrap(),
        }
    };
    assert_eq!(recovery.resume.len(), 1);
    assert!(
        recovery.lost_pods.is_empty(),
        "shutdown left nothing running"
    );
    settle(&executor).await;
    let job = executor.store().job(&started.uid).unwrap().unwrap();
    assert_eq!(
        terminal(&job),
        Some((ConditionType::Failed, "BackoffLimitExceeded".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_runner_on_the_same_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let _first = start(dir.path(), clock.clone()).await;
    let err = Executor::start(dir.path(), clock, &Settings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::Lock(_)), "{err}");
    // Readers are welcome.
    Executor::open(dir.path(), Arc::new(ManualClock::starting_at(at(T0)))).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_a_target_it_lists_applies_prunes_and_streams_outcomes() {
    use crate::target::{Applied as Done, Operation, RunEvent, RunResult, Target};
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock.clone()).await;
    let mut events = executor.events();
    let job = job_with_ttl(3600);
    let cron = cronjob("", "sleep 300");

    assert_eq!(
        executor
            .apply(&Operation::Create(cron.clone()))
            .await
            .unwrap(),
        Done::Done
    );
    let Done::RunStarted { uid } = executor
        .apply(&Operation::Create(job.clone()))
        .await
        .unwrap()
    else {
        panic!("a new Job runs")
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let RunEvent::Ended(outcome) = events.recv().await.unwrap() {
                return outcome;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        (
            outcome.uid.as_str(),
            outcome.result,
            outcome.reason.as_deref()
        ),
        (
            uid.as_str(),
            RunResult::Complete,
            Some("CompletionsReached")
        )
    );
    assert_eq!(
        executor
            .ledger("s")
            .await
            .unwrap()
            .outcome("default", "once", &job.spec_hash),
        Some("Complete")
    );
    assert_eq!(
        executor
            .apply(&Operation::Recreate(job.clone()))
            .await
            .unwrap(),
        Done::AlreadyRan {
            outcome: "Complete".into()
        },
        "the same spec never runs twice"
    );

    let live = executor.live().await.unwrap();
    let ids: Vec<String> = live.iter().map(|l| l.id.to_string()).collect();
    assert_eq!(ids, ["Job default/once", "CronJob default/tick"]);
    assert!(
        live.iter()
            .all(|l| l.source.as_deref() == Some("s") && l.revision.as_deref() == Some("r1"))
    );

    // Pruning a CronJob takes its running Job with it.
    clock.set(at("2026-03-02T12:01:00Z"));
    executor.tick().await.unwrap();
    let child = live_of(&executor, "tick");
    pod_running(&executor, &child).await;
    executor
        .apply(&Operation::Prune(cron.object.id.clone()))
        .await
        .unwrap();
    settle(&executor).await;
    assert_eq!(executor.live().await.unwrap().len(), 1);
    assert!(
        executor
            .store()
            .job(&child)
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some(),
        "the CronJob's Job was deleted with it"
    );
    assert!(
        executor
            .store()
            .cron_state("default", "tick")
            .unwrap()
            .is_none()
    );
}

/// The uid of the one live Job owned by CronJob `cronjob`.
fn live_of(executor: &Executor, cronjob: &str) -> String {
    let jobs: Vec<JobRecord> = executor
        .store()
        .live_jobs()
        .unwrap()
        .into_iter()
        .filter(|j| j.owner_cronjob.as_deref() == Some(cronjob))
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs[0].uid.clone()
}

/// Records Job `u-gap` (backoffLimit 0) with one unfinished pod, as a jobcd
/// killed just after starting it leaves them, and an orphan process
/// carrying the pod's name; `started`: its supervisor had got the plan
/// (its events file exists). Returns the pod's name and the orphan.
fn crashed_gap(dir: &Path, started: bool) -> (String, std::process::Child) {
    use std::os::unix::process::CommandExt;
    let pod_name = format!("gap-test-{}-{started}", std::process::id());
    let store = Store::open(dir).unwrap();
    let manifest = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"gap"},"spec":{"backoffLimit":0,"template":{"spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"x","command":["true"]}]}}}}"#;
    store
        .insert_job(&JobRecord::new(
            "u-gap",
            "default",
            "gap",
            "h",
            manifest,
            at(T0),
        ))
        .unwrap();
    store
        .insert_pod(&PodRecord {
            id: 0,
            job_uid: "u-gap".into(),
            name: pod_name.clone(),
            completion_index: None,
            phase: Phase::Pending,
            processes: Vec::new(),
            supervisor: None,
            boot_id: job_runner::boot_id(),
            started_at: None,
            finished_at: None,
            exits: Vec::new(),
            messages: Vec::new(),
            reason: None,
            restarts: 0,
            log_dir: String::new(),
        })
        .unwrap();
    let pod_dir = dir.join("pods").join(&pod_name);
    std::fs::create_dir_all(&pod_dir).unwrap();
    if started {
        std::fs::write(pod_dir.join("events.jsonl"), "").unwrap();
    }
    let orphan = std::process::Command::new("sleep")
        .arg("300")
        .env("HOSTNAME", &pod_name)
        .process_group(0)
        .spawn()
        .unwrap();
    (pod_name, orphan)
}

/// Waits for `child` to end; its exit.
async fn ended(child: &mut std::process::Child) -> std::process::ExitStatus {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the orphan was stopped")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_finds_a_container_whose_pid_was_not_saved_yet_by_its_hostname() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let (pod_name, mut orphan) = crashed_gap(dir.path(), true);
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let (executor, recovery) = Executor::start(dir.path(), clock, &Settings::default())
        .await
        .unwrap();
    assert_eq!(recovery.lost_pods, [(pod_name.clone(), 1)]);
    assert_eq!(
        ended(&mut orphan).await.signal(),
        Some(15),
        "stopped with SIGTERM"
    );
    settle(&executor).await;
    let job = executor.store().job("u-gap").unwrap().unwrap();
    assert_eq!(
        terminal(&job),
        Some((ConditionType::Failed, "BackoffLimitExceeded".into())),
        "the lost pod counted as the one allowed attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_supervisor_never_got_its_plan_is_removed_and_not_counted() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let (pod_name, mut orphan) = crashed_gap(dir.path(), false);
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let (executor, recovery) = Executor::start(dir.path(), clock, &Settings::default())
        .await
        .unwrap();
    assert_eq!(recovery.unstarted, std::slice::from_ref(&pod_name));
    assert_eq!(recovery.lost_pods, []);
    assert_eq!(
        ended(&mut orphan).await.signal(),
        Some(15),
        "stopped with SIGTERM"
    );
    settle(&executor).await;
    let job = executor.store().job("u-gap").unwrap().unwrap();
    assert_eq!(
        terminal(&job),
        Some((ConditionType::Complete, "CompletionsReached".into())),
        "the Job ran, its one attempt intact"
    );
    let pods = executor.store().pods_of("u-gap").unwrap();
    assert_eq!(pods.len(), 1, "the unstarted pod is gone: {pods:?}");
    assert_ne!(pods[0].name, pod_name);
    assert!(!dir.path().join("pods").join(&pod_name).exists());
}

/// Starts a runner in `dir` and records one CronJob, then stops it.
async fn state_with_history(dir: &Path) {
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir, clock).await;
    executor.apply_cronjob(&cronjob("", "true")).unwrap();
    executor.shutdown().await;
}

/// Runs `work` on a runtime of its own (the tests below are plain tests:
/// each start of the executor gets a fresh runtime, as each jobcd does).
fn block_on<T>(work: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

fn start_error(dir: &Path) -> StartError {
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    match block_on(Executor::start(dir, clock, &Settings::default())) {
        Ok(_) => panic!("the runner started on lost state"),
        Err(e) => e,
    }
}

#[test]
fn a_database_that_vanished_or_was_emptied_is_refused() {
    for lose in ["delete", "empty"] {
        let dir = tempfile::tempdir().unwrap();
        block_on(state_with_history(dir.path()));
        let db = dir.path().join(store::FILE_NAME);
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("{}{suffix}", store::FILE_NAME)));
        }
        match lose {
            "delete" => std::fs::remove_file(&db).unwrap(),
            _ => std::fs::write(&db, b"").unwrap(),
        }
        let error = start_error(dir.path());
        assert!(
            matches!(&error, StartError::Store(store::Error::Vanished { .. })),
            "{lose}: {error}"
        );
        assert!(error.to_string().contains("executor.lock"), "{error}");
        assert!(
            std::fs::metadata(&db).map_or(true, |m| m.len() == 0),
            "{lose}: nothing was written in its place"
        );
    }
}

#[test]
fn a_damaged_database_is_found_at_start() {
    let dir = tempfile::tempdir().unwrap();
    block_on(state_with_history(dir.path()));
    let db = dir.path().join(store::FILE_NAME);
    // Everything into the main file, then a page of it overwritten.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    assert!(bytes.len() >= 3 * page, "several pages: {}", bytes.len());
    bytes[page..2 * page].fill(0xA5);
    std::fs::write(&db, bytes).unwrap();
    let error = start_error(dir.path());
    assert!(
        matches!(&error, StartError::Store(store::Error::Damaged { .. })),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_run_fails_that_job_alone() {
    use crate::target::Target;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock).await;
    let panicking = desired(
        objects(&format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: buggy\n  annotations: {{{}: \"yes\"}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [\"true\"]}}]\n",
            job_runner::PANIC_FOR_TESTS
        ))
        .remove(0),
    );
    let Applied::Started(run) = executor.apply_job(&panicking, None).await.unwrap() else {
        panic!("a new Job runs")
    };
    let ended = tokio::time::timeout(Duration::from_secs(10), run.finished())
        .await
        .expect("whoever waits for the run hears of its end");
    assert!(matches!(ended, Err(RunError::Panicked(_))), "{ended:?}");
    tokio::time::timeout(Duration::from_secs(10), executor.wait_idle())
        .await
        .expect("the run is no longer in flight");
    let ledger = executor.ledger("s").await.unwrap();
    assert_eq!(
        ledger.outcome("default", "buggy", &panicking.spec_hash),
        Some("Failed"),
        "it is not run again by itself"
    );
    let runs = executor.runs(Some("buggy")).unwrap();
    let reason = runs[0].job.status.terminal().map(|c| c.reason.clone());
    assert_eq!(reason.as_deref(), Some(REASON_INTERNAL));
    // The executor goes on running other Jobs.
    let Applied::Started(run) = executor.apply_job(&job_with_ttl(3600), None).await.unwrap() else {
        panic!("a new Job runs")
    };
    assert!(matches!(run.finished().await, Ok(Ended::Finished(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_an_older_jobcd_ran_under_its_legacy_hash_is_recorded_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock).await;
    let d = desired(
        objects(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations: {jobcd.dev/prune: disabled}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: x, command: ['false']}]\n",
        )
        .remove(0),
    );
    let legacy = crate::plan::normalize::legacy_spec_hash(&d.object).unwrap();
    // What jobcd 0.1 left: the ledger knows the spec by its old hash.
    executor
        .store()
        .put_ledger(&LedgerEntry {
            source: "s".into(),
            namespace: "default".into(),
            name: "migrate".into(),
            spec_hash: legacy,
            outcome: "Complete".into(),
            job_uid: Some("u-old".into()),
            recorded_at: at(T0),
        })
        .unwrap();
    executor.update_job(&d).await.unwrap();
    let entry = executor
        .store()
        .ledger("s", "default", "migrate", &d.spec_hash)
        .unwrap()
        .expect("the ledger knows the spec by its new hash");
    assert_eq!(entry.outcome, "Complete");
    assert!(
        executor.runs(Some("migrate")).unwrap().is_empty(),
        "nothing ran"
    );
    // Applied as it would be by a sync: already ran, not run again.
    let applied = executor.apply_job(&d, None).await.unwrap();
    assert!(matches!(applied, Applied::AlreadyRan { .. }), "{applied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_supervisor_is_killed_is_lost_and_its_processes_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at(at(T0)));
    let executor = start(dir.path(), clock).await;
    let d = desired(
        objects(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: stuck}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: x, command: [sleep, '300']}]\n",
        )
        .remove(0),
    );
    let Applied::Started(run) = executor.apply_job(&d, None).await.unwrap() else {
        panic!("the Job runs");
    };
    pod_running(&executor, &run.uid).await;
    let pod = executor.store().pods_of(&run.uid).unwrap().remove(0);
    let supervisor = pod
        .supervisor
        .expect("a running pod has its supervisor recorded");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor.pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(30), run.finished())
        .await
        .expect("the run ends");
    assert!(matches!(finished, Ok(Ended::Finished(_))), "{finished:?}");
    let job = executor.store().job(&pod.job_uid).unwrap().unwrap();
    assert_eq!(
        terminal(&job),
        Some((ConditionType::Failed, "BackoffLimitExceeded".into()))
    );
    let pod = executor.store().pod_named(&pod.name).unwrap().unwrap();
    assert_eq!(pod.reason.as_deref(), Some(job_runner::REASON_LOST));
    // The kill is sent before the run ends; the process is gone a moment
    // later (signal delivery is asynchronous, and a loaded machine is slow).
    let names = std::collections::HashSet::from([pod.name.clone()]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = crate::target::local::procfs::groups_by_env("HOSTNAME", &names);
        if left.is_empty() || std::time::Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(left.is_empty(), "its container was stopped: {left:?}");
}
