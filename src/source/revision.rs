//! What a commit is called, for reports and previews.

use jiff::Timestamp;
use serde::Serialize;

/// A commit sha shortened to 7 characters; anything else (`working-tree`)
/// as it is.
pub fn short_sha(revision: &str) -> &str {
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        &revision[..7]
    } else {
        revision
    }
}

/// The commit a source resolved to, with what people use to recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// Full commit sha.
    pub sha: String,
    /// The first 7 characters of the sha.
    #[serde(rename = "shortSha")]
    pub short_sha: String,
    /// The ref it was resolved from (`refs/heads/main`, a tag, or the sha itself).
    pub reference: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// When it was committed (committer time), RFC 3339 in UTC in JSON.
    #[serde(rename = "committedAt")]
    pub committed_at: Timestamp,
    /// The first line of the message.
    pub subject: String,
}

impl Revision {
    pub(crate) fn of(commit: &git2::Commit<'_>, reference: String) -> Revision {
        let sha = commit.id().to_string();
        let author = commit.author();
        Revision {
            short_sha: sha[..7].to_string(),
            sha,
            reference,
            author: format!(
                "{} <{}>",
                String::from_utf8_lossy(author.name_bytes()),
                String::from_utf8_lossy(author.email_bytes())
            ),
            committed_at: Timestamp::from_second(commit.committer().when().seconds())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            subject: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
                .into_owned(),
        }
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) {:?} by {} at {}",
            self.short_sha, self.reference, self.subject, self.author, self.committed_at
        )
    }
}
