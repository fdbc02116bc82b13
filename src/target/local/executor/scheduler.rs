//! The long-running executor: CronJobs fire on schedule, finished Jobs are
//! removed by their CronJob's history limits and by ttlSecondsAfterFinished,
//! as the CronJob and TTL-after-finished controllers do.
//!
//! Each [`Executor::tick`] syncs every CronJob and every finished Job once
//! and says when something is next due; [`Executor::serve`] ticks at that
//! time, or sooner when a run ends or an object is applied.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};

use super::super::clock::sleep_until;
use super::super::cron_controller::{self, Child, Event};
use super::super::job_controller::ConditionType;
use super::super::job_runner::{Error, Stop};
use super::super::store::{CronJobHead, CronState, JobRecord, index};
use super::{Executor, JobRef, Notice, job_from_template, uid};
use crate::manifest::Kind;
use crate::saturating::shifted;
use crate::target::Cause;

/// How long a pass waits after a change wakes it, for the rest of the
/// burst (a due slot is never delayed by it).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

impl Executor {
    /// Runs CronJobs on schedule and expires finished Jobs until `shutdown`
    /// resolves; then stops the runs in flight (they resume at the next
    /// start) and returns.
    pub async fn serve(&self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        tokio::pin!(shutdown);
        let result = loop {
            let next = match self.tick().await {
                Ok(next) => next,
                Err(e) => break Err(e),
            };
            let clock = self.runtime.clock.clone();
            let due = async move {
                match next {
                    Some(at) => sleep_until(clock.as_ref(), at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = due => {}
                () = self.active.changed.notified() => {
                    // Changes come in bursts (a sync applying a thousand
                    // CronJobs, runs ending together): one pass a moment
                    // later serves the whole burst.
                    tokio::select! {
                        () = tokio::time::sleep(SETTLE) => {}
                        () = &mut shutdown => break Ok(()),
                    }
                }
                () = &mut shutdown => break Ok(()),
            }
        };
        self.shutdown().await;
        result
    }

    /// One pass of the CronJob and TTL controllers at the clock's time;
    /// returns when the next pass is due (None: only when something changes).
    pub async fn tick(&self) -> Result<Option<Timestamp>, Error> {
        self.runner(|| "fire CronJobs".into())?;
        let now = self.runtime.clock.now();
        let (heads, jobs, states) = self
            .runtime
            .with_store(|s| Ok((s.cronjob_heads()?, s.live_jobs()?, s.cron_states()?)))
            .await?;
        let specs = self.cron_specs(&heads).await?;
        let states = index::states_by_cronjob(&states);
        let children_of = index::jobs_by_cronjob(&jobs);
        let mut next: Option<Timestamp> = None;
        let mut due = |at: Option<Timestamp>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        for (object, (parsed, quiet)) in heads.iter().zip(specs) {
            let (namespace, name) = (&object.namespace, &object.name);
            let cron_event = |event| Notice::Cron {
                namespace: namespace.clone(),
                name: name.clone(),
                event,
            };
            let Some(parsed) = parsed else {
                self.active.notify(cron_event(Event::InvalidSchedule));
                continue;
            };
            let spec = parsed.as_ref();
            let key = (namespace.as_str(), name.as_str());
            let children = children_of.get(&key).map_or(&[][..], Vec::as_slice);
            let saved = states.get(&key);
            // Nothing to do before its next slot: no Jobs, and its state
            // as the pass that found so left it.
            if let (Some(quiet), Some(saved)) = (&quiet, saved)
                && children.is_empty()
                && quiet.state == saved.state
                && now < quiet.until
            {
                due(Some(quiet.until));
                continue;
            }
            let mut state = saved.map_or(
                cron_controller::State {
                    created: object.applied_at,
                    last_schedule: None,
                    last_successful: None,
                },
                |c| c.state.clone(),
            );
            let before = state.clone();
            let views: Vec<Child> = children.iter().map(|j| child(j)).collect();
            let actions = cron_controller::sync(spec, &mut state, &views, now);
            let idle = views.is_empty()
                && actions.create.is_none()
                && actions.delete.is_empty()
                && actions.events.is_empty();
            self.note_quiet(
                namespace,
                name,
                actions.requeue_at.filter(|_| idle).map(|until| Quiet {
                    state: state.clone(),
                    until,
                }),
            );
            for doomed in &actions.delete {
                if let Some(job) = children.iter().find(|j| j.name == *doomed) {
                    self.remove(job, "SuccessfulDelete").await?;
                }
            }
            for event in actions.events {
                self.active.notify(cron_event(event));
            }
            let cron_state = CronState {
                namespace: namespace.clone(),
                name: name.clone(),
                state,
            };
            match actions.create {
                // The slot's Job exists already (a schedule firing more
                // than once a minute reuses the minute's name): the slot
                // is done, as the controller adopts an existing Job.
                Some(new)
                    if jobs
                        .iter()
                        .any(|j| j.namespace == *namespace && j.name == new.name) =>
                {
                    self.runtime
                        .with_store(move |s| s.put_cron_state(&cron_state))
                        .await?;
                }
                Some(new) => {
                    // The template is read when a Job is made, not kept:
                    // 10,000 typed CronJobs held ~50 MB between passes.
                    let Some(cron) = self.cronjob(namespace, name).await? else {
                        // Removed since this pass began (its spec, parsed
                        // from the same manifest, did read).
                        continue;
                    };
                    let job = job_from_template(&cron, &new.name, Some(&new.scheduled_annotation));
                    let manifest = serde_json::to_string(&job).expect("a Job always serializes");
                    let record = JobRecord {
                        owner_cronjob: Some(name.clone()),
                        scheduled_time: Some(new.scheduled),
                        ..JobRecord::new(
                            &uid(namespace, &new.name),
                            namespace,
                            &new.name,
                            &object.spec_hash,
                            &manifest,
                            now,
                        )
                    };
                    let inserted = record.clone();
                    self.runtime
                        .with_store(move |s| s.insert_scheduled_job(&inserted, &cron_state))
                        .await?;
                    self.spawn_run(record, job, Cause::CronJob, None);
                }
                None if saved.is_none() || cron_state.state != before => {
                    self.runtime
                        .with_store(move |s| s.put_cron_state(&cron_state))
                        .await?;
                }
                None => {}
            }
            due(actions.requeue_at);
        }
        due(self.expire_finished(&jobs, now).await?);
        Ok(next)
    }

    /// Each of `heads`' parsed spec (None: it cannot be scheduled), from
    /// the cache where its spec hash and time of applying are unchanged,
    /// else read and parsed now; CronJobs no longer applied leave the
    /// cache.
    async fn cron_specs(
        &self,
        heads: &[CronJobHead],
    ) -> Result<Vec<(Option<Arc<Spec>>, Option<Quiet>)>, Error> {
        let stale: Vec<(String, String)> = {
            let cache = self.cron_specs.lock().expect("no thread panics holding it");
            heads
                .iter()
                .filter(|h| {
                    cache
                        .get(&(h.namespace.clone(), h.name.clone()))
                        .is_none_or(|c| c.spec_hash != h.spec_hash || c.applied_at != h.applied_at)
                })
                .map(|h| (h.namespace.clone(), h.name.clone()))
                .collect()
        };
        let fresh = self
            .runtime
            .with_store(move |s| {
                stale
                    .into_iter()
                    .filter_map(|(namespace, name)| {
                        s.object(Kind::CronJob, &namespace, &name).transpose()
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let mut cache = self.cron_specs.lock().expect("no thread panics holding it");
        for object in fresh {
            let parsed = serde_json::from_str::<CronJob>(&object.manifest)
                .map_err(|e| e.to_string())
                .and_then(|cron| cron_controller::Spec::from_cronjob(&object.name, &cron))
                .map(Arc::new)
                .ok();
            cache.insert(
                (object.namespace, object.name),
                Cached {
                    spec_hash: object.spec_hash,
                    applied_at: object.applied_at,
                    parsed,
                    quiet: None,
                },
            );
        }
        let keep: std::collections::HashSet<(&str, &str)> = heads
            .iter()
            .map(|h| (h.namespace.as_str(), h.name.as_str()))
            .collect();
        cache.retain(|(ns, name), _| keep.contains(&(ns.as_str(), name.as_str())));
        Ok(heads
            .iter()
            .map(|h| {
                cache
                    .get(&(h.namespace.clone(), h.name.clone()))
                    .map_or((None, None), |c| (c.parsed.clone(), c.quiet.clone()))
            })
            .collect())
    }

    /// Remembers until when CronJob `namespace/name` has nothing to do
    /// (None: it has, or Jobs, so every pass syncs it).
    fn note_quiet(&self, namespace: &str, name: &str, quiet: Option<Quiet>) {
        let mut cache = self.cron_specs.lock().expect("no thread panics holding it");
        if let Some(cached) = cache.get_mut(&(namespace.to_string(), name.to_string())) {
            cached.quiet = quiet;
        }
    }

    /// The applied CronJob `namespace/name`, read from the store; None
    /// when it is gone or does not read.
    async fn cronjob(&self, namespace: &str, name: &str) -> Result<Option<CronJob>, Error> {
        let (ns, n) = (namespace.to_string(), name.to_string());
        let object = self
            .runtime
            .with_store(move |s| s.object(Kind::CronJob, &ns, &n))
            .await?;
        Ok(object.and_then(|o| serde_json::from_str(&o.manifest).ok()))
    }

    /// The TTL-after-finished controller on its own: removes finished Jobs
    /// whose `ttlSecondsAfterFinished` has run out; returns when the next
    /// one is due. A sync runs it after its Jobs end.
    pub async fn expire(&self) -> Result<Option<Timestamp>, Error> {
        self.runner(|| "remove finished Jobs".into())?;
        let jobs = self.runtime.with_store(|s| s.live_jobs()).await?;
        self.expire_finished(&jobs, self.runtime.clock.now()).await
    }

    async fn expire_finished(
        &self,
        jobs: &[JobRecord],
        now: Timestamp,
    ) -> Result<Option<Timestamp>, Error> {
        let mut next: Option<Timestamp> = None;
        for job in jobs {
            let Some(expires) = ttl_expiry(job) else {
                continue;
            };
            if expires <= now {
                self.remove(job, "TTLAfterFinished").await?;
            } else {
                next = Some(next.map_or(expires, |n| n.min(expires)));
            }
        }
        Ok(next)
    }

    /// Deletes a Job instance: a run in flight is stopped (and marked
    /// deleted when its pods are gone); a finished one is removed now.
    async fn remove(&self, job: &JobRecord, why: &str) -> Result<(), Error> {
        if self.stop_run(&job.uid, Stop::Delete) {
            return Ok(());
        }
        self.forget(job.uid.clone(), self.runtime.clock.now())
            .await?;
        self.active.notify(Notice::Removed {
            job: JobRef {
                uid: job.uid.clone(),
                namespace: job.namespace.clone(),
                name: job.name.clone(),
                owner_cronjob: job.owner_cronjob.clone(),
            },
            why: why.into(),
        });
        Ok(())
    }
}

/// A CronJob's schedule and policies, as the controller reads them.
pub(super) type Spec = cron_controller::Spec;

/// The parsed CronJobs, by namespace and name.
pub(super) type Parsed = HashMap<(String, String), Cached>;

/// One CronJob parsed, and what it was parsed from.
#[derive(Debug)]
pub(super) struct Cached {
    spec_hash: String,
    applied_at: Timestamp,
    parsed: Option<Arc<Spec>>,
    /// Until when it has nothing to do, as the last pass found.
    quiet: Option<Quiet>,
}

/// A CronJob without Jobs that the controller found nothing to do for
/// before `until` (its requeue time): a pass skips it while its state is
/// still `state`. 50,000 CronJobs were otherwise each computed at every
/// pass, and a pass followed every apply.
#[derive(Debug, Clone)]
pub(super) struct Quiet {
    state: cron_controller::State,
    until: Timestamp,
}

/// A CronJob's view of one of its Jobs.
fn child(job: &JobRecord) -> Child {
    Child {
        name: job.name.clone(),
        start_time: job.status.start_time.or(Some(job.created_at)),
        finished: finish(job),
    }
}

/// Whether and when a Job finished: (succeeded, time).
fn finish(job: &JobRecord) -> Option<(bool, Timestamp)> {
    let condition = job.status.terminal()?;
    Some((condition.kind == ConditionType::Complete, condition.at))
}

/// When a finished Job with `ttlSecondsAfterFinished` is due for removal.
fn ttl_expiry(job: &JobRecord) -> Option<Timestamp> {
    let (_, finished) = finish(job)?;
    let ttl = serde_json::from_str::<Job>(&job.manifest)
        .ok()?
        .spec?
        .ttl_seconds_after_finished?;
    Some(shifted(finished, SignedDuration::from_secs(ttl.into())))
}
