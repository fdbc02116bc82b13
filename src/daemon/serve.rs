//! The service's loop: one task per source, each waiting on its trigger
//! (poll, webhook, start) and then reconciling — fetch, load, plan, apply,
//! follow runs, report — with at most `concurrency` sources at once. A
//! failing source backs off on its own trigger; others go on. Shutdown
//! stops taking new work, lets an apply in flight finish (runs still going
//! are followed again by the next start), and flushes the status outbox
//! within a grace period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::board::{Card, FINDINGS_KEPT, Finding, Last};
use super::leader::Leadership;
use super::metrics::Metrics;
use super::shards::Shards;
use super::trigger::{Reason, Trigger};
use crate::manifest;
use crate::plan::{Action, Policy};
use crate::reconcile::{self, Event, Mode, Reconciled, Request, Stop, Verdict};
use crate::report::statuses::Statuses;
use crate::source::Source;
use crate::target::{RunEvent, Target};

/// One source as the loop runs it.
pub struct Looped {
    /// Its name.
    pub name: String,
    /// Where its manifests come from.
    pub source: Source,
    /// When it reconciles.
    pub trigger: Trigger,
    /// What its reconciles did, for `/readyz` and the dashboard.
    pub card: Arc<Card>,
    /// Push the git notes to the source's remote after each reconcile.
    pub push_notes: bool,
    /// Plain Secrets in its repository are ignored rather than refused.
    pub allow_secrets: bool,
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

/// What every source's loop shares.
pub struct Shared<'a> {
    /// Prune safety and drift correction.
    pub policy: Policy,
    /// How many sources reconcile at once.
    pub concurrency: usize,
    /// The metrics.
    pub metrics: &'a Metrics,
    /// Where statuses go.
    pub statuses: &'a Statuses,
    /// Which sources this replica reconciles.
    pub scope: Scope<'a>,
}

/// Which sources a replica reconciles.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// Every one: the only replica, or the leader of an election (which
    /// it confirms before each reconcile).
    All(Option<&'a Leadership>),
    /// Those of the shards it holds.
    Sharded(&'a Shards),
}

/// Runs every source's loop until `shutdown` is cancelled; applies in
/// flight finish first. With a leader, each reconcile first confirms that
/// this replica still holds the Lease; when it does not, every loop stops
/// taking work. Sharded, a source whose shard this replica does not hold
/// is skipped, and its shard cannot be given up while it reconciles.
pub async fn run<T: Target + Sync>(
    target: &T,
    mut sources: Vec<Looped>,
    shared: &Shared<'_>,
    shutdown: CancellationToken,
) -> Ended {
    let permits = Semaphore::new(shared.concurrency.max(1));
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
                let _in_flight = match shared.scope {
                    Scope::All(Some(leader)) if !Box::pin(leader.confirm()).await => {
                        error!(lease = %leader.lease, "this replica no longer holds the leader Lease: not reconciling");
                        let _ = demote.send(true);
                        return;
                    }
                    Scope::All(_) => None,
                    Scope::Sharded(shards) => match shards.begin(&s.name) {
                        Some(in_flight) => Some(in_flight),
                        // Another replica's: taking the shard over
                        // triggers it here.
                        None => {
                            s.trigger.done(true);
                            continue;
                        }
                    },
                };
                let started = Instant::now();
                s.card.began(Timestamp::now());
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
                // Boxed, as the Lease's confirmation above: a reconcile's
                // state is kilobytes, and inline it would be held by every
                // source's loop while it waits, not only by the few
                // reconciling (a loop was 7.3 KB, heaptrack; now 0.7 KB).
                let (verdict, why) = Box::pin(reconcile(target, s, shared, reason, stop))
                    .instrument(span.clone())
                    .await;
                shared.metrics.reconciled(
                    &s.name,
                    verdict,
                    started.elapsed().as_secs_f64(),
                    Timestamp::now().as_second() as f64,
                );
                shared.metrics.set_backlog(shared.statuses.backlog().await);
                let fine = matches!(
                    verdict,
                    Verdict::Synced | Verdict::Invalid | Verdict::Refused
                );
                if s.push_notes {
                    shared.statuses.drain(None).await;
                    push_notes(&s.source).instrument(span).await;
                }
                super::memory::after_work();
                s.trigger.done(fine);
                let now = Timestamp::now();
                s.card.ended(
                    Last {
                        verdict,
                        why,
                        at: now,
                        took: started.elapsed(),
                    },
                    s.trigger
                        .until_next_poll()
                        .and_then(|wait| now.checked_add(wait).ok()),
                );
            }
        }
    });
    futures::future::join_all(loops).await;
    if *demoted.borrow() {
        Ended::Demoted
    } else {
        Ended::Shutdown
    }
}

/// Shutdown, or demotion: either stops the loops.
#[derive(Clone)]
struct Halt {
    shutdown: CancellationToken,
    demoted: watch::Receiver<bool>,
}

impl Halt {
    /// Resolves once either is set.
    async fn wait(&mut self) {
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            _ = self.demoted.wait_for(|demoted| *demoted) => {}
        }
    }
}

/// At shutdown: delivers what is still in the outbox (failed deliveries
/// included, whatever their backoff), retrying until it is empty or
/// `grace` passed, then pushes the notes of the sources that push them.
/// What is left stays in the outbox for the next start.
pub async fn flush(statuses: &Statuses, sources: &[(String, Source, bool)], grace: Duration) {
    let left = statuses
        .drain(Some(grace))
        .instrument(info_span!("flush"))
        .await;
    if left > 0 {
        warn!("{left} status(es) not delivered; kept for the next start");
    }
    for (name, source, push) in sources {
        if *push {
            push_notes(source)
                .instrument(info_span!("flush", source = %name))
                .await;
        }
    }
}

/// One reconcile of one source, logged in the caller's span (its field
/// `revision` is filled in once fetched) and noted on its card; the
/// verdict says how it ended, and the sentence why.
pub async fn reconcile<T: Target>(
    target: &T,
    s: &Looped,
    shared: &Shared<'_>,
    reason: Reason,
    stop: impl Future<Output = Stop>,
) -> (Verdict, String) {
    let source = s.source.clone();
    let snapshot = match tokio::task::spawn_blocking(move || source.snapshot()).await {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(crate::source::Error::Unverified(unverified))) => {
            let crate::source::Unverified { revision, refusal } = *unverified;
            tracing::Span::current().record("revision", revision.short_sha.as_str());
            s.card.read(&revision);
            error!(
                check = refusal.check.as_str(),
                "{refusal}; nothing applied, the last good revision stays in force"
            );
            shared.metrics.signature_refused(&s.name, refusal.check);
            let refused: Reconciled<T::Error> = reconcile::refuse_unverified(
                &s.name,
                &revision.sha,
                &refusal,
                Some(shared.statuses),
                Mode::Apply,
            )
            .await;
            return (
                refused.verdict(),
                format!("signature check failed: {refusal}"),
            );
        }
        Ok(Err(e)) => {
            error!("fetching: {e}");
            return (Verdict::Error, format!("fetching: {e}"));
        }
        Err(e) => {
            error!("fetching: {e}");
            return (Verdict::Error, format!("fetching: {e}"));
        }
    };
    s.card.read(&snapshot.revision);
    let sha = snapshot.revision.sha.clone();
    tracing::Span::current().record("revision", snapshot.revision.short_sha.as_str());
    for signer in &snapshot.signers {
        debug!("verified: {signer}");
    }
    let options = manifest::Options {
        strict: false,
        now: Timestamp::now(),
        allow_secrets: s.allow_secrets,
    };
    let validation = manifest::load_tree(&snapshot.tree, &s.name, &options);
    let request = Request {
        source: &s.name,
        sha: &sha,
        validation: &validation,
        policy: &shared.policy,
        mode: Mode::Apply,
        rendered: snapshot.rendered.as_ref(),
    };
    let mut on = |event: Event<'_>| {
        if let Event::Planned(plan) = &event {
            let found = |actions: &[Action]| -> Vec<Finding> {
                plan.steps()
                    .iter()
                    .filter(|step| actions.contains(&step.action))
                    .take(FINDINGS_KEPT)
                    .map(|step| Finding {
                        object: step.id.to_string(),
                        reason: step.reason.clone(),
                    })
                    .collect()
            };
            s.card.planned(
                found(&[Action::Revert, Action::Drifted]),
                found(&[Action::Conflict]),
            );
        }
        log(event, reason)
    };
    let reconciled = reconcile::run(target, request, Some(shared.statuses), &mut on, stop).await;
    let why = match &reconciled {
        Reconciled::Invalid => {
            let first = validation.first_error();
            error!("invalid: {first}; nothing applied");
            format!("invalid: {first}")
        }
        Reconciled::Refused(e) => {
            error!("{e}; nothing applied");
            e.to_string()
        }
        Reconciled::Unreadable(e) => {
            error!("reading the target: {e}");
            format!("reading the target: {e}")
        }
        Reconciled::Rehearsed(_) => String::new(),
        Reconciled::Applied(synced) => {
            for done in &synced.done {
                shared.metrics.applied(done.verb);
            }
            for run in &synced.runs {
                shared.metrics.run_ended(run.result);
            }
            match synced.interrupted {
                Some(Stop::Superseded) => info!(
                    "{}; a newer revision is next, which follows them",
                    synced.summary
                ),
                Some(Stop::Shutdown) => info!("{}", synced.summary),
                None if synced.counts.changes => info!("{}", synced.summary),
                None => {}
            }
            match &synced.failure {
                Some(failure) => format!("{}; {failure}", synced.summary),
                None => synced.summary.clone(),
            }
        }
    };
    (reconciled.verdict(), why)
}

/// Logs what happens during a reconcile.
fn log(event: Event<'_>, reason: Reason) {
    match event {
        Event::Planned(plan) => {
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
            for step in plan.steps() {
                match step.action {
                    // Drift is told field by field, whether it is put back
                    // or left.
                    Action::Revert | Action::Drifted => {
                        warn!(object = %step.id, "drift: {}", step.reason);
                    }
                    Action::Conflict => warn!(object = %step.id, "conflict: {}", step.reason),
                    _ => {}
                }
            }
        }
        Event::ApplyFailed(e) => error!("apply failed: {e}"),
        Event::Run(RunEvent::Ended(o)) => info!(
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
        Event::Run(RunEvent::Started { .. } | RunEvent::Pod { .. }) | Event::Waiting { .. } => {}
    }
}

/// Pushes a source's notes to its remote; a failure is logged and the
/// next reconcile pushes again.
async fn push_notes(source: &Source) {
    let pushed = source
        .push_notes_off_runtime(crate::report::notes::NOTES_REF)
        .await;
    if let Err(e) = pushed {
        warn!("pushing notes: {e}");
    }
}
