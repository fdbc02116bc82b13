//! One sync of a planned revision on a target: apply the plan,
//! follow every run it started (and every run a restart resumed) to its
//! end, and report it all on the commits. `jobcd sync` runs it once; the
//! service will run it per trigger. What happens is told to `on` as
//! [`Event`]s, for people or logs; nothing here prints.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::manifest::{Kind, ObjectRef};
use crate::plan::{Action, Plan, Refusal};
use crate::reconcile::{self, Done};
use crate::report::record::{self, Recorder};
use crate::report::{SYNC_CONTEXT, Status};

use crate::target::{JobRef, Live, Outcome, Target};

/// How often a sync says what it still waits for.
pub const PROGRESS: Duration = Duration::from_secs(10);

/// What happens during a sync.
#[derive(Debug)]
pub enum Event<'a> {
    /// An operation failed; the ones after it were not attempted.
    ApplyFailed(&'a str),
    /// A run ended.
    RunEnded(&'a Outcome),
    /// Runs still going, after `elapsed`.
    Waiting {
        /// The Jobs, sorted.
        jobs: Vec<String>,
        /// Since the runs started.
        elapsed: Duration,
    },
    /// A status could not be delivered yet (it is retried later).
    Undelivered(&'a str),
}

/// What a sync did.
#[derive(Debug)]
pub struct Synced {
    /// The operations carried out.
    pub done: Vec<Done>,
    /// The runs followed, in the order they ended.
    pub runs: Vec<Outcome>,
    /// The operation that failed, if one did.
    pub error: Option<String>,
    /// "N created, … ; N Job run(s), N failed".
    pub summary: String,
    /// Following stopped before every run ended, and why: the runs still
    /// going are reported when a later sync resumes them.
    pub interrupted: Option<Stop>,
}

/// Why a sync stops following its runs before they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The process is stopping: the sync's status stays pending, and the
    /// next start resumes the same revision.
    Shutdown,
    /// A newer revision is to be synced: this one's status is recorded
    /// (applied, runs still going), and the next sync follows the runs.
    Superseded,
}

impl Synced {
    /// Whether the sync fell short: an operation or a run failed, or an
    /// object conflicts.
    pub fn failed(&self, plan: &Plan<'_>) -> bool {
        self.error.is_some()
            || plan.count(Action::Conflict) > 0
            || self.runs.iter().any(|r| r.result != "Complete")
    }
}

/// Reports statuses through an optional recorder, telling `on` what could
/// not be delivered.
struct Notes<'r, F> {
    recorder: Option<&'r Recorder>,
    quiet: bool,
    on: F,
}

impl<F: FnMut(Event<'_>)> Notes<'_, F> {
    fn note(&mut self, status: Status) -> Result<(), crate::db::Error> {
        let Some(recorder) = self.recorder.filter(|_| !self.quiet) else {
            return Ok(());
        };
        recorder.record(&status, Timestamp::now())?;
        deliver(recorder, &mut self.on);
        Ok(())
    }
}

/// Delivers what is due; failures are told, never returned.
pub fn deliver(recorder: &Recorder, on: &mut impl FnMut(Event<'_>)) {
    match recorder.deliver(Timestamp::now()) {
        Ok(delivery) => {
            for failure in &delivery.failed {
                on(Event::Undelivered(failure));
            }
        }
        Err(e) => on(Event::Undelivered(&format!("status outbox: {e}"))),
    }
}

/// Reports on commit `sha` that prune safety refused its revision.
pub fn refused(
    recorder: Option<&Recorder>,
    sha: &str,
    refusal: &Refusal,
    on: impl FnMut(Event<'_>),
) -> Result<(), crate::db::Error> {
    let mut notes = Notes {
        recorder,
        quiet: false,
        on,
    };
    notes.note(record::rejected(sha, &refusal.to_string()))
}

/// A planned revision of a source.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    /// The source's name.
    pub source: &'a str,
    /// The commit.
    pub sha: &'a str,
    /// How many objects it wants.
    pub objects: usize,
    /// Its plan.
    pub plan: &'a Plan<'a>,
    /// What the target held when it was planned.
    pub live: &'a [Live],
}

/// Applies the plan and follows the runs: those it starts, reported on the
/// revision's commit, and `resumed` ones (a start's recovery) of this
/// source's Jobs, reported on the commit they came from. When `stop`
/// resolves while runs are followed (the apply itself always finishes),
/// it returns at once, `interrupted` (see [`Stop`]).
pub async fn apply_and_follow<T: Target>(
    executor: &T,
    revision: Planned<'_>,
    resumed: Vec<JobRef>,
    recorder: Option<&Recorder>,
    on: impl FnMut(Event<'_>),
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<Synced> {
    let Planned {
        source,
        sha,
        objects,
        plan,
        live,
    } = revision;
    let mut outcomes = executor.outcomes();
    // A commit already applied is not re-reported when nothing changes.
    let quiet = !plan.has_changes()
        && plan.count(Action::Conflict) == 0
        && recorder.is_some_and(|r| r.succeeded(sha, SYNC_CONTEXT).unwrap_or(false));
    let mut notes = Notes {
        recorder,
        quiet,
        on,
    };
    if plan.has_changes() {
        notes.note(record::syncing(sha, objects))?;
    }
    let (done, error) = match reconcile::apply(executor, plan).await {
        Ok(done) => (done, None),
        Err(failed) => {
            let message = format!("{}: {}", failed.id, failed.error);
            (notes.on)(Event::ApplyFailed(&message));
            (failed.done, Some(message))
        }
    };
    let mut waiting: HashMap<String, (ObjectRef, String)> = HashMap::new();
    for (id, uid) in reconcile::started_runs(&done) {
        notes.note(record::run_started(sha, &id.namespace, &id.name, None))?;
        waiting.insert(uid, (id, sha.to_string()));
    }
    for job in resumed.into_iter().filter(|j| j.owner_cronjob.is_none()) {
        let id = ObjectRef {
            kind: Kind::Job,
            namespace: job.namespace.clone(),
            name: job.name.clone(),
        };
        let from = live
            .iter()
            .find(|l| l.id == id && l.source.as_deref() == Some(source));
        if let Some(revision) = from.and_then(|l| l.revision.clone()) {
            waiting.entry(job.uid).or_insert((id, revision));
        }
    }
    let conflicts = plan.count(Action::Conflict);
    let applied = format!(
        "{} created, {} updated, {}{} re-run, {} pruned, {} unchanged, {} skipped, {} conflicts",
        plan.count(Action::Create),
        plan.count(Action::Update),
        // Drift put back, told only when there was some (a commit status
        // description holds 140 characters).
        match plan.count(Action::Revert) {
            0 => String::new(),
            n => format!("{n} reverted, "),
        },
        plan.count(Action::Rerun),
        plan.count(Action::Prune),
        plan.count(Action::Unchanged),
        plan.count(Action::Skip),
        conflicts,
    );
    let mut runs = Vec::new();
    let started = tokio::time::Instant::now();
    let mut progress = tokio::time::interval_at(started + PROGRESS, PROGRESS);
    let mut stop = std::pin::pin!(stop);
    while !waiting.is_empty() {
        tokio::select! {
            why = &mut stop => {
                let summary = format!("{applied}; {} Job run(s) still going", waiting.len());
                if why == Stop::Superseded {
                    notes.note(final_status(sha, &error, conflicts, &summary))?;
                }
                return Ok(Synced {
                    done,
                    runs,
                    error,
                    summary,
                    interrupted: Some(why),
                });
            }
            received = outcomes.recv() => {
                let Ok(outcome) = received else { continue };
                if let Some((_, run_sha)) = waiting.remove(&outcome.uid) {
                    (notes.on)(Event::RunEnded(&outcome));
                    notes.note(record::run_ended(&run_sha, &outcome))?;
                    runs.push(outcome);
                }
            }
            _ = progress.tick() => {
                let mut jobs: Vec<String> = waiting.values().map(|(id, _)| id.to_string()).collect();
                jobs.sort();
                (notes.on)(Event::Waiting { jobs, elapsed: started.elapsed() });
            }
        }
    }
    executor
        .settle()
        .await
        .map_err(|e| anyhow::anyhow!("after the runs ended: {e}"))?;
    let failed_runs = runs.iter().filter(|r| r.result != "Complete").count();
    let summary = format!("{applied}; {} Job run(s), {failed_runs} failed", runs.len());
    notes.note(final_status(sha, &error, conflicts, &summary))?;
    Ok(Synced {
        done,
        runs,
        error,
        summary,
        interrupted: None,
    })
}

/// The sync's last status on commit `sha`.
fn final_status(sha: &str, error: &Option<String>, conflicts: usize, summary: &str) -> Status {
    match (error, conflicts) {
        (Some(e), _) => record::apply_failed(sha, e),
        (None, 0) => record::synced(sha, summary),
        (None, _) => record::rejected(sha, &format!("{conflicts} conflict(s): {summary}")),
    }
}
