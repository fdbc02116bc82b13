//! The store on a real SQLite file.

use jiff::Timestamp;

use super::*;
use crate::manifest::Kind;
use crate::target::local::cron_controller;
use crate::target::local::job_controller::{ConditionType, Phase, Status};
use crate::target::local::process::Exit;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn job(uid: &str, name: &str) -> JobRecord {
    JobRecord::new(uid, "default", name, "h1", "{}", at("2026-01-01T00:00:00Z"))
}

fn pod(job_uid: &str) -> PodRecord {
    PodRecord {
        id: 0,
        job_uid: job_uid.into(),
        name: "pi-abc".into(),
        completion_index: Some(3),
        phase: Phase::Running,
        processes: vec![HostProcess {
            container: "main".into(),
            pid: 4242,
            start_ticks: Some(777),
        }],
        supervisor: Some(Supervisor {
            pid: 4243,
            start_ticks: Some(778),
        }),
        boot_id: Some("boot-1".into()),
        started_at: Some(at("2026-01-01T00:00:01Z")),
        finished_at: None,
        exits: Vec::new(),
        messages: Vec::new(),
        reason: None,
        restarts: 0,
        log_dir: "/tmp/logs".into(),
    }
}

#[test]
fn a_new_file_is_migrated_to_the_latest_schema_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as u32
    );
    let mode: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(dir.path().join(FILE_NAME).exists());
}

#[test]
fn a_database_from_a_newer_jobcd_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer than this jobcd knows"));
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut status = Status {
        failed: 2,
        ..Status::default()
    };
    status
        .conditions
        .push(crate::target::local::job_controller::Condition {
            kind: ConditionType::Failed,
            status: true,
            reason: "BackoffLimitExceeded".into(),
            message: "Job has reached the specified backoff limit".into(),
            at: at("2026-01-01T00:05:00Z"),
        });
    let pod_id;
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .put_object(&AppliedObject {
                kind: Kind::CronJob,
                namespace: "default".into(),
                name: "backup".into(),
                source: "main".into(),
                revision: "abc".into(),
                path: "backup.yaml".into(),
                spec_hash: "h".into(),
                manifest: "{\"kind\":\"CronJob\"}".into(),
                applied_at: at("2026-01-01T00:00:00Z"),
            })
            .unwrap();
        store.insert_job(&job("u1", "pi")).unwrap();
        store.update_job_status("u1", &status).unwrap();
        let mut p = pod("u1");
        pod_id = store.insert_pod(&p).unwrap();
        p.id = pod_id;
        p.phase = Phase::Failed;
        p.exits = vec![
            ("pi".into(), Exit::Code(1)),
            ("side".into(), Exit::Signal(9)),
        ];
        p.finished_at = Some(at("2026-01-01T00:00:09Z"));
        store.update_pod(&p).unwrap();
        store
            .put_cron_state(&CronState {
                namespace: "default".into(),
                name: "backup".into(),
                state: cron_controller::State {
                    created: at("2026-01-01T00:00:00Z"),
                    last_schedule: Some(at("2026-01-02T03:00:00Z")),
                    last_successful: None,
                },
            })
            .unwrap();
        store
            .put_ledger(&LedgerEntry {
                source: "main".into(),
                namespace: "default".into(),
                name: "pi".into(),
                spec_hash: "h1".into(),
                outcome: "Failed".into(),
                job_uid: Some("u1".into()),
                recorded_at: at("2026-01-01T00:05:00Z"),
            })
            .unwrap();
        // Dropped without any explicit close, as a crash would.
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.objects().unwrap()[0].name, "backup");
    let jobs = store.live_jobs().unwrap();
    assert_eq!(jobs[0].status, status);
    let pods = store.pods_of("u1").unwrap();
    assert_eq!(pods[0].id, pod_id);
    assert_eq!(
        pods[0].exits,
        [
            ("pi".into(), Exit::Code(1)),
            ("side".into(), Exit::Signal(9))
        ]
    );
    assert_eq!(pods[0].completion_index, Some(3));
    assert!(store.unfinished_pods().unwrap().is_empty());
    let cron = store.cron_state("default", "backup").unwrap().unwrap();
    assert_eq!(cron.state.last_schedule, Some(at("2026-01-02T03:00:00Z")));
    assert_eq!(
        store
            .ledger("main", "default", "pi", "h1")
            .unwrap()
            .unwrap()
            .outcome,
        "Failed"
    );
    assert!(
        store
            .ledger("main", "default", "pi", "h2")
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_deleted_job_keeps_its_history_and_frees_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.insert_job(&job("u1", "migrate")).unwrap();
    assert!(
        store.insert_job(&job("u2", "migrate")).is_err(),
        "one live Job per name"
    );
    store
        .mark_job_deleted("u1", at("2026-01-02T00:00:00Z"))
        .unwrap();
    store.insert_job(&job("u2", "migrate")).unwrap();
    let history = store.jobs_named("default", "migrate").unwrap();
    assert_eq!(
        history.iter().map(|j| j.uid.as_str()).collect::<Vec<_>>(),
        ["u1", "u2"]
    );
    assert_eq!(history[0].deleted_at, Some(at("2026-01-02T00:00:00Z")));
    assert_eq!(store.live_jobs().unwrap().len(), 1);
}

#[test]
fn unfinished_pods_are_found_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.insert_job(&job("u1", "pi")).unwrap();
        store.insert_pod(&pod("u1")).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let pods = store.unfinished_pods().unwrap();
    assert_eq!(pods.len(), 1);
    assert_eq!(
        (pods[0].processes.as_slice(), pods[0].boot_id.as_deref()),
        (pod("u1").processes.as_slice(), Some("boot-1"))
    );
}

#[test]
fn migrations_keep_the_pid_a_version_1_store_recorded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(super::FILE_NAME)).unwrap();
        conn.execute_batch(super::schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "INSERT INTO jobs (uid, namespace, name, spec_hash, manifest, created_at, status)
               VALUES ('u1', 'default', 'pi', 'h', '{}', '2026-01-01T00:00:00Z', '{}');
             INSERT INTO pods (job_uid, name, phase, pid, log_dir)
               VALUES ('u1', 'pi-abc', 'Running', 4242, '/tmp/logs');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        super::schema::MIGRATIONS.len() as u32
    );
    let pods = store.unfinished_pods().unwrap();
    assert_eq!(
        pods[0].processes,
        vec![HostProcess {
            container: String::new(),
            pid: 4242,
            start_ticks: None
        }]
    );
    assert_eq!(pods[0].supervisor, None, "no supervisor was recorded");
}

#[test]
fn pods_need_their_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(
        store.insert_pod(&pod("nope")).is_err(),
        "foreign keys are enforced"
    );
}

#[test]
fn processes_opening_a_new_store_together_migrate_it_once() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version()))
            })
            .collect();
        for opener in openers {
            let version = opener.join().unwrap().expect("every opener succeeds");
            assert_eq!(version.unwrap(), super::schema::MIGRATIONS.len() as u32);
        }
    }
}

#[test]
fn a_sources_objects_and_the_names_it_wants_are_found_without_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let object = |kind, name: &str, source: &str| AppliedObject {
        kind,
        namespace: "default".into(),
        name: name.into(),
        source: source.into(),
        revision: "0".repeat(40),
        path: format!("{name}.yaml"),
        spec_hash: "h".into(),
        manifest: "{}".into(),
        applied_at: at("2026-12-06T00:00:00Z"),
    };
    for o in [
        object(Kind::CronJob, "a-1", "a"),
        object(Kind::Job, "a-2", "a"),
        object(Kind::CronJob, "b-1", "b"),
        object(Kind::CronJob, "b-2", "b"),
        object(Kind::CronJob, "hand", crate::ownership::BY_HAND),
    ] {
        store.put_object(&o).unwrap();
    }
    let wanted = [
        (Kind::CronJob, "default".to_string(), "b-1".to_string()),
        (Kind::CronJob, "default".to_string(), "hand".to_string()),
        (Kind::CronJob, "default".to_string(), "a-1".to_string()),
        (Kind::CronJob, "default".to_string(), "nowhere".to_string()),
    ];
    let mut names: Vec<String> = store
        .objects_for("a", &wanted)
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a-1", "a-2", "b-1", "hand"],
        "a's own, once, and the names it wants"
    );
    assert_eq!(store.objects_for("c", &[]).unwrap(), []);
}
