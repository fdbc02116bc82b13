//! One reconcile of a source's revision against a target, the one step
//! every command shares ([`run`]): the desired objects with their hashes,
//! admitted by the target, what is live, the plan (the plan itself is
//! [`crate::plan::plan`]), its operations carried out in order, the runs
//! they start followed to their end, and statuses reported on the commits.

mod apply;
mod follow;
mod prepare;
mod run;

pub use apply::{Done, Failed, apply, started_runs};
pub use prepare::{Prepared, Unprepared, desired, observe, prepare};
pub use run::{
    ApplyFailure, Counts, Event, Mode, PROGRESS, Reconciled, Refused, Request, Stop, Synced,
    Verdict, refuse_unverified, run,
};
