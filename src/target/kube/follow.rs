//! Following Jobs to their end: a watch on the Jobs jobcd created and on
//! those its CronJobs created, turning each terminal condition (or a
//! deletion before one) into an [`Outcome`], and recording the outcome of
//! jobcd's own Jobs in their source's run-once ledger.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::Api;
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::broadcast;

use super::ledger::ClusterLedger;
use crate::plan::ownership::{self, Owner};
use crate::target::Outcome;

/// Finds the ledger of a source.
pub type Ledgers = Arc<dyn Fn(&str) -> Arc<ClusterLedger> + Send + Sync>;

/// Watches the Jobs `labels` selects in `api`'s namespace until aborted.
pub fn spawn(
    api: Api<DynamicObject>,
    labels: &str,
    outcomes: broadcast::Sender<Outcome>,
    ledgers: Ledgers,
) -> tokio::task::JoinHandle<()> {
    let stream = watcher::watcher(api, watcher::Config::default().labels(labels)).default_backoff();
    tokio::spawn(async move {
        let mut reported: HashSet<String> = HashSet::new();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let Ok(event) = event else { continue };
            match event {
                Event::Apply(job) | Event::InitApply(job) => {
                    let Some((result, reason)) = terminal(&job) else {
                        continue;
                    };
                    record(&ledgers, &job, &result).await;
                    let uid = job.metadata.uid.clone().unwrap_or_default();
                    if reported.insert(uid) {
                        let _ = outcomes.send(outcome(&job, &result, reason));
                    }
                }
                Event::Delete(job) => {
                    let uid = job.metadata.uid.clone().unwrap_or_default();
                    if terminal(&job).is_none() && reported.insert(uid) {
                        let _ = outcomes.send(outcome(&job, "Deleted", None));
                    }
                }
                Event::Init | Event::InitDone => {}
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
