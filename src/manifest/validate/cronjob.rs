//! A CronJob's spec: schedule, time zone, policies and its Job template
//! (docs/kubernetes-semantics.md §2.1).

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJobSpec;

use super::{Findings, job, meta};
use crate::schedule::{Schedule, Zone};

pub(super) fn spec(f: &mut Findings<'_>, spec: &CronJobSpec, now: Timestamp) {
    let schedule = if spec.schedule.is_empty() {
        f.error(
            "spec.schedule",
            "required field is missing",
            Some("e.g. schedule: \"0 3 * * *\""),
        );
        None
    } else {
        Schedule::parse(&spec.schedule)
            .map_err(|e| {
                f.error(
                    "spec.schedule",
                    format!("invalid schedule {:?}: {e}", spec.schedule),
                    None,
                )
            })
            .ok()
    };
    let zone = Zone::from_spec(spec.time_zone.as_deref())
        .map_err(|e| f.error("spec.timeZone", e.to_string(), None))
        .ok();
    if let (Some(schedule), Some(zone)) = (&schedule, &zone)
        && !schedule.is_interval()
        && schedule.next_after(now, zone).is_none()
    {
        f.warning(
            "spec.schedule",
            format!(
                "{:?} is valid but will not fire in the next five years",
                spec.schedule
            ),
            Some("check the day and month fields (e.g. February has no 30th)"),
        );
    }
    f.one_of(
        "spec.concurrencyPolicy",
        spec.concurrency_policy.as_deref(),
        &["Allow", "Forbid", "Replace"],
    );
    f.non_negative(
        "spec.startingDeadlineSeconds",
        spec.starting_deadline_seconds,
    );
    if spec.starting_deadline_seconds == Some(0) {
        f.warning(
            "spec.startingDeadlineSeconds",
            "0 means the CronJob never starts a Job (every slot is already past its deadline)",
            Some("remove the field or allow some seconds, e.g. 200"),
        );
    }
    f.non_negative(
        "spec.successfulJobsHistoryLimit",
        spec.successful_jobs_history_limit.map(i64::from),
    );
    f.non_negative(
        "spec.failedJobsHistoryLimit",
        spec.failed_jobs_history_limit.map(i64::from),
    );
    let template = &spec.job_template;
    if let Some(m) = &template.metadata {
        meta::labels(f, "spec.jobTemplate.metadata", m);
    }
    match &template.spec {
        Some(s) => job::spec(f, s, "spec.jobTemplate.spec", job::Owner::CronJob),
        None => f.error(
            "spec.jobTemplate.spec",
            "required field is missing",
            Some("describe the Job to run"),
        ),
    }
}
