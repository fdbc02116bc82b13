//! Carrying out a plan's operations on a target, in order, stopping at
//! the first that fails.

use crate::manifest::ObjectRef;
use crate::plan::Plan;
use crate::target::{Applied, Target, Verb};

/// An operation carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The object.
    pub id: ObjectRef,
    /// The operation.
    pub verb: Verb,
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
        let (id, verb) = (operation.id().clone(), operation.verb());
        match target.apply(&operation).await {
            Ok(applied) => done.push(Done { id, verb, applied }),
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
