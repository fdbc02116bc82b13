//! One reconcile of a source's revision against a target: the desired
//! objects with their hashes, the plan against what is live, and the plan's
//! operations carried out in order (the plan itself is [`crate::plan::plan`]). The `sync` and `diff` commands use it,
//! and so will `jobcd serve`.

use crate::manifest::{DesiredSet, ObjectRef};
use crate::plan::{Plan, spec_hash};
use crate::target::{Applied, Desired, Ledger, Live, Target};

/// The desired objects of a valid revision, with their spec hashes
/// (computed on every core for a large revision).
pub fn desired(set: &DesiredSet, source: &str, revision: &str) -> Vec<Desired> {
    let one = |object: &crate::manifest::Object| Desired {
        spec_hash: spec_hash(object),
        object: object.clone(),
        source: source.into(),
        revision: revision.into(),
    };
    let objects = set.objects();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers < 2 || objects.len() < PARALLEL_MIN_OBJECTS {
        return objects.iter().map(one).collect();
    }
    let chunk = objects.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let parts: Vec<_> = objects
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("hashing does not panic"))
            .collect()
    })
}

/// Below this many objects, one thread hashes faster than several.
const PARALLEL_MIN_OBJECTS: usize = 256;

/// What the plan needs from the target: its live objects and the
/// source's run-once ledger.
pub async fn observe<T: Target>(target: &T, source: &str) -> Result<(Vec<Live>, Ledger), T::Error> {
    Ok((target.live().await?, target.ledger(source).await?))
}

/// An operation carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The object.
    pub id: ObjectRef,
    /// What happened.
    pub applied: Applied,
}

/// An operation that failed, after the ones before it were carried out.
#[derive(Debug)]
pub struct Failed<E> {
    /// What was done before the failure.
    pub done: Vec<Done>,
    /// The object whose operation failed.
    pub id: ObjectRef,
    /// Why.
    pub error: E,
}

/// Carries out the plan's operations in order, stopping at the first that
/// fails (the rest are not attempted; a later sync picks them up).
pub async fn apply<T: Target>(target: &T, plan: &Plan<'_>) -> Result<Vec<Done>, Failed<T::Error>> {
    let mut done = Vec::new();
    for operation in plan.operations() {
        let id = operation.id().clone();
        match target.apply(&operation).await {
            Ok(applied) => done.push(Done { id, applied }),
            Err(error) => return Err(Failed { done, id, error }),
        }
    }
    Ok(done)
}

/// The uids of the Job runs the operations started.
pub fn started_runs(done: &[Done]) -> Vec<(ObjectRef, String)> {
    done.iter()
        .filter_map(|d| match &d.applied {
            Applied::RunStarted { uid } => Some((d.id.clone(), uid.clone())),
            _ => None,
        })
        .collect()
}
