//! What a target tells the dashboard about Job runs, the same for both:
//! the newest runs with their state, attempts, times and commit, and one
//! run in detail — its conditions and pods, and on the local target where
//! the pods' logs are. Read only when a page asks.

mod kube;
mod local;

use std::path::PathBuf;

use jiff::Timestamp;

/// Runs a page lists at the most.
pub const RUNS_SHOWN: usize = 200;

/// How a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Not finished.
    Running,
    /// Reached its completions.
    Complete,
    /// Failed (its reason says why).
    Failed,
    /// Removed before it finished.
    Deleted,
}

impl RunState {
    /// As shown, and as the CSS class of its mark.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Complete => "complete",
            RunState::Failed => "failed",
            RunState::Deleted => "deleted",
        }
    }
}

/// One Job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    /// The Job instance's uid.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Job name.
    pub name: String,
    /// The CronJob that made it.
    pub cronjob: Option<String>,
    /// The source that manages it (or its CronJob).
    pub source: Option<String>,
    /// The commit its spec came from, when the Job says.
    pub revision: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    /// The CronJob slot it ran for.
    pub scheduled: Option<Timestamp>,
    /// When it finished.
    pub finished: Option<Timestamp>,
    /// How it stands.
    pub state: RunState,
    /// The terminal condition's reason (`BackoffLimitExceeded`, …).
    pub reason: Option<String>,
    /// Its message.
    pub message: Option<String>,
    /// Pods that succeeded.
    pub succeeded: i32,
    /// Pods that failed.
    pub failed: i32,
    /// Pods running.
    pub active: i32,
}

impl RunView {
    /// Pods started so far: every attempt.
    pub fn attempts(&self) -> i32 {
        self.succeeded + self.failed + self.active
    }
}

/// One condition of a Job's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionView {
    /// `Complete`, `Failed`, `SuccessCriteriaMet`, …
    pub kind: String,
    /// `True` or `False`.
    pub status: String,
    /// Its reason.
    pub reason: String,
    /// Its message.
    pub message: String,
    /// Its last transition.
    pub at: Option<Timestamp>,
}

/// One pod of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    /// Its name.
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    pub phase: String,
    /// When it started.
    pub started: Option<Timestamp>,
    /// When it ended.
    pub finished: Option<Timestamp>,
    /// How its containers exited, or why it ended (`exit 1`, `OOMKilled`).
    pub detail: String,
}

/// A run in detail.
#[derive(Debug, Clone)]
pub struct RunDetail {
    /// The run.
    pub run: RunView,
    /// Its status conditions, in order.
    pub conditions: Vec<ConditionView>,
    /// Its pods, oldest first; on a cluster, those still there.
    pub pods: Vec<PodView>,
    /// Why the pods could not be read, if they could not.
    pub pods_unreadable: Option<String>,
}

/// A target the dashboard can ask about runs.
pub trait Inspect {
    /// Why it could not answer.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The newest runs, at most [`RUNS_SHOWN`], newest first.
    fn runs(&self) -> impl Future<Output = Result<Vec<RunView>, Self::Error>> + Send;

    /// The run of Job instance `uid`, if the target knows it.
    fn run(&self, uid: &str)
    -> impl Future<Output = Result<Option<RunDetail>, Self::Error>> + Send;

    /// The log files of pod `pod` (one per container), when the target
    /// keeps them here: the local executor does, a cluster's kubelets do.
    fn logs(&self, pod: &str) -> Option<Vec<PathBuf>> {
        let _ = pod;
        None
    }
}
