//! One reconcile of a source's revision against a target: the desired
//! objects with their hashes, admitted by the target, what is live, and
//! the plan's operations carried out in order (the plan itself is
//! [`crate::plan::plan`]). The `sync` and `diff` commands and `jobcd
//! serve` use it.

use crate::manifest::{DesiredSet, ObjectRef, Validation};
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

/// A valid revision the target admitted, and what the target holds: all
/// a plan needs.
#[derive(Debug)]
pub struct Prepared {
    /// The revision's objects, with their hashes.
    pub desired: Vec<Desired>,
    /// What is live.
    pub live: Vec<Live>,
    /// The source's run-once ledger.
    pub ledger: Ledger,
}

/// Why a revision cannot be planned; nothing is applied.
#[derive(Debug)]
pub enum Unprepared<E> {
    /// It does not validate (its diagnostics say why).
    Invalid,
    /// The target refused it (an object outside the allowed namespaces,
    /// a name held by an object jobcd does not manage).
    Refused(E),
    /// The target could not be read.
    Unreadable(E),
}

/// Everything before the plan, for `source`'s revision `sha`: its
/// desired objects, the target's admission, and what the target holds.
pub async fn prepare<T: Target>(
    target: &T,
    source: &str,
    sha: &str,
    validation: &Validation,
) -> Result<Prepared, Unprepared<T::Error>> {
    let set = validation.desired_set().ok_or(Unprepared::Invalid)?;
    let desired = desired(&set, source, sha);
    target.admit(&desired).await.map_err(Unprepared::Refused)?;
    let (live, ledger) = observe(target, source)
        .await
        .map_err(Unprepared::Unreadable)?;
    Ok(Prepared {
        desired,
        live,
        ledger,
    })
}

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
