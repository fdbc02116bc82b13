//! The source of truth: a git repository, a ref and a path inside it.
//!
//! Local repositories are read in place; remotes are mirrored as bare clones
//! under the state directory and updated with incremental fetches (force
//! pushes followed, deleted branches pruned). Manifests are read from the
//! commit's tree, not from a checkout. This part knows nothing about targets;
//! it hands a [`Revision`] and a [`manifest::Tree`] to whoever asked.
//! git2 is blocking: async callers run it on a blocking thread.

mod credentials;
mod error;
mod fetch;
mod known_hosts;
mod reference;
pub mod render;
mod revision;
mod timeouts;
mod tree;
mod url;
pub mod verify;
pub mod watch;

use std::path::PathBuf;
use std::time::Duration;

pub use credentials::{Credentials, HostKeyCheck, Secret};
pub use error::Error;
pub use reference::RefName;
pub use revision::{Revision, short_sha};
pub use url::{Location, Remote, Transport, redact as redact_url};

use crate::manifest;

/// How long a connection to a remote may take before jobcd gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A repository, a ref and a path: where one set of manifests comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The repository.
    pub location: Location,
    /// Which commit.
    pub reference: RefName,
    /// Directory inside the repository holding the manifests ("" for the top).
    pub path: String,
    /// How to authenticate to a remote.
    pub credentials: Credentials,
    /// Where remote mirrors are kept.
    pub state_dir: PathBuf,
    /// Connection timeout for remotes.
    pub timeout: Duration,
    /// For a local repository: read the working tree instead of the commit.
    pub uncommitted: bool,
    /// How the manifests are rendered (plain YAML, kustomize or helm).
    pub render: render::Render,
    /// Values files and `--set` values for a Helm chart.
    pub helm: render::HelmValues,
    /// Whose signatures a revision must carry to be read at all.
    pub verify: Option<verify::Policy>,
}

/// A revision and the manifest files in it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The commit.
    pub revision: Revision,
    /// The manifest files under the source's path.
    pub tree: manifest::Tree,
    /// The engine that rendered them, if one did.
    pub rendered: Option<render::Rendered>,
    /// The good signatures it carries, when the source verifies them.
    pub signers: Vec<verify::Signer>,
}

/// A revision whose signatures are refused: nothing of it was read.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The commit.
    pub revision: Revision,
    /// Which check failed, on what, for which key.
    pub refusal: verify::Refusal,
}

impl Source {
    /// The source that reads `dir`, a directory of a git working tree, as
    /// it is now, when `render` renders it (`jobcd validate
    /// deploy/overlays/prod`): its repository, found upwards from `dir`,
    /// read uncommitted at the current branch, with `dir` as the path.
    /// None when `dir` is read as plain YAML.
    pub fn working_directory(
        dir: &std::path::Path,
        render: render::Render,
        helm: render::HelmValues,
        state_dir: PathBuf,
    ) -> Result<Option<Source>, Error> {
        let unreadable = |source| manifest::Error::Root {
            path: dir.to_path_buf(),
            source,
        };
        let names = entry_names(dir).map_err(unreadable)?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let Some(engine) = render::builds(render, &names) else {
            return Ok(None);
        };
        let not_in_repository = || Error::NotInRepository {
            dir: dir.to_path_buf(),
            engine,
        };
        let repo = git2::Repository::discover(dir).map_err(|_| not_in_repository())?;
        let workdir = repo.workdir().ok_or_else(not_in_repository)?;
        let (workdir, full) = (
            workdir.canonicalize().map_err(unreadable)?,
            dir.canonicalize().map_err(unreadable)?,
        );
        let path = full
            .strip_prefix(&workdir)
            .map_err(|_| not_in_repository())?
            .to_string_lossy()
            .into_owned();
        Ok(Some(Source {
            location: Location::Local(workdir),
            reference: RefName::parse(None),
            path,
            credentials: Credentials::default(),
            state_dir,
            timeout: DEFAULT_TIMEOUT,
            uncommitted: true,
            render,
            helm,
            verify: None,
        }))
    }

    /// Fetches (for a remote), resolves the ref and reads the manifests.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        let (repo, url) = self.open()?;
        let (commit, reference) = reference::resolve(&repo, &self.reference, &url)?;
        let revision = Revision::of(&commit, reference);
        // Checked before a file of the revision is read or rendered.
        let signers = match &self.verify {
            Some(policy) => {
                let keys = policy.keys.current()?;
                verify::verify(
                    &repo,
                    commit.id(),
                    &revision.reference,
                    policy,
                    &keys,
                    jiff::Timestamp::now(),
                )
                .map_err(|refusal| {
                    Error::Unverified(Box::new(Unverified {
                        revision: revision.clone(),
                        refusal,
                    }))
                })?
            }
            None => Vec::new(),
        };
        let tree = match (&self.location, self.uncommitted) {
            (Location::Local(_), true) => {
                let workdir = repo.workdir().ok_or_else(|| Error::Path {
                    path: self.path.clone(),
                    sha: revision.sha.clone(),
                    problem: "cannot be read uncommitted: the repository is bare".into(),
                })?;
                let dir = workdir.join(&self.path);
                let names = entry_names(&dir).unwrap_or_default();
                if self.renders(&names).is_some() {
                    // The working tree as a tree of its own (what `git
                    // add -A` would stage; the index file is not written),
                    // rendered as a commit's would be.
                    let top = tree::working_tree(&repo, &revision.sha)?;
                    if let Some((tree, rendered)) = self.rendered(&repo, &top, &revision.sha)? {
                        return Ok(Snapshot {
                            revision,
                            tree,
                            rendered: Some(rendered),
                            signers,
                        });
                    }
                }
                manifest::read_dir(&dir)?
            }
            _ => {
                let top = commit.tree().map_err(|e| Error::git(&revision.sha, e))?;
                if let Some((tree, rendered)) = self.rendered(&repo, &top, &revision.sha)? {
                    return Ok(Snapshot {
                        revision,
                        tree,
                        rendered: Some(rendered),
                        signers,
                    });
                }
                tree::read(&repo, &commit, &self.path)?
            }
        };
        // Paths as the repository has them, not relative to --path: what
        // people grep for, and what forges annotate.
        let tree = tree.under(&self.clean_path());
        Ok(Snapshot {
            revision,
            tree,
            rendered: None,
            signers,
        })
    }

    /// The source's path as the repository names it (`./a/` → `a`).
    fn clean_path(&self) -> String {
        tree::normalise(&self.path).unwrap_or_default()
    }

    /// The engine that renders the path, holding the files `names`, if any.
    fn renders(&self, names: &[String]) -> Option<render::Engine> {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        render::builds(self.render, &names)
    }

    /// The path of `top` rendered, when it is to be: from the cache, else
    /// its files written out to a temporary directory and built; and what
    /// rendered it.
    fn rendered(
        &self,
        repo: &git2::Repository,
        top: &git2::Tree<'_>,
        sha: &str,
    ) -> Result<Option<(manifest::Tree, render::Rendered)>, Error> {
        let Some(engine) = self.renders(&tree::names_in(repo, top, &self.path)) else {
            return Ok(None);
        };
        let path = self.clean_path();
        let program = engine.find().ok_or_else(|| render::RenderError::NoEngine {
            engine,
            path: path.clone(),
        })?;
        let cache = render::Cache::new(&self.state_dir);
        let key = render::Cache::key(
            &top.id().to_string(),
            &format!("{path}\n{:?}", self.helm),
            self.render,
            engine,
            &program,
        );
        if let Some(cached) = cache.get(&key) {
            return Ok(Some(cached));
        }
        let renderer = render::Renderer::at(engine, program)?;
        let dir = render::Scratch::new()?;
        tree::write_out(repo, top, dir.path(), sha)?;
        let tree = render::tree(renderer.build(dir.path(), &path, &self.helm), engine, &path)?;
        let rendered = renderer.rendered();
        cache.put(&key, &tree, &rendered);
        Ok(Some((tree, rendered)))
    }

    /// The manifests under the source's path in what merging commit `head`
    /// into commit `base` gives, as `git merge` would merge them, computed
    /// in memory: no working tree is touched and no ref moves (the merged
    /// tree's objects are written to the object database, as
    /// `git merge-tree --write-tree` writes them).
    pub fn merged(&self, base: &str, head: &str) -> Result<manifest::Tree, Error> {
        let (repo, _) = self.open()?;
        let commit = |sha: &str| {
            git2::Oid::from_str(sha)
                .and_then(|oid| repo.find_commit(oid))
                .map_err(|e| Error::git(sha, e))
        };
        let (ours, theirs) = (commit(base)?, commit(head)?);
        let mut index = repo
            .merge_commits(&ours, &theirs, None)
            .map_err(|e| Error::git(head, e))?;
        if index.has_conflicts() {
            let mut paths: Vec<String> = index
                .conflicts()
                .map_err(|e| Error::git(head, e))?
                .filter_map(Result::ok)
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
                .collect();
            paths.dedup();
            return Err(Error::MergeConflict {
                base: base.to_string(),
                head: head.to_string(),
                paths,
            });
        }
        let tree = index
            .write_tree_to(&repo)
            .and_then(|oid| repo.find_tree(oid))
            .map_err(|e| Error::git(head, e))?;
        if let Some((rendered, _)) = self.rendered(&repo, &tree, head)? {
            return Ok(rendered);
        }
        let files = tree::read_tree(&repo, tree, head, &self.path)?;
        Ok(files.under(&self.clean_path()))
    }

    /// Only the revision the ref points at now (fetching first for a remote).
    pub fn revision(&self) -> Result<Revision, Error> {
        let (repo, url) = self.open()?;
        let (commit, reference) = reference::resolve(&repo, &self.reference, &url)?;
        Ok(Revision::of(&commit, reference))
    }

    /// The repository to read: the local one, or the refreshed mirror.
    fn open(&self) -> Result<(git2::Repository, String), Error> {
        read_unverified();
        match &self.location {
            Location::Local(path) => Ok((open_local(path)?, path.display().to_string())),
            Location::Remote(remote) => {
                timeouts::apply(self.timeout);
                let repo = fetch::mirror(
                    remote,
                    &self.reference,
                    &self.credentials,
                    &self.state_dir,
                    self.timeout,
                )?;
                Ok((repo, remote.url.clone()))
            }
        }
    }

    /// [`Source::push_notes`] for async callers: the push (blocking git2
    /// I/O) runs on the blocking pool.
    pub async fn push_notes_off_runtime(&self, notes_ref: &str) -> Result<(), Error> {
        let (source, notes_ref) = (self.clone(), notes_ref.to_string());
        tokio::task::spawn_blocking(move || source.push_notes(&notes_ref))
            .await
            .unwrap_or_else(|e| {
                Err(Error::Push {
                    url: self.location.to_string(),
                    message: e.to_string(),
                })
            })
    }

    /// Pushes the notes jobcd wrote (`notes_ref`) to the source's remote. A
    /// local repository already holds its notes: pushing them is the
    /// user's `git push`, so that is an error here.
    pub fn push_notes(&self, notes_ref: &str) -> Result<(), Error> {
        match &self.location {
            Location::Remote(remote) => {
                timeouts::apply(self.timeout);
                fetch::push_notes(remote, &self.credentials, &self.state_dir, notes_ref)
            }
            Location::Local(path) => Err(Error::Push {
                url: path.display().to_string(),
                message: format!(
                    "--push-notes needs a remote --repo; the notes are in this repository already (git push origin {notes_ref})"
                ),
            }),
        }
    }

    /// The repository that holds this source's git notes: the local
    /// repository itself, or the mirror of a remote one.
    pub fn notes_repo(&self) -> PathBuf {
        match &self.location {
            Location::Local(path) => path.clone(),
            Location::Remote(remote) => fetch::mirror_dir(&self.state_dir, remote),
        }
    }

    /// For a repository on this machine, the URL a forge's push event names
    /// it by: its `origin` remote's (None when it has none, and for a
    /// remote, whose own URL is that).
    pub fn push_url(&self) -> Option<String> {
        match &self.location {
            Location::Local(path) => {
                let repo = open_local(path).ok()?;
                let origin = repo.find_remote("origin").ok()?;
                origin.url().ok().map(str::to_string)
            }
            Location::Remote(_) => None,
        }
    }

    /// For a local repository: its git directory and common directory (they
    /// differ for a linked worktree), whose refs a watcher follows.
    pub fn git_dirs(&self) -> Result<Option<(PathBuf, PathBuf)>, Error> {
        match &self.location {
            Location::Local(path) => {
                let repo = open_local(path)?;
                Ok(Some((
                    repo.path().to_path_buf(),
                    repo.commondir().to_path_buf(),
                )))
            }
            Location::Remote(_) => Ok(None),
        }
    }
}

/// The names of the entries directly in `dir`.
fn entry_names(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// libgit2 hashes every object it reads again to check it against its id;
/// git does not (`git fsck` does), and for a revision of 1,000 files it was
/// a thirtieth of a `diff`'s instructions, all on one thread. Packs and
/// loose objects are still checked by zlib as they are inflated.
fn read_unverified() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| git2::opts::strict_hash_verification(false));
}

/// Opens a repository on this machine.
fn open_local(path: &std::path::Path) -> Result<git2::Repository, Error> {
    git2::Repository::open(path).map_err(|e| Error::NotARepository {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}
