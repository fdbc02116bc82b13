//! Why a source could not be read: every failure of fetching, resolving,
//! verifying and reading a revision, each naming the repository (never with
//! a secret), the ref or path, and what to do.

use std::path::PathBuf;

use super::{Unverified, render, verify};
use crate::manifest;

/// Why a source could not be read. Messages name the repository (never with
/// a secret), the ref or path, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--repo` is not a usable path or URL.
    #[error("repository {url}: {reason}")]
    Url {
        /// The repository as given (password redacted).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A local path that is not a git repository.
    #[error(
        "{path} is not a git repository ({message}); pass the repository's top directory, or a URL"
    )]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// libgit2's explanation.
        message: String,
    },
    /// The server refused the credentials, or asked for some and there were none.
    #[error(
        "authentication to {url} as {user:?} failed (tried {tried}); check JOBCD_GIT_USERNAME and JOBCD_GIT_PASSWORD(_FILE) for HTTPS, or --ssh-key / the SSH agent for SSH"
    )]
    Auth {
        /// The repository.
        url: String,
        /// The user name offered.
        user: String,
        /// Which credentials were offered.
        tried: String,
    },
    /// A password would go over plain http://, readable by anyone on the
    /// path.
    #[error(
        "refusing to send the password for {url} over plain http://, where anyone on the network path can read it; use https://, or (on a network you trust) pass --allow-cleartext-password (allowCleartextPassword: true in jobcd serve's source)"
    )]
    Cleartext {
        /// The repository.
        url: String,
    },
    /// The SSH server's host key is not trusted.
    #[error(
        "the SSH host key of {host} {problem} {known_hosts}; verify the key and add it (e.g. ssh-keyscan), point --ssh-known-hosts at the right file, or (for throwaway setups only) pass --insecure-skip-host-key-check"
    )]
    HostKey {
        /// `host` or `[host]:port`.
        host: String,
        /// "is not in", "does not match the key recorded in", …
        problem: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
    },
    /// Connecting or transferring took longer than the timeout.
    #[error(
        "{url} did not answer within {seconds} s; check that the server is up and reachable, or raise --git-timeout"
    )]
    Timeout {
        /// The repository.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// Any other fetch failure.
    #[error("fetching {url} failed: {message}")]
    Fetch {
        /// The repository.
        url: String,
        /// libgit2's explanation.
        message: String,
    },
    /// Pushing notes to the remote failed.
    #[error("pushing notes to {url} failed: {message}")]
    Push {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
    /// The ref does not exist (a deleted branch, a typo).
    #[error("{reference:?} is not a branch or tag of {url}{}", available_hint(.available))]
    RefNotFound {
        /// The ref asked for.
        reference: String,
        /// The repository.
        url: String,
        /// Some branches that do exist.
        available: Vec<String>,
    },
    /// The name cannot be a git ref (git refuses `..`, `~`, `^`, `:`, a
    /// trailing `.lock`, …), and it means no revision either.
    #[error(
        "{reference:?} is not a valid branch or tag name in git (names cannot contain '..', '~', '^', ':', '?', '*', '[', spaces or control characters), and names no revision of {url}{}",
        available_hint(.available)
    )]
    InvalidRefName {
        /// The ref asked for.
        reference: String,
        /// The repository.
        url: String,
        /// Some branches that do exist.
        available: Vec<String>,
    },
    /// A pinned commit that the repository does not have.
    #[error("commit {sha} is not in {url}; check the sha, or fetch the branch that contains it")]
    CommitNotFound {
        /// The sha asked for.
        sha: String,
        /// The repository.
        url: String,
    },
    /// Merging one commit into another conflicts.
    #[error(
        "merging {head} into {base} conflicts in {}; merge or rebase the branch onto its base first (or compare the two commits as they are)",
        paths.join(", ")
    )]
    MergeConflict {
        /// The commit merged into.
        base: String,
        /// The commit merged.
        head: String,
        /// The files that conflict.
        paths: Vec<String>,
    },
    /// `--path` does not name a directory in the commit.
    #[error("path {path:?} {problem} (commit {sha})")]
    Path {
        /// The path asked for.
        path: String,
        /// The commit.
        sha: String,
        /// What is wrong.
        problem: String,
    },
    /// A secret file could not be read.
    #[error("cannot read the secret file {path}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The mirror in the state directory could not be created or updated.
    #[error("the mirror at {path} cannot be used; remove it to start afresh")]
    Mirror {
        /// The mirror's directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading objects failed (a corrupt repository, usually).
    #[error("reading {what} failed: {message}")]
    Git {
        /// What was being read.
        what: String,
        /// libgit2's explanation.
        message: String,
    },
    /// Reading the working tree (`--uncommitted`) failed.
    #[error(transparent)]
    WorkingTree(#[from] manifest::Error),
    /// The trusted keys cannot be read (a key file changed into one that
    /// is unusable): no revision can be trusted.
    #[error(transparent)]
    TrustedKeys(#[from] verify::KeyringError),
    /// The revision's signatures are refused (see [`verify`]).
    #[error("{} at {}", .0.refusal, .0.revision.short_sha)]
    Unverified(Box<Unverified>),
    /// The renderer could not run (not installed, or not startable).
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// A directory to render is not in a git working tree.
    #[error(
        "{} holds a {} and is not in a git repository: jobcd renders from a repository's files (a base may be anywhere in it); run it in the repository's working tree, or read the YAML as it is with --render plain",
        dir.display(), engine.input()
    )]
    NotInRepository {
        /// The directory.
        dir: PathBuf,
        /// The engine it would take.
        engine: render::Engine,
    },
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!("; branches: {}", available.join(", "))
    }
}

impl Error {
    pub(crate) fn git(what: &str, e: git2::Error) -> Error {
        Error::Git {
            what: what.to_string(),
            message: e.message().to_string(),
        }
    }
}
