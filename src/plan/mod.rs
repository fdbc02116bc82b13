//! From a revision's desired objects and a target's live ones, the plan:
//! what to create, update, re-run, prune, leave alone, or refuse. Pure: no
//! I/O. See DESIGN.md (contracts: ownership, run-once, prune safety).

pub mod normalize;
pub mod ownership;

pub use normalize::spec_hash;
