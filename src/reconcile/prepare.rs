//! Everything before the plan: a valid revision's desired objects with
//! their hashes, the target's admission, and what the target holds.

use crate::manifest::{DesiredSet, Validation};
use crate::plan::spec_hash;
use crate::target::{Desired, Ledger, Live, Target};

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
    let wanted: Vec<crate::manifest::ObjectRef> =
        desired.iter().map(|d| d.object.id.clone()).collect();
    let (live, ledger) = observe(target, source, &wanted)
        .await
        .map_err(Unprepared::Unreadable)?;
    Ok(Prepared {
        desired,
        live,
        ledger,
    })
}

/// What the plan needs from the target: the live objects that concern
/// `source`'s revision (its own, and those holding a name in `wanted`)
/// and the source's run-once ledger.
pub async fn observe<T: Target>(
    target: &T,
    source: &str,
    wanted: &[crate::manifest::ObjectRef],
) -> Result<(Vec<Live>, Ledger), T::Error> {
    Ok((
        target.live_for(source, wanted).await?,
        target.ledger(source).await?,
    ))
}
