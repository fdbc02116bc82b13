//! The CronJob controller's decisions, as a pure function of a CronJob's
//! spec, its state, its Jobs and the time (docs/kubernetes-semantics.md §2).
//!
//! Each [`sync`] removes finished Jobs beyond the history limits, then — if
//! not suspended — finds the most recent unmet schedule time (only that one
//! ever runs after downtime; more than 100 missed times only add a warning),
//! applies `startingDeadlineSeconds` and the concurrency policy, and names
//! the Job after its scheduled minute, which also keeps a slot from running
//! twice.

use jiff::{SignedDuration, Timestamp};

use crate::saturating::shifted;
use k8s_openapi::api::batch::v1::CronJob;

use crate::schedule::{Schedule, Zone};

/// Missed start times beyond which the controller warns.
pub const TOO_MANY_MISSED: i64 = 100;
/// Default `successfulJobsHistoryLimit`.
pub const DEFAULT_SUCCESSFUL_HISTORY: i32 = 3;
/// Default `failedJobsHistoryLimit`.
pub const DEFAULT_FAILED_HISTORY: i32 = 1;

/// `concurrencyPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Runs may overlap.
    Allow,
    /// Skip a slot while a run is active.
    Forbid,
    /// Stop the active runs, then start the new one.
    Replace,
}

/// The parts of a CronJob spec the controller acts on.
#[derive(Debug, Clone)]
pub struct Spec {
    /// CronJob name (Jobs are named `<name>-<minutes since epoch>`).
    pub name: String,
    /// `schedule`.
    pub schedule: Schedule,
    /// `timeZone`, or the controller's zone.
    pub zone: Zone,
    /// The zone of the scheduled-timestamp annotation: `timeZone`, or UTC
    /// without one (the controller formats the slot in
    /// `time.LoadLocation("")`, which is UTC, whatever its own zone).
    pub annotation_zone: Zone,
    /// `concurrencyPolicy`.
    pub concurrency: Concurrency,
    /// `startingDeadlineSeconds`.
    pub starting_deadline: Option<i64>,
    /// `suspend`.
    pub suspend: bool,
    /// `successfulJobsHistoryLimit`.
    pub successful_history: i32,
    /// `failedJobsHistoryLimit`.
    pub failed_history: i32,
}

impl Spec {
    /// The controller's view of a CronJob named `name`. A CronJob without
    /// `timeZone` runs in this machine's zone, as the controller uses its own.
    pub fn from_cronjob(name: &str, cron: &CronJob) -> Result<Spec, String> {
        let spec = cron.spec.clone().unwrap_or_default();
        let schedule = Schedule::parse(&spec.schedule)
            .map_err(|e| format!("spec.schedule {:?}: {e}", spec.schedule))?;
        let (zone, annotation_zone) = match spec.time_zone.as_deref() {
            Some(zone) => {
                let zone = Zone::named(zone).map_err(|e| format!("spec.timeZone: {e}"))?;
                (zone.clone(), zone)
            }
            None => (Zone::system(), Zone::utc()),
        };
        Ok(Spec {
            name: name.to_string(),
            schedule,
            zone,
            annotation_zone,
            concurrency: match spec.concurrency_policy.as_deref() {
                Some("Forbid") => Concurrency::Forbid,
                Some("Replace") => Concurrency::Replace,
                _ => Concurrency::Allow,
            },
            starting_deadline: spec.starting_deadline_seconds,
            suspend: spec.suspend.unwrap_or(false),
            successful_history: spec
                .successful_jobs_history_limit
                .unwrap_or(DEFAULT_SUCCESSFUL_HISTORY),
            failed_history: spec
                .failed_jobs_history_limit
                .unwrap_or(DEFAULT_FAILED_HISTORY),
        })
    }
}

/// What the controller remembers about a CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// When the CronJob was created (the search starts there before any run).
    pub created: Timestamp,
    /// The nominal time of the latest Job started.
    pub last_schedule: Option<Timestamp>,
    /// Completion time of the latest successful Job.
    pub last_successful: Option<Timestamp>,
}

/// A Job this CronJob owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// The Job's name.
    pub name: String,
    /// When it started running (for history order).
    pub start_time: Option<Timestamp>,
    /// `Some(succeeded, completion or failure time)` once finished.
    pub finished: Option<(bool, Timestamp)>,
}

/// Events the controller records, named as Kubernetes names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// More than 100 start times were missed (the Job is still created).
    TooManyMissedTimes(i64),
    /// The slot is older than `startingDeadlineSeconds`.
    MissSchedule(Timestamp),
    /// Forbid: a run is active, the slot is skipped (it may still run late).
    JobAlreadyActive(Timestamp),
    /// The schedule fires less than a second apart or never.
    InvalidSchedule,
}

/// A Job to create for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// `<cronjob>-<floor(unix(scheduled)/60)>`.
    pub name: String,
    /// The nominal slot.
    pub scheduled: Timestamp,
    /// The `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation:
    /// the slot in RFC 3339, in the CronJob's `timeZone` (UTC without one).
    pub scheduled_annotation: String,
}

/// What the executor must do after a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    /// A Job to start.
    pub create: Option<NewJob>,
    /// Jobs to delete (replaced, or beyond the history limits).
    pub delete: Vec<String>,
    /// Events to record.
    pub events: Vec<Event>,
    /// When to sync again.
    pub requeue_at: Option<Timestamp>,
}

/// One sync of a CronJob.
pub fn sync(spec: &Spec, state: &mut State, children: &[Child], now: Timestamp) -> Actions {
    let mut actions = Actions::default();
    // History cleanup runs first, even when suspended.
    for (succeeded, limit) in [
        (true, spec.successful_history),
        (false, spec.failed_history),
    ] {
        let mut finished: Vec<&Child> = children
            .iter()
            .filter(|c| c.finished.is_some_and(|(ok, _)| ok == succeeded))
            .collect();
        // Oldest first by start time (unset last), then name.
        finished.sort_by(|a, b| {
            (a.start_time.is_none(), a.start_time, &a.name).cmp(&(
                b.start_time.is_none(),
                b.start_time,
                &b.name,
            ))
        });
        let excess = finished.len().saturating_sub(limit.max(0) as usize);
        actions
            .delete
            .extend(finished.iter().take(excess).map(|c| c.name.clone()));
    }
    if let Some(latest) = children
        .iter()
        .filter_map(|c| c.finished.filter(|(ok, _)| *ok).map(|(_, at)| at))
        .max()
    {
        state.last_successful = state.last_successful.max(Some(latest));
    }
    if spec.suspend {
        return actions;
    }
    let active: Vec<&Child> = children.iter().filter(|c| c.finished.is_none()).collect();
    let Some((scheduled, missed)) = most_recent_unmet(spec, state, now, &mut actions) else {
        return actions;
    };
    actions.requeue_at = spec.schedule.next_after(now, &spec.zone);
    if missed > TOO_MANY_MISSED {
        actions.events.push(Event::TooManyMissedTimes(missed));
    }
    if let Some(deadline) = spec.starting_deadline
        && shifted(scheduled, SignedDuration::from_secs(deadline)) < now
    {
        actions.events.push(Event::MissSchedule(scheduled));
        return actions;
    }
    let name = job_name(&spec.name, scheduled);
    if state.last_schedule == Some(scheduled) || active.iter().any(|c| c.name == name) {
        return actions;
    }
    match spec.concurrency {
        Concurrency::Forbid if !active.is_empty() => {
            // Not recorded: the slot can still start late when the run ends.
            actions.events.push(Event::JobAlreadyActive(scheduled));
            actions.requeue_at = None;
            return actions;
        }
        Concurrency::Replace => actions.delete.extend(active.iter().map(|c| c.name.clone())),
        _ => {}
    }
    state.last_schedule = Some(scheduled);
    actions.create = Some(NewJob {
        name,
        scheduled,
        scheduled_annotation: rfc3339_in(scheduled, &spec.annotation_zone),
    });
    actions
}

/// An instant as Go's RFC 3339 in a zone: `2025-03-10T02:30:00-04:00`, and
/// `Z` whenever the offset is zero.
pub fn rfc3339_in(t: Timestamp, zone: &Zone) -> String {
    let zoned = t.to_zoned(zone.time_zone().clone());
    let offset = zoned.offset().seconds();
    let suffix = if offset == 0 {
        "Z".to_string()
    } else {
        let (sign, abs) = if offset < 0 {
            ('-', -offset)
        } else {
            ('+', offset)
        };
        format!("{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60)
    };
    format!("{}{suffix}", zoned.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// `<cronjob>-<minutes since the epoch of the slot>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// The controller's `mostRecentScheduleTime`: the latest slot at or before
/// now that has not run, and how many were missed. For more than one missed
/// slot it estimates from the first two slots' distance and searches from
/// just before the estimate; on irregular schedules this can find nothing and
/// skip a slot (docs/kubernetes-semantics.md §2.3), which is reproduced, not fixed.
fn most_recent_unmet(
    spec: &Spec,
    state: &State,
    now: Timestamp,
    actions: &mut Actions,
) -> Option<(Timestamp, i64)> {
    let next = |t: Timestamp| spec.schedule.next_after(t, &spec.zone);
    let mut earliest = state.last_schedule.unwrap_or(state.created);
    if let Some(deadline) = spec.starting_deadline {
        earliest = earliest.max(shifted(
            now,
            SignedDuration::from_secs(deadline.saturating_neg()),
        ));
    }
    let (Some(t1), t2) = (next(earliest), next(earliest).and_then(next)) else {
        actions.events.push(Event::InvalidSchedule);
        return None;
    };
    if now < t1 {
        actions.requeue_at = Some(t1);
        return None;
    }
    let Some(t2) = t2 else {
        actions.events.push(Event::InvalidSchedule);
        return None;
    };
    if now < t2 {
        return Some((t1, 1));
    }
    // Whole seconds, as the controller computes them.
    let period = t2.duration_since(t1).as_secs_f64().round() as i64;
    if period < 1 {
        actions.events.push(Event::InvalidSchedule);
        return None;
    }
    let missed = now.duration_since(t1).as_secs() / period + 1;
    let estimate = shifted(
        t1,
        SignedDuration::from_secs((missed - 2).saturating_mul(period)),
    );
    let mut found = None;
    let mut t = next(estimate);
    while let Some(slot) = t.filter(|slot| *slot <= now) {
        found = Some(slot);
        t = next(slot);
    }
    if found.is_none() {
        actions.requeue_at = next(now);
    }
    found.map(|slot| (slot, missed))
}

#[cfg(test)]
mod tests;
