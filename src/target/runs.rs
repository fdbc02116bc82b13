//! The run-event stream every target emits: Job runs starting (started by
//! a sync, created by a CronJob, recovered after a crash) and ending, with
//! a typed result. Reporters, metrics and the CLI all read this one stream.

use serde::Serialize;

/// Which Job instance a run or a notice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// Its uid.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The CronJob that created it.
    pub owner_cronjob: Option<String>,
}

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A sync applied its Job.
    Sync,
    /// A CronJob created it (on schedule, or on demand: `run-now`,
    /// `kubectl create job --from=cronjob/…`).
    CronJob,
    /// It was under way when jobcd last stopped, and goes on.
    Recovered,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RunResult {
    /// Its Job reached its completions.
    Complete,
    /// Its Job failed (the outcome's reason says why:
    /// `BackoffLimitExceeded`, `DeadlineExceeded`, …).
    Failed,
    /// Its Job was deleted before it finished.
    Deleted,
    /// jobcd stopped while it ran; it resumes at the next start.
    Interrupted,
    /// jobcd could not run it (the outcome's reason says why).
    Error,
}

impl RunResult {
    /// The name, as Kubernetes' condition types and jobcd's JSON spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Complete => "Complete",
            RunResult::Failed => "Failed",
            RunResult::Deleted => "Deleted",
            RunResult::Interrupted => "Interrupted",
            RunResult::Error => "Error",
        }
    }

    /// The metric label (`jobcd_job_runs_total{outcome}`).
    pub fn label(self) -> &'static str {
        match self {
            RunResult::Complete => "complete",
            RunResult::Failed => "failed",
            RunResult::Deleted => "deleted",
            RunResult::Interrupted => "interrupted",
            RunResult::Error => "error",
        }
    }

    /// Whether the run did what it was for.
    pub fn succeeded(self) -> bool {
        self == RunResult::Complete
    }
}

impl std::fmt::Display for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a Job run ended, for reporters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The Job instance's uid.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Job name.
    pub name: String,
    /// The CronJob that created it, if any.
    pub cronjob: Option<String>,
    /// How it ended.
    pub result: RunResult,
    /// The condition's reason (`BackoffLimitExceeded`, …) when it finished,
    /// or why jobcd could not run it.
    pub reason: Option<String>,
    /// The condition's message, when it finished ("Job has reached the
    /// specified backoff limit").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Failed pods (attempts that failed).
    pub failed: i32,
    /// Succeeded pods.
    pub succeeded: i32,
}

impl Outcome {
    /// The Job this outcome is about.
    pub fn job(&self) -> JobRef {
        JobRef {
            uid: self.uid.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            owner_cronjob: self.cronjob.clone(),
        }
    }
}

/// Something that happened to a Job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// A run started (or, [`Cause::Recovered`], goes on after a restart).
    Started {
        /// The Job.
        job: JobRef,
        /// Why.
        cause: Cause,
    },
    /// A pod of a run started or ended (on a target that runs the pods
    /// itself: the local executor).
    Pod {
        /// The Job.
        job: JobRef,
        /// The pod's name.
        pod: String,
        /// What happened to it.
        change: PodChange,
    },
    /// A run ended.
    Ended(Outcome),
}

/// What happened to a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodChange {
    /// It was created (with its completion index, for an Indexed Job).
    Started {
        /// The completion index.
        index: Option<i32>,
    },
    /// Its containers exited 0.
    Succeeded,
    /// A container failed.
    Failed,
    /// It was stopped before it ended.
    Stopped,
    /// A container of it cannot start yet and is waiting (its image
    /// cannot be had, or its configuration is refused).
    Waiting {
        /// The container.
        container: String,
        /// The kubelet's reason (`ErrImagePull`, …).
        reason: String,
        /// What went wrong.
        message: String,
    },
}

impl RunEvent {
    /// The Job the event is about.
    pub fn job(&self) -> JobRef {
        match self {
            RunEvent::Started { job, .. } | RunEvent::Pod { job, .. } => job.clone(),
            RunEvent::Ended(outcome) => outcome.job(),
        }
    }
}

/// Events kept for a slow reader before it misses some.
pub const EVENT_BUFFER: usize = 4096;
