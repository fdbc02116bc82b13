//! The plan's vocabulary: an object as git wants it ([`Desired`]), as a
//! target holds it ([`Live`]), a source's run-once [`Ledger`], and the
//! [`Operation`]s a plan asks a target to carry out. Targets speak it;
//! the plan defines it.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::manifest::{Object, ObjectRef};

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
    /// On a cluster, where someone else holds part of the object: what of
    /// the live object differs from `manifest`, in JSON (see
    /// [`super::observed`]), to show what drifted.
    pub observed: Option<String>,
    /// When it was applied.
    pub applied_at: Option<Timestamp>,
}

impl Live {
    /// The whole live object in JSON: `manifest` with `observed` laid over
    /// it (`manifest` alone when nobody else holds any of it).
    pub fn whole(&self) -> std::borrow::Cow<'_, str> {
        let Some(differing) = &self.observed else {
            return self.manifest.as_str().into();
        };
        match (
            serde_json::from_str(&self.manifest),
            serde_json::from_str(differing),
        ) {
            (Ok(owned), Ok(differing)) => super::observed::merged(&owned, &differing)
                .to_string()
                .into(),
            _ => self.manifest.as_str().into(),
        }
    }

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
