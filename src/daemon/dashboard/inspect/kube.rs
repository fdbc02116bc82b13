//! A cluster's runs, from the target's Job watches (the Jobs jobcd applied
//! and those its CronJobs made); a run's pods are listed from the API
//! server when its page is asked for, and only then.

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
        let mut runs: Vec<RunView> = every_job(self).await?.iter().map(view).collect();
        runs.sort_by(|a, b| (b.created, &b.uid).cmp(&(a.created, &a.uid)));
        runs.truncate(RUNS_SHOWN);
        Ok(runs)
    }

    async fn run(&self, uid: &str) -> Result<Option<RunDetail>, Error> {
        let of_uid = |j: &DynamicObject| j.metadata.uid.as_deref() == Some(uid);
        // A Job jobcd applied is in the cache; only a CronJob's is listed.
        let cached = self
            .jobs()
            .await?
            .iter()
            .find(|j| of_uid(j))
            .map(|j| (**j).clone());
        let job = match cached {
            Some(job) => job,
            None => match every_job(self).await?.into_iter().find(of_uid) {
                Some(job) => job,
                None => return Ok(None),
            },
        };
        let job = &job;
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

/// jobcd's Jobs, from the target's cache, and the Jobs its CronJobs
/// made, listed now: the target follows those by their outcomes only, and
/// keeping whole objects for a page no one may open would cost memory all
/// the time.
async fn every_job(target: &KubeTarget) -> Result<Vec<DynamicObject>, Error> {
    let mut jobs: Vec<DynamicObject> = target.jobs().await?.iter().map(|j| (**j).clone()).collect();
    let resource = ApiResource::erase::<Job>(&());
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
        jobs.extend(made.items);
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
