//! The local executor's runs, from its store: Job records (removed ones
//! included) with their pods, and the pods' log files.

use std::path::PathBuf;

use serde_json::Value;

use super::{ConditionView, Inspect, PodView, RUNS_SHOWN, RunDetail, RunState, RunView};
use crate::ownership;
use crate::target::local::job_controller::ConditionType;
use crate::target::local::job_runner::Error;
use crate::target::local::process::Exit;
use crate::target::local::store::{AppliedObject, JobRecord, PodRecord};
use crate::target::local::{Executor, Run};

impl Inspect for Executor {
    type Error = Error;

    async fn runs(&self) -> Result<Vec<RunView>, Error> {
        let runs = self.recent_runs(RUNS_SHOWN).await?;
        Ok(runs
            .iter()
            .rev()
            .map(|(run, applied)| view(&run.job, applied.as_ref()))
            .collect())
    }

    async fn run(&self, uid: &str) -> Result<Option<RunDetail>, Error> {
        Ok(self
            .run_by_uid(uid)
            .await?
            .map(|(run, applied)| detail(&run, applied.as_ref())))
    }

    fn logs(&self, pod: &str) -> Option<Vec<PathBuf>> {
        Executor::logs(self, pod).ok().flatten()
    }
}

/// A Job record as a run; `applied` (the Job applied under its name, if
/// one is) says which source it is of, and its commit while the applied
/// spec is the one it ran.
fn view(job: &JobRecord, applied: Option<&AppliedObject>) -> RunView {
    let manifest: Value = serde_json::from_str(&job.manifest).unwrap_or_default();
    let metadata = &manifest["metadata"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let status = &job.status;
    let terminal = status
        .conditions
        .iter()
        .find(|c| c.status && matches!(c.kind, ConditionType::Complete | ConditionType::Failed));
    let state = match terminal.map(|c| c.kind) {
        Some(ConditionType::Complete) => RunState::Complete,
        Some(_) => RunState::Failed,
        None if job.deleted_at.is_some() => RunState::Deleted,
        None => RunState::Running,
    };
    RunView {
        uid: job.uid.clone(),
        namespace: job.namespace.clone(),
        name: job.name.clone(),
        cronjob: job.owner_cronjob.clone(),
        source: text(&metadata["labels"][ownership::SOURCE])
            .or_else(|| applied.map(|o| o.source.clone())),
        revision: text(&metadata["annotations"][ownership::REVISION]).or_else(|| {
            applied
                .filter(|o| o.spec_hash == job.spec_hash)
                .map(|o| o.revision.clone())
        }),
        created: job.created_at,
        scheduled: job.scheduled_time,
        finished: terminal
            .map(|c| status.completion_time.unwrap_or(c.at))
            .or(job.deleted_at),
        state,
        reason: terminal.map(|c| c.reason.clone()),
        message: terminal.map(|c| c.message.clone()),
        succeeded: status.succeeded,
        failed: status.failed,
        active: status.active,
    }
}

fn detail(run: &Run, applied: Option<&AppliedObject>) -> RunDetail {
    RunDetail {
        run: view(&run.job, applied),
        conditions: run
            .job
            .status
            .conditions
            .iter()
            .map(|c| ConditionView {
                // The variants are named as Kubernetes names the types.
                kind: format!("{:?}", c.kind),
                status: if c.status { "True" } else { "False" }.into(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                at: Some(c.at),
            })
            .collect(),
        pods: run.pods.iter().map(pod).collect(),
        pods_unreadable: None,
    }
}

fn pod(p: &PodRecord) -> PodView {
    let mut detail: Vec<String> = p
        .exits
        .iter()
        .map(|(container, exit)| match exit {
            Exit::Code(code) => format!("{container}: exit {code}"),
            Exit::Signal(signal) => format!("{container}: signal {signal}"),
            Exit::OomKilled => format!("{container}: OOMKilled"),
        })
        .collect();
    if let Some(reason) = &p.reason {
        detail.push(reason.clone());
    }
    if p.restarts > 0 {
        detail.push(format!("{} restart(s)", p.restarts));
    }
    PodView {
        name: p.name.clone(),
        // The variants are named as Kubernetes names the phases.
        phase: format!("{:?}", p.phase),
        started: p.started_at,
        finished: p.finished_at,
        detail: detail.join(", "),
    }
}
