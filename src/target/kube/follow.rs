//! Following Jobs to their end: a watch on the Jobs jobcd created and on
//! those its CronJobs created, turning each terminal condition (or a
//! deletion before one) into an [`Outcome`], and recording the outcome of
//! jobcd's own Jobs in their source's run-once ledger.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use jiff::Timestamp;
use kube::Api;
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::ledger::ClusterLedger;
use crate::ownership::{self, Owner};
use crate::target::{Cause, JobRef, Outcome, RunEvent, RunResult};

/// Finds the ledger of a source.
pub type Ledgers = Arc<dyn Fn(&str) -> Arc<ClusterLedger> + Send + Sync>;

/// A CronJob's record of runs, from the Jobs it created: when a run last
/// succeeded, when one last failed, the latest outcome, and each Job seen
/// (deleted ones too, up to [`RUNS_KEPT`]) for its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronJobHealth {
    /// Namespace.
    pub namespace: String,
    /// The CronJob.
    pub cronjob: String,
    /// When its last successful run finished.
    pub last_success: Option<Timestamp>,
    /// When its last failed run finished.
    pub last_failure: Option<Timestamp>,
    /// The run that finished last, if one did.
    pub latest: Option<Outcome>,
    /// Its Jobs by uid.
    pub runs: HashMap<String, CronJobRun>,
}

/// One Job a CronJob created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronJobRun {
    /// The slot it was made for
    /// (`batch.kubernetes.io/cronjob-scheduled-timestamp`).
    pub scheduled: Option<Timestamp>,
    /// When it was created.
    pub created: Timestamp,
    /// How and when it ended, if it has (deleted unfinished: `Deleted`).
    pub ended: Option<(RunResult, Timestamp)>,
}

/// Jobs kept per CronJob: the newest, more than its history limits keep.
pub const RUNS_KEPT: usize = 50;

/// The annotation the CronJob controller sets on each Job it makes.
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// Health by (namespace, CronJob), shared with the target.
pub type Health = Arc<Mutex<HashMap<(String, String), CronJobHealth>>>;

/// Notes a Job of a CronJob as it is now: running, ended with `ended`, or
/// (`deleted_at`) deleted before it ended.
fn note_run(
    health: &Health,
    job: &DynamicObject,
    ended: Option<&Outcome>,
    deleted_at: Option<Timestamp>,
) {
    let Some(cronjob) = owner_cronjob(job) else {
        return;
    };
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let mut all = health.lock().unwrap_or_else(|p| p.into_inner());
    let entry = all
        .entry((namespace.clone(), cronjob.clone()))
        .or_insert_with(|| CronJobHealth {
            namespace,
            cronjob,
            last_success: None,
            last_failure: None,
            latest: None,
            runs: HashMap::new(),
        });
    let created = job
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let finished = ended.and_then(|_| finished_at(job)).or(deleted_at);
    let run = CronJobRun {
        scheduled: job
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(SCHEDULED_TIMESTAMP))
            .and_then(|t| t.parse().ok()),
        created,
        ended: match (ended, finished) {
            (Some(o), Some(at)) => Some((o.result, at)),
            (None, Some(at)) => Some((RunResult::Deleted, at)),
            _ => None,
        },
    };
    let uid = job.metadata.uid.clone().unwrap_or_default();
    entry.runs.insert(uid, run);
    if entry.runs.len() > RUNS_KEPT {
        let oldest = entry
            .runs
            .iter()
            .min_by_key(|(_, r)| r.created)
            .map(|(uid, _)| uid.clone());
        if let Some(uid) = oldest {
            entry.runs.remove(&uid);
        }
    }
    let Some(outcome) = ended else {
        return;
    };
    let slot = if outcome.result.succeeded() {
        &mut entry.last_success
    } else {
        &mut entry.last_failure
    };
    if finished.is_some() && *slot < finished {
        *slot = finished;
    }
    let latest = entry.last_success.max(entry.last_failure);
    if finished.is_some() && finished >= latest {
        entry.latest = Some(outcome.clone());
    }
}

/// When a finished Job finished: its terminal condition's transition.
fn finished_at(job: &DynamicObject) -> Option<Timestamp> {
    job.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")?
        ["lastTransitionTime"]
        .as_str()?
        .parse()
        .ok()
}

/// Where a follower tells what it sees.
pub struct Sinks {
    /// Each run's start and end.
    pub events: broadcast::Sender<RunEvent>,
    /// The run-once ledgers, by source.
    pub ledgers: Ledgers,
    /// CronJob health.
    pub health: Health,
    /// Set once the first list is done.
    pub listed: watch::Sender<bool>,
    /// A refusal of the watch.
    pub refused: super::Refused,
}

/// Watches the Jobs `labels` selects in `namespace` (`api`'s) until
/// aborted.
pub fn spawn(
    api: Api<DynamicObject>,
    namespace: &str,
    labels: &str,
    sinks: Sinks,
) -> tokio::task::JoinHandle<()> {
    let Sinks {
        events,
        ledgers,
        health,
        listed,
        refused,
    } = sinks;
    let what = format!("Jobs in namespace {namespace}");
    let stream = watcher::watcher(api, watcher::Config::default().labels(labels)).default_backoff();
    tokio::spawn(async move {
        let mut seen = Seen::default();
        // The first list is history: its finished runs are known (ledger,
        // health) but not told as ending now.
        let mut history = true;
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            super::note_refusal(&refused, &what, &event);
            let Ok(event) = event else { continue };
            match event {
                Event::Apply(job) | Event::InitApply(job) => {
                    let uid = job.metadata.uid.clone().unwrap_or_default();
                    seen.listed(&uid);
                    let Some((result, reason)) = terminal(&job) else {
                        note_run(&health, &job, None, None);
                        if seen.started(&uid) && !history {
                            let cause = match owner_cronjob(&job) {
                                Some(_) => Cause::CronJob,
                                None => Cause::Sync,
                            };
                            let job = job_ref(&job);
                            let _ = events.send(RunEvent::Started { job, cause });
                        }
                        continue;
                    };
                    record(&ledgers, &job, result).await;
                    let ended = outcome(&job, result, reason);
                    note_run(&health, &job, Some(&ended), None);
                    if seen.ended(&uid) && !history {
                        let _ = events.send(RunEvent::Ended(ended));
                    }
                }
                Event::Delete(job) => {
                    let uid = job.metadata.uid.clone().unwrap_or_default();
                    if terminal(&job).is_none() {
                        note_run(&health, &job, None, Some(Timestamp::now()));
                    }
                    if terminal(&job).is_none() && seen.ended(&uid) {
                        let ended = outcome(&job, RunResult::Deleted, None);
                        let _ = events.send(RunEvent::Ended(ended));
                    }
                    seen.forget(&uid);
                }
                Event::Init => seen.relisting(),
                Event::InitDone => {
                    history = false;
                    seen.relisted();
                    let _ = listed.send(true);
                }
            }
        }
    })
}

/// The Jobs a follower has told about, so that each start and each end is
/// told once, however often the watch re-lists. It holds only Jobs that
/// exist: a deleted Job is forgotten, and a re-list forgets the Jobs that
/// went while the watch was down.
#[derive(Debug, Default)]
struct Seen {
    /// uid → whether its end was told.
    told: HashMap<String, bool>,
    /// The uids a re-list under way has listed so far.
    relist: Option<HashSet<String>>,
}

impl Seen {
    /// Whether a start is new (and notes it).
    fn started(&mut self, uid: &str) -> bool {
        if self.told.contains_key(uid) {
            return false;
        }
        self.told.insert(uid.to_string(), false);
        true
    }

    /// Whether an end is new (and notes it).
    fn ended(&mut self, uid: &str) -> bool {
        !self.told.insert(uid.to_string(), true).unwrap_or(false)
    }

    fn forget(&mut self, uid: &str) {
        self.told.remove(uid);
    }

    fn listed(&mut self, uid: &str) {
        if let Some(relist) = &mut self.relist {
            relist.insert(uid.to_string());
        }
    }

    fn relisting(&mut self) {
        self.relist = Some(HashSet::new());
    }

    fn relisted(&mut self) {
        if let Some(relist) = self.relist.take() {
            self.told.retain(|uid, _| relist.contains(uid));
        }
    }
}

/// The CronJob that owns a Job.
fn owner_cronjob(job: &DynamicObject) -> Option<String> {
    job.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "CronJob")
        .map(|o| o.name.clone())
}

fn job_ref(job: &DynamicObject) -> JobRef {
    JobRef {
        uid: job.metadata.uid.clone().unwrap_or_default(),
        namespace: job.metadata.namespace.clone().unwrap_or_default(),
        name: job.metadata.name.clone().unwrap_or_default(),
        owner_cronjob: owner_cronjob(job),
    }
}

/// `(Complete|Failed, reason)` when the Job has finished.
pub fn terminal(job: &DynamicObject) -> Option<(RunResult, Option<String>)> {
    job.data["status"]["conditions"]
        .as_array()?
        .iter()
        .filter(|c| c["status"] == "True")
        .find_map(|c| {
            let result = match c["type"].as_str()? {
                "Complete" => RunResult::Complete,
                "Failed" => RunResult::Failed,
                _ => return None,
            };
            Some((result, c["reason"].as_str().map(str::to_string)))
        })
}

/// The outcome of a finished (or deleted) Job.
pub fn outcome(job: &DynamicObject, result: RunResult, reason: Option<String>) -> Outcome {
    let count = |key: &str| job.data["status"][key].as_i64().unwrap_or(0) as i32;
    Outcome {
        uid: job.metadata.uid.clone().unwrap_or_default(),
        namespace: job.metadata.namespace.clone().unwrap_or_default(),
        name: job.metadata.name.clone().unwrap_or_default(),
        cronjob: owner_cronjob(job),
        result,
        message: job.data["status"]["conditions"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["type"] == result.as_str()))
            .and_then(|c| c["message"].as_str())
            .map(str::to_string),
        reason,
        failed: count("failed"),
        succeeded: count("succeeded"),
    }
}

/// The outcome of one of jobcd's own Jobs, into its source's ledger (a
/// failure to write is retried at the next event or sync).
async fn record(ledgers: &Ledgers, job: &DynamicObject, result: RunResult) {
    let value = serde_json::to_value(job).unwrap_or(Value::Null);
    let Owner::Source(source) = ownership::owner(&value) else {
        return;
    };
    let Some(hash) = value["metadata"]["annotations"][ownership::SPEC_HASH].as_str() else {
        return;
    };
    let (namespace, name) = (
        job.metadata.namespace.clone().unwrap_or_default(),
        job.metadata.name.clone().unwrap_or_default(),
    );
    if let Err(e) = ledgers(&source)
        .record(&namespace, &name, hash, result.as_str())
        .await
    {
        eprintln!("warning: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn each_start_and_end_is_told_once_and_gone_jobs_are_forgotten() {
        let mut seen = Seen::default();
        assert!(seen.started("a"));
        assert!(!seen.started("a"));
        assert!(seen.ended("a"));
        assert!(!seen.ended("a"));
        // A Job first seen finished: its end is told, never a start.
        assert!(seen.ended("b"));
        assert!(!seen.started("b"));
        seen.forget("a");
        assert_eq!(seen.told.len(), 1);
        // A re-list keeps only the Jobs it lists (b went while the watch
        // was down), and tells nothing again about those it knew.
        assert!(seen.started("c"));
        seen.relisting();
        seen.listed("c");
        seen.relisted();
        assert_eq!(seen.told.keys().collect::<Vec<_>>(), ["c"]);
        assert!(!seen.started("c"));
    }
}
