//! Following a reconcile's runs to their end: those it started, and
//! those a restart left (of the source's Jobs and CronJobs), each reported
//! on the commit its spec came from.

use std::collections::HashMap;

use super::run::{Event, PROGRESS, Stop};
use crate::manifest::{Kind, ObjectRef};
use crate::plan::Live;
use crate::report::Status;
use crate::report::record;
use crate::report::statuses::Statuses;
use crate::target::{JobRef, Outcome, RunEvent, Target};

/// How following the runs ended.
pub(super) struct Followed {
    /// The runs that ended, in the order they did.
    pub(super) runs: Vec<Outcome>,
    /// How many were still going when following stopped.
    pub(super) going: usize,
    /// Why following stopped before every run ended.
    pub(super) stopped: Option<Stop>,
}

/// Follows the runs in `following` until each has ended (reported on the
/// commit it came from) or `stop` resolves. A reader that fell behind asks
/// the target how its runs ended; a stream that closed ends the following
/// as a shutdown does.
pub(super) async fn follow<T: Target>(
    target: &T,
    events: &mut tokio::sync::broadcast::Receiver<RunEvent>,
    mut following: Following,
    reporter: Reporter<'_>,
    on: &mut (dyn FnMut(Event<'_>) + Send),
    stop: impl Future<Output = Stop>,
) -> Followed {
    use tokio::sync::broadcast::error::RecvError;
    let mut runs = Vec::new();
    let started = tokio::time::Instant::now();
    let mut progress = tokio::time::interval_at(started + PROGRESS, PROGRESS);
    let mut stop = std::pin::pin!(stop);
    while !following.is_empty() {
        let ended = tokio::select! {
            why = &mut stop => {
                return Followed { runs, going: following.len(), stopped: Some(why) };
            }
            received = events.recv() => match received {
                Ok(RunEvent::Ended(outcome)) => vec![outcome],
                Ok(event @ RunEvent::Pod { .. }) => {
                    if following.contains(&event.job().uid) {
                        on(Event::Run(&event));
                    }
                    Vec::new()
                }
                Ok(RunEvent::Started { .. }) => Vec::new(),
                Err(RecvError::Lagged(_)) => following.ended_meanwhile(target).await,
                Err(RecvError::Closed) => {
                    return Followed { runs, going: following.len(), stopped: Some(Stop::Shutdown) };
                }
            },
            _ = progress.tick() => {
                on(Event::Waiting { jobs: following.jobs(), elapsed: started.elapsed() });
                Vec::new()
            }
        };
        for outcome in ended {
            if let Some(run_sha) = following.remove(&outcome.uid) {
                on(Event::Run(&RunEvent::Ended(outcome.clone())));
                reporter.note(record::run_ended(&run_sha, &outcome)).await;
                runs.push(outcome);
            }
        }
    }
    Followed {
        runs,
        going: 0,
        stopped: None,
    }
}

/// Statuses of one source, when it reports.
#[derive(Clone, Copy)]
pub(super) struct Reporter<'a> {
    pub(super) source: &'a str,
    pub(super) statuses: Option<&'a Statuses>,
}

impl Reporter<'_> {
    pub(super) async fn note(&self, status: Status) {
        if let Some(statuses) = self.statuses {
            statuses.record(self.source, status).await;
        }
    }
}

/// The runs a reconcile follows: uid → (Job, the commit it came from).
#[derive(Debug, Default)]
pub(super) struct Following {
    runs: HashMap<String, (ObjectRef, String)>,
}

impl Following {
    pub(super) fn insert(&mut self, uid: String, id: ObjectRef, sha: String) {
        self.runs.entry(uid).or_insert((id, sha));
    }

    /// Runs a restart left, of this source's Jobs and CronJobs: reported on
    /// the commit their spec came from.
    pub(super) fn resume(&mut self, resumed: Vec<JobRef>, source: &str, live: &[Live]) {
        for job in resumed {
            // A CronJob's run is reported on the commit of its CronJob.
            let spec = ObjectRef {
                kind: match job.owner_cronjob {
                    Some(_) => Kind::CronJob,
                    None => Kind::Job,
                },
                namespace: job.namespace.clone(),
                name: job
                    .owner_cronjob
                    .clone()
                    .unwrap_or_else(|| job.name.clone()),
            };
            let from = live
                .iter()
                .find(|l| l.id == spec && l.source.as_deref() == Some(source));
            if let Some(revision) = from.and_then(|l| l.revision.clone()) {
                let id = ObjectRef {
                    kind: Kind::Job,
                    namespace: job.namespace,
                    name: job.name,
                };
                self.insert(job.uid, id, revision);
            }
        }
    }

    fn contains(&self, uid: &str) -> bool {
        self.runs.contains_key(uid)
    }

    fn remove(&mut self, uid: &str) -> Option<String> {
        self.runs.remove(uid).map(|(_, sha)| sha)
    }

    fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    fn len(&self) -> usize {
        self.runs.len()
    }

    fn jobs(&self) -> Vec<String> {
        let mut jobs: Vec<String> = self.runs.values().map(|(id, _)| id.to_string()).collect();
        jobs.sort();
        jobs
    }

    /// After missed events: the target is asked which followed runs ended
    /// meanwhile, and how.
    async fn ended_meanwhile<T: Target>(&self, target: &T) -> Vec<Outcome> {
        let mut ended = Vec::new();
        for (uid, (id, _)) in &self.runs {
            let job = JobRef {
                uid: uid.clone(),
                namespace: id.namespace.clone(),
                name: id.name.clone(),
                owner_cronjob: None,
            };
            if let Ok(Some(outcome)) = target.outcome(&job).await {
                ended.push(outcome);
            }
        }
        ended
    }
}
