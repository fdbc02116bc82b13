//! The service's watch over CronJob health: every `health.interval` it
//! looks at the target's managed CronJobs, judges each, and turns what
//! changed into log lines, metrics, a failure status on
//! `jobcd/cronjob/<ns>/<name>` of the commit the CronJob's spec came from,
//! and messages for the notification receivers that want them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::metrics::Metrics;
use super::metrics::cronjobs::Row;
use crate::health::Policy;
use crate::health::observe::{Observation, Observe};
use crate::health::track::{Change, Kind, Notice, Tracker};
use crate::report::notify::Receiver;
use crate::report::statuses::Statuses;
use crate::report::{State, Status, cronjob_context};

/// What the watch needs besides the target.
pub struct Watch<'a> {
    /// Time between looks.
    pub interval: Duration,
    /// The rules.
    pub policy: Policy,
    /// Where statuses and messages are queued.
    pub statuses: &'a Statuses,
    /// Where the CronJob metrics go.
    pub metrics: &'a Metrics,
    /// Who is told.
    pub receivers: &'a [Receiver],
    /// Whether this replica watches the CronJobs of a source (with
    /// sharded replicas, each watches its own shards').
    pub owns: &'a (dyn Fn(&str) -> bool + Sync),
}

/// Looks at `target`'s CronJobs every interval until `until` is cancelled.
pub async fn watch<T: Observe + Sync>(target: &T, w: Watch<'_>, until: CancellationToken) {
    if w.interval.is_zero() {
        return;
    }
    let mut state = Watcher::default();
    let mut ticks = tokio::time::interval(w.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = until.cancelled() => return,
        }
        let now = Timestamp::now();
        match target.observe(now).await {
            Ok(mut seen) => {
                seen.cronjobs.retain(|c| (w.owns)(&c.source));
                state.look(seen, now, &w).await;
                // A look at 10,000 CronJobs allocates and frees megabytes.
                super::memory::release_free_memory();
            }
            Err(e) => warn!("CronJob health: reading the CronJobs: {e}"),
        }
    }
}

/// What the watch remembers between looks.
#[derive(Default)]
struct Watcher {
    tracker: Tracker,
    /// CronJobs already said to be unjudgeable (said once each).
    unjudged: HashSet<(String, String, String)>,
    /// When each firing trouble was last sent to each re-sending receiver.
    sent: HashMap<(String, String, String, Kind), Timestamp>,
}

impl Watcher {
    async fn look(&mut self, seen: Observation, now: Timestamp, w: &Watch<'_>) {
        let mut still = HashSet::new();
        for u in &seen.unjudged {
            let key = (u.namespace.clone(), u.name.clone(), u.why.to_string());
            if self.unjudged.insert(key.clone()) {
                warn!(
                    namespace = %u.namespace,
                    cronjob = %u.name,
                    "CronJob health of {}/{} cannot be judged: {}",
                    u.namespace,
                    u.name,
                    u.why
                );
            }
            still.insert(key);
        }
        self.unjudged.retain(|k| still.contains(k));
        // CPU work (1,000 CronJobs take about 5 ms: `cargo bench --bench
        // health`), off the runtime all the same.
        let policy = w.policy;
        let judged = tokio::task::spawn_blocking(move || {
            seen.cronjobs
                .into_iter()
                .map(|c| {
                    let health = c.judge(now, &policy);
                    (c, health)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let pairs: Vec<_> = judged.iter().map(|(c, h)| (c, h)).collect();
        let look = self.tracker.look(&pairs, now);
        let rows = judged
            .iter()
            .map(|(c, h)| Row::new(c, h, self.tracker.firing(&c.namespace, &c.name)))
            .collect();
        w.metrics.cronjobs().looked(rows, &look);
        for notice in &look.notices {
            log(notice);
            if let Some(status) = commit_status(notice) {
                w.statuses.record(&notice.source, status).await;
            }
            for r in w.receivers.iter().filter(|r| r.wants(&notice.change)) {
                w.statuses
                    .record(&r.reporter_name(), r.status(notice, now))
                    .await;
                if r.resends() {
                    let key = sent_key(r, notice);
                    match notice.change {
                        Change::Firing(_) => self.sent.insert(key, now),
                        Change::Resolved(_) => self.sent.remove(&key),
                    };
                }
            }
        }
        self.resend(now, w).await;
    }

    /// Sends each firing trouble again to the receivers that re-send, once
    /// their interval has passed; forgets what no longer fires.
    async fn resend(&mut self, now: Timestamp, w: &Watch<'_>) {
        let firing: Vec<Notice> = self.tracker.firing_notices().cloned().collect();
        let mut live = HashSet::new();
        for r in w.receivers.iter().filter(|r| r.resends()) {
            for notice in firing.iter().filter(|n| r.wants(&n.change)) {
                let key = sent_key(r, notice);
                let due = self
                    .sent
                    .get(&key)
                    .is_none_or(|last| crate::saturating::after(*last, r.resend) <= now);
                if due {
                    w.statuses
                        .record(&r.reporter_name(), r.status(notice, now))
                        .await;
                    self.sent.insert(key.clone(), now);
                }
                live.insert(key);
            }
        }
        self.sent.retain(|k, _| live.contains(k));
    }
}

fn sent_key(r: &Receiver, n: &Notice) -> (String, String, String, Kind) {
    (
        r.name.clone(),
        n.namespace.clone(),
        n.name.clone(),
        n.change.kind(),
    )
}

/// A notice in the log: troubles as warnings, recoveries as information.
fn log(n: &Notice) {
    macro_rules! told {
        ($level:ident) => {
            tracing::$level!(
                source = %n.source,
                namespace = %n.namespace,
                cronjob = %n.name,
                event = n.change.kind().as_str(),
                "CronJob {}/{}: {}",
                n.namespace,
                n.name,
                n.message
            )
        };
    }
    match n.change {
        Change::Firing(_) => told!(warn),
        Change::Resolved(_) => told!(info),
    }
}

/// The commit status a notice sets on `jobcd/cronjob/<ns>/<name>`: a
/// failure for a trouble no run tells of; None for a failed run (its own
/// status said so) and for recoveries (the run that ended the trouble
/// reports itself).
fn commit_status(n: &Notice) -> Option<Status> {
    match n.change {
        Change::Firing(t) if t.kind() != Kind::Failed => Some(Status::new(
            &n.revision,
            &cronjob_context(&n.namespace, &n.name),
            State::Failure,
            &n.message,
        )),
        _ => None,
    }
}
