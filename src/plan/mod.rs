//! From a revision's desired objects and a target's live ones, the plan:
//! what to create, update, re-run, prune, leave alone, or refuse. Pure: no
//! I/O. See DESIGN.md (contracts: ownership, run-once, prune safety).

mod compute;
pub mod diff;
pub mod drift;
pub mod normalize;
mod objects;
pub mod observed;

pub use compute::{Action, DEFAULT_MAX_PRUNE_SHARE, Plan, Policy, Refusal, Step, plan};
pub use normalize::spec_hash;
pub use objects::{Desired, Ledger, Live, Operation, Verb};
