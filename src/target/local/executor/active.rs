//! The runs in flight: each Job instance runs in its own task; the executor
//! can stop one, wait for one, or wait for all, and everyone can follow
//! what happens as a stream of [`Notice`]s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use k8s_openapi::api::batch::v1::Job;
use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::super::cron_controller;
use super::super::job_controller::Phase;
use super::super::job_runner::{self, Ended, Progress, Stop};
use super::super::store::JobRecord;
use super::Executor;
use super::recovery::outcome_of;
use crate::target::{Cause, EVENT_BUFFER, JobRef, PodChange, RunEvent};

/// Notices kept for a slow follower before it starts missing some.
const NOTICE_BUFFER: usize = 1024;

/// How a run ended, or why it could not go on (its Job stays unfinished
/// and resumes at the next start).
pub type Finished = Result<Ended, RunError>;

/// Why a run could not go on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    /// Running it, or recording what it did, failed.
    #[error("{}", crate::causes::one_line(.0.as_ref()))]
    Runner(Arc<job_runner::Error>),
    /// Its task ended without a result.
    #[error("the run's task ended without a result")]
    Lost,
    /// jobcd hit a bug while running it (a panic, contained to this run).
    #[error("jobcd failed while running it: {0}; the Job is marked failed (JobcdInternalError)")]
    Panicked(String),
}

/// The reason a Job failed by a panic in jobcd is recorded with.
pub const REASON_INTERNAL: &str = "JobcdInternalError";

/// Something that happened in the executor.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A Job instance started.
    Started {
        /// The Job.
        job: JobRef,
    },
    /// A run ended.
    Ended {
        /// The Job.
        job: JobRef,
        /// How.
        result: Finished,
    },
    /// A finished Job was removed (history limit or ttlSecondsAfterFinished).
    Removed {
        /// The Job.
        job: JobRef,
        /// Why, in Kubernetes' words.
        why: String,
    },
    /// The CronJob controller recorded an event.
    Cron {
        /// Namespace.
        namespace: String,
        /// CronJob name.
        name: String,
        /// The event.
        event: cron_controller::Event,
    },
}

impl JobRef {
    pub(super) fn of(record: &JobRecord) -> JobRef {
        JobRef {
            uid: record.uid.clone(),
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            owner_cronjob: record.owner_cronjob.clone(),
        }
    }
}

struct Entry {
    job: JobRef,
    stop: watch::Sender<Option<Stop>>,
    done: watch::Receiver<Option<Finished>>,
}

/// The registry of runs in flight.
pub(super) struct Active {
    runs: Mutex<HashMap<String, Entry>>,
    pub(super) notices: broadcast::Sender<Notice>,
    /// Run events, for [`crate::target::Target::events`].
    pub(super) events: broadcast::Sender<RunEvent>,
    /// Wakes the scheduler: a run ended, or objects changed.
    pub(super) changed: Notify,
    idle: watch::Sender<usize>,
}

impl std::fmt::Debug for Active {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Active")
            .field("runs", &self.count())
            .finish_non_exhaustive()
    }
}

impl Active {
    pub(super) fn new() -> Active {
        Active {
            runs: Mutex::new(HashMap::new()),
            notices: broadcast::Sender::new(NOTICE_BUFFER),
            events: broadcast::Sender::new(EVENT_BUFFER),
            changed: Notify::new(),
            idle: watch::Sender::new(0),
        }
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.runs
            .lock()
            .expect("no thread panics holding the registry")
    }

    fn count(&self) -> usize {
        self.runs().len()
    }

    pub(super) fn notify(&self, notice: Notice) {
        // Nobody listening is fine.
        let _ = self.notices.send(notice);
    }

    pub(super) fn handle(&self, uid: &str) -> Option<super::RunHandle> {
        let runs = self.runs();
        let entry = runs.get(uid)?;
        Some(super::RunHandle {
            uid: uid.to_string(),
            name: entry.job.name.clone(),
            done: entry.done.clone(),
        })
    }

    pub(super) fn running(&self) -> Vec<String> {
        self.runs().keys().cloned().collect()
    }
}

impl Executor {
    /// Starts running `record` (already stored) in its own task.
    pub(super) fn spawn_run(
        &self,
        record: JobRecord,
        job: Job,
        cause: Cause,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) {
        let (stop_tx, stop_rx) = watch::channel(None);
        let (done_tx, done_rx) = watch::channel(None);
        {
            let mut runs = self.active.runs();
            runs.insert(
                record.uid.clone(),
                Entry {
                    job: JobRef::of(&record),
                    stop: stop_tx,
                    done: done_rx,
                },
            );
            self.active.idle.send_replace(runs.len());
        }
        let job_ref = JobRef::of(&record);
        let _ = self.active.events.send(RunEvent::Started {
            job: job_ref.clone(),
            cause,
        });
        self.active.notify(Notice::Started {
            job: job_ref.clone(),
        });
        let executor = self.clone();
        let events = self.active.events.clone();
        let pods_of = job_ref.clone();
        let progress = move |p: Progress| {
            let (pod, change) = match &p {
                Progress::PodCreated { pod, index } => {
                    (pod.clone(), PodChange::Started { index: *index })
                }
                Progress::PodEnded { pod, phase } => (
                    pod.clone(),
                    match phase {
                        Some(Phase::Succeeded) => PodChange::Succeeded,
                        Some(_) => PodChange::Failed,
                        None => PodChange::Stopped,
                    },
                ),
                Progress::PodWaiting {
                    pod,
                    container,
                    reason,
                    message,
                } => (
                    pod.clone(),
                    PodChange::Waiting {
                        container: container.clone(),
                        reason: reason.clone(),
                        message: message.clone(),
                    },
                ),
            };
            let job = pods_of.clone();
            let _ = events.send(RunEvent::Pod { job, pod, change });
            if let Some(progress) = &progress {
                let _ = progress.send(p);
            }
        };
        tokio::spawn(async move {
            let run = async {
                let rt = &executor.runtime;
                let result =
                    job_runner::run_until(rt, record.clone(), &job, progress, stop_rx).await;
                match result {
                    Ok(ended) => executor.settle(&record, &ended).await.map(|()| ended),
                    Err(e) => Err(e),
                }
                .map_err(|e| RunError::Runner(Arc::new(e)))
            };
            // A panic (a bug in jobcd) ends this run as failed; the process,
            // the other runs and whoever waits for this one go on.
            let result = match std::panic::AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => {
                    let message = panic_message(panic.as_ref());
                    executor.fail_internally(&record, &message).await;
                    Err(RunError::Panicked(message))
                }
            };
            {
                let mut runs = executor.active.runs();
                runs.remove(&record.uid);
                executor.active.idle.send_replace(runs.len());
            }
            done_tx.send_replace(Some(result.clone()));
            let _ = executor
                .active
                .events
                .send(RunEvent::Ended(super::operations::outcome(
                    &job_ref, &result,
                )));
            executor.active.notify(Notice::Ended {
                job: job_ref,
                result,
            });
            executor.active.changed.notify_one();
        });
    }

    /// Records a run that jobcd could not carry on (it panicked) as failed,
    /// in its Job and in the ledger, so that it is not run again by itself.
    async fn fail_internally(&self, record: &JobRecord, message: &str) {
        let now = self.runtime.clock.now();
        let mut status = record.status.clone();
        status.fail(REASON_INTERNAL, message, now);
        let uid = record.uid.clone();
        let saved = self
            .runtime
            .with_store(move |s| {
                s.update_job_status(&uid, &status)?;
                s.settle_ledger(&uid, "Failed", now)
            })
            .await;
        if let Err(e) = saved {
            tracing::error!(
                "recording the failure of Job {}/{}: {e}",
                record.namespace,
                record.name
            );
        }
    }

    /// Records what a run's end means: the ledger learns the outcome, a
    /// deleted Job is marked so and its pods' files go.
    async fn settle(&self, record: &JobRecord, ended: &Ended) -> Result<(), job_runner::Error> {
        let now = self.runtime.clock.now();
        match ended {
            Ended::Finished(status) => {
                let finished = JobRecord {
                    status: status.clone(),
                    ..record.clone()
                };
                let (uid, outcome) = (record.uid.clone(), outcome_of(&finished));
                self.runtime
                    .with_store(move |s| s.settle_ledger(&uid, outcome, now))
                    .await
            }
            Ended::Deleted => self.forget(record.uid.clone(), now).await,
            Ended::Interrupted => Ok(()),
        }
    }

    /// Asks a run to stop; false if it is not running.
    pub(super) fn stop_run(&self, uid: &str, how: Stop) -> bool {
        match self.active.runs().get(uid) {
            Some(entry) => {
                entry.stop.send_if_modified(|current| {
                    // A deletion is never downgraded to an interruption.
                    let changed = current.is_none();
                    current.get_or_insert(how);
                    changed
                });
                true
            }
            None => false,
        }
    }

    /// Waits until no run is in flight.
    pub async fn wait_idle(&self) {
        let mut idle = self.active.idle.subscribe();
        let _ = idle.wait_for(|n| *n == 0).await;
    }

    /// Stops every run as for a shutdown (their Jobs resume at the next
    /// start) and waits for them.
    pub async fn shutdown(&self) {
        for uid in self.active.running() {
            self.stop_run(&uid, Stop::Shutdown);
        }
        self.wait_idle().await;
    }

    /// The runs in flight (after a start: the Jobs it resumed).
    pub fn in_flight(&self) -> Vec<JobRef> {
        self.active.runs().values().map(|e| e.job.clone()).collect()
    }

    /// What happens from now on: runs starting and ending, Jobs removed,
    /// CronJob events.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.active.notices.subscribe()
    }
}

/// What a panic said, if it said it as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}
