//! The service's loop: one task per source, each waiting on its trigger
//! (poll, webhook, start) and then reconciling — fetch, load, plan, apply,
//! follow runs, report — with at most `concurrency` sources at once. A
//! failing source backs off on its own trigger; others go on. Shutdown
//! stops taking new work and lets a reconcile in flight finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use jiff::Timestamp;
use tokio::sync::{Semaphore, watch};

use super::metrics::Metrics;
use super::sync::{self as one, Event, Planned};
use super::trigger::{Reason, Trigger};
use crate::manifest;
use crate::plan::{self, Action, Policy};
use crate::reconcile;
use crate::report::record::{self, Recorder};
use crate::source::Source;
use crate::target::{Operation, Target};

/// One source as the loop runs it.
pub struct Looped {
    /// Its name.
    pub name: String,
    /// Where its manifests come from.
    pub source: Source,
    /// Its statuses (None: reported nowhere).
    pub recorder: Option<Recorder>,
    /// When it reconciles.
    pub trigger: Trigger,
    /// Set after its first successful sync.
    pub ready: Arc<AtomicBool>,
    /// Push the git notes to the source's remote after each reconcile.
    pub push_notes: bool,
}

/// How one reconcile ended, as the metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// Applied, and every run it followed completed.
    Synced,
    /// The revision does not validate: nothing applied.
    Invalid,
    /// Prune safety or the target refused the revision: nothing applied.
    Refused,
    /// An operation or a run failed.
    Failed,
    /// The source or the target could not be read.
    Error,
}

impl Reconciled {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reconciled::Synced => "synced",
            Reconciled::Invalid => "invalid",
            Reconciled::Refused => "refused",
            Reconciled::Failed => "failed",
            Reconciled::Error => "error",
        }
    }
}

/// Runs every source's loop until `shutdown` turns true, then returns once
/// the reconciles in flight finished.
pub async fn run<T: Target + Sync>(
    target: &T,
    sources: Vec<Looped>,
    policy: Policy,
    concurrency: usize,
    metrics: &Metrics,
    shutdown: watch::Receiver<bool>,
) {
    let permits = Semaphore::new(concurrency.max(1));
    let loops = sources.into_iter().map(|mut s| {
        let (permits, mut shutdown) = (&permits, shutdown.clone());
        async move {
            loop {
                let reason = tokio::select! {
                    reason = s.trigger.next() => reason,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                // Waiting for a turn ends at shutdown too: no new work.
                let permit = tokio::select! {
                    permit = permits.acquire() => permit,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let Ok(_permit) = permit else {
                    return;
                };
                let started = Instant::now();
                let result = reconcile(target, &s, &policy, metrics, reason).await;
                metrics.reconciled(
                    &s.name,
                    result.as_str(),
                    started.elapsed().as_secs_f64(),
                    Timestamp::now().as_second() as f64,
                );
                if let Some(recorder) = &s.recorder
                    && let Ok(waiting) = recorder.backlog()
                {
                    metrics.set_backlog(waiting);
                }
                let fine = matches!(
                    result,
                    Reconciled::Synced | Reconciled::Invalid | Reconciled::Refused
                );
                if result == Reconciled::Synced {
                    s.ready.store(true, Ordering::SeqCst);
                }
                if s.push_notes && s.recorder.is_some() {
                    push_notes(&s).await;
                }
                s.trigger.done(fine);
            }
        }
    });
    futures::future::join_all(loops).await;
}

/// One reconcile of one source. Problems are logged on stderr with the
/// source's name; the result says how it ended.
pub async fn reconcile<T: Target>(
    target: &T,
    s: &Looped,
    policy: &Policy,
    metrics: &Metrics,
    reason: Reason,
) -> Reconciled {
    let log = |what: &str| eprintln!("source {}: {what}", s.name);
    let now = Timestamp::now;
    let on = |event: Event<'_>| match event {
        Event::ApplyFailed(e) => eprintln!("source {}: apply failed: {e}", s.name),
        Event::RunEnded(o) => eprintln!(
            "source {}: Job {}/{}: {}{}",
            s.name,
            o.namespace,
            o.name,
            o.result,
            o.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        Event::Undelivered(e) => eprintln!("source {}: status not delivered yet: {e}", s.name),
        Event::Waiting { .. } => {}
    };
    let source = s.source.clone();
    let snapshot = match tokio::task::spawn_blocking(move || source.snapshot()).await {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(e)) => {
            log(&format!("fetching: {e}"));
            return Reconciled::Error;
        }
        Err(e) => {
            log(&format!("fetching: {e}"));
            return Reconciled::Error;
        }
    };
    let sha = snapshot.revision.sha.clone();
    let options = manifest::Options {
        strict: false,
        now: now(),
    };
    let validation = manifest::load_tree(&snapshot.tree, &s.name, &options);
    let Some(set) = validation.desired_set() else {
        let first = validation.first_error();
        log(&format!(
            "{} is invalid: {first}; nothing applied",
            snapshot.revision.short_sha
        ));
        note(s, &record::rejected(&sha, &first), on);
        return Reconciled::Invalid;
    };
    let desired = reconcile::desired(&set, &s.name, &sha);
    if let Err(e) = target.admit(&desired).await {
        log(&format!("{e}; nothing applied"));
        note(s, &record::rejected(&sha, &e.to_string()), on);
        return Reconciled::Refused;
    }
    let (live, ledger) = match reconcile::observe(target, &s.name).await {
        Ok(found) => found,
        Err(e) => {
            log(&format!("reading the target: {e}"));
            return Reconciled::Error;
        }
    };
    let plan = match plan::plan(&s.name, &desired, &live, &ledger, policy) {
        Ok(plan) => plan,
        Err(refusal) => {
            log(&refusal.to_string());
            if let Err(e) = one::refused(s.recorder.as_ref(), &sha, &refusal, on) {
                log(&format!("recording the refusal: {e}"));
            }
            return Reconciled::Refused;
        }
    };
    if plan.has_changes() || reason != Reason::Poll {
        log(&format!(
            "{} ({reason:?}): {} to create, {} to update, {} to re-run, {} to prune",
            snapshot.revision.short_sha,
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Rerun),
            plan.count(Action::Prune)
        ));
    }
    let planned = Planned {
        source: &s.name,
        sha: &sha,
        objects: desired.len(),
        plan: &plan,
        live: &live,
    };
    let synced =
        match one::apply_and_follow(target, planned, target.in_flight(), s.recorder.as_ref(), on)
            .await
        {
            Ok(synced) => synced,
            Err(e) => {
                log(&format!("{e:#}"));
                return Reconciled::Error;
            }
        };
    // Operations are applied in order, stopping at the first failure.
    for operation in plan.operations().iter().take(synced.done.len()) {
        metrics.applied(match operation {
            Operation::Create(_) => "create",
            Operation::Update(_) => "update",
            Operation::Recreate(_) => "recreate",
            Operation::Prune(_) => "prune",
        });
    }
    for run in &synced.runs {
        metrics.run_ended(&run.result);
    }
    if plan.has_changes() {
        log(&format!(
            "{}: {}",
            snapshot.revision.short_sha, synced.summary
        ));
    }
    if synced.failed(&plan) {
        Reconciled::Failed
    } else {
        Reconciled::Synced
    }
}

/// Pushes the source's notes to its remote; a failure is logged and the
/// next reconcile pushes again.
async fn push_notes(s: &Looped) {
    let source = s.source.clone();
    let pushed =
        tokio::task::spawn_blocking(move || source.push_notes(crate::report::notes::NOTES_REF))
            .await;
    match pushed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("source {}: pushing notes: {e}", s.name),
        Err(e) => eprintln!("source {}: pushing notes: {e}", s.name),
    }
}

/// Records and delivers one status of `s`, if it reports.
fn note(s: &Looped, status: &crate::report::Status, mut on: impl FnMut(Event<'_>)) {
    if let Some(recorder) = &s.recorder {
        if let Err(e) = recorder.record(status, Timestamp::now()) {
            eprintln!("source {}: recording a status: {e}", s.name);
        }
        one::deliver(recorder, &mut on);
    }
}
