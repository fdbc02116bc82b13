//! One reconcile of a source's revision against a target: the desired
//! objects with their hashes, the plan against what is live, and the plan's
//! operations carried out in order. The `sync` and `diff` commands use it,
//! and so will `jobcd serve`.

use crate::manifest::{DesiredSet, ObjectRef};
use crate::plan::{self, Plan, Policy, Refusal, spec_hash};
use crate::target::{Applied, Desired, Target};

/// The desired objects of a valid revision, with their spec hashes.
pub fn desired(set: &DesiredSet, source: &str, revision: &str) -> Vec<Desired> {
    set.objects()
        .iter()
        .map(|object| Desired {
            spec_hash: spec_hash(object),
            object: object.clone(),
            source: source.into(),
            revision: revision.into(),
        })
        .collect()
}

/// Plans `desired` against what `target` holds; `Ok(Err(_))` when prune
/// safety refuses.
pub async fn plan<T: Target>(
    target: &T,
    source: &str,
    desired: &[Desired],
    policy: &Policy,
) -> Result<Result<Plan, Refusal>, T::Error> {
    let live = target.live().await?;
    let ledger = target.ledger(source).await?;
    Ok(plan::plan(source, desired, &live, &ledger, policy))
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
pub async fn apply<T: Target>(target: &T, plan: &Plan) -> Result<Vec<Done>, Failed<T::Error>> {
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
