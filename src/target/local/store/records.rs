//! What the store holds, row by row. Times are RFC 3339 text; a Job's
//! status and a pod's exits are JSON, since only the executor reads them.

use jiff::Timestamp;
use rusqlite::{Row, params};

use super::{Error, Store};
use crate::manifest::Kind;
use crate::target::local::cron_controller;
use crate::target::local::job_controller::{Phase, Status};
use crate::target::local::process::Exit;

/// An object applied to the executor, as the reconcile left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedObject {
    /// Job or CronJob.
    pub kind: Kind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The source it came from.
    pub source: String,
    /// The commit it came from.
    pub revision: String,
    /// The file it came from.
    pub path: String,
    /// Hash of the normalised spec.
    pub spec_hash: String,
    /// The manifest as applied (JSON).
    pub manifest: String,
    /// When it was applied.
    pub applied_at: Timestamp,
}

/// An applied CronJob, without its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronJobHead {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its spec hash.
    pub spec_hash: String,
    /// When it was last applied.
    pub applied_at: Timestamp,
}

/// A Job instance: from a manifest, or created by a CronJob for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Unique id of this instance (a re-run is a new uid).
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The CronJob that created it, if any.
    pub owner_cronjob: Option<String>,
    /// Spec hash of the manifest it ran.
    pub spec_hash: String,
    /// The Job as created (JSON).
    pub manifest: String,
    /// The CronJob slot it runs for.
    pub scheduled_time: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// The Job controller's status.
    pub status: Status,
    /// When it was deleted (TTL, history limit, replace, re-run); kept for history.
    pub deleted_at: Option<Timestamp>,
}

impl JobRecord {
    /// A new, not yet started Job instance.
    pub fn new(
        uid: &str,
        namespace: &str,
        name: &str,
        spec_hash: &str,
        manifest: &str,
        created_at: Timestamp,
    ) -> JobRecord {
        JobRecord {
            uid: uid.into(),
            namespace: namespace.into(),
            name: name.into(),
            owner_cronjob: None,
            spec_hash: spec_hash.into(),
            manifest: manifest.into(),
            scheduled_time: None,
            created_at,
            status: Status::default(),
            deleted_at: None,
        }
    }
}

/// One pod (attempt) of a Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRecord {
    /// Row id, assigned on insert.
    pub id: i64,
    /// Its Job.
    pub job_uid: String,
    /// Pod name.
    pub name: String,
    /// Completion index (Indexed Jobs).
    pub completion_index: Option<i32>,
    /// Phase.
    pub phase: Phase,
    /// Its container processes still running, for recovery after a crash.
    pub processes: Vec<HostProcess>,
    /// Its supervisor, while it runs (see [`crate::target::local::supervisor`]).
    pub supervisor: Option<Supervisor>,
    /// The boot the processes belong to (pids mean nothing after a reboot).
    pub boot_id: Option<String>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Last exit of each container.
    pub exits: Vec<(String, Exit)>,
    /// The termination message of each container that left one.
    pub messages: Vec<(String, String)>,
    /// Why it ended, when not plainly (`Deleted`, `NodeLost`, …).
    pub reason: Option<String>,
    /// Container restarts.
    pub restarts: i32,
    /// Directory with its logs.
    pub log_dir: String,
}

/// A container process of a pod, as recorded while it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostProcess {
    /// Container name.
    pub container: String,
    /// Process id, which is also its process group.
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field
    /// 22): with the boot id, this tells the process from a later one that
    /// reuses its pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
}

/// A pod's supervisor process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Supervisor {
    /// Process id.
    pub pid: u32,
    /// When it started, in clock ticks since boot (tells it from a later
    /// process with its pid).
    pub start_ticks: Option<u64>,
}

/// A CronJob's scheduling state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronState {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The controller's view.
    pub state: cron_controller::State,
}

/// A run-once ledger entry: this spec of this Job ran, with this outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Source name.
    pub source: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Spec hash.
    pub spec_hash: String,
    /// `Complete`, `Failed`, or `Running`.
    pub outcome: String,
    /// The Job instance, if it still exists.
    pub job_uid: Option<String>,
    /// When recorded.
    pub recorded_at: Timestamp,
}

pub(super) fn time(t: Timestamp) -> String {
    t.to_string()
}

/// A stored value that does not read back: reported as a conversion failure
/// of its column.
fn unreadable(column: usize, detail: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        detail.to_string().into(),
    )
}

pub(super) fn ts(row: &Row<'_>, column: usize) -> rusqlite::Result<Timestamp> {
    let text: String = row.get(column)?;
    text.parse().map_err(|e| unreadable(column, e))
}

pub(super) fn ts_opt(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| t.parse().map_err(|e| unreadable(column, e)))
        .transpose()
}

fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, column: usize) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| unreadable(column, e))
}

fn object_row(r: &Row<'_>) -> rusqlite::Result<AppliedObject> {
    let kind: String = r.get(0)?;
    Ok(AppliedObject {
        kind: match kind.as_str() {
            "Job" => Kind::Job,
            "CronJob" => Kind::CronJob,
            "ConfigMap" => Kind::ConfigMap,
            other => return Err(unreadable(0, format!("unknown kind {other:?}"))),
        },
        namespace: r.get(1)?,
        name: r.get(2)?,
        source: r.get(3)?,
        revision: r.get(4)?,
        path: r.get(5)?,
        spec_hash: r.get(6)?,
        manifest: r.get(7)?,
        applied_at: ts(r, 8)?,
    })
}

fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        uid: r.get(0)?,
        namespace: r.get(1)?,
        name: r.get(2)?,
        owner_cronjob: r.get(3)?,
        spec_hash: r.get(4)?,
        manifest: r.get(5)?,
        scheduled_time: ts_opt(r, 6)?,
        created_at: ts(r, 7)?,
        status: json(r, 8)?,
        deleted_at: ts_opt(r, 9)?,
    })
}

const JOB_COLUMNS: &str = "uid, namespace, name, owner_cronjob, spec_hash, manifest, scheduled_time, created_at, status, deleted_at";
const POD_COLUMNS: &str = "id, job_uid, name, completion_index, phase, processes, boot_id, started_at, finished_at, exits, reason, restarts, log_dir, supervisor, messages";

fn pod_row(r: &Row<'_>) -> rusqlite::Result<PodRecord> {
    let phase: String = r.get(4)?;
    Ok(PodRecord {
        id: r.get(0)?,
        job_uid: r.get(1)?,
        name: r.get(2)?,
        completion_index: r.get(3)?,
        phase: match phase.as_str() {
            "Pending" => Phase::Pending,
            "Running" => Phase::Running,
            "Succeeded" => Phase::Succeeded,
            "Failed" => Phase::Failed,
            other => return Err(unreadable(4, format!("unknown phase {other:?}"))),
        },
        processes: json(r, 5)?,
        boot_id: r.get(6)?,
        started_at: ts_opt(r, 7)?,
        finished_at: ts_opt(r, 8)?,
        exits: json(r, 9)?,
        reason: r.get(10)?,
        restarts: r.get(11)?,
        log_dir: r.get(12)?,
        supervisor: r
            .get::<_, Option<String>>(13)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| unreadable(13, e.to_string()))?,
        messages: json(r, 14)?,
    })
}

fn kind_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Job => "Job",
        Kind::CronJob => "CronJob",
        Kind::ConfigMap => "ConfigMap",
    }
}

fn phase_text(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "Pending",
        Phase::Running => "Running",
        Phase::Succeeded => "Succeeded",
        Phase::Failed => "Failed",
    }
}

impl Store {
    /// Records an applied object (replacing an earlier version).
    pub fn put_object(&self, o: &AppliedObject) -> Result<(), Error> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO objects (kind, namespace, name, source, revision, path, spec_hash, manifest, applied_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    kind_text(o.kind),
                    o.namespace,
                    o.name,
                    o.source,
                    o.revision,
                    o.path,
                    o.spec_hash,
                    o.manifest,
                    time(o.applied_at)
                ])
            })
            .map(drop)
            .map_err(|e| self.sqlite("recording an applied object", e))
    }

    /// Forgets an applied object (pruned).
    pub fn delete_object(&self, kind: Kind, namespace: &str, name: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                params![kind_text(kind), namespace, name],
            )
            .map(drop)
            .map_err(|e| self.sqlite("deleting an applied object", e))
    }

    /// The applied object of `kind` named `namespace/name`, if any.
    pub fn object(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<AppliedObject>, Error> {
        use rusqlite::OptionalExtension;
        self.conn
            .prepare_cached(
                "SELECT kind, namespace, name, source, revision, path, spec_hash, manifest, applied_at
                 FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![kind_text(kind), namespace, name], object_row)
                    .optional()
            })
            .map_err(|e| self.sqlite("reading an applied object", e))
    }

    /// The applied objects of `source` (by the `objects_source` index),
    /// and those named in `wanted`, whatever their source.
    pub fn objects_for(
        &self,
        source: &str,
        wanted: &[(Kind, String, String)],
    ) -> Result<Vec<AppliedObject>, Error> {
        let mut found: Vec<AppliedObject> = self
            .conn
            .prepare_cached(
                "SELECT kind, namespace, name, source, revision, path, spec_hash, manifest, applied_at
                 FROM objects WHERE source = ?1",
            )
            .and_then(|mut st| st.query_map(params![source], object_row)?.collect())
            .map_err(|e| self.sqlite("listing applied objects", e))?;
        // A name the source holds already is held by nothing else (one row
        // per kind, namespace and name): only the others are looked up.
        let held: std::collections::HashSet<(Kind, &str, &str)> = found
            .iter()
            .map(|o| (o.kind, o.namespace.as_str(), o.name.as_str()))
            .collect();
        let others: Vec<AppliedObject> = wanted
            .iter()
            .filter(|(kind, namespace, name)| !held.contains(&(*kind, namespace, name)))
            .filter_map(|(kind, namespace, name)| self.object(*kind, namespace, name).transpose())
            .collect::<Result<_, _>>()?;
        found.extend(others.into_iter().filter(|o| o.source != source));
        Ok(found)
    }

    /// Every applied CronJob's name, spec hash and time of applying,
    /// without its manifest: what the scheduler reads at each pass.
    pub fn cronjob_heads(&self) -> Result<Vec<CronJobHead>, Error> {
        self.conn
            .prepare_cached(
                "SELECT namespace, name, spec_hash, applied_at FROM objects
                 WHERE kind = 'CronJob' ORDER BY namespace, name",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok(CronJobHead {
                        namespace: r.get(0)?,
                        name: r.get(1)?,
                        spec_hash: r.get(2)?,
                        applied_at: ts(r, 3)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.sqlite("listing applied CronJobs", e))
    }

    /// Every applied object, by kind, namespace and name.
    pub fn objects(&self) -> Result<Vec<AppliedObject>, Error> {
        self.conn
            .prepare_cached(
                "SELECT kind, namespace, name, source, revision, path, spec_hash, manifest, applied_at
                 FROM objects ORDER BY kind DESC, namespace, name",
            )
            .and_then(|mut st| st.query_map([], object_row)?.collect())
            .map_err(|e| self.sqlite("listing applied objects", e))
    }

    /// Records a new Job instance.
    pub fn insert_job(&self, j: &JobRecord) -> Result<(), Error> {
        let status = serde_json::to_string(&j.status).expect("a Job status always serializes");
        self.conn
            .execute(
                "INSERT INTO jobs (uid, namespace, name, owner_cronjob, spec_hash, manifest, scheduled_time, created_at, status, deleted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    j.uid,
                    j.namespace,
                    j.name,
                    j.owner_cronjob,
                    j.spec_hash,
                    j.manifest,
                    j.scheduled_time.map(time),
                    time(j.created_at),
                    status,
                    j.deleted_at.map(time)
                ],
            )
            .map(drop)
            .map_err(|e| self.sqlite(&format!("recording Job {}/{}", j.namespace, j.name), e))
    }

    /// Saves a Job's status.
    pub fn update_job_status(&self, uid: &str, status: &Status) -> Result<(), Error> {
        let status = serde_json::to_string(status).expect("a Job status always serializes");
        self.conn
            .prepare_cached("UPDATE jobs SET status = ?2 WHERE uid = ?1")
            .and_then(|mut st| st.execute(params![uid, status]))
            .map(drop)
            .map_err(|e| self.sqlite("saving a Job status", e))
    }

    /// Marks a Job deleted; its pods and history stay.
    pub fn mark_job_deleted(&self, uid: &str, at: Timestamp) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE jobs SET deleted_at = ?2 WHERE uid = ?1 AND deleted_at IS NULL",
                params![uid, time(at)],
            )
            .map(drop)
            .map_err(|e| self.sqlite("deleting a Job", e))
    }

    /// Jobs not deleted, oldest first.
    pub fn live_jobs(&self) -> Result<Vec<JobRecord>, Error> {
        self.jobs_where("deleted_at IS NULL", params![])
    }

    /// Every Job instance, deleted ones included, oldest first.
    pub fn all_jobs(&self) -> Result<Vec<JobRecord>, Error> {
        self.jobs_where("1 = 1", params![])
    }

    /// The newest `limit` Job instances, deleted ones included, oldest
    /// first.
    pub fn recent_jobs(&self, limit: usize) -> Result<Vec<JobRecord>, Error> {
        self.jobs_where(
            "rowid IN (SELECT rowid FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?1)",
            params![limit as i64],
        )
    }

    /// Every Job instance of a name (history included), oldest first.
    pub fn jobs_named(&self, namespace: &str, name: &str) -> Result<Vec<JobRecord>, Error> {
        self.jobs_where("namespace = ?1 AND name = ?2", params![namespace, name])
    }

    fn jobs_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<JobRecord>, Error> {
        self.select(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {condition} ORDER BY created_at, rowid"),
            args,
            job_row,
            "listing Jobs",
        )
    }

    /// Records a new pod; returns its id.
    pub fn insert_pod(&self, p: &PodRecord) -> Result<i64, Error> {
        let exits = serde_json::to_string(&p.exits).expect("exits always serialize");
        let messages = serde_json::to_string(&p.messages).expect("messages always serialize");
        let processes = serde_json::to_string(&p.processes).expect("processes always serialize");
        let supervisor = p
            .supervisor
            .map(|s| serde_json::to_string(&s).expect("always serializes"));
        self.conn
            .execute(
                "INSERT INTO pods (job_uid, name, completion_index, phase, processes, boot_id, started_at, finished_at, exits, reason, restarts, log_dir, supervisor, messages)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    p.job_uid,
                    p.name,
                    p.completion_index,
                    phase_text(p.phase),
                    processes,
                    p.boot_id,
                    p.started_at.map(time),
                    p.finished_at.map(time),
                    exits,
                    p.reason,
                    p.restarts,
                    p.log_dir,
                    supervisor,
                    messages
                ],
            )
            .map_err(|e| self.sqlite(&format!("recording pod {}", p.name), e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the supervisor of pod `id`.
    pub fn set_pod_supervisor(&self, id: i64, supervisor: Option<Supervisor>) -> Result<(), Error> {
        let supervisor = supervisor.map(|s| serde_json::to_string(&s).expect("always serializes"));
        self.conn
            .execute(
                "UPDATE pods SET supervisor = ?2 WHERE id = ?1",
                params![id, supervisor],
            )
            .map(drop)
            .map_err(|e| self.sqlite(&format!("recording the supervisor of pod {id}"), e))
    }

    /// Removes a pod that never ran.
    pub fn delete_pod(&self, id: i64) -> Result<(), Error> {
        self.conn
            .execute("DELETE FROM pods WHERE id = ?1", params![id])
            .map(drop)
            .map_err(|e| self.sqlite(&format!("removing pod {id}"), e))
    }

    /// Saves a pod's progress.
    pub fn update_pod(&self, p: &PodRecord) -> Result<(), Error> {
        let exits = serde_json::to_string(&p.exits).expect("exits always serialize");
        let messages = serde_json::to_string(&p.messages).expect("messages always serialize");
        let processes = serde_json::to_string(&p.processes).expect("processes always serialize");
        let supervisor = p
            .supervisor
            .map(|s| serde_json::to_string(&s).expect("always serializes"));
        self.conn
            .prepare_cached(
                "UPDATE pods SET phase = ?2, processes = ?3, boot_id = ?4, started_at = ?5, finished_at = ?6, exits = ?7, reason = ?8, restarts = ?9, supervisor = ?10, messages = ?11
                 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    p.id,
                    phase_text(p.phase),
                    processes,
                    p.boot_id,
                    p.started_at.map(time),
                    p.finished_at.map(time),
                    exits,
                    p.reason,
                    p.restarts,
                    supervisor,
                    messages
                ])
            })
            .map(drop)
            .map_err(|e| self.sqlite(&format!("saving pod {}", p.name), e))
    }

    /// The pods of a Job, in creation order.
    pub fn pods_of(&self, job_uid: &str) -> Result<Vec<PodRecord>, Error> {
        self.pods_where("job_uid = ?1", params![job_uid])
    }

    /// The pod named `name`, if any.
    pub fn pod_named(&self, name: &str) -> Result<Option<PodRecord>, Error> {
        Ok(self.pods_where("name = ?1", params![name])?.pop())
    }

    /// Pods that were running or pending: after a crash, these are the ones
    /// to adopt or stop.
    pub fn unfinished_pods(&self) -> Result<Vec<PodRecord>, Error> {
        self.pods_where("phase IN ('Pending', 'Running')", params![])
    }

    fn pods_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<PodRecord>, Error> {
        self.select(
            &format!("SELECT {POD_COLUMNS} FROM pods WHERE {condition} ORDER BY id"),
            args,
            pod_row,
            "listing pods",
        )
    }

    /// Rows of a query, each read by `row`; `what` names the query in errors.
    pub(super) fn select<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
        what: &str,
    ) -> Result<Vec<T>, Error> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_map(args, row)?.collect())
            .map_err(|e| self.sqlite(what, e))
    }

    /// Runs `writes` in one transaction: all of them are recorded, or none
    /// (a crash half-way loses them all). `what` names them for an error.
    pub fn atomically<T>(
        &self,
        what: &str,
        writes: impl FnOnce(&Store) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite("starting a transaction", e))?;
        let done = writes(self)?;
        tx.commit().map_err(|e| self.sqlite(what, e))?;
        Ok(done)
    }

    /// Records a Job a CronJob starts together with the CronJob's new state:
    /// a slot is either taken and remembered, or neither.
    pub fn insert_scheduled_job(&self, job: &JobRecord, cron: &CronState) -> Result<(), Error> {
        self.atomically(&format!("recording Job {}", job.name), |s| {
            s.insert_job(job)?;
            s.put_cron_state(cron)
        })
    }

    /// A Job instance by uid.
    pub fn job(&self, uid: &str) -> Result<Option<JobRecord>, Error> {
        Ok(self.jobs_where("uid = ?1", params![uid])?.pop())
    }
}
