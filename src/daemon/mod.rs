//! The parts that tie the others together: a sync of a planned revision on
//! a target, reporting the runs the target starts on its own, and (for
//! `jobcd serve`) reading push webhooks.

pub mod cronjob_statuses;
pub mod http;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod serve;
pub mod sync;
pub mod trigger;
pub mod webhook;
