//! A cluster's runs: the Jobs jobcd applied, from the target's cache, and
//! the Jobs its CronJobs made, listed from the API server when a page asks;
//! a run's pods are listed when its page is asked for, and only then.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};
use serde_json::Value;

use super::{ConditionView, Inspect, PodView, RUNS_SHOWN, RunDetail, RunState, RunView};
use crate::ownership;
use crate::target::kube::{Error, KubeTarget, SCHEDULED_FOR};

impl Inspect for KubeTarget {
    type Error = Error;

    async fn runs(&self) -> Result<Vec<RunView>, Error> {
        let mut jobs = self.jobs().await?;
        jobs.extend(made_by_cronjobs(self).await?);
        let mut runs: Vec<RunView> = jobs.iter().map(|j| view(j)).collect();
        runs.sort_by(|a, b| (b.created, &b.uid).cmp(&(a.created, &a.uid)));
        runs.truncate(RUNS_SHOWN);
        Ok(runs)
    }

    async fn run(&self, uid: &str) -> Result<Option<RunDetail>, Error> {
        let of_uid = |j: &Arc<DynamicObject>| j.metadata.uid.as_deref() == Some(uid);
        // A Job jobcd applied is in the cache; only a CronJob's is listed.
        let cached = self.jobs().await?.into_iter().find(of_uid);
        let job = match cached {
            Some(job) => job,
            None => match made_by_cronjobs(self).await?.into_iter().find(of_uid) {
                Some(job) => job,
                None => return Ok(None),
            },
        };
        let job = job.as_ref();
        let run = view(job);
        let pods: Api<Pod> = Api::namespaced(self.client().clone(), &run.namespace);
        let selector = format!("batch.kubernetes.io/controller-uid={uid}");
        let (pods, pods_unreadable) =
            match pods.list(&ListParams::default().labels(&selector)).await {
                Ok(list) => (list.items.iter().map(pod).collect(), None),
                Err(e) => (Vec::new(), Some(format!("listing its pods: {e}"))),
            };
        Ok(Some(RunDetail {
            conditions: conditions(&job.data),
            run,
            pods,
            pods_unreadable,
        }))
    }
}

/// The Jobs jobcd's CronJobs made, listed now: the target follows them by
/// their outcomes only (its cache holds jobcd's own Jobs), and keeping
/// whole objects for a page no one may open would cost memory all the
/// time.
async fn made_by_cronjobs(target: &KubeTarget) -> Result<Vec<Arc<DynamicObject>>, Error> {
    let resource = ApiResource::erase::<Job>(&());
    let mut jobs = Vec::new();
    for namespace in target.namespaces() {
        let api: Api<DynamicObject> =
            Api::namespaced_with(target.client().clone(), namespace, &resource);
        let made = api
            .list(&ListParams::default().labels(SCHEDULED_FOR))
            .await
            .map_err(|e| {
                Error::api(
                    "listing",
                    format!("the Jobs of CronJobs in namespace {namespace}"),
                    e,
                )
            })?;
        jobs.extend(made.items.into_iter().map(Arc::new));
    }
    Ok(jobs)
}

fn time(v: &Value) -> Option<Timestamp> {
    v.as_str().and_then(|t| t.parse().ok())
}

/// A Job as a run.
fn view(job: &DynamicObject) -> RunView {
    let meta = &job.metadata;
    let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key)).cloned();
    let annotation = |key: &str| meta.annotations.as_ref().and_then(|a| a.get(key)).cloned();
    let status = &job.data["status"];
    let terminal = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["status"] == "True" && (c["type"] == "Complete" || c["type"] == "Failed"));
    let state = match terminal.and_then(|c| c["type"].as_str()) {
        Some("Complete") => RunState::Complete,
        Some(_) => RunState::Failed,
        None if meta.deletion_timestamp.is_some() => RunState::Deleted,
        None => RunState::Running,
    };
    let count = |key: &str| status[key].as_i64().unwrap_or(0) as i32;
    RunView {
        uid: meta.uid.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        cronjob: meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "CronJob")
            .map(|o| o.name.clone()),
        source: label(ownership::SOURCE).or_else(|| label(SCHEDULED_FOR)),
        revision: annotation(ownership::REVISION),
        created: meta
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        scheduled: annotation("batch.kubernetes.io/cronjob-scheduled-timestamp")
            .and_then(|t| t.parse().ok()),
        finished: terminal.and_then(|c| {
            time(&status["completionTime"]).or_else(|| time(&c["lastTransitionTime"]))
        }),
        state,
        reason: terminal.and_then(|c| c["reason"].as_str().map(str::to_string)),
        message: terminal.and_then(|c| c["message"].as_str().map(str::to_string)),
        succeeded: count("succeeded"),
        failed: count("failed"),
        active: count("active"),
    }
}

fn conditions(job: &Value) -> Vec<ConditionView> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| ConditionView {
            kind: text(&c["type"]),
            status: text(&c["status"]),
            reason: text(&c["reason"]),
            message: text(&c["message"]),
            at: time(&c["lastTransitionTime"]),
        })
        .collect()
}

fn pod(p: &Pod) -> PodView {
    let status = p.status.as_ref();
    let terminated = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let state = c.state.as_ref()?;
            if let Some(t) = &state.terminated {
                let why = t
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("exit {}", t.exit_code));
                return Some(format!("{}: {why}", c.name));
            }
            state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .map(|why| format!("{}: {why}", c.name))
        })
        .collect::<Vec<_>>();
    PodView {
        name: p.metadata.name.clone().unwrap_or_default(),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into()),
        started: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        finished: None,
        detail: terminated.join(", "),
    }
}
