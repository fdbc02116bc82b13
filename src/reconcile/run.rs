//! The one step that reconciles a revision: validate, admit, observe,
//! plan, apply, follow the runs it started (and the runs a restart left)
//! to their end, and report it all on the commits. `jobcd sync`, `jobcd
//! diff`, `jobcd serve` (either target) and `jobcd local apply` are thin
//! callers of [`run`]: they differ only in what they do with its events
//! and its outcome.

use std::time::Duration;

use super::apply::{self, Done};
use super::follow::{Followed, Following, Reporter, follow};
use super::prepare::{self, Prepared, Unprepared};
use crate::causes::one_line;
use crate::manifest::{ObjectRef, Validation};
use crate::plan::{self, Action, Plan, Policy};
use crate::report::record;
use crate::report::statuses::Statuses;
use crate::report::{SYNC_CONTEXT, Status};
use crate::source::render::Rendered;
use crate::source::verify::Refusal;
use crate::target::{Cause, JobRef, Outcome, RunEvent, RunResult, Target};

/// How often a reconcile says what it still waits for.
pub const PROGRESS: Duration = Duration::from_secs(10);

/// What to do with the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Carry it out, follow the runs, report on the commits.
    Apply,
    /// Plan only: nothing is applied and nothing reported (`diff`, `sync
    /// --dry-run`).
    Rehearse,
}

/// A revision of a source, and how to reconcile it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The source's name (`jobcd.dev/source`).
    pub source: &'a str,
    /// The commit (or `working-tree`).
    pub sha: &'a str,
    /// Its manifests, validated.
    pub validation: &'a Validation,
    /// Prune safety and drift correction.
    pub policy: &'a Policy,
    /// Apply, or rehearse.
    pub mode: Mode,
    /// The engine that rendered the manifests, if one did: the sync's
    /// statuses name it.
    pub rendered: Option<&'a Rendered>,
}

/// What happens during a reconcile, for people and logs.
#[derive(Debug)]
pub enum Event<'a> {
    /// The plan, before anything is applied.
    Planned(&'a Plan<'a>),
    /// An operation failed; the ones after it were not attempted.
    ApplyFailed(&'a ApplyFailure),
    /// One of the runs this reconcile follows started or ended.
    Run(&'a RunEvent),
    /// Runs still going, after `elapsed`.
    Waiting {
        /// The Jobs, sorted.
        jobs: Vec<String>,
        /// Since the runs started.
        elapsed: Duration,
    },
}

/// Why a reconcile stops following its runs before they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The process is stopping: the sync's status stays pending, and the
    /// next start resumes the same revision.
    Shutdown,
    /// A newer revision is to be synced: this one's status is recorded
    /// (applied, runs still going), and the next sync follows the runs.
    Superseded,
}

/// What failed while applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyFailure {
    /// The object whose operation failed; None for the target's own
    /// follow-up work after the runs ended.
    pub id: Option<ObjectRef>,
    /// Why, with its causes.
    pub message: String,
}

impl std::fmt::Display for ApplyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{id}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a revision was refused whole; nothing was applied.
#[derive(Debug)]
pub enum Refused<E> {
    /// Its signatures: nothing of it was read.
    Unverified(Refusal),
    /// Prune safety.
    Prune(plan::Refusal),
    /// The target (an object outside its namespaces, a name held by an
    /// object jobcd does not manage).
    Target(E),
}

impl<E: std::fmt::Display> std::fmt::Display for Refused<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Unverified(refusal) => refusal.fmt(f),
            Refused::Prune(refusal) => refusal.fmt(f),
            Refused::Target(e) => e.fmt(f),
        }
    }
}

/// What a plan holds, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Whether anything changes.
    pub changes: bool,
    /// Objects jobcd may not change (unmanaged, or another source's).
    pub conflicts: usize,
    /// Fields someone else changed and that are left so.
    pub drifted: usize,
}

impl Counts {
    fn of(plan: &Plan<'_>) -> Counts {
        Counts {
            changes: plan.has_changes(),
            conflicts: plan.count(Action::Conflict),
            drifted: plan.count(Action::Drifted),
        }
    }
}

/// What an applied revision did.
#[derive(Debug)]
pub struct Synced {
    /// The operations carried out, in order.
    pub done: Vec<Done>,
    /// The runs followed, in the order they ended.
    pub runs: Vec<Outcome>,
    /// The operation that failed, if one did (the ones before it are in
    /// `done`; the ones after it were not attempted).
    pub failure: Option<ApplyFailure>,
    /// The plan, counted.
    pub counts: Counts,
    /// "N created, … ; N Job run(s), N failed".
    pub summary: String,
    /// Following stopped before every run ended, and why: the runs still
    /// going are reported when a later reconcile resumes them.
    pub interrupted: Option<Stop>,
}

impl Synced {
    /// Whether it fell short: an operation or a run failed, or an object
    /// conflicts.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
            || self.counts.conflicts > 0
            || self.runs.iter().any(|r| !r.result.succeeded())
    }
}

/// How a reconcile ended.
#[derive(Debug)]
pub enum Reconciled<E> {
    /// The revision does not validate (its diagnostics say why): nothing
    /// was applied.
    Invalid,
    /// The revision was refused whole: nothing was applied.
    Refused(Refused<E>),
    /// The target could not be read: nothing was applied.
    Unreadable(E),
    /// Planned only ([`Mode::Rehearse`]).
    Rehearsed(Counts),
    /// Applied, wholly or up to a failed operation.
    Applied(Synced),
}

/// How a reconcile ended, in one word: what metrics count and what exit
/// codes are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Applied, and every run it followed completed; or, rehearsed, with
    /// nothing that would fail.
    Synced,
    /// The revision does not validate.
    Invalid,
    /// Prune safety or the target refused the revision.
    Refused,
    /// An operation or a run failed, or an object conflicts.
    Failed,
    /// The source or the target could not be read.
    Error,
    /// Shutdown came while runs were followed; the next start resumes them.
    Interrupted,
}

impl Verdict {
    /// The metric label (`jobcd_reconciles_total{result}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Synced => "synced",
            Verdict::Invalid => "invalid",
            Verdict::Refused => "refused",
            Verdict::Failed => "failed",
            Verdict::Error => "error",
            Verdict::Interrupted => "interrupted",
        }
    }
}

impl<E> Reconciled<E> {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        match self {
            Reconciled::Invalid => Verdict::Invalid,
            Reconciled::Refused(_) => Verdict::Refused,
            Reconciled::Unreadable(_) => Verdict::Error,
            Reconciled::Rehearsed(counts) if counts.conflicts > 0 => Verdict::Failed,
            Reconciled::Rehearsed(_) => Verdict::Synced,
            Reconciled::Applied(s) if s.interrupted == Some(Stop::Shutdown) => Verdict::Interrupted,
            // A run jobcd could not carry on (its disk is full, say) is
            // jobcd's error, not the Job's failure.
            Reconciled::Applied(s) if s.runs.iter().any(|r| r.result == RunResult::Error) => {
                Verdict::Error
            }
            Reconciled::Applied(s) if s.failed() => Verdict::Failed,
            Reconciled::Applied(_) => Verdict::Synced,
        }
    }
}

/// Reconciles one revision of a source on `target`. Invalid revisions,
/// refusals and failures are reported on the commit (unless rehearsing)
/// and returned; nothing is ever half-applied because of invalid input.
/// While runs are followed, `stop` resolving ends the following at once
/// (see [`Stop`]); the apply itself always finishes.
pub async fn run<T: Target>(
    target: &T,
    request: Request<'_>,
    statuses: Option<&Statuses>,
    on: &mut (dyn FnMut(Event<'_>) + Send),
    stop: impl Future<Output = Stop>,
) -> Reconciled<T::Error> {
    let Request {
        source,
        sha,
        validation,
        policy,
        mode,
        rendered,
    } = request;
    // The sync's statuses say what rendered the revision.
    let sync_status = |status: Status| match rendered {
        Some(by) => status.noting(&format!("rendered by {by}")),
        None => status,
    };
    let statuses = statuses.filter(|_| mode == Mode::Apply);
    let reporter = Reporter { source, statuses };
    // Subscribed before anything is read or applied, so that no followed
    // run's end is missed.
    let mut events = target.events();
    // Runs a restart left are followed too: the local executor knows its
    // own before the target is read — so a run its ledger shows running is
    // among them, or has ended and the ledger says how — and a cluster's
    // (Jobs an interrupted sync left running) are known once it has been.
    let mut resumed = target.in_flight();
    let prepared = prepare::prepare(target, source, sha, validation).await;
    let Prepared {
        desired,
        live,
        ledger,
    } = match prepared {
        Ok(prepared) => prepared,
        Err(Unprepared::Invalid) => {
            let first = validation.first_error();
            reporter
                .note(sync_status(record::rejected(sha, &first)))
                .await;
            return Reconciled::Invalid;
        }
        Err(Unprepared::Refused(e)) => {
            reporter
                .note(sync_status(record::rejected(sha, &e.to_string())))
                .await;
            return Reconciled::Refused(Refused::Target(e));
        }
        Err(Unprepared::Unreadable(e)) => return Reconciled::Unreadable(e),
    };
    let plan = match plan::plan(source, &desired, &live, &ledger, policy) {
        Ok(plan) => plan,
        Err(refusal) => {
            reporter
                .note(sync_status(record::rejected(sha, &refusal.to_string())))
                .await;
            return Reconciled::Refused(Refused::Prune(refusal));
        }
    };
    resumed.extend(target.in_flight());
    on(Event::Planned(&plan));
    let counts = Counts::of(&plan);
    if mode == Mode::Rehearse {
        return Reconciled::Rehearsed(counts);
    }
    // A commit already applied is not re-reported when nothing changes.
    let quiet = !counts.changes
        && counts.conflicts == 0
        && match statuses {
            Some(s) => s.succeeded(source, sha, SYNC_CONTEXT).await,
            None => true,
        };
    // Quiet silences the sync's own status; the runs it follows (a run a
    // restart left, say) are news on any commit and always reported.
    let runs_reporter = reporter;
    let reporter = Reporter {
        statuses: statuses.filter(|_| !quiet),
        ..reporter
    };
    if counts.changes {
        reporter
            .note(sync_status(record::syncing(sha, desired.len())))
            .await;
    }
    let (done, failure) = match apply::apply(target, &plan).await {
        Ok(done) => (done, None),
        Err(failed) => {
            let failure = ApplyFailure {
                id: Some(failed.id),
                message: one_line(&failed.error),
            };
            on(Event::ApplyFailed(&failure));
            (failed.done, Some(failure))
        }
    };
    let mut following = Following::default();
    for (id, uid) in apply::started_runs(&done) {
        reporter
            .note(record::run_started(sha, &id.namespace, &id.name, None))
            .await;
        let job = JobRef {
            uid: uid.clone(),
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            owner_cronjob: None,
        };
        on(Event::Run(&RunEvent::Started {
            job,
            cause: Cause::Sync,
        }));
        following.insert(uid, id, sha.to_string());
    }
    following.resume(resumed, source, &live);
    // After a failed operation the plan's counts are not what happened.
    let applied = match &failure {
        None => summary(&plan),
        Some(f) => format!(
            "stopped at {} after {} of {} change(s); planned {}",
            f.id.as_ref()
                .map_or_else(|| "an operation".to_string(), ToString::to_string),
            done.len(),
            changes(&plan),
            summary(&plan)
        ),
    };
    let Followed {
        runs,
        going,
        stopped,
    } = follow(target, &mut events, following, runs_reporter, on, stop).await;
    if let Some(why) = stopped {
        let summary = format!("{applied}; {going} Job run(s) still going");
        if why == Stop::Superseded {
            reporter
                .note(sync_status(final_status(sha, &failure, counts, &summary)))
                .await;
        }
        return Reconciled::Applied(Synced {
            done,
            runs,
            failure,
            counts,
            summary,
            interrupted: Some(why),
        });
    }
    let mut failure = failure;
    if let Err(e) = target.settle().await {
        let after = ApplyFailure {
            id: None,
            message: format!("after the runs ended: {}", one_line(&e)),
        };
        on(Event::ApplyFailed(&after));
        failure.get_or_insert(after);
    }
    let failed_runs = runs.iter().filter(|r| !r.result.succeeded()).count();
    let summary = format!("{applied}; {} Job run(s), {failed_runs} failed", runs.len());
    reporter
        .note(sync_status(final_status(sha, &failure, counts, &summary)))
        .await;
    Reconciled::Applied(Synced {
        done,
        runs,
        failure,
        counts,
        summary,
        interrupted: None,
    })
}

/// How a revision whose signatures were refused ends: nothing of it was
/// read, and (unless rehearsing) its commit says which check failed, for
/// which key. The last good revision stays in force.
pub async fn refuse_unverified<E>(
    source: &str,
    sha: &str,
    refusal: &Refusal,
    statuses: Option<&Statuses>,
    mode: Mode,
) -> Reconciled<E> {
    let reporter = Reporter {
        source,
        statuses: statuses.filter(|_| mode == Mode::Apply),
    };
    reporter
        .note(record::rejected(sha, &refusal.to_string()))
        .await;
    Reconciled::Refused(Refused::Unverified(refusal.clone()))
}

/// What the plan does, for the sync's status: "N created, …".
fn summary(plan: &Plan<'_>) -> String {
    format!(
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
        plan.count(Action::Conflict),
    )
}

/// How many operations the plan carries out.
fn changes(plan: &Plan<'_>) -> usize {
    [
        Action::Create,
        Action::Update,
        Action::Revert,
        Action::Rerun,
        Action::Prune,
    ]
    .into_iter()
    .map(|a| plan.count(a))
    .sum()
}

/// The sync's last status on commit `sha`.
fn final_status(
    sha: &str,
    failure: &Option<ApplyFailure>,
    counts: Counts,
    summary: &str,
) -> Status {
    match (failure, counts.conflicts) {
        (Some(f), _) => record::apply_failed(sha, &f.to_string()),
        (None, 0) => record::synced(sha, summary),
        (None, n) => record::rejected(sha, &format!("{n} conflict(s): {summary}")),
    }
}

#[cfg(test)]
mod tests;
