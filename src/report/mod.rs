//! Commit statuses: what happened to a commit, reported on that commit.
//!
//! A [`Status`] is (commit, context, state, description, optional URL).
//! Contexts (DESIGN.md): `jobcd/sync` for the revision being reconciled,
//! `jobcd/job/<ns>/<name>` for each Job run it caused, and
//! `jobcd/cronjob/<ns>/<name>` for the latest run of a CronJob whose spec
//! came from it. Statuses go through a durable [`outbox`] to each
//! [`Reporter`]; git notes ([`notes`]) is the default reporter.

pub mod forge;
pub mod notes;
pub mod notify;
pub mod outbox;
pub mod record;
pub mod runs;
pub mod statuses;

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The longest description forges accept (GitHub's limit).
pub const MAX_DESCRIPTION: usize = 140;
/// Context of the revision being reconciled.
pub const SYNC_CONTEXT: &str = "jobcd/sync";

/// A status's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Under way.
    Pending,
    /// Done and good.
    Success,
    /// Done and bad (invalid manifests, a failed run).
    Failure,
    /// jobcd could not do its part (an apply failed).
    Error,
}

impl State {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Success => "success",
            State::Failure => "failure",
            State::Error => "error",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(text: &str) -> Option<State> {
        [State::Pending, State::Success, State::Failure, State::Error]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One status of one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Full commit sha.
    pub sha: String,
    /// `jobcd/sync`, `jobcd/job/<ns>/<name>` or `jobcd/cronjob/<ns>/<name>`.
    pub context: String,
    /// State.
    pub state: State,
    /// What happened, at most [`MAX_DESCRIPTION`] characters.
    pub description: String,
    /// Where to read more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// What a notification receiver sends, as JSON; None for a commit
    /// status. Never part of a commit status itself.
    #[serde(skip)]
    pub payload: Option<String>,
}

impl Status {
    /// A status; the description is shortened to [`MAX_DESCRIPTION`]
    /// characters (ending in `…` when cut).
    pub fn new(sha: &str, context: &str, state: State, description: &str) -> Status {
        Status {
            sha: sha.into(),
            context: context.into(),
            state,
            description: shorten(description),
            target_url: None,
            payload: None,
        }
    }

    /// The status with `note` after its description (`…; rendered by
    /// kustomize v5.8.1`), the description cut to leave the note room.
    pub fn noting(mut self, note: &str) -> Status {
        let room = MAX_DESCRIPTION.saturating_sub(note.chars().count() + 2);
        let mut text: String = self.description.chars().take(room).collect();
        if text.chars().count() < self.description.chars().count() {
            text.pop();
            text.push('…');
        }
        self.description = shorten(&format!("{text}; {note}"));
        self
    }
}

/// The context of a Job's runs.
pub fn job_context(namespace: &str, name: &str) -> String {
    format!("jobcd/job/{namespace}/{name}")
}

/// The context of a CronJob's latest run.
pub fn cronjob_context(namespace: &str, name: &str) -> String {
    format!("jobcd/cronjob/{namespace}/{name}")
}

fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= MAX_DESCRIPTION {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

/// Why a delivery failed, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What went wrong (never containing a token).
    pub message: String,
    /// When the reporter says to retry (a forge's rate-limit reset); None
    /// for the outbox's own backoff.
    pub retry_after: Option<Duration>,
}

/// Somewhere statuses are delivered. Delivery blocks (it may do I/O) and
/// must be idempotent: the outbox may deliver a status again after a crash.
pub trait Reporter: Send + Sync {
    /// A stable name (the outbox keys deliveries by it).
    fn name(&self) -> &str;

    /// Delivers one status, stamped `at`.
    fn deliver(&self, status: &Status, at: Timestamp) -> Result<(), Failure>;

    /// The most statuses the reporter keeps per commit and context, if
    /// limited (GitHub: 1,000); the outbox stops posting there.
    fn max_per_context(&self) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_keeps_its_room_at_the_end_of_a_description() {
        let short = Status::new("abc", SYNC_CONTEXT, State::Success, "1 created");
        assert_eq!(
            short.noting("rendered by helm v3.22.0").description,
            "1 created; rendered by helm v3.22.0"
        );
        let long = Status::new("abc", SYNC_CONTEXT, State::Failure, &"x".repeat(200));
        let noted = long.noting("rendered by helm v3.22.0").description;
        assert_eq!(noted.chars().count(), MAX_DESCRIPTION);
        assert!(noted.ends_with("x…; rendered by helm v3.22.0"), "{noted}");
    }

    #[test]
    fn descriptions_keep_their_first_line_and_at_most_140_characters() {
        let long = "é".repeat(200);
        let s = Status::new("abc", SYNC_CONTEXT, State::Failure, &long);
        assert_eq!(s.description.chars().count(), MAX_DESCRIPTION);
        assert!(s.description.ends_with('…'));
        let s = Status::new("abc", SYNC_CONTEXT, State::Failure, "first\nsecond");
        assert_eq!(s.description, "first");
        assert_eq!(job_context("default", "pi"), "jobcd/job/default/pi");
        assert_eq!(State::parse("failure"), Some(State::Failure));
    }
}
