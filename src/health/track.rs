//! From one look at a CronJob to the next, what changed: a slot newly
//! missed, a run that began to overrun, a CronJob that went stale or
//! stayed suspended too long, a run that failed — and each of these
//! clearing. Each change is a [`Notice`], told once; statuses, log lines,
//! counters and notifications all come from notices, so they agree.
//!
//! The tracker remembers only this process's looks: after a restart the
//! first look tells again what is wrong now (the status outbox drops what
//! was already delivered).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use jiff::Timestamp;

use super::observe::Observed;
use super::{Health, SlotState};

/// A kind of trouble, as receivers select and alerts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A slot got no Job before its deadline.
    Missed,
    /// A run was still going when the next slot came.
    Overrunning,
    /// The last success is older than allowed.
    Stale,
    /// Suspended for longer than allowed.
    Suspended,
    /// The latest finished run failed.
    Failed,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Missed,
        Kind::Overrunning,
        Kind::Stale,
        Kind::Suspended,
        Kind::Failed,
    ];

    /// Its name in configuration, JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Missed => "missed",
            Kind::Overrunning => "overrunning",
            Kind::Stale => "stale",
            Kind::Suspended => "suspended",
            Kind::Failed => "failed",
        }
    }

    /// The alert that names it (`JobcdCronJobMissed`).
    pub fn alert_name(self) -> &'static str {
        match self {
            Kind::Missed => "JobcdCronJobMissed",
            Kind::Overrunning => "JobcdCronJobOverrunning",
            Kind::Stale => "JobcdCronJobStale",
            Kind::Suspended => "JobcdCronJobSuspendedTooLong",
            Kind::Failed => "JobcdCronJobFailed",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a kind of CronJob trouble"))
    }
}

/// One trouble, with what it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// Slots got no Job; `last` is the latest of them.
    Missed {
        /// The latest missed slot.
        last: Timestamp,
        /// How many were newly missed.
        count: usize,
    },
    /// The run of `scheduled` was still going at `next`.
    Overrunning {
        /// The slot the run was made for.
        scheduled: Timestamp,
        /// The slot that came while it ran.
        next: Timestamp,
    },
    /// No success for longer than allowed.
    Stale(super::Stale),
    /// Suspended for `age`.
    Suspended {
        /// How long.
        age: Duration,
    },
    /// The run that finished last failed, at `at`.
    Failed {
        /// When it ended.
        at: Timestamp,
    },
}

impl Trouble {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Trouble::Missed { .. } => Kind::Missed,
            Trouble::Overrunning { .. } => Kind::Overrunning,
            Trouble::Stale(_) => Kind::Stale,
            Trouble::Suspended { .. } => Kind::Suspended,
            Trouble::Failed { .. } => Kind::Failed,
        }
    }
}

/// Whether a trouble began or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It began (or, for missed slots, more were missed).
    Firing(Trouble),
    /// It cleared.
    Resolved(Kind),
}

impl Change {
    /// The kind of trouble.
    pub fn kind(&self) -> Kind {
        match self {
            Change::Firing(t) => t.kind(),
            Change::Resolved(k) => *k,
        }
    }
}

/// A change in one CronJob's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The source that manages it.
    pub source: String,
    /// The commit its spec came from.
    pub revision: String,
    /// Its zone's name (times in messages are told in it).
    pub zone: String,
    /// What changed.
    pub change: Change,
    /// When it was noticed.
    pub at: Timestamp,
    /// For people: "missed the run of 2026-12-06 03:00 Europe/Berlin: no
    /// Job was created".
    pub message: String,
}

/// A Job that started, and how late, for the start-delay histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Namespace of its CronJob.
    pub namespace: String,
    /// The CronJob.
    pub name: String,
    /// Its source.
    pub source: String,
    /// From the slot's time to the Job's creation.
    pub delay: Duration,
}

/// What one look found new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    /// Changes, CronJob by CronJob.
    pub notices: Vec<Notice>,
    /// Runs seen for the first time.
    pub started: Vec<Started>,
}

/// What the tracker remembers of one CronJob.
#[derive(Debug, Default)]
struct Known {
    /// Troubles firing now.
    firing: BTreeMap<Kind, Trouble>,
    /// Missed slots already told.
    missed: BTreeSet<Timestamp>,
    /// Slots whose run was already seen.
    ran: BTreeSet<Timestamp>,
    /// The notice of each trouble firing now.
    told: BTreeMap<Kind, Notice>,
}

/// Remembers each CronJob's troubles between looks.
#[derive(Debug, Default)]
pub struct Tracker {
    known: HashMap<(String, String), Known>,
}

impl Tracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Takes in one look at every CronJob (`judged`, each with its health
    /// at `now`); CronJobs no longer there are forgotten, their troubles
    /// with them (a removed CronJob is not a resolved one).
    pub fn look(&mut self, judged: &[(&Observed, &Health)], now: Timestamp) -> Look {
        let mut look = Look::default();
        let mut present = Vec::with_capacity(judged.len());
        for (cronjob, health) in judged {
            let key = (cronjob.namespace.clone(), cronjob.name.clone());
            let known = self.known.entry(key.clone()).or_default();
            let (changes, started) = known.update(health);
            for change in changes {
                let notice = Notice {
                    namespace: cronjob.namespace.clone(),
                    name: cronjob.name.clone(),
                    source: cronjob.source.clone(),
                    revision: cronjob.revision.clone(),
                    zone: cronjob.zone.name().to_string(),
                    message: describe(&change, cronjob),
                    change,
                    at: now,
                };
                match change {
                    Change::Firing(_) => known.told.insert(change.kind(), notice.clone()),
                    Change::Resolved(kind) => known.told.remove(&kind),
                };
                look.notices.push(notice);
            }
            look.started
                .extend(started.into_iter().map(|delay| Started {
                    namespace: cronjob.namespace.clone(),
                    name: cronjob.name.clone(),
                    source: cronjob.source.clone(),
                    delay,
                }));
            present.push(key);
        }
        let present: BTreeSet<_> = present.into_iter().collect();
        self.known.retain(|key, _| present.contains(key));
        look
    }

    /// The troubles of the CronJob `namespace/name` firing now.
    pub fn firing(&self, namespace: &str, name: &str) -> Vec<Kind> {
        self.known
            .get(&(namespace.to_string(), name.to_string()))
            .map(|k| k.told.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The notice that told each trouble firing now, of every CronJob.
    pub fn firing_notices(&self) -> impl Iterator<Item = &Notice> {
        self.known.values().flat_map(|k| k.told.values())
    }
}

impl Known {
    /// The changes `health` brings, and the delays of runs newly seen.
    fn update(&mut self, health: &Health) -> (Vec<Change>, Vec<Duration>) {
        let mut changes = Vec::new();
        let mut started = Vec::new();
        let oldest = health.slots.first().map(|s| s.at);
        // Slots that left the window are no longer remembered.
        if let Some(oldest) = oldest {
            self.missed.retain(|t| *t >= oldest);
            self.ran.retain(|t| *t >= oldest);
        }
        for slot in &health.slots {
            if let SlotState::Ran { delay, .. } = slot.state
                && self.ran.insert(slot.at)
            {
                started.push(delay);
            }
        }
        let new_misses: Vec<Timestamp> =
            health.missed().filter(|t| self.missed.insert(*t)).collect();
        if let Some(&last) = new_misses.last() {
            let trouble = Trouble::Missed {
                last,
                count: new_misses.len(),
            };
            self.firing.insert(Kind::Missed, trouble);
            changes.push(Change::Firing(trouble));
        }
        // A miss clears once a later slot ran.
        let latest_decided = health
            .slots
            .iter()
            .rev()
            .find(|s| !matches!(s.state, SlotState::Due | SlotState::Suspended));
        if let Some(Trouble::Missed { last, .. }) = self.firing.get(&Kind::Missed).copied()
            && latest_decided
                .is_some_and(|s| s.at > last && matches!(s.state, SlotState::Ran { .. }))
        {
            self.firing.remove(&Kind::Missed);
            changes.push(Change::Resolved(Kind::Missed));
        }
        let now_firing = [
            (
                Kind::Overrunning,
                health.overruns.last().map(|o| Trouble::Overrunning {
                    scheduled: o.scheduled,
                    next: o.next,
                }),
            ),
            (Kind::Stale, health.stale.map(Trouble::Stale)),
            (
                Kind::Suspended,
                health
                    .suspended_too_long
                    .map(|age| Trouble::Suspended { age }),
            ),
            (Kind::Failed, failed(health)),
        ];
        for (kind, trouble) in now_firing {
            let before = self.firing.get(&kind).copied();
            match (before, trouble) {
                (None, Some(t)) => {
                    self.firing.insert(kind, t);
                    changes.push(Change::Firing(t));
                }
                // A new overrun, or a later failure, is news; a stale or
                // suspended CronJob growing older is not.
                (Some(old), Some(t)) => {
                    let news = match (old, t) {
                        (
                            Trouble::Overrunning { scheduled: a, .. },
                            Trouble::Overrunning { scheduled: b, .. },
                        ) => a != b,
                        (Trouble::Failed { at: a }, Trouble::Failed { at: b }) => a != b,
                        _ => false,
                    };
                    if news {
                        self.firing.insert(kind, t);
                        changes.push(Change::Firing(t));
                    }
                }
                (Some(_), None) => {
                    self.firing.remove(&kind);
                    changes.push(Change::Resolved(kind));
                }
                (None, None) => {}
            }
        }
        (changes, started)
    }
}

/// The latest finished run failed (and none succeeded after it).
fn failed(health: &Health) -> Option<Trouble> {
    let at = health.last_failure?;
    (health.last_success.is_none_or(|s| s < at)).then_some(Trouble::Failed { at })
}

/// A change told for people, times in the CronJob's zone.
fn describe(change: &Change, cronjob: &Observed) -> String {
    let zone = cronjob.zone.time_zone();
    let when = |t: Timestamp| {
        format!(
            "{} {}",
            t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M"),
            cronjob.zone.name()
        )
    };
    match change {
        Change::Firing(Trouble::Missed { last, count: 1 }) => {
            format!("missed the run of {}: no Job was created", when(*last))
        }
        Change::Firing(Trouble::Missed { last, count }) => format!(
            "missed {count} runs, the last of {}: no Job was created",
            when(*last)
        ),
        Change::Firing(Trouble::Overrunning { scheduled, next }) => format!(
            "the run of {} was still going at the next slot, {}",
            when(*scheduled),
            when(*next)
        ),
        Change::Firing(Trouble::Stale(super::Stale {
            last_success: Some(at),
            allowance,
            ..
        })) => format!(
            "stale: last success {}, longer ago than the {} allowed",
            when(*at),
            human(*allowance)
        ),
        Change::Firing(Trouble::Stale(super::Stale {
            last_success: None,
            allowance,
            ..
        })) => format!(
            "stale: no run succeeded in the {} allowed",
            human(*allowance)
        ),
        Change::Firing(Trouble::Suspended { age }) => {
            format!("suspended for {}, longer than allowed", human(*age))
        }
        Change::Firing(Trouble::Failed { at }) => {
            format!("its latest run failed, at {}", when(*at))
        }
        Change::Resolved(Kind::Missed) => "runs again: a later slot got its Job".into(),
        Change::Resolved(Kind::Overrunning) => "no run is overrunning now".into(),
        Change::Resolved(Kind::Stale) => "no longer stale: a run succeeded".into(),
        Change::Resolved(Kind::Suspended) => "no longer suspended".into(),
        Change::Resolved(Kind::Failed) => "a later run succeeded".into(),
    }
}

/// A duration for people: `26h`, `3d`, `45m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s >= 86_400 && s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s >= 172_800 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        _ if s >= 3600 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ if s >= 60 && s.is_multiple_of(60) => format!("{}m", s / 60),
        _ if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests;
