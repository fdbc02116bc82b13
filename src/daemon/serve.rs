//! The service's loop: one task per source, each waiting on its trigger
//! (poll, webhook, start) and then reconciling — fetch, load, plan, apply,
//! follow runs, report — with at most `concurrency` sources at once. A
//! failing source backs off on its own trigger; others go on. Shutdown
//! stops taking new work, lets an apply in flight finish (runs still going
//! are followed again by the next start), and flushes the status outbox
//! within a grace period.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::{Semaphore, watch};
use tracing::{Instrument, error, info, info_span, warn};

use super::leader::Leadership;
use super::metrics::Metrics;
use super::sync::{self as one, Event, Planned, Stop};
use super::trigger::{Reason, Trigger};
use crate::manifest;
use crate::plan::{self, Action, Policy};
use crate::reconcile::{self, Prepared, Unprepared};
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
    pub recorder: Option<Arc<Recorder>>,
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
    /// Shutdown came while runs were followed; the next start resumes them.
    Interrupted,
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
            Reconciled::Interrupted => "interrupted",
        }
    }
}

/// How long shutdown tries to deliver the statuses still in the outbox.
pub const FLUSH_GRACE: Duration = Duration::from_secs(10);

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown was asked for.
    Shutdown,
    /// This replica found it no longer holds the leader Lease.
    Demoted,
}

/// Runs every source's loop until `shutdown` turns true, then returns once
/// the applies in flight finished and the outbox was flushed. With a
/// `leader`, each reconcile first confirms that this replica still holds
/// the Lease; when it does not, every loop stops taking work.
pub async fn run<T: Target + Sync>(
    target: &T,
    mut sources: Vec<Looped>,
    policy: Policy,
    concurrency: usize,
    metrics: &Metrics,
    shutdown: watch::Receiver<bool>,
    leader: Option<&Leadership>,
) -> Ended {
    let permits = Semaphore::new(concurrency.max(1));
    let (demote, demoted) = watch::channel(false);
    let demote = &demote;
    let loops = sources.iter_mut().map(|s| {
        let permits = &permits;
        let mut halt = Halt {
            shutdown: shutdown.clone(),
            demoted: demoted.clone(),
        };
        async move {
            loop {
                let reason = tokio::select! {
                    reason = s.trigger.next() => reason,
                    () = halt.wait() => return,
                };
                // Waiting for a turn ends at shutdown too: no new work.
                let permit = tokio::select! {
                    permit = permits.acquire() => permit,
                    () = halt.wait() => return,
                };
                let Ok(_permit) = permit else {
                    return;
                };
                if let Some(leader) = leader
                    && !leader.confirm().await
                {
                    error!(lease = %leader.lease, "this replica no longer holds the leader Lease: not reconciling");
                    let _ = demote.send(true);
                    return;
                }
                let started = Instant::now();
                let span = info_span!(
                    "reconcile",
                    source = %s.name,
                    revision = tracing::field::Empty,
                    reason = ?reason
                );
                // Following runs ends at shutdown, or when a push or a
                // ref change asks for a newer revision: the next reconcile
                // follows the runs still going, so a long Job never holds
                // up its source's next commit.
                let stop = {
                    let (mut halt, newer) = (halt.clone(), s.trigger.handle());
                    async move {
                        tokio::select! {
                            () = halt.wait() => Stop::Shutdown,
                            () = newer.fired() => Stop::Superseded,
                        }
                    }
                };
                let result = reconcile(target, s, &policy, metrics, reason, stop)
                    .instrument(span.clone())
                    .await;
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
                    push_notes(s).instrument(span).await;
                }
                super::memory::after_work();
                s.trigger.done(fine);
            }
        }
    });
    futures::future::join_all(loops).await;
    flush(&sources, FLUSH_GRACE).await;
    if *demoted.borrow() {
        Ended::Demoted
    } else {
        Ended::Shutdown
    }
}

/// Shutdown, or demotion: either stops the loops.
#[derive(Clone)]
struct Halt {
    shutdown: watch::Receiver<bool>,
    demoted: watch::Receiver<bool>,
}

impl Halt {
    /// Resolves once either is set.
    async fn wait(&mut self) {
        tokio::select! {
            _ = self.shutdown.wait_for(|stop| *stop) => {}
            _ = self.demoted.wait_for(|demoted| *demoted) => {}
        }
    }
}

/// Delivers what is still in the outbox (failed deliveries included,
/// whatever their backoff), retrying until it is empty or `grace` passed.
/// What is left stays in the outbox for the next start.
async fn flush(sources: &[Looped], grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    for s in sources {
        let Some(recorder) = &s.recorder else {
            continue;
        };
        let span = info_span!("flush", source = %s.name);
        let _entered = span.enter();
        loop {
            // Everything counts as due: a year from now.
            let now = Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
            let left = match recorder.deliver(now).and_then(|_| recorder.backlog()) {
                Ok(left) => left,
                Err(e) => {
                    error!("status outbox: {e}");
                    break;
                }
            };
            if left == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                warn!("{left} status(es) not delivered; kept for the next start");
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        drop(_entered);
        if s.push_notes {
            push_notes(s).instrument(span).await;
        }
    }
}

/// One reconcile of one source, logged in the caller's span (its field
/// `revision` is filled in once fetched); the result says how it ended.
pub async fn reconcile<T: Target>(
    target: &T,
    s: &Looped,
    policy: &Policy,
    metrics: &Metrics,
    reason: Reason,
    stop: impl Future<Output = Stop>,
) -> Reconciled {
    let now = Timestamp::now;
    let on = |event: Event<'_>| match event {
        Event::ApplyFailed(e) => error!("apply failed: {e}"),
        Event::RunEnded(o) => info!(
            job = %format_args!("{}/{}", o.namespace, o.name),
            cronjob = o.cronjob.as_deref(),
            "Job {}/{}: {}{}",
            o.namespace,
            o.name,
            o.result,
            o.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        Event::Undelivered(e) => warn!("status not delivered yet: {e}"),
        Event::Waiting { .. } => {}
    };
    let source = s.source.clone();
    let snapshot = match tokio::task::spawn_blocking(move || source.snapshot()).await {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(e)) => {
            error!("fetching: {e}");
            return Reconciled::Error;
        }
        Err(e) => {
            error!("fetching: {e}");
            return Reconciled::Error;
        }
    };
    let sha = snapshot.revision.sha.clone();
    tracing::Span::current().record("revision", snapshot.revision.short_sha.as_str());
    let options = manifest::Options {
        strict: false,
        now: now(),
    };
    let validation = manifest::load_tree(&snapshot.tree, &s.name, &options);
    let Prepared {
        desired,
        live,
        ledger,
    } = match reconcile::prepare(target, &s.name, &sha, &validation).await {
        Ok(prepared) => prepared,
        Err(Unprepared::Invalid) => {
            let first = validation.first_error();
            error!("invalid: {first}; nothing applied");
            note(s, &record::rejected(&sha, &first), on);
            return Reconciled::Invalid;
        }
        Err(Unprepared::Refused(e)) => {
            error!("{e}; nothing applied");
            note(s, &record::rejected(&sha, &e.to_string()), on);
            return Reconciled::Refused;
        }
        Err(Unprepared::Unreadable(e)) => {
            error!("reading the target: {e}");
            return Reconciled::Error;
        }
    };
    let plan = match plan::plan(&s.name, &desired, &live, &ledger, policy) {
        Ok(plan) => plan,
        Err(refusal) => {
            error!("{refusal}");
            if let Err(e) = one::refused(s.recorder.as_deref(), &sha, &refusal, on) {
                error!("recording the refusal: {e}");
            }
            return Reconciled::Refused;
        }
    };
    if plan.has_changes() || reason != Reason::Poll {
        info!(
            "{} to create, {} to update, {} to re-run, {} to prune, {} to revert",
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Rerun),
            plan.count(Action::Prune),
            plan.count(Action::Revert)
        );
    }
    // Drift is told field by field, whether it is put back or left.
    for step in &plan.steps {
        if matches!(step.action, Action::Revert | Action::Drifted) {
            warn!(object = %step.id, "drift: {}", step.reason);
        }
    }
    let planned = Planned {
        source: &s.name,
        sha: &sha,
        objects: desired.len(),
        plan: &plan,
        live: &live,
    };
    let resumed = target.in_flight();
    let synced = match one::apply_and_follow(
        target,
        planned,
        resumed,
        s.recorder.as_deref(),
        on,
        stop,
    )
    .await
    {
        Ok(synced) => synced,
        Err(e) => {
            error!("{e:#}");
            return Reconciled::Error;
        }
    };
    // Operations are applied in order, stopping at the first failure.
    for operation in plan.operations().iter().take(synced.done.len()) {
        metrics.applied(match operation {
            Operation::Create(_) => "create",
            Operation::Update(_) => "update",
            Operation::Revert(_) => "revert",
            Operation::Recreate(_) => "recreate",
            Operation::Prune(_) => "prune",
        });
    }
    for run in &synced.runs {
        metrics.run_ended(&run.result);
    }
    match synced.interrupted {
        Some(Stop::Superseded) => {
            info!(
                "{}; a newer revision is next, which follows them",
                synced.summary
            );
        }
        Some(Stop::Shutdown) => info!("{}", synced.summary),
        None if plan.has_changes() => info!("{}", synced.summary),
        None => {}
    }
    if synced.interrupted == Some(Stop::Shutdown) {
        Reconciled::Interrupted
    } else if synced.failed(&plan) {
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
        Ok(Err(e)) => warn!("pushing notes: {e}"),
        Err(e) => warn!("pushing notes: {e}"),
    }
}

/// Records and delivers one status of `s`, if it reports.
fn note(s: &Looped, status: &crate::report::Status, mut on: impl FnMut(Event<'_>)) {
    if let Some(recorder) = &s.recorder {
        if let Err(e) = recorder.record(status, Timestamp::now()) {
            error!("recording a status: {e}");
        }
        one::deliver(recorder, &mut on);
    }
}
