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
use crate::plan::ownership::{self, Owner};
use crate::target::Outcome;

/// Finds the ledger of a source.
pub type Ledgers = Arc<dyn Fn(&str) -> Arc<ClusterLedger> + Send + Sync>;

/// A CronJob's health, from the Jobs it created: when a run last
/// succeeded, when one last failed, and the latest run's outcome.
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
    /// The run that finished last.
    pub latest: Outcome,
}

/// Health by (namespace, CronJob), shared with the target.
pub type Health = Arc<Mutex<HashMap<(String, String), CronJobHealth>>>;

/// Notes a finished Job of a CronJob.
fn note_health(health: &Health, job: &DynamicObject, outcome: &Outcome) {
    let Some(cronjob) = outcome.cronjob.clone() else {
        return;
    };
    let finished = finished_at(job);
    let mut all = health.lock().unwrap_or_else(|p| p.into_inner());
    let entry = all
        .entry((outcome.namespace.clone(), cronjob.clone()))
        .or_insert_with(|| CronJobHealth {
            namespace: outcome.namespace.clone(),
            cronjob,
            last_success: None,
            last_failure: None,
            latest: outcome.clone(),
        });
    let slot = if outcome.result == "Complete" {
        &mut entry.last_success
    } else {
        &mut entry.last_failure
    };
    if finished.is_some() && *slot < finished {
        *slot = finished;
    }
    let latest = entry.last_success.max(entry.last_failure);
    if finished.is_some() && finished >= latest {
        entry.latest = outcome.clone();
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
    /// Each run's end.
    pub outcomes: broadcast::Sender<Outcome>,
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
        outcomes,
        ledgers,
        health,
        listed,
        refused,
    } = sinks;
    let what = format!("Jobs in namespace {namespace}");
    let stream = watcher::watcher(api, watcher::Config::default().labels(labels)).default_backoff();
    tokio::spawn(async move {
        let mut reported: HashSet<String> = HashSet::new();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            super::note_refusal(&refused, &what, &event);
            let Ok(event) = event else { continue };
            match event {
                Event::Apply(job) | Event::InitApply(job) => {
                    let Some((result, reason)) = terminal(&job) else {
                        continue;
                    };
                    record(&ledgers, &job, &result).await;
                    let ended = outcome(&job, &result, reason);
                    note_health(&health, &job, &ended);
                    let uid = job.metadata.uid.clone().unwrap_or_default();
                    if reported.insert(uid) {
                        let _ = outcomes.send(ended);
                    }
                }
                Event::Delete(job) => {
                    let uid = job.metadata.uid.clone().unwrap_or_default();
                    if terminal(&job).is_none() && reported.insert(uid) {
                        let _ = outcomes.send(outcome(&job, "Deleted", None));
                    }
                }
                Event::InitDone => {
                    let _ = listed.send(true);
                }
                Event::Init => {}
            }
        }
    })
}

/// `(Complete|Failed, reason)` when the Job has finished.
pub fn terminal(job: &DynamicObject) -> Option<(String, Option<String>)> {
    job.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
        .map(|c| {
            (
                c["type"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().map(str::to_string),
            )
        })
}

fn outcome(job: &DynamicObject, result: &str, reason: Option<String>) -> Outcome {
    let count = |key: &str| job.data["status"][key].as_i64().unwrap_or(0) as i32;
    Outcome {
        uid: job.metadata.uid.clone().unwrap_or_default(),
        namespace: job.metadata.namespace.clone().unwrap_or_default(),
        name: job.metadata.name.clone().unwrap_or_default(),
        cronjob: job
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "CronJob")
            .map(|o| o.name.clone()),
        result: result.to_string(),
        reason,
        failed: count("failed"),
        succeeded: count("succeeded"),
    }
}

/// The outcome of one of jobcd's own Jobs, into its source's ledger (a
/// failure to write is retried at the next event or sync).
async fn record(ledgers: &Ledgers, job: &DynamicObject, result: &str) {
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
        .record(&namespace, &name, hash, result)
        .await
    {
        eprintln!("warning: {e}");
    }
}
