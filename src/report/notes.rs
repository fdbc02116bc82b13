//! The default reporter: git notes under `refs/notes/jobcd`, one note per
//! commit, one line per context holding a JSON object — readable with
//! `git log --notes=jobcd` and by machines. A new status replaces the line
//! of its context; lines jobcd does not recognise are kept as they are.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Failure, Reporter, State, Status};

/// The notes ref.
pub const NOTES_REF: &str = "refs/notes/jobcd";

/// One line of a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// State (first, so the line reads well).
    pub state: State,
    /// Context.
    pub context: String,
    /// Description.
    pub description: String,
    /// Where to read more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// When jobcd recorded it.
    pub at: Timestamp,
}

/// Writes statuses as notes in the repository at `repo` (a working
/// repository, or the mirror of a remote one).
#[derive(Debug, Clone)]
pub struct GitNotes {
    repo: PathBuf,
    /// `git-notes:<repo>`: each repository is its own delivery target.
    name: String,
}

impl GitNotes {
    /// The reporter for the repository at `repo`.
    pub fn new(repo: PathBuf) -> GitNotes {
        let name = format!("git-notes:{}", repo.display());
        GitNotes { repo, name }
    }
}

/// The statuses noted on `sha` in the repository at `repo`.
pub fn read(repo: &std::path::Path, sha: &str) -> Result<Vec<Entry>, git2::Error> {
    let repo = git2::Repository::open(repo)?;
    let oid = git2::Oid::from_str(sha)?;
    Ok(note_lines(&repo, oid)
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn note_lines(repo: &git2::Repository, oid: git2::Oid) -> Vec<String> {
    repo.find_note(Some(NOTES_REF), oid)
        .ok()
        .and_then(|n| n.message().ok().map(str::to_string))
        .map(|m| m.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

impl Reporter for GitNotes {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, status: &Status, at: Timestamp) -> Result<(), Failure> {
        let failure = |what: &str, e: git2::Error| Failure {
            message: format!(
                "git notes in {}: {what}: {}",
                self.repo.display(),
                e.message()
            ),
            retry_after: None,
        };
        let repo = git2::Repository::open(&self.repo).map_err(|e| failure("opening", e))?;
        let oid = git2::Oid::from_str(&status.sha).map_err(|e| failure("reading the sha", e))?;
        let entry = Entry {
            state: status.state,
            context: status.context.clone(),
            description: status.description.clone(),
            target_url: status.target_url.clone(),
            at,
        };
        let line = serde_json::to_string(&entry).expect("entries always serialize");
        let mut lines = note_lines(&repo, oid);
        let same_context = |l: &String| {
            serde_json::from_str::<Entry>(l).is_ok_and(|e| e.context == status.context)
        };
        match lines.iter().position(same_context) {
            Some(i) => lines[i] = line,
            None => lines.push(line),
        }
        let signature = git2::Signature::now("jobcd", "jobcd@localhost")
            .map_err(|e| failure("making a signature", e))?;
        repo.note(
            &signature,
            &signature,
            Some(NOTES_REF),
            oid,
            &(lines.join("\n") + "\n"),
            true,
        )
        .map_err(|e| failure("writing the note", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::report::SYNC_CONTEXT;

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_note_holds_the_latest_state_of_each_context_and_git_shows_it() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(
            dir.path(),
            &["commit", "-q", "--allow-empty", "-m", "first"],
        );
        let sha = git(dir.path(), &["rev-parse", "HEAD"]).trim().to_string();
        let notes = GitNotes::new(dir.path().to_path_buf());
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for status in [
            Status::new(&sha, SYNC_CONTEXT, State::Pending, "syncing"),
            Status::new(&sha, "jobcd/job/default/pi", State::Pending, "running"),
            Status::new(&sha, SYNC_CONTEXT, State::Success, "1 created"),
            Status::new(
                &sha,
                "jobcd/job/default/pi",
                State::Failure,
                "BackoffLimitExceeded after 3 attempts",
            ),
        ] {
            notes.deliver(&status, at).unwrap();
        }
        let entries = read(dir.path(), &sha).unwrap();
        let summary: Vec<(State, &str)> = entries
            .iter()
            .map(|e| (e.state, e.context.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (State::Success, SYNC_CONTEXT),
                (State::Failure, "jobcd/job/default/pi")
            ]
        );
        // Plain git reads it.
        let shown = git(dir.path(), &["notes", "--ref=jobcd", "show", &sha]);
        assert_eq!(shown.lines().count(), 2);
        assert!(shown.contains(r#""state":"failure","context":"jobcd/job/default/pi","description":"BackoffLimitExceeded after 3 attempts""#), "{shown}");
        let log = git(dir.path(), &["log", "--notes=jobcd", "-1"]);
        assert!(log.contains("Notes (jobcd):"), "{log}");
    }
}
