//! Runs one Job instance to its end on this machine: the Job controller's
//! decisions ([`job_controller::sync`]) carried out with real pods
//! ([`pod::run`]), every step saved in the store.
//!
//! One task runs one Job. It syncs, creates and stops pods as told, then
//! waits for a pod to change or for the controller's requeue time (a retry
//! delay or a deadline), and syncs again, until the Job has a terminal
//! condition and no pod is left.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::clock::{Clock, sleep_until};
use super::container::{self, Process};
use super::downward;
use super::engine::{Allowed, ContainerRuntime, Engine};
use super::isolation::{Isolation, Sandbox};
use super::job_controller::{self, Phase, Status};
use super::pod::{self, Plan};
use super::procfs;
use super::store::{self, HostProcess, JobRecord, PodRecord, Store, Supervisor};
use super::supervisor::{self, FollowError, Supervised};

/// Grace period when the pod template sets none, as Kubernetes defaults it.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// What a Job run needs from the executor.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The executor's state.
    pub store: Arc<Mutex<Store>>,
    /// Where pods keep their logs and their supervisors' files.
    pub pods_dir: PathBuf,
    /// Where pods have their scratch directories (outside the state
    /// directory: a container must not start inside it).
    pub scratch_dir: PathBuf,
    /// How containers are kept from jobcd.
    pub isolation: Isolation,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Bytes of output kept per container.
    pub log_cap: u64,
    /// Base of the Job retry delay (10 s; tests scale it down).
    pub backoff_base: Duration,
    /// Base of CrashLoopBackOff for OnFailure (10 s; tests scale it down).
    pub crash_backoff: Duration,
    /// How to start a pod's supervisor.
    pub supervisor: supervisor::Command,
    /// This machine as the pods' node, for the downward API.
    pub node: downward::Node,
    /// The Secrets pods read.
    pub secrets: super::secrets::Store,
    /// The container engine pods run on; None for host processes.
    pub engine: Option<Engine>,
    /// What pods on an engine may use of this machine.
    pub allowed: Allowed,
}

/// Why a Job could not be run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest asks for something the local executor cannot do. (The
    /// message leaves the Job out: whoever reports it names the Job.)
    #[error("{problem}")]
    Unsupported {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// What, with the field path.
        problem: String,
    },
    /// A ConfigMap or key a container reads is missing: on a node its pod
    /// would wait (`CreateContainerConfigError`).
    #[error("{problem}")]
    MissingConfig {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// What is missing, with the field path.
        problem: String,
    },
    /// The Secret store could not be read.
    #[error(transparent)]
    Secrets(#[from] super::secrets::Error),
    /// The executor was opened to read, not to run.
    #[error("cannot {what}: the executor was opened to read; start it to run Jobs")]
    ReadOnly {
        /// What was asked ("run Job default/pi", "fire CronJobs").
        what: String,
    },
    /// An object of another kind was given to run as a Job.
    #[error("{id} is not a Job")]
    NotAJob {
        /// The object.
        id: crate::manifest::ObjectRef,
    },
    /// No such object has been applied.
    #[error("no {kind} {namespace}/{name} has been applied; see `jobcd local status`")]
    NotApplied {
        /// Job or CronJob.
        kind: crate::manifest::Kind,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A manifest jobcd stored does not decode (the state directory was
    /// written by another jobcd, or damaged).
    #[error(
        "{kind} {namespace}/{name}: its stored manifest does not decode; apply it again, or move the state directory away to start afresh"
    )]
    Stored {
        /// Job or CronJob.
        kind: crate::manifest::Kind,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Starting a pod's supervisor failed.
    #[error("starting the supervisor of pod {pod} failed")]
    Spawn {
        /// The pod.
        pod: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Following a pod failed (jobcd's fault, not the pod's: the pod keeps
    /// running, and the next start adopts it).
    #[error(transparent)]
    Follow(FollowError),
}

/// An annotation that makes a run panic, so tests can show a panic is
/// contained (only in test builds).
#[cfg(test)]
pub(crate) const PANIC_FOR_TESTS: &str = "test.jobcd.dev/panic";

/// Progress of a run, for people watching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A pod was created.
    PodCreated {
        /// Pod name.
        pod: String,
        /// Completion index.
        index: Option<i32>,
    },
    /// A pod ended.
    PodEnded {
        /// Pod name.
        pod: String,
        /// Its phase (Succeeded or Failed), or None when it was stopped.
        phase: Option<Phase>,
    },
    /// A container of a pod cannot start yet.
    PodWaiting {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
        /// The kubelet's reason.
        reason: String,
        /// What went wrong.
        message: String,
    },
}

/// A request to end a run before the Job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The Job is deleted (replaced, pruned, or cleaned up): its pods are
    /// stopped and recorded as `Deleted`.
    Delete,
    /// jobcd is shutting down: its pods are stopped and recorded as failed
    /// with `TerminationByKubelet`, as a graceful node shutdown records
    /// them; the Job resumes at the next start and counts them as failures.
    Shutdown,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The Job reached a terminal condition.
    Finished(Status),
    /// It was deleted.
    Deleted,
    /// jobcd stopped it to shut down; it is still unfinished.
    Interrupted,
}

/// Pod reason for pods stopped because their Job was deleted.
pub const REASON_DELETED: &str = "Deleted";
/// Pod reason for pods stopped because jobcd shut down.
pub const REASON_SHUTDOWN: &str = "TerminationByKubelet";
/// Why a Job failed whose pod could not start for a missing ConfigMap or
/// key (the kubelet's reason for the waiting container).
pub const REASON_CONFIG: &str = "CreateContainerConfigError";

/// What a pod task tells the run.
enum Message {
    /// Its supervisor started.
    Supervised(Supervisor),
    Event(pod::Event),
    Done(Result<pod::Outcome, FollowError>),
    /// Its supervisor could not be started.
    Unstarted(Error),
}

struct Live {
    record: PodRecord,
    stop: watch::Sender<bool>,
    terminating: bool,
    done: bool,
}

impl Runtime {
    /// Where containers run.
    pub fn container_runtime(&self) -> ContainerRuntime {
        match self.engine.as_ref().map(|e| e.kind) {
            None => ContainerRuntime::Process,
            Some(super::engine::Kind::Podman) => ContainerRuntime::Podman,
            Some(super::engine::Kind::Docker) => ContainerRuntime::Docker,
        }
    }

    /// The sandbox of pod `pod`'s containers, where there is one: jobcd's
    /// state directory and every pod's scratch directory hidden, but its own.
    fn sandbox(&self, pod: &str) -> Option<Sandbox> {
        let Isolation::Bubblewrap(bwrap) = &self.isolation else {
            return None;
        };
        if self.engine.is_some() {
            // The engine isolates its containers.
            return None;
        }
        Some(Sandbox {
            bwrap: bwrap.clone(),
            hide: self
                .pods_dir
                .parent()
                .into_iter()
                .map(Path::to_path_buf)
                .chain([self.scratch_dir.clone()])
                .collect(),
            keep: vec![self.scratch_dir.join(pod)],
        })
    }

    /// Runs `f` on the store from the blocking pool.
    pub(crate) async fn with_store<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, store::Error> + Send + 'static,
    {
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || {
            f(&store.lock().expect("no thread panics holding the store"))
        })
        .await
        .expect("store calls do not panic");
        result.map_err(Error::Store)
    }
}

/// Runs `record` (already stored) as `job` until it ends; returns its status.
pub async fn run(
    rt: &Runtime,
    record: JobRecord,
    job: &Job,
    progress: Option<mpsc::UnboundedSender<Progress>>,
) -> Result<Status, Error> {
    let (_keep, never) = watch::channel(None);
    let progress = move |p: Progress| {
        if let Some(progress) = &progress {
            let _ = progress.send(p);
        }
    };
    match run_until(rt, record, job, progress, never).await? {
        Ended::Finished(status) => Ok(status),
        Ended::Deleted | Ended::Interrupted => unreachable!("nothing asked the run to stop"),
    }
}

/// Runs `record` (already stored, possibly with pods from before a
/// restart) as `job` until it ends or `stop` asks it to end.
pub async fn run_until(
    rt: &Runtime,
    mut record: JobRecord,
    job: &Job,
    progress: impl Fn(Progress) + Send,
    mut stop: watch::Receiver<Option<Stop>>,
) -> Result<Ended, Error> {
    #[cfg(test)]
    if job
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(PANIC_FOR_TESTS))
    {
        panic!("a panic injected by a test");
    }
    let unsupported = |problem: String| Error::Unsupported {
        namespace: record.namespace.clone(),
        name: record.name.clone(),
        problem,
    };
    let job_spec = job.spec.clone().unwrap_or_default();
    let mut spec = job_controller::Spec::from_job(&job_spec).map_err(unsupported)?;
    spec.backoff_base = rt.backoff_base;
    check(job, rt.container_runtime(), &rt.allowed).map_err(|e| unsupported(e.to_string()))?;
    let pod_spec = job_spec.template.spec.clone().unwrap_or_default();
    let grace = pod_spec
        .termination_grace_period_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_GRACE, Duration::from_secs);

    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, Message)>();
    let mut tasks = JoinSet::new();
    let mut pods = earlier_pods(rt, &record, &tx, &mut tasks).await?;
    let mut stopping: Option<Stop> = *stop.borrow_and_update();
    let report = progress;
    // The status as last saved: unchanged syncs write nothing.
    let mut saved: Option<Status> = None;
    // On any error, the pods still running are stopped before returning:
    // the run owns them and must not leave them unsupervised.
    let result: Result<(), Error> = async {
        loop {
            if let Some(how) = stopping {
                for live in pods.iter_mut().filter(|p| !p.done) {
                    live.terminating = true;
                    let _ = live.stop.send(true);
                }
                if pods.iter().all(|p| p.done) {
                    break Ok(());
                }
                let Some((id, message)) = rx.recv().await else {
                    continue;
                };
                let reason = match how {
                    Stop::Delete => REASON_DELETED,
                    Stop::Shutdown => REASON_SHUTDOWN,
                };
                if let Some(pod) = handle(rt, &mut pods, id, message, Some(reason), &report)? {
                    rt.with_store(move |s| s.update_pod(&pod)).await?;
                }
                continue;
            }
            // Finished pods the controller has counted (or that it deleted)
            // no longer matter to it; leaving them out keeps a sync's cost
            // independent of how many pods the Job has had.
            let views: Vec<job_controller::Pod> = pods
                .iter()
                .filter(|p| {
                    !(p.done
                        && (p.terminating || record.status.counted.contains(&(p.record.id as u64))))
                })
                .map(|p| view(p, &record.namespace))
                .collect();
            let now = rt.clock.now();
            let actions = job_controller::sync(&spec, &mut record.status, &views, now);
            if saved.as_ref() != Some(&record.status) {
                let (uid, status) = (record.uid.clone(), record.status.clone());
                saved = Some(status.clone());
                rt.with_store(move |s| s.update_job_status(&uid, &status))
                    .await?;
            }

            for id in &actions.delete {
                if let Some(live) = pods.iter_mut().find(|p| p.record.id == *id as i64) {
                    live.terminating = true;
                    let _ = live.stop.send(true);
                }
            }
            let mut unstartable = None;
            for index in &actions.create {
                let started = start_pod(
                    rt,
                    &record,
                    &job_spec.template,
                    *index,
                    grace,
                    &tx,
                    &mut tasks,
                )
                .await;
                let live = match started {
                    Ok(live) => live,
                    Err(Error::MissingConfig { problem, .. }) => {
                        unstartable = Some(problem);
                        break;
                    }
                    Err(e) => return Err(e),
                };
                report(Progress::PodCreated {
                    pod: live.record.name.clone(),
                    index: *index,
                });
                pods.push(live);
            }
            // A node would keep such a pod waiting for its ConfigMap; a
            // run here ends, failed, saying what is missing (the ConfigMap
            // went after the Job was applied, or a CronJob's run needs
            // one that was never applied). The next pass saves it and
            // stops the pods already running.
            if let Some(problem) = unstartable {
                record.status.fail(REASON_CONFIG, &problem, rt.clock.now());
                continue;
            }
            if record.status.finished() && pods.iter().all(|p| p.done) {
                break Ok(());
            }

            let message = tokio::select! {
                m = rx.recv() => m,
                () = wake_at(rt.clock.as_ref(), actions.requeue_at) => None,
                Ok(()) = stop.changed() => {
                    stopping = *stop.borrow_and_update();
                    None
                }
            };
            let Some((id, message)) = message else {
                continue;
            };
            if let Some(pod) = handle(rt, &mut pods, id, message, None, &report)? {
                rt.with_store(move |s| s.update_pod(&pod)).await?;
            }
        }
    }
    .await;
    if result.is_err() {
        // jobcd cannot go on with this run (its disk is full, say), but the
        // pods can: their supervisors run them to their end, and the next
        // start adopts them and records how they really ended.
        tasks.shutdown().await;
    }
    while tasks.join_next().await.is_some() {}
    result?;
    Ok(match stopping {
        None => Ended::Finished(record.status),
        Some(Stop::Delete) => Ended::Deleted,
        Some(Stop::Shutdown) => Ended::Interrupted,
    })
}

/// Applies what a pod task reported to its record; returns the record to
/// save, if it changed. `stopped_as` is the reason for pods ending because
/// the run is stopping.
fn handle(
    rt: &Runtime,
    pods: &mut [Live],
    id: i64,
    message: Message,
    stopped_as: Option<&str>,
    report: &impl Fn(Progress),
) -> Result<Option<PodRecord>, Error> {
    let Some(live) = pods.iter_mut().find(|p| p.record.id == id) else {
        return Ok(None);
    };
    match message {
        Message::Supervised(supervisor) => {
            // The pod's task saved it before the hand-over; the run's copy
            // of the record learns it so that later saves keep it.
            live.record.supervisor = Some(supervisor);
            return Ok(None);
        }
        Message::Unstarted(e) => return Err(e),
        Message::Event(pod::Event::Started { container, pid }) => {
            live.record.phase = Phase::Running;
            live.record.processes.push(HostProcess {
                container,
                pid,
                start_ticks: procfs::start_ticks(pid),
            });
            live.record.started_at.get_or_insert(rt.clock.now());
        }
        Message::Event(pod::Event::Restarting { .. }) => live.record.restarts += 1,
        // The pod stays pending; whoever follows the run learns why.
        Message::Event(pod::Event::Waiting {
            container,
            reason,
            message,
            ..
        }) => {
            report(Progress::PodWaiting {
                pod: live.record.name.clone(),
                container,
                reason,
                message,
            });
            return Ok(None);
        }
        Message::Event(pod::Event::Exited { container, .. }) => {
            // Not worth a write: recovery checks a process is alive anyway,
            // and the pod's end, which follows, saves the list.
            live.record.processes.retain(|p| p.container != container);
            return Ok(None);
        }
        Message::Done(Err(FollowError::Lost(_))) => {
            live.done = true;
            lost(&mut live.record, rt.clock.now());
            report(Progress::PodEnded {
                pod: live.record.name.clone(),
                phase: (!live.terminating).then_some(live.record.phase),
            });
        }
        Message::Done(Err(e)) => return Err(Error::Follow(e)),
        Message::Done(Ok(outcome)) => {
            live.done = true;
            live.record.processes.clear();
            live.record.supervisor = None;
            live.record.finished_at = Some(rt.clock.now());
            live.record.exits = outcome.exits;
            live.record.messages = outcome.messages;
            live.record.restarts = outcome.restarts;
            live.record.phase = if outcome.succeeded {
                Phase::Succeeded
            } else {
                Phase::Failed
            };
            let ended_itself = outcome.succeeded && !outcome.stopped;
            match stopped_as {
                // The run is stopping: whatever did not finish on its own
                // ends with the stop's reason (and fails, for a shutdown).
                Some(reason) if !ended_itself => {
                    live.record.phase = Phase::Failed;
                    live.record.reason = Some(reason.into());
                }
                // Stopped at the controller's request: deleted, not failed.
                None if live.terminating || outcome.stopped => {
                    live.record.reason = Some(REASON_DELETED.into());
                }
                _ => {}
            }
            report(Progress::PodEnded {
                pod: live.record.name.clone(),
                phase: (!live.terminating).then_some(live.record.phase),
            });
        }
    }
    Ok(Some(live.record.clone()))
}

/// Sleeps until `at`, or forever.
async fn wake_at(clock: &dyn Clock, at: Option<Timestamp>) {
    match at {
        Some(at) => sleep_until(clock, at).await,
        None => std::future::pending().await,
    }
}

/// The pods a Job already had (it is resuming after a restart): finished
/// ones as the controller last saw them, and unfinished ones adopted from
/// their supervisors (recovery left only those it could adopt unfinished;
/// see [`super::executor::recovery`]).
async fn earlier_pods(
    rt: &Runtime,
    record: &JobRecord,
    tx: &mpsc::UnboundedSender<(i64, Message)>,
    tasks: &mut JoinSet<()>,
) -> Result<Vec<Live>, Error> {
    let uid = record.uid.clone();
    let pods = rt.with_store(move |s| s.pods_of(&uid)).await?;
    Ok(pods
        .into_iter()
        .map(|mut record| {
            if record.finished_at.is_some() {
                return Live {
                    terminating: record.reason.as_deref() == Some(REASON_DELETED),
                    record,
                    stop: watch::Sender::new(true),
                    done: true,
                };
            }
            // Its events are read again from the start.
            record.restarts = 0;
            record.processes.clear();
            let supervised = Supervised::adopt(
                &rt.pods_dir.join(&record.name),
                &record.name,
                record.supervisor,
            );
            let (stop, stop_rx) = watch::channel(false);
            tasks.spawn(follow(record.id, supervised, tx.clone(), stop_rx));
            Live {
                record,
                stop,
                terminating: false,
                done: false,
            }
        })
        .collect())
}

/// Follows a supervised pod to its end, telling the run `tx` what happens
/// to pod `id`.
async fn follow(
    id: i64,
    supervised: Supervised,
    tx: mpsc::UnboundedSender<(i64, Message)>,
    stop: watch::Receiver<bool>,
) {
    let events = tx.clone();
    let on_event = move |e| {
        let _ = events.send((id, Message::Event(e)));
    };
    let outcome = supervised.follow(on_event, stop).await;
    if let Err(FollowError::Lost(lost)) = &outcome {
        // Its supervisor was killed on its own: what is left of the pod's
        // processes (they carry its name) goes too, or nothing would ever
        // stop them.
        let pod = lost.pod.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let names = std::collections::HashSet::from([pod.clone()]);
            let groups = procfs::groups_by_env("HOSTNAME", &names);
            for group in groups.get(&pod).into_iter().flatten() {
                super::process::signal_group(*group, nix::sys::signal::Signal::SIGKILL);
            }
        })
        .await;
    }
    let _ = tx.send((id, Message::Done(outcome)));
}

/// Records `pod` as lost.
pub(crate) fn lost(pod: &mut PodRecord, now: Timestamp) {
    pod.phase = Phase::Failed;
    pod.finished_at = Some(now);
    pod.processes.clear();
    pod.supervisor = None;
    pod.reason = Some(REASON_LOST.into());
}

/// Pod reason for pods whose processes jobcd lost (it was killed): as the
/// pod garbage collector records pods of a node that is gone.
pub const REASON_LOST: &str = "DeletionByPodGC";

/// The controller's view of a pod. A container killed by a signal reports
/// exit code 128 + signal, as the kubelet does.
fn view(live: &Live, namespace: &str) -> job_controller::Pod {
    let r = &live.record;
    job_controller::Pod {
        id: r.id as u64,
        name: format!("{namespace}/{}", r.name),
        index: r.completion_index,
        phase: if live.done { r.phase } else { Phase::Running },
        restarts: r.restarts,
        exits: r.exits.iter().map(|(c, e)| (c.clone(), e.code())).collect(),
        finished: r.finished_at,
        terminating: live.terminating,
        disrupted: matches!(r.reason.as_deref(), Some(REASON_SHUTDOWN | REASON_LOST)),
    }
}

async fn start_pod(
    rt: &Runtime,
    job: &JobRecord,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    index: Option<i32>,
    grace: Duration,
    tx: &mpsc::UnboundedSender<(i64, Message)>,
    tasks: &mut JoinSet<()>,
) -> Result<Live, Error> {
    let name = match index {
        Some(i) => format!("{}-{i}-{}", job.name, suffix(&job.uid)),
        None => format!("{}-{}", job.name, suffix(&job.uid)),
    };
    let default_spec = k8s_openapi::api::core::v1::PodSpec::default();
    let pod_spec = template.spec.as_ref().unwrap_or(&default_spec);
    let mut provided = vec![("HOSTNAME".to_string(), name.clone())];
    if let Some(i) = index {
        provided.push(("JOB_COMPLETION_INDEX".to_string(), i.to_string()));
    }
    let facts = downward::Pod::of_job_pod(
        &job.namespace,
        &job.name,
        &job.uid,
        &name,
        index,
        template,
        rt.node.clone(),
    );
    let inputs = inputs_for(rt, &job.namespace, pod_spec).await?;
    let pod = container::Pod {
        provided: &provided,
        facts: &facts,
        containers: &pod_spec.containers,
        config_maps: Some(&inputs.config_maps),
        secrets: Some(&inputs.secrets),
    };
    let runtime = rt.container_runtime();
    let security = pod_spec.security_context.as_ref();
    let resolve = |list: &[k8s_openapi::api::core::v1::Container],
                   field: &str|
     -> Result<Vec<Process>, Error> {
        list.iter()
            .enumerate()
            .map(|(i, c)| {
                let path = format!("spec.template.spec.{field}[{i}]");
                container::resolve(c, &path, pod, runtime, security)
                    .map_err(|e| refused(&job.namespace, &job.name, e))
            })
            .collect()
    };
    let dir = rt.pods_dir.join(&name);
    let engine = match &rt.engine {
        Some(engine) => {
            Some(engine_pod(rt, engine, job, pod_spec, &facts, &inputs, &dir, &name).await?)
        }
        None => None,
    };
    let plan = Plan {
        init: resolve(
            pod_spec.init_containers.as_deref().unwrap_or_default(),
            "initContainers",
        )?,
        containers: resolve(&pod_spec.containers, "containers")?,
        restart_on_failure: pod_spec.restart_policy.as_deref() == Some("OnFailure"),
        grace,
        scratch: rt.scratch_dir.join(&name),
        sandbox: rt.sandbox(&name),
        dir: dir.clone(),
        log_cap: rt.log_cap,
        crash_backoff: rt.crash_backoff,
        engine,
    };
    let mut record = PodRecord {
        id: 0,
        job_uid: job.uid.clone(),
        name,
        completion_index: index,
        phase: Phase::Pending,
        processes: Vec::new(),
        supervisor: None,
        boot_id: boot_id(),
        started_at: None,
        finished_at: None,
        exits: Vec::new(),
        messages: Vec::new(),
        reason: None,
        restarts: 0,
        log_dir: dir.join("logs").display().to_string(),
    };
    let inserted = record.clone();
    record.id = rt.with_store(move |s| s.insert_pod(&inserted)).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (id, tx) = (record.id, tx.clone());
    let (rt, pod) = (rt.clone(), record.name.clone());
    tasks.spawn(async move {
        let spawn_error = |source| Error::Spawn {
            pod: pod.clone(),
            source,
        };
        // The supervisor is recorded before it gets its plan: a pod that
        // runs always has a recorded supervisor to adopt it from.
        let started = async {
            let mut supervised = Supervised::start(&rt.supervisor, &pod, &plan.dir)
                .await
                .map_err(spawn_error)?;
            let process = supervised.process();
            rt.with_store(move |s| s.set_pod_supervisor(id, process))
                .await?;
            if let Some(process) = process {
                let _ = tx.send((id, Message::Supervised(process)));
            }
            supervised.hand_over(&plan).await.map_err(spawn_error)?;
            Ok(supervised)
        };
        match started.await {
            Ok(supervised) => follow(id, supervised, tx, stop_rx).await,
            Err(e) => {
                let _ = tx.send((id, Message::Unstarted(e)));
            }
        }
    });
    Ok(Live {
        record,
        stop: stop_tx,
        terminating: false,
        done: false,
    })
}

/// Five characters to tell pods of a Job apart, like generateName's.
fn suffix(seed: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    super::ids::fresh(seed)
        .iter()
        .take(5)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// This boot's id: a pid recorded before a reboot means nothing after it.
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

mod checks;
mod engine_pod;
#[cfg(test)]
mod tests;

pub use checks::{check, check_config};
use checks::{inputs_for, refused};
use engine_pod::engine_pod;
