//! The health of the local target's CronJobs, from what its executor
//! recorded: the applied manifest, the scheduling state (since when the
//! CronJob is followed) and the Jobs it made, removed ones included.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob as ApiCronJob;

use super::observe::{Facts, Observation, Observe, Observed, Unjudged, UnjudgedWhy};
use super::{Outcome, Run};
use crate::manifest::Kind;
use crate::ownership::BY_HAND;
use crate::schedule::Zone;
use crate::target::local::Executor;
use crate::target::local::JobStatus;
use crate::target::local::job_controller::ConditionType;
use crate::target::local::job_runner::Error;
use crate::target::local::store::{AppliedObject, CronState, JobRecord, index};

/// The applied CronJob `object` as health reads it, from its scheduling
/// state (None: it was never scheduled yet, so followed since it was
/// applied) and the Job records it made. The executor runs a CronJob that
/// names no zone in this machine's zone.
pub fn observed(
    object: &AppliedObject,
    state: Option<&CronState>,
    made: &[&JobRecord],
) -> Result<Observed, UnjudgedWhy> {
    let cron: ApiCronJob = serde_json::from_str(&object.manifest)
        .map_err(|e| UnjudgedWhy::Unschedulable(e.to_string()))?;
    let facts = Facts::of(&cron, &Zone::system())?;
    let runs = made
        .iter()
        .filter_map(|j| {
            let (outcome, finished) = ended(&j.status, j.deleted_at);
            Some(Run {
                scheduled: j.scheduled_time?,
                started: j.created_at,
                finished,
                outcome,
            })
        })
        .collect();
    Ok(Observed {
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        source: object.source.clone(),
        revision: object.revision.clone(),
        schedule: facts.schedule,
        zone: facts.zone,
        starting_deadline: facts.starting_deadline,
        // The store keeps no time of the change to `suspend: true`; the
        // manifest that says so was applied then, or later.
        suspended_since: facts.suspended.then_some(object.applied_at),
        max_age: facts.max_age,
        since: state.map_or(object.applied_at, |s| s.state.created),
        runs,
    })
}

impl Observe for Executor {
    type Error = Error;

    /// The CronJobs applied from a source (not by hand).
    async fn observe(&self, _now: Timestamp) -> Result<Observation, Error> {
        let (objects, states, jobs) = self.cronjob_records().await?;
        let states = index::states_by_cronjob(&states);
        let made = index::jobs_by_cronjob(&jobs);
        let mut seen = Observation::default();
        for object in objects
            .iter()
            .filter(|o| o.kind == Kind::CronJob && o.source != BY_HAND)
        {
            let key = (object.namespace.as_str(), object.name.as_str());
            let state = states.get(&key).copied();
            let made = made.get(&key).map_or(&[][..], Vec::as_slice);
            match observed(object, state, made) {
                Ok(cronjob) => seen.cronjobs.push(cronjob),
                Err(why) => seen.unjudged.push(Unjudged {
                    namespace: object.namespace.clone(),
                    name: object.name.clone(),
                    why,
                }),
            }
        }
        Ok(seen)
    }
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
    use crate::health::Policy;
    use crate::manifest::Kind;
    use crate::target::local::cron_controller::State;
    use crate::target::local::job_controller::Condition;

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

    fn job(scheduled: &str, condition: Option<(ConditionType, &str)>) -> JobRecord {
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
        job
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
        let runs: Vec<&JobRecord> = runs.iter().collect();
        let h = observed(&o, Some(&state), &runs)
            .unwrap()
            .judge(at("2026-12-04T12:00:00Z"), &Policy::default());
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
        let err = observed(&bad, Some(&state), &runs).unwrap_err();
        assert!(err.to_string().contains("jobcd.dev/max-age"), "{err}");
    }
}
