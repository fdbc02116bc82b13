//! The local executor's front door: applying manifests (recording them, and
//! running each Job that has not run with this spec), starting a CronJob's
//! Job on demand, firing CronJobs on schedule ([`Executor::serve`]), and
//! reading back runs and logs.
//!
//! Reading needs nothing ([`Executor::open`]). Running needs the state
//! directory to itself ([`Executor::start`]): the runner lock proves that
//! any run recorded as unfinished lost its supervisor, so starting first
//! recovers those (see [`recovery`]) and resumes their Jobs.

mod active;
mod history;
pub mod lock;
mod operations;
pub mod recovery;
mod scheduler;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use tokio::sync::{mpsc, watch};

use super::clock::Clock;
use super::cron_controller;
use super::engine::{Allowed, ContainerRuntime, Engine};
use super::isolation::{self, Isolation};
use super::job_controller::BACKOFF_BASE;
use super::job_runner::{self, Error, Progress, Runtime, Stop};
use super::pod::CRASH_BACKOFF_BASE;
use super::process::DEFAULT_LOG_CAP;
use super::store::{
    self, AppliedObject, CronState, JobRecord, LEDGER_RUNNING, LedgerEntry, PodRecord, Store,
};
use super::supervisor;
use crate::hex::hex;
use crate::manifest::{Kind, Typed};
pub use crate::target::JobRef;
use crate::target::{Cause, Desired};
use active::Active;
pub use active::{Finished, Notice, REASON_INTERNAL, RunError};
use lock::RunnerLock;
pub use operations::outcome;
pub use recovery::Recovery;

pub use crate::ownership::BY_HAND;

/// The local executor.
#[derive(Debug, Clone)]
pub struct Executor {
    runtime: Runtime,
    active: Arc<Active>,
    /// Each CronJob's schedule and policies as the scheduler reads them,
    /// parsed once per apply rather than at every pass.
    cron_specs: Arc<Mutex<scheduler::Parsed>>,
    /// Held by a runner ([`Executor::start`]); None for a reader.
    lock: Option<Arc<RunnerLock>>,
}

/// Why the executor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another runner holds the state directory.
    #[error(transparent)]
    Lock(#[from] lock::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Recovering or resuming runs failed.
    #[error(transparent)]
    Recovery(#[from] Error),
    /// The container engine asked for cannot be used.
    #[error(transparent)]
    Engine(#[from] super::engine::Unavailable),
}

/// How a runner runs pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Where containers run.
    pub runtime: ContainerRuntime,
    /// What pods on an engine may use of this machine.
    pub allowed: Allowed,
}

/// What applying one Job did.
#[derive(Debug)]
pub enum Applied {
    /// A new run started.
    Started(RunHandle),
    /// This spec is already running (resumed after a restart): follow it.
    InFlight(RunHandle),
    /// It already ran with this spec (run once per spec): not run again.
    AlreadyRan {
        /// The recorded outcome.
        outcome: String,
    },
}

/// A run in flight, to wait for.
#[derive(Debug)]
pub struct RunHandle {
    /// The Job instance's uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    done: watch::Receiver<Option<Finished>>,
}

impl RunHandle {
    /// Waits for the run to end.
    pub async fn finished(mut self) -> Finished {
        match self.done.wait_for(Option::is_some).await {
            Ok(result) => result.clone().expect("waited for a result"),
            Err(_) => Err(RunError::Lost),
        }
    }
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

    /// Opens the executor's state in `state_dir` to read it.
    pub fn open(state_dir: &Path, clock: Arc<dyn Clock>) -> Result<Executor, store::Error> {
        Ok(Executor {
            runtime: Runtime {
                store: Arc::new(Mutex::new(Store::open(state_dir)?)),
                pods_dir: state_dir.join("pods"),
                scratch_dir: scratch_dir(state_dir),
                // A reader runs nothing; a runner finds out at its start.
                isolation: Isolation::Unavailable("not probed: this executor only reads".into()),
                clock,
                log_cap: DEFAULT_LOG_CAP,
                backoff_base: BACKOFF_BASE,
                crash_backoff: CRASH_BACKOFF_BASE,
                supervisor: super::supervisor::Command::this_binary(),
                // A reader runs nothing; a runner looks at its machine.
                node: super::downward::Node::default(),
                secrets: super::secrets::Store::new(state_dir),
                // A reader runs nothing; a runner gets its engine at start.
                engine: None,
                allowed: Allowed::default(),
            },
            active: Arc::new(Active::new()),
            cron_specs: Arc::default(),
            lock: None,
        })
    }

    /// Opens the executor's state in `state_dir` to run Jobs: takes the
    /// runner lock, recovers the runs a killed jobcd left, and resumes their
    /// Jobs. Must be called within a tokio runtime.
    pub async fn start(
        state_dir: &Path,
        clock: Arc<dyn Clock>,
        settings: &Settings,
    ) -> Result<(Executor, Recovery), StartError> {
        Executor::start_with(state_dir, clock, settings, |_| {}).await
    }

    /// [`Executor::start`], with the runtime's settings adjusted first
    /// (tests scale retry delays down).
    pub async fn start_with(
        state_dir: &Path,
        clock: Arc<dyn Clock>,
        settings: &Settings,
        adjust: impl FnOnce(&mut Runtime),
    ) -> Result<(Executor, Recovery), StartError> {
        std::fs::create_dir_all(state_dir).map_err(|source| store::Error::StateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        // The store first: a database that vanished is found before the
        // lock file is made (and before anything is recorded in a new one).
        let mut executor = Executor::open(state_dir, clock)?;
        let lock = RunnerLock::acquire(state_dir)?;
        executor.store().check()?;
        isolation::not_dumpable();
        executor.runtime.isolation = tokio::task::spawn_blocking(Isolation::probe)
            .await
            .unwrap_or_else(|e| Isolation::Unavailable(format!("probing failed: {e}")));
        let scratch = executor.runtime.scratch_dir.clone();
        executor.runtime.node = tokio::task::spawn_blocking(move || {
            super::downward::Node::here(scratch.parent().unwrap_or(&scratch))
        })
        .await
        .unwrap_or_default();
        if let Some(kind) = settings.runtime.engine() {
            let dir = state_dir.to_path_buf();
            let engine = tokio::task::spawn_blocking(move || Engine::probe(kind, &dir))
                .await
                .expect("probing an engine does not panic")?;
            executor.runtime.engine = Some(engine);
        }
        executor.runtime.allowed = settings.allowed.clone();
        adjust(&mut executor.runtime);
        executor.lock = Some(Arc::new(lock));
        let recovery = recovery::recover(&executor.runtime).await?;
        for record in &recovery.resume {
            match serde_json::from_str::<Job>(&record.manifest) {
                Ok(job) => executor.spawn_run(record.clone(), job, Cause::Recovered, None),
                Err(source) => {
                    return Err(StartError::Recovery(Error::Stored {
                        kind: Kind::Job,
                        namespace: record.namespace.clone(),
                        name: record.name.clone(),
                        source,
                    }));
                }
            }
        }
        Ok((executor, recovery))
    }

    /// How its containers are kept from jobcd.
    pub fn isolation(&self) -> &Isolation {
        &self.runtime.isolation
    }

    /// The container engine pods run on; None for host processes.
    pub fn engine(&self) -> Option<&Engine> {
        self.runtime.engine.as_ref()
    }

    /// Whether this executor may run Jobs (it holds the runner lock);
    /// `what` says what was asked, for the error.
    fn runner(&self, what: impl FnOnce() -> String) -> Result<(), Error> {
        match self.lock {
            Some(_) => Ok(()),
            None => Err(Error::ReadOnly { what: what() }),
        }
    }

    /// Records a CronJob (it fires under [`Executor::serve`], or with run-now).
    pub fn apply_cronjob(&self, desired: &Desired) -> Result<(), store::Error> {
        let now = self.runtime.clock.now();
        let id = &desired.object.id;
        let store = self.store();
        store.put_object(&applied(desired, now))?;
        if store.cron_state(&id.namespace, &id.name)?.is_none() {
            store.put_cron_state(&CronState {
                namespace: id.namespace.clone(),
                name: id.name.clone(),
                state: cron_controller::State {
                    created: now,
                    last_schedule: None,
                    last_successful: None,
                },
            })?;
        }
        drop(store);
        self.active.changed.notify_one();
        Ok(())
    }

    /// Applies a ConfigMap: kept for the pods that read it from now on (a
    /// pod already running keeps the values it started with, as a
    /// container's environment on a node does).
    pub fn apply_config_map(&self, desired: &Desired) -> Result<(), store::Error> {
        let now = self.runtime.clock.now();
        self.store().put_object(&applied(desired, now))
    }

    /// Applies a Job: unless this spec already ran (or is running) for
    /// `source`, replaces any other instance of the Job and starts a run.
    pub async fn apply_job(
        &self,
        desired: &Desired,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<Applied, Error> {
        let (object, source) = (&desired.object, desired.source.as_str());
        let hash = desired.spec_hash.clone();
        let (namespace, name) = (object.id.namespace.clone(), object.id.name.clone());
        self.runner(|| format!("run {}", object.id))?;
        let Typed::Job(job) = &object.typed else {
            return Err(Error::NotAJob {
                id: object.id.clone(),
            });
        };
        let runtime = self.runtime.container_runtime();
        job_runner::check(job, runtime, &self.runtime.allowed).map_err(|e| Error::Unsupported {
            namespace: namespace.clone(),
            name: name.clone(),
            problem: e.to_string(),
        })?;
        job_runner::check_config(&self.runtime, &namespace, job).await?;
        let (src, ns, n, h) = (
            source.to_string(),
            namespace.clone(),
            name.clone(),
            hash.clone(),
        );
        let (entry, others) = self
            .runtime
            .with_store(move |s| Ok((s.ledger(&src, &ns, &n, &h)?, s.jobs_named(&ns, &n)?)))
            .await?;
        if let Some(entry) = entry {
            if entry.outcome != LEDGER_RUNNING {
                return Ok(Applied::AlreadyRan {
                    outcome: entry.outcome,
                });
            }
            if let Some(handle) = entry.job_uid.as_deref().and_then(|u| self.handle(u)) {
                return Ok(Applied::InFlight(handle));
            }
        }
        // A changed spec replaces the Job (Job templates are immutable):
        // the old instance is deleted, its pods stopped, before the new one.
        for old in others.iter().filter(|j| j.deleted_at.is_none()) {
            if let Some(handle) = self.handle(&old.uid) {
                self.stop_run(&old.uid, Stop::Delete);
                let _ = handle.finished().await;
            } else {
                self.forget(old.uid.clone(), self.runtime.clock.now())
                    .await?;
            }
        }
        let now = self.runtime.clock.now();
        let record = JobRecord::new(
            &uid(&namespace, &name),
            &namespace,
            &name,
            &hash,
            object.manifest.json(),
            now,
        );
        let applied = applied(desired, now);
        let entry = ledger_entry(source, &record, LEDGER_RUNNING, now);
        let inserted = record.clone();
        // All three or none: an applied Job always has its instance and its
        // ledger entry, whenever jobcd is killed.
        self.runtime
            .with_store(move |s| {
                s.atomically(&format!("recording Job {}", inserted.name), |s| {
                    s.put_object(&applied)?;
                    s.insert_job(&inserted)?;
                    s.put_ledger(&entry)
                })
            })
            .await?;
        let uid = record.uid.clone();
        self.spawn_run(record, (**job).clone(), Cause::Sync, progress);
        Ok(Applied::Started(self.handle(&uid).expect("just started")))
    }

    /// Records a Job whose spec is the same but whose policy annotations
    /// changed (or which an older jobcd recorded under the hash it gave
    /// then): nothing runs, and the ledger knows the spec by its hash now.
    pub async fn update_job(&self, desired: &Desired) -> Result<(), Error> {
        let id = &desired.object.id;
        self.runner(|| format!("update {id}"))?;
        let applied = applied(desired, self.runtime.clock.now());
        let legacy = crate::plan::normalize::legacy_spec_hash(&desired.object);
        let (source, namespace, name, hash) = (
            desired.source.clone(),
            id.namespace.clone(),
            id.name.clone(),
            desired.spec_hash.clone(),
        );
        self.runtime
            .with_store(move |s| {
                s.atomically(&format!("recording Job {name}"), |s| {
                    s.put_object(&applied)?;
                    if let Some(legacy) = legacy
                        && s.ledger(&source, &namespace, &name, &hash)?.is_none()
                        && let Some(entry) = s.ledger(&source, &namespace, &name, &legacy)?
                    {
                        s.put_ledger(&LedgerEntry {
                            spec_hash: hash,
                            ..entry
                        })?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Starts a Job from a recorded CronJob's template now, as `kubectl
    /// create job --from=cronjob/NAME` does.
    pub async fn run_now(
        &self,
        namespace: &str,
        cronjob: &str,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<RunHandle, Error> {
        self.runner(|| format!("run CronJob {namespace}/{cronjob}"))?;
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
            return Err(Error::NotApplied {
                kind: Kind::CronJob,
                namespace: namespace.into(),
                name: cronjob.into(),
            });
        };
        let cron: CronJob =
            serde_json::from_str(&object.manifest).map_err(|source| Error::Stored {
                kind: Kind::CronJob,
                namespace: namespace.into(),
                name: cronjob.into(),
                source,
            })?;
        let now = self.runtime.clock.now();
        let name = format!("{cronjob}-manual-{}", now.as_second());
        let job = job_from_template(&cron, &name, None);
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
        let uid = record.uid.clone();
        self.spawn_run(record, job, Cause::CronJob, progress);
        Ok(self.handle(&uid).expect("just started"))
    }

    /// A handle on run `uid`, if it is in flight.
    fn handle(&self, uid: &str) -> Option<RunHandle> {
        self.active.handle(uid)
    }

    /// Marks a Job instance deleted and removes its pods' files (logs and
    /// scratch directories); its records stay for `jobcd local runs`. A Job
    /// applied on its own (not a CronJob's) is its applied object too, so
    /// that goes with it, as deleting a Job deletes the object on a cluster;
    /// the run-once ledger still knows it ran.
    async fn forget(&self, uid: String, now: Timestamp) -> Result<(), Error> {
        let (pods_dir, scratch_dir) = (
            self.runtime.pods_dir.clone(),
            self.runtime.scratch_dir.clone(),
        );
        self.runtime
            .with_store(move |s| {
                for pod in s.pods_of(&uid)? {
                    // A pod still running (its run ended on an error of
                    // jobcd's) is stopped by its supervisor.
                    if pod.finished_at.is_none()
                        && let Some(process) = pod.supervisor
                    {
                        supervisor::ask_to_stop(process);
                    }
                    let _ = std::fs::remove_dir_all(pods_dir.join(&pod.name));
                    let _ = std::fs::remove_dir_all(scratch_dir.join(&pod.name));
                }
                if let Some(job) = s.job(&uid)?.filter(|j| j.owner_cronjob.is_none()) {
                    s.delete_object(Kind::Job, &job.namespace, &job.name)?;
                }
                s.mark_job_deleted(&uid, now)
            })
            .await
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

    /// Every CronJob's scheduling state (since when it is followed, its
    /// last slot and success).
    pub fn cron_states(&self) -> Result<Vec<store::CronState>, store::Error> {
        self.store().cron_states()
    }

    /// What CronJob health reads, in one read off the async runtime: the
    /// applied objects, every CronJob's scheduling state, and every Job
    /// record (removed Jobs included: they ran their slots).
    pub async fn cronjob_records(
        &self,
    ) -> Result<
        (
            Vec<AppliedObject>,
            Vec<store::CronState>,
            Vec<store::JobRecord>,
        ),
        Error,
    > {
        self.runtime
            .with_store(|s| Ok((s.objects()?, s.cron_states()?, s.all_jobs()?)))
            .await
    }

    /// The pod named `name`, as last recorded.
    pub fn pod(&self, name: &str) -> Result<Option<PodRecord>, store::Error> {
        self.store().pod_named(name)
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

fn applied(desired: &Desired, now: Timestamp) -> AppliedObject {
    let object = &desired.object;
    AppliedObject {
        kind: object.id.kind,
        namespace: object.id.namespace.clone(),
        name: object.id.name.clone(),
        source: desired.source.clone(),
        revision: desired.revision.clone(),
        path: object.location.file.clone(),
        spec_hash: desired.spec_hash.clone(),
        manifest: object.manifest.json().to_string(),
        applied_at: now,
    }
}

/// A Job made from a CronJob's template, as the CronJob controller makes
/// it: the template's labels and annotations, and for a scheduled run the
/// `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation.
fn job_from_template(cron: &CronJob, name: &str, scheduled: Option<&str>) -> Job {
    let template = cron
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let mut metadata = template.metadata.unwrap_or_default();
    metadata.name = Some(name.to_string());
    metadata.namespace = cron.metadata.namespace.clone();
    if let Some(at) = scheduled {
        metadata.annotations.get_or_insert_default().insert(
            "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
            at.into(),
        );
    }
    Job {
        metadata,
        spec: template.spec,
        status: None,
    }
}

/// Where the pods of the state directory `state_dir` have their scratch
/// directories: under the system's temporary directory, one per state
/// directory (named by a hash of its path), never inside it.
fn scratch_dir(state_dir: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let state = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let digest = Sha256::digest(state.as_os_str().as_encoded_bytes());
    std::env::temp_dir().join(format!("jobcd-scratch-{}", &hex(&digest)[..16]))
}

/// A Kubernetes-style uid (8-4-4-4-12 hex digits).
fn uid(namespace: &str, name: &str) -> String {
    super::ids::uid(&super::ids::fresh(&format!("{namespace}/{name}")))
}

#[cfg(test)]
mod tests;
