//! The health of the local target's CronJobs, from what its executor
//! recorded: the applied manifest, the scheduling state (since when the
//! CronJob is followed) and the Jobs it made, removed ones included.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob as ApiCronJob;

use super::{CronJob, Health, MAX_AGE_ANNOTATION, Outcome, Policy, Run, judge, parse_max_age};
use crate::target::local::executor::Run as LocalRun;
use crate::target::local::job_controller::ConditionType;
use crate::target::local::store::{AppliedObject, CronState};
use crate::target::local::{CronSpec, JobStatus};

/// Why a CronJob's health cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unjudged {
    /// Its stored manifest is not a CronJob this executor can schedule.
    #[error("cannot be scheduled: {0}")]
    Unschedulable(String),
    /// Its `jobcd.dev/max-age` annotation does not read.
    #[error("annotation {MAX_AGE_ANNOTATION}: {0}")]
    MaxAge(String),
}

/// The health of the applied CronJob `object` at `now`, from its
/// scheduling state (None: it was never scheduled yet, so followed since
/// it was applied) and the Job runs of the executor.
pub fn judge_applied(
    object: &AppliedObject,
    state: Option<&CronState>,
    runs: &[LocalRun],
    now: Timestamp,
    policy: &Policy,
) -> Result<Health, Unjudged> {
    let cron: ApiCronJob = serde_json::from_str(&object.manifest)
        .map_err(|e| Unjudged::Unschedulable(e.to_string()))?;
    let spec = CronSpec::from_cronjob(&object.name, &cron).map_err(Unjudged::Unschedulable)?;
    let max_age = cron
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MAX_AGE_ANNOTATION))
        .map(|v| parse_max_age(v))
        .transpose()
        .map_err(Unjudged::MaxAge)?;
    let cronjob = CronJob {
        schedule: &spec.schedule,
        zone: &spec.zone,
        starting_deadline: spec
            .starting_deadline
            .and_then(|s| u64::try_from(s).ok())
            .map(std::time::Duration::from_secs),
        // The store keeps no time of the change to `suspend: true`; the
        // manifest that says so was applied then, or later.
        suspended_since: spec.suspend.then_some(object.applied_at),
        max_age,
        since: state.map_or(object.applied_at, |s| s.state.created),
    };
    let runs: Vec<Run> = runs
        .iter()
        .filter(|r| {
            r.job.namespace == object.namespace
                && r.job.owner_cronjob.as_deref() == Some(object.name.as_str())
        })
        .filter_map(|r| {
            let (outcome, finished) = ended(&r.job.status, r.job.deleted_at);
            Some(Run {
                scheduled: r.job.scheduled_time?,
                started: r.job.created_at,
                finished,
                outcome,
            })
        })
        .collect();
    Ok(judge(&cronjob, &runs, now, policy))
}

/// How a Job ended, and when: complete, failed, or deleted before it
/// ended (which counts as failed), or still going.
fn ended(status: &JobStatus, deleted: Option<Timestamp>) -> (Outcome, Option<Timestamp>) {
    let condition = |kind| {
        status
            .conditions
            .iter()
            .find(|c| c.kind == kind && c.status)
            .map(|c| c.at)
    };
    if let Some(at) = condition(ConditionType::Complete) {
        return (Outcome::Succeeded, status.completion_time.or(Some(at)));
    }
    if let Some(at) = condition(ConditionType::Failed) {
        return (Outcome::Failed, Some(at));
    }
    match deleted {
        Some(at) => (Outcome::Failed, Some(at)),
        None => (Outcome::Running, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Kind;
    use crate::target::local::cron_controller::State;
    use crate::target::local::job_controller::Condition;
    use crate::target::local::store::JobRecord;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn object(manifest: serde_json::Value) -> AppliedObject {
        AppliedObject {
            kind: Kind::CronJob,
            namespace: "default".into(),
            name: "backup".into(),
            source: "default".into(),
            revision: "0".repeat(40),
            path: "backup.yaml".into(),
            spec_hash: "h".into(),
            manifest: manifest.to_string(),
            applied_at: at("2026-12-01T00:00:00Z"),
        }
    }

    fn job(scheduled: &str, condition: Option<(ConditionType, &str)>) -> LocalRun {
        let mut job = JobRecord::new("u", "default", "backup-1", "h", "{}", at(scheduled));
        job.owner_cronjob = Some("backup".into());
        job.scheduled_time = Some(at(scheduled));
        if let Some((kind, when)) = condition {
            job.status.conditions.push(Condition {
                kind,
                status: true,
                reason: "R".into(),
                message: String::new(),
                at: at(when),
            });
        }
        LocalRun {
            job,
            pods: Vec::new(),
        }
    }

    #[test]
    fn the_executors_records_become_slots_and_outcomes() {
        let o = object(serde_json::json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "backup", "annotations": {"jobcd.dev/max-age": "30h"}},
            "spec": {"schedule": "0 3 * * *", "timeZone": "UTC", "startingDeadlineSeconds": 120,
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "x", "command": ["true"]}]}}}}}
        }));
        let state = CronState {
            namespace: "default".into(),
            name: "backup".into(),
            state: State {
                created: at("2026-12-01T12:00:00Z"),
                last_schedule: None,
                last_successful: None,
            },
        };
        let runs = [
            job(
                "2026-12-02T03:00:00Z",
                Some((ConditionType::Complete, "2026-12-02T03:05:00Z")),
            ),
            job(
                "2026-12-04T03:00:00Z",
                Some((ConditionType::Failed, "2026-12-04T03:01:00Z")),
            ),
        ];
        let h = judge_applied(
            &o,
            Some(&state),
            &runs,
            at("2026-12-04T12:00:00Z"),
            &Policy::default(),
        )
        .unwrap();
        let missed: Vec<Timestamp> = h.missed().collect();
        assert_eq!(missed, [at("2026-12-03T03:00:00Z")], "the slot with no Job");
        assert_eq!(h.last_success, Some(at("2026-12-02T03:05:00Z")));
        assert_eq!(h.last_failure, Some(at("2026-12-04T03:01:00Z")));
        assert_eq!(
            h.stale.map(|s| s.allowance),
            Some(std::time::Duration::from_secs(30 * 3600)),
            "the annotation's allowance, exceeded"
        );

        let mut bad = o.clone();
        bad.manifest = bad.manifest.replace("30h", "soon");
        let err = judge_applied(
            &bad,
            Some(&state),
            &runs,
            at("2026-12-04T12:00:00Z"),
            &Policy::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("jobcd.dev/max-age"), "{err}");
    }
}
