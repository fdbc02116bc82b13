//! CronJob health: for each slot a CronJob's schedule produced, whether a
//! Job ran it, how late it started and how it ended — and from that the
//! failures nobody else reports: a **missed** slot (no Job once its
//! `startingDeadlineSeconds`, or a grace when that is unset, has passed), an
//! **overrunning** run (still going when the next slot came), a **stale**
//! CronJob (its last success older than its allowance) and a suspension
//! older than allowed.
//!
//! A pure function of the CronJob, the runs it made and the time, so that
//! both targets, the metrics and the statuses judge alike. Slots come from
//! [`crate::schedule`] (robfig's rules, in the CronJob's zone); a run is
//! matched to its slot by the time it was scheduled for (the
//! `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation both targets
//! set). Runs that match no slot (run by hand, or of an earlier schedule)
//! count for the last success and failure, not for slots.

use std::time::Duration;

use jiff::Timestamp;

use crate::schedule::{Schedule, Zone};

pub mod kube;
pub mod local;
pub mod observe;
#[cfg(test)]
mod tests;
pub mod track;

pub use crate::ownership::{MAX_AGE as MAX_AGE_ANNOTATION, parse_max_age};

/// The most slots judged at once (a `* * * * *` CronJob over a week).
pub const MAX_SLOTS: usize = 10_080;

/// How CronJobs are judged where they say nothing themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long after its time a slot may still get its Job when the
    /// CronJob sets no `startingDeadlineSeconds`.
    pub grace: Duration,
    /// A CronJob is stale when its last success is older than this many of
    /// its periods (the longest gap between two of its fire times).
    pub stale_periods: u32,
    /// A suspension older than this is reported; None: never.
    pub suspended_max_age: Option<Duration>,
    /// Slots are judged over this many of the CronJob's periods before
    /// now (plus its deadline), not since it was created: what happened
    /// further back was told then, and a `* * * * *` CronJob a year old
    /// does not cost half a million slots at each look.
    pub lookback_periods: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            grace: Duration::from_secs(5 * 60),
            stale_periods: 2,
            suspended_max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            lookback_periods: 3,
        }
    }
}

/// What a CronJob says about itself.
#[derive(Debug, Clone)]
pub struct CronJob<'a> {
    /// `spec.schedule`.
    pub schedule: &'a Schedule,
    /// `spec.timeZone` (or the controller's zone).
    pub zone: &'a Zone,
    /// `spec.startingDeadlineSeconds`.
    pub starting_deadline: Option<Duration>,
    /// Since when it has been suspended (`spec.suspend: true`), if it is.
    pub suspended_since: Option<Timestamp>,
    /// The `jobcd.dev/max-age` annotation, read.
    pub max_age: Option<Duration>,
    /// Since when its slots are expected: when it was created, or when
    /// jobcd began to follow it, whichever is later.
    pub since: Timestamp,
}

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still going.
    Running,
    /// Complete.
    Succeeded,
    /// Failed.
    Failed,
}

/// One Job the CronJob made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The slot it was made for.
    pub scheduled: Timestamp,
    /// When its Job was created.
    pub started: Timestamp,
    /// When it ended, if it has.
    pub finished: Option<Timestamp>,
    /// How.
    pub outcome: Outcome,
}

/// What became of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// A Job was made for it, `delay` after its time.
    Ran {
        /// From the slot's time to the Job's creation.
        delay: Duration,
        /// How the Job ended.
        outcome: Outcome,
    },
    /// No Job yet, and there is still time for one.
    Due,
    /// No Job, and its deadline (or the grace) has passed.
    Missed,
    /// The CronJob was suspended at that time.
    Suspended,
}

/// A slot and what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Its time.
    pub at: Timestamp,
    /// What became of it.
    pub state: SlotState,
}

/// A run still going when its next slot came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun {
    /// The slot the run was made for.
    pub scheduled: Timestamp,
    /// The next slot, which came while it ran.
    pub next: Timestamp,
}

/// A last success older than the CronJob allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale {
    /// The last success's end; None when it never succeeded.
    pub last_success: Option<Timestamp>,
    /// How old it may be.
    pub allowance: Duration,
    /// When it became stale: the last success (or, never having
    /// succeeded, the first slot) plus the allowance.
    pub since: Timestamp,
}

/// A CronJob's health at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The slots of the lookback window (from `since` at the earliest) to
    /// now, oldest first.
    pub slots: Vec<Slot>,
    /// The next slot after now (None: it does not fire within five years).
    pub next: Option<Timestamp>,
    /// The last slot at or before now.
    pub last_scheduled: Option<Timestamp>,
    /// The end of the last run that succeeded.
    pub last_success: Option<Timestamp>,
    /// The end of the last run that failed.
    pub last_failure: Option<Timestamp>,
    /// How long the last finished run took.
    pub last_duration: Option<Duration>,
    /// Runs still going.
    pub active: usize,
    /// Runs still going when their next slot came.
    pub overruns: Vec<Overrun>,
    /// Whether the last success is too old.
    pub stale: Option<Stale>,
    /// How long it has been suspended, when that is longer than allowed.
    pub suspended_too_long: Option<Duration>,
}

impl Health {
    /// The slots that were missed.
    pub fn missed(&self) -> impl Iterator<Item = Timestamp> + '_ {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Missed)
            .map(|s| s.at)
    }
}

/// Judges `cronjob` from `runs` at `now` with `policy`.
pub fn judge(cronjob: &CronJob<'_>, runs: &[Run], now: Timestamp, policy: &Policy) -> Health {
    // Slots after the window's start up to now, a slot exactly now
    // included.
    let deadline = cronjob.starting_deadline.unwrap_or(policy.grace);
    let from = window_start(cronjob, now, deadline, policy);
    let until = now
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap_or(now);
    let fires: Vec<Timestamp> = cronjob
        .schedule
        .fires_between(cronjob.zone, from, until, MAX_SLOTS)
        .into_iter()
        .filter(|t| *t <= now)
        .collect();
    let slots: Vec<Slot> = fires
        .iter()
        .map(|&at| {
            let state = match runs.iter().find(|r| r.scheduled == at) {
                Some(run) => SlotState::Ran {
                    delay: non_negative(run.started, at),
                    outcome: run.outcome,
                },
                None if cronjob.suspended_since.is_some_and(|s| s <= at) => SlotState::Suspended,
                None if non_negative(now, at) > deadline => SlotState::Missed,
                None => SlotState::Due,
            };
            Slot { at, state }
        })
        .collect();
    let next = cronjob.schedule.next_after(now, cronjob.zone);
    let finished = |want: Outcome| {
        runs.iter()
            .filter(|r| r.outcome == want)
            .filter_map(|r| r.finished)
            .max()
    };
    let last_finished = runs
        .iter()
        .filter(|r| r.finished.is_some())
        .max_by_key(|r| r.finished);
    let overruns = runs
        .iter()
        .filter(|r| r.outcome == Outcome::Running)
        .filter_map(|r| {
            let next = cronjob.schedule.next_after(r.scheduled, cronjob.zone)?;
            (next <= now).then_some(Overrun {
                scheduled: r.scheduled,
                next,
            })
        })
        .collect();
    let last_success = finished(Outcome::Succeeded);
    Health {
        next,
        last_scheduled: fires.last().copied(),
        last_success,
        last_failure: finished(Outcome::Failed),
        last_duration: last_finished.and_then(|r| Some(non_negative(r.finished?, r.started))),
        active: runs
            .iter()
            .filter(|r| r.outcome == Outcome::Running)
            .count(),
        overruns,
        stale: stale(cronjob, last_success, now, policy),
        suspended_too_long: cronjob.suspended_since.and_then(|since| {
            let age = non_negative(now, since);
            (age > policy.suspended_max_age?).then_some(age)
        }),
        slots,
    }
}

/// Where the judged slots start: `lookback_periods` periods and the
/// deadline before now, or `since` when that is later.
fn window_start(
    cronjob: &CronJob<'_>,
    now: Timestamp,
    deadline: Duration,
    policy: &Policy,
) -> Timestamp {
    let Some(period) = period(cronjob, now) else {
        return cronjob.since;
    };
    let back = period
        .saturating_mul(policy.lookback_periods)
        .saturating_add(deadline);
    let start = jiff::SignedDuration::try_from(back)
        .ok()
        .and_then(|back| now.checked_sub(back).ok())
        .unwrap_or(Timestamp::MIN);
    start.max(cronjob.since)
}

/// Whether the last success (or, never having succeeded, the CronJob's
/// first expected slot) is older than the CronJob's allowance. A suspended
/// CronJob is not stale: it is not meant to run.
fn stale(
    cronjob: &CronJob<'_>,
    last_success: Option<Timestamp>,
    now: Timestamp,
    policy: &Policy,
) -> Option<Stale> {
    if cronjob.suspended_since.is_some() {
        return None;
    }
    let allowance = match cronjob.max_age {
        Some(age) => age,
        None => period(cronjob, now)?.saturating_mul(policy.stale_periods),
    };
    let since = match last_success {
        Some(at) => at,
        // Never succeeded: stale once the allowance has passed since the
        // first slot it was expected to run.
        None => cronjob.schedule.next_after(cronjob.since, cronjob.zone)?,
    };
    (non_negative(now, since) > allowance).then(|| Stale {
        last_success,
        allowance,
        since: crate::saturating::after(since, allowance),
    })
}

/// The CronJob's period: the longest gap between consecutive fire times
/// over the coming 8 (a weekday schedule's is the weekend's gap).
fn period(cronjob: &CronJob<'_>, now: Timestamp) -> Option<Duration> {
    let fires: Vec<Timestamp> = cronjob
        .schedule
        .upcoming(now, cronjob.zone)
        .take(9)
        .collect();
    fires.windows(2).map(|w| non_negative(w[1], w[0])).max()
}

/// `later - earlier`, or zero when it is not later.
fn non_negative(later: Timestamp, earlier: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or_default()
}
