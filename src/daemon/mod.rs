//! The long-running parts that tie the others together. So far: reporting
//! the runs the local executor starts on its own.

pub mod cronjob_statuses;
