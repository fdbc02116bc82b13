//! Pull-request previews: what merging a head revision over a base revision
//! does, offline, from the two revisions alone. The base is taken as what
//! is applied (the plan runs against it as if it were live, with an empty
//! run-once ledger), so "will run" means what a sync of the head after a
//! sync of the base runs. For CronJobs it tells the schedule story: next
//! fire times before and after, runs in a window, DST, policy changes and
//! crowded minutes.

pub mod collisions;
mod gantt;
pub mod markdown;
pub mod timing;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use std::collections::HashMap;

use crate::manifest::{DesiredSet, Diagnostic, Kind, Object, ObjectRef, Typed};
use crate::plan::{self, Action, Plan, Policy, Step};
use crate::plan::{Desired, Ledger, Live};
use crate::schedule::{Schedule, Zone};

use collisions::{Collision, Firing};
use timing::{Timing, Warning, Window};

/// The source name the preview plans under (it never reaches a target).
const SOURCE: &str = "preview";

/// What to compute.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fire times are counted strictly after this instant.
    pub now: Timestamp,
    /// How far ahead runs are counted and collisions searched.
    pub window: SignedDuration,
    /// How many next fire times to list per CronJob.
    pub runs: usize,
    /// The zone of CronJobs without `timeZone` (UTC on standard control planes).
    pub default_zone: Zone,
    /// Warn when this many CronJobs start in the same minute.
    pub collision_threshold: usize,
}

/// Default of [`Options::collision_threshold`].
pub const DEFAULT_COLLISION_THRESHOLD: usize = 10;

/// A revision, named for people.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionRef {
    /// The commit.
    pub sha: String,
    /// What the user asked for (`main`, `HEAD~1`, a sha).
    pub reference: String,
}

/// The preview of a head revision over a base.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The base revision.
    pub base: RevisionRef,
    /// The head revision.
    pub head: RevisionRef,
    /// The directory of the repository previewed ("" for all of it).
    pub path: String,
    /// Times are counted from here.
    pub now: Timestamp,
    /// Length of the window, seconds.
    pub window_seconds: i64,
    /// Zone of CronJobs without `timeZone`.
    pub default_time_zone: String,
    /// Counts.
    pub summary: Summary,
    /// Things to know about the whole change (e.g. a prune sync would refuse).
    pub notes: Vec<String>,
    /// Every object that differs, with its diff.
    pub changes: Vec<Change>,
    /// The schedule story of every CronJob that differs.
    pub cronjobs: Vec<CronJobStory>,
    /// The Jobs that differ, and whether the merge runs them.
    pub jobs: Vec<JobRun>,
    /// Minutes the change crowds.
    pub collisions: Vec<Collision>,
    /// The collision threshold used.
    pub collision_threshold: usize,
}

/// How many objects of each sort.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// New objects.
    pub added: usize,
    /// Objects gone from the head.
    pub removed: usize,
    /// Objects that differ.
    pub changed: usize,
    /// Objects identical in both.
    pub unchanged: usize,
    /// Jobs the merge runs.
    pub jobs_run: usize,
    /// Jobs identical in both (not run again).
    pub jobs_unchanged: usize,
    /// CronJobs whose timing changes (added and removed ones included).
    pub cronjobs_retimed: usize,
}

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// Only in the head.
    Added,
    /// Only in the base.
    Removed,
    /// In both, different.
    Changed,
}

impl ChangeKind {
    /// The word for people.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One object that differs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Which object.
    pub id: ObjectRef,
    /// Added, removed or changed.
    pub change: ChangeKind,
    /// Where it is (the head's file, or the base's for a removal).
    pub file: String,
    /// Its line.
    pub line: u32,
    /// What a sync does about it.
    pub action: Action,
    /// Why, in a sentence.
    pub reason: String,
    /// Unified diff of the YAML, base → head.
    pub diff: String,
}

/// A CronJob's schedule before and after.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobStory {
    /// Which CronJob.
    pub id: ObjectRef,
    /// Added, removed or changed.
    pub change: ChangeKind,
    /// Its timing in the base.
    pub before: Option<Timing>,
    /// Its timing in the head.
    pub after: Option<Timing>,
    /// Whether anything deciding when runs start differs.
    pub timing_changed: bool,
    /// What a reviewer should look at.
    pub warnings: Vec<Warning>,
}

/// A Job that differs, and whether merging runs it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    /// Which Job.
    pub id: ObjectRef,
    /// Added or changed.
    pub change: ChangeKind,
    /// Whether the merge runs it.
    pub runs: bool,
    /// Why.
    pub reason: String,
}

/// A head revision that does not validate: nothing would be applied.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invalid {
    /// The base revision.
    pub base: RevisionRef,
    /// The head revision.
    pub head: RevisionRef,
    /// The directory of the repository previewed.
    pub path: String,
    /// Errors and warnings, by file and line.
    pub diagnostics: Vec<Diagnostic>,
}

/// The preview of `head` over `base` (None when the base does not
/// validate: every head object then shows as added, and a note says why).
pub fn preview(
    base: (RevisionRef, Option<&DesiredSet>),
    head: (RevisionRef, &DesiredSet),
    path: &str,
    options: &Options,
) -> Preview {
    let (base_ref, base_set) = base;
    let (head_ref, head_set) = head;
    let mut notes = Vec::new();
    let (before, after) = both_desired(base_set, &base_ref.sha, head_set, &head_ref.sha);
    if base_set.is_none() {
        notes.push(format!(
            "the base {} does not validate, so every object of the head is shown as added",
            base_ref.reference
        ));
    }
    let live: Vec<Live> = before.iter().map(Live::applied).collect();
    let ledger = Ledger::default();
    let steps = match plan::plan(SOURCE, &after, &live, &ledger, &Policy::default()) {
        Ok(plan) => plan.into_steps(),
        Err(refusal) => {
            notes.push(format!("`jobcd sync` would refuse this change: {refusal}"));
            let everything = Policy {
                allow_empty: true,
                force_prune: true,
                ..Policy::default()
            };
            plan::plan(SOURCE, &after, &live, &ledger, &everything)
                .map(Plan::into_steps)
                .unwrap_or_default()
        }
    };

    let window = Window {
        from: options.now,
        to: options
            .now
            .saturating_add(options.window)
            .unwrap_or(options.now),
        runs: options.runs,
    };
    let mut out = Preview {
        base: base_ref,
        head: head_ref,
        path: path.to_string(),
        now: options.now,
        window_seconds: options.window.as_secs(),
        default_time_zone: options.default_zone.name().to_string(),
        summary: Summary::default(),
        notes,
        changes: Vec::new(),
        cronjobs: Vec::new(),
        jobs: Vec::new(),
        collisions: Vec::new(),
        collision_threshold: options.collision_threshold,
    };
    let mut shared = Vec::new();
    for step in &steps {
        let Some(change) = change_kind(step) else {
            out.summary.unchanged += 1;
            match (step.id.kind, step.desired) {
                (Kind::Job, _) => out.summary.jobs_unchanged += 1,
                (Kind::CronJob, Some(d)) => shared.push(d),
                (Kind::CronJob, None) | (Kind::ConfigMap, _) => {}
            }
            continue;
        };
        match change {
            ChangeKind::Added => out.summary.added += 1,
            ChangeKind::Removed => out.summary.removed += 1,
            ChangeKind::Changed => out.summary.changed += 1,
        }
        let at = step
            .desired
            .map(|d| &d.object.location)
            .or_else(|| {
                let id = &step.id;
                before
                    .iter()
                    .find(|d| &d.object.id == id)
                    .map(|d| &d.object.location)
            })
            .cloned()
            .unwrap_or_else(|| crate::manifest::Location {
                file: String::new(),
                line: 0,
            });
        out.changes.push(Change {
            id: step.id.clone(),
            change,
            file: at.file,
            line: at.line,
            action: step.action,
            reason: step.reason.clone(),
            diff: plan::diff::user_diff(
                step.live.map(|l| l.manifest.as_str()),
                step.desired.map(|d| d.object.manifest.json()),
                (
                    crate::source::short_sha(&out.base.sha),
                    crate::source::short_sha(&out.head.sha),
                ),
            ),
        });
        match step.id.kind {
            Kind::CronJob => {
                let story = story(step, change, &before, options, window);
                if story.timing_changed {
                    out.summary.cronjobs_retimed += 1;
                }
                out.cronjobs.push(story);
            }
            Kind::Job if change != ChangeKind::Removed => {
                let runs = matches!(step.action, Action::Create | Action::Rerun);
                if runs {
                    out.summary.jobs_run += 1;
                }
                out.jobs.push(JobRun {
                    id: step.id.clone(),
                    change,
                    runs,
                    reason: step.reason.clone(),
                });
            }
            // A ConfigMap's change is in `changes`, with its diff.
            Kind::Job | Kind::ConfigMap => {}
        }
    }
    out.collisions = crowded_minutes(&out.cronjobs, &shared, options, window);
    out
}

/// Stands in for the spec hash of an object whose manifest is the same
/// text in both revisions.
const SAME_IN_BOTH: &str = "same-in-both-revisions";

/// Both revisions as desired objects. Only objects that differ between
/// them are hashed: one whose manifest is the same text in both is
/// unchanged whatever its hash (and hashing every object is most of a
/// large preview's time), so such pairs share a stand-in hash.
fn both_desired(
    base: Option<&DesiredSet>,
    base_sha: &str,
    head: &DesiredSet,
    head_sha: &str,
) -> (Vec<Desired>, Vec<Desired>) {
    let base_objects = base.map_or(&[][..], DesiredSet::objects);
    let in_base: HashMap<&ObjectRef, &str> = base_objects
        .iter()
        .map(|o| (&o.id, o.manifest.json()))
        .collect();
    let in_head: HashMap<&ObjectRef, &str> = head
        .objects()
        .iter()
        .map(|o| (&o.id, o.manifest.json()))
        .collect();
    let one = |object: &Object, other: &HashMap<&ObjectRef, &str>, revision: &str| Desired {
        spec_hash: if other.get(&object.id) == Some(&object.manifest.json()) {
            SAME_IN_BOTH.to_string()
        } else {
            plan::spec_hash(object)
        },
        object: object.clone(),
        source: SOURCE.into(),
        revision: revision.into(),
    };
    (
        base_objects
            .iter()
            .map(|o| one(o, &in_head, base_sha))
            .collect(),
        head.objects()
            .iter()
            .map(|o| one(o, &in_base, head_sha))
            .collect(),
    )
}

/// Added, removed or changed; None for an object the same in both.
fn change_kind(step: &Step<'_>) -> Option<ChangeKind> {
    match step.action {
        Action::Create => Some(ChangeKind::Added),
        Action::Prune | Action::Keep => Some(ChangeKind::Removed),
        Action::Update | Action::Rerun => Some(ChangeKind::Changed),
        // A changed Job that is not run (on-change: ignore) is still a change.
        _ => {
            let (live, desired) = (step.live?, step.desired?);
            (live.spec_hash.as_deref() != Some(desired.spec_hash.as_str()))
                .then_some(ChangeKind::Changed)
        }
    }
}

fn story(
    step: &Step<'_>,
    change: ChangeKind,
    before: &[Desired],
    options: &Options,
    window: Window,
) -> CronJobStory {
    let timing_of = |d: Option<&Desired>| {
        let d = d?;
        match &d.object.typed {
            Typed::CronJob(cron) => Timing::of(cron, &options.default_zone, window).ok(),
            Typed::Job(_) | Typed::ConfigMap(_) => None,
        }
    };
    let base = before.iter().find(|d| d.object.id == step.id);
    let (old, new) = (timing_of(base), timing_of(step.desired));
    let timing_changed = match (&old, &new) {
        (Some(o), Some(n)) => o.differs(n),
        _ => true,
    };
    let warnings = if timing_changed {
        timing::warnings(old.as_ref(), new.as_ref())
    } else {
        Vec::new()
    };
    CronJobStory {
        id: step.id.clone(),
        change,
        before: old,
        after: new,
        timing_changed,
        warnings,
    }
}

/// Collisions: the changed CronJobs' starts against every other CronJob's.
fn crowded_minutes(
    stories: &[CronJobStory],
    shared: &[&Desired],
    options: &Options,
    window: Window,
) -> Vec<Collision> {
    let names: Vec<String> = stories
        .iter()
        .map(|s| format!("{}/{}", s.id.namespace, s.id.name))
        .collect();
    let side = |pick: fn(&CronJobStory) -> Option<&Timing>| -> Vec<Firing<'_>> {
        stories
            .iter()
            .zip(&names)
            .filter(|(s, _)| s.timing_changed)
            .filter_map(|(s, name)| {
                let t = pick(s).filter(|t| !t.suspend)?;
                let (schedule, zone) = t.schedule();
                Some(Firing {
                    name,
                    schedule,
                    zone,
                })
            })
            .collect()
    };
    let added = side(|s| s.after.as_ref());
    let removed = side(|s| s.before.as_ref());
    // Untouched CronJobs, and changed ones whose timing stayed, start
    // alike before and after.
    let untouched: Vec<(String, Schedule, Zone)> = shared
        .iter()
        .filter_map(|d| {
            let Typed::CronJob(cron) = &d.object.typed else {
                return None;
            };
            let spec = cron.spec.as_ref()?;
            if spec.suspend == Some(true) {
                return None;
            }
            let zone = match spec.time_zone.as_deref() {
                Some(name) => Zone::named(name).ok()?,
                None => options.default_zone.clone(),
            };
            let schedule = Schedule::parse(&spec.schedule).ok()?;
            let id = &d.object.id;
            Some((format!("{}/{}", id.namespace, id.name), schedule, zone))
        })
        .collect();
    let mut firings: Vec<Firing<'_>> = untouched
        .iter()
        .map(|(name, schedule, zone)| Firing {
            name,
            schedule,
            zone,
        })
        .collect();
    for (s, name) in stories.iter().zip(&names) {
        if let Some(t) = s.after.as_ref().filter(|t| !s.timing_changed && !t.suspend) {
            let (schedule, zone) = t.schedule();
            firings.push(Firing {
                name,
                schedule,
                zone,
            });
        }
    }
    collisions::collisions(
        &added,
        &removed,
        &firings,
        window.from,
        window.to,
        options.collision_threshold,
    )
}

#[cfg(test)]
mod tests;
