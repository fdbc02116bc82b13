//! The health of a cluster's managed CronJobs, from the target's watches:
//! each CronJob as it lives (its schedule, zone, deadline, suspension,
//! since when it exists) and the Jobs it made, followed by the target
//! (removed ones too, while remembered).
//!
//! A CronJob without `spec.timeZone` runs in kube-controller-manager's
//! zone, which jobcd cannot see; clusters run it in UTC, and so does this.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob as ApiCronJob;

use super::observe::{Facts, Observation, Observe, Observed, Unjudged, UnjudgedWhy};
use super::{Outcome, Run};
use crate::ownership::BY_HAND;
use crate::schedule::Zone;
use crate::target::Live;
use crate::target::RunResult;
use crate::target::kube::{CronJobHealth, CronJobRun, Error, KubeTarget};

impl Observe for KubeTarget {
    type Error = Error;

    async fn observe(&self, now: Timestamp) -> Result<Observation, Error> {
        let cronjobs = self.live_cronjobs().await?;
        let runs = self.cronjob_health().await?;
        let mut seen = Observation::default();
        for live in &cronjobs {
            // Managed from a commit: its troubles have one to be told on.
            let (Some(source), Some(_)) = (
                live.source.as_deref().filter(|s| *s != BY_HAND),
                live.revision.as_deref(),
            ) else {
                continue;
            };
            let made = runs
                .iter()
                .find(|h| h.namespace == live.id.namespace && h.cronjob == live.id.name);
            match observed(live, source, made, now) {
                Ok(cronjob) => seen.cronjobs.push(cronjob),
                Err(why) => seen.unjudged.push(Unjudged {
                    namespace: live.id.namespace.clone(),
                    name: live.id.name.clone(),
                    why,
                }),
            }
        }
        Ok(seen)
    }
}

/// The live CronJob `live` of `source`, with the Jobs it `made`.
pub fn observed(
    live: &Live,
    source: &str,
    made: Option<&CronJobHealth>,
    now: Timestamp,
) -> Result<Observed, UnjudgedWhy> {
    // The whole object where jobcd's part is not all of it: a suspension
    // someone else set counts.
    let text = live.whole();
    let cron: ApiCronJob =
        serde_json::from_str(&text).map_err(|e| UnjudgedWhy::Unschedulable(e.to_string()))?;
    let facts = Facts::of(&cron, &Zone::utc())?;
    let created = cron.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let since = created.or(live.applied_at).unwrap_or(now);
    let runs = made
        .map(|h| h.runs.values().filter_map(run).collect())
        .unwrap_or_default();
    Ok(Observed {
        namespace: live.id.namespace.clone(),
        name: live.id.name.clone(),
        source: source.to_string(),
        revision: live.revision.clone().unwrap_or_default(),
        schedule: facts.schedule,
        zone: facts.zone,
        starting_deadline: facts.starting_deadline,
        // The API keeps no time of the change to `suspend: true`; jobcd's
        // last apply is the latest it can have come from git.
        suspended_since: facts.suspended.then_some(live.applied_at.unwrap_or(since)),
        max_age: facts.max_age,
        since,
        runs,
    })
}

/// A Job as health reads it; one without the controller's scheduled-time
/// annotation (made by hand from the CronJob) ran no slot.
fn run(r: &CronJobRun) -> Option<Run> {
    let (outcome, finished) = match r.ended {
        None => (Outcome::Running, None),
        Some((RunResult::Complete, at)) => (Outcome::Succeeded, Some(at)),
        Some((_, at)) => (Outcome::Failed, Some(at)),
    };
    Some(Run {
        scheduled: r.scheduled?,
        started: r.created,
        finished,
        outcome,
    })
}
