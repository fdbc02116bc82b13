//! The one mapping from what a command ended with to its exit code (as
//! nextest's `process_exit_code()` does). The codes are a contract that
//! scripts and CI rely on; the README lists them.

use std::process::ExitCode;

use crate::daemon::service::Exit;
use crate::reconcile::Verdict;

/// Success; for `diff`, no changes.
pub const SUCCESS: u8 = 0;
/// The input is invalid, a diff exists, or a run failed.
pub const FAILED: u8 = 1;
/// Usage, I/O or environment error (also: interrupted by a signal).
pub const ERROR: u8 = 2;
/// `serve` lost the leader Lease and stopped at once: restart it as a
/// standby.
pub const LOST_LEASE: u8 = 3;

/// What a command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did what it was asked.
    Success,
    /// The input is invalid.
    Invalid,
    /// A run failed, or an object conflicts.
    Failed,
    /// `diff` found changes.
    Changes,
    /// Stopped by SIGINT or SIGTERM before it finished.
    Interrupted,
    /// Usage, I/O or environment error.
    Error,
    /// A reconcile's verdict.
    Reconciled(Verdict),
    /// How `serve` ended.
    Served(Exit),
}

impl Outcome {
    /// The exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Outcome::Success => SUCCESS,
            Outcome::Invalid | Outcome::Failed | Outcome::Changes => FAILED,
            Outcome::Interrupted | Outcome::Error => ERROR,
            Outcome::Reconciled(verdict) => match verdict {
                Verdict::Synced => SUCCESS,
                Verdict::Invalid | Verdict::Refused | Verdict::Failed => FAILED,
                Verdict::Error | Verdict::Interrupted => ERROR,
            },
            Outcome::Served(Exit::Stopped) => SUCCESS,
            Outcome::Served(Exit::LostLease) => LOST_LEASE,
            Outcome::Served(Exit::ElectionEnded) => ERROR,
        })
    }
}

impl From<bool> for Outcome {
    /// `true`: success; `false`: failed.
    fn from(ok: bool) -> Outcome {
        if ok {
            Outcome::Success
        } else {
            Outcome::Failed
        }
    }
}
