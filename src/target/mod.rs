//! Targets: where desired objects are applied and runs happen. The local
//! executor ([`local`]) runs them on this machine; a Kubernetes target
//! follows. Both implement [`Target`], which the reconcile step drives: it
//! reads what is live, applies a plan's operations one by one, and follows
//! run outcomes as a stream.

pub mod kube;
pub mod local;
pub mod runs;

use std::future::Future;

use crate::manifest::ObjectRef;
pub use crate::plan::{Desired, Ledger, Live, Operation, Verb};
pub use runs::{Cause, EVENT_BUFFER, JobRef, Outcome, PodChange, RunEvent, RunResult};

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The object is recorded (a CronJob, or a deleted object).
    Done,
    /// A Job run started: its outcome comes on the outcome stream.
    RunStarted {
        /// The Job instance's uid.
        uid: String,
    },
    /// This Job spec already ran for this source (run once per spec).
    AlreadyRan {
        /// The recorded outcome (`Complete`, `Failed`).
        outcome: String,
    },
}

/// Where objects are applied and Jobs run.
pub trait Target {
    /// The target's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every Job and CronJob the target holds that jobcd might manage,
    /// managed or not (an unmanaged one with a desired name is a conflict).
    fn live(&self) -> impl Future<Output = Result<Vec<Live>, Self::Error>> + Send;

    /// What a plan of `source`'s revision needs of [`Target::live`]: the
    /// objects `source` manages, and any object holding a name in
    /// `wanted` (the revision's objects), managed or not: what the plan
    /// looks at, no more.
    /// With a thousand sources, each reconcile reading every object made a
    /// round of reconciles quadratic: targets answer from their indexes.
    fn live_for(
        &self,
        source: &str,
        wanted: &[ObjectRef],
    ) -> impl Future<Output = Result<Vec<Live>, Self::Error>> + Send;

    /// One object of [`Target::live`], if it is live. A target that keeps
    /// its objects by name answers without building them all.
    fn live_object(
        &self,
        id: &ObjectRef,
    ) -> impl Future<Output = Result<Option<Live>, Self::Error>> + Send
    where
        Self: Sync,
    {
        async move { Ok(self.live().await?.into_iter().find(|l| &l.id == id)) }
    }

    /// The run-once ledger of a source: every Job spec that ran (or is
    /// running) for it, with its outcome.
    fn ledger(&self, source: &str) -> impl Future<Output = Result<Ledger, Self::Error>> + Send;

    /// Refuses a revision the target cannot take whole (the Kubernetes
    /// target: an object outside its namespaces, or one whose name an
    /// object jobcd does not manage already holds), before anything is
    /// applied.
    fn admit(&self, desired: &[Desired]) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = desired;
        async { Ok(()) }
    }

    /// Carries out one operation.
    fn apply(
        &self,
        operation: &Operation,
    ) -> impl Future<Output = Result<Applied, Self::Error>> + Send;

    /// Run events from now on: runs starting (by a sync, by a CronJob,
    /// recovered after a crash) and ending.
    fn events(&self) -> tokio::sync::broadcast::Receiver<RunEvent>;

    /// How the run of `job` ended, or None while it goes on. Asked after
    /// a reader of [`Target::events`] fell behind and missed some.
    fn outcome(
        &self,
        job: &JobRef,
    ) -> impl Future<Output = Result<Option<Outcome>, Self::Error>> + Send;

    /// The latest finished run of each CronJob the target knows of: what a
    /// reporter that starts now has missed.
    fn latest_runs(&self) -> impl Future<Output = Result<Vec<Outcome>, Self::Error>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Runs under way that no one followed (the local executor's runs
    /// resumed after a crash); a sync follows them to their end too.
    fn in_flight(&self) -> Vec<JobRef>;

    /// After a sync's runs ended: wait for the target's own follow-up work
    /// (the local executor removes finished Jobs past their TTL).
    fn settle(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
