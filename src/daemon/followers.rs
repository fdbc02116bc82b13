//! What follows the sources a replica reconciles, besides the loops: the
//! CronJob-run reporter, the health watch, the receiver of pushes relayed
//! by other replicas, and (sharded) what taking a shard over sets off.
//! Each reports only on the sources this replica owns.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::leader;
use super::metrics::Metrics;
use super::shards::{self, Shards};
use super::trigger::{Handle, Reason};
use crate::config;
use crate::health::observe::Observe;
use crate::report::notify::Receiver;
use crate::report::runs::{self, Reported, Sink};
use crate::report::statuses::Statuses;
use crate::target::{RunEvent, Target};

/// Whether this replica reconciles (and reports on) a source now.
pub type Owns = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What reports on the sources a replica reconciles: the CronJob-run
/// reporter, the health watch, the receiver of relayed pushes.
pub struct Followers<T> {
    /// The target.
    pub target: Arc<T>,
    /// Where statuses go.
    pub statuses: Statuses,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Ends with the loops.
    pub work: CancellationToken,
    /// Which sources this replica reports on.
    pub owns: Owns,
}

impl<T> Followers<T>
where
    T: Target + Observe + Send + Sync + 'static,
{
    fn logged(&self) -> Logged {
        Logged {
            metrics: self.metrics.clone(),
            owns: self.owns.clone(),
        }
    }

    /// Spawns the CronJob-run reporter and the health watch.
    pub fn spawn(
        &self,
        tasks: &mut JoinSet<()>,
        health: &config::Health,
        receivers: Vec<Receiver>,
    ) {
        tasks.spawn({
            let (target, statuses, work) = (
                self.target.clone(),
                self.statuses.clone(),
                self.work.clone(),
            );
            let mut sink = self.logged();
            async move {
                tokio::select! {
                    () = runs::follow(target.as_ref(), &statuses, &mut sink) => {}
                    () = work.cancelled() => {}
                }
            }
        });
        tasks.spawn({
            let (target, statuses, metrics, work, owns) = (
                self.target.clone(),
                self.statuses.clone(),
                self.metrics.clone(),
                self.work.clone(),
                self.owns.clone(),
            );
            let (interval, policy) = (health.interval, health.policy);
            async move {
                let owns = |source: &str| owns(source);
                let watch = super::health::Watch {
                    interval,
                    policy,
                    statuses: &statuses,
                    metrics: &metrics,
                    receivers: &receivers,
                    owns: &owns,
                };
                super::health::watch(target.as_ref(), watch, work).await;
            }
        });
    }

    /// Spawns the receiver of pushes relayed by other replicas, for the
    /// sources this one reconciles.
    pub fn receive(
        &self,
        tasks: &mut JoinSet<()>,
        relay: leader::Relay,
        triggers: Vec<(String, Handle)>,
    ) {
        let (work, owns) = (self.work.clone(), self.owns.clone());
        tasks.spawn(async move {
            let receive = relay.receive(|source| {
                if !owns(source) {
                    return;
                }
                info!(source, "a push relayed by another replica");
                if let Some((_, trigger)) = triggers.iter().find(|(n, _)| n == source) {
                    trigger.fire(Reason::Webhook);
                }
            });
            tokio::select! {
                () = receive => {}
                () = work.cancelled() => {}
            }
        });
    }

    /// Spawns what a sharded replica does when it takes a shard over: the
    /// shard's sources reconcile at once, and the latest run of each of
    /// their CronJobs is reported (what the previous holder may not have).
    pub fn take_over(
        &self,
        tasks: &mut JoinSet<()>,
        shards: Arc<Shards>,
        triggers: Vec<(String, Handle)>,
    ) {
        let (target, statuses, work) = (
            self.target.clone(),
            self.statuses.clone(),
            self.work.clone(),
        );
        let mut sink = self.logged();
        tasks.spawn(async move {
            let mut taken = shards.taken();
            let mut before = BTreeSet::new();
            loop {
                tokio::select! {
                    changed = taken.changed() => if changed.is_err() { return },
                    () = work.cancelled() => return,
                }
                let now = taken.borrow_and_update().clone();
                let new: BTreeSet<u32> = now.difference(&before).copied().collect();
                before = now;
                if new.is_empty() {
                    continue;
                }
                for (name, trigger) in &triggers {
                    if new.contains(&shards::shard_of(name, shards.count())) {
                        trigger.fire(Reason::Takeover);
                    }
                }
                runs::catch_up(target.as_ref(), &statuses, &mut sink).await;
            }
        });
    }
}

/// What the CronJob-run reporter does besides reporting: log each run
/// and count its end; and which sources it reports on.
struct Logged {
    metrics: Arc<Metrics>,
    owns: Owns,
}

impl Sink for Logged {
    fn reported(&mut self, run: Reported<'_>) {
        match run.event {
            RunEvent::Started { job, .. } => info!(
                source = run.source,
                cronjob = job.owner_cronjob.as_deref(),
                "Job {}/{} of CronJob {} started",
                job.namespace,
                job.name,
                job.owner_cronjob.as_deref().unwrap_or_default()
            ),
            RunEvent::Ended(o) => {
                self.metrics.run_ended(o.result);
                info!(
                    source = run.source,
                    cronjob = o.cronjob.as_deref(),
                    "Job {}/{} of CronJob {}: {}{}",
                    o.namespace,
                    o.name,
                    o.cronjob.as_deref().unwrap_or_default(),
                    o.result,
                    o.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
            RunEvent::Pod { .. } => {}
        }
    }

    fn trouble(&mut self, what: &str) {
        warn!("CronJob runs: {what}");
    }

    fn concerns(&self, source: &str) -> bool {
        (self.owns)(source)
    }
}
