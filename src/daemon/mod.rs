//! The parts that tie the others together: a sync of a revision on the
//! local executor, and reporting the runs it starts on its own.

pub mod cronjob_statuses;
pub mod sync;
