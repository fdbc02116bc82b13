//! jobcd: GitOps for Kubernetes Jobs and CronJobs.
//!
//! The data path and the contracts between its parts are described in the
//! project's DESIGN.md; each part is one module here.

#![deny(unsafe_code)]

mod causes;
pub mod cli;
pub mod config;
pub mod daemon;
mod db;
pub mod health;
mod hex;
pub mod manifest;
pub mod ownership;
pub mod plan;
pub mod preview;
mod programs;
pub mod reconcile;
pub mod report;
mod saturating;
pub mod schedule;
pub mod source;
mod suggest;
pub mod target;
#[cfg(test)]
mod testing;
mod yaml;
