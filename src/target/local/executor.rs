//! The local executor's front door: applying manifests (recording them, and
//! running each Job that has not run with this spec), starting a CronJob's
//! Job on demand, and reading back runs and logs.
//!
//! Scheduled CronJob runs, TTL cleanup and recovery after a crash belong to
//! the long-running executor (`jobcd serve`), which builds on this.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::clock::Clock;
use super::job_controller::{BACKOFF_BASE, Status};
use super::job_runner::{self, Progress, Runtime};
use super::pod::CRASH_BACKOFF_BASE;
use super::process::DEFAULT_LOG_CAP;
use super::store::{self, AppliedObject, CronState, JobRecord, LedgerEntry, PodRecord, Store};
use super::{cron_controller, job_runner::Error};
use crate::manifest::{Kind, Object};

/// The local executor.
#[derive(Debug, Clone)]
pub struct Executor {
    runtime: Runtime,
}

/// What applying one Job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// It ran; this is how it ended.
    Ran(Status),
    /// It already ran with this spec (run once per spec): not run again.
    AlreadyRan {
        /// The recorded outcome.
        outcome: String,
    },
}

/// A Job run with its pods, for `jobcd local runs`.
#[derive(Debug, Clone)]
pub struct Run {
    /// The Job instance.
    pub job: JobRecord,
    /// Its pods, oldest first.
    pub pods: Vec<PodRecord>,
}

impl Executor {
    /// The store, for the short synchronous reads of the CLI.
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.runtime
            .store
            .lock()
            .expect("no thread panics holding the store")
    }

    /// Opens the executor's state in `state_dir`.
    pub fn open(state_dir: &Path, clock: Arc<dyn Clock>) -> Result<Executor, store::Error> {
        Ok(Executor {
            runtime: Runtime {
                store: Arc::new(Mutex::new(Store::open(state_dir)?)),
                pods_dir: state_dir.join("pods"),
                clock,
                log_cap: DEFAULT_LOG_CAP,
                backoff_base: BACKOFF_BASE,
                crash_backoff: CRASH_BACKOFF_BASE,
            },
        })
    }

    /// Records a CronJob (it fires under `jobcd serve`, or with run-now).
    pub fn apply_cronjob(
        &self,
        object: &Object,
        source: &str,
        revision: &str,
    ) -> Result<(), store::Error> {
        let now = self.runtime.clock.now();
        let store = self.store();
        store.put_object(&applied(object, &spec_hash(object), source, revision, now))?;
        if store
            .cron_state(&object.id.namespace, &object.id.name)?
            .is_none()
        {
            store.put_cron_state(&CronState {
                namespace: object.id.namespace.clone(),
                name: object.id.name.clone(),
                state: cron_controller::State {
                    created: now,
                    last_schedule: None,
                    last_successful: None,
                },
            })?;
        }
        Ok(())
    }

    /// Applies a Job: unless this spec already ran for `source`, runs it to
    /// its end (reporting progress) and records the outcome in the ledger.
    pub async fn apply_job(
        &self,
        object: &Object,
        job: &Job,
        source: &str,
        revision: &str,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<JobOutcome, Error> {
        let hash = spec_hash(object);
        let (namespace, name) = (object.id.namespace.clone(), object.id.name.clone());
        job_runner::check(job).map_err(|e| Error::Unsupported {
            namespace: namespace.clone(),
            name: name.clone(),
            problem: e.to_string(),
        })?;
        let now = self.runtime.clock.now();
        let record = JobRecord::new(
            &uid(&namespace, &name),
            &namespace,
            &name,
            &hash,
            object.manifest.json(),
            now,
        );
        let applied = applied(object, &hash, source, revision, now);
        let (ledger_source, fresh) = (source.to_string(), record.clone());
        let already = self
            .runtime
            .with_store(move |store| {
                if let Some(entry) = store.ledger(&ledger_source, &namespace, &name, &hash)?
                    && entry.outcome != RUNNING
                {
                    return Ok(Some(entry.outcome));
                }
                store.put_object(&applied)?;
                // A changed spec replaces the Job (Job templates are immutable).
                for old in store
                    .jobs_named(&namespace, &name)?
                    .iter()
                    .filter(|j| j.deleted_at.is_none())
                {
                    store.mark_job_deleted(&old.uid, now)?;
                }
                store.insert_job(&fresh)?;
                store.put_ledger(&ledger_entry(&ledger_source, &fresh, RUNNING, now))?;
                Ok(None)
            })
            .await?;
        if let Some(outcome) = already {
            return Ok(JobOutcome::AlreadyRan { outcome });
        }
        let status = job_runner::run(&self.runtime, record.clone(), job, progress).await?;
        let outcome = if status
            .condition(super::job_controller::ConditionType::Complete)
            .is_some()
        {
            "Complete"
        } else {
            "Failed"
        };
        let entry = ledger_entry(source, &record, outcome, self.runtime.clock.now());
        self.runtime
            .with_store(move |store| store.put_ledger(&entry))
            .await?;
        Ok(JobOutcome::Ran(status))
    }

    /// Starts a Job from a recorded CronJob's template now, as `kubectl
    /// create job --from=cronjob/NAME` does, and runs it to its end.
    pub async fn run_now(
        &self,
        namespace: &str,
        cronjob: &str,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<(String, Status), Error> {
        let (ns, cj) = (namespace.to_string(), cronjob.to_string());
        let object = self
            .runtime
            .with_store(move |store| {
                Ok(store
                    .objects()?
                    .into_iter()
                    .find(|o| o.kind == Kind::CronJob && o.namespace == ns && o.name == cj))
            })
            .await?;
        let Some(object) = object else {
            return Err(Error::Unsupported {
                namespace: namespace.into(),
                name: cronjob.into(),
                problem: "no such CronJob has been applied; see `jobcd local status`".into(),
            });
        };
        let cron: CronJob =
            serde_json::from_str(&object.manifest).map_err(|e| Error::Unsupported {
                namespace: namespace.into(),
                name: cronjob.into(),
                problem: format!("the recorded manifest does not decode: {e}"),
            })?;
        let template = cron.spec.map(|s| s.job_template).unwrap_or_default();
        let job = Job {
            metadata: template.metadata.unwrap_or_default(),
            spec: template.spec,
            status: None,
        };
        let now = self.runtime.clock.now();
        let name = format!("{cronjob}-manual-{}", now.as_second());
        let manifest = serde_json::to_string(&job).expect("a Job always serializes");
        let record = JobRecord {
            owner_cronjob: Some(cronjob.to_string()),
            ..JobRecord::new(
                &uid(namespace, &name),
                namespace,
                &name,
                &object.spec_hash,
                &manifest,
                now,
            )
        };
        let inserted = record.clone();
        self.runtime
            .with_store(move |store| store.insert_job(&inserted))
            .await?;
        let status = job_runner::run(&self.runtime, record, &job, progress).await?;
        Ok((name, status))
    }

    /// Job runs (all, or those named `name`), oldest first, with their pods.
    pub fn runs(&self, name: Option<&str>) -> Result<Vec<Run>, store::Error> {
        let store = self.store();
        let jobs = store.all_jobs()?;
        jobs.into_iter()
            .filter(|j| name.is_none_or(|n| j.name == n || j.owner_cronjob.as_deref() == Some(n)))
            .map(|job| {
                Ok(Run {
                    pods: store.pods_of(&job.uid)?,
                    job,
                })
            })
            .collect()
    }

    /// The applied objects.
    pub fn objects(&self) -> Result<Vec<AppliedObject>, store::Error> {
        self.store().objects()
    }

    /// The log files of a pod (one per container), if the pod exists.
    pub fn logs(&self, pod: &str) -> Result<Option<Vec<PathBuf>>, store::Error> {
        let dir = self.runtime.pods_dir.join(pod).join("logs");
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        Ok(Some(files))
    }
}

/// The ledger's outcome while a Job runs (so a crash does not mark it done).
const RUNNING: &str = "Running";

fn ledger_entry(source: &str, record: &JobRecord, outcome: &str, now: Timestamp) -> LedgerEntry {
    LedgerEntry {
        source: source.into(),
        namespace: record.namespace.clone(),
        name: record.name.clone(),
        spec_hash: record.spec_hash.clone(),
        outcome: outcome.into(),
        job_uid: Some(record.uid.clone()),
        recorded_at: now,
    }
}

fn applied(
    object: &Object,
    spec_hash: &str,
    source: &str,
    revision: &str,
    now: Timestamp,
) -> AppliedObject {
    AppliedObject {
        kind: object.id.kind,
        namespace: object.id.namespace.clone(),
        name: object.id.name.clone(),
        source: source.into(),
        revision: revision.into(),
        path: object.location.file.clone(),
        spec_hash: spec_hash.into(),
        manifest: object.manifest.json().to_string(),
        applied_at: now,
    }
}

/// SHA-256 of the manifest as written (JSON, keys in document order). The
/// normalised hash that ignores cosmetic edits comes with the reconcile step.
pub fn spec_hash(object: &Object) -> String {
    let digest = Sha256::digest(object.manifest.json().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Kubernetes-style uid (8-4-4-4-12 hex digits).
fn uid(namespace: &str, name: &str) -> String {
    let hex: String = super::ids::fresh(&format!("{namespace}/{name}"))
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
