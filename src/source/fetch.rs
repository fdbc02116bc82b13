//! Bare mirrors of remote repositories in the state directory.
//!
//! The first fetch clones; later ones transfer only what is new. Branches and
//! tags are mirrored one to one with forced updates and pruning, so a
//! force-push is followed and a deleted branch disappears (and is then
//! reported as missing, rather than served stale). The remote's default
//! branch becomes the mirror's HEAD.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{AutotagOption, FetchOptions, FetchPrune, Repository};
use sha2::{Digest, Sha256};

use super::Error;
use super::credentials::{Attempts, Credentials};
use super::reference::RefName;
use super::url::Remote;

const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// The mirror directory of a URL: a readable name plus a hash of the URL.
pub(crate) fn mirror_dir(state_dir: &Path, remote: &Remote) -> PathBuf {
    let digest = Sha256::digest(remote.url.as_bytes());
    let hash = crate::hex::hex(&digest[..6]);
    let slug: String = remote
        .url
        .rsplit(['/', ':'])
        .find(|s| !s.is_empty())
        .unwrap_or("repo")
        .trim_end_matches(".git")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    state_dir.join("mirrors").join(format!("{slug}-{hash}.git"))
}

/// Brings the mirror of `remote` up to date and returns it.
pub(crate) fn mirror(
    remote: &Remote,
    reference: &RefName,
    credentials: &Credentials,
    state_dir: &Path,
    timeout: Duration,
) -> Result<Repository, Error> {
    let dir = mirror_dir(state_dir, remote);
    let mirror_error = |source| Error::Mirror {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(mirror_error)?;
    let repo = match Repository::open_bare(&dir) {
        Ok(repo) => repo,
        Err(_) => Repository::init_bare(&dir)
            .map_err(|e| mirror_error(std::io::Error::other(e.message().to_string())))?,
    };
    let mut refspecs: Vec<String> = REFSPECS.iter().map(|s| s.to_string()).collect();
    fetch(&repo, remote, credentials, &refspecs, timeout)?;
    // A pinned commit that no branch or tag reaches can still be asked for
    // directly, where the server allows it. That is a second fetch: libgit2
    // fails a whole fetch that names a sha when the server does not
    // advertise allow-tip/reachable-sha1-in-want (git daemon and
    // git-http-backend by default), even for a sha a branch reaches. When
    // the server refuses, the commit is reported missing.
    if let RefName::Commit(oid) = reference
        && repo.find_commit(*oid).is_err()
    {
        refspecs.push(oid.to_string());
        match fetch(&repo, remote, credentials, &refspecs, timeout) {
            Ok(()) | Err(Error::Fetch { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(repo)
}

fn fetch(
    repo: &Repository,
    remote: &Remote,
    credentials: &Credentials,
    refspecs: &[String],
    timeout: Duration,
) -> Result<(), Error> {
    let attempts = RefCell::new(Attempts::default());
    let mut git_remote = repo
        .remote_anonymous(&remote.url)
        .map_err(|e| Error::Fetch {
            url: remote.url.clone(),
            message: e.message().to_string(),
        })?;
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(credentials.callbacks(remote, &attempts))
        .prune(FetchPrune::On)
        .download_tags(AutotagOption::None);
    let started = Instant::now();
    let result = git_remote.fetch(refspecs, Some(&mut options), Some("jobcd: fetch"));
    drop(options);
    if let Err(e) = result {
        let mut attempts = attempts.into_inner();
        if let Some(host_key) = attempts.host_key.take() {
            return Err(host_key);
        }
        if let Some(auth) = attempts.auth_error(remote, &credentials.user_for(remote)) {
            return Err(auth);
        }
        let message = e.message().to_string();
        // libgit2 says "timed out", libssh2 "Timed out waiting on socket".
        if started.elapsed() >= timeout || message.to_ascii_lowercase().contains("timed out") {
            return Err(Error::Timeout {
                url: remote.url.clone(),
                seconds: timeout.as_secs(),
            });
        }
        return Err(Error::Fetch {
            url: remote.url.clone(),
            message,
        });
    }
    // The remote's default branch becomes HEAD, for sources without --ref.
    if let Ok(default) = git_remote.default_branch()
        && let Ok(name) = default.as_str()
    {
        let _ = repo.set_head(name);
    }
    Ok(())
}

/// Pushes `refs/notes/jobcd` of the mirror of `remote` to the remote, as a
/// fast-forward: notes someone else pushed there in the meantime make the
/// remote refuse, and that is reported rather than overwritten.
pub(crate) fn push_notes(
    remote: &Remote,
    credentials: &Credentials,
    state_dir: &Path,
    notes_ref: &str,
) -> Result<(), Error> {
    let dir = mirror_dir(state_dir, remote);
    let failed = |message: String| Error::Push {
        url: remote.url.clone(),
        message,
    };
    let repo = Repository::open_bare(&dir).map_err(|e| failed(e.message().to_string()))?;
    if repo.find_reference(notes_ref).is_err() {
        return Ok(());
    }
    let attempts = RefCell::new(Attempts::default());
    let refused = RefCell::new(None::<String>);
    let mut callbacks = credentials.callbacks(remote, &attempts);
    callbacks.push_update_reference(|_name, status| {
        if let Some(status) = status {
            *refused.borrow_mut() = Some(status.to_string());
        }
        Ok(())
    });
    let mut options = git2::PushOptions::new();
    options.remote_callbacks(callbacks);
    let mut git_remote = repo
        .remote_anonymous(&remote.url)
        .map_err(|e| failed(e.message().to_string()))?;
    let result = git_remote.push(&[format!("{notes_ref}:{notes_ref}")], Some(&mut options));
    drop(options);
    if let Err(e) = result {
        if let Some(auth) = attempts
            .into_inner()
            .auth_error(remote, &credentials.user_for(remote))
        {
            return Err(auth);
        }
        return Err(failed(e.message().to_string()));
    }
    match refused.into_inner() {
        Some(why) => Err(failed(format!(
            "the remote refused {notes_ref} ({why}); someone else pushed notes there"
        ))),
        None => Ok(()),
    }
}
