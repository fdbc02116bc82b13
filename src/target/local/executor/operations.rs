//! The local executor as a [`Target`]: live objects from its store, plan
//! operations carried out on it, run outcomes from its runs.

use tokio::sync::broadcast;

use super::super::job_controller::ConditionType;
use super::super::job_runner::{Ended, Error, Stop};
use super::super::store::AppliedObject;
use super::{Applied as Started, Executor};
use crate::manifest::{Kind, ObjectRef};
use crate::target::{
    Applied, JobRef, Ledger, Live, Operation, Outcome, RunEvent, RunResult, Target,
};

/// Applied objects as live ones, by id. Each is managed by the source
/// recorded with it; objects applied by hand by the by-hand source, which
/// syncs never touch.
fn lives(objects: Vec<AppliedObject>) -> Vec<Live> {
    let mut live: Vec<Live> = objects
        .into_iter()
        .map(|o| Live {
            id: ObjectRef {
                kind: o.kind,
                namespace: o.namespace,
                name: o.name,
            },
            source: Some(o.source),
            revision: Some(o.revision),
            path: Some(o.path),
            spec_hash: Some(o.spec_hash),
            manifest: o.manifest,
            applied_at: Some(o.applied_at),
            observed: None,
        })
        .collect();
    live.sort_by(|a, b| a.id.cmp(&b.id));
    live
}

impl Target for Executor {
    type Error = Error;

    async fn live(&self) -> Result<Vec<Live>, Error> {
        let objects = self.runtime.with_store(|s| s.objects()).await?;
        Ok(lives(objects))
    }

    async fn live_for(&self, source: &str, wanted: &[ObjectRef]) -> Result<Vec<Live>, Error> {
        let source = source.to_string();
        let wanted: Vec<_> = wanted
            .iter()
            .map(|id| (id.kind, id.namespace.clone(), id.name.clone()))
            .collect();
        let objects = self
            .runtime
            .with_store(move |s| s.objects_for(&source, &wanted))
            .await?;
        Ok(lives(objects))
    }

    async fn ledger(&self, source: &str) -> Result<Ledger, Error> {
        let source = source.to_string();
        let entries = self
            .runtime
            .with_store(move |s| s.ledger_of(&source))
            .await?;
        let mut ledger = Ledger::default();
        for e in entries {
            ledger.insert(&e.namespace, &e.name, &e.spec_hash, &e.outcome);
        }
        Ok(ledger)
    }

    async fn apply(&self, operation: &Operation) -> Result<Applied, Error> {
        match operation {
            // Only a Job's policy annotations changed: nothing runs.
            Operation::Update(desired) if desired.object.id.kind == Kind::Job => {
                self.update_job(desired).await?;
                Ok(Applied::Done)
            }
            Operation::Create(desired)
            | Operation::Update(desired)
            | Operation::Revert(desired)
            | Operation::Recreate(desired) => match desired.object.id.kind {
                Kind::CronJob => {
                    self.apply_cronjob(desired)?;
                    Ok(Applied::Done)
                }
                Kind::ConfigMap => {
                    self.apply_config_map(desired)?;
                    Ok(Applied::Done)
                }
                Kind::Job => Ok(match self.apply_job(desired, None).await? {
                    Started::Started(run) | Started::InFlight(run) => {
                        Applied::RunStarted { uid: run.uid }
                    }
                    Started::AlreadyRan { outcome } => Applied::AlreadyRan { outcome },
                }),
            },
            Operation::Prune(id) => {
                self.delete(id).await?;
                Ok(Applied::Done)
            }
        }
    }

    fn events(&self) -> broadcast::Receiver<RunEvent> {
        self.active.events.subscribe()
    }

    async fn outcome(&self, job: &JobRef) -> Result<Option<Outcome>, Error> {
        if self.active.handle(&job.uid).is_some() {
            return Ok(None);
        }
        let uid = job.uid.clone();
        let Some(record) = self.runtime.with_store(move |s| s.job(&uid)).await? else {
            // Never recorded: as good as deleted.
            return Ok(Some(outcome(job, &Ok(Ended::Deleted))));
        };
        let ended = match record.status.terminal() {
            Some(_) => Ended::Finished(record.status.clone()),
            None if record.deleted_at.is_some() => Ended::Deleted,
            // Not running, not finished: stopped by a shutdown.
            None => Ended::Interrupted,
        };
        Ok(Some(outcome(&JobRef::of(&record), &Ok(ended))))
    }

    fn in_flight(&self) -> Vec<JobRef> {
        // The inherent method: the runs the start resumed.
        Executor::in_flight(self)
    }

    async fn settle(&self) -> Result<(), Error> {
        self.wait_idle().await;
        self.expire().await.map(|_| ())
    }
}

impl Executor {
    /// Deletes an applied object as Kubernetes deletes it with background
    /// propagation: a Job's run is stopped; a CronJob's Jobs go with it.
    /// The ledger keeps what ran.
    pub async fn delete(&self, id: &ObjectRef) -> Result<(), Error> {
        self.runner(|| format!("delete {id}"))?;
        let (kind, ns, name) = (id.kind, id.namespace.clone(), id.name.clone());
        let jobs = self
            .runtime
            .with_store(move |s| {
                s.delete_object(kind, &ns, &name)?;
                if kind == Kind::CronJob {
                    s.delete_cron_state(&ns, &name)?;
                }
                let jobs = s.live_jobs()?;
                Ok(jobs
                    .into_iter()
                    .filter(|j| {
                        j.namespace == ns
                            && match kind {
                                Kind::Job => j.name == name && j.owner_cronjob.is_none(),
                                Kind::CronJob => j.owner_cronjob.as_deref() == Some(name.as_str()),
                                // Pods already running keep what they read.
                                Kind::ConfigMap => false,
                            }
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        for job in jobs {
            if !self.stop_run(&job.uid, Stop::Delete) {
                self.forget(job.uid.clone(), self.runtime.clock.now())
                    .await?;
            }
        }
        self.active.changed.notify_one();
        Ok(())
    }
}

/// A run's end as reporters see it.
pub fn outcome(job: &super::JobRef, result: &super::Finished) -> Outcome {
    let mut message = None;
    let (result, reason, succeeded, failed) = match result {
        Ok(Ended::Finished(status)) => {
            let condition = status
                .terminal()
                .expect("a finished Job has a terminal condition");
            let result = match condition.kind {
                ConditionType::Complete => RunResult::Complete,
                _ => RunResult::Failed,
            };
            message = Some(condition.message.clone());
            (
                result,
                Some(condition.reason.clone()),
                status.succeeded,
                status.failed,
            )
        }
        Ok(Ended::Deleted) => (RunResult::Deleted, None, 0, 0),
        Ok(Ended::Interrupted) => (RunResult::Interrupted, None, 0, 0),
        Err(e) => (RunResult::Error, Some(e.to_string()), 0, 0),
    };
    Outcome {
        uid: job.uid.clone(),
        namespace: job.namespace.clone(),
        name: job.name.clone(),
        cronjob: job.owner_cronjob.clone(),
        result,
        reason,
        message,
        failed,
        succeeded,
    }
}
