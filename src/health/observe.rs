//! What a target tells about its managed CronJobs, the same for both: each
//! CronJob's schedule facts, the commit its spec came from, and the runs
//! it made — enough to [`judge`](super::judge) it.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob as ApiCronJob;

use super::{CronJob, Health, MAX_AGE_ANNOTATION, Policy, Run, judge, parse_max_age};
use crate::schedule::{Schedule, Zone};

/// One managed CronJob as a target sees it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The source that manages it.
    pub source: String,
    /// The commit its spec came from.
    pub revision: String,
    /// `spec.schedule`.
    pub schedule: Schedule,
    /// Its zone.
    pub zone: Zone,
    /// `spec.startingDeadlineSeconds`.
    pub starting_deadline: Option<Duration>,
    /// Since when it has been suspended, if it is.
    pub suspended_since: Option<Timestamp>,
    /// `jobcd.dev/max-age`.
    pub max_age: Option<Duration>,
    /// Since when its slots are expected.
    pub since: Timestamp,
    /// The Jobs it made that the target still knows of.
    pub runs: Vec<Run>,
}

impl Observed {
    /// Its health at `now`.
    pub fn judge(&self, now: Timestamp, policy: &Policy) -> Health {
        let cronjob = CronJob {
            schedule: &self.schedule,
            zone: &self.zone,
            starting_deadline: self.starting_deadline,
            suspended_since: self.suspended_since,
            max_age: self.max_age,
            since: self.since,
        };
        judge(&cronjob, &self.runs, now, policy)
    }
}

/// A managed CronJob whose health cannot be judged, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unjudged {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Why.
    pub why: UnjudgedWhy,
}

/// Why a CronJob cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnjudgedWhy {
    /// Its stored or live manifest is not a CronJob jobcd can schedule.
    #[error("cannot be scheduled: {0}")]
    Unschedulable(String),
    /// Its `jobcd.dev/max-age` annotation does not read.
    #[error("annotation {MAX_AGE_ANNOTATION}: {0}")]
    MaxAge(String),
}

/// Everything a target told at one look.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// The CronJobs that can be judged.
    pub cronjobs: Vec<Observed>,
    /// Those that cannot.
    pub unjudged: Vec<Unjudged>,
}

/// A target's managed CronJobs, read for health.
pub trait Observe {
    /// Why a look failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Every managed CronJob (applied from a source, not by hand) and its
    /// runs, at `now`.
    fn observe(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Observation, Self::Error>> + Send;
}

/// The schedule facts of a CronJob object, read as the controller reads
/// them: its schedule and zone (the machine's zone when it names none, as
/// on the local target), its deadline, whether it is suspended, and its
/// `jobcd.dev/max-age`.
pub struct Facts {
    /// `spec.schedule`.
    pub schedule: Schedule,
    /// `spec.timeZone`, or `default_zone`.
    pub zone: Zone,
    /// `spec.startingDeadlineSeconds`.
    pub starting_deadline: Option<Duration>,
    /// `spec.suspend`.
    pub suspended: bool,
    /// `jobcd.dev/max-age`.
    pub max_age: Option<Duration>,
}

impl Facts {
    /// Reads `cronjob`; a CronJob naming no zone runs in `default_zone`.
    pub fn of(cronjob: &ApiCronJob, default_zone: &Zone) -> Result<Facts, UnjudgedWhy> {
        let spec = cronjob
            .spec
            .as_ref()
            .ok_or_else(|| UnjudgedWhy::Unschedulable("it has no spec".into()))?;
        let schedule = Schedule::parse(&spec.schedule)
            .map_err(|e| UnjudgedWhy::Unschedulable(format!("schedule: {e}")))?;
        let zone = match &spec.time_zone {
            Some(name) => Zone::named(name)
                .map_err(|e| UnjudgedWhy::Unschedulable(format!("timeZone: {e}")))?,
            None => default_zone.clone(),
        };
        let max_age = cronjob
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(MAX_AGE_ANNOTATION))
            .map(|v| parse_max_age(v))
            .transpose()
            .map_err(UnjudgedWhy::MaxAge)?;
        Ok(Facts {
            schedule,
            zone,
            starting_deadline: spec
                .starting_deadline_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs),
            suspended: spec.suspend == Some(true),
            max_age,
        })
    }
}
