//! What a sync reports: the statuses of a revision and of the Job runs it
//! caused, queued in the outbox and delivered to every reporter.

use super::{SYNC_CONTEXT, State, Status, cronjob_context, job_context};
use crate::target::{Outcome, RunResult};

/// `jobcd/sync` while the revision is being applied.
pub fn syncing(sha: &str, objects: usize) -> Status {
    Status::new(
        sha,
        SYNC_CONTEXT,
        State::Pending,
        &format!("syncing {objects} object(s)"),
    )
}

/// `jobcd/sync` for a revision that was applied: `summary` says what it did.
pub fn synced(sha: &str, summary: &str) -> Status {
    Status::new(sha, SYNC_CONTEXT, State::Success, summary)
}

/// `jobcd/sync` for a revision that was rejected (invalid manifests, a
/// refused prune, a conflict): nothing or not everything was applied.
pub fn rejected(sha: &str, why: &str) -> Status {
    Status::new(sha, SYNC_CONTEXT, State::Failure, why)
}

/// `jobcd/sync` when applying failed.
pub fn apply_failed(sha: &str, why: &str) -> Status {
    Status::new(sha, SYNC_CONTEXT, State::Error, why)
}

/// The context of a run: its CronJob's, or its Job's.
fn run_context(namespace: &str, name: &str, cronjob: Option<&str>) -> String {
    match cronjob {
        Some(cronjob) => cronjob_context(namespace, cronjob),
        None => job_context(namespace, name),
    }
}

/// A Job run that started.
pub fn run_started(sha: &str, namespace: &str, name: &str, cronjob: Option<&str>) -> Status {
    Status::new(
        sha,
        &run_context(namespace, name, cronjob),
        State::Pending,
        &format!("Job {name} running"),
    )
}

/// How a run ended, e.g. "BackoffLimitExceeded after 3 attempts".
pub fn run_ended(sha: &str, o: &Outcome) -> Status {
    let attempts = o.succeeded + o.failed;
    let plural = if attempts == 1 { "" } else { "s" };
    let (state, description) = match o.result {
        RunResult::Complete => (
            State::Success,
            format!("Complete: {} succeeded, {} failed", o.succeeded, o.failed),
        ),
        RunResult::Failed => (
            State::Failure,
            format!(
                "{} after {attempts} attempt{plural}",
                o.reason.as_deref().unwrap_or("Failed")
            ),
        ),
        RunResult::Deleted => (State::Error, "deleted before it finished".into()),
        RunResult::Interrupted => (
            State::Pending,
            "interrupted by a jobcd shutdown; resumes at the next start".into(),
        ),
        RunResult::Error => (
            State::Error,
            format!(
                "jobcd could not run it: {}",
                o.reason.as_deref().unwrap_or("unknown error")
            ),
        ),
    };
    // A CronJob's context holds its latest run: say which one it was.
    let description = match &o.cronjob {
        Some(_) => format!("{}: {description}", o.name),
        None => description,
    };
    Status::new(
        sha,
        &run_context(&o.namespace, &o.name, o.cronjob.as_deref()),
        state,
        &description,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: RunResult, reason: Option<&str>, succeeded: i32, failed: i32) -> Outcome {
        Outcome {
            uid: "u".into(),
            namespace: "default".into(),
            name: "pi".into(),
            cronjob: None,
            result,
            reason: reason.map(Into::into),
            message: None,
            failed,
            succeeded,
        }
    }

    #[test]
    fn run_statuses_say_how_it_ended_and_after_how_many_attempts() {
        let s = run_ended(
            "abc",
            &outcome(RunResult::Failed, Some("BackoffLimitExceeded"), 0, 3),
        );
        assert_eq!(
            (s.context.as_str(), s.state, s.description.as_str()),
            (
                "jobcd/job/default/pi",
                State::Failure,
                "BackoffLimitExceeded after 3 attempts"
            )
        );
        let s = run_ended(
            "abc",
            &outcome(RunResult::Complete, Some("CompletionsReached"), 1, 0),
        );
        assert_eq!(
            (s.state, s.description.as_str()),
            (State::Success, "Complete: 1 succeeded, 0 failed")
        );
        let mut cron = outcome(RunResult::Complete, None, 1, 1);
        cron.cronjob = Some("nightly".into());
        cron.name = "nightly-29403540".into();
        let s = run_ended("abc", &cron);
        assert_eq!(s.context, "jobcd/cronjob/default/nightly");
        assert_eq!(
            s.description,
            "nightly-29403540: Complete: 1 succeeded, 1 failed"
        );
    }
}
