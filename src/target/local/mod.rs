//! The local executor: runs Jobs and CronJobs on this machine with the Job
//! and CronJob controllers' semantics (K8S-SEMANTICS.md). Runs are child
//! processes of jobcd.
//!
//! Built so far, each tested on its own:
//! - [`container::resolve`] turns a manifest's container into a host process;
//! - [`process`] runs it in its pod's process group with capped logs and
//!   kubelet-style stopping;
//! - [`pod::run`] runs init containers in order, then the containers
//!   together, restarting in place with CrashLoopBackOff for OnFailure;
//! - [`job_controller::sync`] and [`cron_controller::sync`] are the two
//!   controllers' decisions as pure functions of spec, state, children and
//!   time.
//!
//! Still to come: the SQLite store, the executor loop that
//! ties them together with crash recovery, and the `Target` trait.

pub mod container;
pub mod cron_controller;
pub mod job_controller;
pub mod pod;
pub mod process;
