//! The plan: each desired and each live object gets one step with its
//! reason, then prune safety decides whether the plan may run at all.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::{Desired, Ledger, Live, Operation};
use super::{drift, normalize};
use crate::manifest::{Kind, ObjectRef};
use crate::ownership::{self, BY_HAND, ON_CHANGE, PRUNE, RUN};

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Create an object that is not live (a Job then runs).
    Create,
    /// Update a CronJob in place.
    Update,
    /// A Job's spec changed: delete it and create it again, so it runs.
    #[serde(rename = "re-run")]
    Rerun,
    /// Delete a managed object that left the repository.
    Prune,
    /// Live and desired agree.
    Unchanged,
    /// A Job spec that already ran for this source (the run-once ledger),
    /// even if the Job is gone: not run again.
    Skip,
    /// Left the repository, but `jobcd.dev/prune: disabled` keeps it.
    Keep,
    /// Live but not jobcd's to change (unmanaged, or another source's).
    Conflict,
    /// Changed on the cluster by someone else: put back as in git
    /// (`correct_drift`), taking the fields back.
    Revert,
    /// Changed on the cluster by someone else, left so (no
    /// `correct_drift`): shown, not applied.
    Drifted,
}

impl Action {
    /// Whether the step changes the target.
    pub fn changes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Rerun | Action::Prune | Action::Revert
        )
    }
}

/// One object's step; it borrows the desired and live objects it plans.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// The object.
    pub id: ObjectRef,
    /// What to do.
    pub action: Action,
    /// Why, in a sentence for people.
    pub reason: String,
    /// The desired object, if the repository has it.
    pub desired: Option<&'a Desired>,
    /// The live object, if the target has it.
    pub live: Option<&'a Live>,
    /// For a Job, how its desired spec's run went, as the run-once ledger
    /// had it when the plan was made (`Running` while it runs).
    pub ran: Option<String>,
}

/// A whole plan, in apply order: CronJobs, then Jobs, then prunes. Only
/// [`plan`] makes one, so a step that changes a desired object always
/// carries it.
#[derive(Debug, Clone, Default)]
pub struct Plan<'a> {
    steps: Vec<Step<'a>>,
}

impl<'a> Step<'a> {
    /// The step of a desired object (any action but prune and keep).
    fn of_desired(
        d: &'a Desired,
        live: Option<&'a Live>,
        ran: Option<&str>,
        (action, reason): (Action, String),
    ) -> Step<'a> {
        debug_assert!(!matches!(action, Action::Prune | Action::Keep));
        Step {
            id: d.object.id.clone(),
            action,
            reason,
            desired: Some(d),
            live,
            ran: ran.map(str::to_string),
        }
    }

    /// The step of a live object that left the repository: pruned or kept.
    fn of_leaving(l: &'a Live, keep: bool) -> Step<'a> {
        let (action, reason) = if keep {
            (
                Action::Keep,
                format!("no longer in the repository; kept ({PRUNE}: disabled)"),
            )
        } else {
            (Action::Prune, "no longer in the repository".to_string())
        };
        Step {
            id: l.id.clone(),
            action,
            reason,
            desired: None,
            live: Some(l),
            ran: None,
        }
    }

    /// What the step asks of the target.
    fn operation(&self) -> Option<Operation> {
        let desired = || {
            self.desired
                .cloned()
                .expect("plan() gives every step of a desired object its object")
        };
        match self.action {
            Action::Create => Some(Operation::Create(desired())),
            Action::Update => Some(Operation::Update(desired())),
            Action::Revert => Some(Operation::Revert(desired())),
            Action::Rerun => Some(Operation::Recreate(desired())),
            Action::Prune => Some(Operation::Prune(self.id.clone())),
            Action::Unchanged
            | Action::Skip
            | Action::Keep
            | Action::Conflict
            | Action::Drifted => None,
        }
    }
}

impl<'a> Plan<'a> {
    /// The steps, in apply order.
    pub fn steps(&self) -> &[Step<'a>] {
        &self.steps
    }

    /// The steps, owned.
    pub fn into_steps(self) -> Vec<Step<'a>> {
        self.steps
    }

    /// The target operations the plan carries out, in order.
    pub fn operations(&self) -> Vec<Operation> {
        self.steps.iter().filter_map(Step::operation).collect()
    }

    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action.changes())
    }

    /// How many steps take `action`.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }
}

/// When pruning is allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Prune even when the revision has no objects at all.
    pub allow_empty: bool,
    /// The largest share of the source's managed objects one sync may
    /// delete (a single deletion is always allowed).
    pub max_prune_share: f64,
    /// Prune whatever the share.
    pub force_prune: bool,
    /// Put objects changed on the cluster back as in git, taking over the
    /// fields someone else changed (server-side apply's force).
    pub correct_drift: bool,
    /// Delete managed objects that left the repository (false for objects
    /// applied by hand, which like `kubectl apply` never prunes).
    pub prune: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allow_empty: false,
            max_prune_share: DEFAULT_MAX_PRUNE_SHARE,
            force_prune: false,
            correct_drift: false,
            prune: true,
        }
    }
}

/// Default of [`Policy::max_prune_share`].
pub const DEFAULT_MAX_PRUNE_SHARE: f64 = 0.25;

/// Why a plan was refused; nothing is applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The revision has no objects, so everything would be deleted.
    #[error(
        "refusing to prune: the revision has no Job or CronJob, so all {} managed object(s) would be deleted: {}; if that is intended, pass --allow-empty",
        would_delete.len(),
        list(would_delete)
    )]
    Empty {
        /// What would have been deleted.
        would_delete: Vec<ObjectRef>,
    },
    /// Too large a share of the managed objects would go.
    #[error(
        "refusing to prune {} of {managed} managed objects (more than {:.0} %): {}; if that is intended, pass --force-prune (or raise --max-prune)",
        would_delete.len(),
        share * 100.0,
        list(would_delete)
    )]
    TooMany {
        /// What would have been deleted.
        would_delete: Vec<ObjectRef>,
        /// Objects the source manages.
        managed: usize,
        /// The share allowed.
        share: f64,
    },
}

fn list(ids: &[ObjectRef]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plans `source`'s revision (`desired`) against the target (`live`, and
/// the run-once `ledger` of the source).
pub fn plan<'a>(
    source: &str,
    desired: &'a [Desired],
    live: &'a [Live],
    ledger: &Ledger,
    policy: &Policy,
) -> Result<Plan<'a>, Refusal> {
    let live_by_id: HashMap<&ObjectRef, &Live> = live.iter().map(|l| (&l.id, l)).collect();
    let mut steps = Vec::with_capacity(desired.len() + live.len() / 16);
    for d in desired {
        let current = live_by_id.get(&d.object.id).copied();
        // The ledger records Jobs' runs only.
        let ran = (d.object.id.kind == Kind::Job)
            .then(|| ran(ledger, d))
            .flatten();
        let decided = decide(source, d, current, ran, policy);
        steps.push(Step::of_desired(d, current, ran, decided));
    }
    let wanted: HashSet<&ObjectRef> = desired.iter().map(|d| &d.object.id).collect();
    let mine = |l: &&'a Live| l.source.as_deref() == Some(source);
    let leaving = live.iter().filter(mine).filter(|l| !wanted.contains(&l.id));
    for l in leaving.filter(|_| policy.prune) {
        let keep = serde_json::from_str::<serde_json::Value>(&l.manifest)
            .ok()
            .is_some_and(|v| ownership::annotation(&v, PRUNE) == Some("disabled"));
        steps.push(Step::of_leaving(l, keep));
    }
    // Configuration first, then what reads it; pruned in the reverse
    // order, so a Job never loses its ConfigMap before it goes itself.
    steps.sort_by(|a, b| {
        let key = |s: &Step<'_>| {
            let order = Kind::ALL.iter().position(|k| *k == s.id.kind);
            if s.action == Action::Prune {
                (true, order.map(|o| Kind::ALL.len() - o))
            } else {
                (false, order)
            }
        };
        key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
    });

    // A generated ConfigMap replaced by its successor (a Kustomize
    // generator whose data changed) is a rename, not a deletion: it does
    // not count against the prune share.
    let created: HashSet<(&str, &str)> = steps
        .iter()
        .filter(|s| s.action == Action::Create && s.id.kind == Kind::ConfigMap)
        .filter_map(|s| Some((s.id.namespace.as_str(), generated_stem(&s.id.name)?)))
        .collect();
    let replaced = |id: &ObjectRef| {
        id.kind == Kind::ConfigMap
            && generated_stem(&id.name)
                .is_some_and(|stem| created.contains(&(id.namespace.as_str(), stem)))
    };
    let would_delete: Vec<ObjectRef> = steps
        .iter()
        .filter(|s| s.action == Action::Prune && !replaced(&s.id))
        .map(|s| s.id.clone())
        .collect();
    if !would_delete.is_empty() {
        if desired.is_empty() && !policy.allow_empty {
            return Err(Refusal::Empty { would_delete });
        }
        let managed = live.iter().filter(mine).count();
        let allowed = (policy.max_prune_share * managed as f64).floor() as usize;
        if !policy.force_prune && would_delete.len() > allowed.max(1) && !desired.is_empty() {
            return Err(Refusal::TooMany {
                would_delete,
                managed,
                share: policy.max_prune_share,
            });
        }
    }
    Ok(Plan { steps })
}

/// The name before a Kustomize generator's hash suffix: `migrate-env` of
/// `migrate-env-d42229gtkh` (a dash and ten characters of the alphabet
/// kustomize's hasher encodes with, `bcdfghkmt2456789`).
fn generated_stem(name: &str) -> Option<&str> {
    let (stem, suffix) = name.rsplit_once('-')?;
    (!stem.is_empty()
        && suffix.len() == 10
        && suffix.bytes().all(|b| b"bcdfghkmt2456789".contains(&b)))
    .then_some(stem)
}

/// How the desired spec's run went, as the ledger has it (by the spec
/// hash, or by the hash jobcd gave it before policy annotations were left
/// out).
fn ran<'l>(ledger: &'l Ledger, d: &Desired) -> Option<&'l str> {
    let id = &d.object.id;
    ledger
        .outcome(&id.namespace, &id.name, &d.spec_hash)
        .or_else(|| {
            let legacy = normalize::legacy_spec_hash(&d.object)?;
            ledger.outcome(&id.namespace, &id.name, &legacy)
        })
}

/// Whether the desired object's policy annotations differ from the live
/// one's (the live manifest is only parsed when it mentions one).
fn policy_changed(d: &Desired, live: &Live) -> bool {
    let desired: Vec<(&str, Option<&str>)> = ownership::POLICY
        .iter()
        .map(|k| (*k, d.object.annotation(k)))
        .collect();
    if !ownership::POLICY.iter().any(|k| live.manifest.contains(k)) {
        return desired.iter().any(|(_, v)| v.is_some());
    }
    match serde_json::from_str::<serde_json::Value>(&live.manifest) {
        Ok(value) => desired != ownership::policy(&value),
        Err(_) => true,
    }
}

/// The step for a desired object; `ran` is the ledger's word on its spec
/// (Jobs only).
fn decide(
    source: &str,
    d: &Desired,
    live: Option<&Live>,
    ran: Option<&str>,
    policy: &Policy,
) -> (Action, String) {
    let id = &d.object.id;
    let Some(live) = live else {
        return match (id.kind, ran) {
            (Kind::Job, Some(outcome)) => (
                Action::Skip,
                format!(
                    "this spec already ran ({outcome}); the Job is gone and is not run again (change the spec, e.g. bump the {RUN} annotation, to run it again)"
                ),
            ),
            (Kind::Job, None) => (Action::Create, "new Job: it will run".into()),
            (Kind::CronJob, _) => (Action::Create, "new CronJob".into()),
            (Kind::ConfigMap, _) => (Action::Create, "new ConfigMap".into()),
        };
    };
    match live.source.as_deref() {
        None => {
            return (
                Action::Conflict,
                format!(
                    "a {} with this name exists and is not managed by jobcd: left untouched; rename it in the repository, or delete the live one (on a cluster, labelling it {}=jobcd and {}={source} hands it over instead)",
                    id.kind,
                    ownership::MANAGED_BY,
                    ownership::SOURCE
                ),
            );
        }
        Some(BY_HAND) if source != BY_HAND => {
            return (
                Action::Conflict,
                format!(
                    "applied by hand with `jobcd local apply`: left untouched; `jobcd local delete {}/{}{}` hands the name to this source",
                    id.kind.to_string().to_ascii_lowercase(),
                    id.name,
                    if id.namespace == crate::manifest::DEFAULT_NAMESPACE {
                        String::new()
                    } else {
                        format!(" -n {}", id.namespace)
                    }
                ),
            );
        }
        Some(other) if other != source => {
            return (
                Action::Conflict,
                format!(
                    "managed by source {other:?}, not {source:?}: left untouched; if both names mean the same repository, name this source {other:?} (--source, or the serve config's sources[].name); otherwise remove it from source {other:?} first"
                ),
            );
        }
        Some(_) => {}
    }
    let current = live.spec_hash.as_deref() == Some(d.spec_hash.as_str());
    let legacy =
        || live.spec_hash.is_some() && live.spec_hash == normalize::legacy_spec_hash(&d.object);
    if current || legacy() {
        // The same spec, with other policy annotations (or the hash an
        // older jobcd stamped): the live object learns them in place, and a
        // Job is not run again.
        if !current || policy_changed(d, live) {
            return (
                Action::Update,
                "policy annotations changed: updated in place (the spec is the same, nothing runs again)".into(),
            );
        }
        let drift = drift::drifted(
            d.object.manifest.json(),
            &live.manifest,
            live.observed.as_deref(),
        );
        if !drift.is_empty() {
            let what = drift::describe(&drift);
            return if policy.correct_drift {
                (
                    Action::Revert,
                    format!("changed on the cluster: {what}; put back as in git"),
                )
            } else {
                (
                    Action::Drifted,
                    format!(
                        "changed on the cluster: {what}; left so (correcting drift puts git's values back)"
                    ),
                )
            };
        }
        let reason = match (id.kind, ran) {
            (Kind::Job, Some(outcome)) if outcome != "Running" => {
                format!("up to date; it ran: {outcome}")
            }
            (Kind::Job, Some(_)) => "up to date; running".into(),
            _ => "up to date".into(),
        };
        return (Action::Unchanged, reason);
    }
    match id.kind {
        Kind::CronJob | Kind::ConfigMap if policy.correct_drift => {
            // Fields someone else took over would make the update a
            // conflict: git wins, as for drift.
            let drift = drift::drifted(
                d.object.manifest.json(),
                &live.manifest,
                live.observed.as_deref(),
            );
            if drift.is_empty() {
                (Action::Update, "spec changed: updated in place".into())
            } else {
                let what = drift::describe(&drift);
                (
                    Action::Revert,
                    format!("spec changed, and changed on the cluster: {what}; updated as in git"),
                )
            }
        }
        Kind::CronJob | Kind::ConfigMap => {
            (Action::Update, "spec changed: updated in place".into())
        }
        Kind::Job => {
            if d.object.annotation(ON_CHANGE) == Some("ignore") {
                (
                    Action::Unchanged,
                    format!("spec changed, not re-run ({ON_CHANGE}: ignore)"),
                )
            } else if let Some(outcome) = ran {
                (
                    Action::Skip,
                    format!(
                        "this spec already ran ({outcome}); not run again (change the spec, e.g. bump the {RUN} annotation, to run it again)"
                    ),
                )
            } else {
                (
                    Action::Rerun,
                    "spec changed: the Job is replaced and runs again".into(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests;
