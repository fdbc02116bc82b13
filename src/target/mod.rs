//! Targets: where desired objects are applied and runs happen. The local
//! executor ([`local`]) runs them on this machine; a Kubernetes target
//! follows. Both implement [`Target`], which the reconcile step drives: it
//! reads what is live, applies a plan's operations one by one, and follows
//! run outcomes as a stream.

pub mod kube;
pub mod local;
pub mod runs;

use std::collections::HashMap;
use std::future::Future;

use jiff::Timestamp;

use crate::manifest::{Object, ObjectRef};
pub use runs::{Cause, EVENT_BUFFER, JobRef, Outcome, PodChange, RunEvent, RunResult};

/// An object as the repository wants it, with the ownership jobcd records
/// on it (DESIGN.md, contracts: ownership).
#[derive(Debug, Clone)]
pub struct Desired {
    /// The object, with its source location.
    pub object: Object,
    /// The source's name (`jobcd.dev/source`).
    pub source: String,
    /// The commit it comes from (`jobcd.dev/revision`).
    pub revision: String,
    /// Hash of the normalised object (`jobcd.dev/spec-hash`).
    pub spec_hash: String,
}

/// An object as it lives in a target, with the ownership it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// Kind, namespace and name.
    pub id: ObjectRef,
    /// The source that manages it, or None when jobcd does not manage it
    /// (it must then never be changed or deleted).
    pub source: Option<String>,
    /// The revision it was applied from.
    pub revision: Option<String>,
    /// The file it came from.
    pub path: Option<String>,
    /// Its recorded spec hash.
    pub spec_hash: Option<String>,
    /// The object as applied, in JSON: on a cluster, the fields jobcd's
    /// field manager owns.
    pub manifest: String,
    /// The whole live object in JSON, where it differs from `manifest`
    /// (on a cluster), to show what drifted.
    pub observed: Option<String>,
    /// When it was applied.
    pub applied_at: Option<Timestamp>,
}

impl Live {
    /// `d` as it is live once its source has applied it (not yet run).
    pub fn applied(d: &Desired) -> Live {
        Live {
            id: d.object.id.clone(),
            source: Some(d.source.clone()),
            revision: Some(d.revision.clone()),
            path: Some(d.object.location.file.clone()),
            spec_hash: Some(d.spec_hash.clone()),
            manifest: d.object.manifest.json().to_string(),
            applied_at: None,
            observed: None,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Create an object that is not live.
    Create(Desired),
    /// Update a CronJob in place.
    Update(Desired),
    /// Put an object changed on the cluster back as in git, taking over
    /// the fields someone else changed.
    Revert(Desired),
    /// Run a changed Job again: delete the live one, then create it.
    Recreate(Desired),
    /// Delete a managed object that left the repository.
    Prune(ObjectRef),
}

/// What an operation does, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// [`Operation::Create`].
    Create,
    /// [`Operation::Update`].
    Update,
    /// [`Operation::Revert`].
    Revert,
    /// [`Operation::Recreate`].
    Recreate,
    /// [`Operation::Prune`].
    Prune,
}

impl Verb {
    /// The metric label (`jobcd_objects_applied_total{operation}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Revert => "revert",
            Verb::Recreate => "recreate",
            Verb::Prune => "prune",
        }
    }
}

impl Operation {
    /// What it does.
    pub fn verb(&self) -> Verb {
        match self {
            Operation::Create(_) => Verb::Create,
            Operation::Update(_) => Verb::Update,
            Operation::Revert(_) => Verb::Revert,
            Operation::Recreate(_) => Verb::Recreate,
            Operation::Prune(_) => Verb::Prune,
        }
    }

    /// The object the operation is about.
    pub fn id(&self) -> &ObjectRef {
        match self {
            Operation::Create(d)
            | Operation::Update(d)
            | Operation::Revert(d)
            | Operation::Recreate(d) => &d.object.id,
            Operation::Prune(id) => id,
        }
    }
}

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

/// The run-once ledger of one source: (namespace, name, spec hash) →
/// outcome (`Complete`, `Failed`, or `Running` while it runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    entries: HashMap<(String, String, String), String>,
}

impl Ledger {
    /// Records an outcome.
    pub fn insert(&mut self, namespace: &str, name: &str, spec_hash: &str, outcome: &str) {
        self.entries.insert(
            (namespace.into(), name.into(), spec_hash.into()),
            outcome.into(),
        );
    }

    /// The outcome of a Job spec, if it ran.
    pub fn outcome(&self, namespace: &str, name: &str, spec_hash: &str) -> Option<&str> {
        // Borrowed lookups into a tuple key need owned parts; ledgers are
        // small next to a sync's other work.
        self.entries
            .get(&(namespace.into(), name.into(), spec_hash.into()))
            .map(String::as_str)
    }

    /// How many specs it records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it records nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where objects are applied and Jobs run.
pub trait Target {
    /// The target's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every Job and CronJob the target holds that jobcd might manage,
    /// managed or not (an unmanaged one with a desired name is a conflict).
    fn live(&self) -> impl Future<Output = Result<Vec<Live>, Self::Error>> + Send;

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
