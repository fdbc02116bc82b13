//! The local executor: runs Jobs and CronJobs on this machine with the Job
//! and CronJob controllers' semantics (K8S-SEMANTICS.md). Runs are child
//! processes of jobcd.
//!
//! Built so far: turning a container into a host process
//! ([`container::resolve`]) and running it in its pod's process group with
//! capped logs and kubelet-style stopping ([`process`]).

pub mod container;
pub mod job_controller;
pub mod process;
