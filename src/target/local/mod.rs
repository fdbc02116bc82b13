//! The local executor: runs Jobs and CronJobs on this machine with the Job
//! and CronJob controllers' semantics (docs/kubernetes-semantics.md). A pod's
//! containers are host processes, or containers of a Podman or Docker
//! engine ([`engine`]), under a supervisor of their own.
//!
//! Built so far, each tested on its own:
//! - [`container::resolve`] turns a manifest's container into a host process
//!   or an [`image`] to run, its environment from the [`downward`] API
//!   included, and [`volumes`] makes a pod's volumes;
//! - [`process`] runs it as its own process group with capped logs and
//!   kubelet-style stopping;
//! - [`pod::run`] runs init containers in order, then the containers
//!   together, restarting in place with CrashLoopBackOff for OnFailure;
//! - [`supervisor`] runs each pod in a process of its own that outlives
//!   jobcd and leaves the pod's events and end in the pod's directory;
//! - [`job_controller::sync`] and [`cron_controller::sync`] are the two
//!   controllers' decisions as pure functions of spec, state, children and
//!   time;
//! - [`store`] keeps applied objects, Jobs, pods, CronJob state and the
//!   run-once ledger in SQLite, with schema migrations;
//! - [`job_runner::run`] runs one Job instance to its end: the controller's
//!   decisions carried out with real pods, every step saved;
//! - [`clock`] gives everything that schedules its time (system, or one a
//!   test moves by hand);
//! - [`executor`] puts it together: runs in their own tasks, CronJobs on
//!   schedule, history and TTL cleanup, one runner per state directory,
//!   recovery after a crash, and the [`crate::target::Target`] operations.

pub mod clock;
pub(crate) mod container;
pub mod cron_controller;
pub mod downward;
pub mod engine;
pub(crate) mod environment;
pub mod executor;
mod ids;
pub mod image;
pub mod isolation;
pub mod job_controller;
pub mod job_runner;
pub(crate) mod pod;
pub(crate) mod process;
pub(crate) mod procfs;
pub mod secrets;
pub mod store;
pub mod supervisor;
pub mod volumes;

// What the rest of jobcd (the commands, the service) uses of the executor;
// the submodules are its internals.
pub use clock::SystemClock;
pub use cron_controller::{Event as CronEvent, Spec as CronSpec};
pub use engine::ContainerRuntime;
pub use executor::{
    BY_HAND, Executor, Finished, JobRef, Notice, Recovery, Run, Settings, StartError, outcome,
};
pub use isolation::Isolation;
pub use job_controller::Status as JobStatus;
