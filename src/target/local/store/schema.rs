//! The store's schema, as an ordered list of migrations. A database records
//! how many it has applied (`PRAGMA user_version`); opening applies the rest,
//! each in its own transaction. Never edit a released migration: add one.

/// Migration n (1-based) is `MIGRATIONS[n - 1]`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: applied objects, Jobs and their pods, CronJob scheduling state, and
    // the run-once ledger.
    r#"
    CREATE TABLE objects (
        kind        TEXT NOT NULL,
        namespace   TEXT NOT NULL,
        name        TEXT NOT NULL,
        source      TEXT NOT NULL,
        revision    TEXT NOT NULL,
        path        TEXT NOT NULL,
        spec_hash   TEXT NOT NULL,
        manifest    TEXT NOT NULL,
        applied_at  TEXT NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    ) STRICT;

    CREATE TABLE jobs (
        uid            TEXT PRIMARY KEY,
        namespace      TEXT NOT NULL,
        name           TEXT NOT NULL,
        owner_cronjob  TEXT,
        spec_hash      TEXT NOT NULL,
        manifest       TEXT NOT NULL,
        scheduled_time TEXT,
        created_at     TEXT NOT NULL,
        status         TEXT NOT NULL,
        deleted_at     TEXT
    ) STRICT;
    CREATE UNIQUE INDEX jobs_live_name ON jobs (namespace, name) WHERE deleted_at IS NULL;
    CREATE INDEX jobs_owner ON jobs (namespace, owner_cronjob);

    CREATE TABLE pods (
        id               INTEGER PRIMARY KEY,
        job_uid          TEXT NOT NULL REFERENCES jobs (uid),
        name             TEXT NOT NULL,
        completion_index INTEGER,
        phase            TEXT NOT NULL,
        pid              INTEGER,
        boot_id          TEXT,
        started_at       TEXT,
        finished_at      TEXT,
        exits            TEXT NOT NULL DEFAULT '[]',
        reason           TEXT,
        restarts         INTEGER NOT NULL DEFAULT 0,
        log_dir          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX pods_job ON pods (job_uid);

    CREATE TABLE cronjob_state (
        namespace            TEXT NOT NULL,
        name                 TEXT NOT NULL,
        created_at           TEXT NOT NULL,
        last_schedule_time   TEXT,
        last_successful_time TEXT,
        PRIMARY KEY (namespace, name)
    ) STRICT;

    CREATE TABLE ledger (
        source      TEXT NOT NULL,
        namespace   TEXT NOT NULL,
        name        TEXT NOT NULL,
        spec_hash   TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        job_uid     TEXT,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (source, namespace, name, spec_hash)
    ) STRICT;
    "#,
    // 2: every process a pod has running (a pod's containers run at once,
    // each its own process group), each with its start time so a recycled
    // pid is never mistaken for it after a crash.
    r#"
    ALTER TABLE pods ADD COLUMN processes TEXT NOT NULL DEFAULT '[]';
    UPDATE pods SET processes = json_array(json_object('container', '', 'pid', pid))
        WHERE pid IS NOT NULL;
    ALTER TABLE pods DROP COLUMN pid;
    "#,
    // 3: the pod's supervisor (pid and start time, JSON), which outlives a
    // crash of jobcd: a restarted jobcd adopts the pod from it.
    r#"
    ALTER TABLE pods ADD COLUMN supervisor TEXT;
    "#,
    // 4: each container's termination message (its terminationMessagePath,
    // or its log's tail for FallbackToLogsOnError), JSON.
    r#"
    ALTER TABLE pods ADD COLUMN messages TEXT NOT NULL DEFAULT '[]';
    "#,
    // 5: a source's objects, found without reading every source's (a
    // reconcile plans against its own objects only).
    r#"
    CREATE INDEX objects_source ON objects (source);
"#,
];
